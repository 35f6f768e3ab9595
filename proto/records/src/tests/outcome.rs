//! The `outcome` kind and the exception's `call_digest`: their JSON and
//! protobuf forms, and the admission rules of an outcome (signed like its
//! action, naming an action written under its credential, not before it).

use super::*;

fn digest(n: u8) -> String {
    format!("sha256:{}", hex::encode([n; 32]))
}

fn outcome(action: Hash, credential: Hash, time: &str) -> Record {
    Record::Outcome(Outcome {
        action: action.into(),
        credential: credential.into(),
        status: OutcomeStatus::Ok,
        result_digest: digest(1),
        error: None,
        time: t(time),
    })
}

fn failed(action: Hash, credential: Hash, time: &str, error: Option<&str>) -> Record {
    Record::Outcome(Outcome {
        status: OutcomeStatus::Error,
        error: error.map(str::to_owned),
        ..match outcome(action, credential, time) {
            Record::Outcome(o) => o,
            _ => unreachable!(),
        }
    })
}

#[test]
fn outcome_json_has_the_documented_names() {
    let record = sample_record(Kind::Outcome);
    let value = record.to_json();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["action", "credential", "result_digest", "status", "time"]
    );
    let refs = record.references();
    assert_eq!(
        refs.iter()
            .map(|r| (r.field, r.allowed))
            .collect::<Vec<_>>(),
        [
            ("action", &[Kind::Action][..]),
            ("credential", &[Kind::Credential][..])
        ]
    );
    // An error class round-trips in both forms.
    let mut value = value;
    value["status"] = json!("error");
    value["error"] = json!("-32602");
    let record = Record::from_json(Kind::Outcome, &value.to_string()).unwrap();
    assert_eq!(record.to_json(), value);
    assert_eq!(
        Record::from_protobuf(&record.to_protobuf()).unwrap(),
        record
    );
}

#[test]
fn outcome_json_refuses_bad_values() {
    json_error(
        Kind::Outcome,
        set(&["status"], json!("unspecified")),
        &["status", "ok", "error"],
    );
    json_error(
        Kind::Outcome,
        set(&["result_digest"], json!("sha256:ABC")),
        &["result_digest", "64 lowercase hex"],
    );
    json_error(
        Kind::Outcome,
        remove(&["result_digest"]),
        &["missing field `result_digest`"],
    );
    json_error(
        Kind::Outcome,
        remove(&["credential"]),
        &["missing field `credential`"],
    );
    json_error(
        Kind::Outcome,
        set(&["result"], json!("the file's text")),
        &["unknown field `result`"],
    );
    json_error(
        Kind::Outcome,
        set(&["error"], json!("timeout")),
        &["error", "status is ok"],
    );
    json_error(
        Kind::Outcome,
        |v: &mut Value| {
            v["status"] = json!("error");
            v["error"] = json!("ENOENT: no such file /home/alice/.ssh/id_rsa");
        },
        &["error", "not an error class", "never the error's text"],
    );
    json_error(
        Kind::Exception,
        set(&["call_digest"], json!("e9e2c439")),
        &["call_digest", "not a digest"],
    );
    json_error(
        Kind::Exception,
        set(&["call_digest"], json!("")),
        &["call_digest", "not a digest"],
    );
}

#[test]
fn outcome_protobuf_refuses_missing_and_invalid_fields() {
    let edit = |f: fn(&mut pb::Outcome)| {
        let mut msg = pb_of(Kind::Outcome);
        if let Some(pb::record::Kind::Outcome(o)) = &mut msg.kind {
            f(o);
        }
        msg
    };
    pb_error(&edit(|o| o.status = 0), &["outcome.status is missing"]);
    pb_error(
        &edit(|o| o.status = 3),
        &["outcome.status", "unknown enum value 3"],
    );
    pb_error(
        &edit(|o| o.result_digest.clear()),
        &["outcome.result_digest is missing"],
    );
    pb_error(
        &edit(|o| o.result_digest.push('0')),
        &["outcome.result_digest", "not a digest"],
    );
    pb_error(&edit(|o| o.action.clear()), &["outcome.action is missing"]);
    pb_error(
        &edit(|o| o.credential.truncate(5)),
        &["outcome.credential", "32 bytes"],
    );
    pb_error(&edit(|o| o.time = None), &["outcome.time is missing"]);
    pb_error(
        &edit(|o| o.error = String::from("timeout")),
        &["outcome.error", "status is ok"],
    );
    pb_error(
        &edit(|o| {
            o.status = 2;
            o.error = String::from("no such file");
        }),
        &["outcome.error", "not an error class"],
    );
    let mut msg = pb_of(Kind::Exception);
    if let Some(pb::record::Kind::Exception(e)) = &mut msg.kind {
        e.call_digest = String::from("sha256:");
    }
    pb_error(&msg, &["exception.call_digest", "not a digest"]);
}

#[test]
fn an_old_exception_stays_valid() {
    // Encoded without field 6, as before it existed: decodes, with no
    // call digest, and re-encodes to the same bytes.
    let old = sample_record(Kind::Exception);
    let Record::Exception(e) = &old else {
        unreachable!()
    };
    assert_eq!(e.call_digest, None);
    let bytes = old.to_protobuf();
    assert_eq!(Record::from_protobuf(&bytes).unwrap().to_protobuf(), bytes);
    assert!(old.to_json().get("call_digest").is_none());
}

#[test]
fn admits_outcomes_signed_like_their_action() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    // Admission order is not log order here: the chain's closure of the
    // credential came later in time but admission judges each record on
    // its own; revocation is the sequencer's (see below).
    let ok = outcome(c.act1, c.cred, "2026-11-22T09:40:00.5Z");
    let admitted = log
        .check(&Envelope::sign(&ok, &c.session).encode())
        .unwrap();
    assert_eq!(admitted.lineage.credentials(), [c.cred]);
    assert_eq!(admitted.ends, None);
    // At the same instant as the action, and with an error class.
    let err = failed(c.act1, c.cred, "2026-11-22T09:40:00Z", Some("timeout"));
    log.check(&Envelope::sign(&err, &c.session).encode())
        .unwrap();
    // A delegated session's outcome carries the whole lineage, so the
    // sequencer refuses it once an ancestor is revoked, as an action.
    let sub_act = log
        .submit(&action(c.sub, 3, "2026-11-22T09:47:00Z"), &c.sub_session)
        .unwrap();
    let sub = outcome(sub_act, c.sub, "2026-11-22T09:47:01Z");
    let admitted = log
        .check(&Envelope::sign(&sub, &c.sub_session).encode())
        .unwrap();
    assert_eq!(admitted.lineage.credentials(), [c.sub, c.cred]);
    let mut revoked = |h: &Hash| {
        (*h == c.cred).then_some(CredentialEnd {
            ending: Ending::Revoked,
            index: 12,
        })
    };
    let e = check_open(Kind::Outcome, &admitted.lineage, &mut revoked).unwrap_err();
    assert_eq!(e.code, RejectCode::PermissionDenied);
    assert!(
        e.message
            .contains("this outcome is signed by a session key, and its credential's ancestor"),
        "{}",
        e.message
    );
    assert!(e.message.contains("revoked by the exception at index 12"));
}

#[test]
fn refuses_outcomes_without_their_action() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    // The action is not in the log.
    let missing = leaf_hash(b"an action never logged");
    log.reject(
        &outcome(missing, c.cred, "2026-11-22T09:41:00Z"),
        &c.session,
        RejectCode::FailedPrecondition,
        &[
            &format!("outcome.action {missing} is not in the log"),
            "submit the referenced action first",
        ],
    );
    // It names a record that is not an action.
    log.reject(
        &outcome(c.cred, c.cred, "2026-11-22T09:41:00Z"),
        &c.session,
        RejectCode::FailedPrecondition,
        &[
            &format!("outcome.action {}", c.cred),
            "of kind credential; it must reference an entry of kind action",
        ],
    );
    // Its credential is not a credential.
    log.reject(
        &outcome(c.act1, c.act1, "2026-11-22T09:41:00Z"),
        &c.session,
        RejectCode::FailedPrecondition,
        &[
            "outcome.credential",
            "it must reference an entry of kind credential",
        ],
    );
}

#[test]
fn refuses_an_outcome_under_another_credential() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    // The sub-agent's key writes an outcome for the parent's action under
    // its own credential.
    log.reject(
        &outcome(c.act1, c.sub, "2026-11-22T09:50:00Z"),
        &c.sub_session,
        RejectCode::InvalidArgument,
        &[
            &format!("outcome.credential is {}", c.sub),
            &format!("action {} was written under credential {}", c.act1, c.cred),
            &format!("set credential to {}", c.cred),
        ],
    );
}

#[test]
fn refuses_an_outcome_before_its_action() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    log.reject(
        &outcome(c.act1, c.cred, "2026-11-22T09:39:59.999Z"),
        &c.session,
        RejectCode::InvalidArgument,
        &[
            "outcome.time 2026-11-22T09:39:59.999Z is before the time 2026-11-22T09:40:00Z",
            "date the outcome when the call returned",
        ],
    );
}

#[test]
fn refuses_outcomes_not_signed_by_the_session_key() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    let record = outcome(c.act1, c.cred, "2026-11-22T09:41:00Z");
    // Another session's key.
    log.reject(
        &record,
        &c.sub_session,
        RejectCode::PermissionDenied,
        &[&format!(
            "an outcome must be signed by the session key {} of credential {}",
            c.session.key_id(),
            c.cred
        )],
    );
    // The gate's own key: a gate signs exceptions, not outcomes.
    log.reject(
        &record,
        &p.gate,
        RejectCode::PermissionDenied,
        &["(principal \"deploy-gate\", role gate)"],
    );
    // After the credential expired (its validity ends 10:32).
    log.reject(
        &outcome(c.act1, c.cred, "2026-11-22T10:32:01Z"),
        &c.session,
        RejectCode::PermissionDenied,
        &["outcome at 2026-11-22T10:32:01Z is outside credential"],
    );
    // Past expiry + max_past_skew on the log's clock.
    log.now = t("2026-11-25T09:00:00Z").seconds();
    log.reject(
        &record,
        &c.session,
        RejectCode::InvalidArgument,
        &["behind the log's clock"],
    );
}

#[test]
fn no_principal_may_list_outcome() {
    let text = format!(
        "[[principal]]\nname = \"g\"\nrole = \"gate\"\nkinds = [\"outcome\"]\nkeys = [\"{KEY_A}\"]\n"
    );
    let e = ProducerPolicy::parse(&text).unwrap_err().to_string();
    assert!(
        e.contains("lists kind outcome, which no principal may sign"),
        "{e}"
    );
}

#[test]
fn exception_call_digest_admitted_from_a_gate() {
    let (mut log, p) = Log::new();
    let c = chain(&mut log, &p);
    let Record::Exception(mut e) = exception(c.cred, None) else {
        unreachable!()
    };
    e.revoked = false;
    e.call_digest = Some(digest(9));
    let record = Record::Exception(e);
    let admitted = log
        .check(&Envelope::sign(&record, &p.gate).encode())
        .unwrap();
    assert_eq!(admitted.record, record);
    assert_eq!(admitted.record.to_json()["call_digest"], json!(digest(9)));
}
