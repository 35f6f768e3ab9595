//! The `add-checkpoint` pipeline: parse, find the log, verify its
//! signature, then under that log's lock decide ([`crate::check`]),
//! persist and cosign.
//!
//! Each trusted log has its own lock, so a slow fsync for one log never
//! delays another. The lock is held from reading the latest checkpoint
//! until the new one is on disk and in memory: two concurrent requests for
//! one log can never both build on the same latest checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use causeway_tlog::checkpoint::{Checkpoint, CheckpointError};
use causeway_tlog::note::{
    CosignatureSigner, KeyName, Note, NoteError, NoteSignature, NoteVerifier, VerifierKey,
};
use causeway_tlog::witness::{AddCheckpointRequest, WitnessFormatError};
use tokio::sync::Mutex;

use crate::check::{Rejection, Verdict, check};
use crate::evidence::{
    Admission, EvidenceBudget, EvidenceLimits, Refusal, evidence_id, is_conclusive, kept_note,
};
use crate::logs::TrustedLogs;
use crate::origin_hash;
use crate::state::{DataDir, EvidenceRecord, LatestCheckpoint, StateError, evidence_json};
use causeway_tlog::witness::EvidenceKind;

/// Why a request body is malformed (HTTP 400).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// The `old` line, proof lines or separator.
    #[error(transparent)]
    Body(#[from] WitnessFormatError),
    /// The part after the empty line is not a signed note.
    #[error("the checkpoint is not a well-formed signed note: {0}")]
    Note(NoteError),
    /// The note's text is not a checkpoint.
    #[error("the signed note is not a valid checkpoint: {0}")]
    Checkpoint(CheckpointError),
}

/// Why `add-checkpoint` did not produce a cosignature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    /// The body does not parse (400).
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// The checkpoint's origin is not a trusted log (404).
    #[error("unknown log origin {origin:?}; this witness trusts: {}", trusted.join(", "))]
    UnknownOrigin {
        /// The origin presented.
        origin: String,
        /// The origins this witness trusts.
        trusted: Vec<String>,
    },
    /// No trusted key of the log signed the checkpoint, or a trusted key's
    /// signature is invalid (403).
    #[error("the checkpoint is not validly signed by a trusted key of {origin}: {error}")]
    Unverified {
        /// The log's origin.
        origin: String,
        /// What the note verification found.
        error: NoteError,
    },
    /// The checkpoint conflicts with what the witness cosigned (400, 409
    /// or 422, see [`crate::check::RejectReason`]).
    #[error("{}", .0.reason)]
    Rejected(Rejection),
    /// The new state or the evidence could not be stored (500).
    #[error("the witness could not store its state: {0}")]
    Storage(#[from] StateError),
    /// A background task failed (500).
    #[error("internal error: {0}")]
    Internal(String),
}

/// A successful `add-checkpoint`: the witness's cosignature.
#[derive(Clone, Debug)]
pub struct Cosigned {
    /// The checkpoint cosigned.
    pub checkpoint: Checkpoint,
    /// The cosignature (cosignature/v1: time ‖ Ed25519 signature).
    pub signature: NoteSignature,
}

impl Cosigned {
    /// The response body: the cosignature as a note signature line,
    /// `— <name> <base64(key ID ‖ time ‖ signature)>\n`.
    pub fn body(&self) -> String {
        self.signature.to_line()
    }
}

/// A summary of one trusted log, for `GET /logs`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogSummary {
    /// The origin.
    pub origin: String,
    /// The size of the latest cosigned checkpoint, if any.
    pub size: Option<u64>,
    /// Its root, lowercase hex.
    pub root: Option<String>,
    /// Where the latest cosigned checkpoint is served.
    pub checkpoint_path: String,
}

struct Log {
    keys: Vec<VerifierKey>,
    /// The latest cosigned checkpoint. Behind an `Arc` so a persist task
    /// can own the guard (see [`Witness::add_checkpoint`]).
    latest: Arc<Mutex<Option<LatestCheckpoint>>>,
    /// The log's evidence accounting. Only used under `latest`'s lock, in
    /// the blocking task that writes a record; a std mutex, since it is
    /// never held across an await.
    evidence: Arc<std::sync::Mutex<EvidenceBudget>>,
}

/// A witness: its key, its trusted logs and their state.
pub struct Witness {
    signer: CosignatureSigner,
    vkey: VerifierKey,
    data: DataDir,
    logs: BTreeMap<String, Log>,
    /// Hex SHA-256 of the origin → origin, for the monitoring URLs.
    by_hash: HashMap<String, String>,
}

impl Witness {
    /// [`Witness::open_with`] the default [`EvidenceLimits`].
    ///
    /// # Errors
    /// As [`Witness::open_with`].
    pub fn open(
        data: DataDir,
        signer: CosignatureSigner,
        logs: &TrustedLogs,
    ) -> Result<Self, StateError> {
        Self::open_with(data, signer, logs, EvidenceLimits::default())
    }

    /// Opens the witness state in `data` for the given logs, reading each
    /// log's latest cosigned checkpoint and how much evidence each log
    /// already has, which counts against `limits`. Blocks on file I/O.
    ///
    /// # Errors
    /// If the directories cannot be created or a state file or evidence
    /// record is corrupt.
    pub fn open_with(
        data: DataDir,
        signer: CosignatureSigner,
        logs: &TrustedLogs,
        limits: EvidenceLimits,
    ) -> Result<Self, StateError> {
        data.create_dirs()?;
        let vkey = signer.verifier();
        let usage = data.evidence_bytes_by_origin()?;
        let mut opened = BTreeMap::new();
        let mut by_hash = HashMap::new();
        for (origin, keys) in logs.iter() {
            let latest = data.load_latest(origin, &vkey)?;
            let used = usage.get(origin).copied().unwrap_or(0);
            if used >= limits.max_bytes_per_log {
                tracing::warn!(
                    origin,
                    used,
                    limit = limits.max_bytes_per_log,
                    "the evidence of log {origin} already fills its allowance ({used} of {} bytes, --max-evidence-bytes-per-log): new evidence for it will not be stored until records are moved out of {} or the limit is raised",
                    limits.max_bytes_per_log,
                    data.evidence_dir().display(),
                );
            }
            by_hash.insert(origin_hash(origin), origin.to_owned());
            opened.insert(
                origin.to_owned(),
                Log {
                    keys: keys.to_vec(),
                    latest: Arc::new(Mutex::new(latest)),
                    evidence: Arc::new(std::sync::Mutex::new(EvidenceBudget::new(limits, used))),
                },
            );
        }
        Ok(Witness {
            signer,
            vkey,
            data,
            logs: opened,
            by_hash,
        })
    }

    /// The witness's key name.
    pub fn name(&self) -> &KeyName {
        self.signer.name()
    }

    /// The witness's verifier key (type 0x04).
    pub fn vkey(&self) -> &VerifierKey {
        &self.vkey
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data
    }

    /// The trusted origins, sorted.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The latest cosigned checkpoint of `origin`.
    pub async fn latest(&self, origin: &str) -> Option<LatestCheckpoint> {
        self.logs.get(origin)?.latest.lock().await.clone()
    }

    /// The latest cosigned checkpoint of the origin whose SHA-256 is
    /// `hash` (lowercase hex).
    pub async fn latest_by_hash(&self, hash: &str) -> Option<LatestCheckpoint> {
        self.latest(self.by_hash.get(hash)?).await
    }

    /// One summary per trusted log.
    pub async fn summaries(&self) -> Vec<LogSummary> {
        let mut out = Vec::with_capacity(self.logs.len());
        for (origin, log) in &self.logs {
            let stored = log
                .latest
                .lock()
                .await
                .as_ref()
                .map(LatestCheckpoint::stored);
            out.push(LogSummary {
                origin: origin.clone(),
                size: stored.map(|s| s.size),
                root: stored.map(|s| s.root.to_hex()),
                checkpoint_path: format!("/{}/checkpoint", origin_hash(origin)),
            });
        }
        out
    }

    /// Handles an `add-checkpoint` body at POSIX time `now` (the
    /// cosignature's timestamp).
    ///
    /// Cancel-safe: once a decision is made, persisting it and updating
    /// the in-memory state run to completion in a blocking task that owns
    /// the log's lock, even if this future is dropped, so memory and disk
    /// never disagree.
    ///
    /// # Errors
    /// Any [`AddError`]; see there for the HTTP status of each.
    pub async fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<Cosigned, AddError> {
        let request = AddCheckpointRequest::parse(body).map_err(Malformed::Body)?;
        let note = Note::parse(&request.checkpoint).map_err(Malformed::Note)?;
        let checkpoint = Checkpoint::parse(note.text()).map_err(Malformed::Checkpoint)?;
        let origin = checkpoint.origin().to_owned();
        let Some(log) = self.logs.get(&origin) else {
            return Err(AddError::UnknownOrigin {
                origin,
                trusted: self.logs.keys().cloned().collect(),
            });
        };
        // Only this log's keys: a signature by another trusted log's key
        // (or by another witness) says nothing about this log.
        let verifiers: Vec<&dyn NoteVerifier> =
            log.keys.iter().map(|k| k as &dyn NoteVerifier).collect();
        // From here on only the verified part of the note counts: its
        // text and one signature per log key. Signature lines of keys the
        // witness does not know are anybody's to add, so they are neither
        // stored nor allowed to make one checkpoint look like many.
        let verified = match note.verify(&verifiers) {
            Ok(v) => kept_note(&note, &v.verified),
            Err(error) => return Err(AddError::Unverified { origin, error }),
        };
        let verified = verified.map_err(|e| AddError::Internal(e.to_string()))?;

        let mut latest = log.latest.clone().lock_owned().await;
        let stored = latest.as_ref().map(LatestCheckpoint::stored);
        if let Verdict::Reject(rejection) = check(stored, &request, &checkpoint) {
            if let (Some(kind), Some(cosigned)) = (rejection.evidence, latest.as_ref()) {
                self.record_evidence(log, kind, cosigned, &request, &verified, &checkpoint, now)
                    .await?;
            }
            return Err(AddError::Rejected(rejection));
        }

        let signature = NoteSignature::new(
            self.signer.name().clone(),
            self.signer.key_id(),
            self.signer.cosign(note.text(), now),
        );
        // The stored note keeps the log signatures the witness verified, so
        // it can be checked (and used as evidence) without the log.
        let mut cosigned = verified;
        cosigned.push_signature(signature.clone());

        let data = self.data.clone();
        let new_latest = LatestCheckpoint {
            note: cosigned,
            checkpoint: checkpoint.clone(),
        };
        tokio::task::spawn_blocking(move || -> Result<(), StateError> {
            data.save_latest(&origin, &new_latest.note)?;
            *latest = Some(new_latest);
            Ok(())
        })
        .await
        .map_err(|e| AddError::Internal(format!("persist task failed: {e}")))??;
        tracing::debug!(
            origin = checkpoint.origin(),
            size = checkpoint.size(),
            old = request.old_size,
            "cosigned checkpoint"
        );
        Ok(Cosigned {
            checkpoint,
            signature,
        })
    }

    /// Stores evidence of a conflict durably, unless the same conflict is
    /// stored already or the log's [`EvidenceBudget`] refuses it, and logs
    /// it: a fork as a possible split view, a failed proof as what it is.
    /// Runs under the log's lock, before the rejection is answered.
    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    async fn record_evidence(
        &self,
        log: &Log,
        kind: EvidenceKind,
        cosigned: &LatestCheckpoint,
        request: &AddCheckpointRequest,
        presented_note: &Note,
        presented: &Checkpoint,
        now: u64,
    ) -> Result<(), AddError> {
        let record = EvidenceRecord {
            id: evidence_id(cosigned.note.text(), presented_note.text()),
            origin: presented.origin().to_owned(),
            kind,
            detected_at: now,
            cosigned: cosigned.note.to_string(),
            presented: presented_note.to_string(),
            old_size: request.old_size,
            proof: request
                .proof
                .iter()
                .map(|h| BASE64.encode(h.as_bytes()))
                .collect(),
        };
        let (data, budget, id) = (self.data.clone(), log.evidence.clone(), record.id.clone());
        let outcome = tokio::task::spawn_blocking(move || -> Result<Outcome, StateError> {
            if data.has_evidence(&record.id) {
                return Ok(Outcome::Repeat);
            }
            let json = evidence_json(&record);
            let len = json.len() as u64;
            let mut budget = budget.lock().unwrap_or_else(PoisonError::into_inner);
            match budget.admit(kind, len, now) {
                Admission::Store => {
                    data.write_evidence(&record.id, &json)?;
                    budget.stored(kind, len, now);
                    Ok(Outcome::Stored)
                }
                Admission::Refuse(why) => Ok(Outcome::Dropped {
                    why,
                    notice: budget.dropped(now),
                    limits: budget.limits(),
                }),
            }
        })
        .await
        .map_err(|e| AddError::Internal(format!("evidence task failed: {e}")))??;

        let origin = presented.origin();
        let (cosigned_size, presented_size) = (cosigned.checkpoint.size(), presented.size());
        let path = self.data.evidence_path(&id);
        match outcome {
            Outcome::Repeat => {
                tracing::debug!(evidence = %id, origin, "a conflict already in the evidence store was presented again");
            }
            Outcome::Stored if is_conclusive(kind) => tracing::error!(
                origin,
                kind = %kind,
                cosigned_size,
                cosigned_root = %cosigned.checkpoint.root(),
                presented_size,
                presented_root = %presented.root(),
                old_size = request.old_size,
                evidence = %id,
                "POSSIBLE SPLIT VIEW: log {origin} signed two different trees of size {presented_size}; evidence stored in {}",
                path.display(),
            ),
            Outcome::Stored => tracing::warn!(
                origin,
                kind = %kind,
                cosigned_size,
                presented_size,
                old_size = request.old_size,
                evidence = %id,
                "inconclusive: the consistency proof from size {cosigned_size} to {presented_size} sent with a checkpoint signed by log {origin} does not verify; anybody can send a bad proof for a genuine checkpoint, so this alone does not show the log forked (ask the log for a proof between the two); evidence stored in {}",
                path.display(),
            ),
            Outcome::Dropped { notice: None, .. } => {}
            Outcome::Dropped {
                why,
                notice: Some(dropped),
                limits,
            } => {
                let reason = match why {
                    Refusal::RateLimited { retry_in_secs } => format!(
                        "at most one inconclusive record per {} s (--inconclusive-evidence-interval-secs), next in {retry_in_secs} s",
                        limits.inconclusive_interval_secs
                    ),
                    Refusal::Full { used, limit } => {
                        let share = if is_conclusive(kind) {
                            String::new()
                        } else {
                            " (inconclusive records may fill half of it)".to_owned()
                        };
                        format!(
                            "the log's evidence uses {used} bytes and this record does not fit in {limit} (--max-evidence-bytes-per-log {}{share}); move records out of {} or raise the limit",
                            limits.max_bytes_per_log,
                            self.data.evidence_dir().display()
                        )
                    }
                };
                if is_conclusive(kind) {
                    tracing::error!(
                        origin,
                        kind = %kind,
                        cosigned_size,
                        presented_size,
                        dropped,
                        "POSSIBLE SPLIT VIEW: log {origin} signed two different trees of size {presented_size}, but the evidence was not stored: {reason}; records not stored for this log since the last notice: {dropped}"
                    );
                } else {
                    tracing::warn!(
                        origin,
                        kind = %kind,
                        dropped,
                        "inconclusive evidence not stored for log {origin} (a consistency proof that does not verify): {reason}; records not stored for this log since the last notice: {dropped}"
                    );
                }
            }
        }
        Ok(())
    }
}

/// What became of a record in [`Witness::record_evidence`].
enum Outcome {
    /// The same conflict is stored already; nothing was written.
    Repeat,
    /// Written.
    Stored,
    /// Refused by the log's budget.
    Dropped {
        /// Why.
        why: Refusal,
        /// `Some(records dropped since the last notice)` when it is time
        /// to log one.
        notice: Option<u64>,
        /// The limits that refused it, for the message.
        limits: EvidenceLimits,
    },
}

/// Holds a log's lock: for tests that need to stall a log.
#[cfg(test)]
impl Witness {
    pub(crate) async fn lock_log(
        &self,
        origin: &str,
    ) -> Option<tokio::sync::OwnedMutexGuard<Option<LatestCheckpoint>>> {
        Some(self.logs.get(origin)?.latest.clone().lock_owned().await)
    }
}
