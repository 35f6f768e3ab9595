//! The auditor against real logs: `causeway audit` over the demo's causal
//! chain (witnessed-free, anchored by a real OpenSSL TSA), a tampered
//! export and a re-signed checkpoint that must fail loudly, offline proof
//! bundles that break on any changed byte, and `causeway monitor`.

use std::path::Path;

use causeway_proto::checkpoint::Checkpoint;
use causeway_proto::merkle::leaf_hash;
use causeway_proto::note::{EcdsaSigner, Ed25519Signer, KeyName, Note};
use causeway_tests::{Producers, Server, Tsa, cli};
use serde_json::Value;

fn run_demo(server: &Server, producers: &Path, actions: &str) -> Vec<Value> {
    let (ok, out, err) = cli(&[
        "demo",
        "--log",
        &server.url,
        "--producers",
        producers.to_str().unwrap(),
        "--actions",
        actions,
        "--json",
    ]);
    assert!(ok, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn with_keys<'a>(mut args: Vec<&'a str>, server: &'a Server) -> Vec<&'a str> {
    for v in &server.vkeys {
        args.extend(["--vkey", v]);
    }
    args
}

/// Waits until the log's latest anchor covers `size`.
async fn anchored(url: &str, size: u64) {
    let mut client = causeway_client::LogClient::connect(url).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(a) = client.anchor(None).await
            && a.tree_size >= size
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "not anchored");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A log with a producer policy and a real TSA (`key_type` "ec" or
/// "rsa"), the demo written to it with `actions` actions and anchored.
async fn anchored_demo(
    dir: &Path,
    key_type: &str,
    actions: &str,
) -> (Tsa, Server, std::path::PathBuf, Vec<Value>) {
    let policy = Producers::new().write(&dir.join("producers"));
    let tsa = Tsa::start(&dir.join("tsa"), key_type, 0);
    let roots = tsa.roots.to_str().unwrap().to_owned();
    let server = Server::start(
        &dir.join("log"),
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--tsa-url",
            &tsa.url,
            "--tsa-roots",
            &roots,
            "--tsa-interval",
            "0ms",
        ],
    );
    let written = run_demo(&server, &dir.join("producers"), actions);
    anchored(&server.url, written.len() as u64).await;
    (tsa, server, policy, written)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditing_the_demo_names_a_human_for_every_action_and_flags_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (tsa, server, policy, written) = anchored_demo(dir.path(), "ec", "10").await;

    let out = dir.path().join("report");
    let args = with_keys(
        vec![
            "audit",
            "--log",
            &server.url,
            "--tiles",
            &server.tiles_url,
            "--policy",
            policy.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--tsa-roots",
            tsa.roots.to_str().unwrap(),
            "--json",
        ],
        &server,
    );
    let (ok, stdout, err) = cli(&args);
    assert!(ok, "{err}");
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["verified"], true);
    assert_eq!(summary["tree_size"], written.len() as u64);
    assert_eq!(
        summary["red_flags"].as_array().unwrap().len(),
        0,
        "{stdout}"
    );
    let actions = summary["summary"]["actions"].as_u64().unwrap();
    assert_eq!(actions, 10 + 5);
    assert_eq!(
        summary["summary"]["actions_with_named_human"].as_u64(),
        Some(actions)
    );

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(report["verification"]["anchors_checked"].as_u64().unwrap() >= 1);
    for a in report["actions"].as_array().unwrap() {
        assert_eq!(a["authorized_by"]["subject"], "alice@example.com", "{a}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("alice@example.com") && html.contains("<svg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_entry_or_a_resigned_checkpoint_fails_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let producers = Producers::new();
    let policy = producers.write(&dir.path().join("producers"));
    let log_dir = dir.path().join("log");
    let server = Server::start(&log_dir, &["--policy", policy.to_str().unwrap()]);
    run_demo(&server, &dir.path().join("producers"), "6");

    // A static copy of the log, audited from the directory.
    let copy = dir.path().join("copy");
    let args = with_keys(
        vec![
            "export-tiles",
            "--tiles",
            &server.tiles_url,
            "--out",
            copy.to_str().unwrap(),
        ],
        &server,
    );
    let (ok, _, err) = cli(&args);
    assert!(ok, "{err}");
    let audit = |tiles: &Path| {
        let out = dir.path().join("out");
        let args = with_keys(
            vec![
                "audit",
                "--log",
                "http://127.0.0.1:9",
                "--tiles",
                tiles.to_str().unwrap(),
                "--policy",
                policy.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &server,
        );
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        cli(&refs)
    };
    let (ok, _, err) = audit(&copy);
    assert!(ok, "the untouched copy must audit cleanly: {err}");

    // One byte of one entry changed.
    let bundle = copy
        .join("tile/entries/000.p")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&bundle, &bytes).unwrap();
    let (ok, _, err) = audit(&copy);
    assert!(!ok);
    assert!(err.contains("TAMPERED"), "{err}");
    bytes[at] ^= 0x20;
    std::fs::write(&bundle, &bytes).unwrap();

    // A checkpoint re-signed with the log's own keys over another root.
    let note = std::fs::read_to_string(copy.join("checkpoint")).unwrap();
    let parsed = Note::parse(note.as_bytes()).unwrap();
    let cp = Checkpoint::parse(parsed.text()).unwrap();
    let forged = Checkpoint::new(cp.origin(), cp.size(), leaf_hash(b"another history")).unwrap();
    let name = KeyName::new(cp.origin()).unwrap();
    let ecdsa = EcdsaSigner::from_pkcs8_pem(
        name.clone(),
        &std::fs::read_to_string(log_dir.join("keys/ecdsa.pem")).unwrap(),
    )
    .unwrap();
    let ed25519 = Ed25519Signer::from_pkcs8_pem(
        name,
        &std::fs::read_to_string(log_dir.join("keys/ed25519.pem")).unwrap(),
    )
    .unwrap();
    let mut resigned = Note::new(forged.to_text()).unwrap();
    resigned.sign(&ecdsa).unwrap();
    resigned.sign(&ed25519).unwrap();
    std::fs::write(copy.join("checkpoint"), resigned.to_string()).unwrap();
    let (ok, _, err) = audit(&copy);
    assert!(!ok);
    assert!(err.contains("TAMPERED OR FORKED"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_verify_offline_and_break_on_any_changed_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (tsa, server, policy, written) = anchored_demo(dir.path(), "rsa", "4").await;
    // The last sub-agent action: its ancestors are the sub-credential, the
    // parent credential, the pre-flight and the authorization.
    let action = written
        .iter()
        .rev()
        .find(|l| l["kind"] == "action")
        .unwrap();
    let bundle = dir.path().join("bundle.json");
    let args = with_keys(
        vec![
            "prove",
            "bundle",
            "--log",
            &server.url,
            "--leaf-hash",
            action["leaf_hash"].as_str().unwrap(),
            "--out",
            bundle.to_str().unwrap(),
        ],
        &server,
    );
    let (ok, _, err) = cli(&args);
    assert!(ok, "{err}");
    drop(server);

    let verify = |file: &Path| {
        let mut args = vec![
            "verify".to_owned(),
            file.to_str().unwrap().to_owned(),
            "--policy".into(),
            policy.to_str().unwrap().into(),
            "--tsa-roots".into(),
            tsa.roots.to_str().unwrap().into(),
            "--json".into(),
        ];
        for v in &vkeys_of(&dir.path().join("log")) {
            args.extend(["--vkey".into(), v.clone()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&refs)
    };
    let (ok, out, err) = verify(&bundle);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["kind"], "action");
    assert!(v["entries"].as_u64().unwrap() >= 5, "{out}");
    assert!(v["anchored_at"].is_string(), "{out}");

    // Any changed byte fails: every position of a sample across the file.
    let original = std::fs::read(&bundle).unwrap();
    let tampered = dir.path().join("tampered.json");
    let step = (original.len() / 150).max(1);
    for at in (0..original.len()).step_by(step) {
        let mut bytes = original.clone();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        std::fs::write(&tampered, &bytes).unwrap();
        let (ok, out, _) = verify(&tampered);
        assert!(!ok, "byte {at} changed, still verifies: {out}");
    }
}

/// The verifier keys of a log directory, via `causeway-server init`'s
/// output format: read back with the server's own key files.
fn vkeys_of(log_dir: &Path) -> Vec<String> {
    let origin = std::fs::read_to_string(log_dir.join("origin")).unwrap();
    let name = KeyName::new(origin.trim()).unwrap();
    let ecdsa = EcdsaSigner::from_pkcs8_pem(
        name.clone(),
        &std::fs::read_to_string(log_dir.join("keys/ecdsa.pem")).unwrap(),
    )
    .unwrap();
    let ed25519 = Ed25519Signer::from_pkcs8_pem(
        name,
        &std::fs::read_to_string(log_dir.join("keys/ed25519.pem")).unwrap(),
    )
    .unwrap();
    vec![ecdsa.verifier().to_string(), ed25519.verifier().to_string()]
}
