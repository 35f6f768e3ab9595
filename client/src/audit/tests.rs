//! Scenario tests: a clean chain raises no flag and names the human behind
//! every action; each planted violation raises exactly its flag, on the
//! violating record.

mod corpus;
mod outcomes;

use base64::Engine as _;
use causeway_records::{Envelope, Kind, PAYLOAD_TYPE, ProducerPolicy};
use causeway_tlog::merkle::leaf_hash;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde_json::json;

use super::*;
use corpus::{Built, Corpus, DELEGATED, ISSUED, NOW, T0, t};

fn analyze_with(
    entries: &[(u64, Vec<u8>)],
    policy: &ProducerPolicy,
    anchors: &[(u64, i64)],
) -> AuditReport {
    analyze(&AuditInput {
        entries,
        policy,
        thresholds: &Thresholds::default(),
        anchors,
        now: NOW,
    })
}

/// Builds the corpus and audits it with anchors consistent with its times.
fn audit(c: &mut Corpus) -> (AuditReport, Built) {
    let built = c.build();
    let policy = c.policy();
    let report = analyze_with(&built.entries, &policy, &built.clean_anchors());
    (report, built)
}

fn flags(report: &AuditReport) -> Vec<(FlagKind, u64)> {
    report
        .red_flags
        .iter()
        .map(|f| (f.kind, f.record))
        .collect()
}

/// Exactly `kind` fires, on exactly `records`.
fn assert_only(report: &AuditReport, kind: FlagKind, records: &[u64]) {
    let expected: Vec<(FlagKind, u64)> = records.iter().map(|&r| (kind, r)).collect();
    assert_eq!(
        flags(report),
        expected,
        "red flags: {:#?}",
        report.red_flags
    );
    for flag in &report.red_flags {
        assert!(!flag.detail.is_empty());
        let entry = report
            .actions
            .iter()
            .map(|a| (a.index, &a.leaf_hash))
            .chain(
                report
                    .authorizations
                    .iter()
                    .map(|a| (a.index, &a.leaf_hash)),
            );
        for (index, hash) in entry {
            if index == flag.record {
                assert_eq!(hash, &flag.leaf_hash);
            }
        }
    }
}

fn assert_clean(report: &AuditReport) {
    assert!(report.red_flags.is_empty(), "{:#?}", report.red_flags);
    assert!(report.invalid.is_empty(), "{:#?}", report.invalid);
    let s = &report.summary;
    assert!(s.actions > 0);
    assert_eq!(s.actions_with_named_human, s.actions);
    for action in &report.actions {
        let human = action.authorized_by.as_ref().expect("a named human");
        assert_eq!(human.subject, "alice@example.com");
        assert!(human.mfa);
        assert!(action.in_scope && action.within_lifetime && action.valid);
        assert_eq!(action.authorization, Some(0));
        let preflight = action.preflight.as_ref().expect("a pre-flight");
        assert!(preflight.before_issuance);
    }
    let totals = &report.matrix.totals;
    assert_eq!(totals.authorizations, 1);
    assert_eq!(totals.complete, 1, "{:#?}", report.matrix);
}

/// The demo's causal chain with `actions` orchestrator actions, ending
/// at `clock`, signed by keys drawn from `seed`: the keys and the chain's
/// entries in log order.
fn demo_chain(
    seed: u64,
    clock: i64,
    actions: usize,
) -> (crate::demo::DemoKeys, Vec<(u64, Vec<u8>)>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let keys = crate::demo::DemoKeys {
        approver: causeway_records::ProducerKey::generate(&mut rng),
        reviewer: causeway_records::ProducerKey::generate(&mut rng),
        issuer: causeway_records::ProducerKey::generate(&mut rng),
        verifier: causeway_records::ProducerKey::generate(&mut rng),
    };
    let steps = crate::demo::causal_chain(&keys, clock, actions, &mut rng).expect("the demo chain");
    let entries = (0u64..)
        .zip(
            steps
                .iter()
                .flat_map(|s| s.envelopes.iter().map(|(_, e)| e.encode())),
        )
        .collect();
    (keys, entries)
}

/// The demo keys' policy from `template` (approver, reviewer, issuer,
/// verifier public keys, base64 SPKI, in that order).
fn demo_policy(
    keys: &crate::demo::DemoKeys,
    template: impl Fn(&str, &str, &str, &str) -> String,
) -> ProducerPolicy {
    let b64 = |k: &causeway_records::ProducerKey| {
        base64::engine::general_purpose::STANDARD.encode(k.public_spki_der())
    };
    ProducerPolicy::parse(&template(
        &b64(&keys.approver),
        &b64(&keys.reviewer),
        &b64(&keys.issuer),
        &b64(&keys.verifier),
    ))
    .expect("policy")
}

// ---------------------------------------------------------------------------
// Clean corpora

#[test]
fn the_demo_chain_is_clean() {
    let (keys, entries) = demo_chain(1, NOW, 4);
    let policy = demo_policy(&keys, corpus::policy_toml);
    let n = entries.len() as u64;
    // Anchored once after the credential, once at the end.
    let report = analyze_with(&entries, &policy, &[(3, NOW - 229), (n, NOW + 5)]);
    assert_clean(&report);
    assert_eq!(report.summary.actions, 6);
    assert_eq!(report.summary.entries, entries.len());

    // The sub-agent's actions trace through two credentials to alice.
    let chain = &report.authorizations[0];
    assert_eq!(chain.credentials.len(), 2);
    let (orchestrator, sub) = (&chain.credentials[0], &chain.credentials[1]);
    assert_eq!((orchestrator.depth, sub.depth), (1, 2));
    assert_eq!(sub.parent, Some(orchestrator.index));
    assert_eq!((orchestrator.actions, sub.actions), (4, 2));
    assert!(orchestrator.closure.is_some() && sub.closure.is_some());
    assert_eq!(chain.reviews.len(), 1);
    assert_eq!(chain.preflights.len(), 1);
    let delegated = report
        .actions
        .iter()
        .find(|a| a.credential == Some(sub.index))
        .expect("a sub-agent action");
    assert_eq!(delegated.delegation_path, [sub.index, orchestrator.index]);
    assert_eq!(
        delegated.agent.as_ref().map(|a| a.id.as_str()),
        Some("agent://log-reader-2")
    );
    let row = &report.matrix.rows[0];
    assert!(
        row.authorized && row.documented && row.tested && row.reviewed && row.deviations_addressed
    );
}

#[test]
fn the_standard_corpus_is_clean() {
    let (report, built) = audit(&mut Corpus::standard(6));
    assert_clean(&report);
    assert_eq!(report.summary.actions, 9);
    assert_eq!(report.summary.records, built.entries.len());
    assert_eq!(report.summary.non_records, 0);
    let chain = &report.authorizations[0];
    assert_eq!(chain.signer, "alice@example.com");
    assert_eq!(
        chain.credentials[1].signer,
        "agent://orchestrator-7 (session key of credential 2)"
    );
    assert_eq!(chain.actions.len(), 9);
}

/// The stand-in leaf hashes the samples in `testdata/records` use for each
/// other, by the sample they stand for.
const SAMPLE_HASHES: [(&str, &str); 6] = [
    (
        "645e6ef35bb15e6bb1ab99bae37ed7d04b86f6b122440bb3fff3e9dbb798273d",
        "authorization",
    ),
    (
        "1612bcbe7f0a3d9da2d34b4c264e00d1e098d606ec7c824f01ed162f45b252ce",
        "preflight",
    ),
    (
        "485ec4faf294be108cdc595d802e3169d1f836b815d8a8c32c991ad43a43b610",
        "credential",
    ),
    (
        "7ec8522ffe27ad11726859b8eaaa8227f8be1b3a09bfcbc21d875f620e2b5c59",
        "credential-delegated",
    ),
    (
        "14ac2453abc7ab80fece5e0c47d7b993734a48f01cc1c653c1e5657fbbd7eaba",
        "action",
    ),
    (
        "b90e0411ded857dba70a6fa8a38d5c68e4d188138e6a741a87e1c57e8c2e64d0",
        "closure",
    ),
];

#[test]
fn the_sample_records_are_a_clean_chain() {
    macro_rules! sample {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!("../../../testdata/records/", $name, ".json")),
            )
        };
    }
    // In log order, with the key that signs each.
    let samples = [
        (sample!("authorization"), Kind::Authorization, "alice"),
        (sample!("preflight"), Kind::Preflight, "verifier"),
        (sample!("credential"), Kind::Credential, "issuer"),
        (sample!("credential-delegated"), Kind::Credential, "agent"),
        (sample!("action"), Kind::Action, "agent"),
        (sample!("outcome"), Kind::Outcome, "agent"),
        (sample!("exception-refused-call"), Kind::Exception, "issuer"),
        (sample!("exception"), Kind::Exception, "issuer"),
        (sample!("closure-delegated"), Kind::Closure, "issuer"),
        (sample!("closure"), Kind::Closure, "issuer"),
        (sample!("review"), Kind::Review, "bob"),
    ];
    let mut c = Corpus::new();
    for ((name, text), kind, signer) in samples {
        let mut body: serde_json::Value = serde_json::from_str(text).expect("sample JSON");
        // Stand-in hashes become the real leaf hashes, the session keys
        // keys this test holds.
        let object = body.as_object_mut().expect("an object");
        for value in object.values_mut() {
            if let Some(label) = value
                .as_str()
                .and_then(|h| SAMPLE_HASHES.iter().find(|(hash, _)| *hash == h))
            {
                *value = json!(format!("@ref:{}", label.1));
            }
        }
        if object.contains_key("session_key") {
            let key = if object.contains_key("parent") {
                "sub"
            } else {
                "agent"
            };
            object.insert("session_key".into(), json!(format!("@key:{key}")));
        }
        c.push(name, kind, body, signer);
    }
    let built = c.build();
    // The change was made on a Sunday by the on-call team.
    let policy = ProducerPolicy::parse(&format!(
        "{}\n[audit]\nworking_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n",
        corpus::policy_toml(
            &c.spki("alice"),
            &c.spki("bob"),
            &c.spki("issuer"),
            &c.spki("verifier")
        )
    ))
    .expect("policy");
    let report = analyze(&AuditInput {
        entries: &built.entries,
        policy: &policy,
        thresholds: &Thresholds::from_policy(&policy).expect("thresholds"),
        // Anchored after the review.
        anchors: &[(built.entries.len() as u64, 1_795_422_800)],
        now: NOW,
    });
    // The one finding is the sample of a call a gate refused.
    let kinds: Vec<FlagKind> = report.red_flags.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [FlagKind::CallRefused], "{:#?}", report.red_flags);
    assert!(report.invalid.is_empty(), "{:#?}", report.invalid);
    assert_eq!(report.matrix.totals.complete, 1, "{:#?}", report.matrix);
    let chain = &report.authorizations[0];
    assert_eq!(chain.credentials.len(), 2);
    assert!(chain.credentials.iter().all(|c| c.closure.is_some()));
    assert_eq!(chain.exceptions.len(), 2);
    assert_eq!(
        chain.exceptions[0].call_digest.as_deref(),
        Some("sha256:e9e2c439626d4dccb02cdcb1e5c8b79c3c5682c725339baef67ede3e9eb6d2d3")
    );
    assert_eq!(chain.exceptions[1].call_digest, None);
    assert!(report.actions[0].in_scope && report.actions[0].within_lifetime);
    // The action's call returned, and its outcome hangs off the chain.
    assert_eq!(chain.outcomes.len(), 1);
    assert_eq!(chain.outcomes[0].action, Some(report.actions[0].index));
    assert_eq!(
        report.actions[0].outcome.as_ref().map(|o| o.index),
        Some(chain.outcomes[0].index)
    );
    assert_eq!(
        (
            chain.credentials[0].outcomes_ok,
            chain.credentials[0].outcomes_error
        ),
        (1, 0)
    );
    assert_eq!(report.summary.outcomes, 1);
}

// ---------------------------------------------------------------------------
// One corpus per red flag

#[test]
fn agent_activity_as_human_by_rate() {
    let mut c = Corpus::standard(6);
    // Seven more records by alice's key within 35 s (eight in all); the
    // seventh exceeds six a minute.
    for i in 0..7 {
        c.push(
            &format!("auth{i}"),
            Kind::Authorization,
            corpus::authorization(-300 + i * 5, true),
            "alice",
        );
    }
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::AgentActivityAsHuman,
        &[built.at("auth6")],
    );
}

#[test]
fn agent_activity_as_human_by_agent_id() {
    let mut c = Corpus::standard(6);
    c.body("sub")["agent"]["id"] = json!("Alice@Example.com");
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::AgentActivityAsHuman, &[built.at("sub")]);
}

#[test]
fn agent_activity_as_human_by_session_key() {
    let mut c = Corpus::standard(6);
    c.body("sub")["session_key"] = json!("@key:alice");
    for label in ["subact0", "subact1", "subact2", "subclose"] {
        c.set_signer(label, "alice");
    }
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::AgentActivityAsHuman, &[built.at("sub")]);
    // The log would have admitted all of it.
    assert!(report.invalid.is_empty(), "{:#?}", report.invalid);
}

#[test]
fn shared_agent_identity_by_session_key() {
    let mut c = Corpus::standard(6);
    c.body("sub")["session_key"] = json!("@key:orch");
    for label in ["subact0", "subact1", "subact2", "subclose"] {
        c.set_signer(label, "orch");
    }
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::SharedAgentIdentity, &[built.at("sub")]);
}

#[test]
fn shared_agent_identity_by_agent_id_across_authorizations() {
    let mut c = Corpus::standard(6);
    c.push(
        "auth2",
        Kind::Authorization,
        corpus::authorization(T0 + 600, true),
        "alice",
    );
    c.push(
        "pre2",
        Kind::Preflight,
        corpus::preflight("auth2", "pass", T0 + 660),
        "verifier",
    );
    c.push(
        "cred2",
        Kind::Credential,
        json!({
            "serial": "jit-0002",
            "agent": {"id": "agent://orchestrator-7", "model": "claude-sonnet-4.5", "version": "2026-10-01"},
            "authorization": "@ref:auth2",
            "preflight": "@ref:pre2",
            "scope": corpus::scope(),
            "session_key": "@key:orch2",
            "issued_at": t(T0 + 720),
            "expires_at": t(T0 + 720 + 3600),
            "time": t(T0 + 720),
        }),
        "issuer",
    );
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::SharedAgentIdentity, &[built.at("cred2")]);
    assert_eq!(report.authorizations.len(), 2);
    assert_eq!(report.red_flags[0].authorization, Some(built.at("auth2")));
}

#[test]
fn action_without_credential() {
    let mut c = Corpus::standard(6);
    let nowhere = leaf_hash(b"nowhere").to_hex();
    let mut ghost = corpus::action("cred", 7, "prod/payments-api", ISSUED + 200);
    ghost["credential"] = json!(nowhere);
    c.insert_after("act5", "ghost", Kind::Action, ghost, "ghostkey");
    // A credential reference that names an authorization.
    c.insert_after(
        "ghost",
        "ghost2",
        Kind::Action,
        corpus::action("auth", 8, "prod/payments-api", ISSUED + 210),
        "ghostkey",
    );
    let (report, built) = audit(&mut c);
    let (ghost, ghost2) = (built.at("ghost"), built.at("ghost2"));
    assert_only(&report, FlagKind::ActionWithoutCredential, &[ghost, ghost2]);
    // The log would have refused both; the auditor still reports them.
    let invalid: Vec<u64> = report.invalid.iter().map(|i| i.index).collect();
    assert_eq!(invalid, [ghost, ghost2]);
    let action = report
        .actions
        .iter()
        .find(|a| a.index == ghost)
        .expect("reported");
    assert!(action.credential.is_none() && action.authorized_by.is_none());
    assert!(!action.in_scope && !action.within_lifetime && !action.valid);
    assert_eq!(
        report.summary.actions_with_named_human,
        report.summary.actions - 2
    );
}

#[test]
fn action_out_of_scope() {
    let mut c = Corpus::standard(6);
    c.body("act1")["target"] = json!("prod/billing-db");
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::ActionOutOfScope, &[built.at("act1")]);
    let action = report.actions.iter().find(|a| a.index == built.at("act1"));
    assert!(action.is_some_and(|a| !a.in_scope && a.red_flags == [0]));
}

#[test]
fn action_after_expiry() {
    let mut c = Corpus::standard(6);
    c.body("subact2")["time"] = json!(t(DELEGATED + 1000));
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::ActionAfterExpiry, &[built.at("subact2")]);
    // The log checks a session key's validity window too.
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].code, "permission_denied");
}

#[test]
fn action_after_revocation_of_the_credential_or_its_parent() {
    let mut c = Corpus::standard(6);
    c.insert_after(
        "act1",
        "revoke",
        Kind::Exception,
        json!({
            "credential": "@ref:cred",
            "reason": "scanner alert on the canary",
            "revoked": true,
            "time": t(ISSUED + 90),
        }),
        "issuer",
    );
    let (report, built) = audit(&mut c);
    let at = |labels: &[&str]| -> Vec<u64> { labels.iter().map(|l| built.at(l)).collect() };
    // By claimed time: the actions dated after the revocation.
    let by_time = at(&[
        "act2", "act3", "act4", "act5", "subact0", "subact1", "subact2",
    ]);
    // By log order: every session-key record after it, the delegation
    // and the sub-agent's closure included.
    let by_order = at(&[
        "act2", "act3", "act4", "act5", "sub", "subact0", "subact1", "subact2", "subclose",
    ]);
    let mut expected: Vec<(FlagKind, u64)> = by_time
        .iter()
        .map(|&r| (FlagKind::ActionAfterExpiry, r))
        .chain(
            by_order
                .iter()
                .map(|&r| (FlagKind::ActionAfterRevocation, r)),
        )
        // The sub-agent's closure was refused, so its session never closed.
        .chain([(FlagKind::SessionWithoutClosure, built.at("sub"))])
        .collect();
    expected.sort_by_key(|&(kind, record)| (record, kind));
    assert_eq!(flags(&report), expected, "{:#?}", report.red_flags);
    // The log would have refused each of them, naming the exception.
    let refused: Vec<u64> = report
        .invalid
        .iter()
        .filter(|i| i.code == "permission_denied")
        .map(|i| i.index)
        .collect();
    assert_eq!(refused, by_order);
    let revoke = built.at("revoke");
    assert!(
        report.invalid[0]
            .reason
            .contains(&format!("revoked by the exception at index {revoke}")),
        "{}",
        report.invalid[0].reason
    );
    assert_eq!(report.authorizations[0].exceptions.len(), 1);
}

#[test]
fn action_after_revocation_is_judged_by_log_order_not_claimed_time() {
    // The sub-agent's credential is revoked with a claimed time after
    // everything the sub-agent claims to have done; the log order shows
    // the actions came after it. (The revocation ends its session: no
    // session_without_closure.)
    let mut c = Corpus::standard(6);
    c.insert_after(
        "sub",
        "revoke",
        Kind::Exception,
        json!({
            "credential": "@ref:sub",
            "reason": "sub-agent misbehaved",
            "revoked": true,
            "time": t(DELEGATED + 500),
        }),
        "issuer",
    );
    let (report, built) = audit(&mut c);
    let mut expected: Vec<(FlagKind, u64)> = ["subact0", "subact1", "subact2", "subclose"]
        .iter()
        .map(|l| (FlagKind::ActionAfterRevocation, built.at(l)))
        .collect();
    expected.sort_by_key(|&(kind, record)| (record, kind));
    assert_eq!(flags(&report), expected, "{:#?}", report.red_flags);
    let flag = &report.red_flags[1];
    assert!(
        flag.detail.contains("its credential") && flag.detail.contains("revoked"),
        "{}",
        flag.detail
    );
    // The action report agrees: outside the credential's lifetime.
    let late = report
        .actions
        .iter()
        .find(|a| a.index == built.at("subact0"));
    assert!(late.is_some_and(|a| !a.within_lifetime && !a.valid));

    // A closure ends a session just as well: the issuer closes the
    // orchestrator's session after its second action.
    let mut c = Corpus::standard(2);
    c.remove("close");
    c.insert_after(
        "act0",
        "close",
        Kind::Closure,
        json!({
            "credential": "@ref:cred",
            "reason": "voluntary",
            "started_at": t(ISSUED),
            "ended_at": t(ISSUED + 2000),
            "actions": 2,
            "summary": "closed early",
            "time": t(ISSUED + 2000),
        }),
        "issuer",
    );
    c.body("review")["subject"] = json!("@ref:close");
    let (report, built) = audit(&mut c);
    let late: Vec<(FlagKind, u64)> = report
        .red_flags
        .iter()
        .filter(|f| f.kind == FlagKind::ActionAfterRevocation)
        .map(|f| (f.kind, f.record))
        .collect();
    let expected: Vec<(FlagKind, u64)> = ["act1", "sub", "subact0", "subclose"]
        .iter()
        .map(|l| (FlagKind::ActionAfterRevocation, built.at(l)))
        .collect();
    assert_eq!(late, expected, "{:#?}", report.red_flags);
    assert!(
        report
            .red_flags
            .iter()
            .any(|f| f.detail.contains("closed by the closure"))
    );
}

#[test]
fn delegation_widens_scope_by_target() {
    let mut c = Corpus::standard(6);
    c.body("sub")["scope"]["targets"] = json!(["prod/payments-api", "prod/billing-db"]);
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::DelegationWidensScope, &[built.at("sub")]);
}

#[test]
fn delegation_widens_scope_by_lifetime() {
    let mut c = Corpus::standard(6);
    c.body("sub")["expires_at"] = json!(t(ISSUED + 4000));
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::DelegationWidensScope, &[built.at("sub")]);
}

#[test]
fn credential_wider_than_its_authorization() {
    let mut c = Corpus::standard(6);
    c.body("cred")["scope"]["actions"] =
        json!(["deploy", "rotate-credential", "read-logs", "drop-database"]);
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::DelegationWidensScope,
        &[built.at("cred")],
    );
}

#[test]
fn implausible_approval_rate() {
    let mut c = Corpus::standard(6);
    // Twelve more approvals by alice, a minute apart: the thirteenth in an
    // hour exceeds twelve.
    for i in 1..=12 {
        c.push(
            &format!("extra{i}"),
            Kind::Authorization,
            corpus::authorization(T0 + 60 * i, true),
            "alice",
        );
    }
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::ImplausibleApprovalRate,
        &[built.at("extra12")],
    );
}

#[test]
fn approval_outside_hours() {
    let mut c = Corpus::standard(6);
    // Sunday 03:00 UTC.
    let sunday = -(2 * 86_400 + 11 * 3_600);
    c.push(
        "late",
        Kind::Authorization,
        corpus::authorization(sunday, true),
        "alice",
    );
    // A review late on Monday evening.
    let monday_night = -(14 * 3_600) - 1_800;
    *c.body("review") = corpus::review("close", monday_night - 600, monday_night, 9);
    let (report, built) = audit(&mut c);
    let mut expected = [built.at("review"), built.at("late")];
    expected.sort();
    assert_only(&report, FlagKind::ApprovalOutsideHours, &expected);
}

#[test]
fn review_too_fast() {
    let mut c = Corpus::standard(6);
    c.body("review")["items"] = json!(1000);
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::ReviewTooFast, &[built.at("review")]);
    // A review that is itself too fast addresses nothing.
    assert!(!report.matrix.rows[0].deviations_addressed);
}

#[test]
fn missing_preflight_reference() {
    let mut c = Corpus::standard(6);
    if let Some(sub) = c.body("sub").as_object_mut() {
        sub.remove("preflight");
    }
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::MissingPreflight, &[built.at("sub")]);
}

#[test]
fn missing_preflight_dated_after_issuance() {
    let mut c = Corpus::standard(6);
    c.body("pre")["time"] = json!(t(ISSUED + 10));
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::MissingPreflight, &[built.at("cred")]);
    assert!(!report.matrix.rows[0].tested);
    let action = &report.actions[0];
    assert!(
        action
            .preflight
            .as_ref()
            .is_some_and(|p| !p.before_issuance)
    );
}

#[test]
fn self_preflight() {
    let mut c = Corpus::standard(6);
    // The orchestrator's own session key signs the pre-flight that its
    // credential (and its delegate's) rely on.
    c.set_signer("pre", "orch");
    let (report, built) = audit(&mut c);
    // No principal may sign it, so the log would have refused it: the
    // auditor judges it anyway (the agent vouched for itself), and an
    // invalid pre-flight is no pre-flight.
    let (cred, sub) = (built.at("cred"), built.at("sub"));
    assert_eq!(
        flags(&report),
        [
            (FlagKind::MissingPreflight, cred),
            (FlagKind::SelfPreflight, cred),
            (FlagKind::MissingPreflight, sub),
            (FlagKind::SelfPreflight, sub),
        ],
        "{:#?}",
        report.red_flags
    );
    let invalid: Vec<u64> = report.invalid.iter().map(|i| i.index).collect();
    assert_eq!(invalid, [built.at("pre")]);
    assert!(!report.matrix.rows[0].tested);
}

#[test]
fn blocked_preflight_referenced() {
    let mut c = Corpus::standard(6);
    c.body("pre")["verdict"] = json!("block");
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::BlockedPreflightIgnored,
        &[built.at("cred"), built.at("sub")],
    );
    assert!(!report.matrix.rows[0].tested);
}

#[test]
fn blocked_preflight_superseded_by_the_latest() {
    // A block after the pass the credential references still stands.
    let mut c = Corpus::standard(6);
    c.insert_after(
        "pre",
        "block",
        Kind::Preflight,
        corpus::preflight("auth", "block", T0 + 90),
        "verifier",
    );
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::BlockedPreflightIgnored,
        &[built.at("cred"), built.at("sub")],
    );

    // A block followed by a pass is resolved.
    let mut c = Corpus::standard(6);
    c.insert_after(
        "auth",
        "block",
        Kind::Preflight,
        corpus::preflight("auth", "block", T0 + 30),
        "verifier",
    );
    let (report, _) = audit(&mut c);
    assert!(report.red_flags.is_empty(), "{:#?}", report.red_flags);
    assert_eq!(report.authorizations[0].preflights.len(), 2);
}

#[test]
fn session_without_closure() {
    let mut c = Corpus::standard(6);
    c.remove("subclose");
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::SessionWithoutClosure, &[built.at("sub")]);
    let chain = &report.authorizations[0];
    assert!(chain.credentials.iter().any(|c| c.closure.is_none()));
}

#[test]
fn authorization_without_mfa() {
    let mut c = Corpus::standard(6);
    c.body("auth")["authn"]["mfa"] = json!(false);
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::AuthorizationWithoutMfa,
        &[built.at("auth")],
    );
    assert_eq!(report.authorizations[0].red_flags, [0]);
    // The later review of the chain addresses it.
    assert!(report.matrix.rows[0].deviations_addressed);
}

#[test]
fn authorization_not_idp_bound() {
    // An unsigned token claiming a login at an identity provider the
    // policy does not pin: the record keeps its place in the chain, and
    // the flag says why its login is unproven.
    use base64::Engine as _;
    let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let token = format!(
        "{}.{}.",
        b64(r#"{"alg":"none"}"#),
        b64(r#"{"iss":"https://sso.example.com","sub":"alice@example.com"}"#)
    );
    let mut c = Corpus::standard(6);
    c.body("auth")["authn"]["id_token"] = json!(token);
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::AuthorizationNotIdpBound,
        &[built.at("auth")],
    );
    let flag = &report.red_flags[0];
    assert!(flag.detail.contains("claim iss"), "{}", flag.detail);
    assert_eq!(
        report.authorizations[0].idp.status,
        crate::audit::IdpStatus::Invalid
    );
}

#[test]
fn backdated_record() {
    let mut c = Corpus::standard(6);
    let built = c.build();
    let policy = c.policy();
    // An anchor over the first three entries (auth, pre, cred) whose
    // genTime is 320 s before the credential's claimed time.
    let cred = built.at("cred");
    let anchors = [
        (cred + 1, NOW + ISSUED - 320),
        (built.entries.len() as u64, NOW + 5),
    ];
    let report = analyze_with(&built.entries, &policy, &anchors);
    assert_only(&report, FlagKind::BackdatedRecord, &[cred]);
    // Within the skew it is fine.
    let anchors = [(cred + 1, NOW + ISSUED - 300)];
    assert!(
        analyze_with(&built.entries, &policy, &anchors)
            .red_flags
            .is_empty()
    );
}

#[test]
fn every_flag_kind_has_a_scenario() {
    // The scenarios above cover FlagKind::ALL; this keeps the names a
    // contract.
    let names: Vec<&str> = FlagKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "agent_activity_as_human",
            "identity_mismatch",
            "shared_agent_identity",
            "credential_without_agent_identity",
            "action_without_credential",
            "action_not_signed_by_session",
            "action_out_of_scope",
            "action_after_expiry",
            "action_after_revocation",
            "action_without_outcome",
            "outcome_duplicate",
            "call_refused",
            "delegation_widens_scope",
            "implausible_approval_rate",
            "approval_outside_hours",
            "review_too_fast",
            "self_review",
            "missing_preflight",
            "self_preflight",
            "blocked_preflight_ignored",
            "session_without_closure",
            "authorization_without_mfa",
            "authorization_not_idp_bound",
            "backdated_record",
            "record_predates_admission",
        ]
    );
    for kind in FlagKind::ALL {
        assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
    }
}

#[test]
fn the_demo_chain_is_clean_at_any_hour_under_the_dev_policy() {
    // `causeway-server --dev`'s policy: the humans have time zones, and the
    // demo may run at any hour, so its working hours are the whole week.
    let dev_policy = |alice: &str, bob: &str, issuer: &str, verifier: &str| {
        corpus::policy_toml(alice, bob, issuer, verifier)
            .replacen(
                "role = \"human\"\n",
                "role = \"human\"\ntz = \"America/Los_Angeles\"\n",
                1,
            )
            .replacen(
                "name = \"bob@example.com\"\nrole = \"human\"\n",
                "name = \"bob@example.com\"\nrole = \"human\"\ntz = \"Europe/Berlin\"\n",
                1,
            )
            + "\n[audit]\nworking_hours = \"00:00-24:00\"\n\
               working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n"
    };
    let midnight = NOW - 14 * 3_600; // Tuesday 00:00 UTC
    for (label, clock) in [
        ("01:00", midnight + 3_600),
        ("12:00", midnight + 12 * 3_600),
        ("23:30", midnight + 23 * 3_600 + 1_800),
        // The chain straddles midnight, and Saturday into Sunday.
        ("00:02", midnight + 120),
        ("sunday 00:02", midnight - 2 * 86_400 + 120),
    ] {
        let (keys, entries) = demo_chain(2, clock, 10);
        let policy = demo_policy(&keys, dev_policy);
        assert_eq!(policy.principals()[0].tz_name(), "America/Los_Angeles");
        let thresholds = Thresholds::from_policy(&policy).expect("thresholds");
        let n = entries.len() as u64;
        // An anchor of the log before the demo, one after the credential
        // and one at the end, each stamped just after its tree was made.
        let anchors = [
            (0, clock - crate::demo::CHAIN_SPAN_SECS - 10),
            (3, clock - crate::demo::CHAIN_SPAN_SECS + 11),
            (n, clock + 2),
        ];
        let report = analyze(&AuditInput {
            entries: &entries,
            policy: &policy,
            thresholds: &thresholds,
            anchors: &anchors,
            now: clock + 60,
        });
        assert!(
            report.red_flags.is_empty(),
            "{label}: {:#?}",
            report.red_flags
        );
        assert!(report.invalid.is_empty(), "{label}: {:#?}", report.invalid);
        assert_eq!(report.summary.actions, 15, "{label}");
        assert_eq!(report.matrix.totals.complete, 1, "{label}");

        // Every record is recent enough for a log with the default
        // max_past_skew (5m) to admit it when `causeway demo` submits it.
        for (_, bytes) in &entries {
            let record = Envelope::decode(bytes)
                .and_then(|e| e.record())
                .expect("a record");
            assert!(
                record
                    .time()
                    .saturating_add(causeway_records::DEFAULT_MAX_PAST_SKEW_SECS)
                    > clock + 30
                    && record.time() <= clock,
                "{label}: {:?} at {}",
                record.kind(),
                record.time()
            );
        }

        // Under the default thresholds (07:00-20:00 on weekdays, each
        // human in their zone) the same chain is judged by the clock.
        let strict = analyze(&AuditInput {
            entries: &entries,
            policy: &policy,
            thresholds: &Thresholds::default(),
            anchors: &anchors,
            now: clock + 60,
        });
        let outside: Vec<FlagKind> = strict.red_flags.iter().map(|f| f.kind).collect();
        assert!(
            outside.iter().all(|&k| k == FlagKind::ApprovalOutsideHours),
            "{label}: {outside:?}"
        );
    }
}

/// The test policy with time zones for alice and bob.
fn policy_with_zones(c: &mut Corpus, alice: &str, bob: &str) -> ProducerPolicy {
    let text = corpus::policy_toml(
        &c.spki("alice"),
        &c.spki("bob"),
        &c.spki("issuer"),
        &c.spki("verifier"),
    )
    .replacen(
        "name = \"alice@example.com\"\nrole = \"human\"\n",
        &format!("name = \"alice@example.com\"\nrole = \"human\"\ntz = \"{alice}\"\n"),
        1,
    )
    .replacen(
        "name = \"bob@example.com\"\nrole = \"human\"\n",
        &format!("name = \"bob@example.com\"\nrole = \"human\"\ntz = \"{bob}\"\n"),
        1,
    );
    ProducerPolicy::parse(&text).expect("the zoned policy parses")
}

#[test]
fn approval_outside_hours_is_judged_in_each_humans_time_zone() {
    // The standard chain: alice approves at 13:00 UTC on Tuesday
    // 2026-11-24, bob reviews at 13:59 UTC.
    let mut c = Corpus::standard(6);
    let built = c.build();
    // In Los Angeles (PST, UTC-8) 13:00 UTC is 05:00: too early. In
    // Berlin (CET, UTC+1) 13:59 UTC is 14:59: fine.
    let policy = policy_with_zones(&mut c, "America/Los_Angeles", "Europe/Berlin");
    let report = analyze_with(&built.entries, &policy, &built.clean_anchors());
    assert_only(&report, FlagKind::ApprovalOutsideHours, &[built.at("auth")]);
    let detail = &report.red_flags[0].detail;
    assert!(
        detail.contains("tue 05:00 in America/Los_Angeles")
            && detail.contains("principal \"alice@example.com\""),
        "{detail}"
    );
    // In Tokyo (UTC+9) bob's 13:59 UTC is 22:59: too late.
    let policy = policy_with_zones(&mut c, "Europe/London", "Asia/Tokyo");
    let report = analyze_with(&built.entries, &policy, &built.clean_anchors());
    assert_only(
        &report,
        FlagKind::ApprovalOutsideHours,
        &[built.at("review")],
    );

    // A review at 21:00 UTC, outside the hours in UTC, is 16:00 in New
    // York (EST, UTC-5): inside.
    let mut c = Corpus::standard(6);
    *c.body("review") = corpus::review("close", 7 * 3_600 - 600, 7 * 3_600, 9);
    let built = c.build();
    let utc = c.policy();
    let report = analyze_with(
        &built.entries,
        &utc,
        &[(built.entries.len() as u64, NOW + 7 * 3_600 + 5)],
    );
    assert_only(
        &report,
        FlagKind::ApprovalOutsideHours,
        &[built.at("review")],
    );
    let zoned = policy_with_zones(&mut c, "UTC", "America/New_York");
    let report = analyze_with(
        &built.entries,
        &zoned,
        &[(built.entries.len() as u64, NOW + 7 * 3_600 + 5)],
    );
    assert!(report.red_flags.is_empty(), "{:#?}", report.red_flags);
}

#[test]
fn identity_mismatch() {
    // bob signs a review as "robert", a name his principal does not list.
    let mut c = Corpus::standard(6);
    c.body("review")["reviewer"]["subject"] = json!("robert@example.com");
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::IdentityMismatch, &[built.at("review")]);
    let detail = &report.red_flags[0].detail;
    assert!(
        detail.contains("reviewer.subject is \"robert@example.com\"")
            && detail.contains("principal \"bob@example.com\""),
        "{detail}"
    );
    // The log refuses it now; the auditor flags it in old logs too, and it
    // reviews nothing.
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].code, "permission_denied");
    assert!(!report.matrix.rows[0].reviewed);

    // The issuer's key signs an authorization in alice's name.
    let mut c = Corpus::standard(6);
    c.set_signer("auth", "issuer");
    let (report, built) = audit(&mut c);
    assert!(
        report
            .red_flags
            .iter()
            .any(|f| f.kind == FlagKind::IdentityMismatch
                && f.record == built.at("auth")
                && f.detail.contains("principal \"jit-issuer\"")),
        "{:#?}",
        report.red_flags
    );
}

#[test]
fn self_review() {
    // alice reviews the change she approved.
    let mut c = Corpus::standard(6);
    c.body("review")["reviewer"]["subject"] = json!("alice@example.com");
    c.set_signer("review", "alice");
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::SelfReview, &[built.at("review")]);
    assert!(report.invalid.is_empty(), "{:#?}", report.invalid);
    assert!(
        report.red_flags[0]
            .detail
            .contains("principal \"alice@example.com\""),
        "{}",
        report.red_flags[0].detail
    );
    // A self-review is no review, and addresses nothing.
    let row = &report.matrix.rows[0];
    assert!(!row.reviewed && !row.deviations_addressed);

    // Reviewing a credential of her own authorization is the same.
    c.body("review")["subject"] = json!("@ref:sub");
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::SelfReview, &[built.at("review")]);
}

#[test]
fn record_predates_admission() {
    let mut c = Corpus::standard(6);
    let built = c.build();
    let policy = c.policy();
    // A tree of the first six entries (up to act2) was stamped 301 s after
    // act3's claimed time: act3, not in that tree, claims a time before it
    // could have been logged.
    let act3 = built.at("act3");
    let act3_time = NOW + ISSUED + 60 + 3 * 20;
    let anchors = [
        (act3, act3_time + 301),
        (built.entries.len() as u64, NOW + 5),
    ];
    let report = analyze_with(&built.entries, &policy, &anchors);
    assert_only(&report, FlagKind::RecordPredatesAdmission, &[act3]);
    let detail = &report.red_flags[0].detail;
    assert!(
        detail.contains(&format!("tree size {act3}")) && detail.contains("301s before"),
        "{detail}"
    );
    // Within the skew it is fine; so is a tree that contains it.
    let anchors = [(act3, act3_time + 300)];
    assert!(
        analyze_with(&built.entries, &policy, &anchors)
            .red_flags
            .is_empty()
    );
    let anchors = [(act3 + 1, act3_time + 290)];
    assert!(
        analyze_with(&built.entries, &policy, &anchors)
            .red_flags
            .is_empty()
    );
}

#[test]
fn credential_without_agent_identity() {
    let mut c = Corpus::standard(6);
    c.body("sub")["agent"]["id"] = json!(" ");
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::CredentialWithoutAgentIdentity,
        &[built.at("sub")],
    );
    // The log refuses it now (INVALID_ARGUMENT).
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].code, "invalid_argument");
    assert!(report.invalid[0].reason.contains("agent.id is empty"));
}

#[test]
fn action_out_of_scope_by_operation() {
    let mut c = Corpus::standard(6);
    c.body("act1")["operation"] = json!("drop-database");
    c.body("act2")["operation"] = json!("rotate-credential");
    c.body("cred")["scope"]["actions"] = json!(["deploy", "rotate-credential", "read-logs:*"]);
    c.body("sub")["scope"]["actions"] = json!(["read-logs:*"]);
    c.body("subact0")["operation"] = json!("read-logs:payments-api-0");
    c.body("subact1")["operation"] = json!("write-logs:payments-api-0");
    // The authorization allows the patterns the credentials hold.
    c.body("auth")["scope"]["actions"] = json!(["deploy", "rotate-credential", "read-logs:*"]);
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::ActionOutOfScope,
        &[built.at("act1"), built.at("subact1")],
    );
    let detail = &report.red_flags[0].detail;
    assert!(
        detail.contains("operation \"drop-database\" matches none") && !detail.contains("target"),
        "{detail}"
    );
    let action = report.actions.iter().find(|a| a.index == built.at("act1"));
    assert!(action.is_some_and(|a| !a.in_scope));

    // A wrong target is named as such.
    let mut c = Corpus::standard(6);
    c.body("act1")["target"] = json!("prod/billing-db");
    c.body("act1")["operation"] = json!("deploy");
    let (report, _) = audit(&mut c);
    let detail = &report.red_flags[0].detail;
    assert!(
        detail.contains("target \"prod/billing-db\" is not in") && !detail.contains("operation"),
        "{detail}"
    );
}

#[test]
fn scope_action_patterns() {
    use super::graph::glob_match;
    for (pattern, text) in [
        ("deploy", "deploy"),
        ("git.push:branch/fix/*", "git.push:branch/fix/x"),
        ("git.push:branch/fix/*", "git.push:branch/fix/a/b"),
        ("*", "anything:at/all"),
        ("read-?", "read-x"),
        ("a*b*c", "aXbYbZc"),
        ("*", ""),
    ] {
        assert!(glob_match(pattern, text), "{pattern} should match {text}");
    }
    for (pattern, text) in [
        ("deploy", "deploy-all"),
        ("deploy", "deplo"),
        ("git.push:branch/fix/*", "git.push:branch/main"),
        ("read-?", "read-"),
        ("a*b*c", "aXbYbZ"),
        ("", "x"),
    ] {
        assert!(
            !glob_match(pattern, text),
            "{pattern} should not match {text}"
        );
    }
}

#[test]
fn action_not_signed_by_session() {
    let mut c = Corpus::standard(6);
    c.set_signer("act2", "issuer");
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::ActionNotSignedBySession,
        &[built.at("act2")],
    );
    let detail = &report.red_flags[0].detail;
    assert!(
        detail.contains("jit-issuer") && detail.contains("session key"),
        "{detail}"
    );
    // It is also an invalid entry, and the action is traced through no
    // valid record.
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].index, built.at("act2"));
    assert!(!report.matrix.rows[0].documented);
}

#[test]
fn an_invalid_closure_closes_nothing() {
    // The sub-agent's closure is signed by a key outside the policy.
    let mut c = Corpus::standard(6);
    c.set_signer("subclose", "stranger");
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::SessionWithoutClosure, &[built.at("sub")]);
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].index, built.at("subclose"));

    // One referencing a credential the log does not have.
    let mut c = Corpus::standard(6);
    c.body("subclose")["credential"] = json!(leaf_hash(b"elsewhere").to_hex());
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::SessionWithoutClosure, &[built.at("sub")]);
    assert_eq!(report.invalid[0].code, "failed_precondition");
}

#[test]
fn an_invalid_preflight_is_no_preflight() {
    // Signed by a key outside the policy: not the agent's, so only
    // missing_preflight, on both credentials that rely on it.
    let mut c = Corpus::standard(6);
    c.set_signer("pre", "stranger");
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::MissingPreflight,
        &[built.at("cred"), built.at("sub")],
    );
    assert!(
        report.red_flags[0]
            .detail
            .contains("is invalid, so it is no pre-flight"),
        "{}",
        report.red_flags[0].detail
    );
    // The matrix agrees: the change was not tested.
    assert!(!report.matrix.rows[0].tested);

    // A pre-flight of an entry that is not in the log: invalid, and it
    // verified nothing of this chain.
    let mut c = Corpus::standard(6);
    c.body("pre")["subject"] = json!(leaf_hash(b"elsewhere").to_hex());
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::MissingPreflight,
        &[built.at("cred"), built.at("sub")],
    );
    assert_eq!(report.invalid[0].code, "failed_precondition");
    assert!(!report.matrix.rows[0].tested);
}

#[test]
fn implausible_review_rate() {
    let mut c = Corpus::standard(6);
    // Twelve more reviews by bob, four minutes apart (each long enough for
    // the nine actions): with the chain's own review, thirteen within an
    // hour exceeds twelve.
    for i in 0..12 {
        let finished = -3_000 + i * 240;
        c.push(
            &format!("rev{i}"),
            Kind::Review,
            corpus::review("close", finished - 200, finished, 9),
            "bob",
        );
    }
    let (report, built) = audit(&mut c);
    assert_only(
        &report,
        FlagKind::ImplausibleApprovalRate,
        &[built.at("review")],
    );
    assert!(
        report.red_flags[0]
            .detail
            .contains("13 reviews signed by principal \"bob@example.com\"")
            && report.red_flags[0].detail.contains("max_reviews_per_hour"),
        "{}",
        report.red_flags[0].detail
    );
}

#[test]
fn review_too_fast_judges_what_the_log_shows_it_covered() {
    // The review claims one item and took 100 s; the log shows the nine
    // actions of the authorization it reviews, 11 s each.
    let mut c = Corpus::standard(6);
    *c.body("review") = corpus::review("close", -160, -60, 1);
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::ReviewTooFast, &[built.at("review")]);
    let detail = &report.red_flags[0].detail;
    assert!(
        detail.contains("9 action(s) of authorization 0 before it (it claims 1 item(s))"),
        "{detail}"
    );
    // The claimed items still raise the bar above what the log shows.
    *c.body("review") = corpus::review("close", -600, -60, 30);
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::ReviewTooFast, &[built.at("review")]);
}

// ---------------------------------------------------------------------------
// The matrix

#[test]
fn matrix_without_a_review() {
    let mut c = Corpus::standard(6);
    c.remove("review");
    let (report, _) = audit(&mut c);
    assert!(report.red_flags.is_empty(), "{:#?}", report.red_flags);
    let row = &report.matrix.rows[0];
    assert!(!row.reviewed);
    assert!(row.authorized && row.documented && row.tested && row.deviations_addressed);
    let t = &report.matrix.totals;
    assert_eq!((t.authorizations, t.reviewed, t.complete), (1, 0, 0));
}

#[test]
fn matrix_deviation_addressed_by_an_exception() {
    let mut c = Corpus::standard(6);
    c.body("auth")["authn"]["mfa"] = json!(false);
    c.remove("review");
    let (report, _) = audit(&mut c);
    assert!(!report.matrix.rows[0].deviations_addressed);

    c.push(
        "exception",
        Kind::Exception,
        json!({
            "credential": "@ref:cred",
            "reason": "approval without MFA confirmed by phone with alice",
            "revoked": false,
            "time": t(-30),
        }),
        "issuer",
    );
    let (report, _) = audit(&mut c);
    assert!(report.matrix.rows[0].deviations_addressed);
    assert_eq!(report.authorizations[0].exceptions.len(), 1);
}

#[test]
fn matrix_unauthorized_and_undocumented() {
    let mut c = Corpus::standard(6);
    // Signed by the issuer instead of a human; the plan has no backout.
    c.set_signer("auth", "issuer");
    c.body("auth")["plan"]["backout"] = json!(" ");
    let (report, _) = audit(&mut c);
    let row = &report.matrix.rows[0];
    assert!(!row.authorized && !row.documented);
    assert!(row.tested && row.reviewed);
    assert_eq!(report.invalid[0].code, "permission_denied");
}

// ---------------------------------------------------------------------------
// Entries that are not valid records

#[test]
fn non_records_duplicates_and_bad_signatures() {
    let mut c = Corpus::standard(6);
    let mut built = c.build();
    let policy = c.policy();
    let act3 = built.at("act3") as usize;

    // Flip a bit of an action's signature.
    let mut envelope = Envelope::decode(&built.entries[act3].1).expect("decodes");
    if let Some(last) = envelope.signatures[0].sig.last_mut() {
        *last ^= 1;
    }
    built.entries[act3].1 = envelope.encode();

    let mut entries = built.entries.clone();
    let mut add = |bytes: Vec<u8>| entries.push((entries.len() as u64, bytes));
    add(b"opaque bytes, not a record".to_vec());
    add(vec![0xff; 16]);
    // A second copy of the authorization.
    add(built.entries[0].1.clone());
    // A Causeway envelope whose payload is not a record.
    add(Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload: b"garbage".to_vec(),
        signatures: Vec::new(),
    }
    .encode());
    let n = built.entries.len() as u64;

    let report = analyze_with(&entries, &policy, &[]);
    let s = &report.summary;
    assert_eq!(s.entries, entries.len());
    assert_eq!(s.non_records, 2);
    assert_eq!(s.records, built.entries.len() + 2);
    assert_eq!(s.actions, 9);
    assert_eq!(s.authorizations, 1);
    let invalid: Vec<(u64, &str)> = report.invalid.iter().map(|i| (i.index, i.code)).collect();
    assert_eq!(
        invalid,
        [
            (act3 as u64, "invalid_argument"),
            (n, "not_a_record"),
            (n + 1, "not_a_record"),
            (n + 2, "duplicate"),
            (n + 3, "invalid_argument"),
        ]
    );
    assert_eq!(report.invalid[0].kind, Some(Kind::Action));
    assert!(
        report.invalid[0].reason.contains("does not verify"),
        "{}",
        report.invalid[0].reason
    );
    assert!(report.red_flags.is_empty(), "{:#?}", report.red_flags);
    let action = report
        .actions
        .iter()
        .find(|a| a.index == act3 as u64)
        .expect("still reported");
    assert!(!action.valid && action.authorized_by.is_some());
    assert!(
        action.signer.ends_with("signature not verified"),
        "{}",
        action.signer
    );
    // The traced-through-valid-records part of "documented" fails.
    assert!(!report.matrix.rows[0].documented);
}

// ---------------------------------------------------------------------------
// Thresholds

#[test]
fn threshold_defaults() {
    let t = Thresholds::default();
    assert_eq!(t.working_hours.to_string(), "07:00-20:00");
    assert_eq!(
        t.working_days,
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri
        ]
    );
    assert_eq!(t.max_approvals_per_hour, 12);
    assert_eq!(t.max_reviews_per_hour, 12);
    assert_eq!(t.min_review_seconds_per_item, 20);
    assert_eq!(t.human_max_records_per_minute, 6);
    assert_eq!(t.max_clock_skew_secs, 300);
    assert_eq!(Weekday::of_unix(NOW), Weekday::Tue);
    assert_eq!(Weekday::of_unix(0), Weekday::Thu);
    assert!(t.is_working_time(NOW));
    assert!(!t.is_working_time(NOW + 6 * 3_600)); // 20:00 is outside
    assert!(t.is_working_time(NOW + 6 * 3_600 - 1));
    assert!(!t.is_working_time(NOW - 2 * 86_400)); // Sunday
}

#[test]
fn working_hours_parse_and_wrap() {
    let night = WorkingHours::parse("22:00-06:00").expect("wraps");
    assert!(night.contains(23 * 60) && night.contains(0) && night.contains(5 * 60 + 59));
    assert!(!night.contains(6 * 60) && !night.contains(12 * 60));
    let day = WorkingHours::parse("00:00-24:00").expect("whole day");
    assert!(day.contains(0) && day.contains(1439));
    for bad in [
        "",
        "7-20",
        "07:00",
        "07:00-25:00",
        "24:00-07:00",
        "07:00-07:00",
        "7:00-20:00",
    ] {
        let e = WorkingHours::parse(bad).expect_err(bad);
        assert!(e.to_string().contains("working_hours"), "{e}");
    }
}

fn policy_with_audit(audit: &str) -> Result<Thresholds, ThresholdError> {
    let mut c = Corpus::new();
    let text = corpus::policy_toml(
        &c.spki("alice"),
        &c.spki("bob"),
        &c.spki("issuer"),
        &c.spki("verifier"),
    );
    let policy = ProducerPolicy::parse(&format!("{text}\n{audit}")).expect("policy");
    Thresholds::from_policy(&policy)
}

#[test]
fn thresholds_from_the_policy() {
    assert_eq!(policy_with_audit(""), Ok(Thresholds::default()));
    let t = policy_with_audit(
        "[audit]\nworking_hours = \"08:30-17:00\"\nworking_days = [\"mon\", \"sat\"]\n\
         max_approvals_per_hour = 3\nmax_reviews_per_hour = 4\nmin_review_seconds_per_item = 45\n\
         human_max_records_per_minute = 2\nmax_clock_skew_secs = 60\n",
    )
    .expect("thresholds");
    assert_eq!(t.working_hours.to_string(), "08:30-17:00");
    assert_eq!(t.working_days, [Weekday::Mon, Weekday::Sat]);
    assert_eq!(
        (
            t.max_approvals_per_hour,
            t.max_reviews_per_hour,
            t.min_review_seconds_per_item,
            t.human_max_records_per_minute,
            t.max_clock_skew_secs
        ),
        (3, 4, 45, 2, 60)
    );
    // Partial tables keep the other defaults.
    let t = policy_with_audit("[audit]\nmax_approvals_per_hour = 30\n").expect("partial");
    assert_eq!(t.max_approvals_per_hour, 30);
    assert_eq!(t.min_review_seconds_per_item, 20);
}

#[test]
fn threshold_errors_name_the_key() {
    let e = policy_with_audit("[audit]\nmax_approvals_per_hr = 3\nworking_hour = \"x\"\n")
        .expect_err("unknown keys");
    assert_eq!(
        e,
        ThresholdError::UnknownKeys {
            keys: vec!["max_approvals_per_hr".into(), "working_hour".into()]
        }
    );
    let shown = e.to_string();
    assert!(
        shown.contains("\"max_approvals_per_hr\"") && shown.contains("max_approvals_per_hour"),
        "{shown}"
    );

    let e = policy_with_audit("[audit]\nmax_approvals_per_hour = -1\n").expect_err("negative");
    assert!(
        matches!(&e, ThresholdError::Value { key, .. } if key == "max_approvals_per_hour"),
        "{e}"
    );
    let e = policy_with_audit("[audit]\nworking_days = [\"monday\"]\n").expect_err("day");
    assert!(e.to_string().starts_with("working_days: "), "{e}");
    let e = policy_with_audit("[audit]\nworking_hours = \"9-5\"\n").expect_err("hours");
    assert!(matches!(e, ThresholdError::WorkingHours { .. }), "{e}");
}

#[test]
fn thresholds_deserialize_from_toml_with_serde() {
    // The derive is usable on its own (for example by a config loader).
    let t: Thresholds = serde_json::from_value(json!({"working_days": ["sun"]})).expect("json");
    assert_eq!(t.working_days, [Weekday::Sun]);
    assert_eq!(t.working_hours, Thresholds::default().working_hours);
    assert!(serde_json::from_value::<Thresholds>(json!({"nope": 1})).is_err());
}

// ---------------------------------------------------------------------------
// The JSON contract

#[test]
fn report_json_shape() {
    let mut c = Corpus::standard(2);
    c.body("act1")["target"] = json!("prod/billing-db");
    let (report, _) = audit(&mut c);
    let value = serde_json::to_value(&report).expect("serializes");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&value),
        [
            "actions",
            "authorizations",
            "invalid",
            "matrix",
            "red_flags",
            "summary",
            "thresholds"
        ]
    );
    for key in [
        "entries",
        "records",
        "non_records",
        "authorizations",
        "credentials",
        "actions",
        "red_flags",
        "actions_with_named_human",
    ] {
        assert!(value["summary"][key].is_u64(), "summary.{key}");
    }
    assert_eq!(
        value["summary"]["red_flags_by_kind"],
        json!({"action_out_of_scope": 1})
    );
    let flag = &value["red_flags"][0];
    assert_eq!(flag["kind"], "action_out_of_scope");
    for key in ["record", "leaf_hash", "detail"] {
        assert!(!flag[key].is_null(), "red_flags[0].{key}");
    }
    let action = &value["actions"][0];
    for key in [
        "index",
        "leaf_hash",
        "time",
        "tool",
        "target",
        "credential",
        "agent",
        "delegation_path",
        "authorization",
        "authorized_by",
        "in_scope",
        "within_lifetime",
        "preflight",
    ] {
        assert!(action.get(key).is_some(), "actions[0].{key}");
    }
    for key in ["id", "model"] {
        assert!(action["agent"][key].is_string(), "agent.{key}");
    }
    for key in [
        "subject",
        "issuer",
        "authn_method",
        "mfa",
        "assurance",
        "authenticated_at",
    ] {
        assert!(
            !action["authorized_by"][key].is_null(),
            "authorized_by.{key}"
        );
    }
    for key in ["index", "verdict", "time", "before_issuance", "signer"] {
        assert!(!action["preflight"][key].is_null(), "preflight.{key}");
    }
    let chain = &value["authorizations"][0];
    for key in [
        "index",
        "leaf_hash",
        "approver",
        "authn",
        "plan",
        "scope",
        "ticket",
        "time",
        "preflights",
        "credentials",
        "reviews",
        "exceptions",
        "red_flags",
    ] {
        assert!(chain.get(key).is_some(), "authorizations[0].{key}");
    }
    let credential = &chain["credentials"][0];
    for key in [
        "index",
        "serial",
        "agent",
        "parent",
        "depth",
        "issued_at",
        "expires_at",
        "session_key_id",
        "actions",
        "closure",
    ] {
        assert!(credential.get(key).is_some(), "credentials[0].{key}");
    }
    let row = &value["matrix"]["rows"][0];
    for key in [
        "authorization",
        "authorized",
        "documented",
        "tested",
        "reviewed",
        "deviations_addressed",
    ] {
        assert!(row.get(key).is_some(), "matrix.rows[0].{key}");
    }
    assert_eq!(value["matrix"]["totals"]["authorizations"], 1);
    assert_eq!(value["thresholds"]["working_hours"], "07:00-20:00");
    assert_eq!(action["time"], json!(t(ISSUED + 60)));
}
