//! The auditor against real logs: `causeway audit` over the demo's causal
//! chain (witnessed-free, anchored by a real OpenSSL TSA), a tampered
//! export and a re-signed checkpoint that must fail loudly, offline proof
//! bundles that break on any changed byte, and `causeway monitor`.

use std::path::Path;

use causeway_tests::audit::{
    anchored_demo, audit_args, demo_log, last_action, prove_bundle, vkeys_of, with_vkeys,
};
use causeway_tests::{Server, cli};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::leaf_hash;
use causeway_tlog::note::{EcdsaSigner, Ed25519Signer, KeyName, Note};
use serde_json::Value;

fn with_keys<'a>(mut args: Vec<&'a str>, server: &'a Server) -> Vec<&'a str> {
    for v in &server.vkeys {
        args.extend(["--vkey", v]);
    }
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditing_the_demo_names_a_human_for_every_action_and_flags_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (tsa, server, policy, written) = anchored_demo(dir.path(), "ec", "10").await;

    let out = dir.path().join("report");
    let args = with_vkeys(
        audit_args(
            &server.url,
            &server.tiles_url,
            &policy,
            &out,
            &["--tsa-roots", tsa.roots.to_str().unwrap(), "--json"],
        ),
        &server.vkeys,
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
    let listed = causeway_tests::audit::report_actions(&out);
    assert_eq!(listed.len() as u64, actions);
    for a in &listed {
        assert_eq!(a["authorized_by"]["subject"], "alice@example.com", "{a}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("alice@example.com") && html.contains("<svg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_entry_or_a_resigned_checkpoint_fails_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let (server, policy, _) = demo_log(dir.path(), "6");
    let log_dir = dir.path().join("log");

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
        let args = audit_args(
            "http://127.0.0.1:9",
            tiles.to_str().unwrap(),
            &policy,
            &out,
            &[],
        );
        cli(&with_vkeys(args, &server.vkeys))
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
    let bundle = dir.path().join("bundle.json");
    prove_bundle(&server, last_action(&written), &bundle);
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
