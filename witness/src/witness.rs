//! The `add-checkpoint` pipeline: parse, find the log, verify its
//! signature, then under that log's lock decide ([`crate::check`]),
//! persist and cosign.
//!
//! Each trusted log has its own lock, so a slow fsync for one log never
//! delays another. The lock is held from reading the latest checkpoint
//! until the new one is on disk and in memory: two concurrent requests for
//! one log can never both build on the same latest checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use causeway_proto::checkpoint::{Checkpoint, CheckpointError};
use causeway_proto::note::{
    CosignatureSigner, KeyName, Note, NoteError, NoteSignature, NoteVerifier, VerifierKey,
};
use causeway_proto::witness::{AddCheckpointRequest, WitnessFormatError};
use tokio::sync::Mutex;

use crate::check::{Rejection, Verdict, check};
use crate::logs::TrustedLogs;
use crate::origin_hash;
use crate::state::{DataDir, EvidenceRecord, LatestCheckpoint, StateError, evidence_id};
use causeway_proto::witness::EvidenceKind;

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
    /// Opens the witness state in `data` for the given logs, reading each
    /// log's latest cosigned checkpoint. Blocks on file I/O.
    ///
    /// # Errors
    /// If the directories cannot be created or a state file is corrupt.
    pub fn open(
        data: DataDir,
        signer: CosignatureSigner,
        logs: &TrustedLogs,
    ) -> Result<Self, StateError> {
        data.create_dirs()?;
        let vkey = signer.verifier();
        let mut opened = BTreeMap::new();
        let mut by_hash = HashMap::new();
        for (origin, keys) in logs.iter() {
            let latest = data.load_latest(origin, &vkey)?;
            by_hash.insert(origin_hash(origin), origin.to_owned());
            opened.insert(
                origin.to_owned(),
                Log {
                    keys: keys.to_vec(),
                    latest: Arc::new(Mutex::new(latest)),
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
        let log_signatures: Vec<NoteSignature> = match note.verify(&verifiers) {
            Ok(v) => v.verified.into_iter().cloned().collect(),
            Err(error) => return Err(AddError::Unverified { origin, error }),
        };

        let mut latest = log.latest.clone().lock_owned().await;
        let stored = latest.as_ref().map(LatestCheckpoint::stored);
        if let Verdict::Reject(rejection) = check(stored, &request, &checkpoint) {
            if let (Some(kind), Some(cosigned)) = (rejection.evidence, latest.as_ref()) {
                self.record_evidence(kind, cosigned, &request, &checkpoint, now)
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
        let mut cosigned = Note::new(note.text()).map_err(|e| AddError::Internal(e.to_string()))?;
        for s in log_signatures {
            cosigned.push_signature(s);
        }
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

    /// Stores split-view evidence durably and logs it. Runs under the
    /// log's lock, before the rejection is answered.
    async fn record_evidence(
        &self,
        kind: EvidenceKind,
        cosigned: &LatestCheckpoint,
        request: &AddCheckpointRequest,
        presented: &Checkpoint,
        now: u64,
    ) -> Result<(), AddError> {
        let record = EvidenceRecord {
            id: evidence_id(&request.checkpoint),
            origin: presented.origin().to_owned(),
            kind,
            detected_at: now,
            cosigned: cosigned.note.to_string(),
            // Valid UTF-8: it parsed as a note.
            presented: String::from_utf8_lossy(&request.checkpoint).into_owned(),
            old_size: request.old_size,
            proof: request
                .proof
                .iter()
                .map(|h| BASE64.encode(h.as_bytes()))
                .collect(),
        };
        tracing::error!(
            origin = %record.origin,
            kind = %kind,
            cosigned_size = cosigned.checkpoint.size(),
            cosigned_root = %cosigned.checkpoint.root(),
            presented_size = presented.size(),
            presented_root = %presented.root(),
            old_size = request.old_size,
            evidence = %record.id,
            "POSSIBLE SPLIT VIEW: a checkpoint signed by log {} conflicts with the one this witness cosigned (size {} vs {}); evidence stored in {}",
            record.origin,
            presented.size(),
            cosigned.checkpoint.size(),
            self.data.evidence_path(&record.id).display(),
        );
        let data = self.data.clone();
        let id = record.id.clone();
        let new = tokio::task::spawn_blocking(move || data.save_evidence(&record))
            .await
            .map_err(|e| AddError::Internal(format!("evidence task failed: {e}")))??;
        if !new {
            tracing::error!(evidence = %id, "the same conflicting checkpoint was presented again");
        }
        Ok(())
    }
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
