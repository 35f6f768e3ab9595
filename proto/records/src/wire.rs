//! The protobuf form of records (`causeway.v1.Record` in
//! `proto/causeway/v1/records.proto`) and the mapping to and from
//! [`Record`].
//!
//! The mapping is lossless both ways. Decoding is strict: exactly one kind
//! set; every message, time, enum and required reference present; times in
//! range; references 32 bytes; the session key a canonical P-256 SPKI; and
//! the bytes the canonical encoding of what they decode to (see
//! [`RecordError::NonCanonical`]). Strings may be empty (proto3 cannot tell
//! an empty string from an absent one).

use prost::Message as _;

use super::RecordError;
use super::digest::{check_error_class, check_sha256};
use super::envelope::{Expected, json_hint};
use super::keys::PublicKey;
use super::kinds::{
    Action, Agent, Authn, Authorization, Check, Closure, ClosureReason, Credential, Exception,
    Identity, Outcome, OutcomeStatus, Plan, Preflight, PreflightVerdict, Record, Review, Scope,
    Stage,
};
use super::record_ref::RecordRef;
use super::time::Time;
use crate::v1 as pb;
use causeway_tlog::merkle::Hash;

impl Record {
    /// The protobuf encoding of the record: the payload of its envelope.
    pub fn to_protobuf(&self) -> Vec<u8> {
        to_pb(self).encode_to_vec()
    }

    /// Decodes a protobuf record, strictly.
    ///
    /// # Errors
    /// [`RecordError::Protobuf`] for bytes that are not a `Record`,
    /// [`RecordError::NonCanonical`] for a non-canonical encoding,
    /// [`RecordError::NoKind`] when no kind is set,
    /// [`RecordError::MissingField`] and [`RecordError::InvalidField`]
    /// naming the field otherwise.
    pub fn from_protobuf(bytes: &[u8]) -> Result<Record, RecordError> {
        let what = "record payload";
        let hint = json_hint(bytes, Expected::Record);
        if !hint.is_empty() {
            return Err(RecordError::Protobuf {
                what,
                message: format!("it is JSON{hint}"),
            });
        }
        let msg = pb::Record::decode(bytes).map_err(|e| RecordError::Protobuf {
            what,
            message: e.to_string(),
        })?;
        if msg.encode_to_vec() != bytes {
            return Err(RecordError::NonCanonical { what });
        }
        from_pb(msg)
    }
}

/// The domain separator of [`Authorization::idp_nonce`].
pub const IDP_NONCE_DOMAIN: &[u8] = b"causeway.v1.idp-nonce\n";

impl Authorization {
    /// The OpenID Connect `nonce` that binds a login to this approval:
    /// base64url (no padding) of SHA-256 over [`IDP_NONCE_DOMAIN`]
    /// followed by the canonical protobuf encoding of an `Authorization`
    /// holding only this one's `plan`, `scope`, `ticket`, `not_before` and
    /// `not_after` (fields 3 to 7). What the person approves is exactly
    /// what the digest covers: the same login cannot be attached to
    /// another plan, scope, ticket or window.
    pub fn idp_nonce(&self) -> String {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let bound = pb::Authorization {
            approver: None,
            authn: None,
            plan: plan_to(&self.plan),
            scope: scope_to(&self.scope),
            ticket: self.ticket.clone(),
            not_before: time_to(self.not_before),
            not_after: time_to(self.not_after),
            time: None,
        };
        let mut hasher = Sha256::new();
        hasher.update(IDP_NONCE_DOMAIN);
        hasher.update(bound.encode_to_vec());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize())
    }
}

fn time_to(t: Time) -> Option<pb::Time> {
    Some(pb::Time {
        seconds: t.seconds(),
        // Below 10⁹, so it fits.
        nanos: t.nanos() as i32,
    })
}

fn identity_to(i: &Identity) -> Option<pb::Identity> {
    Some(pb::Identity {
        subject: i.subject.clone(),
        issuer: i.issuer.clone(),
    })
}

fn plan_to(p: &Plan) -> Option<pb::Plan> {
    Some(pb::Plan {
        objective: p.objective.clone(),
        method: p.method.clone(),
        test_approach: p.test_approach.clone(),
        backout: p.backout.clone(),
    })
}

fn scope_to(s: &Scope) -> Option<pb::Scope> {
    Some(pb::Scope {
        change_class: s.change_class.clone(),
        targets: s.targets.clone(),
        actions: s.actions.clone(),
    })
}

fn ref_to(r: &RecordRef) -> Vec<u8> {
    r.hash().as_bytes().to_vec()
}

fn opt_ref_to(h: &Option<RecordRef>) -> Vec<u8> {
    h.as_ref().map(ref_to).unwrap_or_default()
}

fn to_pb(record: &Record) -> pb::Record {
    use pb::record::Kind as K;
    let kind = match record {
        Record::Authorization(a) => K::Authorization(pb::Authorization {
            approver: identity_to(&a.approver),
            authn: Some(pb::Authn {
                method: a.authn.method.clone(),
                mfa: a.authn.mfa,
                assurance: a.authn.assurance.clone(),
                authenticated_at: time_to(a.authn.authenticated_at),
                id_token: a.authn.id_token.clone().unwrap_or_default(),
            }),
            plan: plan_to(&a.plan),
            scope: scope_to(&a.scope),
            ticket: a.ticket.clone(),
            not_before: time_to(a.not_before),
            not_after: time_to(a.not_after),
            time: time_to(a.time),
        }),
        Record::Preflight(p) => K::Preflight(pb::Preflight {
            subject: ref_to(&p.subject),
            stage: match p.stage {
                Stage::Issuance => pb::PreflightStage::Issuance,
                Stage::Promotion => pb::PreflightStage::Promotion,
            } as i32,
            checks: p
                .checks
                .iter()
                .map(|c| pb::Check {
                    name: c.name.clone(),
                    result: c.result.clone(),
                    detail: c.detail.clone(),
                    cves: c.cves.clone(),
                })
                .collect(),
            verdict: match p.verdict {
                PreflightVerdict::Pass => pb::PreflightVerdict::Pass,
                PreflightVerdict::Block => pb::PreflightVerdict::Block,
            } as i32,
            time: time_to(p.time),
        }),
        Record::Credential(c) => K::Credential(pb::Credential {
            serial: c.serial.clone(),
            agent: Some(pb::Agent {
                id: c.agent.id.clone(),
                model: c.agent.model.clone(),
                version: c.agent.version.clone(),
            }),
            authorization: ref_to(&c.authorization),
            preflight: opt_ref_to(&c.preflight),
            parent: opt_ref_to(&c.parent),
            scope: scope_to(&c.scope),
            session_key: c.session_key.spki_der().to_vec(),
            issued_at: time_to(c.issued_at),
            expires_at: time_to(c.expires_at),
            time: time_to(c.time),
        }),
        Record::Action(a) => K::Action(pb::Action {
            credential: ref_to(&a.credential),
            seq: a.seq,
            tool: a.tool.clone(),
            target: a.target.clone(),
            summary: a.summary.clone(),
            digest: a.digest.clone(),
            result: a.result.clone(),
            time: time_to(a.time),
            operation: a.operation.clone().unwrap_or_default(),
        }),
        Record::Exception(e) => K::Exception(pb::Exception {
            credential: ref_to(&e.credential),
            action: opt_ref_to(&e.action),
            reason: e.reason.clone(),
            revoked: e.revoked,
            time: time_to(e.time),
            call_digest: e.call_digest.clone().unwrap_or_default(),
        }),
        Record::Closure(c) => K::Closure(pb::Closure {
            credential: ref_to(&c.credential),
            reason: match c.reason {
                ClosureReason::Voluntary => pb::ClosureReason::Voluntary,
                ClosureReason::Forced => pb::ClosureReason::Forced,
                ClosureReason::Expired => pb::ClosureReason::Expired,
            } as i32,
            started_at: time_to(c.started_at),
            ended_at: time_to(c.ended_at),
            actions: c.actions,
            summary: c.summary.clone(),
            time: time_to(c.time),
        }),
        Record::Review(r) => K::Review(pb::Review {
            subject: ref_to(&r.subject),
            reviewer: identity_to(&r.reviewer),
            verdict: r.verdict.clone(),
            started_at: time_to(r.started_at),
            finished_at: time_to(r.finished_at),
            items: r.items,
            time: time_to(r.time),
        }),
        Record::Outcome(o) => K::Outcome(pb::Outcome {
            action: ref_to(&o.action),
            credential: ref_to(&o.credential),
            status: match o.status {
                OutcomeStatus::Ok => pb::OutcomeStatus::Ok,
                OutcomeStatus::Error => pb::OutcomeStatus::Error,
            } as i32,
            result_digest: o.result_digest.clone(),
            error: o.error.clone().unwrap_or_default(),
            time: time_to(o.time),
        }),
    };
    pb::Record { kind: Some(kind) }
}

fn missing(field: &str) -> RecordError {
    RecordError::MissingField {
        field: field.to_owned(),
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> RecordError {
    RecordError::InvalidField {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, RecordError> {
    value.ok_or_else(|| missing(field))
}

fn time_from(t: Option<pb::Time>, field: &str) -> Result<Time, RecordError> {
    let t = required(t, field)?;
    let nanos = u32::try_from(t.nanos)
        .map_err(|_| invalid(field, format!("negative nanos {}", t.nanos)))?;
    Time::new(t.seconds, nanos).map_err(|e| invalid(field, e.to_string()))
}

fn ref_from(bytes: Vec<u8>, field: &str) -> Result<RecordRef, RecordError> {
    if bytes.is_empty() {
        return Err(missing(field));
    }
    Hash::try_from(bytes.as_slice())
        .map(RecordRef::new)
        .map_err(|e| invalid(field, format!("reference: {e}")))
}

fn opt_ref_from(bytes: Vec<u8>, field: &str) -> Result<Option<RecordRef>, RecordError> {
    if bytes.is_empty() {
        Ok(None)
    } else {
        ref_from(bytes, field).map(Some)
    }
}

/// An optional string (empty: absent) that `check` accepts when present.
fn opt_checked(
    value: String,
    field: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<Option<String>, RecordError> {
    if value.is_empty() {
        return Ok(None);
    }
    check(&value).map_err(|e| invalid(field, e))?;
    Ok(Some(value))
}

fn identity_from(i: Option<pb::Identity>, field: &str) -> Result<Identity, RecordError> {
    let i = required(i, field)?;
    Ok(Identity {
        subject: i.subject,
        issuer: i.issuer,
    })
}

fn scope_from(s: Option<pb::Scope>, field: &str) -> Result<Scope, RecordError> {
    let s = required(s, field)?;
    Ok(Scope {
        change_class: s.change_class,
        targets: s.targets,
        actions: s.actions,
    })
}

fn enum_from<E: TryFrom<i32>, T>(
    value: i32,
    field: &str,
    map: impl FnOnce(E) -> Option<T>,
) -> Result<T, RecordError> {
    if value == 0 {
        return Err(missing(field));
    }
    E::try_from(value)
        .ok()
        .and_then(map)
        .ok_or_else(|| invalid(field, format!("unknown enum value {value}")))
}

fn from_pb(msg: pb::Record) -> Result<Record, RecordError> {
    use pb::record::Kind as K;
    Ok(match msg.kind.ok_or(RecordError::NoKind)? {
        K::Authorization(a) => {
            let authn = required(a.authn, "authorization.authn")?;
            let plan = required(a.plan, "authorization.plan")?;
            Record::Authorization(Authorization {
                approver: identity_from(a.approver, "authorization.approver")?,
                authn: Authn {
                    method: authn.method,
                    mfa: authn.mfa,
                    assurance: authn.assurance,
                    authenticated_at: time_from(
                        authn.authenticated_at,
                        "authorization.authn.authenticated_at",
                    )?,
                    id_token: Some(authn.id_token).filter(|t| !t.is_empty()),
                },
                plan: Plan {
                    objective: plan.objective,
                    method: plan.method,
                    test_approach: plan.test_approach,
                    backout: plan.backout,
                },
                scope: scope_from(a.scope, "authorization.scope")?,
                ticket: a.ticket,
                not_before: time_from(a.not_before, "authorization.not_before")?,
                not_after: time_from(a.not_after, "authorization.not_after")?,
                time: time_from(a.time, "authorization.time")?,
            })
        }
        K::Preflight(p) => Record::Preflight(Preflight {
            subject: ref_from(p.subject, "preflight.subject")?,
            stage: enum_from(p.stage, "preflight.stage", |s| match s {
                pb::PreflightStage::Issuance => Some(Stage::Issuance),
                pb::PreflightStage::Promotion => Some(Stage::Promotion),
                pb::PreflightStage::Unspecified => None,
            })?,
            checks: p
                .checks
                .into_iter()
                .map(|c| Check {
                    name: c.name,
                    result: c.result,
                    detail: c.detail,
                    cves: c.cves,
                })
                .collect(),
            verdict: enum_from(p.verdict, "preflight.verdict", |v| match v {
                pb::PreflightVerdict::Pass => Some(PreflightVerdict::Pass),
                pb::PreflightVerdict::Block => Some(PreflightVerdict::Block),
                pb::PreflightVerdict::Unspecified => None,
            })?,
            time: time_from(p.time, "preflight.time")?,
        }),
        K::Credential(c) => {
            let agent = required(c.agent, "credential.agent")?;
            if c.session_key.is_empty() {
                return Err(missing("credential.session_key"));
            }
            let session_key = PublicKey::from_spki_der(&c.session_key)
                .map_err(|e| invalid("credential.session_key", e.to_string()))?;
            Record::Credential(Credential {
                serial: c.serial,
                agent: Agent {
                    id: agent.id,
                    model: agent.model,
                    version: agent.version,
                },
                authorization: ref_from(c.authorization, "credential.authorization")?,
                preflight: opt_ref_from(c.preflight, "credential.preflight")?,
                parent: opt_ref_from(c.parent, "credential.parent")?,
                scope: scope_from(c.scope, "credential.scope")?,
                session_key,
                issued_at: time_from(c.issued_at, "credential.issued_at")?,
                expires_at: time_from(c.expires_at, "credential.expires_at")?,
                time: time_from(c.time, "credential.time")?,
            })
        }
        K::Action(a) => Record::Action(Action {
            credential: ref_from(a.credential, "action.credential")?,
            seq: a.seq,
            tool: a.tool,
            target: a.target,
            summary: a.summary,
            digest: a.digest,
            result: a.result,
            time: time_from(a.time, "action.time")?,
            operation: Some(a.operation).filter(|o| !o.is_empty()),
        }),
        K::Exception(e) => Record::Exception(Exception {
            credential: ref_from(e.credential, "exception.credential")?,
            action: opt_ref_from(e.action, "exception.action")?,
            reason: e.reason,
            revoked: e.revoked,
            time: time_from(e.time, "exception.time")?,
            call_digest: opt_checked(e.call_digest, "exception.call_digest", check_sha256)?,
        }),
        K::Closure(c) => Record::Closure(Closure {
            credential: ref_from(c.credential, "closure.credential")?,
            reason: enum_from(c.reason, "closure.reason", |r| match r {
                pb::ClosureReason::Voluntary => Some(ClosureReason::Voluntary),
                pb::ClosureReason::Forced => Some(ClosureReason::Forced),
                pb::ClosureReason::Expired => Some(ClosureReason::Expired),
                pb::ClosureReason::Unspecified => None,
            })?,
            started_at: time_from(c.started_at, "closure.started_at")?,
            ended_at: time_from(c.ended_at, "closure.ended_at")?,
            actions: c.actions,
            summary: c.summary,
            time: time_from(c.time, "closure.time")?,
        }),
        K::Review(r) => Record::Review(Review {
            subject: ref_from(r.subject, "review.subject")?,
            reviewer: identity_from(r.reviewer, "review.reviewer")?,
            verdict: r.verdict,
            started_at: time_from(r.started_at, "review.started_at")?,
            finished_at: time_from(r.finished_at, "review.finished_at")?,
            items: r.items,
            time: time_from(r.time, "review.time")?,
        }),
        K::Outcome(o) => {
            if o.result_digest.is_empty() {
                return Err(missing("outcome.result_digest"));
            }
            check_sha256(&o.result_digest).map_err(|e| invalid("outcome.result_digest", e))?;
            let outcome = Outcome {
                action: ref_from(o.action, "outcome.action")?,
                credential: ref_from(o.credential, "outcome.credential")?,
                status: enum_from(o.status, "outcome.status", |s| match s {
                    pb::OutcomeStatus::Ok => Some(OutcomeStatus::Ok),
                    pb::OutcomeStatus::Error => Some(OutcomeStatus::Error),
                    pb::OutcomeStatus::Unspecified => None,
                })?,
                result_digest: o.result_digest,
                error: opt_checked(o.error, "outcome.error", check_error_class)?,
                time: time_from(o.time, "outcome.time")?,
            };
            outcome
                .check()
                .map_err(|(field, reason)| invalid(&format!("outcome.{field}"), reason))?;
            Record::Outcome(outcome)
        }
    })
}
