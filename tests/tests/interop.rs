//! Independent implementations check Causeway's output: Go's
//! golang.org/x/mod (sumdb/note for the Ed25519 checkpoint signature,
//! sumdb/tlog for inclusion and consistency proofs) and Python's
//! `cryptography` for the ECDSA P-256 (type 0x02) signature. Producers
//! written from docs/producers.md alone rebuild its vectors (Python) and
//! write records the log admits (Node, Go). `./run deps` installs what they
//! need (see `run`).

use std::path::Path;
use std::process::Command;

use causeway_client::verify::verify_checkpoint;
use causeway_client::{LeafRef, LogClient};
use causeway_tests::{Server, go_command, run_checker};
use causeway_tlog::checkpoint::Checkpoint;
use serde_json::json;

fn go(job: &serde_json::Value, cache: &Path) -> (bool, String) {
    run_checker(go_command("verify_go.go", cache), &job.to_string())
}

fn python(job: &serde_json::Value) -> (bool, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/verify_py.py"));
    run_checker(cmd, &job.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_and_python_verify_our_checkpoints_and_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("log"), &[]);
    let keys = server.keys();
    let mut client = LogClient::connect(&server.url).await.unwrap();
    let mut olds: Vec<Checkpoint> = Vec::new();
    for round in 0..7u32 {
        let n = [1, 2, 5, 30, 100, 1, 63][round as usize];
        let r = client
            .add_entries(
                (0..n)
                    .map(|i| format!("round {round} entry {i}").into_bytes())
                    .collect(),
            )
            .await
            .unwrap();
        olds.push(
            verify_checkpoint(&r.checkpoint_note, &keys)
                .unwrap()
                .into_checkpoint(),
        );
    }
    let note = client.checkpoint(None).await.unwrap();
    let head = verify_checkpoint(&note, &keys).unwrap().into_checkpoint();
    let mut inclusion = Vec::new();
    for index in (0..head.size()).step_by(7).chain([head.size() - 1]) {
        let p = client
            .inclusion_proof(LeafRef::Index(index), Some(head.size()))
            .await
            .unwrap();
        inclusion.push(json!({
            "index": index, "size": head.size(), "leaf_hash": p.leaf_hash.to_hex(),
            "proof": p.proof.iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
        }));
    }
    let mut consistency = Vec::new();
    for old in olds.iter().filter(|c| c.size() < head.size()) {
        let (_, proof) = client
            .consistency_proof(old.size(), Some(head.size()))
            .await
            .unwrap();
        consistency.push(json!({
            "old": old.size(), "old_root": old.root().to_hex(),
            "proof": proof.iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
        }));
    }
    let checks = 1 + inclusion.len() + consistency.len();
    let job = json!({
        "vkey": server.vkeys[1], "note": note, "inclusion": inclusion, "consistency": consistency,
    });
    let gocache = dir.path().join("gocache");
    let (ok, out) = go(&job, &gocache);
    assert!(ok, "Go rejected our output: {out}");
    assert_eq!(out.trim(), format!("ok {checks}"));

    let (ok, out) = python(&json!({ "vkey": server.vkeys[0], "note": note }));
    assert!(ok, "Python rejected our ECDSA signature: {out}");

    // The checkers are not rubber stamps: a tampered note or proof fails.
    let tampered = note.replacen(
        &format!("\n{}\n", head.size()),
        &format!("\n{}\n", head.size() + 1),
        1,
    );
    let (ok, _) = go(
        &json!({ "vkey": server.vkeys[1], "note": tampered }),
        &gocache,
    );
    assert!(!ok, "Go accepted a tampered checkpoint");
    let (ok, _) = python(&json!({ "vkey": server.vkeys[0], "note": tampered }));
    assert!(!ok, "Python accepted a tampered checkpoint");
    let mut bad = job.clone();
    let first = bad["inclusion"][0]["proof"][0].as_str().unwrap().to_owned();
    let flipped = format!(
        "{}{}",
        if first.starts_with('0') { "1" } else { "0" },
        &first[1..]
    );
    bad["inclusion"][0]["proof"][0] = json!(flipped);
    let (ok, _) = go(&bad, &gocache);
    assert!(!ok, "Go accepted a corrupted proof");
}

#[test]
fn python_grpcio_discovers_and_calls_the_service_through_reflection() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("log"), &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/grpc_reflect.py");
    let addr = server.url.trim_start_matches("http://");
    let out = Command::new("python3")
        .arg(script)
        .arg(addr)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let services: Vec<&str> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(services.contains(&"causeway.v1.Log"), "{services:?}");
    assert_eq!(
        v["methods"],
        json!([
            "AddEntries",
            "GetAnchor",
            "GetCheckpoint",
            "GetConsistencyProof",
            "GetEntries",
            "GetInclusionProof",
            "ListAnchors",
            "WatchCheckpoints"
        ])
    );
    assert_eq!(v["watched_size"], 1);
    assert_eq!(v["health"], "SERVING");
    assert!(services.contains(&"grpc.health.v1.Health"), "{services:?}");
    assert_eq!(v["index"], 0);
    let expected = causeway_tlog::merkle::leaf_hash(b"from python grpcio").to_hex();
    assert_eq!(v["leaf_hash"], expected.as_str());
    assert_eq!(v["tree_size"], 1);
    assert_eq!(v["note_first_line"], "test.causeway/log");
    assert_eq!(
        v["codes"],
        json!({"empty": "INVALID_ARGUMENT", "oversize": "INVALID_ARGUMENT", "beyond": "OUT_OF_RANGE"})
    );
}

/// A witnessed checkpoint as third parties see it: Python `cryptography`
/// checks each witness's cosignature/v1 from first principles, and Go's
/// sumdb/note still verifies the log's Ed25519 signature with the
/// cosignature lines present (unknown signers are ignored).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_go_verify_witness_cosignatures() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let origin = "interop.causeway/witnessed";
    let log_vkeys = causeway_tests::init_log(&log_dir, origin);
    let witnesses = causeway_tests::start_witnesses(dir.path(), "interop.witness/w", &log_vkeys, 2);
    let flags: Vec<String> = witnesses.iter().map(|w| w.flag()).collect();
    let server = Server::start(
        &log_dir,
        &[
            "--origin",
            origin,
            "--witness",
            &flags[0],
            "--witness",
            &flags[1],
        ],
    );
    let mut client = LogClient::connect(&server.url).await.unwrap();
    client
        .add_entries(vec![b"witnessed".to_vec()])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let note = loop {
        if let Ok(note) = client.checkpoint(None).await
            && verify_checkpoint(&note, &server.keys())
                .unwrap()
                .checkpoint()
                .size()
                == 1
        {
            break note;
        }
        assert!(std::time::Instant::now() < deadline, "{}", server.stderr());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for w in &witnesses {
        let mut cmd = Command::new("python3");
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/cosig_py.py"));
        let (ok, out) = run_checker(cmd, &json!({"vkey": w.vkey, "note": note}).to_string());
        assert!(ok && out.starts_with("ok "), "{}: {out}\n{note}", w.vkey);
    }
    let cache = dir.path().join("go-cache");
    // `init --json` prints [ECDSA, Ed25519].
    let ed25519 = &log_vkeys[1];
    let kind = causeway_tlog::note::VerifierKey::parse(ed25519)
        .unwrap()
        .kind();
    assert_eq!(kind, causeway_tlog::note::SignatureType::Ed25519);
    let (ok, out) = go(
        &json!({"vkey": ed25519, "note": note, "inclusion": [], "consistency": []}),
        &cache,
    );
    assert!(ok, "{out}\n{note}");
}

/// docs/producers.md followed by someone else: Python's standard library
/// and `cryptography` rebuild every producer vector's PAE, key ID,
/// envelope bytes and leaf hash and verify its signature.
#[test]
fn python_reproduces_the_producer_vectors_from_the_doc() {
    let vectors =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/vectors/producer/records.json");
    let mut cmd = Command::new("python3");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/producer_vectors_py.py"));
    let (ok, out) = run_checker(cmd, &vectors.display().to_string());
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "ok 11");
}

/// Runs a producer program written from docs/producers.md alone against a
/// live log under the test producer policy, appending the flags both
/// producers take (`--log HOST:PORT --approver PEM --issuer PEM`), and
/// checks what it printed (`{"authorization": {"index", "leaf_hash"},
/// "credential": …, "action": …, "tree_size"}`) against the log: each
/// record reads back with the leaf hash the program printed and decodes to
/// the kind it meant, and the log holds exactly those three.
async fn producer_writes_a_chain(what: &str, mut producer: Command) {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("producers");
    let policy = causeway_tests::Producers::new().write(&keys);
    let server = Server::with_policy(&dir.path().join("log"), &policy);
    let out = producer
        .args(["--log", server.url.trim_start_matches("http://")])
        .arg("--approver")
        .arg(keys.join("approver.pem"))
        .arg("--issuer")
        .arg(keys.join("issuer.pem"))
        .output()
        .unwrap_or_else(|e| panic!("{what} does not start (./run deps installs it): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{what} printed no JSON line ({e}): {stdout}"));
    let mut client = LogClient::connect(&server.url).await.unwrap();
    for (step, kind) in [
        ("authorization", causeway_records::Kind::Authorization),
        ("credential", causeway_records::Kind::Credential),
        ("action", causeway_records::Kind::Action),
    ] {
        let index = written[step]["index"].as_u64().unwrap();
        let entry = client.entries(index, 1).await.unwrap().pop().unwrap();
        assert_eq!(
            causeway_tlog::merkle::leaf_hash(&entry).to_hex(),
            written[step]["leaf_hash"].as_str().unwrap(),
            "{what}: {step}"
        );
        let record = causeway_records::Envelope::decode(&entry)
            .unwrap()
            .record()
            .unwrap();
        assert_eq!(record.kind(), kind, "{what}: {step}");
    }
    assert_eq!(written["tree_size"], 3, "{what}");
}

/// A producer written from docs/producers.md alone, in JavaScript with npm's
/// official `@grpc/grpc-js` and `protobufjs` (tests/producer-node): it
/// signs an authorization, a credential and an action with Node's crypto,
/// submits them one after the other to a live log under a producer policy,
/// and checks each inclusion proof itself. The log admits all three, and
/// our decoder reads back exactly the records it meant.
#[tokio::test]
async fn a_node_producer_written_from_the_doc_writes_a_chain_to_a_live_log() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = root.join("producer-node");
    assert!(
        fixture.join("node_modules/@grpc/grpc-js").is_dir(),
        "{} has no node_modules: run ./run deps (or npm ci --prefix tests/producer-node)",
        fixture.display()
    );
    let mut node = Command::new("node");
    node.arg(fixture.join("producer.mjs"))
        .arg("--records-proto")
        .arg(root.join("../proto/records/proto"))
        .arg("--log-proto")
        .arg(root.join("../proto/api/proto"));
    producer_writes_a_chain("the node producer", node).await;
}

/// The same chain from a producer written from docs/producers.md alone in
/// Go (tests/interop/producer_go.go): the standard library's crypto,
/// `protowire` to encode each message field by field from the .proto files
/// and grpc-go with a pass-through codec, so no generated code. Built in
/// GOPATH mode against Debian's golang-google-protobuf-dev and
/// golang-google-grpc-dev.
#[tokio::test]
async fn a_go_producer_written_from_the_doc_writes_a_chain_to_a_live_log() {
    let cache = tempfile::tempdir().unwrap();
    producer_writes_a_chain(
        "the Go producer",
        go_command("producer_go.go", cache.path()),
    )
    .await;
}
