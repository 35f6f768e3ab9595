//! Before a state is updated, its checkpoint must be a prefix of the log's
//! new one. If it is not, the log showed this auditor two different
//! histories: the evidence is both signed notes and the proof that fails,
//! which anyone can re-check offline.

use std::path::Path;

use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::Hash;
use serde::Serialize;

use super::StoredCheckpoint;
use crate::verify::{check_consistency, note_body};

/// The file, in the state directory, that a detected fork is written to.
pub const EVIDENCE_FILE: &str = "fork-evidence.json";

/// Why the stored checkpoint and the log's new one are not one history.
#[derive(Clone, Debug, Serialize, thiserror::Error)]
#[error(
    "FORK: the audited checkpoint in the state (size {}, root {}) is not consistent with the \
     log's checkpoint (size {new_size}, root {new_root}): {reason}",
    stored.size, stored.root_hex
)]
pub struct ForkEvidence {
    /// What fails.
    pub reason: String,
    /// The checkpoint the state holds, with its signed note.
    pub stored: StoredCheckpoint,
    /// The log's new checkpoint: its size.
    pub new_size: u64,
    /// Its root (hex).
    pub new_root: String,
    /// Its signed note.
    pub new_note: String,
    /// The consistency proof from the stored size to the new size, as
    /// fetched (hex hashes); empty when none applies.
    pub proof: Vec<String>,
}

impl ForkEvidence {
    /// Writes the evidence as JSON to `dir/fork-evidence.json`.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn write(&self, dir: &Path) -> std::io::Result<std::path::PathBuf> {
        let path = dir.join(EVIDENCE_FILE);
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// Whether the consistency proof is needed to go from `stored` to a tree of
/// `new_size`: only when the state is non-empty and the tree grew.
pub fn needs_proof(stored: &StoredCheckpoint, new_size: u64) -> bool {
    stored.size > 0 && stored.size < new_size
}

/// Checks that `stored` is a prefix of `new` (whose signed note is
/// `new_note`), with `proof` from the stored size to the new one when
/// [`needs_proof`] says one is needed (else it is ignored). Reuses the
/// client's [`check_consistency`].
///
/// # Errors
/// [`ForkEvidence`] (boxed: it carries both notes): the log shrank, shows another root at the same size,
/// is another log, or the proof does not verify.
pub fn check(
    stored: &StoredCheckpoint,
    new: &Checkpoint,
    new_note: &str,
    proof: &[Hash],
) -> Result<(), Box<ForkEvidence>> {
    let evidence = |reason: String, proof: &[Hash]| {
        Box::new(ForkEvidence {
            reason,
            stored: stored.clone(),
            new_size: new.size(),
            new_root: new.root().to_hex(),
            new_note: new_note.to_owned(),
            proof: proof.iter().map(Hash::to_hex).collect(),
        })
    };
    let root = Hash::from_hex(&stored.root_hex).map_err(|e| {
        evidence(
            format!("the stored root is not a hash ({e}): the state is damaged"),
            &[],
        )
    })?;
    // The origin is taken from the stored note; size and root from their
    // columns, which are what this auditor verified.
    let origin = Checkpoint::parse(note_body(&stored.note))
        .map(|c| c.origin().to_owned())
        .map_err(|e| evidence(format!("the stored note does not parse ({e})"), &[]))?;
    if origin != new.origin() {
        return Err(evidence(
            format!(
                "the state is of log {origin:?}, the checkpoint of log {:?}",
                new.origin()
            ),
            &[],
        ));
    }
    if stored.size > new.size() {
        return Err(evidence(
            format!(
                "the log's tree has {} entries, fewer than the {} already audited",
                new.size(),
                stored.size
            ),
            &[],
        ));
    }
    if stored.size == new.size() {
        if &root != new.root() {
            return Err(evidence(
                "two signed checkpoints of the same size with different roots".to_owned(),
                &[],
            ));
        }
        return Ok(());
    }
    if stored.size == 0 {
        return Ok(());
    }
    let old = Checkpoint::new(origin, stored.size, root)
        .map_err(|e| evidence(format!("the stored checkpoint is invalid ({e})"), &[]))?;
    check_consistency(&old, new, proof).map_err(|e| {
        evidence(
            format!("the consistency proof does not verify ({e})"),
            proof,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_tlog::merkle::{CompactRange, leaf_hash};

    fn root_of(n: u8) -> Hash {
        let mut r = CompactRange::new();
        for i in 0..n {
            r.append(leaf_hash(&[i]), |_, _| {});
        }
        r.root()
    }

    fn stored(size: u64, root: Hash) -> StoredCheckpoint {
        let cp = Checkpoint::new("log.example/a", size, root).unwrap();
        StoredCheckpoint {
            size,
            root_hex: root.to_hex(),
            note: format!("{}\n— sig\n", cp.to_text()),
            audited_at: "2026-12-03T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_grown_log_passes_and_a_wrong_root_or_shrunk_log_is_a_fork() {
        let new = Checkpoint::new("log.example/a", 3, root_of(3)).unwrap();
        let same = stored(3, root_of(3));
        assert!(check(&same, &new, "note", &[]).is_ok());
        let other = stored(3, root_of(2));
        let e = check(&other, &new, "note", &[]).unwrap_err();
        assert!(e.reason.contains("same size"), "{e}");
        let bigger = stored(4, root_of(4));
        assert!(
            check(&bigger, &new, "note", &[])
                .unwrap_err()
                .reason
                .contains("fewer")
        );
        // A proof that does not lead from the stored root: a fork, with
        // the proof in the evidence.
        let grown = stored(2, root_of(1));
        let e = check(&grown, &new, "note", &[leaf_hash(&[2])]).unwrap_err();
        assert_eq!(e.proof, vec![leaf_hash(&[2]).to_hex()]);
        assert!(e.to_string().starts_with("FORK:"), "{e}");
    }
}
