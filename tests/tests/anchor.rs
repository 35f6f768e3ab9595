//! RFC 3161 anchoring against a real TSA: OpenSSL's `openssl ts -reply`
//! behind `interop/tsa_server.py`, with ECDSA and RSA keys; the stored
//! tokens checked by our verifier, by the CLI and by `openssl ts -verify`;
//! and a TSA that is down, slow or lying never stalls writes or gets a bad
//! token stored.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use causeway_client::LogClient;
use causeway_client::verify::{check_anchor, verify_checkpoint};
use causeway_rfc3161::TrustedRoots;
use causeway_tests::{Server, Tsa, cli};

async fn submit(client: &mut LogClient, tag: &str, n: usize) -> u64 {
    let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("{tag}-{i}").into_bytes()).collect();
    let added = client.add_entries(entries).await.expect("acknowledged");
    added.entries.last().unwrap().index + 1
}

/// Waits until the latest anchor covers `size`.
async fn anchored(
    client: &mut LogClient,
    size: u64,
    server: &Server,
) -> causeway_client::FetchedAnchor {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(a) = client.anchor(None).await
            && a.tree_size >= size
        {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "size {size} was not anchored in 30 s; server stderr:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn body(note: &str) -> &str {
    &note[..=note.find("\n\n").unwrap()]
}

fn openssl_verify(dir: &Path, body: &str, token: &[u8], roots: &Path) -> (bool, String) {
    let (b, t) = (dir.join("body"), dir.join("token.tsr"));
    std::fs::write(&b, body).unwrap();
    std::fs::write(&t, token).unwrap();
    let out = Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(&b)
        .arg("-in")
        .arg(&t)
        .arg("-CAfile")
        .arg(roots)
        .output()
        .expect("openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && text.contains("Verification: OK"),
        text,
    )
}

async fn anchors_verify_everywhere(key_type: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tsa = Tsa::start(&dir.path().join("tsa"), key_type, 0);
    let roots_arg = tsa.roots.to_str().unwrap().to_owned();
    let server = Server::start(
        &dir.path().join("log"),
        &[
            "--tsa-url",
            &tsa.url,
            "--tsa-roots",
            &roots_arg,
            "--tsa-interval",
            "0ms",
        ],
    );
    let keys = server.keys();
    let roots = TrustedRoots::from_pem_or_der(&std::fs::read(&tsa.roots).unwrap()).unwrap();
    let mut client = LogClient::connect(&server.url).await.unwrap();

    let mut sizes = Vec::new();
    for round in 0..3 {
        let size = submit(&mut client, &format!("{key_type}-{round}"), 5).await;
        let anchor = anchored(&mut client, size, &server).await;
        sizes.push(anchor.tree_size);
        // The note is the published checkpoint at that size, log-signed.
        let cp = verify_checkpoint(&anchor.checkpoint_note, &keys).unwrap();
        assert_eq!(cp.checkpoint().size(), anchor.tree_size);
        // Our verifier: imprint = SHA-256 of the body, chain to the TSA root.
        let v = check_anchor(
            &anchor.timestamp_response,
            body(&anchor.checkpoint_note),
            &roots,
            None,
        )
        .unwrap();
        assert_eq!(v.gen_time, anchor.gen_time);
        assert!(
            v.signer_subject.contains(&format!("Test TSA ({key_type})")),
            "{}",
            v.signer_subject
        );
        // Not for another checkpoint.
        let other = body(&anchor.checkpoint_note).replacen('\n', "x\n", 1);
        assert!(check_anchor(&anchor.timestamp_response, &other, &roots, None).is_err());
        // OpenSSL agrees, with the exact command the README documents.
        let (ok, out) = openssl_verify(
            dir.path(),
            body(&anchor.checkpoint_note),
            &anchor.timestamp_response,
            &tsa.roots,
        );
        assert!(ok, "openssl ts -verify: {out}");
        // Over HTTP, byte for byte.
        let http = reqwest::get(format!("{}/anchor/{}", server.tiles_url, anchor.tree_size))
            .await
            .unwrap();
        assert_eq!(http.status(), 200);
        assert_eq!(
            http.headers()["content-type"],
            "application/timestamp-reply"
        );
        assert_eq!(
            http.bytes().await.unwrap().as_ref(),
            anchor.timestamp_response.as_slice()
        );
    }

    // The listing: increasing sizes, genTime never going back, every one
    // fetchable by size.
    let list = client.anchors(0, 0).await.unwrap();
    assert!(list.len() >= 3, "{list:?}");
    assert!(
        list.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
        "{list:?}"
    );
    for (size, _) in &list {
        assert_eq!(client.anchor(Some(*size)).await.unwrap().tree_size, *size);
    }
    let missing = client.anchor(Some(sizes[0] + 1_000_000)).await.unwrap_err();
    assert_eq!(missing.code(), Some(tonic::Code::NotFound));
    assert!(
        missing.to_string().contains("nearest anchored"),
        "{missing}"
    );
    let bad = reqwest::get(format!("{}/anchor/007", server.tiles_url))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // The CLI, online with --save, then offline from the saved files.
    let saved = dir.path().join("saved");
    let mut args = vec![
        "verify-anchor",
        "--log",
        &server.url,
        "--tsa-roots",
        &roots_arg,
        "--json",
        "--save",
        saved.to_str().unwrap(),
    ];
    for v in &server.vkeys {
        args.extend(["--vkey", v]);
    }
    let (ok, out, err) = cli(&args);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["anchor_verified"], true);
    assert_eq!(json["verified"], true);
    let n = json["tree_size"].as_u64().unwrap();
    let token = saved.join(format!("anchor-{n}.tsr"));
    let note = saved.join(format!("checkpoint-{n}.note"));
    let (ok, out, err) = cli(&[
        "verify-anchor",
        "--tsa-roots",
        &roots_arg,
        "--token",
        token.to_str().unwrap(),
        "--checkpoint",
        note.to_str().unwrap(),
        "--vkey",
        &server.vkeys[1],
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("existed by"), "{out}");
    // Offline against the wrong roots: refused.
    let other_tsa = Tsa::start(&dir.path().join("other-tsa"), key_type, 0);
    let (ok, _, err) = cli(&[
        "verify-anchor",
        "--tsa-roots",
        other_tsa.roots.to_str().unwrap(),
        "--token",
        token.to_str().unwrap(),
        "--checkpoint",
        note.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("anchor does not verify"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdsa_tsa_anchors_verify_with_us_the_cli_and_openssl() {
    anchors_verify_everywhere("ec").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_tsa_anchors_verify_with_us_the_cli_and_openssl() {
    anchors_verify_everywhere("rsa").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tsa_never_stalls_writes_and_nothing_bad_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut tsa = Tsa::start(&dir.path().join("tsa"), "ec", 0);
    let roots_arg = tsa.roots.to_str().unwrap().to_owned();
    let server = Server::start(
        &dir.path().join("log"),
        &[
            "--tsa-url",
            &tsa.url,
            "--tsa-roots",
            &roots_arg,
            "--tsa-interval",
            "0ms",
            "--tsa-timeout",
            "2s",
        ],
    );
    let roots = TrustedRoots::from_pem_or_der(&std::fs::read(&tsa.roots).unwrap()).unwrap();
    let mut client = LogClient::connect(&server.url).await.unwrap();
    let size = submit(&mut client, "first", 3).await;
    let good = anchored(&mut client, size, &server).await;

    for mode in [
        "garbage",
        "wrong-nonce",
        "no-nonce",
        "rejection",
        "error",
        "slow",
    ] {
        let failures_before = server.stderr().matches("anchoring is behind").count();
        tsa.set_mode(mode);
        let size = submit(&mut client, mode, 4).await;
        // Writes and publication go on.
        let cp = client.checkpoint(None).await.unwrap();
        assert_eq!(
            verify_checkpoint(&cp, &server.keys())
                .unwrap()
                .checkpoint()
                .size(),
            size
        );
        // The anchorer tries (after its backoff), fails and says so...
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.stderr().matches("anchoring is behind").count() == failures_before {
            assert!(
                Instant::now() < deadline,
                "{mode}: no failure logged:\n{}",
                server.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // ...and nothing new was stored.
        let latest = client.anchor(None).await.unwrap();
        assert_eq!(
            latest.tree_size,
            good.tree_size,
            "{mode}: {}",
            server.stderr()
        );
    }
    let log = server.stderr();
    for reason in ["nonce", "HTTP 503"] {
        assert!(log.contains(reason), "no {reason:?} in the log:\n{log}");
    }

    // The TSA dies and comes back on the same port: anchoring catches up.
    tsa.stop();
    let size = submit(&mut client, "while-down", 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.anchor(None).await.unwrap().tree_size, good.tree_size);
    tsa.restart();
    let caught_up = anchored(&mut client, size, &server).await;
    assert_eq!(caught_up.tree_size, size);

    // Every stored token verifies.
    for (s, _) in client.anchors(0, 0).await.unwrap() {
        let a = client.anchor(Some(s)).await.unwrap();
        check_anchor(
            &a.timestamp_response,
            body(&a.checkpoint_note),
            &roots,
            None,
        )
        .unwrap_or_else(|e| panic!("stored anchor {s} does not verify: {e}"));
    }
}
