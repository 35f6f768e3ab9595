//! An agent's session: its credential, the session key that stays in the
//! gate, the action count, and whether it still takes calls.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, bail};
use causeway_client::LogTarget;
use causeway_client::issuer::{CredentialRequest, IssuerClient};
use causeway_records::{
    Closure, ClosureReason, Envelope, ProducerKey, Record, RecordRef, Scope, Time,
};
use causeway_tlog::merkle::Hash;

use crate::config::{IssueRequest, Service};

/// Why a session takes no more calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The credential was revoked.
    Revoked(String),
    /// It expired.
    Expired,
    /// The agent went away and the closure was written.
    Closed,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Revoked(why) => write!(f, "its credential was revoked: {why}"),
            Ended::Expired => f.write_str("its credential expired"),
            Ended::Closed => f.write_str("the session was closed"),
        }
    }
}

/// One credential's session.
pub struct Session {
    /// `root`, or the delegate's name.
    pub name: String,
    /// The credential's leaf hash.
    pub credential: Hash,
    /// Its agent id.
    pub agent: String,
    /// Its scope.
    pub scope: Scope,
    /// When it expires.
    pub expires_at: Time,
    started_at: Time,
    key: ProducerKey,
    seq: AtomicU64,
    actions: AtomicU64,
    ended: Mutex<Option<Ended>>,
}

/// The current time, to the millisecond, as records are dated.
pub fn now() -> anyhow::Result<Time> {
    Ok(causeway_client::clock::record_time_now()?)
}

impl Session {
    fn new(
        name: &str,
        credential: Hash,
        c: &causeway_records::Credential,
        key: ProducerKey,
    ) -> anyhow::Result<Session> {
        if c.session_key.spki_der() != key.public_spki_der() {
            bail!(
                "the session key does not match credential {credential}'s session_key: give the \
                 key the issuer returned with it"
            );
        }
        Ok(Session {
            name: name.to_owned(),
            credential,
            agent: c.agent.id.clone(),
            scope: c.scope.clone(),
            expires_at: c.expires_at,
            started_at: now()?,
            key,
            seq: AtomicU64::new(0),
            actions: AtomicU64::new(0),
            ended: Mutex::new(None),
        })
    }

    /// Asks the issuer for a credential (`parent` when delegating).
    ///
    /// # Errors
    /// The issuer's refusal, or a credential that does not read back.
    pub async fn issue(
        name: &str,
        issuer: &Service,
        log: &LogTarget,
        request: &IssueRequest,
        parent: Option<Hash>,
    ) -> anyhow::Result<Session> {
        let mut client = IssuerClient::connect(&issuer.url, &issuer.tls)
            .await
            .with_context(|| format!("connecting to the issuer at {}", issuer.url))?;
        let issued = client
            .issue(&CredentialRequest {
                request_id: format!("gate-{name}-{}", causeway_client::issuer::new_request_id()),
                authorization: request.authorization,
                preflight: request.preflight,
                parent,
                agent: request.agent.clone(),
                scope: (
                    request.scope.change_class.clone(),
                    request.scope.targets.clone(),
                    request.scope.actions.clone(),
                ),
                ttl_seconds: request.ttl_seconds,
            })
            .await
            .with_context(|| format!("asking the issuer for the {name} session's credential"))?;
        Self::pre_issued(name, log, issued.credential, issued.session_key).await
    }

    /// A credential issued earlier, read from the log.
    ///
    /// # Errors
    /// When the log does not hold it or it is not a credential for `key`.
    pub async fn pre_issued(
        name: &str,
        log: &LogTarget,
        credential: Hash,
        key: ProducerKey,
    ) -> anyhow::Result<Session> {
        let c = credential_record(log, credential).await?;
        Self::new(name, credential, &c, key)
    }

    /// Why the session takes no calls, if it does not.
    pub fn ended(&self) -> Option<Ended> {
        self.ended.lock().ok().and_then(|e| e.clone())
    }

    /// Marks the session ended; false when it already was.
    pub fn end(&self, why: Ended) -> bool {
        match self.ended.lock() {
            Ok(mut e) if e.is_none() => {
                *e = Some(why);
                true
            }
            _ => false,
        }
    }

    /// The next action's sequence number, from 1.
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Counts an acknowledged action.
    pub fn count_action(&self) {
        self.actions.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the credential has expired at `t`.
    pub fn expired_at(&self, t: Time) -> bool {
        t >= self.expires_at
    }

    /// Signs `record` with the session key.
    pub fn sign(&self, record: &Record) -> Vec<u8> {
        Envelope::sign(record, &self.key).encode()
    }

    /// The closure of this session, signed with its key.
    ///
    /// # Errors
    /// The clock.
    pub fn closure(&self, reason: ClosureReason) -> anyhow::Result<Vec<u8>> {
        let now = now()?;
        // An expired session ends at its expiry, not when the gate noticed.
        let ended_at = if reason == ClosureReason::Expired {
            self.expires_at.min(now)
        } else {
            now
        };
        let actions = self.actions.load(Ordering::Relaxed);
        // The log admits a session key's records within the credential's
        // validity only: an expired session's closure is dated at its end.
        let time = if reason == ClosureReason::Expired {
            ended_at
        } else {
            now
        };
        Ok(self.sign(&Record::Closure(Closure {
            credential: RecordRef::new(self.credential),
            reason,
            started_at: self.started_at.min(ended_at),
            ended_at,
            actions,
            summary: format!(
                "{} session of {} through causeway-gate: {actions} tool calls",
                self.name, self.agent
            ),
            time,
        })))
    }
}

/// The credential record `credential`, read from the log.
///
/// # Errors
/// When the log does not hold it or it is not a credential.
pub async fn credential_record(
    log: &LogTarget,
    credential: Hash,
) -> anyhow::Result<causeway_records::Credential> {
    let mut client = log.connect().await?;
    let proof = client
        .inclusion_proof(causeway_client::LeafRef::Hash(credential), None)
        .await
        .with_context(|| format!("the log does not hold credential {credential}"))?;
    let entry = client
        .entries(proof.leaf_index, 1)
        .await?
        .into_iter()
        .next()
        .context("the log returned no entry for the credential")?;
    let record = Envelope::decode(&entry)
        .and_then(|e| e.record())
        .with_context(|| format!("entry {} is not a record", proof.leaf_index))?;
    match record {
        Record::Credential(c) => Ok(c),
        other => bail!(
            "entry {} ({credential}) is a {} record, not a credential",
            proof.leaf_index,
            other.kind()
        ),
    }
}
