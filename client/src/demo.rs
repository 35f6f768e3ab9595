//! A realistic causal chain for demonstrations and tests: a human approves
//! a scoped plan, a pre-flight verifier passes it, a JIT issuer gives an
//! orchestrator agent a short-lived credential, the agent acts, delegates a
//! narrower credential to a sub-agent that acts too, both sessions close,
//! and a second human reviews. Built offline (references are the leaf
//! hashes of the parents' envelopes), submitted parents first.

use causeway_records::{Envelope, Kind, ProducerKey, Record, RecordError};
use causeway_tlog::merkle::{Hash, leaf_hash};
use rand::{CryptoRng, RngCore};
use serde_json::{Value, json};

/// The long-lived producer keys the demo signs with (the policy must list them).
pub struct DemoKeys {
    /// A human approver (role human).
    pub approver: ProducerKey,
    /// A human reviewer (role human).
    pub reviewer: ProducerKey,
    /// The JIT credential issuer (role issuer).
    pub issuer: ProducerKey,
    /// The pre-flight verifier (role verifier).
    pub verifier: ProducerKey,
}

/// Records that may be submitted together: their parents are all in
/// earlier steps.
pub struct DemoStep {
    /// What this step is, for people.
    pub label: String,
    /// The signed records, in order.
    pub envelopes: Vec<(Kind, Envelope)>,
}

pub use causeway_civil::rfc3339_utc as rfc3339;

fn signed(
    kind: Kind,
    value: Value,
    key: &ProducerKey,
) -> Result<(Kind, Envelope, Hash), RecordError> {
    let record = Record::from_json(kind, &value.to_string())?;
    let env = Envelope::sign(&record, key);
    let hash = leaf_hash(&env.encode());
    Ok((kind, env, hash))
}

fn spki_b64(key: &ProducerKey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(key.public_spki_der())
}

/// How long before `now` the chain starts: every record's `time` is within
/// the last four minutes, so a log with the default `max_past_skew` (5m)
/// admits it when it is submitted right away, and no TSA anchor stamped
/// before the chain began can predate it.
pub const CHAIN_SPAN_SECS: i64 = 240;

/// The chain, with times in the [`CHAIN_SPAN_SECS`] before `now` (so
/// every record is within its credential's validity and none is in the
/// future). `actions` orchestrator actions, half as many by the
/// sub-agent. `now` is the caller's clock: `causeway demo` passes the
/// system time, tests a fixed one.
///
/// # Errors
/// Only if a record built here were invalid (a bug).
pub fn causal_chain(
    keys: &DemoKeys,
    now: i64,
    actions: usize,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<Vec<DemoStep>, RecordError> {
    let t0 = now - CHAIN_SPAN_SECS;
    // Five seconds between steps, and at most this much for all actions,
    // so that the closures still come before the review.
    let step_secs = |n: usize| -> i64 { (5 * n as i64).min(80) };
    let sso = "https://sso.example.com";
    let scope = json!({
        "change_class": "standard",
        "targets": ["prod/payments-api", "prod/vault/payments-db"],
        "actions": ["deploy", "rotate-credential", "read-logs"],
    });
    let mut steps = Vec::new();
    let mut step = |label: &str, items: Vec<(Kind, Envelope, Hash)>| {
        steps.push(DemoStep {
            label: label.into(),
            envelopes: items.into_iter().map(|(k, e, _)| (k, e)).collect(),
        });
    };

    let auth = signed(
        Kind::Authorization,
        json!({
            "approver": {"subject": "alice@example.com", "issuer": sso},
            "authn": {"method": "oidc+webauthn", "mfa": true, "assurance": "aal2", "authenticated_at": rfc3339(t0 - 60)},
            "plan": {
                "objective": "Rotate the payments-api database credentials and roll the service",
                "method": "Vault lease rotation runbook RB-112, applied through the deployment pipeline",
                "test_approach": "Canary on one pod; the synthetic checkout probe must stay green for 10 minutes",
                "backout": "Re-enable the previous lease and `helm rollback payments-api`"
            },
            "scope": scope,
            "ticket": "CHG-4821",
            "not_before": rfc3339(t0),
            "not_after": rfc3339(t0 + 8 * 3600),
            "time": rfc3339(t0),
        }),
        &keys.approver,
    )?;
    let auth_hash = auth.2;
    step("authorization by alice (Event A)", vec![auth]);

    let pre = signed(
        Kind::Preflight,
        json!({
            "subject": auth_hash.to_hex(),
            "stage": "issuance",
            "checks": [
                {"name": "sast", "result": "pass", "detail": "semgrep: 0 findings in the change", "cves": []},
                {"name": "dependency-audit", "result": "pass", "detail": "no vulnerable versions in the lockfile", "cves": []},
                {"name": "container-scan", "result": "warn", "detail": "base image has a low-severity issue, fix available", "cves": ["CVE-2025-0001"]}
            ],
            "verdict": "pass",
            "time": rfc3339(t0 + 5),
        }),
        &keys.verifier,
    )?;
    let pre_hash = pre.2;
    step("pre-flight verification (issuance)", vec![pre]);

    let orchestrator = ProducerKey::generate(rng);
    let issued = t0 + 10;
    let cred = signed(
        Kind::Credential,
        json!({
            "serial": "jit-7f3a9c",
            "agent": {"id": "agent://orchestrator-7", "model": "claude-sonnet-4.5", "version": "2026-10-01"},
            "authorization": auth_hash.to_hex(),
            "preflight": pre_hash.to_hex(),
            "scope": scope,
            "session_key": spki_b64(&orchestrator),
            "issued_at": rfc3339(issued),
            "expires_at": rfc3339(issued + 3600),
            "time": rfc3339(issued),
        }),
        &keys.issuer,
    )?;
    let cred_hash = cred.2;
    step("credential for the orchestrator agent", vec![cred]);

    let tools = [
        (
            "vault",
            "prod/vault/payments-db",
            "renewed the database lease",
        ),
        ("kubectl", "prod/payments-api", "read the rollout status"),
        (
            "helm",
            "prod/payments-api",
            "upgraded the release with the new secret reference",
        ),
        (
            "kubectl",
            "prod/payments-api",
            "read the pod logs of the canary",
        ),
    ];
    let mut orch_actions = Vec::new();
    for i in 0..actions {
        let (tool, target, summary) = tools[i % tools.len()];
        orch_actions.push(signed(
            Kind::Action,
            json!({
                "credential": cred_hash.to_hex(),
                "seq": i as u64 + 1,
                "tool": tool,
                "target": target,
                "summary": summary,
                "digest": format!("sha256:{}", leaf_hash(format!("{tool} {target} {i}").as_bytes()).to_hex()),
                "result": "ok",
                "time": rfc3339(issued + 5 + step_secs(i)),
            }),
            &orchestrator,
        )?);
    }
    step("orchestrator actions (Event B)", orch_actions);

    let sub = ProducerKey::generate(rng);
    let delegated_at = issued + 10 + step_secs(actions);
    let delegation = signed(
        Kind::Credential,
        json!({
            "serial": "jit-7f3a9c.1",
            "agent": {"id": "agent://log-reader-2", "model": "claude-haiku-4.5", "version": "2026-10-01"},
            "authorization": auth_hash.to_hex(),
            "preflight": pre_hash.to_hex(),
            "parent": cred_hash.to_hex(),
            "scope": {"change_class": "standard", "targets": ["prod/payments-api"], "actions": ["read-logs"]},
            "session_key": spki_b64(&sub),
            "issued_at": rfc3339(delegated_at),
            "expires_at": rfc3339(delegated_at + 900),
            "time": rfc3339(delegated_at),
        }),
        &orchestrator,
    )?;
    let sub_hash = delegation.2;
    step(
        "delegation to a sub-agent (narrower scope)",
        vec![delegation],
    );

    let sub_count = actions.div_ceil(2);
    let mut sub_actions = Vec::new();
    for i in 0..sub_count {
        sub_actions.push(signed(
            Kind::Action,
            json!({
                "credential": sub_hash.to_hex(),
                "seq": i as u64 + 1,
                "tool": "kubectl",
                "target": "prod/payments-api",
                "summary": format!("read the logs of pod payments-api-{i}"),
                "digest": format!("sha256:{}", leaf_hash(format!("logs {i}").as_bytes()).to_hex()),
                "result": "ok",
                "time": rfc3339(delegated_at + 5 + step_secs(i)),
            }),
            &sub,
        )?);
    }
    step("sub-agent actions", sub_actions);

    let sub_end = delegated_at + 5 + step_secs(sub_count);
    let sub_closure = signed(
        Kind::Closure,
        json!({
            "credential": sub_hash.to_hex(),
            "reason": "voluntary",
            "started_at": rfc3339(delegated_at),
            "ended_at": rfc3339(sub_end),
            "actions": sub_count as u64,
            "summary": "logs read, no errors after the rotation",
            "time": rfc3339(sub_end + 2),
        }),
        &sub,
    )?;
    let end = sub_end + 5;
    let closure = signed(
        Kind::Closure,
        json!({
            "credential": cred_hash.to_hex(),
            "reason": "voluntary",
            "started_at": rfc3339(issued),
            "ended_at": rfc3339(end),
            "actions": actions as u64,
            "summary": "credentials rotated, canary healthy, rollout complete",
            "time": rfc3339(end),
        }),
        &keys.issuer,
    )?;
    let closure_hash = closure.2;
    step("closures of both sessions", vec![sub_closure, closure]);

    let review = signed(
        Kind::Review,
        json!({
            "subject": closure_hash.to_hex(),
            "reviewer": {"subject": "bob@example.com", "issuer": sso},
            "verdict": "approved",
            // Half a minute per action: a plausible pace for a reviewer.
            // The reviewer followed the sessions as they ran, so the
            // review may start before they ended.
            "started_at": rfc3339(now - 5 - 30 * (actions + sub_count) as i64),
            "finished_at": rfc3339(now - 5),
            "items": (actions + sub_count) as u64,
            "time": rfc3339(now - 5),
        }),
        &keys.reviewer,
    )?;
    step("review by bob", vec![review]);
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_308_510), "2026-11-22T00:48:30Z");
    }
}
