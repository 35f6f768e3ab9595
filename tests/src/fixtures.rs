//! Record fixtures shared by the records suites: JSON builders of a
//! causal chain (alice approves, a scanner passes, an issuer issues, an
//! agent acts and closes), signing, and submit-and-assert helpers.

use base64::Engine as _;
use causeway_client::LogClient;
use causeway_records::{Envelope, Kind, ProducerKey, Record};
use causeway_tlog::merkle::{Hash, leaf_hash};
use serde_json::{Value, json};
use tonic::Code;

/// The clock, Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The clock to the millisecond, RFC 3339 UTC, as a producer dates a
/// record it makes now: after a credential the issuer dated this same
/// second (it dates to the millisecond), before a revocation that follows.
pub fn now_ms() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    causeway_records::Time::new(d.as_secs() as i64, d.subsec_millis() * 1_000_000)
        .unwrap()
        .to_string()
}

/// RFC 3339 UTC of Unix seconds.
pub fn t(secs: i64) -> String {
    causeway_client::demo::rfc3339(secs)
}

/// Standard base64.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Signs a record given as JSON; returns the entry and its leaf hash.
pub fn env(kind: Kind, value: Value, key: &ProducerKey) -> (Vec<u8>, Hash) {
    let record = Record::from_json(kind, &value.to_string())
        .unwrap_or_else(|e| panic!("{kind}: {e}\n{value:#}"));
    let bytes = Envelope::sign(&record, key).encode();
    let hash = leaf_hash(&bytes);
    (bytes, hash)
}

/// Signs a record given as JSON; returns the entry alone.
pub fn signed(kind: Kind, value: &Value, key: &ProducerKey) -> Vec<u8> {
    env(kind, value.clone(), key).0
}

/// The other valid ECDSA P-256 signature of the same message: (r, n - s),
/// DER-encoded. Both verify, so anyone can make it from a signed record.
pub fn malleate(der: &[u8]) -> Vec<u8> {
    let sig = p256::ecdsa::Signature::from_der(der).expect("a DER ECDSA signature");
    let (r, s) = sig.split_scalars();
    let flipped = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes())
        .expect("n - s is a valid s");
    flipped.to_der().as_bytes().to_vec()
}

/// The scope every fixture credential and authorization carries.
pub fn scope() -> Value {
    json!({"change_class": "standard", "targets": ["prod/api"], "actions": ["deploy", "read-logs"]})
}

/// alice@example.com's authorization of CHG-1, made at `at`.
pub fn authorization(at: i64) -> Value {
    ticket_authorization(at, "CHG-1")
}

/// alice@example.com's authorization of change `ticket`, made at `at`.
pub fn ticket_authorization(at: i64, ticket: &str) -> Value {
    json!({
        "approver": {"subject": "alice@example.com", "issuer": "https://sso.example.com"},
        "authn": {"method": "oidc", "mfa": true, "assurance": "aal2", "authenticated_at": t(at - 30)},
        "plan": {"objective": "deploy api v2", "method": "pipeline", "test_approach": "canary", "backout": "rollback"},
        "scope": scope(),
        "ticket": ticket,
        "not_before": t(at),
        "not_after": t(at + 3600),
        "time": t(at),
    })
}

/// A passing issuance pre-flight of `subject`, made at `at`.
pub fn preflight(subject: &Hash, at: i64) -> Value {
    json!({
        "subject": subject.to_hex(),
        "stage": "issuance",
        "checks": [{"name": "sast", "result": "pass", "detail": "0 findings", "cves": []}],
        "verdict": "pass",
        "time": t(at),
    })
}

/// A credential's JSON: `serial`, bound to `auth` and `pre`, delegated from
/// `parent` if given, for `session`, valid `issued ..= expires`.
#[allow(clippy::too_many_arguments)]
pub fn credential(
    serial: &str,
    auth: &Hash,
    pre: &Hash,
    parent: Option<&Hash>,
    session: &ProducerKey,
    issued: i64,
    expires: i64,
) -> Value {
    let mut v = json!({
        "serial": serial,
        "agent": {"id": format!("agent://{serial}"), "model": "m", "version": "1"},
        "authorization": auth.to_hex(),
        "preflight": pre.to_hex(),
        "scope": scope(),
        "session_key": b64(&session.public_spki_der()),
        "issued_at": t(issued),
        "expires_at": t(expires),
        "time": t(issued),
    });
    if let Some(p) = parent {
        v["parent"] = json!(p.to_hex());
    }
    v
}

/// Action `seq` under `cred`, made at `at`.
pub fn action(cred: &Hash, seq: u64, at: i64) -> Value {
    json!({
        "credential": cred.to_hex(),
        "seq": seq,
        "tool": "kubectl",
        "target": "prod/api",
        "summary": format!("step {seq}"),
        "digest": format!("sha256:{}", leaf_hash(&seq.to_be_bytes()).to_hex()),
        "result": "ok",
        "time": t(at),
    })
}

/// A voluntary closure of `cred`'s session.
pub fn closure(cred: &Hash, start: i64, end: i64, actions: u64) -> Value {
    json!({
        "credential": cred.to_hex(),
        "reason": "voluntary",
        "started_at": t(start),
        "ended_at": t(end),
        "actions": actions,
        "summary": "done",
        "time": t(end),
    })
}

/// Submits one entry and returns its index; panics if it is refused.
pub async fn add(client: &mut LogClient, entry: (Vec<u8>, Hash)) -> u64 {
    let r = client.add_entries(vec![entry.0]).await.expect("accepted");
    assert_eq!(r.entries[0].leaf_hash, entry.1);
    r.entries[0].index
}

/// Submits alice's authorization of `ticket` (made now, edited by
/// `edit`) and a verifier's passing issuance pre-flight of it, signed by
/// `producers`; returns their leaf hashes.
pub async fn approved(
    log: &mut LogClient,
    producers: &crate::Producers,
    ticket: &str,
    edit: impl FnOnce(&mut Value),
) -> (Hash, Hash) {
    let at = now();
    let mut a = authorization(at);
    a["ticket"] = ticket.into();
    edit(&mut a);
    let auth = env(Kind::Authorization, a, &producers.approver);
    let auth_hash = auth.1;
    add(log, auth).await;
    let pre = env(
        Kind::Preflight,
        preflight(&auth_hash, at),
        &producers.verifier,
    );
    let pre_hash = pre.1;
    add(log, pre).await;
    (auth_hash, pre_hash)
}

/// Submits one entry and asserts it is refused with `code` and a message
/// containing every one of `needles`.
pub async fn refused(client: &mut LogClient, entry: Vec<u8>, code: Code, needles: &[&str]) {
    let err = client
        .add_entries(vec![entry])
        .await
        .expect_err("must be refused");
    assert_eq!(err.code(), Some(code), "{err}");
    let text = err.to_string();
    for n in needles {
        assert!(text.contains(n), "{text:?} does not mention {n:?}");
    }
}
