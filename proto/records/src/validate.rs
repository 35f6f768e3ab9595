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
//! 3. the record's `time` is at most the policy's `max_future_skew` ahead
//!    of the log's clock and at most its `max_past_skew` behind it
//!    (`InvalidArgument`): a producer cannot backdate a record into a
//!    window that has passed;
//! 4. a credential names its agent (`agent.id` not empty;
//!    `InvalidArgument`);
//! 5. every reference names an entry already in the log
//!    ([`RejectCode::FailedPrecondition`]), of a kind the field allows
//!    (`FailedPrecondition`);
//! 6. the signer may sign the record ([`RejectCode::PermissionDenied`]) and
//!    the signature verifies (`InvalidArgument`):
//!    * `action`: the referenced credential's session key, at a `time`
//!      within the credential's `issued_at ..= expires_at`;
//!    * `outcome`: the same as its action; before that, its `action` must
//!      be written under its `credential` (`InvalidArgument`) and its
//!      `time` must not be before the action's (`InvalidArgument`);
//!    * `closure`: the same, or a policy principal allowed to sign
//!      closures (an issuer);
//!    * `credential` with a `parent`: the parent credential's session key,
//!      within the parent's validity; without one, a principal allowed to
//!      sign credentials;
//!    * any other kind: a principal whose kinds include the record's kind;
//! 7. a human record (`authorization`, `review`) names its signer: its
//!    `approver.subject` or `reviewer.subject` is the signing principal's
//!    name or one of its `subjects` (`PermissionDenied`);
//! 8. a record signed by a session key is refused while the log's clock is
//!    past `expires_at` + `max_past_skew` of its credential or of any
//!    ancestor of it (`PermissionDenied`);
//! 9. an authorization's ID token, when it has one, verifies under a
//!    provider the policy pins, is bound to the record's plan by its
//!    `nonce`, and says what the record says of the login; without one,
//!    the policy does not `require_idp` (`PermissionDenied` naming the
//!    claim; [`id_token::bind`]). Judged as of the
//!    record's time, this rule does not refuse: [`Admitted::idp`] carries
//!    the outcome for the auditor to report.
//!
//! What is left for the log to check in log order, when it sequences, is
//! whether the credentials of a session-key record were revoked or closed
//! before it: [`Admitted::lineage`] names them, and
//! [`check_open`](super::lineage::check_open) judges them.
//!
//! Scope conformance, plausibility and the like are not checked: the log
//! records evidence, and the auditor judges it.

use std::fmt;

use super::envelope::{Envelope, EnvelopeSignature};
use super::id_token::{self, IdpBinding};
use super::kinds::{Credential, Kind, Record};
use super::lineage::{Ending, Lineage, ends};
use super::policy::ProducerPolicy;
use super::refs::{Reference, kinds_phrase};
use super::time::Time;
use causeway_tlog::merkle::Hash;
use causeway_tlog::tiles::MAX_ENTRY_SIZE;

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

/// The most credentials a delegation chain may have, root included. Each
/// level is one more lookup per record; real agents delegate a few levels.
pub const MAX_DELEGATION_DEPTH: usize = 32;

/// An entry that passed admission: its record and what the log needs to
/// sequence it, so that nothing decodes it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// The record.
    pub record: Record,
    /// The signing key's ID.
    pub keyid: String,
    /// The submission ID ([`Envelope::submission_id`]), the log's
    /// duplicate key.
    pub submission_id: Hash,
    /// For a record signed by a session key, the credentials it writes
    /// under (empty otherwise).
    pub lineage: Lineage,
    /// The credential this record ends, if it does.
    pub ends: Option<(Hash, Ending)>,
    /// For an authorization, what its ID token establishes.
    pub idp: Option<IdpBinding>,
}

/// Checks an entry for admission to the log (see the [module docs](self)).
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
) -> Result<Admitted, Rejection> {
    validate(entry, policy, Some(now), lookup)
}

/// Like [`validate_entry`], as of the record's own `time`, for auditors
/// judging records long after the log admitted them: the clock checks
/// (skew, a credential's expiry) pass by construction, the others apply.
///
/// # Errors
/// As for [`validate_entry`], less the clock checks.
pub fn validate_at_record_time(
    entry: &[u8],
    policy: &ProducerPolicy,
    lookup: &mut dyn FnMut(&Hash) -> Option<Referenced>,
) -> Result<Admitted, Rejection> {
    validate(entry, policy, None, lookup)
}

fn validate(
    entry: &[u8],
    policy: &ProducerPolicy,
    now: Option<i64>,
    lookup: &mut dyn FnMut(&Hash) -> Option<Referenced>,
) -> Result<Admitted, Rejection> {
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
    if let Some(now) = now {
        check_clock(kind, time, now, policy)?;
    }
    if let Record::Credential(c) = &record
        && c.agent.id.trim().is_empty()
    {
        return Err(Rejection::invalid(
            "credential.agent.id is empty: a credential must name the agent it is issued to, \
             distinct from any human, so the agent's actions are attributable to it",
        ));
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
    // The credential whose session key signed the record, if one did.
    let under: Option<(Hash, &Credential)> = match &record {
        Record::Action(_) => {
            let (hash, credential) = referenced_credential("credential")
                .ok_or_else(|| Rejection::invalid("action.credential is not resolved"))?;
            if check.is_session_key(credential) {
                check.by_session_key(hash, credential, "credential")?;
                Some((hash, credential))
            } else {
                return Err(Rejection::denied(format!(
                    "an action must be signed by the session key {} of credential {hash}; it \
                     is signed by key {}{}",
                    credential.session_key.key_id(),
                    signature.keyid,
                    check.owner()
                )));
            }
        }
        Record::Outcome(o) => {
            let (hash, credential) = referenced_credential("credential")
                .ok_or_else(|| Rejection::invalid("outcome.credential is not resolved"))?;
            let (action_hash, action) = resolved
                .iter()
                .find_map(|(r, found)| match &found.record {
                    Record::Action(a) if r.field == "action" => Some((r.hash, a)),
                    _ => None,
                })
                .ok_or_else(|| Rejection::invalid("outcome.action is not resolved"))?;
            if action.credential != hash {
                return Err(Rejection::invalid(format!(
                    "outcome.credential is {hash}, but action {action_hash} was written under \
                     credential {}; an outcome names its action's own credential: set \
                     credential to {}",
                    action.credential.hash(),
                    action.credential.hash()
                )));
            }
            if o.time < action.time {
                return Err(Rejection::invalid(format!(
                    "outcome.time {} is before the time {} of its action {action_hash}; a call \
                     returns after it is recorded: date the outcome when the call returned",
                    o.time, action.time
                )));
            }
            if check.is_session_key(credential) {
                check.by_session_key(hash, credential, "credential")?;
                Some((hash, credential))
            } else {
                return Err(Rejection::denied(format!(
                    "an outcome must be signed by the session key {} of credential {hash}, \
                     which signed its action; it is signed by key {}{}",
                    credential.session_key.key_id(),
                    signature.keyid,
                    check.owner()
                )));
            }
        }
        Record::Closure(_) => {
            let (hash, credential) = referenced_credential("credential")
                .ok_or_else(|| Rejection::invalid("closure.credential is not resolved"))?;
            if check.is_session_key(credential) {
                check.by_session_key(hash, credential, "credential")?;
                Some((hash, credential))
            } else {
                check.by_principal(&format!(
                    "the session key {} of credential {hash} or ",
                    credential.session_key.key_id()
                ))?;
                None
            }
        }
        Record::Credential(c) if c.parent.is_some() => {
            let (hash, parent) = referenced_credential("parent")
                .ok_or_else(|| Rejection::invalid("credential.parent is not resolved"))?;
            if check.is_session_key(parent) {
                check.by_session_key(hash, parent, "parent credential")?;
                Some((hash, parent))
            } else {
                return Err(Rejection::denied(format!(
                    "a delegated credential must be signed by the session key {} of its parent \
                     credential {hash}; it is signed by key {}{}",
                    parent.session_key.key_id(),
                    signature.keyid,
                    check.owner()
                )));
            }
        }
        _ => {
            check.by_principal("")?;
            None
        }
    };
    check.names_its_signer(&record)?;
    let idp = match &record {
        Record::Authorization(a) => Some(id_token::bind(a, policy)),
        _ => None,
    };
    if now.is_some() {
        match &idp {
            Some(IdpBinding::Invalid { message, .. }) => {
                return Err(Rejection::denied(message.clone()));
            }
            Some(IdpBinding::Missing) if policy.require_idp() => {
                return Err(Rejection::denied(String::from(
                    "authorization.authn.id_token is missing: the producer policy requires \
                     every approval to carry its approver's ID token (require_idp); approve \
                     with `causeway approve --oidc-issuer URL --client-id ID`",
                )));
            }
            _ => {}
        }
    }
    let lineage = match under {
        None => Lineage::default(),
        Some((hash, credential)) => {
            let lineage = lineage_of(hash, credential, lookup)?;
            if let Some(now) = now {
                check.unexpired(&lineage, now)?;
            }
            Lineage::new(lineage.into_iter().map(|(h, _)| h).collect())
        }
    };
    let submission_id = envelope.submission_id().map_err(Rejection::invalid)?;
    Ok(Admitted {
        keyid: signature.keyid.clone(),
        submission_id,
        lineage,
        ends: ends(&record),
        idp,
        record,
    })
}

/// `time` within [now − max_past_skew, now + max_future_skew].
fn check_clock(kind: Kind, time: Time, now: i64, policy: &ProducerPolicy) -> Result<(), Rejection> {
    let skew = policy.max_future_skew_secs();
    let limit = now.saturating_add(skew);
    if time.seconds() > limit || (time.seconds() == limit && time.nanos() > 0) {
        return Err(Rejection::invalid(format!(
            "{kind}.time {time} is {}s in the future of the log's clock (unix {now}); at most \
             {skew}s is accepted (max_future_skew): check the producer's clock",
            time.seconds().saturating_sub(now)
        )));
    }
    let past = policy.max_past_skew_secs();
    if time.seconds() < now.saturating_sub(past) {
        let now_text = Time::new(now, 0).map_or_else(|_| format!("unix {now}"), |t| t.to_string());
        return Err(Rejection::invalid(format!(
            "{kind}.time {time} is {}s behind the log's clock ({now_text}); at most {past}s is \
             accepted (max_past_skew in the producer policy): submit records when they are \
             made, dated with the producer's current time",
            now.saturating_sub(time.seconds())
        )));
    }
    Ok(())
}

/// The credential `hash` and its ancestors up to the root, each looked up
/// in the log.
fn lineage_of(
    hash: Hash,
    credential: &Credential,
    lookup: &mut dyn FnMut(&Hash) -> Option<Referenced>,
) -> Result<Vec<(Hash, Credential)>, Rejection> {
    let mut chain = vec![(hash, credential.clone())];
    let mut parent = credential.parent.map(|r| r.hash());
    while let Some(p) = parent {
        if chain.len() >= MAX_DELEGATION_DEPTH {
            return Err(Rejection::invalid(format!(
                "credential {hash} is delegated more than {MAX_DELEGATION_DEPTH} levels deep; \
                 delegate from a credential nearer the root"
            )));
        }
        let Some(Referenced {
            record: Record::Credential(c),
            ..
        }) = lookup(&p)
        else {
            // The log admitted the child only after its parent, so a
            // missing ancestor means the lookup failed.
            return Err(Rejection::precondition(format!(
                "credential {hash}'s ancestor {p} could not be read from the log; retry"
            )));
        };
        parent = c.parent.map(|r| r.hash());
        chain.push((p, c));
    }
    Ok(chain)
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

    /// A human record names the principal that signed it. Only humans
    /// sign these kinds (the policy's roles), so the signer is in the
    /// policy once the principal check has passed.
    fn names_its_signer(&self, record: &Record) -> Result<(), Rejection> {
        let (field, subject) = match record {
            Record::Authorization(a) => ("authorization.approver.subject", &a.approver.subject),
            Record::Review(r) => ("review.reviewer.subject", &r.reviewer.subject),
            _ => return Ok(()),
        };
        let Some(principal) = self.policy.principal(&self.signature.keyid) else {
            return Ok(());
        };
        if principal.is_subject(subject) {
            return Ok(());
        }
        let aliases = if principal.subjects.is_empty() {
            String::from("it lists no other subjects")
        } else {
            format!("its subjects are {:?}", principal.subjects)
        };
        Err(Rejection::denied(format!(
            "{field} is {subject:?}, but the record is signed by key {} of principal {:?} ({aliases}); \
             a person signs only as themselves: sign with {subject:?}'s own key, or add the \
             name to the principal's subjects in the producer policy",
            self.signature.keyid, principal.name
        )))
    }

    /// No credential of the lineage is past its `expires_at` by more than
    /// `max_past_skew` on the log's clock.
    fn unexpired(&self, lineage: &[(Hash, Credential)], now: i64) -> Result<(), Rejection> {
        let grace = self.policy.max_past_skew_secs();
        for (depth, (hash, c)) in lineage.iter().enumerate() {
            if now.saturating_sub(grace) > c.expires_at.seconds() {
                let whose = if depth == 0 {
                    format!("its credential {hash}")
                } else {
                    format!("its credential's ancestor {hash}")
                };
                return Err(Rejection::denied(format!(
                    "this {} is signed by a session key, and {whose} expired at {}, more than \
                     {grace}s (max_past_skew) before the log's clock; a session key writes \
                     nothing after its credential expires (ask the issuer for a new one)",
                    self.kind, c.expires_at
                )));
            }
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
            None if keyid.bytes().any(|b| b.is_ascii_uppercase())
                && self
                    .policy
                    .principal_key(&keyid.to_ascii_lowercase())
                    .is_some() =>
            {
                Err(Rejection::invalid(format!(
                    "key ID {keyid} is uppercase: key IDs are lowercase hex \
                     ({} is in the producer policy); see docs/producers.md",
                    keyid.to_ascii_lowercase()
                )))
            }
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
