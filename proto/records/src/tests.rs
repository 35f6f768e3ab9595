//! Tests of the records module: sample records of every kind (JSON and
//! protobuf round trips), negative parsing, envelopes and DSSE, the
//! producer policy, and log admission over a whole causal chain.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost::Message as _;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::*;
use crate::v1 as pb;
use causeway_tlog::merkle::{Hash, leaf_hash};

mod outcome;

macro_rules! sample {
    ($name:literal) => {
        include_str!(concat!("../../../testdata/records/", $name, ".json"))
    };
}

/// `(file name, kind, text)` of every committed sample.
const SAMPLES: &[(&str, Kind, &str)] = &[
    (
        "authorization",
        Kind::Authorization,
        sample!("authorization"),
    ),
    ("preflight", Kind::Preflight, sample!("preflight")),
    ("credential", Kind::Credential, sample!("credential")),
    (
        "credential-delegated",
        Kind::Credential,
        sample!("credential-delegated"),
    ),
    ("action", Kind::Action, sample!("action")),
    ("exception", Kind::Exception, sample!("exception")),
    ("closure", Kind::Closure, sample!("closure")),
    ("review", Kind::Review, sample!("review")),
    (
        "closure-delegated",
        Kind::Closure,
        sample!("closure-delegated"),
    ),
    ("outcome", Kind::Outcome, sample!("outcome")),
    (
        "exception-refused-call",
        Kind::Exception,
        sample!("exception-refused-call"),
    ),
];

fn sample_record(kind: Kind) -> Record {
    let (_, _, text) = SAMPLES
        .iter()
        .find(|(_, k, _)| *k == kind)
        .expect("a sample of every kind");
    Record::from_json(kind, text).expect("samples parse")
}

fn pretty(record: &Record) -> String {
    serde_json::to_string_pretty(&record.to_json()).expect("serializable") + "\n"
}

fn t(text: &str) -> Time {
    Time::parse_rfc3339(text).expect("valid test time")
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

// ---------------------------------------------------------------------------
// Kinds and samples

#[test]
fn kind_names_round_trip() {
    for kind in Kind::ALL {
        assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    let e = "Authorization".parse::<Kind>().unwrap_err().to_string();
    assert!(e.contains("\"Authorization\""), "{e}");
    for kind in Kind::ALL {
        assert!(e.contains(kind.as_str()), "{e}");
    }
    let e: RecordError = "approval".parse::<Kind>().unwrap_err().into();
    assert!(e.to_string().contains("unknown record kind \"approval\""));
}

#[test]
fn there_is_a_sample_of_every_kind() {
    for kind in Kind::ALL {
        assert!(SAMPLES.iter().any(|(_, k, _)| *k == kind), "{kind}");
    }
}

#[test]
fn samples_json_round_trip_byte_identical() {
    for (name, kind, text) in SAMPLES {
        let record = Record::from_json(*kind, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(record.kind(), *kind);
        assert_eq!(pretty(&record), *text, "{name}: not canonical");
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(record.to_json(), value, "{name}");
        // The canonical form parses back to the same record.
        let again = Record::from_json(*kind, &record.to_json().to_string()).unwrap();
        assert_eq!(again, record, "{name}");
    }
}

#[test]
fn samples_protobuf_round_trip() {
    for (name, kind, text) in SAMPLES {
        let record = Record::from_json(*kind, text).unwrap();
        // JSON → protobuf → JSON.
        let bytes = record.to_protobuf();
        let decoded = Record::from_protobuf(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded, record, "{name}");
        assert_eq!(pretty(&decoded), *text, "{name}");
        // protobuf → JSON → protobuf.
        let via_json = Record::from_json(*kind, &decoded.to_json().to_string()).unwrap();
        assert_eq!(via_json.to_protobuf(), bytes, "{name}");
    }
}

#[test]
fn record_accessors() {
    let auth = sample_record(Kind::Authorization);
    assert_eq!(auth.time(), t("2026-11-22T09:14:03Z").seconds());
    assert!(auth.references().is_empty());

    let cred = sample_record(Kind::Credential);
    let refs = cred.references();
    let fields: Vec<_> = refs.iter().map(|r| r.field).collect();
    assert_eq!(fields, ["authorization", "preflight"]);
    assert_eq!(refs[0].allowed, [Kind::Authorization]);
    assert_eq!(refs[1].allowed, [Kind::Preflight]);

    let (_, _, delegated) = SAMPLES[3];
    let delegated = Record::from_json(Kind::Credential, delegated).unwrap();
    let refs = delegated.references();
    assert_eq!(refs.len(), 3);
    assert_eq!(refs[2].field, "parent");
    assert_eq!(refs[2].allowed, [Kind::Credential]);

    let pre = sample_record(Kind::Preflight).references();
    assert_eq!(pre[0].allowed, [Kind::Authorization, Kind::Credential]);
    let exc = sample_record(Kind::Exception).references();
    assert_eq!(
        exc.iter().map(|r| (r.field, r.allowed)).collect::<Vec<_>>(),
        [
            ("credential", &[Kind::Credential][..]),
            ("action", &[Kind::Action][..])
        ]
    );
    let review = sample_record(Kind::Review).references();
    assert_eq!(
        review[0].allowed,
        [Kind::Authorization, Kind::Credential, Kind::Closure]
    );
    assert_eq!(
        sample_record(Kind::Action).references()[0].allowed,
        [Kind::Credential]
    );
    assert_eq!(
        sample_record(Kind::Closure).references()[0].allowed,
        [Kind::Credential]
    );
}

// ---------------------------------------------------------------------------
// Negative JSON parsing

/// Parses a sample after `edit`, expecting an error that contains every
/// one of `needles`.
fn json_error(kind: Kind, edit: impl FnOnce(&mut Value), needles: &[&str]) {
    let mut value = sample_record(kind).to_json();
    edit(&mut value);
    let text = value.to_string();
    let e = Record::from_json(kind, &text)
        .expect_err("edited record must be rejected")
        .to_string();
    for needle in needles {
        assert!(e.contains(needle), "{needle:?} not in {e:?}");
    }
}

fn set(path: &[&str], to: Value) -> impl FnOnce(&mut Value) {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    move |v| {
        let mut at = v;
        for p in &path[..path.len() - 1] {
            at = &mut at[p.as_str()];
        }
        at[path[path.len() - 1].as_str()] = to;
    }
}

fn remove(path: &[&str]) -> impl FnOnce(&mut Value) {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    move |v| {
        let mut at = v;
        for p in &path[..path.len() - 1] {
            at = &mut at[p.as_str()];
        }
        at.as_object_mut()
            .unwrap()
            .remove(path[path.len() - 1].as_str());
    }
}

#[test]
fn json_rejects_unknown_fields() {
    json_error(
        Kind::Authorization,
        set(&["color"], json!("blue")),
        &["unknown field `color`"],
    );
    json_error(
        Kind::Authorization,
        set(&["approver", "email"], json!("a@example.com")),
        &["approver", "unknown field `email`"],
    );
    json_error(
        Kind::Preflight,
        set(&["kind"], json!("preflight")),
        &["unknown field `kind`"],
    );
}

#[test]
fn json_rejects_missing_fields() {
    json_error(
        Kind::Authorization,
        remove(&["ticket"]),
        &["missing field `ticket`"],
    );
    json_error(
        Kind::Authorization,
        remove(&["authn", "mfa"]),
        &["authn", "missing field `mfa`"],
    );
    json_error(Kind::Action, remove(&["time"]), &["missing field `time`"]);
    json_error(
        Kind::Credential,
        remove(&["session_key"]),
        &["missing field `session_key`"],
    );
    json_error(
        Kind::Preflight,
        remove(&["checks"]),
        &["missing field `checks`"],
    );
    // Optional fields may be absent or null.
    let mut value = sample_record(Kind::Credential).to_json();
    value["parent"] = Value::Null;
    value.as_object_mut().unwrap().remove("preflight");
    let record = Record::from_json(Kind::Credential, &value.to_string()).unwrap();
    assert!(record.to_json().get("parent").is_none());
    assert_eq!(record.references().len(), 1);
}

#[test]
fn json_rejects_bad_times() {
    json_error(
        Kind::Authorization,
        set(&["not_before"], json!("2026-11-22T09:30:00+01:00")),
        &["not_before", "offsets are not accepted"],
    );
    json_error(
        Kind::Authorization,
        set(&["authn", "authenticated_at"], json!("yesterday")),
        &["authn.authenticated_at", "\"yesterday\""],
    );
    json_error(
        Kind::Closure,
        set(&["ended_at"], json!(1_795_339_800)),
        &["ended_at", "invalid type"],
    );
    json_error(
        Kind::Review,
        set(&["time"], json!("2026-11-23 08:31:42Z")),
        &["time", "T between"],
    );
}

#[test]
fn json_rejects_bad_references() {
    let good = sample_record(Kind::Preflight).to_json()["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    json_error(
        Kind::Preflight,
        set(&["subject"], json!(good.to_uppercase())),
        &["subject", "lowercase"],
    );
    json_error(
        Kind::Credential,
        set(&["authorization"], json!(&good[..63])),
        &["authorization", "64 lowercase hex", "63 characters"],
    );
    json_error(
        Kind::Credential,
        set(&["parent"], json!("")),
        &["parent", "64 lowercase hex"],
    );
    json_error(
        Kind::Exception,
        set(&["action"], json!(format!("{}g", &good[..63]))),
        &["action", "lowercase hex"],
    );
}

#[test]
fn json_rejects_bad_session_keys() {
    json_error(
        Kind::Credential,
        set(&["session_key"], json!("not base64!")),
        &["session_key", "base64"],
    );
    let p384 = "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE7qgZ3t+u1QZdjt7KiBKAddFV9RdpRhiyGZrKCUlnYNlEwO/8kHeiECRsbxSkd/FuZSWqsvgTdKJZS3KuKk8c2HLPEiHPpkuPDCuTn/JXDerKWyDdGso9ylKMzi5rRbEE";
    json_error(
        Kind::Credential,
        set(&["session_key"], json!(p384)),
        &["session_key", "P-256"],
    );
    let ed25519 = "MCowBQYDK2VwAyEADRa7h38WkzB5ef39HUplq0583cFakYA1J+72EBOdLSQ=";
    json_error(
        Kind::Credential,
        set(&["session_key"], json!(ed25519)),
        &["session_key", "P-256"],
    );
    let compressed =
        "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADgkzVab7/EtYWfJOW1YhmQnObl6pf4VhFHJy6PULKCbE=";
    json_error(
        Kind::Credential,
        set(&["session_key"], json!(compressed)),
        &["session_key", "canonical"],
    );
    // Unpadded base64 is not the canonical text form.
    let good = sample_record(Kind::Credential).to_json()["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    json_error(
        Kind::Credential,
        set(&["session_key"], json!(good.trim_end_matches('='))),
        &["session_key", "base64"],
    );
}

#[test]
fn json_rejects_bad_values() {
    json_error(
        Kind::Preflight,
        set(&["stage"], json!("deploy")),
        &["stage", "unknown variant `deploy`", "issuance", "promotion"],
    );
    json_error(
        Kind::Preflight,
        set(&["verdict"], json!("PASS")),
        &["verdict", "pass", "block"],
    );
    json_error(
        Kind::Closure,
        set(&["reason"], json!("timeout")),
        &["reason", "voluntary", "forced", "expired"],
    );
    json_error(
        Kind::Action,
        set(&["seq"], json!("three")),
        &["seq", "invalid type"],
    );
    json_error(
        Kind::Action,
        set(&["seq"], json!(-1)),
        &["seq", "invalid value"],
    );
    json_error(
        Kind::Preflight,
        |v: &mut Value| v["checks"][1]["cves"] = json!("CVE-2024-43806"),
        &["checks[1].cves", "invalid type"],
    );
    json_error(
        Kind::Authorization,
        set(&["authn", "mfa"], json!("yes")),
        &["authn.mfa"],
    );
}

#[test]
fn json_rejects_malformed_documents() {
    let e = Record::from_json(Kind::Action, "").unwrap_err().to_string();
    assert!(e.contains("invalid action record JSON"), "{e}");
    let (_, _, text) = SAMPLES[4];
    let e = Record::from_json(Kind::Action, &format!("{text} {{}}"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("trailing"), "{e}");
    let e = Record::from_json(Kind::Action, "[]")
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid length 0"), "{e}");
    // Serde would take a struct as an array of its fields, and a unit
    // variant as a one-key object: the JSON form does not.
    let mut value = sample_record(Kind::Authorization).to_json();
    value["approver"] = json!(["alice@example.com", "https://login.example.com"]);
    let e = Record::from_json(Kind::Authorization, &value.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("approver: expected an object, found an array"),
        "{e}"
    );
    let mut value = sample_record(Kind::Preflight).to_json();
    value["stage"] = json!({"issuance": null});
    let e = Record::from_json(Kind::Preflight, &value.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("stage: expected a string, found an object"),
        "{e}"
    );
    let fields: Vec<Value> = [
        "credential",
        "seq",
        "tool",
        "target",
        "summary",
        "digest",
        "result",
        "time",
    ]
    .iter()
    .map(|f| sample_record(Kind::Action).to_json()[f].clone())
    .collect();
    let e = Record::from_json(Kind::Action, &Value::Array(fields).to_string())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the record: expected an object, found an array"),
        "{e}"
    );
    // The same object under the wrong kind names the first surprise.
    let (_, _, action) = SAMPLES[4];
    let e = Record::from_json(Kind::Closure, action)
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid closure record JSON"), "{e}");
}

// ---------------------------------------------------------------------------
// Negative protobuf decoding

fn pb_of(kind: Kind) -> pb::Record {
    pb::Record::decode(sample_record(kind).to_protobuf().as_slice()).unwrap()
}

fn pb_error(msg: &pb::Record, needles: &[&str]) {
    let e = Record::from_protobuf(&msg.encode_to_vec())
        .expect_err("must be rejected")
        .to_string();
    for needle in needles {
        assert!(e.contains(needle), "{needle:?} not in {e:?}");
    }
}

#[test]
fn protobuf_rejects_malformed_and_non_canonical() {
    assert_eq!(Record::from_protobuf(&[]), Err(RecordError::NoKind));
    let e = Record::from_protobuf(&[0xff, 0xff]).unwrap_err();
    assert!(matches!(e, RecordError::Protobuf { .. }), "{e}");

    let good = sample_record(Kind::Action).to_protobuf();
    // An unknown field appended (field 15, varint: past the kinds).
    let mut unknown = good.clone();
    unknown.extend_from_slice(&[0x78, 0x01]);
    assert_eq!(
        Record::from_protobuf(&unknown),
        Err(RecordError::NonCanonical {
            what: "record payload"
        })
    );
    // Two kinds: prost keeps the last, but the bytes are not canonical.
    let mut two = sample_record(Kind::Authorization).to_protobuf();
    two.extend_from_slice(&good);
    let e = Record::from_protobuf(&two).unwrap_err().to_string();
    assert!(e.contains("not canonical"), "{e}");
    // A default scalar written explicitly (seq = 0 inside the action).
    let mut msg = pb_of(Kind::Action);
    if let Some(pb::record::Kind::Action(a)) = &mut msg.kind {
        a.seq = 0;
    }
    let mut inner = Vec::new();
    if let Some(pb::record::Kind::Action(a)) = &msg.kind {
        a.encode(&mut inner).unwrap();
    }
    let mut explicit_zero = inner.clone();
    explicit_zero.extend_from_slice(&[0x10, 0x00]);
    let mut outer = vec![0x22];
    prost::encoding::encode_varint(explicit_zero.len() as u64, &mut outer);
    outer.extend_from_slice(&explicit_zero);
    assert!(matches!(
        Record::from_protobuf(&outer),
        Err(RecordError::NonCanonical { .. })
    ));
}

#[test]
fn protobuf_rejects_missing_and_invalid_fields() {
    let mut msg = pb_of(Kind::Action);
    if let Some(pb::record::Kind::Action(a)) = &mut msg.kind {
        a.time = None;
    }
    pb_error(&msg, &["action.time is missing"]);

    let mut msg = pb_of(Kind::Action);
    if let Some(pb::record::Kind::Action(a)) = &mut msg.kind {
        a.credential.pop();
    }
    pb_error(&msg, &["action.credential", "32 bytes, got 31"]);

    let mut msg = pb_of(Kind::Action);
    if let Some(pb::record::Kind::Action(a)) = &mut msg.kind {
        a.credential.clear();
    }
    pb_error(&msg, &["action.credential is missing"]);

    let mut msg = pb_of(Kind::Closure);
    if let Some(pb::record::Kind::Closure(c)) = &mut msg.kind
        && let Some(time) = &mut c.time
    {
        time.nanos = 1_000_000_000;
    }
    pb_error(&msg, &["closure.time", "nanoseconds"]);

    let mut msg = pb_of(Kind::Closure);
    if let Some(pb::record::Kind::Closure(c)) = &mut msg.kind
        && let Some(time) = &mut c.started_at
    {
        time.nanos = -1;
    }
    pb_error(&msg, &["closure.started_at", "negative nanos"]);

    let mut msg = pb_of(Kind::Review);
    if let Some(pb::record::Kind::Review(r)) = &mut msg.kind
        && let Some(time) = &mut r.finished_at
    {
        time.seconds = Time::MAX_SECONDS + 1;
    }
    pb_error(&msg, &["review.finished_at", "years 0001 to 9999"]);

    let mut msg = pb_of(Kind::Preflight);
    if let Some(pb::record::Kind::Preflight(p)) = &mut msg.kind {
        p.stage = 0;
    }
    pb_error(&msg, &["preflight.stage is missing"]);

    let mut msg = pb_of(Kind::Preflight);
    if let Some(pb::record::Kind::Preflight(p)) = &mut msg.kind {
        p.verdict = 9;
    }
    pb_error(&msg, &["preflight.verdict", "unknown enum value 9"]);

    let mut msg = pb_of(Kind::Credential);
    if let Some(pb::record::Kind::Credential(c)) = &mut msg.kind {
        c.session_key[30] ^= 1;
    }
    pb_error(&msg, &["credential.session_key", "invalid public key"]);

    let mut msg = pb_of(Kind::Credential);
    if let Some(pb::record::Kind::Credential(c)) = &mut msg.kind {
        c.session_key.clear();
    }
    pb_error(&msg, &["credential.session_key is missing"]);

    let mut msg = pb_of(Kind::Credential);
    if let Some(pb::record::Kind::Credential(c)) = &mut msg.kind {
        c.parent = vec![7; 33];
    }
    pb_error(&msg, &["credential.parent", "32 bytes, got 33"]);

    let mut msg = pb_of(Kind::Authorization);
    if let Some(pb::record::Kind::Authorization(a)) = &mut msg.kind {
        a.approver = None;
    }
    pb_error(&msg, &["authorization.approver is missing"]);

    let mut msg = pb_of(Kind::Authorization);
    if let Some(pb::record::Kind::Authorization(a)) = &mut msg.kind
        && let Some(authn) = &mut a.authn
    {
        authn.authenticated_at = None;
    }
    pb_error(&msg, &["authorization.authn.authenticated_at is missing"]);
}

// ---------------------------------------------------------------------------
// Keys and envelopes

#[test]
fn pae_matches_the_dsse_spec_example() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
}

#[test]
fn key_ids_and_pem() {
    let key = ProducerKey::generate(&mut rng(1));
    let spki = key.public_spki_der();
    assert_eq!(key.key_id(), hex::encode(sha2::Sha256::digest(&spki)));
    assert_eq!(key_id(&spki), key.key_id());
    assert_eq!(key.key_id().len(), 64);
    assert_eq!(key.public_key().key_id(), key.key_id());
    assert_eq!(PublicKey::from_spki_der(&spki).unwrap(), key.public_key());

    let pem = key.to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let again = ProducerKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(again.public_spki_der(), spki);
    let e = ProducerKey::from_pkcs8_pem(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("P-256 PKCS#8"), "{e}");
    assert!(!format!("{key:?}").contains("BEGIN"));

    // An OpenSSL-made key parses.
    let openssl = PublicKey::from_base64(
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnTrI7D7awnb/YUhk3A7rsObxeI33ICRyBpy+eJf9L2iQt3g50mUSuN3UQAvm+xiBMnzMFqYEcrbMuPbVQI/3ow==",
    )
    .unwrap();
    assert_eq!(openssl.spki_der().len(), 91);
}

use sha2::Digest as _;

#[test]
fn envelope_sign_verify_round_trip() {
    let key = ProducerKey::generate(&mut rng(2));
    let record = sample_record(Kind::Authorization);
    let envelope = Envelope::sign(&record, &key);
    assert_eq!(envelope.payload_type, PAYLOAD_TYPE);
    assert_eq!(envelope.signer().unwrap().keyid, key.key_id());
    envelope.verify(&key.public_spki_der()).unwrap();

    let entry = envelope.encode();
    let decoded = Envelope::decode(&entry).unwrap();
    assert_eq!(decoded, envelope);
    assert_eq!(decoded.record().unwrap(), record);
    decoded.verify(&key.public_spki_der()).unwrap();
    assert_eq!(decoded.encode(), entry);
}

#[test]
fn envelope_rejects_tampering_and_wrong_keys() {
    let key = ProducerKey::generate(&mut rng(3));
    let other = ProducerKey::generate(&mut rng(4));
    let envelope = Envelope::sign(&sample_record(Kind::Action), &key);

    let mut tampered = envelope.clone();
    let last = tampered.payload.len() - 1;
    tampered.payload[last] ^= 1;
    assert_eq!(
        tampered.verify(&key.public_spki_der()),
        Err(RecordError::BadSignature {
            keyid: key.key_id()
        })
    );

    let mut retyped = envelope.clone();
    retyped.payload_type = String::from("application/vnd.in-toto+json");
    assert!(matches!(
        retyped.verify(&key.public_spki_der()),
        Err(RecordError::BadSignature { .. })
    ));
    let e = retyped.record().unwrap_err().to_string();
    assert!(e.contains("application/vnd.in-toto+json"), "{e}");
    assert!(e.contains(PAYLOAD_TYPE), "{e}");

    // The wrong key: its key ID does not match.
    let e = envelope.verify(&other.public_spki_der()).unwrap_err();
    assert_eq!(
        e,
        RecordError::KeyIdMismatch {
            found: key.key_id(),
            expected: other.key_id()
        }
    );
    // The wrong key claimed by key ID: the signature does not verify.
    let mut claimed = envelope.clone();
    claimed.signatures[0].keyid = other.key_id();
    assert!(matches!(
        claimed.verify(&other.public_spki_der()),
        Err(RecordError::BadSignature { .. })
    ));
    // A signature that is not DER.
    let mut garbage = envelope.clone();
    garbage.signatures[0].sig = vec![1, 2, 3];
    assert!(matches!(
        garbage.verify(&key.public_spki_der()),
        Err(RecordError::BadSignature { .. })
    ));
    // A key that is not P-256.
    let mut bogus = envelope.clone();
    bogus.signatures[0].keyid = key_id(b"bogus");
    assert!(matches!(
        bogus.verify(b"bogus"),
        Err(RecordError::InvalidKey(_))
    ));
}

#[test]
fn envelope_requires_exactly_one_signature() {
    let key = ProducerKey::generate(&mut rng(5));
    let mut envelope = Envelope::sign(&sample_record(Kind::Review), &key);
    let one = envelope.signatures[0].clone();
    envelope.signatures.push(one);
    let e = envelope.signer().unwrap_err();
    assert_eq!(e, RecordError::SignatureCount(2));
    assert!(e.to_string().contains("exactly one signature"), "{e}");
    assert!(envelope.verify(&key.public_spki_der()).is_err());
    envelope.signatures.clear();
    assert_eq!(envelope.signer(), Err(RecordError::SignatureCount(0)));
}

#[test]
fn submission_id_ignores_the_signature_but_not_the_signer() {
    let (a, b) = (
        ProducerKey::generate(&mut rng(7)),
        ProducerKey::generate(&mut rng(8)),
    );
    let record = sample_record(Kind::Action);
    let first = Envelope::sign(&record, &a);
    // (r, n - s) verifies too: a malleated copy is the same submission.
    let sig = p256::ecdsa::Signature::from_der(&first.signatures[0].sig).unwrap();
    let (r, s) = sig.split_scalars();
    let flipped = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    let mut malleated = first.clone();
    malleated.signatures[0].sig = flipped.to_der().as_bytes().to_vec();
    assert_ne!(malleated.encode(), first.encode());
    assert!(malleated.verify(&a.public_spki_der()).is_ok());
    assert_eq!(malleated.submission_id(), first.submission_id());
    // Another signer, another payload: another submission.
    assert_ne!(
        Envelope::sign(&record, &b).submission_id(),
        first.submission_id()
    );
    assert_ne!(
        Envelope::sign(&sample_record(Kind::Review), &a).submission_id(),
        first.submission_id()
    );
    let mut unsigned = first.clone();
    unsigned.signatures.clear();
    assert!(unsigned.submission_id().is_err());
}

#[test]
fn envelope_decode_is_strict() {
    let key = ProducerKey::generate(&mut rng(6));
    let entry = Envelope::sign(&sample_record(Kind::Action), &key).encode();
    let mut unknown = entry.clone();
    unknown.extend_from_slice(&[0x20, 0x01]);
    assert_eq!(
        Envelope::decode(&unknown),
        Err(RecordError::NonCanonical { what: "envelope" })
    );
    assert!(matches!(
        Envelope::decode(&entry[..entry.len() - 1]),
        Err(RecordError::Protobuf { .. })
    ));
    // Fields out of order: signatures before payload.
    let msg = pb::Envelope::decode(entry.as_slice()).unwrap();
    let mut reordered = Vec::new();
    for s in &msg.signatures {
        prost::encoding::message::encode(3, s, &mut reordered);
    }
    prost::encoding::string::encode(1, &msg.payload_type, &mut reordered);
    prost::encoding::bytes::encode(2, &msg.payload, &mut reordered);
    assert!(matches!(
        Envelope::decode(&reordered),
        Err(RecordError::NonCanonical { .. })
    ));
}

#[test]
fn dsse_json_round_trip() {
    let key = ProducerKey::generate(&mut rng(7));
    let envelope = Envelope::sign(&sample_record(Kind::Credential), &key);
    let value = envelope.to_dsse_json();
    assert_eq!(value["payloadType"], PAYLOAD_TYPE);
    assert_eq!(
        value["payload"].as_str().unwrap(),
        BASE64.encode(&envelope.payload)
    );
    assert_eq!(value["signatures"][0]["keyid"], key.key_id().as_str());
    assert_eq!(
        value["signatures"][0]["sig"].as_str().unwrap(),
        BASE64.encode(&envelope.signatures[0].sig)
    );
    let back = Envelope::from_dsse_json(&value.to_string()).unwrap();
    assert_eq!(back, envelope);
    back.verify(&key.public_spki_der()).unwrap();

    // URL-safe, unpadded base64 is accepted, as DSSE allows.
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut alt = value.clone();
    alt["payload"] = json!(url.encode(&envelope.payload));
    alt["signatures"][0]["sig"] = json!(url.encode(&envelope.signatures[0].sig));
    assert_eq!(
        Envelope::from_dsse_json(&alt.to_string()).unwrap(),
        envelope
    );

    let mut extra = value.clone();
    extra["signed"] = json!(true);
    let e = Envelope::from_dsse_json(&extra.to_string()).unwrap_err();
    assert!(e.to_string().contains("unknown field `signed`"), "{e}");

    let mut bad = value.clone();
    bad["signatures"][0]["sig"] = json!("%%%");
    let e = Envelope::from_dsse_json(&bad.to_string()).unwrap_err();
    assert!(e.to_string().contains("signatures[0].sig"), "{e}");

    let mut missing = value;
    missing.as_object_mut().unwrap().remove("payloadType");
    let e = Envelope::from_dsse_json(&missing.to_string()).unwrap_err();
    assert!(e.to_string().contains("payloadType"), "{e}");
}

// ---------------------------------------------------------------------------
// Producer policy

const KEY_A: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnTrI7D7awnb/YUhk3A7rsObxeI33ICRyBpy+eJf9L2iQt3g50mUSuN3UQAvm+xiBMnzMFqYEcrbMuPbVQI/3ow==";
const KEY_B: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOaZSBCnkCJ9xctsb7//V7UXCQ9FuBc/rJrXOIUFoG7aAGRJOJVbXdpsKAzi0N7JIRD9IfM7bQaXhzXtMAfRvUQ==";
const KEY_C: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXRzjqBrIXptr4bFMimIo4RzrmRw5MRec2HiZ4pWmPd6B8K14As6OTCVfNIFz0vXkc6ZIQitBtljwTtDmtRrj2Q==";

fn example_policy() -> String {
    format!(
        r#"max_future_skew = "5m"          # optional; s/m/h suffixes

[[principal]]
name = "alice@example.com"
role = "human"
kinds = ["authorization", "review"]
keys = ["{KEY_A}"]

[[principal]]
name = "jit-issuer"
role = "issuer"
keys = ["{KEY_B}"]

[[principal]]
name = "scanner"
role = "verifier"
keys = ["{KEY_C}"]
"#
    )
}

#[test]
fn policy_parses_the_example() {
    let policy = ProducerPolicy::parse(&example_policy()).unwrap();
    assert_eq!(policy.max_future_skew_secs(), 300);
    let names: Vec<_> = policy
        .principals()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["alice@example.com", "jit-issuer", "scanner"]);

    let a = PublicKey::from_base64(KEY_A).unwrap();
    let alice = policy.principal(&a.key_id()).unwrap();
    assert_eq!(alice.role, Role::Human);
    assert_eq!(alice.kinds, [Kind::Authorization, Kind::Review]);
    assert_eq!(alice.keys, [a.spki_der().to_vec()]);
    assert_eq!(alice.key_ids, [a.key_id()]);

    let b = PublicKey::from_base64(KEY_B).unwrap();
    let issuer = policy.principal(&b.key_id()).unwrap();
    assert_eq!(issuer.role, Role::Issuer);
    assert_eq!(
        issuer.kinds,
        [Kind::Credential, Kind::Exception, Kind::Closure]
    );
    let (_, spki) = policy.principal_key(&b.key_id()).unwrap();
    assert_eq!(spki, b.spki_der());
    assert!(policy.principal(&"0".repeat(64)).is_none());
}

#[test]
fn policy_defaults_and_durations() {
    let base = format!("[[principal]]\nname = \"g\"\nrole = \"gate\"\nkeys = [\"{KEY_A}\"]\n");
    let policy = ProducerPolicy::parse(&base).unwrap();
    assert_eq!(policy.max_future_skew_secs(), DEFAULT_MAX_FUTURE_SKEW_SECS);
    assert_eq!(policy.principals()[0].kinds, [Kind::Exception]);
    for (skew, secs) in [
        ("0s", 0),
        ("45s", 45),
        ("2m", 120),
        ("1h", 3600),
        // humantime's spellings, beyond today's <digits>(s|m|h).
        ("5d", 432_000),
        ("5 minutes", 300),
        ("1h 30m", 5_400),
        ("2min", 120),
    ] {
        let text = format!("max_future_skew = \"{skew}\"\n{base}");
        assert_eq!(
            ProducerPolicy::parse(&text).unwrap().max_future_skew_secs(),
            secs
        );
    }
    let verifier =
        format!("[[principal]]\nname = \"v\"\nrole = \"verifier\"\nkeys = [\"{KEY_A}\"]\n");
    assert_eq!(
        ProducerPolicy::parse(&verifier).unwrap().principals()[0].kinds,
        [Kind::Preflight]
    );
}

/// Every duration the policy took before it parsed with humantime (the
/// grammar `<digits>(s|m|h)`, in i64 seconds) still parses, to the same
/// number of seconds; what the old grammar refused for overflow is still
/// refused.
#[test]
fn policy_durations_accept_every_old_spelling() {
    fn old_grammar(text: &str) -> Option<i64> {
        let (digits, unit) = [('s', 1), ('m', 60), ('h', 3_600)]
            .into_iter()
            .find_map(|(suffix, unit)| text.strip_suffix(suffix).map(|d| (d, unit)))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<i64>().ok()?.checked_mul(unit)
    }
    let base = format!("[[principal]]\nname = \"g\"\nrole = \"gate\"\nkeys = [\"{KEY_A}\"]\n");
    let max = i64::MAX.to_string();
    let numbers = [
        "0",
        "1",
        "00",
        "007",
        "59",
        "60",
        "61",
        "300",
        "3600",
        "86400",
        "2562047788015215",   // the most hours in i64 seconds
        "2562047788015216",   // one hour more
        "153722867280912930", // the most minutes
        "153722867280912931",
        &max,
        "9223372036854775808", // i64::MAX + 1
        "99999999999999999999",
    ];
    let mut checked = 0;
    for number in numbers {
        for unit in ["s", "m", "h"] {
            let text = format!("{number}{unit}");
            let old = old_grammar(&text);
            let new = ProducerPolicy::parse(&format!("max_past_skew = \"{text}\"\n{base}"))
                .ok()
                .map(|p| p.max_past_skew_secs());
            assert_eq!(new, old, "{text}");
            checked += usize::from(old.is_some());
        }
    }
    assert!(checked > 30, "{checked}");
}

#[test]
fn policy_keeps_the_audit_table_raw() {
    let example = example_policy();
    assert!(
        ProducerPolicy::parse(&example)
            .unwrap()
            .audit_table()
            .is_none()
    );
    // The keys belong to the auditor: the policy keeps them unchecked, in
    // any position after the top-level keys.
    let text =
        format!("{example}\n[audit]\nworking_hours = \"08:00-18:00\"\nnot_checked_here = 1\n");
    let policy = ProducerPolicy::parse(&text).unwrap();
    let audit = policy.audit_table().unwrap();
    assert_eq!(audit["working_hours"].as_str(), Some("08:00-18:00"));
    assert_eq!(audit["not_checked_here"].as_integer(), Some(1));
    assert_eq!(policy.principals().len(), 3);
    // `audit` must be a table.
    policy_error(
        &format!("audit = 3\n{example}"),
        Some(1),
        &["expected a map"],
    );
}

/// Expects `text` to be rejected on `line` with a message containing every
/// one of `needles`.
fn policy_error(text: &str, line: Option<usize>, needles: &[&str]) {
    let e = ProducerPolicy::parse(text).expect_err("policy must be rejected");
    let shown = e.to_string();
    assert_eq!(e.line, line, "{shown}");
    for needle in needles {
        assert!(shown.contains(needle), "{needle:?} not in {shown:?}");
    }
}

#[test]
fn policy_rejections() {
    let example = example_policy();
    // Unknown fields, top level and in a principal.
    policy_error(
        &format!("max_skew = \"5m\"\n{example}"),
        Some(1),
        &["unknown field `max_skew`", "max_future_skew"],
    );
    policy_error(
        &example.replace("role = \"issuer\"", "role = \"issuer\"\nemail = \"x\""),
        Some(12),
        &["unknown field `email`", "name", "role", "kinds", "keys"],
    );
    // An unknown role.
    policy_error(
        &example.replace("role = \"verifier\"", "role = \"admin\""),
        Some(16),
        &[
            "unknown variant `admin`",
            "human",
            "issuer",
            "verifier",
            "gate",
        ],
    );
    // An unknown kind.
    policy_error(
        &example.replace("\"review\"]", "\"deploy\"]"),
        Some(6),
        &["unknown record kind \"deploy\"", "authorization, preflight"],
    );
    // A human with action.
    policy_error(
        &example.replace("\"review\"]", "\"review\", \"action\"]"),
        Some(6),
        &["alice@example.com", "action", "session key", "remove it"],
    );
    // A human with credential: only issuers.
    policy_error(
        &example.replace("\"review\"]", "\"credential\"]"),
        Some(6),
        &["may not sign credential", "only issuers sign credential"],
    );
    // A gate with preflight.
    policy_error(
        &example.replace(
            "role = \"issuer\"\n",
            "role = \"gate\"\nkinds = [\"exception\", \"preflight\"]\n",
        ),
        Some(12),
        &["(role gate) may not sign preflight", "only verifiers"],
    );
    // Empty and duplicate kinds.
    policy_error(
        &example.replace("kinds = [\"authorization\", \"review\"]", "kinds = []"),
        Some(6),
        &["lists no kinds", "authorization, review"],
    );
    policy_error(
        &example.replace("\"review\"]", "\"review\", \"review\"]"),
        Some(6),
        &["review twice"],
    );
    // The same key for two principals.
    policy_error(
        &example.replace(KEY_C, KEY_A),
        Some(17),
        &[
            "already listed on line 7",
            "principal \"alice@example.com\"",
            "exactly one principal",
            &PublicKey::from_base64(KEY_A).unwrap().key_id(),
        ],
    );
    // The same key twice in one principal.
    policy_error(
        &example.replace(
            &format!("keys = [\"{KEY_B}\"]"),
            &format!("keys = [\n  \"{KEY_B}\",\n  \"{KEY_B}\",\n]"),
        ),
        Some(14),
        &["already listed on line 13", "list each key once"],
    );
    // Invalid keys.
    policy_error(
        &example.replace(KEY_B, "not base64"),
        Some(12),
        &[
            "key 1 of principal \"jit-issuer\"",
            "base64",
            "openssl pkey",
        ],
    );
    let p384 = "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE7qgZ3t+u1QZdjt7KiBKAddFV9RdpRhiyGZrKCUlnYNlEwO/8kHeiECRsbxSkd/FuZSWqsvgTdKJZS3KuKk8c2HLPEiHPpkuPDCuTn/JXDerKWyDdGso9ylKMzi5rRbEE";
    policy_error(&example.replace(KEY_B, p384), Some(12), &["P-256"]);
    let compressed =
        "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADgkzVab7/EtYWfJOW1YhmQnObl6pf4VhFHJy6PULKCbE=";
    policy_error(
        &example.replace(KEY_B, compressed),
        Some(12),
        &["canonical"],
    );
    // No keys, missing keys.
    policy_error(
        &example.replace(&format!("[\"{KEY_B}\"]"), "[]"),
        Some(12),
        &["\"jit-issuer\" has no keys"],
    );
    policy_error(
        &example.replace(&format!("keys = [\"{KEY_B}\"]\n"), ""),
        Some(9),
        &["missing field `keys`"],
    );
    // Duplicate and empty names.
    policy_error(
        &example.replace("name = \"scanner\"", "name = \"jit-issuer\""),
        Some(15),
        &["\"jit-issuer\" is already used on line 10"],
    );
    policy_error(
        &example.replace("name = \"scanner\"", "name = \" \""),
        Some(15),
        &["must not be empty"],
    );
    // Bad durations.
    for bad in [
        "-5m",
        "1500ms",
        "5 fortnights",
        "m",
        "",
        "5é",
        "99999999999999999999h",
    ] {
        policy_error(
            &example.replace("\"5m\"", &format!("\"{bad}\"")),
            Some(1),
            &["max_future_skew", "s, m or h suffix"],
        );
    }
    policy_error(
        &example.replace("\"5m\"", "300"),
        Some(1),
        &["invalid type: integer"],
    );
    // No principal; not TOML.
    policy_error("max_future_skew = \"5m\"\n", None, &["no principal"]);
    policy_error("[[principal]\n", Some(1), &[]);
}

// ---------------------------------------------------------------------------
// Log admission

/// The producers' keys of the admission tests.
struct Producers {
    alice: ProducerKey,
    bob: ProducerKey,
    issuer: ProducerKey,
    verifier: ProducerKey,
    gate: ProducerKey,
}

/// An in-memory log: the policy, and every admitted entry by leaf hash.
struct Log {
    policy: ProducerPolicy,
    entries: HashMap<Hash, Referenced>,
    now: i64,
}

impl Log {
    fn new() -> (Self, Producers) {
        let mut r = rng(42);
        let p = Producers {
            alice: ProducerKey::generate(&mut r),
            bob: ProducerKey::generate(&mut r),
            issuer: ProducerKey::generate(&mut r),
            verifier: ProducerKey::generate(&mut r),
            gate: ProducerKey::generate(&mut r),
        };
        let b64 = |k: &ProducerKey| BASE64.encode(k.public_spki_der());
        let policy = ProducerPolicy::parse(&format!(
            r#"max_future_skew = "5m"
max_past_skew = "48h"
[[principal]]
name = "alice@example.com"
role = "human"
kinds = ["authorization"]
keys = ["{}"]
[[principal]]
name = "bob@example.com"
role = "human"
keys = ["{}"]
[[principal]]
name = "jit-issuer"
role = "issuer"
keys = ["{}"]
[[principal]]
name = "scanner"
role = "verifier"
keys = ["{}"]
[[principal]]
name = "deploy-gate"
role = "gate"
keys = ["{}"]
"#,
            b64(&p.alice),
            b64(&p.bob),
            b64(&p.issuer),
            b64(&p.verifier),
            b64(&p.gate)
        ))
        .unwrap();
        let log = Log {
            policy,
            entries: HashMap::new(),
            now: t("2026-11-23T09:00:00Z").seconds(),
        };
        (log, p)
    }

    fn check(&mut self, entry: &[u8]) -> Result<Admitted, Rejection> {
        let entries = &self.entries;
        validate_entry(entry, &self.policy, self.now, &mut |h| {
            entries.get(h).cloned()
        })
    }

    /// Validates and appends; returns the leaf hash.
    fn submit(&mut self, record: &Record, key: &ProducerKey) -> Result<Hash, Rejection> {
        let entry = Envelope::sign(record, key).encode();
        let admitted = self.check(&entry)?.record;
        assert_eq!(&admitted, record);
        let hash = leaf_hash(&entry);
        let index = self.entries.len() as u64;
        self.entries.insert(
            hash,
            Referenced {
                index,
                record: admitted,
            },
        );
        Ok(hash)
    }

    /// Expects a rejection with `code` and a message containing every one
    /// of `needles`.
    fn reject(&mut self, record: &Record, key: &ProducerKey, code: RejectCode, needles: &[&str]) {
        let entry = Envelope::sign(record, key).encode();
        self.reject_entry(&entry, code, needles);
    }

    fn reject_entry(&mut self, entry: &[u8], code: RejectCode, needles: &[&str]) {
        let e = self.check(entry).expect_err("entry must be rejected");
        assert_eq!(e.code, code, "{}", e.message);
        for needle in needles {
            assert!(
                e.message.contains(needle),
                "{needle:?} not in {:?}",
                e.message
            );
        }
    }
}

fn scope() -> Scope {
    Scope {
        change_class: String::from("standard"),
        targets: vec![String::from("github.com/acme/payments-service")],
        actions: vec![String::from("git.push:branch/fix/*")],
    }
}

fn authorization() -> Record {
    let Record::Authorization(mut a) = sample_record(Kind::Authorization) else {
        unreachable!()
    };
    a.time = t("2026-11-22T09:14:03Z");
    Record::Authorization(a)
}

fn preflight(subject: Hash) -> Record {
    let Record::Preflight(mut p) = sample_record(Kind::Preflight) else {
        unreachable!()
    };
    p.subject = subject.into();
    Record::Preflight(p)
}

fn credential(
    authorization: Hash,
    preflight: Option<Hash>,
    parent: Option<Hash>,
    session: &ProducerKey,
    issued_at: &str,
    expires_at: &str,
) -> Record {
    Record::Credential(Credential {
        serial: format!("JIT-{issued_at}"),
        agent: Agent {
            id: String::from("agent:payments-fixer-7f3a"),
            model: String::from("claude-sonnet-4-5"),
            version: String::from("2.3.1"),
        },
        authorization: authorization.into(),
        preflight: preflight.map(RecordRef::new),
        parent: parent.map(RecordRef::new),
        scope: scope(),
        session_key: session.public_key(),
        issued_at: t(issued_at),
        expires_at: t(expires_at),
        time: t(issued_at),
    })
}

fn action(credential: Hash, seq: u64, time: &str) -> Record {
    Record::Action(Action {
        credential: credential.into(),
        seq,
        tool: String::from("git"),
        target: String::from("github.com/acme/payments-service"),
        summary: format!("step {seq}"),
        digest: format!("sha256:{}", leaf_hash(&seq.to_be_bytes())),
        result: String::from("success"),
        time: t(time),
        operation: None,
    })
}

fn closure(credential: Hash, time: &str) -> Record {
    Record::Closure(Closure {
        credential: credential.into(),
        reason: ClosureReason::Voluntary,
        started_at: t("2026-11-22T09:32:00Z"),
        ended_at: t(time),
        actions: 2,
        summary: String::from("done"),
        time: t(time),
    })
}

fn review(subject: Hash) -> Record {
    let Record::Review(mut r) = sample_record(Kind::Review) else {
        unreachable!()
    };
    r.subject = subject.into();
    Record::Review(r)
}

fn exception(credential: Hash, action: Option<Hash>) -> Record {
    Record::Exception(Exception {
        credential: credential.into(),
        action: action.map(RecordRef::new),
        reason: String::from("push to main attempted"),
        revoked: true,
        time: t("2026-11-22T10:02:09Z"),
        call_digest: None,
    })
}

/// The leaf hashes of a whole chain, submitted in order.
struct Chain {
    auth: Hash,
    pre: Hash,
    cred: Hash,
    session: ProducerKey,
    act1: Hash,
    sub: Hash,
    sub_session: ProducerKey,
    closure: Hash,
}

fn chain(log: &mut Log, p: &Producers) -> Chain {
    let mut r = rng(7);
    let session = ProducerKey::generate(&mut r);
    let sub_session = ProducerKey::generate(&mut r);

    let auth = log.submit(&authorization(), &p.alice).unwrap();
    let pre = log.submit(&preflight(auth), &p.verifier).unwrap();
    let cred = log
        .submit(
            &credential(
                auth,
                Some(pre),
                None,
                &session,
                "2026-11-22T09:32:00Z",
                "2026-11-22T10:32:00Z",
            ),
            &p.issuer,
        )
        .unwrap();
    let act1 = log
        .submit(&action(cred, 1, "2026-11-22T09:40:00Z"), &session)
        .unwrap();
    log.submit(&action(cred, 2, "2026-11-22T09:50:00Z"), &session)
        .unwrap();
    // Delegation: signed by the parent's session key, within its validity.
    let sub = log
        .submit(
            &credential(
                auth,
                None,
                Some(cred),
                &sub_session,
                "2026-11-22T09:45:00Z",
                "2026-11-22T10:15:00Z",
            ),
            &session,
        )
        .unwrap();
    log.submit(&action(sub, 1, "2026-11-22T09:46:00Z"), &sub_session)
        .unwrap();
    log.submit(&action(sub, 2, "2026-11-22T10:15:00Z"), &sub_session)
        .unwrap();
    // The sub-session closes itself; the issuer closes the parent after
    // it expired.
    log.submit(&closure(sub, "2026-11-22T10:15:00Z"), &sub_session)
        .unwrap();
    let closure = log
        .submit(&closure(cred, "2026-11-22T10:40:00Z"), &p.issuer)
        .unwrap();
    log.submit(&exception(cred, Some(act1)), &p.gate).unwrap();
    log.submit(&review(closure), &p.bob).unwrap();
    log.submit(&review(auth), &p.bob).unwrap();
    Chain {
        auth,
        pre,
        cred,
        session,
        act1,
        sub,
        sub_session,
        closure,
    }
}

#[test]
fn admits_a_whole_chain() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    assert_eq!(log.entries.len(), 13);
    assert_eq!(log.entries[&c.auth].index, 0);
    assert_eq!(log.entries[&c.pre].record.kind(), Kind::Preflight);
    assert_eq!(log.entries[&c.closure].record.kind(), Kind::Closure);
    // A session key may also close its own session within its validity,
    // and an issuer may record an exception.
    let session = &c.session;
    let entry = Envelope::sign(&closure(c.cred, "2026-11-22T10:30:00Z"), session).encode();
    log.check(&entry).unwrap();
    let entry = Envelope::sign(&exception(c.sub, None), &p.issuer).encode();
    log.check(&entry).unwrap();
    // A preflight may be about a credential (promotion stage).
    let entry = Envelope::sign(&preflight(c.sub), &p.verifier).encode();
    log.check(&entry).unwrap();
}

#[test]
fn rejects_malformed_entries() {
    let (mut log, p) = Log::new();
    let code = RejectCode::InvalidArgument;
    log.reject_entry(&[], code, &["empty"]);
    log.reject_entry(&vec![0; 65_536], code, &["65536 bytes", "65535"]);
    log.reject_entry(
        &[0xff, 0xff, 0xff],
        code,
        &["malformed envelope", "protobuf"],
    );
    let alice = &p.alice;
    let mut envelope = Envelope::sign(&authorization(), alice);
    envelope.payload.push(0);
    log.reject_entry(&envelope.encode(), code, &["malformed record"]);
    let mut envelope = Envelope::sign(&authorization(), alice);
    envelope.payload_type = String::from("application/json");
    log.reject_entry(
        &envelope.encode(),
        code,
        &["malformed record", "payload type"],
    );
    let mut entry = Envelope::sign(&authorization(), alice).encode();
    entry.extend_from_slice(&[0x20, 0x00]);
    log.reject_entry(&entry, code, &["malformed envelope", "not canonical"]);
}

#[test]
fn rejects_signature_problems() {
    let (mut log, p) = Log::new();
    let alice = &p.alice;
    let bob = &p.bob;

    // Two signatures.
    let mut envelope = Envelope::sign(&authorization(), alice);
    let second = Envelope::sign(&authorization(), bob).signatures[0].clone();
    envelope.signatures.push(second);
    log.reject_entry(
        &envelope.encode(),
        RejectCode::InvalidArgument,
        &["2 signatures", "exactly one"],
    );
    // No signature.
    let mut envelope = Envelope::sign(&authorization(), alice);
    envelope.signatures.clear();
    log.reject_entry(
        &envelope.encode(),
        RejectCode::InvalidArgument,
        &["0 signatures"],
    );
    // A bad signature by an allowed key.
    let mut envelope = Envelope::sign(&authorization(), alice);
    envelope.signatures[0].sig[10] ^= 1;
    log.reject_entry(
        &envelope.encode(),
        RejectCode::InvalidArgument,
        &[&format!(
            "signature by key {} does not verify",
            alice.key_id()
        )],
    );
    // A signature by another key, claiming alice's key ID.
    let mut envelope = Envelope::sign(&authorization(), bob);
    envelope.signatures[0].keyid = alice.key_id();
    log.reject_entry(
        &envelope.encode(),
        RejectCode::InvalidArgument,
        &["does not verify"],
    );
}

#[test]
fn rejects_unauthorized_signers() {
    let (mut log, p) = Log::new();
    let stranger = ProducerKey::generate(&mut rng(1234));
    log.reject(
        &authorization(),
        &stranger,
        RejectCode::PermissionDenied,
        &[
            &format!("key {} is not in the producer policy", stranger.key_id()),
            "alice@example.com, bob@example.com",
        ],
    );
    let auth = log.submit(&authorization(), &p.alice).unwrap();
    // A verifier may not sign an authorization; a human may not sign a
    // preflight; alice (authorization only) may not sign a review.
    let verifier = &p.verifier;
    log.reject(
        &authorization(),
        verifier,
        RejectCode::PermissionDenied,
        &[
            &verifier.key_id(),
            "principal \"scanner\" (role verifier), which may sign preflight, not authorization",
        ],
    );
    let alice = &p.alice;
    log.reject(
        &preflight(auth),
        alice,
        RejectCode::PermissionDenied,
        &[
            "principal \"alice@example.com\" (role human)",
            "may sign authorization, not preflight",
            "scanner",
        ],
    );
    log.reject(
        &review(auth),
        alice,
        RejectCode::PermissionDenied,
        &["may sign authorization, not review", "bob@example.com"],
    );
    // A credential without parent must come from an issuer.
    let session = ProducerKey::generate(&mut rng(5));
    let cred = credential(
        auth,
        None,
        None,
        &session,
        "2026-11-22T09:32:00Z",
        "2026-11-22T10:32:00Z",
    );
    log.reject(
        &cred,
        alice,
        RejectCode::PermissionDenied,
        &["not credential", "jit-issuer"],
    );
    log.reject(
        &cred,
        &session,
        RejectCode::PermissionDenied,
        &["not in the producer policy"],
    );
}

#[test]
fn rejects_bad_references() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    let session = &c.session;
    let missing = leaf_hash(b"never submitted");
    // A dangling reference.
    log.reject(
        &action(missing, 3, "2026-11-22T09:55:00Z"),
        session,
        RejectCode::FailedPrecondition,
        &[
            &format!("action.credential {missing} is not in the log"),
            "submit the referenced credential first",
        ],
    );
    let verifier = &p.verifier;
    log.reject(
        &preflight(missing),
        verifier,
        RejectCode::FailedPrecondition,
        &["preflight.subject", "authorization or credential first"],
    );
    // A reference to the wrong kind.
    log.reject(
        &action(c.auth, 3, "2026-11-22T09:55:00Z"),
        session,
        RejectCode::FailedPrecondition,
        &[
            &format!(
                "action.credential {} is entry 0, of kind authorization",
                c.auth
            ),
            "must reference an entry of kind credential",
        ],
    );
    log.reject(
        &preflight(c.pre),
        verifier,
        RejectCode::FailedPrecondition,
        &["of kind preflight", "authorization or credential"],
    );
    let issuer = &p.issuer;
    log.reject(
        &credential(
            c.auth,
            Some(c.auth),
            None,
            session,
            "2026-11-22T09:32:00Z",
            "2026-11-22T10:32:00Z",
        ),
        issuer,
        RejectCode::FailedPrecondition,
        &[
            "credential.preflight",
            "must reference an entry of kind preflight",
        ],
    );
    let gate = &p.gate;
    log.reject(
        &exception(c.cred, Some(c.cred)),
        gate,
        RejectCode::FailedPrecondition,
        &[
            "exception.action",
            "of kind credential",
            "must reference an entry of kind action",
        ],
    );
    let bob = &p.bob;
    log.reject(
        &review(c.act1),
        bob,
        RejectCode::FailedPrecondition,
        &["review.subject", "authorization, credential or closure"],
    );
}

#[test]
fn rejects_session_key_misuse() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    // An action signed by another credential's session key.
    log.reject(
        &action(c.cred, 3, "2026-11-22T09:55:00Z"),
        &c.sub_session,
        RejectCode::PermissionDenied,
        &[
            &format!(
                "signed by the session key {} of credential {}",
                c.session.key_id(),
                c.cred
            ),
            &format!("signed by key {}", c.sub_session.key_id()),
        ],
    );
    // An action signed by the issuer: named as such.
    let issuer = &p.issuer;
    log.reject(
        &action(c.cred, 3, "2026-11-22T09:55:00Z"),
        issuer,
        RejectCode::PermissionDenied,
        &["(principal \"jit-issuer\", role issuer)"],
    );
    // An action after expiry, and one before issuance.
    log.reject(
        &action(c.cred, 3, "2026-11-22T10:32:00.000000001Z"),
        &c.session,
        RejectCode::PermissionDenied,
        &[
            "action at 2026-11-22T10:32:00.000000001Z is outside credential",
            "validity 2026-11-22T09:32:00Z..2026-11-22T10:32:00Z",
        ],
    );
    log.reject(
        &action(c.sub, 3, "2026-11-22T09:44:59Z"),
        &c.sub_session,
        RejectCode::PermissionDenied,
        &["outside credential"],
    );
    // A tampered session-key signature.
    let mut envelope = Envelope::sign(&action(c.cred, 3, "2026-11-22T09:55:00Z"), &c.session);
    envelope.signatures[0].sig[12] ^= 1;
    log.reject_entry(
        &envelope.encode(),
        RejectCode::InvalidArgument,
        &["does not verify"],
    );
    // A closure by the session key after expiry, or by a verifier.
    log.reject(
        &closure(c.cred, "2026-11-22T10:40:00Z"),
        &c.session,
        RejectCode::PermissionDenied,
        &["closure at 2026-11-22T10:40:00Z is outside credential"],
    );
    let verifier = &p.verifier;
    log.reject(
        &closure(c.cred, "2026-11-22T10:40:00Z"),
        verifier,
        RejectCode::PermissionDenied,
        &[
            "(role verifier), which may sign preflight, not closure",
            &format!("the session key {} of credential", c.session.key_id()),
            "jit-issuer",
        ],
    );
}

#[test]
fn rejects_badly_signed_delegation() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    let grandchild = ProducerKey::generate(&mut rng(77));
    let delegated = credential(
        c.auth,
        None,
        Some(c.cred),
        &grandchild,
        "2026-11-22T09:50:00Z",
        "2026-11-22T10:10:00Z",
    );
    // Signed by the issuer instead of the parent's session key.
    let issuer = &p.issuer;
    log.reject(
        &delegated,
        issuer,
        RejectCode::PermissionDenied,
        &[
            &format!(
                "a delegated credential must be signed by the session key {} of its parent \
                 credential {}",
                c.session.key_id(),
                c.cred
            ),
            "(principal \"jit-issuer\", role issuer)",
        ],
    );
    // Signed by a key nobody knows.
    log.reject(
        &delegated,
        &grandchild,
        RejectCode::PermissionDenied,
        &[&format!("it is signed by key {}", grandchild.key_id())],
    );
    // Signed by a sibling's session key (the sub-credential's).
    log.reject(
        &delegated,
        &c.sub_session,
        RejectCode::PermissionDenied,
        &["must be signed by the session key"],
    );
    // Signed by the parent's key outside the parent's validity.
    let late = credential(
        c.auth,
        None,
        Some(c.cred),
        &grandchild,
        "2026-11-22T10:33:00Z",
        "2026-11-22T10:50:00Z",
    );
    log.reject(
        &late,
        &c.session,
        RejectCode::PermissionDenied,
        &["credential at 2026-11-22T10:33:00Z is outside parent credential"],
    );
    // The parent must be a credential.
    log.reject(
        &credential(
            c.auth,
            None,
            Some(c.closure),
            &grandchild,
            "2026-11-22T09:50:00Z",
            "2026-11-22T10:10:00Z",
        ),
        &c.session,
        RejectCode::FailedPrecondition,
        &["credential.parent", "of kind closure"],
    );
}

#[test]
fn rejects_times_in_the_future() {
    let (mut log, p) = Log::new();
    let alice = &p.alice;
    let now = log.now;
    let at = |secs: i64, nanos: u32| {
        let Record::Authorization(mut a) = authorization() else {
            unreachable!()
        };
        a.time = Time::new(secs, nanos).unwrap();
        Record::Authorization(a)
    };
    // Exactly at the skew is accepted; a nanosecond later is not.
    let entry = Envelope::sign(&at(now + 300, 0), alice).encode();
    log.check(&entry).unwrap();
    log.reject(
        &at(now + 300, 1),
        alice,
        RejectCode::InvalidArgument,
        &["authorization.time", "in the future", "at most 300s"],
    );
    log.reject(
        &at(now + 3_600, 0),
        alice,
        RejectCode::InvalidArgument,
        &["3600s in the future"],
    );
    // The time check comes before reference and signer checks.
    let stranger = ProducerKey::generate(&mut rng(3));
    let mut far = action(leaf_hash(b"x"), 1, "2026-11-22T09:55:00Z");
    if let Record::Action(a) = &mut far {
        a.time = Time::new(now + 301, 0).unwrap();
    }
    log.reject(
        &far,
        &stranger,
        RejectCode::InvalidArgument,
        &["action.time"],
    );
}

#[test]
fn rejects_records_backdated_past_max_past_skew() {
    let (mut log, p) = Log::new();
    let at = |secs: i64| {
        let Record::Authorization(mut a) = authorization() else {
            unreachable!()
        };
        a.time = Time::new(secs, 0).unwrap();
        Record::Authorization(a)
    };
    // The test policy allows 48h: exactly that is accepted, a second more
    // is not.
    let limit = log.now - 48 * 3600;
    log.check(&Envelope::sign(&at(limit), &p.alice).encode())
        .unwrap();
    log.reject(
        &at(limit - 1),
        &p.alice,
        RejectCode::InvalidArgument,
        &[
            "authorization.time",
            "172801s behind the log's clock (2026-11-23T09:00:00Z)",
            "at most 172800s is accepted (max_past_skew",
        ],
    );
}

#[test]
fn a_human_record_names_the_principal_that_signed_it() {
    let (mut log, p) = Log::new();
    let Record::Authorization(mut forged) = authorization() else {
        unreachable!()
    };
    forged.approver.subject = String::from("bob@example.com");
    log.reject(
        &Record::Authorization(forged),
        &p.alice,
        RejectCode::PermissionDenied,
        &[
            "authorization.approver.subject is \"bob@example.com\"",
            "principal \"alice@example.com\"",
        ],
    );
    let auth = log.submit(&authorization(), &p.alice).unwrap();
    let Record::Review(mut r) = review(auth) else {
        unreachable!()
    };
    r.reviewer.subject = String::from("alice@example.com");
    log.reject(
        &Record::Review(r),
        &p.bob,
        RejectCode::PermissionDenied,
        &[
            "review.reviewer.subject is \"alice@example.com\"",
            "\"bob@example.com\"",
        ],
    );
}

#[test]
fn subjects_are_aliases_of_one_human_principal() {
    let key = BASE64.encode(ProducerKey::generate(&mut rng(5)).public_spki_der());
    let other = BASE64.encode(ProducerKey::generate(&mut rng(6)).public_spki_der());
    let policy = ProducerPolicy::parse(&format!(
        "[[principal]]\nname = \"alice@example.com\"\nrole = \"human\"\nsubjects = [\"alice\"]\nkeys = [\"{key}\"]\n"
    ))
    .unwrap();
    let alice = &policy.principals()[0];
    assert!(alice.is_subject("alice@example.com") && alice.is_subject("alice"));
    assert!(!alice.is_subject("Alice") && !alice.is_subject(""));
    for (text, needle) in [
        (
            format!(
                "[[principal]]\nname = \"i\"\nrole = \"issuer\"\nsubjects = [\"x\"]\nkeys = [\"{key}\"]\n"
            ),
            "only human principals have subjects",
        ),
        (
            format!(
                "[[principal]]\nname = \"a\"\nrole = \"human\"\nsubjects = [\" \"]\nkeys = [\"{key}\"]\n"
            ),
            "empty subject",
        ),
        (
            format!(
                "[[principal]]\nname = \"a\"\nrole = \"human\"\nsubjects = [\"a\"]\nkeys = [\"{key}\"]\n"
            ),
            "twice",
        ),
        (
            format!(
                "[[principal]]\nname = \"a\"\nrole = \"human\"\nsubjects = [\"b\"]\nkeys = [\"{key}\"]\n\
                 [[principal]]\nname = \"b\"\nrole = \"human\"\nkeys = [\"{other}\"]\n"
            ),
            "names both principal \"a\" and principal \"b\"",
        ),
    ] {
        let e = ProducerPolicy::parse(&text).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
    let e = ProducerPolicy::parse(&format!(
        "max_past_skew = \"soon\"\n[[principal]]\nname = \"a\"\nrole = \"human\"\nkeys = [\"{key}\"]\n"
    ))
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("max_past_skew \"soon\" is not a duration"),
        "{e}"
    );
}

#[test]
fn a_credential_must_name_its_agent() {
    let (mut log, p) = Log::new();
    let auth = log.submit(&authorization(), &p.alice).unwrap();
    let session = ProducerKey::generate(&mut rng(8));
    let Record::Credential(mut c) = credential(
        auth,
        None,
        None,
        &session,
        "2026-11-22T09:32:00Z",
        "2026-11-22T10:32:00Z",
    ) else {
        unreachable!()
    };
    c.agent.id = String::new();
    log.reject(
        &Record::Credential(c),
        &p.issuer,
        RejectCode::InvalidArgument,
        &["credential.agent.id is empty"],
    );
}

#[test]
fn admitted_records_name_their_signer_lineage_and_what_they_end() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    let admit = |log: &mut Log, record: &Record, key: &ProducerKey| {
        let envelope = Envelope::sign(record, key);
        let admitted = log.check(&envelope.encode()).unwrap();
        assert_eq!(admitted.keyid, key.key_id());
        assert_eq!(admitted.submission_id, envelope.submission_id().unwrap());
        admitted
    };
    // An action under the delegated credential writes under it and its
    // parent, the root.
    let a = admit(
        &mut log,
        &action(c.sub, 3, "2026-11-22T10:00:00Z"),
        &c.sub_session,
    );
    assert_eq!(a.lineage.credentials(), [c.sub, c.cred]);
    assert_eq!(a.lineage.root(), Some(&c.cred));
    assert_eq!(a.ends, None);
    // A delegated credential writes under its parent.
    let grandchild = ProducerKey::generate(&mut rng(9));
    let d = admit(
        &mut log,
        &credential(
            c.auth,
            None,
            Some(c.sub),
            &grandchild,
            "2026-11-22T10:00:00Z",
            "2026-11-22T10:10:00Z",
        ),
        &c.sub_session,
    );
    assert_eq!(d.lineage.credentials(), [c.sub, c.cred]);
    // Records by principals write under nothing; revocations and closures
    // end their credential.
    let e = admit(&mut log, &exception(c.sub, None), &p.issuer);
    assert!(!e.lineage.is_session_key());
    assert_eq!(e.ends, Some((c.sub, Ending::Revoked)));
    let Record::Exception(mut warning) = exception(c.sub, None) else {
        unreachable!()
    };
    warning.revoked = false;
    let w = admit(&mut log, &Record::Exception(warning), &p.issuer);
    assert_eq!(
        w.ends, None,
        "an exception that does not revoke ends nothing"
    );
    let s = admit(
        &mut log,
        &closure(c.cred, "2026-11-22T10:30:00Z"),
        &c.session,
    );
    assert_eq!(
        (s.lineage.credentials(), s.ends),
        (&[c.cred][..], Some((c.cred, Ending::Closed)))
    );
}

#[test]
fn a_session_key_writes_nothing_once_an_ancestor_expired() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    // A child given more time than its parent (which expires 10:32).
    let child_key = ProducerKey::generate(&mut rng(10));
    let child = log
        .submit(
            &credential(
                c.auth,
                None,
                Some(c.cred),
                &child_key,
                "2026-11-22T10:00:00Z",
                "2026-11-22T12:00:00Z",
            ),
            &c.session,
        )
        .unwrap();
    // 48h (the policy's max_past_skew) and 8 minutes after the parent
    // expired: the child's action is within its own validity and recent
    // enough, but its authority has run out.
    log.now = t("2026-11-24T10:40:00Z").seconds();
    log.reject(
        &action(child, 1, "2026-11-22T10:45:00Z"),
        &child_key,
        RejectCode::PermissionDenied,
        &[
            &format!("its credential's ancestor {}", c.cred),
            "expired at 2026-11-22T10:32:00Z",
            "max_past_skew",
        ],
    );
    // The auditor, judging as of the record's own time, admits it.
    let entry = Envelope::sign(&action(child, 1, "2026-11-22T10:45:00Z"), &child_key).encode();
    let entries = &log.entries;
    validate_at_record_time(&entry, &log.policy, &mut |h| entries.get(h).cloned()).unwrap();
}

#[test]
fn policy_time_zones_come_from_the_bundled_database_and_name_the_line() {
    let example = example_policy();
    // The default is UTC.
    let policy = ProducerPolicy::parse(&example).unwrap();
    assert_eq!(policy.principals()[0].tz, jiff::tz::TimeZone::UTC);
    assert_eq!(policy.principals()[0].tz_name(), "UTC");
    let text = example.replace(
        "kinds = [\"authorization\", \"review\"]",
        "kinds = [\"authorization\", \"review\"]\ntz = \"America/Los_Angeles\"",
    );
    let policy = ProducerPolicy::parse(&text).unwrap();
    let alice = &policy.principals()[0];
    assert_eq!(alice.tz_name(), "America/Los_Angeles");
    // 2026-07-01 12:00 UTC is 05:00 in Los Angeles (PDT, UTC-7).
    let noon = jiff::Timestamp::from_second(1_782_907_200).unwrap();
    assert_eq!(alice.tz.to_datetime(noon).hour(), 5);
    // A name the database does not know, and a POSIX TZ string.
    for bad in ["America/Los_Angles", "PST8PDT,M3.2.0,M11.1.0", ""] {
        policy_error(
            &example.replace(
                "kinds = [\"authorization\", \"review\"]",
                &format!("kinds = [\"authorization\", \"review\"]\ntz = {bad:?}"),
            ),
            Some(7),
            &["not an IANA time zone name", "America/Los_Angeles", bad],
        );
    }
    // Only humans have a time zone.
    policy_error(
        &example.replace("role = \"issuer\"\n", "role = \"issuer\"\ntz = \"UTC\"\n"),
        Some(12),
        &["role issuer", "remove `tz`"],
    );
}
