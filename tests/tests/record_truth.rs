//! Records are true, not only unaltered: each test replays an attack by a
//! producer or by an agent holding a session key against the real server
//! and asserts the exact refusal. Run against PostgreSQL too by
//! `postgres_record_truth.rs`.
//!
//! * a human key signing for someone else (`approver.subject`,
//!   `reviewer.subject`);
//! * a session key writing after its credential, or an ancestor of it,
//!   was revoked, closed or expired, including in the same batch as the
//!   revocation and after a restart;
//! * backdating a record past `max_past_skew`;
//! * a credential without an agent identity;
//! * delegated session keys multiplying a rate limit;
//! * a storage failure while references are looked up, answered as
//!   `UNAVAILABLE` (retry) rather than "not in the log".

use std::path::{Path, PathBuf};
use std::time::Duration;

use causeway_client::LogClient;
use causeway_records::{Kind, ProducerKey};
use causeway_tests::fixtures::{
    action, add, authorization, b64, closure, credential, env, now, preflight, refused, t,
};
use causeway_tests::{Postgres, Producers, Server};
use causeway_tlog::merkle::Hash;
use serde_json::{Value, json};
use tempfile::TempDir;
use tonic::Code;

/// A policy trusting `p`, with `top` (settings before the principals) and
/// alice's extra subjects. Unlike the harness's policy it keeps the
/// default `max_past_skew` unless `top` sets one.
fn policy(dir: &Path, p: &Producers, top: &str, alice_subjects: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let subjects: Vec<String> = alice_subjects.iter().map(|s| format!("{s:?}")).collect();
    let text = format!(
        "{top}\n\
         [[principal]]\nname = \"alice@example.com\"\nrole = \"human\"\nsubjects = [{}]\nkeys = [\"{}\"]\n\
         [[principal]]\nname = \"bob@example.com\"\nrole = \"human\"\nkeys = [\"{}\"]\n\
         [[principal]]\nname = \"jit-issuer.example.com\"\nrole = \"issuer\"\nkeys = [\"{}\"]\n\
         [[principal]]\nname = \"preflight.example.com\"\nrole = \"verifier\"\nkeys = [\"{}\"]\n",
        subjects.join(", "),
        b64(&p.approver.public_spki_der()),
        b64(&p.reviewer.public_spki_der()),
        b64(&p.issuer.public_spki_der()),
        b64(&p.verifier.public_spki_der()),
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(dir: &Path, policy: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--policy", policy.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&dir.join("log"), &args)
}

/// A log under the producers' policy as `policy` writes it by default,
/// started with `extra` flags, and a client of it; the directory and the
/// policy file are returned for restarts.
async fn default_log(extra: &[&str]) -> (TempDir, Producers, PathBuf, Server, LogClient) {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let policy = policy(&dir.path().join("p"), &p, "", &[]);
    let server = start(dir.path(), &policy, extra);
    let c = LogClient::connect(&server.url).await.unwrap();
    (dir, p, policy, server, c)
}

/// An authorization, its pre-flight and a credential for `session`
/// (valid `issued ..= expires`), all logged; returns the authorization's
/// and the credential's leaf hashes.
async fn chain(
    c: &mut LogClient,
    p: &Producers,
    session: &ProducerKey,
    serial: &str,
    issued: i64,
    expires: i64,
) -> (Hash, Hash) {
    let at = now();
    let auth = env(Kind::Authorization, authorization(at), &p.approver);
    let auth_hash = auth.1;
    add(c, auth).await;
    let pre = env(Kind::Preflight, preflight(&auth_hash, at), &p.verifier);
    let pre_hash = pre.1;
    add(c, pre).await;
    let cred = env(
        Kind::Credential,
        credential(
            serial, &auth_hash, &pre_hash, None, session, issued, expires,
        ),
        &p.issuer,
    );
    let cred_hash = cred.1;
    add(c, cred).await;
    (auth_hash, cred_hash)
}

/// A credential delegated from `parent` (signed by its session key
/// `by`) to `session`, with the parent's authorization.
fn delegated(
    auth: &Hash,
    parent: &Hash,
    by: &ProducerKey,
    session: &ProducerKey,
    serial: &str,
    issued: i64,
    expires: i64,
) -> (Vec<u8>, Hash) {
    let mut v = credential(serial, auth, parent, Some(parent), session, issued, expires);
    // A delegated credential carries no pre-flight of its own here.
    v.as_object_mut().unwrap().remove("preflight");
    env(Kind::Credential, v, by)
}

fn revocation(cred: &Hash, at: i64) -> Value {
    json!({
        "credential": cred.to_hex(),
        "reason": "scope violation: push to main",
        "revoked": true,
        "time": t(at),
    })
}

fn review(subject: &Hash, reviewer: &str, at: i64) -> Value {
    json!({
        "subject": subject.to_hex(),
        "reviewer": {"subject": reviewer, "issuer": "https://sso.example.com"},
        "verdict": "approved",
        "started_at": t(at - 300),
        "finished_at": t(at),
        "items": 1,
        "time": t(at),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_key_cannot_sign_for_another_human() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let policy = policy(
        &dir.path().join("p"),
        &p,
        "",
        &["alice", "alice@corp.example"],
    );
    let server = start(dir.path(), &policy, &[]);
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let at = now();

    // alice's key, approving as bob.
    let mut forged = authorization(at);
    forged["approver"]["subject"] = json!("bob@example.com");
    refused(
        &mut c,
        env(Kind::Authorization, forged, &p.approver).0,
        Code::PermissionDenied,
        &[
            "authorization.approver.subject is \"bob@example.com\"",
            "principal \"alice@example.com\"",
            "its subjects are [\"alice\", \"alice@corp.example\"]",
        ],
    )
    .await;

    // Her own name and each listed subject are hers.
    let own = env(Kind::Authorization, authorization(at), &p.approver);
    let auth_hash = own.1;
    add(&mut c, own).await;
    for alias in ["alice", "alice@corp.example"] {
        let mut v = authorization(at);
        v["approver"]["subject"] = json!(alias);
        v["ticket"] = json!(format!("CHG-{alias}"));
        add(&mut c, env(Kind::Authorization, v, &p.approver)).await;
    }
    // A near miss is not an alias: subjects are compared exactly.
    let mut near = authorization(at);
    near["approver"]["subject"] = json!("Alice@example.com");
    refused(
        &mut c,
        env(Kind::Authorization, near, &p.approver).0,
        Code::PermissionDenied,
        &["\"Alice@example.com\""],
    )
    .await;

    // bob's key, reviewing as alice.
    refused(
        &mut c,
        env(
            Kind::Review,
            review(&auth_hash, "alice@example.com", at),
            &p.reviewer,
        )
        .0,
        Code::PermissionDenied,
        &[
            "review.reviewer.subject is \"alice@example.com\"",
            "principal \"bob@example.com\"",
            "it lists no other subjects",
        ],
    )
    .await;
    add(
        &mut c,
        env(
            Kind::Review,
            review(&auth_hash, "bob@example.com", at),
            &p.reviewer,
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_cannot_be_backdated_past_max_past_skew() {
    let (_dir, p, _policy, _server, mut c) = default_log(&[]).await;
    let at = now() - 600;
    refused(
        &mut c,
        env(Kind::Authorization, authorization(at), &p.approver).0,
        Code::InvalidArgument,
        &[
            &format!("authorization.time {}", t(at)),
            "behind the log's clock (",
            "at most 300s is accepted (max_past_skew",
        ],
    )
    .await;
    // Within the default five minutes it is accepted.
    add(
        &mut c,
        env(Kind::Authorization, authorization(now() - 120), &p.approver),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_without_an_agent_identity_is_refused() {
    let (_dir, p, _policy, _server, mut c) = default_log(&[]).await;
    let at = now();
    let auth = env(Kind::Authorization, authorization(at), &p.approver);
    let auth_hash = auth.1;
    add(&mut c, auth).await;
    let pre = env(Kind::Preflight, preflight(&auth_hash, at), &p.verifier);
    let pre_hash = pre.1;
    add(&mut c, pre).await;
    let session = ProducerKey::generate(&mut rand::rngs::OsRng);
    for id in ["", "   "] {
        let mut v = credential("c1", &auth_hash, &pre_hash, None, &session, at, at + 600);
        v["agent"]["id"] = json!(id);
        refused(
            &mut c,
            env(Kind::Credential, v, &p.issuer).0,
            Code::InvalidArgument,
            &["credential.agent.id is empty", "must name the agent"],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_and_its_delegated_children_write_nothing_more() {
    let (dir, p, policy, server, mut c) = default_log(&[]).await;
    let mut rng = rand::rngs::OsRng;
    let at = now();
    let (s1, s2) = (
        ProducerKey::generate(&mut rng),
        ProducerKey::generate(&mut rng),
    );
    let (auth, c1) = chain(&mut c, &p, &s1, "c1", at - 60, at + 3600).await;
    add(&mut c, env(Kind::Action, action(&c1, 1, at), &s1)).await;
    let child = delegated(&auth, &c1, &s1, &s2, "c2", at, at + 1800);
    let c2 = child.1;
    add(&mut c, child).await;
    add(&mut c, env(Kind::Action, action(&c2, 1, at), &s2)).await;

    let revoked_at = add(
        &mut c,
        env(Kind::Exception, revocation(&c1, now()), &p.issuer),
    )
    .await;
    let by = format!("revoked by the exception at index {revoked_at}");

    // The attack: the agent keeps the session key and dates its records
    // inside the old validity window.
    let s3 = ProducerKey::generate(&mut rng);
    for (what, entry) in [
        ("action", env(Kind::Action, action(&c1, 2, now()), &s1).0),
        (
            "closure",
            env(Kind::Closure, closure(&c1, at - 60, now(), 1), &s1).0,
        ),
        (
            "credential",
            delegated(&auth, &c1, &s1, &s3, "c3", now(), now() + 600).0,
        ),
    ] {
        refused(
            &mut c,
            entry,
            Code::PermissionDenied,
            &[
                &format!("this {what} is signed by a session key"),
                &format!("credential {c1} was revoked"),
                &by,
            ],
        )
        .await;
    }
    // The child's authority was its parent's.
    refused(
        &mut c,
        env(Kind::Action, action(&c2, 2, now()), &s2).0,
        Code::PermissionDenied,
        &[&format!("its credential's ancestor {c1} (1 level up)"), &by],
    )
    .await;
    // The issuer still closes the revoked session: that is how it ends.
    add(
        &mut c,
        env(Kind::Closure, closure(&c1, at - 60, now(), 1), &p.issuer),
    )
    .await;

    // The state is durable: after kill -9 and a restart, still refused.
    server.kill9();
    let server = start(dir.path(), &policy, &[]);
    let mut c = LogClient::connect(&server.url).await.unwrap();
    refused(
        &mut c,
        env(Kind::Action, action(&c2, 3, now()), &s2).0,
        Code::PermissionDenied,
        &[&by],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_session_writes_nothing_more() {
    let (_dir, p, _policy, _server, mut c) = default_log(&[]).await;
    let s1 = ProducerKey::generate(&mut rand::rngs::OsRng);
    let at = now();
    let (_, c1) = chain(&mut c, &p, &s1, "c1", at - 60, at + 3600).await;
    add(&mut c, env(Kind::Action, action(&c1, 1, at), &s1)).await;
    let closed_at = add(
        &mut c,
        env(Kind::Closure, closure(&c1, at - 60, now(), 1), &s1),
    )
    .await;
    refused(
        &mut c,
        env(Kind::Action, action(&c1, 2, now()), &s1).0,
        Code::PermissionDenied,
        &[&format!("closed by the closure at index {closed_at}")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_and_an_action_in_one_batch_are_judged_in_log_order() {
    // A long batch window, so the two requests below share a batch.
    let (_dir, p, _policy, server, mut c) = default_log(&["--batch-max-delay", "300ms"]).await;
    let s1 = ProducerKey::generate(&mut rand::rngs::OsRng);
    let at = now();
    let (_, c1) = chain(&mut c, &p, &s1, "c1", at - 60, at + 3600).await;

    // One request: the revocation, then an action. Both pass admission
    // against the stored log; the sequencer sees the revocation first.
    let err = c
        .add_entries(vec![
            env(Kind::Exception, revocation(&c1, now()), &p.issuer).0,
            env(Kind::Action, action(&c1, 1, now()), &s1).0,
        ])
        .await
        .expect_err("the action follows its revocation");
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
    let text = err.to_string();
    assert!(text.contains("entry 1: this action"), "{text}");
    assert!(
        text.contains("revoked by entry 0 of this request"),
        "{text}"
    );
    // The request was refused whole: the revocation was not written, so
    // the session still acts.
    add(&mut c, env(Kind::Action, action(&c1, 1, now()), &s1)).await;

    // Two requests in one batch: the revocation's is accepted, the
    // action's refused, naming the revocation's index.
    let revoke = env(Kind::Exception, revocation(&c1, now()), &p.issuer);
    let act = env(Kind::Action, action(&c1, 2, now()), &s1);
    let mut c2 = LogClient::connect(&server.url).await.unwrap();
    let first = tokio::spawn(async move { c.add_entries(vec![revoke.0]).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = c2.add_entries(vec![act.0]).await;
    let revoked_at = first
        .await
        .unwrap()
        .expect("the revocation is accepted")
        .entries[0]
        .index;
    let err = second.expect_err("the action comes after the revocation in log order");
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("revoked by the exception at index {revoked_at}")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_key_writes_nothing_after_its_credential_or_an_ancestor_expired() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    // A one-second grace, so the test waits seconds, not minutes.
    let policy = policy(&dir.path().join("p"), &p, "max_past_skew = \"1s\"", &[]);
    let server = start(dir.path(), &policy, &[]);
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let mut rng = rand::rngs::OsRng;
    let (s1, s2) = (
        ProducerKey::generate(&mut rng),
        ProducerKey::generate(&mut rng),
    );
    let at = now();
    // The parent expires in 2 s; its child was given an hour.
    let (auth, c1) = chain(&mut c, &p, &s1, "c1", at, at + 2).await;
    let child = delegated(&auth, &c1, &s1, &s2, "c2", now(), now() + 3600);
    let c2 = child.1;
    add(&mut c, child).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    refused(
        &mut c,
        env(Kind::Action, action(&c2, 1, now()), &s2).0,
        Code::PermissionDenied,
        &[
            &format!("its credential's ancestor {c1} expired at {}", t(at + 2)),
            "max_past_skew",
        ],
    )
    .await;
    // Dated inside the old window, the record is too old to admit.
    refused(
        &mut c,
        env(Kind::Action, action(&c1, 1, at + 1), &s1).0,
        Code::InvalidArgument,
        &["max_past_skew"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegated_session_keys_share_their_root_credentials_rate_limit() {
    let (_dir, p, _policy, _server, mut c) = default_log(&["--producer-rate-limit", "4"]).await;
    let mut rng = rand::rngs::OsRng;
    let s1 = ProducerKey::generate(&mut rng);
    let at = now();
    let (auth, c1) = chain(&mut c, &p, &s1, "c1", at - 60, at + 3600).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // The attack: mint delegated credentials with fresh keys, and act
    // under each as if each key had its own budget.
    let mut accepted = 0;
    let mut refusal = None;
    'minting: for i in 0..12u64 {
        let key = ProducerKey::generate(&mut rng);
        let child = delegated(&auth, &c1, &s1, &key, &format!("d{i}"), now(), now() + 600);
        let act = env(Kind::Action, action(&child.1, 1, now()), &key);
        for entry in [child.0, act.0] {
            match c.add_entries(vec![entry]).await {
                Ok(_) => accepted += 1,
                Err(e) => {
                    refusal = Some(e);
                    break 'minting;
                }
            }
        }
    }
    let err = refusal.expect("twelve fresh keys do not make twelve budgets");
    assert_eq!(err.code(), Some(Code::ResourceExhausted), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("producer credential {c1}")),
        "{err}"
    );
    // Four a second, plus what refilled while the loop ran.
    assert!(accepted <= 8, "accepted {accepted} records under one root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_failure_while_looking_up_references_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let policy = policy(&dir.path().join("p"), &p, "", &[]);
    let mut pg = Postgres::start(&dir.path().join("pg"));
    let url = pg.url("postgres");
    let server = start(dir.path(), &policy, &["--storage", &url]);
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let at = now();
    let auth = env(Kind::Authorization, authorization(at), &p.approver);
    let auth_hash = auth.1;
    add(&mut c, auth).await;

    pg.stop();
    let err = c
        .add_entries(vec![
            env(Kind::Preflight, preflight(&auth_hash, now()), &p.verifier).0,
        ])
        .await
        .expect_err("the database is down");
    assert_eq!(err.code(), Some(Code::Unavailable), "{err}");
    let text = err.to_string();
    assert!(text.contains("nothing was written"), "{text}");
    assert!(text.contains("retry"), "{text}");
    assert!(!text.contains("is not in the log"), "{text}");
}
