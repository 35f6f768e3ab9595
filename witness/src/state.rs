//! The witness's files: the latest cosigned checkpoint of each log and the
//! split-view evidence store.
//!
//! ```text
//! <data-dir>/logs/<hex sha256(origin)>.note   latest cosigned note per log
//! <data-dir>/evidence/<id>.json               one evidence record each
//! ```
//!
//! Every file is replaced atomically (temporary file, fsync, rename, fsync
//! of the directory), so after a crash a file holds either the old or the
//! new content, and a reply is only sent once the content is durable. A
//! cosigned note holds the checkpoint, the log signatures the witness
//! verified and the witness's own cosignature, so the file alone shows what
//! the witness vouched for.
//!
//! All functions here block; async callers run them in `spawn_blocking`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use causeway_io::files::{sync_dir, write_atomic};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::note::{Note, NoteVerifier, VerifierKey};

use crate::check::Stored;
use crate::origin_hash;
pub use causeway_tlog::witness::EvidenceRecord;

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// File system trouble.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A file exists but its content is not what the witness wrote.
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// The latest checkpoint the witness cosigned for a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatestCheckpoint {
    /// The cosigned note: checkpoint text, the verified log signatures and
    /// the witness's cosignature.
    pub note: Note,
    /// The parsed checkpoint.
    pub checkpoint: Checkpoint,
}

impl LatestCheckpoint {
    /// Size and root, as [`crate::check::check`] wants them.
    pub fn stored(&self) -> Stored {
        Stored {
            size: self.checkpoint.size(),
            root: *self.checkpoint.root(),
        }
    }
}

/// Whether `id` looks like an evidence ID ([`crate::evidence::evidence_id`]),
/// and so is safe in a path.
pub fn is_evidence_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The paths of a data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root`; nothing is touched yet.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the cosigned notes live.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Where evidence records live.
    pub fn evidence_dir(&self) -> PathBuf {
        self.root.join("evidence")
    }

    /// The file of `origin`'s latest cosigned note.
    pub fn note_path(&self, origin: &str) -> PathBuf {
        self.logs_dir()
            .join(format!("{}.note", origin_hash(origin)))
    }

    /// The file of evidence `id`.
    pub fn evidence_path(&self, id: &str) -> PathBuf {
        self.evidence_dir().join(format!("{id}.json"))
    }

    /// Creates the subdirectories, durably.
    ///
    /// # Errors
    /// If they cannot be created.
    pub fn create_dirs(&self) -> Result<(), StateError> {
        for dir in [self.logs_dir(), self.evidence_dir()] {
            fs::create_dir_all(&dir).map_err(|error| StateError::Io {
                path: dir.clone(),
                error,
            })?;
        }
        sync_dir(&self.root).map_err(|error| StateError::Io {
            path: self.root.clone(),
            error,
        })
    }

    /// Reads `origin`'s latest cosigned note, checking that it is a note of
    /// that origin cosigned by `witness`: a file that fails this was not
    /// written by this witness, and trusting it could make the witness
    /// cosign a fork.
    ///
    /// # Errors
    /// [`StateError::Corrupt`] for a file that fails those checks.
    pub fn load_latest(
        &self,
        origin: &str,
        witness: &VerifierKey,
    ) -> Result<Option<LatestCheckpoint>, StateError> {
        let path = self.note_path(origin);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(StateError::Io { path, error }),
        };
        let corrupt = |reason: String| StateError::Corrupt {
            path: path.clone(),
            reason,
        };
        let note = Note::parse(&bytes).map_err(|e| corrupt(format!("not a signed note: {e}")))?;
        let checkpoint = Checkpoint::parse(note.text())
            .map_err(|e| corrupt(format!("not a checkpoint: {e}")))?;
        if checkpoint.origin() != origin {
            return Err(corrupt(format!(
                "it holds a checkpoint of {:?}, not {origin:?}",
                checkpoint.origin()
            )));
        }
        let verifiers: [&dyn NoteVerifier; 1] = [witness];
        note.verify(&verifiers).map_err(|e| {
            corrupt(format!(
                "it is not cosigned by this witness's key {witness} ({e}); was the key replaced?"
            ))
        })?;
        Ok(Some(LatestCheckpoint { note, checkpoint }))
    }

    /// Makes `note` the latest cosigned note of `origin`, durably.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn save_latest(&self, origin: &str, note: &Note) -> Result<(), StateError> {
        let path = self.note_path(origin);
        write_atomic(&path, &note.to_bytes()).map_err(|error| StateError::Io { path, error })
    }

    /// Whether evidence `id` is stored.
    pub fn has_evidence(&self, id: &str) -> bool {
        is_evidence_id(id) && self.evidence_path(id).exists()
    }

    /// Stores evidence `id`, encoded by [`evidence_json`], durably.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn write_evidence(&self, id: &str, json: &[u8]) -> Result<(), StateError> {
        let path = self.evidence_path(id);
        write_atomic(&path, json).map_err(|error| StateError::Io { path, error })
    }

    /// Stores an evidence record durably unless one with its ID exists.
    /// Returns whether it was new.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn save_evidence(&self, record: &EvidenceRecord) -> Result<bool, StateError> {
        if self.has_evidence(&record.id) {
            return Ok(false);
        }
        self.write_evidence(&record.id, &evidence_json(record))?;
        Ok(true)
    }

    /// The bytes of evidence stored per origin, for the per-log allowance
    /// ([`crate::evidence::EvidenceBudget`]) after a restart.
    ///
    /// # Errors
    /// If the directory or a record cannot be read or parsed.
    pub fn evidence_bytes_by_origin(&self) -> Result<HashMap<String, u64>, StateError> {
        let mut bytes = HashMap::new();
        for (record, len) in self.read_evidence_dir()? {
            *bytes.entry(record.origin).or_insert(0) += len;
        }
        Ok(bytes)
    }

    /// Reads evidence `id`; `None` if there is none (or `id` is not an ID).
    ///
    /// # Errors
    /// If the file exists but cannot be read or parsed.
    pub fn read_evidence(&self, id: &str) -> Result<Option<EvidenceRecord>, StateError> {
        if !is_evidence_id(id) {
            return Ok(None);
        }
        let path = self.evidence_path(id);
        match fs::read(&path) {
            Ok(bytes) => parse_evidence(&path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StateError::Io { path, error }),
        }
    }

    /// Every stored evidence record, oldest first.
    ///
    /// # Errors
    /// If the directory or a record cannot be read or parsed.
    pub fn list_evidence(&self) -> Result<Vec<EvidenceRecord>, StateError> {
        let mut records: Vec<EvidenceRecord> = self
            .read_evidence_dir()?
            .into_iter()
            .map(|(record, _)| record)
            .collect();
        records.sort_by(|a, b| (a.detected_at, &a.id).cmp(&(b.detected_at, &b.id)));
        Ok(records)
    }

    /// Every stored evidence record with its file size, in no order.
    fn read_evidence_dir(&self) -> Result<Vec<(EvidenceRecord, u64)>, StateError> {
        let dir = self.evidence_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(StateError::Io { path: dir, error }),
        };
        let mut records = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| StateError::Io {
                path: dir.clone(),
                error,
            })?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue; // temporary files and strays
            };
            if !is_evidence_id(id) {
                continue;
            }
            let path = entry.path();
            let bytes = fs::read(&path).map_err(|error| StateError::Io {
                path: path.clone(),
                error,
            })?;
            records.push((parse_evidence(&path, &bytes)?, bytes.len() as u64));
        }
        Ok(records)
    }
}

/// An evidence record as stored: pretty JSON and a final newline. Its
/// length is what counts against the log's allowance.
pub fn evidence_json(record: &EvidenceRecord) -> Vec<u8> {
    // Serializing a struct of strings and numbers cannot fail; the
    // fallback only keeps this free of a panic path.
    let mut json = serde_json::to_vec_pretty(record).unwrap_or_default();
    json.push(b'\n');
    json
}

fn parse_evidence(path: &Path, bytes: &[u8]) -> Result<EvidenceRecord, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
        path: path.to_owned(),
        reason: format!("not an evidence record: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use causeway_tlog::merkle::EMPTY_ROOT;
    use causeway_tlog::note::{CosignatureSigner, KeyName, NoteSignature};
    use causeway_tlog::witness::EvidenceKind;

    use super::*;

    fn record(presented: &str, at: u64) -> EvidenceRecord {
        EvidenceRecord {
            id: crate::evidence::evidence_id("c", presented),
            origin: "o".into(),
            kind: EvidenceKind::SameSizeDifferentRoot,
            detected_at: at,
            cosigned: "c".into(),
            presented: presented.into(),
            old_size: 0,
            proof: vec![],
        }
    }

    #[test]
    fn evidence_is_stored_once_and_listed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        assert!(data.list_evidence().unwrap().is_empty());
        data.create_dirs().unwrap();
        let (a, b) = (record("a", 20), record("b", 10));
        assert!(data.save_evidence(&a).unwrap());
        assert!(!data.save_evidence(&record("a", 30)).unwrap());
        assert!(data.save_evidence(&b).unwrap());
        assert_eq!(data.list_evidence().unwrap(), vec![b.clone(), a.clone()]);
        assert_eq!(data.read_evidence(&a.id).unwrap(), Some(a.clone()));
        assert_eq!(data.read_evidence("0123456789abcdef").unwrap(), None);
        assert_eq!(data.read_evidence("../../etc/passwd").unwrap(), None);
        assert!(data.has_evidence(&a.id) && !data.has_evidence("../witness.pem"));

        // The per-origin usage is the sum of the files' sizes.
        let mut c = record("c", 5);
        c.origin = "p".into();
        assert!(data.save_evidence(&c).unwrap());
        let usage = data.evidence_bytes_by_origin().unwrap();
        let len = |r: &EvidenceRecord| evidence_json(r).len() as u64;
        assert_eq!(usage["o"], len(&a) + len(&b));
        assert_eq!(usage["p"], len(&c));
        assert_eq!(usage.len(), 2);
    }

    #[test]
    fn latest_round_trips_and_corruption_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        data.create_dirs().unwrap();
        let w = CosignatureSigner::generate(KeyName::new("w").unwrap(), &mut rand::thread_rng());
        assert_eq!(data.load_latest("o", &w.verifier()).unwrap(), None);

        let text = Checkpoint::new("o", 0, EMPTY_ROOT).unwrap().to_text();
        let mut note = Note::new(text.clone()).unwrap();
        note.push_signature(NoteSignature::new(
            w.name().clone(),
            w.key_id(),
            w.cosign(&text, 1),
        ));
        data.save_latest("o", &note).unwrap();
        let got = data.load_latest("o", &w.verifier()).unwrap().unwrap();
        assert_eq!(got.note, note);
        assert_eq!(got.stored().size, 0);

        // Another witness's key, another origin, garbage.
        let other =
            CosignatureSigner::generate(KeyName::new("w").unwrap(), &mut rand::thread_rng());
        let err = data.load_latest("o", &other.verifier()).unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        fs::copy(data.note_path("o"), data.note_path("p")).unwrap();
        let err = data.load_latest("p", &w.verifier()).unwrap_err();
        assert!(err.to_string().contains("not \"p\""), "{err}");
        fs::write(data.note_path("o"), "garbage").unwrap();
        let err = data.load_latest("o", &w.verifier()).unwrap_err();
        assert!(err.to_string().contains("not a signed note"), "{err}");
    }
}
