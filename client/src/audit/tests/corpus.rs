//! Scenario builders: a log written as a list of labelled record specs
//! (JSON bodies with placeholders), signed and encoded on demand, so that
//! each test can plant one violation in an otherwise clean chain.
//!
//! Placeholders in string values: `@ref:LABEL` becomes the leaf hash of
//! the record labelled LABEL, `@key:NAME` the base64 SPKI of the key
//! named NAME. Keys are made on first use from a seeded RNG.

use std::collections::HashMap;

use base64::Engine as _;
use causeway_records::{Envelope, Kind, ProducerKey, ProducerPolicy, Record};
use causeway_tlog::merkle::leaf_hash;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::demo::rfc3339;

/// Tuesday 2026-11-24 14:00:00 UTC: the chain's hour before it is in
/// working hours.
pub(crate) const NOW: i64 = 1_795_528_800;

/// One record to be signed.
pub(crate) struct Spec {
    pub(crate) label: String,
    pub(crate) kind: Kind,
    pub(crate) body: Value,
    pub(crate) signer: String,
}

/// A log under construction.
pub(crate) struct Corpus {
    keys: HashMap<String, ProducerKey>,
    rng: StdRng,
    pub(crate) specs: Vec<Spec>,
}

/// A built log.
pub(crate) struct Built {
    pub(crate) entries: Vec<(u64, Vec<u8>)>,
    pub(crate) index: HashMap<String, u64>,
}

impl Built {
    /// The index of a labelled record.
    pub(crate) fn at(&self, label: &str) -> u64 {
        *self
            .index
            .get(label)
            .unwrap_or_else(|| panic!("no record labelled {label}"))
    }

    /// Anchors that cover everything, consistently with the record times.
    pub(crate) fn clean_anchors(&self) -> Vec<(u64, i64)> {
        vec![(self.entries.len() as u64, NOW + 5)]
    }
}

pub(crate) fn t(offset: i64) -> String {
    rfc3339(NOW + offset)
}

/// The start of the demo chain, an hour before [`NOW`].
pub(crate) const T0: i64 = -3600;
/// When the orchestrator's credential is issued.
pub(crate) const ISSUED: i64 = T0 + 120;
/// When the sub-agent's credential is issued.
pub(crate) const DELEGATED: i64 = ISSUED + 900;

pub(crate) fn scope() -> Value {
    json!({
        "change_class": "standard",
        "targets": ["prod/payments-api", "prod/vault/payments-db"],
        "actions": ["deploy", "rotate-credential", "read-logs"],
    })
}

pub(crate) fn authorization(time: i64, mfa: bool) -> Value {
    json!({
        "approver": {"subject": "alice@example.com", "issuer": "https://sso.example.com"},
        "authn": {"method": "oidc+webauthn", "mfa": mfa, "assurance": "aal2", "authenticated_at": t(time - 60)},
        "plan": {
            "objective": "Rotate the payments-api database credentials",
            "method": "Vault lease rotation runbook RB-112",
            "test_approach": "Canary on one pod",
            "backout": "helm rollback payments-api"
        },
        "scope": scope(),
        "ticket": "CHG-4821",
        "not_before": t(time),
        "not_after": t(time + 8 * 3600),
        "time": t(time),
    })
}

pub(crate) fn preflight(subject: &str, verdict: &str, time: i64) -> Value {
    json!({
        "subject": format!("@ref:{subject}"),
        "stage": "issuance",
        "checks": [{"name": "sast", "result": if verdict == "pass" { "pass" } else { "fail" }, "detail": "semgrep", "cves": []}],
        "verdict": verdict,
        "time": t(time),
    })
}

pub(crate) fn action(credential: &str, seq: u64, target: &str, time: i64) -> Value {
    json!({
        "credential": format!("@ref:{credential}"),
        "seq": seq,
        "tool": "kubectl",
        "target": target,
        "summary": format!("step {seq}"),
        "digest": format!("sha256:{seq:064x}"),
        "result": "ok",
        "time": t(time),
    })
}

/// An outcome of the action labelled `action`, under the credential
/// labelled `credential`: `status` is `ok` or `error`.
pub(crate) fn outcome(action: &str, credential: &str, status: &str, time: i64) -> Value {
    let mut body = json!({
        "action": format!("@ref:{action}"),
        "credential": format!("@ref:{credential}"),
        "status": status,
        "result_digest": format!("sha256:{:064x}", time.unsigned_abs()),
        "time": t(time),
    });
    if status == "error" {
        body["error"] = json!("-32603");
    }
    body
}

pub(crate) fn review(subject: &str, started: i64, finished: i64, items: u64) -> Value {
    json!({
        "subject": format!("@ref:{subject}"),
        "reviewer": {"subject": "bob@example.com", "issuer": "https://sso.example.com"},
        "verdict": "approved",
        "started_at": t(started),
        "finished_at": t(finished),
        "items": items,
        "time": t(finished),
    })
}

impl Corpus {
    pub(crate) fn new() -> Corpus {
        Corpus {
            keys: HashMap::new(),
            rng: StdRng::seed_from_u64(7),
            specs: Vec::new(),
        }
    }

    /// The key named `name`, made on first use.
    pub(crate) fn key(&mut self, name: &str) -> &ProducerKey {
        let rng = &mut self.rng;
        self.keys
            .entry(name.to_owned())
            .or_insert_with(|| ProducerKey::generate(rng))
    }

    pub(crate) fn spki(&mut self, name: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key(name).public_spki_der())
    }

    /// The policy: alice (approver) and bob (reviewer) are humans, plus an
    /// issuer and a verifier.
    pub(crate) fn policy(&mut self) -> ProducerPolicy {
        let text = policy_toml(
            &self.spki("alice"),
            &self.spki("bob"),
            &self.spki("issuer"),
            &self.spki("verifier"),
        );
        ProducerPolicy::parse(&text).expect("the test policy parses")
    }

    pub(crate) fn push(&mut self, label: &str, kind: Kind, body: Value, signer: &str) {
        self.specs.push(Spec {
            label: label.to_owned(),
            kind,
            body,
            signer: signer.to_owned(),
        });
    }

    /// Inserts a spec right after the one labelled `after`.
    pub(crate) fn insert_after(
        &mut self,
        after: &str,
        label: &str,
        kind: Kind,
        body: Value,
        signer: &str,
    ) {
        let at = self.position(after) + 1;
        self.specs.insert(
            at,
            Spec {
                label: label.to_owned(),
                kind,
                body,
                signer: signer.to_owned(),
            },
        );
    }

    fn position(&self, label: &str) -> usize {
        self.specs
            .iter()
            .position(|s| s.label == label)
            .unwrap_or_else(|| panic!("no spec labelled {label}"))
    }

    /// The body of the spec labelled `label`, to change it.
    pub(crate) fn body(&mut self, label: &str) -> &mut Value {
        let at = self.position(label);
        &mut self.specs[at].body
    }

    pub(crate) fn set_signer(&mut self, label: &str, signer: &str) {
        let at = self.position(label);
        self.specs[at].signer = signer.to_owned();
    }

    pub(crate) fn remove(&mut self, label: &str) {
        let at = self.position(label);
        self.specs.remove(at);
    }

    /// The demo chain of `client/src/demo.rs`, as specs: authorization,
    /// pre-flight, the orchestrator's credential and `actions` actions, a
    /// delegated credential for a sub-agent and its actions, both
    /// closures and a review.
    pub(crate) fn standard(actions: usize) -> Corpus {
        let mut c = Corpus::new();
        c.push(
            "auth",
            Kind::Authorization,
            authorization(T0, true),
            "alice",
        );
        c.push(
            "pre",
            Kind::Preflight,
            preflight("auth", "pass", T0 + 60),
            "verifier",
        );
        c.push(
            "cred",
            Kind::Credential,
            json!({
                "serial": "jit-7f3a9c",
                "agent": {"id": "agent://orchestrator-7", "model": "claude-sonnet-4.5", "version": "2026-10-01"},
                "authorization": "@ref:auth",
                "preflight": "@ref:pre",
                "scope": scope(),
                "session_key": "@key:orch",
                "issued_at": t(ISSUED),
                "expires_at": t(ISSUED + 3600),
                "time": t(ISSUED),
            }),
            "issuer",
        );
        let targets = ["prod/vault/payments-db", "prod/payments-api"];
        for i in 0..actions {
            c.push(
                &format!("act{i}"),
                Kind::Action,
                action(
                    "cred",
                    i as u64 + 1,
                    targets[i % 2],
                    ISSUED + 60 + i as i64 * 20,
                ),
                "orch",
            );
        }
        c.push(
            "sub",
            Kind::Credential,
            json!({
                "serial": "jit-7f3a9c.1",
                "agent": {"id": "agent://log-reader-2", "model": "claude-haiku-4.5", "version": "2026-10-01"},
                "authorization": "@ref:auth",
                "preflight": "@ref:pre",
                "parent": "@ref:cred",
                "scope": {"change_class": "standard", "targets": ["prod/payments-api"], "actions": ["read-logs"]},
                "session_key": "@key:subkey",
                "issued_at": t(DELEGATED),
                "expires_at": t(DELEGATED + 900),
                "time": t(DELEGATED),
            }),
            "orch",
        );
        let sub_count = actions.div_ceil(2);
        for i in 0..sub_count {
            c.push(
                &format!("subact{i}"),
                Kind::Action,
                action(
                    "sub",
                    i as u64 + 1,
                    "prod/payments-api",
                    DELEGATED + 30 + i as i64 * 10,
                ),
                "subkey",
            );
        }
        let sub_end = DELEGATED + 30 + sub_count as i64 * 10;
        c.push(
            "subclose",
            Kind::Closure,
            json!({
                "credential": "@ref:sub",
                "reason": "voluntary",
                "started_at": t(DELEGATED),
                "ended_at": t(sub_end),
                "actions": sub_count as u64,
                "summary": "logs read",
                "time": t(sub_end + 10),
            }),
            "subkey",
        );
        let end = (ISSUED + 60 + actions as i64 * 20 + 60).max(sub_end + 20);
        c.push(
            "close",
            Kind::Closure,
            json!({
                "credential": "@ref:cred",
                "reason": "voluntary",
                "started_at": t(ISSUED),
                "ended_at": t(end),
                "actions": actions as u64,
                "summary": "rotated",
                "time": t(end),
            }),
            "issuer",
        );
        c.push(
            "review",
            Kind::Review,
            review("close", -600, -60, (actions + sub_count) as u64),
            "bob",
        );
        c
    }

    /// Signs and encodes every spec, in order.
    pub(crate) fn build(&mut self) -> Built {
        let mut hashes: HashMap<String, String> = HashMap::new();
        let mut entries = Vec::new();
        let mut index = HashMap::new();
        let specs = std::mem::take(&mut self.specs);
        for spec in &specs {
            let body = self.resolve(&spec.body, &hashes);
            let record = Record::from_json(spec.kind, &body.to_string())
                .unwrap_or_else(|e| panic!("spec {}: {e}", spec.label));
            let envelope = Envelope::sign(&record, self.key(&spec.signer));
            let bytes = envelope.encode();
            hashes.insert(spec.label.clone(), leaf_hash(&bytes).to_hex());
            index.insert(spec.label.clone(), entries.len() as u64);
            entries.push((entries.len() as u64, bytes));
        }
        self.specs = specs;
        Built { entries, index }
    }

    fn resolve(&mut self, value: &Value, hashes: &HashMap<String, String>) -> Value {
        match value {
            Value::String(s) => {
                if let Some(label) = s.strip_prefix("@ref:") {
                    Value::String(
                        hashes
                            .get(label)
                            .unwrap_or_else(|| panic!("@ref:{label} before it is built"))
                            .clone(),
                    )
                } else if let Some(name) = s.strip_prefix("@key:") {
                    Value::String(self.spki(name))
                } else {
                    value.clone()
                }
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.resolve(v, hashes)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v, hashes)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// A policy naming two humans, an issuer and a verifier.
pub(crate) fn policy_toml(alice: &str, bob: &str, issuer: &str, verifier: &str) -> String {
    format!(
        r#"
[[principal]]
name = "alice@example.com"
role = "human"
keys = ["{alice}"]

[[principal]]
name = "bob@example.com"
role = "human"
keys = ["{bob}"]

[[principal]]
name = "jit-issuer"
role = "issuer"
keys = ["{issuer}"]

[[principal]]
name = "preflight-verifier"
role = "verifier"
keys = ["{verifier}"]
"#
    )
}
