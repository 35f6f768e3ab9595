//! The eight record kinds and their JSON form.
//!
//! Field names are the JSON names of DESIGN.md §3, a contract: keep them.
//! Every field is required unless its type is an `Option`. Unknown fields
//! are rejected, and errors name the field's path (`authn.mfa`,
//! `checks[1].cves`). [`Record::to_json`] is canonical: object keys sorted,
//! optional fields absent when unset, times in the form of
//! [`Time::to_rfc3339`], references as 64 lowercase hex digits.

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::RecordError;
use super::digest::{check_error_class, check_sha256};
use super::keys::PublicKey;
use super::record_ref::RecordRef;
use super::time::Time;

/// The kind of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Event A: a human authorizes a scoped change.
    Authorization,
    /// A pre-flight verification of an authorization or credential.
    Preflight,
    /// A credential bound to an authorization, for one agent.
    Credential,
    /// Event B: an agent acts under a credential.
    Action,
    /// An exception against a credential, possibly revoking it.
    Exception,
    /// The end of a credential's session.
    Closure,
    /// A human review of an authorization, credential or closure.
    Review,
    /// How the call an action recorded returned.
    Outcome,
}

impl Kind {
    /// Every kind, in protobuf field-number order.
    pub const ALL: [Kind; 8] = [
        Kind::Authorization,
        Kind::Preflight,
        Kind::Credential,
        Kind::Action,
        Kind::Exception,
        Kind::Closure,
        Kind::Review,
        Kind::Outcome,
    ];

    /// The kind's name: its JSON name, and its name in policies and on the
    /// command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Authorization => "authorization",
            Kind::Preflight => "preflight",
            Kind::Credential => "credential",
            Kind::Action => "action",
            Kind::Exception => "exception",
            Kind::Closure => "closure",
            Kind::Review => "review",
            Kind::Outcome => "outcome",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a record kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown record kind {name:?}; expected one of authorization, preflight, credential, \
     action, exception, closure, review, outcome"
)]
pub struct ParseKindError {
    /// The name that was given.
    pub name: String,
}

impl FromStr for Kind {
    type Err = ParseKindError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| ParseKindError {
                name: name.to_owned(),
            })
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A person as asserted by an identity provider.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The subject, such as an e-mail address or the IdP's user ID.
    pub subject: String,
    /// The identity provider, such as an OIDC issuer URL.
    pub issuer: String,
}

/// How the approver authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authn {
    /// The method, such as `sso-oidc` or `webauthn`.
    pub method: String,
    /// Whether a second factor was used.
    pub mfa: bool,
    /// The assurance level claimed, such as `aal2`.
    pub assurance: String,
    /// When the approver authenticated.
    pub authenticated_at: Time,
    /// The OpenID Connect ID token of that login, bound to this approval
    /// by its `nonce` ([`Authorization::idp_nonce`]); absent in records
    /// made without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// The change plan that was approved.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// What the change is for.
    pub objective: String,
    /// How it will be made.
    pub method: String,
    /// How it will be tested.
    pub test_approach: String,
    /// How it will be undone.
    pub backout: String,
}

/// What a change or a credential may touch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The change class, such as `standard`, `normal` or `emergency`.
    pub change_class: String,
    /// The resources in scope.
    pub targets: Vec<String>,
    /// The operations allowed on them.
    pub actions: Vec<String>,
}

/// Event A: a human authorizes a scoped change. Signed by a human key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Who approved.
    pub approver: Identity,
    /// How they authenticated.
    pub authn: Authn,
    /// What they approved.
    pub plan: Plan,
    /// The scope they approved.
    pub scope: Scope,
    /// The change ticket.
    pub ticket: String,
    /// The start of the change window.
    pub not_before: Time,
    /// The end of the change window.
    pub not_after: Time,
    /// When the record was made.
    pub time: Time,
}

/// The stage at which a pre-flight ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Before a credential is issued.
    Issuance,
    /// Before a change is promoted.
    Promotion,
}

/// The outcome of a pre-flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreflightVerdict {
    /// Every blocking check passed.
    Pass,
    /// A check blocks the change.
    Block,
}

/// One pre-flight check.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The check, such as `sast` or `dependency-audit`.
    pub name: String,
    /// Its result, such as `pass`, `warn` or `fail`.
    pub result: String,
    /// A human-readable detail.
    pub detail: String,
    /// CVE IDs the check found.
    pub cves: Vec<String>,
}

/// A pre-flight verification. Signed by a verifier key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preflight {
    /// The authorization or credential verified.
    pub subject: RecordRef,
    /// When it ran.
    pub stage: Stage,
    /// The checks.
    pub checks: Vec<Check>,
    /// The outcome.
    pub verdict: PreflightVerdict,
    /// When the record was made.
    pub time: Time,
}

/// The agent a credential is issued to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// The agent's identity, distinct per agent.
    pub id: String,
    /// The model it runs.
    pub model: String,
    /// The agent's version.
    pub version: String,
}

/// A credential bound to an authorization. Signed by an issuer key, or for
/// delegation by the parent credential's session key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The issuer's serial number.
    pub serial: String,
    /// The agent it is issued to.
    pub agent: Agent,
    /// The authorization it is bound to.
    pub authorization: RecordRef,
    /// The pre-flight that preceded it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<RecordRef>,
    /// The parent credential, for delegation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<RecordRef>,
    /// What the credential allows.
    pub scope: Scope,
    /// The session's ECDSA P-256 key, which signs the credential's actions
    /// (JSON: standard base64 of the DER SubjectPublicKeyInfo).
    pub session_key: PublicKey,
    /// The start of the validity window.
    pub issued_at: Time,
    /// The end of the validity window.
    pub expires_at: Time,
    /// When the record was made.
    pub time: Time,
}

/// Event B: an agent acts under a credential. Signed by its session key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The credential acted under.
    pub credential: RecordRef,
    /// The action's sequence number within the session.
    pub seq: u64,
    /// The tool used.
    pub tool: String,
    /// What it acted on.
    pub target: String,
    /// What it did.
    pub summary: String,
    /// A digest of the action's input or output, such as `sha256:…`.
    pub digest: String,
    /// The outcome.
    pub result: String,
    /// When the record was made.
    pub time: Time,
    /// The operation performed, in the terms of the credential's
    /// `scope.actions` (`git.push:branch/fix/x`); optional, never empty
    /// when present (records made before it existed have none).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "non_empty"
    )]
    pub operation: Option<String>,
}

/// Serde for an optional string that, when present, must not be empty:
/// on the wire an empty string means absent, so `""` would not survive a
/// round trip.
fn non_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(s) if s.is_empty() => Err(serde::de::Error::custom(
            "must not be empty: omit the field when there is no value",
        )),
        other => Ok(other),
    }
}

/// Serde for an optional digest, checked by [`check_sha256`].
fn opt_sha256<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    if let Some(v) = &value {
        check_sha256(v).map_err(serde::de::Error::custom)?;
    }
    Ok(value)
}

/// Serde for a required digest, checked by [`check_sha256`].
fn sha256<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value = String::deserialize(d)?;
    check_sha256(&value).map_err(serde::de::Error::custom)?;
    Ok(value)
}

/// Serde for an optional error class, checked by [`check_error_class`].
fn opt_error_class<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    if let Some(v) = &value {
        check_error_class(v).map_err(serde::de::Error::custom)?;
    }
    Ok(value)
}

/// An exception against a credential, possibly revoking it. Signed by an
/// issuer or gate key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// The credential concerned.
    pub credential: RecordRef,
    /// The action that caused it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<RecordRef>,
    /// Why.
    pub reason: String,
    /// Whether the credential is revoked.
    pub revoked: bool,
    /// When the record was made.
    pub time: Time,
    /// For a call the gate refused before any action was signed (so there
    /// is no action to reference): `sha256:` and 64 lowercase hex digits
    /// of the JCS-canonical refused call `{"name": …, "arguments": …}`.
    /// Optional; records made before it existed have none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_sha256"
    )]
    pub call_digest: Option<String>,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClosureReason {
    /// The agent finished.
    Voluntary,
    /// The session was ended by someone else.
    Forced,
    /// The credential expired.
    Expired,
}

/// The end of a credential's session. Signed by an issuer key or the
/// credential's session key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Closure {
    /// The credential whose session ended.
    pub credential: RecordRef,
    /// Why it ended.
    pub reason: ClosureReason,
    /// When the session started.
    pub started_at: Time,
    /// When it ended.
    pub ended_at: Time,
    /// How many actions it took.
    pub actions: u64,
    /// A summary of the session.
    pub summary: String,
    /// When the record was made.
    pub time: Time,
}

/// A human review of an authorization, credential or closure. Signed by a
/// human key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The record reviewed.
    pub subject: RecordRef,
    /// Who reviewed.
    pub reviewer: Identity,
    /// The reviewer's verdict, such as `approved`.
    pub verdict: String,
    /// When the review started.
    pub started_at: Time,
    /// When it finished.
    pub finished_at: Time,
    /// How many items were reviewed.
    pub items: u64,
    /// When the record was made.
    pub time: Time,
}

/// How a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeStatus {
    /// The call returned a result.
    Ok,
    /// The call failed (a protocol error, or a result that reports one).
    Error,
}

impl OutcomeStatus {
    /// `ok` or `error`, the JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Ok => "ok",
            OutcomeStatus::Error => "error",
        }
    }
}

/// How the call an action recorded returned. Signed by the session key of
/// the credential, like the action: a gateway signs the action before it
/// forwards a call and the outcome when the call returns. The result
/// itself is never logged, only its digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The action whose call returned.
    pub action: RecordRef,
    /// The action's credential: it must be the action's own `credential`.
    pub credential: RecordRef,
    /// Whether the call succeeded.
    pub status: OutcomeStatus,
    /// `sha256:` and 64 lowercase hex digits of the JCS-canonical result.
    #[serde(deserialize_with = "sha256")]
    pub result_digest: String,
    /// When `status` is `error`, optionally a short error class or code
    /// ([`check_error_class`]), never the error's text or data; absent
    /// when `status` is `ok`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_error_class"
    )]
    pub error: Option<String>,
    /// When the record was made.
    pub time: Time,
}

impl Outcome {
    /// The checks between fields: an `error` class only with status
    /// `error`.
    ///
    /// # Errors
    /// The field and what is wrong with it.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.status == OutcomeStatus::Ok && self.error.is_some() {
            return Err((
                "error",
                String::from(
                    "is set, but status is ok: an error class goes only with status error; \
                     omit it",
                ),
            ));
        }
        Ok(())
    }
}

/// One governance record: the payload of a log entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Record {
    /// Event A: a human authorizes a scoped change.
    Authorization(Authorization),
    /// A pre-flight verification.
    Preflight(Preflight),
    /// A credential bound to an authorization.
    Credential(Credential),
    /// Event B: an agent acts under a credential.
    Action(Action),
    /// An exception against a credential.
    Exception(Exception),
    /// The end of a credential's session.
    Closure(Closure),
    /// A human review.
    Review(Review),
    /// How an action's call returned.
    Outcome(Outcome),
}

fn parse_json<T: DeserializeOwned + Serialize>(kind: Kind, json: &str) -> Result<T, RecordError> {
    let error = |message: String| RecordError::Json { kind, message };
    let mut de = serde_json::Deserializer::from_str(json);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        error(if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        })
    })?;
    de.end().map_err(|e| error(e.to_string()))?;
    // Serde also accepts a struct written as an array of its fields and a
    // unit variant written as a one-key object; the JSON form is objects
    // and strings only. Compare the input's shape with the canonical form.
    let input: serde_json::Value = serde_json::from_str(json).map_err(|e| error(e.to_string()))?;
    let output = serde_json::to_value(&value).map_err(|e| error(e.to_string()))?;
    same_shape(&input, &output, &mut String::new()).map_err(error)?;
    Ok(value)
}

/// The JSON type name of a value, for messages.
fn json_type(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks that `input` has the JSON type of `output` at every position
/// `output` has (fields `output` omits, the unset optional ones, are
/// skipped).
fn same_shape(
    input: &serde_json::Value,
    output: &serde_json::Value,
    path: &mut String,
) -> Result<(), String> {
    use serde_json::Value;
    let mismatch = |path: &str| {
        let at = if path.is_empty() { "the record" } else { path };
        format!(
            "{at}: expected {}, found {}",
            json_type(output),
            json_type(input)
        )
    };
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (key, out) in o {
                let Some(inp) = i.get(key) else {
                    return Err(mismatch(path));
                };
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                same_shape(inp, out, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        (Value::Array(i), Value::Array(o)) if i.len() == o.len() => {
            for (n, (inp, out)) in i.iter().zip(o).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{n}]"));
                same_shape(inp, out, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => Ok(()),
        _ => Err(mismatch(path)),
    }
}

/// Rebuilds a JSON value with every object's keys in sorted order, whatever
/// the `serde_json` features of the build.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

impl Record {
    /// Parses the JSON form of a record of the given kind: the record's
    /// object itself, without a kind tag.
    ///
    /// # Errors
    /// [`RecordError::Json`] for invalid JSON, trailing text, an unknown or
    /// missing field, or an invalid value (a time that is not RFC 3339 UTC
    /// with `Z`, a reference that is not 64 lowercase hex digits, a session
    /// key that is not a canonical P-256 SubjectPublicKeyInfo, an unknown
    /// stage, verdict or closure reason). The message starts with the
    /// field's path.
    pub fn from_json(kind: Kind, json: &str) -> Result<Record, RecordError> {
        Ok(match kind {
            Kind::Authorization => {
                let mut a: Authorization = parse_json(kind, json)?;
                // An empty token is no token, as on the wire.
                if a.authn.id_token.as_deref() == Some("") {
                    a.authn.id_token = None;
                }
                Record::Authorization(a)
            }
            Kind::Preflight => Record::Preflight(parse_json(kind, json)?),
            Kind::Credential => Record::Credential(parse_json(kind, json)?),
            Kind::Action => Record::Action(parse_json(kind, json)?),
            Kind::Exception => Record::Exception(parse_json(kind, json)?),
            Kind::Closure => Record::Closure(parse_json(kind, json)?),
            Kind::Review => Record::Review(parse_json(kind, json)?),
            Kind::Outcome => {
                let o: Outcome = parse_json(kind, json)?;
                o.check().map_err(|(field, message)| RecordError::Json {
                    kind,
                    message: format!("{field}: {message}"),
                })?;
                Record::Outcome(o)
            }
        })
    }

    /// The canonical JSON form (without a kind tag): keys sorted, optional
    /// fields absent when unset.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Record::Authorization(r) => serde_json::to_value(r),
            Record::Preflight(r) => serde_json::to_value(r),
            Record::Credential(r) => serde_json::to_value(r),
            Record::Action(r) => serde_json::to_value(r),
            Record::Exception(r) => serde_json::to_value(r),
            Record::Closure(r) => serde_json::to_value(r),
            Record::Review(r) => serde_json::to_value(r),
            Record::Outcome(r) => serde_json::to_value(r),
        };
        // Serializing these types cannot fail: every map key is a string.
        sorted(value.unwrap_or(serde_json::Value::Null))
    }

    /// The record's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Authorization(_) => Kind::Authorization,
            Record::Preflight(_) => Kind::Preflight,
            Record::Credential(_) => Kind::Credential,
            Record::Action(_) => Kind::Action,
            Record::Exception(_) => Kind::Exception,
            Record::Closure(_) => Kind::Closure,
            Record::Review(_) => Kind::Review,
            Record::Outcome(_) => Kind::Outcome,
        }
    }

    /// The record's `time` field, in full.
    pub fn record_time(&self) -> Time {
        match self {
            Record::Authorization(r) => r.time,
            Record::Preflight(r) => r.time,
            Record::Credential(r) => r.time,
            Record::Action(r) => r.time,
            Record::Exception(r) => r.time,
            Record::Closure(r) => r.time,
            Record::Review(r) => r.time,
            Record::Outcome(r) => r.time,
        }
    }

    /// The record's `time` field in whole Unix seconds (rounded down).
    pub fn time(&self) -> i64 {
        self.record_time().seconds()
    }
}
