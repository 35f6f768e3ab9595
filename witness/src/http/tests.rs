//! The router, in process: every status of c2sp.org/tlog-witness, the
//! evidence store, persistence across restarts and the monitoring routes.

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, leaf_hash, root_of};
use causeway_tlog::note::{
    CosignatureSigner, EcdsaSigner, Ed25519Signer, KeyName, Note, NoteSigner, NoteVerifier,
    VerifierKey,
};
use causeway_tlog::witness::AddCheckpointRequest;
use tower::ServiceExt as _;

use super::*;
use crate::logs::TrustedLogs;
use crate::state::{DataDir, EvidenceRecord};
use crate::testutil::{consistency_proof, leaves, log_signer, signed_checkpoint};
use crate::{EvidenceKind, origin_hash};

const ORIGIN: &str = "example.com/log";

struct Reply {
    status: StatusCode,
    content_type: String,
    body: String,
}

struct Setup {
    witness: Arc<Witness>,
    router: Router,
    wkey: CosignatureSigner,
}

fn witness_key() -> CosignatureSigner {
    CosignatureSigner::generate(
        KeyName::new("example.com/witness").unwrap(),
        &mut rand::thread_rng(),
    )
}

fn open(dir: &Path, wkey: &CosignatureSigner, vkeys: &[VerifierKey]) -> Setup {
    // A copy of the key through PEM, as the binary loads it.
    let pem = wkey.to_pkcs8_pem().unwrap();
    let again = CosignatureSigner::from_pkcs8_pem(wkey.name().clone(), &pem).unwrap();
    let logs = TrustedLogs::new(vkeys.iter().cloned()).unwrap();
    let witness = Arc::new(Witness::open(DataDir::new(dir), again, &logs).unwrap());
    Setup {
        router: router(witness.clone()),
        witness,
        wkey: CosignatureSigner::from_pkcs8_pem(wkey.name().clone(), &pem).unwrap(),
    }
}

async fn send(router: &Router, method: Method, path: &str, body: Vec<u8>) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn add(router: &Router, old: u64, proof: Vec<Hash>, note: Vec<u8>) -> Reply {
    let body = AddCheckpointRequest {
        old_size: old,
        proof,
        checkpoint: note,
    }
    .to_bytes();
    send(router, Method::POST, "/add-checkpoint", body).await
}

async fn get(router: &Router, path: &str) -> Reply {
    send(router, Method::GET, path, Vec::new()).await
}

/// Appends the answered cosignature lines to the submitted note and checks
/// the result verifies with the witness's key, which is what a log does.
fn assert_cosignature_verifies(note: &[u8], reply: &Reply, wkey: &CosignatureSigner) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.body.starts_with("\u{2014} example.com/witness "),
        "{}",
        reply.body
    );
    assert!(reply.body.ends_with('\n'));
    let mut cosigned = note.to_vec();
    cosigned.extend_from_slice(reply.body.as_bytes());
    let parsed = Note::parse(&cosigned).unwrap();
    let vkey = wkey.verifier();
    let known: [&dyn NoteVerifier; 1] = [&vkey];
    let verified = parsed.verify(&known).unwrap();
    assert_eq!(verified.verified.len(), 1);
    let time = VerifierKey::cosignature_time(verified.verified[0].signature()).unwrap();
    assert!(time.abs_diff(crate::unix_now()) < 60);
}

#[tokio::test]
async fn cosigns_the_first_checkpoint_then_growth_then_the_same_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_signer(ORIGIN);
    let s = open(dir.path(), &witness_key(), &[log.verifier()]);
    let l = leaves(100);

    let first = signed_checkpoint(&log, ORIGIN, &l[..10]);
    assert_cosignature_verifies(
        &first,
        &add(&s.router, 0, vec![], first.clone()).await,
        &s.wkey,
    );

    let grown = signed_checkpoint(&log, ORIGIN, &l[..100]);
    let reply = add(
        &s.router,
        10,
        consistency_proof(10, &l[..100]),
        grown.clone(),
    )
    .await;
    assert_cosignature_verifies(&grown, &reply, &s.wkey);

    // The same checkpoint again gets a fresh cosignature.
    let again = add(&s.router, 100, vec![], grown.clone()).await;
    assert_cosignature_verifies(&grown, &again, &s.wkey);

    let latest = s.witness.latest(ORIGIN).await.unwrap();
    assert_eq!(latest.checkpoint.size(), 100);
}

#[tokio::test]
async fn wrong_old_size_is_409_with_the_size_body() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_signer(ORIGIN);
    let s = open(dir.path(), &witness_key(), &[log.verifier()]);
    let l = leaves(20);
    // Nothing cosigned yet: the witness's size is 0.
    let reply = add(
        &s.router,
        5,
        consistency_proof(5, &l),
        signed_checkpoint(&log, ORIGIN, &l),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.content_type, "text/x.tlog.size");
    assert_eq!(reply.body, "0\n");

    let cp7 = signed_checkpoint(&log, ORIGIN, &l[..7]);
    assert_eq!(add(&s.router, 0, vec![], cp7).await.status, StatusCode::OK);
    let reply = add(&s.router, 0, vec![], signed_checkpoint(&log, ORIGIN, &l)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.content_type, "text/x.tlog.size");
    assert_eq!(reply.body, "7\n");
    assert!(get(&s.router, "/evidence").await.body.trim() == "[]");
}

#[tokio::test]
async fn unknown_origin_is_404_and_untrusted_signatures_are_403() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_signer(ORIGIN);
    let s = open(dir.path(), &witness_key(), &[log.verifier()]);
    let l = leaves(3);

    let stranger = log_signer("other.example/log");
    let reply = add(
        &s.router,
        0,
        vec![],
        signed_checkpoint(&stranger, "other.example/log", &l),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(
        reply
            .body
            .contains("unknown log origin \"other.example/log\""),
        "{}",
        reply.body
    );
    assert!(reply.body.contains(ORIGIN), "{}", reply.body);

    // Same name, another key: its key ID is unknown, so no trusted
    // signature verifies.
    let impostor = log_signer(ORIGIN);
    let reply = add(
        &s.router,
        0,
        vec![],
        signed_checkpoint(&impostor, ORIGIN, &l),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);

    // A forged signature under the trusted key's ID.
    let mut note = Note::parse(&signed_checkpoint(&log, ORIGIN, &l)).unwrap();
    let forged_sig = impostor.sign(note.text().as_bytes()).unwrap();
    let mut forged = Note::new(note.text()).unwrap();
    forged.push_signature(causeway_tlog::note::NoteSignature::new(
        log.name().clone(),
        log.key_id(),
        forged_sig,
    ));
    let reply = add(&s.router, 0, vec![], forged.to_bytes()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("invalid signature"), "{}", reply.body);

    // A valid trusted signature plus a forged one from the same key: still 403.
    note.push_signature(forged.signatures()[0].clone());
    let reply = add(&s.router, 0, vec![], note.to_bytes()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // Nothing was cosigned.
    assert!(s.witness.latest(ORIGIN).await.is_none());
}

#[tokio::test]
async fn trusts_every_key_of_a_log_and_keeps_their_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let name = KeyName::new(ORIGIN).unwrap();
    let ed = Ed25519Signer::generate(name.clone(), &mut rand::thread_rng());
    let ec = EcdsaSigner::generate(name, &mut rand::thread_rng());
    let s = open(dir.path(), &witness_key(), &[ec.verifier(), ed.verifier()]);
    let l = leaves(5);
    let text = Checkpoint::new(ORIGIN, 5, root_of(&l)).unwrap().to_text();

    // Signed by ECDSA only, then by both (and an unknown witness).
    let mut only_ec = Note::new(text.clone()).unwrap();
    only_ec.sign(&ec).unwrap();
    assert_eq!(
        add(&s.router, 0, vec![], only_ec.to_bytes()).await.status,
        StatusCode::OK
    );
    let mut both = Note::new(text.clone()).unwrap();
    both.sign(&ed).unwrap();
    both.sign(&ec).unwrap();
    both.sign(&log_signer("some.witness")).unwrap();
    let reply = add(&s.router, 5, vec![], both.to_bytes()).await;
    assert_cosignature_verifies(&both.to_bytes(), &reply, &s.wkey);

    // The served checkpoint has both log signatures and the cosignature,
    // but not the unknown one.
    let served = get(&s.router, &format!("/{}/checkpoint", origin_hash(ORIGIN))).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.content_type, "text/plain; charset=utf-8");
    let note = Note::parse(served.body.as_bytes()).unwrap();
    assert_eq!(note.text(), text);
    assert_eq!(note.signatures().len(), 3);
    let (ev, cv, wv) = (ed.verifier(), ec.verifier(), s.wkey.verifier());
    let all: [&dyn NoteVerifier; 3] = [&ev, &cv, &wv];
    assert_eq!(note.verify(&all).unwrap().verified.len(), 3);
}

#[tokio::test]
async fn malformed_bodies_are_400_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_signer(ORIGIN);
    let s = open(dir.path(), &witness_key(), &[log.verifier()]);
    let l = leaves(4);
    let note = signed_checkpoint(&log, ORIGIN, &l);
    let with_head = |head: &str| {
        let mut b = head.as_bytes().to_vec();
        b.extend_from_slice(&note);
        b
    };
    let line = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    let mut bad_checkpoint = b"old 0\n\n".to_vec();
    let mut unsigned = Note::new(format!("{ORIGIN}\nnot a size\nAAAA\n")).unwrap();
    unsigned.sign(&log).unwrap();
    bad_checkpoint.extend_from_slice(&unsigned.to_bytes());
    for (body, expect) in [
        (b"garbage".to_vec(), "old"),
        (with_head("old 01\n\n"), "old"),
        (with_head("old 0\nnot base64\n\n"), "proof line 2"),
        (
            with_head(&format!("old 0\n{}\n", line.repeat(64))),
            "more than 63",
        ),
        (b"old 0\n".to_vec(), "empty line"),
        (b"old 0\n\nexample.com/log\n1\n".to_vec(), "signed note"),
        (bad_checkpoint, "not a valid checkpoint"),
    ] {
        let reply = send(&s.router, Method::POST, "/add-checkpoint", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            reply.body.contains(expect),
            "{expect:?} in {:?}",
            reply.body
        );
        assert_eq!(reply.body.lines().count(), 1, "{:?}", reply.body);
        assert!(reply.body.ends_with('\n'));
    }
    // old > size.
    let reply = add(&s.router, 5, vec![], note).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body.contains("larger than the checkpoint size"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn http_edges_413_405_404() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &witness_key(), &[log_signer(ORIGIN).verifier()]);
    let big = vec![b'a'; MAX_BODY_BYTES + 1];
    let reply = send(&s.router, Method::POST, "/add-checkpoint", big).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        get(&s.router, "/add-checkpoint").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        send(&s.router, Method::POST, "/logs", vec![]).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(get(&s.router, "/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&s.router, "/a/b/c").await.status, StatusCode::NOT_FOUND);
    let reply = get(&s.router, &format!("/{}/checkpoint", origin_hash(ORIGIN))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "nothing cosigned yet");
    assert_eq!(
        get(&s.router, "/00/checkpoint").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&s.router, "/evidence/0123456789abcdef").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&s.router, "/evidence/..%2F..%2Fwitness.pem")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn index_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_signer(ORIGIN);
    let other = log_signer("b.example/log");
    let s = open(
        dir.path(),
        &witness_key(),
        &[log.verifier(), other.verifier()],
    );
    let reply = get(&s.router, "/").await;
    assert_eq!(reply.content_type, "application/json");
    let index: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(index["name"], "example.com/witness");
    assert_eq!(index["vkey"], s.wkey.verifier().to_string());
    assert_eq!(index["logs"], serde_json::json!(["b.example/log", ORIGIN]));

    let l = leaves(3);
    assert_eq!(
        add(&s.router, 0, vec![], signed_checkpoint(&log, ORIGIN, &l))
            .await
            .status,
        StatusCode::OK
    );
    let logs: serde_json::Value =
        serde_json::from_str(&get(&s.router, "/logs").await.body).unwrap();
    assert_eq!(
        logs,
        serde_json::json!([
            {"origin": "b.example/log", "size": null, "root": null,
             "checkpoint_path": format!("/{}/checkpoint", origin_hash("b.example/log"))},
            {"origin": ORIGIN, "size": 3, "root": root_of(&l).to_hex(),
             "checkpoint_path": format!("/{}/checkpoint", origin_hash(ORIGIN))},
        ])
    );
}

fn fetch_evidence(body: &str) -> Vec<EvidenceRecord> {
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn same_size_conflicts_are_stored_as_evidence_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_signer(ORIGIN);
    let s = open(dir.path(), &witness_key(), &[log.verifier()]);
    let l = leaves(5);
    let good = signed_checkpoint(&log, ORIGIN, &l);
    assert_eq!(
        add(&s.router, 0, vec![], good.clone()).await.status,
        StatusCode::OK
    );

    let mut forked_leaves = l.clone();
    forked_leaves[4] = leaf_hash(b"fork");
    let fork = signed_checkpoint(&log, ORIGIN, &forked_leaves);
    let reply = add(&s.router, 5, vec![], fork.clone()).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    // Presented again, and with a stale old size (answered 409): one record.
    assert_eq!(
        add(&s.router, 5, vec![], fork.clone()).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let reply = add(
        &s.router,
        2,
        consistency_proof(2, &forked_leaves),
        fork.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.body, "5\n");

    let list = get(&s.router, "/evidence").await;
    assert_eq!(list.content_type, "application/json");
    let records = fetch_evidence(&list.body);
    assert_eq!(records.len(), 1, "{}", list.body);
    let r = &records[0];
    assert_eq!(r.kind, EvidenceKind::SameSizeDifferentRoot);
    assert_eq!(r.origin, ORIGIN);
    assert_eq!(r.presented.as_bytes(), fork.as_slice());
    assert_eq!(r.old_size, 5);
    assert!(r.detected_at.abs_diff(crate::unix_now()) < 60);
    // Keyed on the two checkpoint bodies.
    let body = |n: &[u8]| Note::parse(n).unwrap().text().to_owned();
    assert_eq!(
        r.id,
        crate::evidence::evidence_id(&body(&good), &body(&fork))
    );

    // Both notes verify independently: the log signed both.
    let (lv, wv) = (log.verifier(), s.wkey.verifier());
    let cosigned = Note::parse(r.cosigned.as_bytes()).unwrap();
    let both: [&dyn NoteVerifier; 2] = [&lv, &wv];
    assert_eq!(cosigned.verify(&both).unwrap().verified.len(), 2);
    let presented = Note::parse(r.presented.as_bytes()).unwrap();
    let log_only: [&dyn NoteVerifier; 1] = [&lv];
    assert!(presented.verify(&log_only).is_ok());

    let one = get(&s.router, &format!("/evidence/{}", r.id)).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(
        &serde_json::from_str::<EvidenceRecord>(&one.body).unwrap(),
        r
    );

    // The conflict changed nothing.
    assert_eq!(
        s.witness.latest(ORIGIN).await.unwrap().note.text(),
        Note::parse(&good).unwrap().text()
    );

    // A fork presented only with a stale old size (409) is evidence too.
    forked_leaves[4] = leaf_hash(b"another fork");
    let fork2 = signed_checkpoint(&log, ORIGIN, &forked_leaves);
    assert_eq!(
        add(&s.router, 0, vec![], fork2).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        fetch_evidence(&get(&s.router, "/evidence").await.body).len(),
        2
    );
}

#[tokio::test]
async fn a_failed_consistency_proof_is_evidence_but_an_unsigned_request_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_signer(ORIGIN);
    let s = open(dir.path(), &witness_key(), &[log.verifier()]);
    let l = leaves(8);
    assert_eq!(
        add(
            &s.router,
            0,
            vec![],
            signed_checkpoint(&log, ORIGIN, &l[..3])
        )
        .await
        .status,
        StatusCode::OK
    );

    let mut forked = l.clone();
    forked[1] = leaf_hash(b"rewritten history");
    let fork = signed_checkpoint(&log, ORIGIN, &forked);
    let proof = consistency_proof(3, &forked);
    let reply = add(&s.router, 3, proof.clone(), fork.clone()).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("does not verify"), "{}", reply.body);
    let records = fetch_evidence(&get(&s.router, "/evidence").await.body);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, EvidenceKind::ConsistencyProofFailed);
    assert_eq!(records[0].old_size, 3);
    assert_eq!(records[0].proof.len(), proof.len());

    // Signed by an impostor: 403 and no evidence.
    let impostor = log_signer(ORIGIN);
    forked[2] = leaf_hash(b"more");
    let reply = add(
        &s.router,
        3,
        proof,
        signed_checkpoint(&impostor, ORIGIN, &forked),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        fetch_evidence(&get(&s.router, "/evidence").await.body).len(),
        1
    );

    // The real continuation is still accepted.
    let reply = add(
        &s.router,
        3,
        consistency_proof(3, &l),
        signed_checkpoint(&log, ORIGIN, &l),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// The evidence flood of the security review (issue 16 §4), in process:
/// one genuine checkpoint replayed with garbage proofs and ever different
/// unknown signature lines is one record, holding only the log's signature.
#[tokio::test]
async fn replayed_bad_proofs_with_unknown_signatures_are_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_signer(ORIGIN);
    let s = open(dir.path(), &witness_key(), &[log.verifier()]);
    let l = leaves(8);
    let first = signed_checkpoint(&log, ORIGIN, &l[..3]);
    assert_eq!(
        add(&s.router, 0, vec![], first).await.status,
        StatusCode::OK
    );
    let genuine = Note::parse(&signed_checkpoint(&log, ORIGIN, &l)).unwrap();
    for i in 0..20u8 {
        let mut note = genuine.clone();
        note.push_signature(causeway_tlog::note::NoteSignature::new(
            KeyName::new(format!("junk{i}")).unwrap(),
            u32::from(i),
            vec![i; 2000],
        ));
        let reply = add(&s.router, 3, vec![leaf_hash(&[i])], note.to_bytes()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.body
        );
    }
    let records = fetch_evidence(&get(&s.router, "/evidence").await.body);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, EvidenceKind::ConsistencyProofFailed);
    assert_eq!(records[0].presented, genuine.to_string());
    // Another genuine checkpoint right after: rate-limited, not stored.
    let reply = add(
        &s.router,
        3,
        vec![leaf_hash(b"x")],
        signed_checkpoint(&log, ORIGIN, &l[..7]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fetch_evidence(&get(&s.router, "/evidence").await.body).len(),
        1
    );
    // The honest continuation is still cosigned.
    let reply = add(
        &s.router,
        3,
        consistency_proof(3, &l),
        signed_checkpoint(&log, ORIGIN, &l),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn state_and_evidence_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_signer(ORIGIN);
    let wkey = witness_key();
    let l = leaves(9);
    {
        let s = open(dir.path(), &wkey, &[log.verifier()]);
        assert_eq!(
            add(
                &s.router,
                0,
                vec![],
                signed_checkpoint(&log, ORIGIN, &l[..7])
            )
            .await
            .status,
            StatusCode::OK
        );
        let mut forked = l[..7].to_vec();
        forked[0] = leaf_hash(b"x");
        let reply = add(
            &s.router,
            7,
            vec![],
            signed_checkpoint(&log, ORIGIN, &forked),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let s = open(dir.path(), &wkey, &[log.verifier()]);
    let reply = add(&s.router, 0, vec![], signed_checkpoint(&log, ORIGIN, &l)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.body, "7\n");
    let served = get(&s.router, &format!("/{}/checkpoint", origin_hash(ORIGIN))).await;
    assert!(
        served.body.starts_with(&format!("{ORIGIN}\n7\n")),
        "{}",
        served.body
    );
    assert_eq!(
        fetch_evidence(&get(&s.router, "/evidence").await.body).len(),
        1
    );
    let reply = add(
        &s.router,
        7,
        consistency_proof(7, &l),
        signed_checkpoint(&log, ORIGIN, &l),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);

    // Another witness key cannot adopt this state.
    let logs = TrustedLogs::new([log.verifier()]).unwrap();
    let err = Witness::open(DataDir::new(dir.path()), witness_key(), &logs)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("not cosigned by this witness"),
        "{err}"
    );
}

#[tokio::test]
async fn a_stalled_log_does_not_block_another() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (log_signer(ORIGIN), log_signer("b.example/log"));
    let s = open(dir.path(), &witness_key(), &[a.verifier(), b.verifier()]);
    let l = leaves(2);
    let _held = s.witness.lock_log(ORIGIN).await.unwrap();
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        add(
            &s.router,
            0,
            vec![],
            signed_checkpoint(&b, "b.example/log", &l),
        ),
    )
    .await
    .expect("log b answers while log a is locked");
    assert_eq!(reply.status, StatusCode::OK);
    let stalled = tokio::time::timeout(
        Duration::from_millis(200),
        add(&s.router, 0, vec![], signed_checkpoint(&a, ORIGIN, &l)),
    )
    .await;
    assert!(stalled.is_err(), "log a waits for its lock");
}

/// The example request of the tlog-witness spec parses; its log publishes
/// no key, so a witness trusting a fresh key of that name finds no trusted
/// signature: 403.
#[tokio::test]
async fn the_spec_example_is_403_for_a_key_that_did_not_sign_it() {
    let vectors = include_str!("../../../testdata/vectors/notes.txt");
    let start = vectors.find("-----BEGIN BODY-----\n").unwrap() + "-----BEGIN BODY-----\n".len();
    let end = vectors.find("-----END BODY-----").unwrap();
    let body = vectors.as_bytes()[start..end].to_vec();
    let request = AddCheckpointRequest::parse(&body).unwrap();
    assert_eq!(request.old_size, 20_852_014);
    assert_eq!(request.proof.len(), 4);

    let origin = "example.com/behind-the-sofa";
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &witness_key(), &[log_signer(origin).verifier()]);
    let reply = send(&s.router, Method::POST, "/add-checkpoint", body).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(
        reply.body.contains("no signature from a known key"),
        "{}",
        reply.body
    );
}
