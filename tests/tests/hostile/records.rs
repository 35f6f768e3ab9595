//! Governance records: forged, malformed, replayed, dangling references;
//! and the flooding principal of [`floods`](crate::floods).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use causeway_client::LogClient;
use causeway_records::{Envelope, EnvelopeSignature, Kind, ProducerKey, pae};
use causeway_tests::fixtures::{malleate, now, preflight, signed, ticket_authorization};
use causeway_tests::{Producers, Server};
use causeway_tlog::merkle::leaf_hash;
use serde_json::{Value, json};
use tonic::Code;

use crate::raw_grpc::pb_varint;
use crate::{Deployment, Ledger, Tally};

/// An authorization by the flooding principal, in its own name (a human
/// signs only as themselves).
pub(crate) fn flood_authorization(at: i64, ticket: &str) -> Value {
    let mut record = ticket_authorization(at, ticket);
    record["approver"]["subject"] = json!("flood@example.com");
    record
}

/// An envelope over `payload` with one signature made by `key` but
/// claiming `keyid`.
pub(crate) fn envelope_with(
    payload_type: &str,
    payload: Vec<u8>,
    keyid: String,
    sig: Vec<u8>,
) -> Vec<u8> {
    Envelope {
        payload_type: payload_type.to_owned(),
        payload,
        signatures: vec![EnvelopeSignature { keyid, sig }],
    }
    .encode()
}

/// Replaces the first occurrence of `needle` in `bytes` (same length).
pub(crate) fn patch(bytes: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    assert_eq!(needle.len(), with.len());
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{needle:?} not found"));
    let mut out = bytes.to_vec();
    out[at..at + needle.len()].copy_from_slice(with);
    out
}

pub(crate) fn policy_with_extra(
    producers: &Producers,
    dir: &std::path::Path,
    extra: &ProducerKey,
) -> String {
    let path = producers.write(dir);
    let mut policy = std::fs::read_to_string(&path).unwrap();
    policy.push_str(&format!(
        "\n[[principal]]\nname = \"flood@example.com\"\nrole = \"human\"\nkeys = [\"{}\"]\n",
        B64.encode(extra.public_spki_der())
    ));
    std::fs::write(&path, policy).unwrap();
    path.to_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------
// Governance records: forged, malformed, replayed, dangling references.

pub(crate) async fn record_cases(d: &Deployment, tally: &mut Tally, ledger: &mut Ledger) {
    let p = &d.producers;
    let mut c = LogClient::connect(&d.records.url).await.unwrap();
    let t0 = now() - 600;
    let auth_value = ticket_authorization(t0, "CHG-HOSTILE");
    let auth = signed(Kind::Authorization, &auth_value, &p.approver);
    let r = c.add_entries(vec![auth.clone()]).await.unwrap();
    ledger.ack_all(std::slice::from_ref(&auth), &r);
    let auth_index = r.entries[0].index;

    let valid = Envelope::decode(&signed(
        Kind::Authorization,
        &ticket_authorization(t0 + 1, "CHG-X"),
        &p.approver,
    ))
    .unwrap();
    let stranger = ProducerKey::generate(&mut rand::rngs::OsRng);
    let payload = valid.payload.clone();
    let ptype = valid.payload_type.clone();
    let sig = valid.signatures[0].sig.clone();
    let approver_id = p.approver.key_id();
    let pae_sig = |key: &ProducerKey, payload: &[u8]| key.sign(&pae(&ptype, payload));
    let raw_rs = p256::ecdsa::Signature::from_der(&sig)
        .expect("a DER ECDSA signature")
        .to_bytes()
        .to_vec();
    let flipped = patch(&payload, b"CHG-X", b"CHG-Y");
    let bad_utf8_payload = patch(&payload, b"CHG-X", b"\xffHG-X");
    let two_sigs = Envelope {
        signatures: vec![valid.signatures[0].clone(), valid.signatures[0].clone()],
        ..valid.clone()
    }
    .encode();
    let no_sigs = Envelope {
        signatures: vec![],
        ..valid.clone()
    }
    .encode();
    let valid_bytes = valid.encode();
    let keyid_not_utf8 = patch(
        &valid_bytes,
        &approver_id.as_bytes()[..4],
        b"\xff\xfe\xfd\xfc",
    );
    let dsse_json = valid.to_dsse_json().to_string().into_bytes();
    let mut year_9999 = ticket_authorization(t0, "CHG-9999");
    for field in ["time", "not_before", "not_after"] {
        year_9999[field] = json!("9999-12-31T23:59:59Z");
    }

    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<u8>, Code, String)> = vec![
        ("record: stranger's signature under the approver's key id", envelope_with(&ptype, payload.clone(), approver_id.clone(), pae_sig(&stranger, &payload)), Code::InvalidArgument, format!("signature by key {approver_id} does not verify")),
        ("record: payload changed after signing", envelope_with(&ptype, flipped, approver_id.clone(), sig.clone()), Code::InvalidArgument, format!("signature by key {approver_id} does not verify")),
        ("record: payload re-signed with the wrong payload type", envelope_with("application/json", payload.clone(), approver_id.clone(), p.approver.sign(&pae("application/json", &payload))), Code::InvalidArgument, "payload type is \"application/json\"".into()),
        ("record: payload type swapped after signing", envelope_with("application/vnd.causeway.record.v1+protobuf ", payload.clone(), approver_id.clone(), sig.clone()), Code::InvalidArgument, "payload type is \"application/vnd.causeway.record.v1+protobuf \"".into()),
        ("record: no signature", no_sigs, Code::InvalidArgument, "0 signatures; exactly one signature is required".into()),
        ("record: the same signature twice", two_sigs, Code::InvalidArgument, "2 signatures; exactly one signature is required".into()),
        ("record: raw r||s signature instead of DER", envelope_with(&ptype, payload.clone(), approver_id.clone(), raw_rs), Code::InvalidArgument, "not DER: encode r and s as an ASN.1 SEQUENCE".into()),
        ("record: DER signature with trailing garbage", envelope_with(&ptype, payload.clone(), approver_id.clone(), [sig.as_slice(), &[0, 0]].concat()), Code::InvalidArgument, "does not verify".into()),
        ("record: empty signature", envelope_with(&ptype, payload.clone(), approver_id.clone(), vec![]), Code::InvalidArgument, "does not verify".into()),
        ("record: empty key id", envelope_with(&ptype, payload.clone(), String::new(), sig.clone()), Code::PermissionDenied, "is not in the producer policy".into()),
        ("record: envelope with an unknown field", [valid_bytes.as_slice(), &pb_varint(15, 1)].concat(), Code::InvalidArgument, "not canonical protobuf".into()),
        ("record: envelope truncated", valid_bytes[..valid_bytes.len() / 2].to_vec(), Code::InvalidArgument, "envelope is not valid protobuf".into()),
        ("record: invalid UTF-8 in a signed record string", envelope_with(&ptype, bad_utf8_payload.clone(), approver_id.clone(), pae_sig(&p.approver, &bad_utf8_payload)), Code::InvalidArgument, "Authorization.ticket: Record.kind: invalid string value: data is not UTF-8 encoded".into()),
        ("record: invalid UTF-8 in the envelope key id", keyid_not_utf8, Code::InvalidArgument, "EnvelopeSignature.keyid: Envelope.signatures: invalid string value".into()),
        ("record: DSSE JSON sent where protobuf is expected", dsse_json, Code::InvalidArgument, "envelope is not valid protobuf".into()),
        ("record: dated in the year 9999", signed(Kind::Authorization, &year_9999, &p.approver), Code::InvalidArgument, "future".into()),
    ];
    for (name, entry, code, needle) in cases {
        let err = c.add_entries(vec![entry]).await.expect_err(name);
        assert_eq!(err.code(), Some(code), "{name}: {err}");
        assert!(
            err.to_string().contains(&needle),
            "{name}: {err} lacks {needle:?}"
        );
        tally.pass(name);
    }

    // Replays: the original index, never a second entry.
    let r = c
        .add_entries(vec![auth.clone(), auth.clone()])
        .await
        .unwrap();
    assert_eq!(
        r.entries
            .iter()
            .map(|e| (e.index, e.duplicate))
            .collect::<Vec<_>>(),
        vec![(auth_index, true), (auth_index, true)]
    );
    tally.pass("record: replayed twice in one request");
    let fresh1 = signed(
        Kind::Authorization,
        &ticket_authorization(t0 + 2, "CHG-R1"),
        &p.approver,
    );
    let fresh2 = signed(
        Kind::Authorization,
        &ticket_authorization(t0 + 3, "CHG-R2"),
        &p.approver,
    );
    let batch = vec![fresh1.clone(), auth.clone(), fresh2.clone()];
    let r = c.add_entries(batch.clone()).await.unwrap();
    ledger.ack_all(&batch, &r);
    assert_eq!(r.entries[1].index, auth_index);
    assert!(r.entries[1].duplicate && !r.entries[0].duplicate && !r.entries[2].duplicate);
    assert_eq!(
        r.entries[2].index,
        r.entries[0].index + 1,
        "the replay took no index"
    );
    tally.pass("record: replayed between new records");

    // A reference to a record that is not logged yet, then is.
    let parent = signed(
        Kind::Authorization,
        &ticket_authorization(t0 + 4, "CHG-FUTURE"),
        &p.approver,
    );
    let parent_hash = leaf_hash(&parent);
    let child = signed(
        Kind::Preflight,
        &preflight(&parent_hash, t0 + 20),
        &p.verifier,
    );
    let err = c.add_entries(vec![child.clone()]).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::FailedPrecondition), "{err}");
    assert!(
        err.to_string().contains(&parent_hash.to_hex()[..16]),
        "{err}"
    );
    tally.pass("record: reference to a record not logged yet");

    // Parent and child in one request: the child cannot see the parent.
    let err = c
        .add_entries(vec![parent.clone(), child.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::FailedPrecondition), "{err}");
    assert!(err.to_string().contains("entry 1"), "{err}");
    assert!(
        c.inclusion_proof(causeway_client::LeafRef::Hash(parent_hash), None)
            .await
            .is_err(),
        "nothing of a refused request is written"
    );
    tally.pass("record: parent and child in one request");

    // Once the parent is acknowledged, the same child is accepted.
    let r = c.add_entries(vec![parent.clone()]).await.unwrap();
    ledger.ack_all(std::slice::from_ref(&parent), &r);
    let r = c.add_entries(vec![child.clone()]).await.unwrap();
    ledger.ack_all(std::slice::from_ref(&child), &r);
    tally.pass("record: the child is accepted once its parent is logged");
}

/// ECDSA signatures are malleable: (r, s) and (r, n - s) both verify, so
/// anyone could replay a producer's signed record under the malleated
/// signature as different entry bytes. The log deduplicates records by
/// submission ID (signer and signed bytes, not the signature): the replay
/// gets the original index, `duplicate: true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_replayed_with_a_malleated_signature_keeps_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let policy = p.write(&dir.path().join("producers"));
    let server = Server::start(
        &dir.path().join("log"),
        &["--policy", policy.to_str().unwrap()],
    );
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let original = signed(
        Kind::Authorization,
        &ticket_authorization(now() - 60, "CHG-MALLEABLE"),
        &p.approver,
    );
    let first = c.add_entries(vec![original.clone()]).await.unwrap().entries[0].clone();
    let mut replay = Envelope::decode(&original).unwrap();
    replay.signatures[0].sig = malleate(&replay.signatures[0].sig);
    let replay = replay.encode();
    assert_ne!(replay, original);
    let again = c.add_entries(vec![replay.clone()]).await.unwrap().entries[0].clone();
    assert_eq!(
        (again.index, again.duplicate, again.leaf_hash),
        (first.index, true, first.leaf_hash),
        "the same signed record was logged a second time at index {}",
        again.index
    );
    // In one request with the original, too; and the log holds one copy.
    let both = c.add_entries(vec![original, replay]).await.unwrap().entries;
    assert!(both.iter().all(|e| e.index == first.index && e.duplicate));
    let size = c.entries(0, 10).await.unwrap().len();
    assert_eq!(size as u64, first.index + 1);
}
