//! TLS on both listeners, mutual TLS for producers, rate limits per client
//! certificate, and certificate reload on SIGHUP. Certificates are made by
//! the `openssl` command for each test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use causeway_client::LogClient;
use causeway_tests::{Pki, Server, cli};

fn start(dir: &Path, cert: &(PathBuf, PathBuf), extra: &[&str]) -> Server {
    let (c, k) = (cert.0.to_str().unwrap(), cert.1.to_str().unwrap());
    let mut args = vec!["--tls-cert", c, "--tls-key", k];
    args.extend(extra);
    let server = Server::start(&dir.join("log"), &args);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_grpc_and_tiles_and_reloads_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "server-ca");
    let cert = pki.issue("server", true);
    let server = start(dir.path(), &cert, &[]);

    // gRPC over TLS, with the CA: submit and read.
    let mut client = LogClient::connect_with(&server.url, &pki.settings(None))
        .await
        .unwrap();
    let added = client
        .add_entries(vec![b"over tls".to_vec()])
        .await
        .unwrap();
    assert_eq!(added.entries[0].index, 0);
    // The CLI too.
    let ca = pki.ca().to_str().unwrap().to_owned();
    let (ok, out, err) = cli(&[
        "checkpoint",
        "--log",
        &server.url,
        "--tls-ca",
        &ca,
        "--json",
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("\"size\":1") || out.contains("\"size\": 1"),
        "{out}"
    );
    // Without the CA (system roots only) the certificate is not trusted.
    let (ok, _, err) = cli(&["checkpoint", "--log", &server.url]);
    assert!(!ok);
    assert!(
        err.contains("cannot connect") || err.contains("certificate"),
        "{err}"
    );
    // Plain HTTP/2 to a TLS port gets nowhere.
    let plain = server.url.replacen("https://", "http://", 1);
    let mut plain_client = LogClient::connect(&plain).await;
    if let Ok(c) = &mut plain_client {
        assert!(c.checkpoint(None).await.is_err());
    }

    // Tiles over TLS, HTTP/1.1 and HTTP/2.
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(pki.ca()).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let checkpoint = http
        .get(format!("{}/checkpoint", server.tiles_url))
        .send()
        .await
        .unwrap();
    assert_eq!(checkpoint.status(), 200);
    assert!(checkpoint.text().await.unwrap().contains("\n1\n"));
    let (ok, out, err) = cli(&[
        "verify-tiles",
        "--tiles",
        &server.tiles_url,
        "--tls-ca",
        &ca,
        "--vkey",
        &server.vkeys[0],
        "--json",
    ]);
    assert!(ok, "{out}{err}");

    // Rotate to a certificate from another CA, then SIGHUP: new
    // connections get the new certificate; the old CA no longer verifies.
    let other = Pki::new(dir.path(), "other-ca");
    let (new_cert, new_key) = other.issue("server2", true);
    std::fs::copy(&new_cert, &cert.0).unwrap();
    std::fs::copy(&new_key, &cert.1).unwrap();
    server.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let new = LogClient::connect_with(&server.url, &other.settings(None)).await;
        if let Ok(mut c) = new
            && c.checkpoint(None).await.is_ok()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reloaded certificate was not served; stderr:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let old = LogClient::connect_with(&server.url, &pki.settings(None)).await;
    assert!(old.is_err(), "the old CA still verifies after the reload");
    // A broken file on reload keeps the running certificate.
    std::fs::write(&cert.1, "not a key").unwrap();
    server.signal("HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut still = LogClient::connect_with(&server.url, &other.settings(None))
        .await
        .unwrap();
    still.checkpoint(None).await.unwrap();
    assert!(
        server
            .stderr()
            .contains("keeping the previous TLS configuration"),
        "{}",
        server.stderr()
    );
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_for_producers_and_rate_limits_per_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "server-ca");
    let cert = pki.issue("server", true);
    let producers = Pki::new(dir.path(), "producer-ca");
    let (a, b) = (
        producers.issue("producer-a", false),
        producers.issue("producer-b", false),
    );
    let rogue = Pki::new(dir.path(), "rogue-ca").issue("producer-a", false);
    let client_ca = producers.ca().to_str().unwrap().to_owned();
    let server = start(
        dir.path(),
        &cert,
        &["--tls-client-ca", &client_ca, "--producer-rate-limit", "20"],
    );

    // Without a certificate: reads work, submitting is refused.
    let mut anonymous = LogClient::connect_with(&server.url, &pki.settings(None))
        .await
        .unwrap();
    anonymous.checkpoint(None).await.unwrap();
    let refused = anonymous
        .add_entries(vec![b"anonymous".to_vec()])
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some(tonic::Code::Unauthenticated),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("client certificate"),
        "{refused}"
    );
    // A certificate from another CA does not get through the handshake.
    let impostor = LogClient::connect_with(&server.url, &pki.settings(Some(&rogue))).await;
    if let Ok(mut c) = impostor {
        assert!(c.add_entries(vec![b"impostor".to_vec()]).await.is_err());
    }

    // Producer A floods past its limit; B has its own bucket.
    let mut producer_a = LogClient::connect_with(&server.url, &pki.settings(Some(&a)))
        .await
        .unwrap();
    let mut producer_b = LogClient::connect_with(&server.url, &pki.settings(Some(&b)))
        .await
        .unwrap();
    let mut acked = Vec::new();
    let mut limited = None;
    for i in 0..60 {
        match producer_a
            .add_entries(vec![format!("a-{i}").into_bytes()])
            .await
        {
            Ok(r) => acked.push((r.entries[0].index, format!("a-{i}"))),
            Err(e) => {
                limited = Some(e);
                break;
            }
        }
    }
    let limited = limited.expect("producer A was never limited at 20 records/s");
    assert_eq!(
        limited.code(),
        Some(tonic::Code::ResourceExhausted),
        "{limited}"
    );
    assert!(
        limited.to_string().contains("CN=producer-a"),
        "the refusal names the certificate: {limited}"
    );
    let r = producer_b
        .add_entries(vec![b"b-0".to_vec()])
        .await
        .expect("producer B is not limited by A's flood");
    acked.push((r.entries[0].index, "b-0".into()));
    // Every acknowledged entry is there.
    for (index, entry) in &acked {
        let got = anonymous.entries(*index, 1).await.unwrap();
        assert_eq!(&got[0], entry.as_bytes());
    }
    // The CLI as a producer.
    let ca = pki.ca().to_str().unwrap().to_owned();
    let file = dir.path().join("entry");
    std::fs::write(&file, b"from the cli").unwrap();
    let (ok, out, err) = cli(&[
        "submit",
        "--log",
        &server.url,
        "--tls-ca",
        &ca,
        "--tls-cert",
        b.0.to_str().unwrap(),
        "--tls-key",
        b.1.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = cli(&[
        "submit",
        "--log",
        &server.url,
        "--tls-ca",
        &ca,
        file.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("Unauthenticated") && err.contains("client certificate"),
        "{err}"
    );
    assert!(server.terminate().success());

    // "required": no certificate, no connection at all.
    let server = start(
        dir.path(),
        &cert,
        &[
            "--tls-client-ca",
            &client_ca,
            "--tls-client-auth",
            "required",
        ],
    );
    let anonymous = LogClient::connect_with(&server.url, &pki.settings(None)).await;
    if let Ok(mut c) = anonymous {
        assert!(
            c.checkpoint(None).await.is_err(),
            "a client without a certificate was served"
        );
    }
    let mut producer = LogClient::connect_with(&server.url, &pki.settings(Some(&a)))
        .await
        .unwrap();
    producer.checkpoint(None).await.unwrap();
    assert!(server.terminate().success());
}

#[test]
fn tls_config_errors_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "ca");
    let (cert, _key) = pki.issue("server", true);
    let (_, other_key) = pki.issue("other", true);
    let run = |args: &[&str]| {
        let out = Command::new(causeway_tests::binary("causeway-server"))
            .args(["--data-dir"])
            .arg(dir.path().join("data"))
            .args([
                "--accept",
                "opaque",
                "--grpc-addr",
                "127.0.0.1:0",
                "--http-addr",
                "off",
            ])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let c = cert.to_str().unwrap();
    let missing = dir.path().join("missing.key");
    let (code, err) = run(&["--tls-cert", c, "--tls-key", missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--tls-key") && err.contains("cannot read it"),
        "{err}"
    );
    let (code, err) = run(&["--tls-cert", c, "--tls-key", other_key.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tls-cert/--tls-key"), "{err}");
    let (code, err) = run(&[
        "--tls-cert",
        other_key.to_str().unwrap(),
        "--tls-key",
        other_key.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--tls-cert") && err.contains("certificate"),
        "{err}"
    );
    // The same checks in `config check`.
    let config = dir.path().join("causeway.toml");
    std::fs::write(
        &config,
        format!(
            "accept = \"opaque\"\ntls-cert = {:?}\ntls-key = {:?}\n",
            c,
            missing.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = Command::new(causeway_tests::binary("causeway-server"))
        .args(["config", "check"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--tls-key") && err.contains("missing.key"),
        "{err}"
    );
}
