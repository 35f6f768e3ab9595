//! The cross-language producer vectors (`testdata/vectors/producer/`,
//! docs/producers.md §9): every sample record, encoded, signed and hashed
//! the way the log expects, must give the committed bytes, and the
//! committed bytes must decode and verify. Other implementations (the
//! Python SDK, programs written from the doc) check the same file.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use causeway_records::{Envelope, Kind, PAYLOAD_TYPE, ProducerKey, Record, key_id, pae};
use causeway_tlog::merkle::leaf_hash;
use serde_json::{Value, json};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// The samples, in a fixed order: file stem and kind.
const SAMPLES: &[(&str, Kind)] = &[
    ("authorization", Kind::Authorization),
    ("preflight", Kind::Preflight),
    ("credential", Kind::Credential),
    ("credential-delegated", Kind::Credential),
    ("action", Kind::Action),
    ("exception", Kind::Exception),
    ("closure", Kind::Closure),
    ("closure-delegated", Kind::Closure),
    ("review", Kind::Review),
    ("outcome", Kind::Outcome),
    ("exception-refused-call", Kind::Exception),
];

fn key() -> ProducerKey {
    let pem = std::fs::read_to_string(testdata().join("vectors/producer/key.pem"))
        .expect("reading the vector key");
    ProducerKey::from_pkcs8_pem(&pem).expect("the vector key parses")
}

/// What the Rust code produces for every sample.
fn computed() -> Value {
    let key = key();
    let vectors: Vec<Value> = SAMPLES
        .iter()
        .map(|&(name, kind)| {
            let path = testdata().join(format!("records/{name}.json"));
            let text = std::fs::read_to_string(&path).expect("reading a sample record");
            let record = Record::from_json(kind, &text).expect("the sample parses");
            let envelope = Envelope::sign(&record, &key);
            let entry = envelope.encode();
            json!({
                "name": name,
                "kind": kind.as_str(),
                "json": record.to_json(),
                "payload": hex::encode(&envelope.payload),
                "pae": hex::encode(pae(PAYLOAD_TYPE, &envelope.payload)),
                "keyid": envelope.signatures[0].keyid,
                "sig": hex::encode(&envelope.signatures[0].sig),
                "entry": hex::encode(&entry),
                "leaf_hash": leaf_hash(&entry).to_hex(),
            })
        })
        .collect();
    json!({
        "payload_type": PAYLOAD_TYPE,
        "public_key": key.public_key().to_base64(),
        "vectors": vectors,
    })
}

#[test]
fn the_rust_code_reproduces_the_committed_vectors() {
    let path = testdata().join("vectors/producer/records.json");
    let ours = computed();
    if std::env::var_os("CAUSEWAY_WRITE_PRODUCER_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&ours).expect("JSON") + "\n";
        std::fs::write(&path, text).expect("writing the vectors");
    }
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).expect("reading records.json (see its README)"),
    )
    .expect("records.json is JSON");
    for (ours, theirs) in ours["vectors"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(committed["vectors"].as_array().into_iter().flatten())
    {
        assert_eq!(ours, theirs, "vector {} differs", theirs["name"]);
    }
    assert_eq!(ours, committed);
}

#[test]
fn the_committed_entries_decode_and_verify() {
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata().join("vectors/producer/records.json"))
            .expect("reading records.json"),
    )
    .expect("records.json is JSON");
    let spki = BASE64
        .decode(committed["public_key"].as_str().expect("public_key"))
        .expect("base64 public key");
    let vectors = committed["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), SAMPLES.len());
    for v in vectors {
        let field = |name: &str| hex::decode(v[name].as_str().expect(name)).expect("hex");
        let entry = field("entry");
        let envelope = Envelope::decode(&entry).expect("a canonical envelope");
        envelope.verify(&spki).expect("the signature verifies");
        assert_eq!(envelope.signatures[0].keyid, key_id(&spki));
        assert_eq!(envelope.payload, field("payload"));
        assert_eq!(pae(PAYLOAD_TYPE, &envelope.payload), field("pae"));
        assert_eq!(
            leaf_hash(&entry).to_hex(),
            v["leaf_hash"].as_str().expect("hex")
        );
        let kind: Kind = v["kind"].as_str().expect("kind").parse().expect("a kind");
        let record = envelope.record().expect("the payload is a record");
        assert_eq!(record.kind(), kind);
        assert_eq!(record.to_json(), v["json"]);
    }
}
