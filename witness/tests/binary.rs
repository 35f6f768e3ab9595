//! The `causeway-witness` binary from the outside: init, the ready line,
//! a cosignature over real HTTP, evidence listing and a clean SIGTERM exit.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{leaf_hash, root_of};
use causeway_tlog::note::{Ed25519Signer, KeyName, Note, NoteVerifier, VerifierKey};
use causeway_tlog::witness::{AddCheckpointRequest, SIZE_CONTENT_TYPE};

const BIN: &str = env!("CARGO_BIN_EXE_causeway-witness");

/// Kills the child if a test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sign(log: &Ed25519Signer, leaves: &[causeway_tlog::merkle::Hash]) -> Vec<u8> {
    let cp = Checkpoint::new(
        log.verifier().name().as_str(),
        leaves.len() as u64,
        root_of(leaves),
    )
    .unwrap();
    let mut note = Note::new(cp.to_text()).unwrap();
    note.sign(log).unwrap();
    note.to_bytes()
}

#[test]
fn init_refuses_to_overwrite_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["init", "--json", "--name", "example.com/w", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["name"], "example.com/w");
    let vkey = VerifierKey::parse(json["vkey"].as_str().unwrap()).unwrap();
    assert_eq!(vkey.name().as_str(), "example.com/w");

    let again = Command::new(BIN)
        .args(["init", "--name", "example.com/w", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    let bad = Command::new(BIN)
        .args(["init", "--name", "has space", "--data-dir"])
        .arg(dir.path().join("other"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_cosigns_lists_evidence_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let log = Ed25519Signer::generate(
        KeyName::new("example.com/log").unwrap(),
        &mut rand::thread_rng(),
    );
    let mut child = Command::new(BIN)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--name",
            "example.com/w",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("CAUSEWAY_WITNESS_LOG", log.verifier().to_string())
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let rest = line
        .strip_prefix("causeway-witness ready addr=")
        .unwrap_or_else(|| panic!("ready line: {line:?}"));
    let mut fields = rest.trim_end().split(' ');
    let addr = fields.next().unwrap();
    assert_eq!(fields.next(), Some("name=example.com/w"));
    let vkey = VerifierKey::parse(fields.next().unwrap().strip_prefix("vkey=").unwrap()).unwrap();
    assert!(!addr.ends_with(":0"), "{addr}");

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let leaves: Vec<_> = (0..4u8).map(|i| leaf_hash(&[i])).collect();
    let note = sign(&log, &leaves);
    let body = AddCheckpointRequest {
        old_size: 0,
        proof: vec![],
        checkpoint: note.clone(),
    };
    let url = format!("http://{addr}/add-checkpoint");
    let reply = http.post(&url).body(body.to_bytes()).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let mut cosigned = note.clone();
    cosigned.extend_from_slice(&reply.bytes().await.unwrap());
    let known: [&dyn NoteVerifier; 1] = [&vkey];
    assert!(Note::parse(&cosigned).unwrap().verify(&known).is_ok());

    let reply = http.post(&url).body(body.to_bytes()).send().await.unwrap();
    assert_eq!(reply.status(), 409);
    assert_eq!(reply.headers()["content-type"], SIZE_CONTENT_TYPE);
    assert_eq!(reply.text().await.unwrap(), "4\n");

    // A same-size fork becomes evidence the CLI can list.
    let mut forked = leaves.clone();
    forked[3] = leaf_hash(b"fork");
    let fork = AddCheckpointRequest {
        old_size: 4,
        proof: vec![],
        checkpoint: sign(&log, &forked),
    };
    let reply = http.post(&url).body(fork.to_bytes()).send().await.unwrap();
    assert_eq!(reply.status(), 422);
    let out = Command::new(BIN)
        .args(["evidence", "--json", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 1);
    assert_eq!(records[0]["kind"], "same_size_different_root");
    let text = Command::new(BIN)
        .args(["evidence", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("same_size_different_root"));

    let pid = running.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut running = running;
    let status = running.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
