//! Log admission: what the log checks before it accepts an entry
//! (DESIGN.md §3), as a pure function. The server supplies the clock and a
//! lookup of earlier entries by leaf hash, and maps [`RejectCode`] to a
//! gRPC status in one place.
//!
//! The checks, in order (the first failure is returned):
//!
//! 1. the entry is 1 to 65,535 bytes, a canonical `Envelope` whose payload
//!    type is [`PAYLOAD_TYPE`](super::PAYLOAD_TYPE) and whose payload is a
//!    valid, canonical `Record` ([`RejectCode::InvalidArgument`]);
//! 2. the envelope has exactly one signature (`InvalidArgument`);
//! 3. the record's `time` is at most the policy's skew in the future
//!    (`InvalidArgument`);
//! 4. every reference names an entry already in the log
//!    ([`RejectCode::FailedPrecondition`]), of a kind the field allows
//!    (`FailedPrecondition`);
//! 5. the signer may sign the record ([`RejectCode::PermissionDenied`]) and
//!    the signature verifies (`InvalidArgument`):
//!    * `action`: the referenced credential's session key, at a `time`
//!      within the credential's `issued_at ..= expires_at`;
//!    * `closure`: the same, or a policy principal allowed to sign
//!      closures (an issuer);
//!    * `credential` with a `parent`: the parent credential's session key,
//!      within the parent's validity; without one, a principal allowed to
//!      sign credentials;
//!    * any other kind: a principal whose kinds include the record's kind.
//!
//! Scope conformance, plausibility and the like are not checked: the log
//! records evidence, and the auditor judges it.

use std::fmt;

use super::envelope::{Envelope, EnvelopeSignature};
use super::kinds::{Credential, Kind, Record};
use super::policy::ProducerPolicy;
use super::refs::{Reference, kinds_phrase};
use super::time::Time;
use crate::MAX_ENTRY_SIZE;
use crate::merkle::Hash;

/// The class of a rejection; the server maps it to a gRPC status code of
/// the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// The entry is malformed, its signature does not verify, or its time
    /// is too far in the future.
    InvalidArgument,
    /// The signer may not sign this record.
    PermissionDenied,
    /// A referenced entry is not in the log, or is of the wrong kind.
    FailedPrecondition,
}

/// Why the log refuses an entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// The class of the problem.
    pub code: RejectCode,
    /// What is wrong: which field or reference, which key ID.
    pub message: String,
}

impl Rejection {
    fn invalid(message: impl fmt::Display) -> Self {
        Rejection {
            code: RejectCode::InvalidArgument,
            message: message.to_string(),
        }
    }

    fn denied(message: String) -> Self {
        Rejection {
            code: RejectCode::PermissionDenied,
            message,
        }
    }

    fn precondition(message: String) -> Self {
        Rejection {
            code: RejectCode::FailedPrecondition,
            message,
        }
    }
}

/// An entry already in the log, as the lookup returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referenced {
    /// Its index in the log.
    pub index: u64,
    /// Its record.
    pub record: Record,
}

/// Checks an entry for admission to the log (see the [module docs](self))
/// and returns its record.
///
/// `now` is the log's clock in Unix seconds; `lookup` finds an entry
/// already in the log by its leaf hash.
///
/// # Errors
/// The first [`Rejection`] found, in the order of the module docs.
pub fn validate_entry(
    entry: &[u8],
    policy: &ProducerPolicy,
    now: i64,
    lookup: &mut dyn FnMut(&Hash) -> Option<Referenced>,
) -> Result<Record, Rejection> {
    if entry.is_empty() {
        return Err(Rejection::invalid("the entry is empty"));
    }
    if entry.len() > MAX_ENTRY_SIZE {
        return Err(Rejection::invalid(format!(
            "the entry is {} bytes; the most an entry may be is {MAX_ENTRY_SIZE}",
            entry.len()
        )));
    }
    let envelope = Envelope::decode(entry)
        .map_err(|e| Rejection::invalid(format!("malformed envelope: {e}")))?;
    let record = envelope
        .record()
        .map_err(|e| Rejection::invalid(format!("malformed record: {e}")))?;
    let signature = envelope.signer().map_err(Rejection::invalid)?;
    let kind = record.kind();

    let time = record.record_time();
    let skew = policy.max_future_skew_secs();
    let limit = now.saturating_add(skew);
    if time.seconds() > limit || (time.seconds() == limit && time.nanos() > 0) {
        return Err(Rejection::invalid(format!(
            "{kind}.time {time} is {}s in the future of the log's clock (unix {now}); at most \
             {skew}s is accepted",
            time.seconds().saturating_sub(now)
        )));
    }

    let mut resolved: Vec<(Reference, Referenced)> = Vec::new();
    for reference in record.references() {
        let allowed = kinds_phrase(reference.allowed);
        let Some(found) = lookup(&reference.hash) else {
            return Err(Rejection::precondition(format!(
                "{kind}.{} {} is not in the log; submit the referenced {allowed} first",
                reference.field, reference.hash
            )));
        };
        let found_kind = found.record.kind();
        if !reference.allowed.contains(&found_kind) {
            return Err(Rejection::precondition(format!(
                "{kind}.{} {} is entry {}, of kind {found_kind}; it must reference an entry of kind \
                 {allowed}",
                reference.field, reference.hash, found.index
            )));
        }
        resolved.push((reference, found));
    }
    let referenced_credential = |field: &str| {
        resolved.iter().find_map(|(r, found)| match &found.record {
            Record::Credential(c) if r.field == field => Some((r.hash, c)),
            _ => None,
        })
    };

    let check = Check {
        envelope: &envelope,
        signature,
        policy,
        kind,
        time,
    };
    match &record {
        Record::Action(_) => {
            let (hash, credential) = referenced_credential("credential")
                .ok_or_else(|| Rejection::invalid("action.credential is not resolved"))?;
            if check.is_session_key(credential) {
                check.by_session_key(hash, credential, "credential")
            } else {
                Err(Rejection::denied(format!(
                    "an action must be signed by the session key {} of credential {hash}; it \
                     is signed by key {}{}",
                    credential.session_key.key_id(),
                    signature.keyid,
                    check.owner()
                )))
            }
        }
        Record::Closure(_) => {
            let (hash, credential) = referenced_credential("credential")
                .ok_or_else(|| Rejection::invalid("closure.credential is not resolved"))?;
            if check.is_session_key(credential) {
                check.by_session_key(hash, credential, "credential")
            } else {
                check.by_principal(&format!(
                    "the session key {} of credential {hash} or ",
                    credential.session_key.key_id()
                ))
            }
        }
        Record::Credential(c) if c.parent.is_some() => {
            let (hash, parent) = referenced_credential("parent")
                .ok_or_else(|| Rejection::invalid("credential.parent is not resolved"))?;
            if check.is_session_key(parent) {
                check.by_session_key(hash, parent, "parent credential")
            } else {
                Err(Rejection::denied(format!(
                    "a delegated credential must be signed by the session key {} of its parent \
                     credential {hash}; it is signed by key {}{}",
                    parent.session_key.key_id(),
                    signature.keyid,
                    check.owner()
                )))
            }
        }
        _ => check.by_principal(""),
    }?;
    Ok(record)
}

/// What the signer checks share.
struct Check<'a> {
    envelope: &'a Envelope,
    signature: &'a EnvelopeSignature,
    policy: &'a ProducerPolicy,
    kind: Kind,
    time: Time,
}

impl Check<'_> {
    fn is_session_key(&self, credential: &Credential) -> bool {
        self.signature.keyid == credential.session_key.key_id()
    }

    /// ` (principal "x", role r)` when the signer is in the policy.
    fn owner(&self) -> String {
        self.policy
            .principal(&self.signature.keyid)
            .map(|p| format!(" (principal {:?}, role {})", p.name, p.role))
            .unwrap_or_default()
    }

    fn verify(&self, spki: &[u8]) -> Result<(), Rejection> {
        self.envelope.verify(spki).map_err(Rejection::invalid)
    }

    /// Signed by the session key of `credential`, at a time within its
    /// validity.
    fn by_session_key(
        &self,
        hash: Hash,
        credential: &Credential,
        what: &str,
    ) -> Result<(), Rejection> {
        self.verify(credential.session_key.spki_der())?;
        if self.time < credential.issued_at || self.time > credential.expires_at {
            return Err(Rejection::denied(format!(
                "{} at {} is outside {what} {hash}'s validity {}..{}",
                self.kind, self.time, credential.issued_at, credential.expires_at
            )));
        }
        Ok(())
    }

    /// Signed by a policy principal allowed to sign the kind. `alternative`
    /// prefixes the list of who may sign, for kinds a session key may also
    /// sign.
    fn by_principal(&self, alternative: &str) -> Result<(), Rejection> {
        let kind = self.kind;
        let keyid = &self.signature.keyid;
        let signers: Vec<&str> = self
            .policy
            .principals()
            .iter()
            .filter(|p| p.may_sign(kind))
            .map(|p| p.name.as_str())
            .collect();
        let who = if signers.is_empty() {
            format!("{alternative}a principal allowed to sign {kind} (the policy has none)")
        } else {
            format!(
                "{alternative}a principal allowed to sign {kind} ({})",
                signers.join(", ")
            )
        };
        match self.policy.principal_key(keyid) {
            None => Err(Rejection::denied(format!(
                "key {keyid} is not in the producer policy; {kind} records must be signed by {who}"
            ))),
            Some((principal, _)) if !principal.may_sign(kind) => Err(Rejection::denied(format!(
                "key {keyid} belongs to principal {:?} (role {}), which may sign {}, not \
                     {kind}; {kind} records must be signed by {who}",
                principal.name,
                principal.role,
                kinds_phrase(&principal.kinds)
            ))),
            Some((_, spki)) => self.verify(spki),
        }
    }
}
