//! The auditor's red-flag rules against real logs: each test writes a small
//! causal chain to a running `causeway-server`, audits it with `causeway
//! audit` and asserts exactly which flags fire, on which records.
//!
//! Records the log accepts (a self-review, an approval outside the
//! approver's working hours, an operation outside scope, a record dated
//! before an anchor of a tree without it) go to a log with a producer
//! policy. Records the log now refuses (a human signing under another
//! name, a credential without an agent, an action not signed by its
//! session key) are first shown to be refused by such a log, with the
//! exact status and message, and then written as an *old log* would hold
//! them: to a log started with `--accept opaque` (which stores any bytes)
//! and audited under the same policy and keys. An action under a revoked
//! credential goes to such an old log directly: refusing it in log order
//! is the sequencer's part. A gateway's call outcomes go to a live log:
//! a session with every outcome is clean, a call cut off before its
//! outcome and a call with two outcomes are flagged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use causeway_client::{ClientError, LogClient};
use causeway_records::{Envelope, Kind, ProducerKey, Record};
use causeway_tests::audit::{anchored, anchoring_log, audit_args, with_vkeys};
use causeway_tests::{Producers, Server, Tsa, cli};
use causeway_tlog::merkle::{Hash, leaf_hash};
use serde_json::{Value, json};

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn rfc3339(secs: i64) -> String {
    causeway_civil::rfc3339_utc(secs)
}

fn spki(key: &ProducerKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.public_spki_der())
}

/// A chain under construction: signed entries in log order, by label.
#[derive(Default)]
struct Chain {
    entries: Vec<Vec<u8>>,
    labels: Vec<String>,
    hashes: HashMap<String, Hash>,
}

impl Chain {
    /// Signs `body` as a record of `kind` with `key`; string values
    /// `@label` become the leaf hash of the record labelled so.
    fn add(&mut self, label: &str, kind: Kind, mut body: Value, key: &ProducerKey) {
        if let Some(object) = body.as_object_mut() {
            for value in object.values_mut() {
                if let Some(target) = value.as_str().and_then(|s| s.strip_prefix('@')) {
                    let hash = self.hashes.get(target).expect("an earlier label");
                    *value = json!(hash.to_hex());
                }
            }
        }
        let record = Record::from_json(kind, &body.to_string())
            .unwrap_or_else(|e| panic!("record {label}: {e}"));
        let bytes = Envelope::sign(&record, key).encode();
        self.hashes.insert(label.to_owned(), leaf_hash(&bytes));
        self.labels.push(label.to_owned());
        self.entries.push(bytes);
    }

    /// The position of a labelled record (its index in a log that starts
    /// empty).
    fn at(&self, label: &str) -> u64 {
        self.labels
            .iter()
            .position(|l| l == label)
            .unwrap_or_else(|| panic!("no record {label}")) as u64
    }
}

/// What a scenario changes in the standard chain: the body of a record
/// before it is signed, and who signs it.
type Edit<'a> = &'a dyn Fn(&str, &mut Value);

/// The standard chain, dated in the four minutes before `now`: alice
/// approves, the verifier passes it, the issuer gives `agent` a credential,
/// the agent acts twice, the issuer closes the session, bob reviews.
/// `signer` may replace the key of a record, `edit` its body; `extra` runs
/// after each record is added, to insert records after it.
fn standard_chain(
    p: &Producers,
    agent: &ProducerKey,
    now: i64,
    edit: Edit<'_>,
    signer: &dyn Fn(&str) -> Option<&'static str>,
    extra: &dyn Fn(&str, &mut Chain),
) -> Chain {
    let scope = json!({
        "change_class": "standard",
        "targets": ["prod/payments-api"],
        "actions": ["deploy", "db.migrate:*"],
    });
    // The agent's action number `seq` on the in-scope target, five
    // seconds after the one before.
    let action = |seq: u64, tool: &str, operation: &str, summary: &str| {
        json!({
            "credential": "@cred", "seq": seq, "tool": tool, "target": "prod/payments-api",
            "operation": operation, "summary": summary,
            "digest": format!("sha256:{seq:02}"), "result": "ok",
            "time": rfc3339(now - 190 + 5 * seq as i64),
        })
    };
    let specs: Vec<(&str, Kind, Value, &ProducerKey)> = vec![
        (
            "auth",
            Kind::Authorization,
            json!({
                "approver": {"subject": "alice@example.com", "issuer": "https://sso.example.com"},
                "authn": {"method": "oidc+webauthn", "mfa": true, "assurance": "aal2", "authenticated_at": rfc3339(now - 260)},
                "plan": {"objective": "Add an index to the payments table", "method": "Migration M-77 through the pipeline",
                         "test_approach": "Run on staging first", "backout": "Drop the index"},
                "scope": scope,
                "ticket": "CHG-77",
                "not_before": rfc3339(now - 200),
                "not_after": rfc3339(now + 8 * 3600),
                "time": rfc3339(now - 200),
            }),
            &p.approver,
        ),
        (
            "pre",
            Kind::Preflight,
            json!({
                "subject": "@auth",
                "stage": "issuance",
                "checks": [{"name": "sast", "result": "pass", "detail": "semgrep", "cves": []}],
                "verdict": "pass",
                "time": rfc3339(now - 195),
            }),
            &p.verifier,
        ),
        (
            "cred",
            Kind::Credential,
            json!({
                "serial": "jit-rules-1",
                "agent": {"id": "agent://migrator-1", "model": "claude-sonnet-4.5", "version": "2026-10-01"},
                "authorization": "@auth",
                "preflight": "@pre",
                "scope": scope,
                "session_key": spki(agent),
                "issued_at": rfc3339(now - 190),
                "expires_at": rfc3339(now + 3600),
                "time": rfc3339(now - 190),
            }),
            &p.issuer,
        ),
        (
            "act1",
            Kind::Action,
            action(1, "kubectl", "deploy", "deployed the migration job"),
            agent,
        ),
        (
            "act2",
            Kind::Action,
            action(2, "psql", "db.migrate:add-index", "ran the migration"),
            agent,
        ),
        (
            "close",
            Kind::Closure,
            json!({
                "credential": "@cred", "reason": "voluntary", "started_at": rfc3339(now - 190),
                "ended_at": rfc3339(now - 175), "actions": 2, "summary": "migrated",
                "time": rfc3339(now - 175),
            }),
            &p.issuer,
        ),
        (
            "review",
            Kind::Review,
            json!({
                "subject": "@close",
                "reviewer": {"subject": "bob@example.com", "issuer": "https://sso.example.com"},
                "verdict": "approved",
                "started_at": rfc3339(now - 170),
                "finished_at": rfc3339(now - 100),
                "items": 2,
                "time": rfc3339(now - 100),
            }),
            &p.reviewer,
        ),
    ];
    let mut chain = Chain::default();
    for (label, kind, mut body, key) in specs {
        edit(label, &mut body);
        let key = match signer(label) {
            Some("approver") => &p.approver,
            Some("reviewer") => &p.reviewer,
            Some("issuer") => &p.issuer,
            Some("verifier") => &p.verifier,
            _ => key,
        };
        chain.add(label, kind, body, key);
        extra(label, &mut chain);
    }
    chain
}

fn no_edit(_: &str, _: &mut Value) {}
fn no_signer(_: &str) -> Option<&'static str> {
    None
}
fn no_extra(_: &str, _: &mut Chain) {}

/// Submits entries one by one, stopping at the first refusal: its position
/// and status.
async fn submit(url: &str, entries: &[Vec<u8>]) -> Result<(), (usize, tonic::Status)> {
    let mut client = LogClient::connect(url).await.expect("connects");
    for (i, entry) in entries.iter().enumerate() {
        match client.add_entries(vec![entry.clone()]).await {
            Ok(_) => {}
            Err(ClientError::Status(status)) => return Err((i, status)),
            Err(e) => panic!("entry {i}: {e}"),
        }
    }
    Ok(())
}

/// `causeway audit --json` of a running log; returns its red flags as
/// `(kind, record, detail)`. A log holding `invalid` entries that today's
/// log refuses must fail the audit (exit 1, naming them), its red flags
/// reported all the same.
fn audit(
    server: &Server,
    policy: &Path,
    out: &Path,
    tsa_roots: Option<&Path>,
    invalid: usize,
) -> Vec<(String, u64, String)> {
    let mut extra = vec!["--json"];
    if let Some(roots) = tsa_roots {
        extra.extend(["--tsa-roots", roots.to_str().expect("a UTF-8 path")]);
    }
    let args = with_vkeys(
        audit_args(&server.url, &server.tiles_url, policy, out, &extra),
        &server.vkeys,
    );
    let (ok, stdout, err) = cli(&args);
    let summary: Value = serde_json::from_str(stdout.trim()).expect("the --json summary");
    if invalid == 0 {
        assert!(ok, "causeway audit failed: {err}");
        assert_eq!(summary["verified"], true, "{stdout}");
    } else {
        assert!(
            !ok,
            "an audit of a log with invalid entries must fail: {stdout}"
        );
        assert!(
            err.contains(&format!("INVALID ENTRIES: {invalid} of the log's")),
            "{err}"
        );
        assert_eq!(summary["status"], "failed", "{stdout}");
    }
    summary["red_flags"]
        .as_array()
        .expect("red_flags")
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or_default().to_owned(),
                f["record"].as_u64().unwrap_or(u64::MAX),
                f["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The flags but `call_refused`.
fn without_call_refused(flags: Vec<(String, u64, String)>) -> Vec<(String, u64, String)> {
    flags
        .into_iter()
        .filter(|(k, _, _)| k != "call_refused")
        .collect()
}

/// The kinds and records of the flags.
fn kinds(flags: &[(String, u64, String)]) -> Vec<(&str, u64)> {
    flags.iter().map(|(k, r, _)| (k.as_str(), *r)).collect()
}

/// Asserts the audit raised exactly one flag, `kind` on the record at
/// `at`, and that its detail contains every one of `needles`.
fn assert_only_flag(flags: &[(String, u64, String)], kind: &str, at: u64, needles: &[&str]) {
    assert_eq!(kinds(flags), [(kind, at)], "{flags:?}");
    for needle in needles {
        assert!(
            flags[0].2.contains(needle),
            "{needle:?} not in {}",
            flags[0].2
        );
    }
}

/// An edit of the standard chain: the field at JSON `pointer` of the
/// record `label` becomes `value`.
fn set(label: &'static str, pointer: &'static str, value: Value) -> impl Fn(&str, &mut Value) {
    move |l, body| {
        if l == label {
            *body
                .pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{label} has no {pointer}")) = value.clone();
        }
    }
}

/// A signer choice for the standard chain: `role`'s key signs the record
/// `label`.
fn signed_by(label: &'static str, role: &'static str) -> impl Fn(&str) -> Option<&'static str> {
    move |l| (l == label).then_some(role)
}

/// A log that stores any bytes, as an old log holds records today's
/// admission refuses.
fn old_log(dir: &Path) -> Server {
    Server::start(dir, &["--accept", "opaque"])
}

/// What every scenario starts from: a directory, the test producers,
/// their policy file and a fresh session key for the agent.
struct Scene {
    dir: tempfile::TempDir,
    p: Producers,
    policy: PathBuf,
    agent: ProducerKey,
}

impl Scene {
    /// The scene under the producers' policy as written.
    fn new() -> Scene {
        Scene::with_policy(|text| text)
    }

    /// The scene under the producers' policy edited by `change`.
    fn with_policy(change: impl Fn(String) -> String) -> Scene {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = Producers::new();
        let policy = p.write(&dir.path().join("producers"));
        let text = std::fs::read_to_string(&policy).expect("policy");
        std::fs::write(&policy, change(text)).expect("policy written");
        let agent = ProducerKey::generate(&mut rand::rngs::OsRng);
        Scene {
            dir,
            p,
            policy,
            agent,
        }
    }

    /// The standard chain dated before `now`, its records edited by
    /// `edit` and signed as `signer` says.
    fn chain(
        &self,
        now: i64,
        edit: Edit<'_>,
        signer: &dyn Fn(&str) -> Option<&'static str>,
    ) -> Chain {
        standard_chain(&self.p, &self.agent, now, edit, signer, &no_extra)
    }

    /// Where a log or a report named `name` lives.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The flags of `causeway audit` of `server` under the scene's policy
    /// (see [`audit`] for `invalid`).
    fn audit(
        &self,
        server: &Server,
        tsa_roots: Option<&Path>,
        invalid: usize,
    ) -> Vec<(String, u64, String)> {
        audit(
            server,
            &self.policy,
            &self.path("report"),
            tsa_roots,
            invalid,
        )
    }
}

// ---------------------------------------------------------------------------
// Records the log accepts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_review_is_flagged_on_a_live_log() {
    let scene = Scene::new();
    let server = Server::with_policy(&scene.path("log"), &scene.policy);
    // alice reviews the change she approved, signing as herself.
    let chain = scene.chain(
        unix_now(),
        &set("review", "/reviewer/subject", json!("alice@example.com")),
        &signed_by("review", "approver"),
    );
    submit(&server.url, &chain.entries)
        .await
        .expect("the log admits a self-review");
    let flags = scene.audit(&server, None, 0);
    assert_only_flag(
        &flags,
        "self_review",
        chain.at("review"),
        &["principal \"alice@example.com\""],
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(scene.path("report/report.json")).expect("report.json"),
    )
    .expect("JSON");
    assert_eq!(report["matrix"]["rows"][0]["reviewed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_outside_hours_is_judged_in_the_approvers_time_zone() {
    let now = unix_now();
    // Working hours: the three hours around now, in UTC. bob works in UTC;
    // alice twelve hours ahead, so it is the middle of her night.
    let hour = now.rem_euclid(86_400) / 3_600;
    let window = format!("{:02}:00-{:02}:00", (hour + 23) % 24, (hour + 2) % 24);
    let scene = Scene::with_policy(|text| {
        text.replacen(
            "name = \"alice@example.com\"\nrole = \"human\"\n",
            "name = \"alice@example.com\"\nrole = \"human\"\ntz = \"Etc/GMT-12\"\n",
            1,
        )
        .replacen(
            "name = \"bob@example.com\"\nrole = \"human\"\n",
            "name = \"bob@example.com\"\nrole = \"human\"\ntz = \"UTC\"\n",
            1,
        )
        .replace(
            "working_hours = \"00:00-24:00\"",
            &format!("working_hours = \"{window}\""),
        )
    });
    let server = Server::with_policy(&scene.path("log"), &scene.policy);
    let chain = scene.chain(now, &no_edit, &no_signer);
    submit(&server.url, &chain.entries).await.expect("admitted");
    let flags = scene.audit(&server, None, 0);
    assert_only_flag(
        &flags,
        "approval_outside_hours",
        chain.at("auth"),
        &["in Etc/GMT-12", &window],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_outside_scope_actions_is_flagged_on_a_live_log() {
    let scene = Scene::new();
    let server = Server::with_policy(&scene.path("log"), &scene.policy);
    // The target is in scope; the operation is not (db.migrate:* is).
    let chain = scene.chain(
        unix_now(),
        &set("act2", "/operation", json!("db.drop:payments")),
        &no_signer,
    );
    submit(&server.url, &chain.entries).await.expect("admitted");
    let flags = scene.audit(&server, None, 0);
    assert_only_flag(
        &flags,
        "action_out_of_scope",
        chain.at("act2"),
        &["operation \"db.drop:payments\" matches none of credential 2's scope.actions"],
    );
    assert!(!flags[0].2.contains("target"), "{}", flags[0].2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_dated_before_an_anchor_of_a_tree_without_it_is_flagged() {
    // The log admits records dated up to an hour back; anchors judge them.
    let scene = Scene::with_policy(|text| {
        text.replacen("max_past_skew = \"2h\"\n", "max_past_skew = \"1h\"\n", 1)
    });
    let tsa = Tsa::start(&scene.path("tsa"), "ec", 0);
    let server = anchoring_log(&scene.path("log"), &scene.policy, &tsa);
    let now = unix_now();
    // The pre-flight claims to be 25 minutes old.
    let chain = scene.chain(
        now,
        &set("pre", "/time", json!(rfc3339(now - 1_500))),
        &no_signer,
    );
    // The authorization is logged and anchored first: that anchor's tree
    // (size 1) does not contain the pre-flight, and was stamped now.
    submit(&server.url, &chain.entries[..1])
        .await
        .expect("admitted");
    anchored(&server.url, 1).await;
    submit(&server.url, &chain.entries[1..])
        .await
        .expect("admitted");
    anchored(&server.url, chain.entries.len() as u64).await;
    let flags = scene.audit(&server, Some(&tsa.roots), 0);
    assert_only_flag(
        &flags,
        "record_predates_admission",
        chain.at("pre"),
        &["which does not contain entry 1"],
    );
}

// ---------------------------------------------------------------------------
// Records the log now refuses, in an old log

/// Writes `chain` to a log under the scene's policy, expecting `label`
/// refused with `code` and a message containing `message`; then to an
/// old log, which is audited. Returns the flags.
async fn refused_then_audited(
    scene: &Scene,
    chain: &Chain,
    label: &str,
    code: tonic::Code,
    message: &str,
) -> Vec<(String, u64, String)> {
    let live = Server::with_policy(&scene.path("live"), &scene.policy);
    let (at, status) = submit(&live.url, &chain.entries)
        .await
        .expect_err("today's log refuses it");
    assert_eq!(at as u64, chain.at(label), "{status:?}");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(message), "{:?}", status.message());

    let old = old_log(&scene.path("old"));
    submit(&old.url, &chain.entries)
        .await
        .expect("an opaque log stores anything");
    scene.audit(&old, None, 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_mismatch_in_an_old_log() {
    let scene = Scene::new();
    // bob's key signs a review in the name of someone else.
    let chain = scene.chain(
        unix_now(),
        &set("review", "/reviewer/subject", json!("carol@example.com")),
        &no_signer,
    );
    let flags = refused_then_audited(
        &scene,
        &chain,
        "review",
        tonic::Code::PermissionDenied,
        "review.reviewer.subject is \"carol@example.com\"",
    )
    .await;
    assert_only_flag(
        &flags,
        "identity_mismatch",
        chain.at("review"),
        &["principal \"bob@example.com\""],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_without_agent_identity_in_an_old_log() {
    let scene = Scene::new();
    let chain = scene.chain(unix_now(), &set("cred", "/agent/id", json!("")), &no_signer);
    let flags = refused_then_audited(
        &scene,
        &chain,
        "cred",
        tonic::Code::InvalidArgument,
        "credential.agent.id is empty",
    )
    .await;
    assert_only_flag(
        &flags,
        "credential_without_agent_identity",
        chain.at("cred"),
        &[],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_not_signed_by_session_in_an_old_log() {
    let scene = Scene::new();
    // The issuer's key signs an action under the agent's credential.
    let chain = scene.chain(unix_now(), &no_edit, &signed_by("act2", "issuer"));
    let flags = refused_then_audited(
        &scene,
        &chain,
        "act2",
        tonic::Code::PermissionDenied,
        "an action must be signed by the session key",
    )
    .await;
    assert_only_flag(
        &flags,
        "action_not_signed_by_session",
        chain.at("act2"),
        &["jit-issuer.example.com"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_after_revocation_in_an_old_log_is_judged_by_log_order() {
    let scene = Scene::new();
    let now = unix_now();
    // The issuer revokes the credential after the first action. The second
    // action comes after the revocation in the log, though it claims an
    // earlier time than the revocation does.
    let issuer =
        ProducerKey::from_pkcs8_pem(&scene.p.issuer.to_pkcs8_pem().expect("PEM")).expect("key");
    let chain = standard_chain(
        &scene.p,
        &scene.agent,
        now,
        &no_edit,
        &no_signer,
        &move |label, chain| {
            if label == "act1" {
                chain.add(
                    "revoke",
                    Kind::Exception,
                    json!({
                        "credential": "@cred",
                        "reason": "the canary failed",
                        "revoked": true,
                        "time": rfc3339(now - 150),
                    }),
                    &issuer,
                );
            }
        },
    );
    let revoke = chain.at("revoke");
    // Today's admission applies the same rule when it sequences (the
    // server's part, not asserted here); an old log holds such records.
    let old = old_log(&scene.path("old"));
    submit(&old.url, &chain.entries)
        .await
        .expect("an opaque log stores anything");
    let flags = scene.audit(&old, None, 1);
    assert_only_flag(
        &flags,
        "action_after_revocation",
        chain.at("act2"),
        &[&format!("revoked by the exception at index {revoke}")],
    );
}

// ---------------------------------------------------------------------------
// Call outcomes (a gateway's records)

/// The standard chain with an `outcome` after each action in `returned`
/// (signed by the agent's session key, as a gateway does when the call
/// returns), a second outcome `again` after `act1`'s when `twice`, and,
/// after `act1`, a gate-style exception naming a refused call by its
/// digest.
fn chain_with_outcomes(
    scene: &Scene,
    now: i64,
    returned: &'static [&'static str],
    twice: bool,
) -> Chain {
    let copy = |k: &ProducerKey| {
        ProducerKey::from_pkcs8_pem(&k.to_pkcs8_pem().expect("PEM")).expect("key")
    };
    let (agent, issuer) = (copy(&scene.agent), copy(&scene.p.issuer));
    standard_chain(
        &scene.p,
        &scene.agent,
        now,
        &no_edit,
        &no_signer,
        &move |label, chain| {
            let Some(seq) = label.strip_prefix("act") else {
                return;
            };
            if returned.contains(&label) {
                let seq: i64 = seq.parse().expect("actN");
                let mut body = json!({
                    "action": format!("@{label}"),
                    "credential": "@cred",
                    "status": "ok",
                    "result_digest": format!("sha256:{}", leaf_hash(label.as_bytes()).to_hex()),
                    "time": rfc3339(now - 189 + 5 * seq),
                });
                // act2's call fails, with an error class.
                if seq == 2 {
                    body["status"] = json!("error");
                    body["error"] = json!("-32603");
                }
                chain.add(&format!("out{seq}"), Kind::Outcome, body, &agent);
                if twice && seq == 1 {
                    // Another time and digest: not a duplicate submission,
                    // so the log admits it; the auditor flags it.
                    chain.add(
                        "again",
                        Kind::Outcome,
                        json!({
                            "action": "@act1",
                            "credential": "@cred",
                            "status": "ok",
                            "result_digest": format!("sha256:{}", leaf_hash(b"another").to_hex()),
                            "time": rfc3339(now - 183),
                        }),
                        &agent,
                    );
                }
            }
            if label == "act1" {
                chain.add(
                    "refused",
                    Kind::Exception,
                    json!({
                        "credential": "@cred",
                        "reason": "refused call db.drop: outside scope.actions",
                        "revoked": false,
                        "call_digest": format!("sha256:{}", leaf_hash(b"refused call").to_hex()),
                        "time": rfc3339(now - 183),
                    }),
                    &issuer,
                );
            }
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_with_its_outcome_is_clean_and_counted_in_the_report() {
    let scene = Scene::new();
    let server = Server::with_policy(&scene.path("log"), &scene.policy);
    let chain = chain_with_outcomes(&scene, unix_now(), &["act1", "act2"], false);
    submit(&server.url, &chain.entries)
        .await
        .expect("the log admits outcomes signed by the session key");
    // The one finding is the refused call the chain records.
    let flags = scene.audit(&server, None, 0);
    assert_eq!(
        kinds(&flags),
        [("call_refused", chain.at("refused"))],
        "{flags:?}"
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(scene.path("report/report.json")).expect("report.json"),
    )
    .expect("JSON");
    let chain_report = &report["authorizations"][0];
    assert_eq!(chain_report["credentials"][0]["outcomes_ok"], 1);
    assert_eq!(chain_report["credentials"][0]["outcomes_error"], 1);
    assert_eq!(chain_report["outcomes"][1]["error"], "-32603");
    assert_eq!(report["summary"]["outcomes"], 2);
    let actions = causeway_tests::audit::report_actions(&scene.path("report"));
    let act2 = actions
        .iter()
        .find(|a| a["index"] == chain.at("act2"))
        .expect("act2 in the report");
    assert_eq!(act2["outcome"]["index"], chain.at("out2"));
    assert_eq!(act2["outcome"]["status"], "error");
    assert_eq!(
        chain_report["exceptions"][0]["call_digest"],
        json!(format!("sha256:{}", leaf_hash(b"refused call").to_hex()))
    );
    let html = std::fs::read_to_string(scene.path("report/index.html")).expect("index.html");
    assert!(html.contains("Call outcomes") && html.contains("refused call"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_outcome_never_came_is_flagged_action_without_outcome() {
    // The gate was killed during act2's call: act2 is logged, its outcome
    // is not, while act1's is.
    let scene = Scene::new();
    let server = Server::with_policy(&scene.path("log"), &scene.policy);
    let chain = chain_with_outcomes(&scene, unix_now(), &["act1"], false);
    submit(&server.url, &chain.entries).await.expect("admitted");
    // Besides the refused call the chain records (call_refused).
    let flags = without_call_refused(scene.audit(&server, None, 0));
    assert_only_flag(
        &flags,
        "action_without_outcome",
        chain.at("act2"),
        &["credential 2 has 1 outcome(s)"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_outcome_of_one_call_is_flagged_outcome_duplicate() {
    let scene = Scene::new();
    let server = Server::with_policy(&scene.path("log"), &scene.policy);
    let chain = chain_with_outcomes(&scene, unix_now(), &["act1", "act2"], true);
    submit(&server.url, &chain.entries).await.expect("admitted");
    // Besides the refused call the chain records (call_refused).
    let flags = without_call_refused(scene.audit(&server, None, 0));
    assert_only_flag(
        &flags,
        "outcome_duplicate",
        chain.at("again"),
        &[&format!(
            "action {} already has outcome {}",
            chain.at("act1"),
            chain.at("out1")
        )],
    );
}
