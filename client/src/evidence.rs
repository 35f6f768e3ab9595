//! Checking split-view evidence kept by a witness ([`EvidenceRecord`]).
//!
//! A record holds two notes signed by the same log: the checkpoint the
//! witness had cosigned and the one the log later presented. If both carry
//! a valid log signature and they have the same size but different roots,
//! the log signed two histories that cannot both be true: that is proof of
//! misbehaviour anyone can check with the log's public key alone. A record
//! about a failed consistency proof is weaker (the proof itself is not
//! signed); it is settled by asking the log for a consistency proof between
//! the two signed checkpoints, which a log that did not fork can give.

use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, verify_consistency};
use causeway_tlog::note::{Note, NoteVerifier, VerifierKey};
use causeway_tlog::witness::{EvidenceKind, EvidenceRecord};

use crate::verify::VerificationError;

/// What a record proves.
#[derive(Clone, Debug)]
pub struct EvidenceFinding {
    /// The checkpoint the witness had cosigned.
    pub cosigned: Checkpoint,
    /// The conflicting checkpoint the log presented.
    pub presented: Checkpoint,
    /// True when the two signed notes alone prove the log forked.
    pub conclusive: bool,
    /// A sentence for people.
    pub explanation: String,
}

/// Checks that a note carries a valid signature from one of the log's
/// keys (any one is binding) and returns its checkpoint.
fn log_signed(note: &str, keys: &[VerifierKey]) -> Result<Checkpoint, VerificationError> {
    let parsed = Note::parse(note.as_bytes())?;
    let checkpoint = Checkpoint::parse(parsed.text())?;
    if let Some(key) = keys.first()
        && checkpoint.origin() != key.name().as_str()
    {
        return Err(VerificationError::WrongOrigin {
            found: checkpoint.origin().to_owned(),
            expected: key.name().to_string(),
        });
    }
    let known: Vec<&dyn NoteVerifier> = keys.iter().map(|k| k as &dyn NoteVerifier).collect();
    parsed.verify(&known)?;
    Ok(checkpoint)
}

/// Verifies an evidence record against the log's keys.
///
/// # Errors
/// If either note lacks a valid log signature (the record proves nothing,
/// or was forged), or the record is inconsistent with its own kind.
pub fn check_evidence(
    record: &EvidenceRecord,
    log_keys: &[VerifierKey],
) -> Result<EvidenceFinding, VerificationError> {
    if log_keys.is_empty() {
        return Err(VerificationError::Mismatch(
            "evidence can only be checked with the log's keys: pass --vkey".into(),
        ));
    }
    let cosigned = log_signed(&record.cosigned, log_keys)?;
    let presented = log_signed(&record.presented, log_keys)?;
    let (a, b) = (&cosigned, &presented);
    match record.kind {
        EvidenceKind::SameSizeDifferentRoot => {
            if a.size() != b.size() || a.root() == b.root() {
                return Err(VerificationError::Mismatch(format!(
                    "the record claims two roots at one size, but holds size {} root {} and size {} root {}",
                    a.size(),
                    a.root(),
                    b.size(),
                    b.root()
                )));
            }
            let explanation = format!(
                "the log signed two different trees of size {}: roots {} and {}; they cannot both be true, so the log showed different histories to different parties",
                a.size(),
                a.root(),
                b.root()
            );
            Ok(EvidenceFinding {
                cosigned,
                presented,
                conclusive: true,
                explanation,
            })
        }
        EvidenceKind::ConsistencyProofFailed => {
            let proof: Vec<Hash> = record
                .proof
                .iter()
                .map(|line| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD
                        .decode(line)
                        .ok()
                        .and_then(|b| Hash::try_from(b.as_slice()).ok())
                        .ok_or_else(|| {
                            VerificationError::Mismatch(format!(
                                "proof line {line:?} is not a hash"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?;
            if verify_consistency(a.size(), b.size(), a.root(), b.root(), &proof).is_ok() {
                return Err(VerificationError::Mismatch(
                    "the stored consistency proof verifies: the record shows no conflict".into(),
                ));
            }
            let explanation = format!(
                "the log presented size {} with a consistency proof from size {} that does not verify; ask it for a consistency proof between these two signed checkpoints (causeway prove consistency --old {} --new {}): if it cannot give one, it forked",
                b.size(),
                a.size(),
                a.size(),
                b.size()
            );
            Ok(EvidenceFinding {
                cosigned,
                presented,
                conclusive: false,
                explanation,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_tlog::merkle::leaf_hash;
    use causeway_tlog::note::{Ed25519Signer, KeyName, NoteSigner as _};

    fn note(signer: &Ed25519Signer, size: u64, root: Hash) -> String {
        let cp = Checkpoint::new(signer.name().as_str(), size, root).unwrap();
        let mut n = Note::new(cp.to_text()).unwrap();
        n.sign(signer).unwrap();
        n.to_string()
    }

    fn record(kind: EvidenceKind, cosigned: String, presented: String) -> EvidenceRecord {
        EvidenceRecord {
            id: "0123456789abcdef".into(),
            origin: "log.example".into(),
            kind,
            detected_at: 0,
            cosigned,
            presented,
            old_size: 5,
            proof: Vec::new(),
        }
    }

    #[test]
    fn same_size_fork_is_conclusive_only_with_the_logs_signatures() {
        let mut rng = rand::rngs::OsRng;
        let log = Ed25519Signer::generate(KeyName::new("log.example").unwrap(), &mut rng);
        let keys = [log.verifier()];
        let fork = record(
            EvidenceKind::SameSizeDifferentRoot,
            note(&log, 5, leaf_hash(b"a")),
            note(&log, 5, leaf_hash(b"b")),
        );
        let finding = check_evidence(&fork, &keys).unwrap();
        assert!(finding.conclusive, "{}", finding.explanation);

        // Not a fork: same root.
        let same = record(
            EvidenceKind::SameSizeDifferentRoot,
            note(&log, 5, leaf_hash(b"a")),
            note(&log, 5, leaf_hash(b"a")),
        );
        assert!(check_evidence(&same, &keys).is_err());

        // Forged: the second note is signed by someone else's key of the same name.
        let impostor = Ed25519Signer::generate(KeyName::new("log.example").unwrap(), &mut rng);
        let forged = record(
            EvidenceKind::SameSizeDifferentRoot,
            note(&log, 5, leaf_hash(b"a")),
            note(&impostor, 5, leaf_hash(b"b")),
        );
        assert!(check_evidence(&forged, &keys).is_err());
        assert!(check_evidence(&fork, &[]).is_err());
    }

    #[test]
    fn failed_proofs_are_suspicious_not_conclusive() {
        let log =
            Ed25519Signer::generate(KeyName::new("log.example").unwrap(), &mut rand::rngs::OsRng);
        let r = record(
            EvidenceKind::ConsistencyProofFailed,
            note(&log, 1, leaf_hash(b"a")),
            note(&log, 2, leaf_hash(b"b")),
        );
        let finding = check_evidence(&r, &[log.verifier()]).unwrap();
        assert!(!finding.conclusive);
        assert!(finding.explanation.contains("--old 1 --new 2"));
    }
}
