//! `causeway-server init` and `--help`, run as the real binary.

use std::process::Command;

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_causeway-server"))
}

#[test]
fn init_prints_origin_and_both_vkeys_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let out = server()
        .args([
            "init",
            "--data-dir",
            d.to_str().unwrap(),
            "--origin",
            "example.com/x",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["origin"], "example.com/x");
    let vkeys: Vec<&str> = v["vkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(vkeys.len(), 2);
    let ecdsa = causeway_proto::note::VerifierKey::parse(vkeys[0]).unwrap();
    let ed25519 = causeway_proto::note::VerifierKey::parse(vkeys[1]).unwrap();
    assert_eq!(ecdsa.kind(), causeway_proto::note::SignatureType::Ecdsa);
    assert_eq!(ed25519.kind(), causeway_proto::note::SignatureType::Ed25519);

    let again = server()
        .args([
            "init",
            "--data-dir",
            d.to_str().unwrap(),
            "--origin",
            "example.com/x",
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already initialized"));

    let bad = server()
        .args([
            "init",
            "--data-dir",
            dir.path().join("e").to_str().unwrap(),
            "--origin",
            "has space",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid key name"));
}

#[test]
fn help_documents_every_flag() {
    let out = server().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--data-dir",
        "--origin",
        "--grpc-addr",
        "--batch-max-entries",
        "--batch-max-delay",
        "--max-pending-entries",
        "--max-request-bytes",
        "--max-request-entries",
        "--cache-mb",
        "--log-format",
        "--witness",
        "--witness-quorum",
        "--witness-timeout",
        "--witness-refresh",
        "--dev",
        "--dev-dir",
        "--accept",
        "--policy",
        "--tsa-url",
        "--tsa-roots",
        "--tsa-interval",
        "--tsa-policy",
        "--tsa-timeout",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}
