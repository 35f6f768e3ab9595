//! The mistakes a new producer makes (issue 21, tried from the README and
//! the `.proto` files alone), replayed against the real server: each is
//! refused with its status and a message that names the likely mistake and
//! what to send instead.

use causeway_client::LogClient;
use causeway_records::{Envelope, EnvelopeSignature, Kind, PAYLOAD_TYPE, Record, pae};
use causeway_tests::fixtures::{authorization, env, now, preflight, refused};
use causeway_tests::{Producers, Server};
use tonic::Code;

async fn log() -> (tempfile::TempDir, Server, Producers, LogClient) {
    let dir = tempfile::tempdir().unwrap();
    let producers = Producers::new();
    let policy = producers.write(&dir.path().join("producers"));
    let server = Server::with_policy(&dir.path().join("log"), &policy);
    let client = LogClient::connect(&server.url).await.unwrap();
    (dir, server, producers, client)
}

/// The entry bytes of an envelope with these fields.
fn envelope(payload: Vec<u8>, keyid: String, sig: Vec<u8>) -> Vec<u8> {
    Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload,
        signatures: vec![EnvelopeSignature { keyid, sig }],
    }
    .encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_records_json_form_sent_as_the_entry_is_named_as_json() {
    let (_dir, _server, _p, mut client) = log().await;
    let json = authorization(now()).to_string().into_bytes();
    refused(
        &mut client,
        json,
        Code::InvalidArgument,
        &["this looks like JSON", "protobuf `Envelope`"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsse_json_sent_as_the_entry_is_named_as_dsse() {
    let (_dir, _server, p, mut client) = log().await;
    let record = Record::from_json(Kind::Authorization, &authorization(now()).to_string()).unwrap();
    let dsse = Envelope::sign(&record, &p.approver)
        .to_dsse_json()
        .to_string();
    refused(
        &mut client,
        dsse.into_bytes(),
        Code::InvalidArgument,
        &["looks like DSSE JSON", "protobuf `Envelope`"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_payload_inside_a_real_envelope_is_named_as_json() {
    let (_dir, _server, p, mut client) = log().await;
    let payload = authorization(now()).to_string().into_bytes();
    let sig = p.approver.sign(&pae(PAYLOAD_TYPE, &payload));
    let entry = envelope(payload, p.approver.key_id(), sig);
    refused(
        &mut client,
        entry,
        Code::InvalidArgument,
        &["this looks like JSON", "protobuf `Record`"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_r_s_signature_is_told_to_use_der() {
    let (_dir, _server, p, mut client) = log().await;
    let record = Record::from_json(Kind::Authorization, &authorization(now()).to_string()).unwrap();
    let signed = Envelope::sign(&record, &p.approver);
    let der = &signed.signatures[0].sig;
    let raw = p256::ecdsa::Signature::from_der(der)
        .unwrap()
        .to_bytes()
        .to_vec();
    assert_eq!(raw.len(), 64);
    let entry = envelope(signed.payload.clone(), p.approver.key_id(), raw);
    refused(
        &mut client,
        entry,
        Code::InvalidArgument,
        &["not DER", "ASN.1 SEQUENCE"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uppercase_key_id_is_told_key_ids_are_lowercase() {
    let (_dir, _server, p, mut client) = log().await;
    let record = Record::from_json(Kind::Authorization, &authorization(now()).to_string()).unwrap();
    let signed = Envelope::sign(&record, &p.approver);
    let entry = envelope(
        signed.payload.clone(),
        p.approver.key_id().to_ascii_uppercase(),
        signed.signatures[0].sig.clone(),
    );
    refused(
        &mut client,
        entry,
        Code::InvalidArgument,
        &["lowercase hex", &p.approver.key_id()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_and_its_child_in_one_request_are_told_to_send_the_parent_first() {
    let (_dir, _server, p, mut client) = log().await;
    let at = now();
    let (auth, auth_hash) = env(Kind::Authorization, authorization(at), &p.approver);
    let (check, _) = env(Kind::Preflight, preflight(&auth_hash, at), &p.verifier);
    let err = client
        .add_entries(vec![auth.clone(), check.clone()])
        .await
        .expect_err("the child cannot be judged before its parent is in the log");
    assert_eq!(err.code(), Some(Code::FailedPrecondition), "{err}");
    let text = err.to_string();
    for needle in [
        "entry 1",
        "entry 0 of this same request",
        "wait for its acknowledgement",
    ] {
        assert!(
            text.contains(needle),
            "{text:?} does not mention {needle:?}"
        );
    }
    // Done as the message says, both are accepted.
    client.add_entries(vec![auth]).await.unwrap();
    client.add_entries(vec![check]).await.unwrap();
}
