//! Offline verification: checkpoints against the log's keys, proofs
//! against verified checkpoints. Nothing here touches the network.

use causeway_proto::checkpoint::{Checkpoint, CheckpointError};
use causeway_proto::merkle::{Hash, VerifyError, verify_consistency, verify_inclusion};
use causeway_proto::note::{Note, NoteError, NoteVerifier, VerifierKey};

/// Why something did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerificationError {
    /// The note is malformed or a signature is bad.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The note's text is not a valid checkpoint.
    #[error("checkpoint body: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A required key did not sign.
    #[error("the checkpoint carries no valid signature from {0}")]
    MissingSignature(String),
    /// The checkpoint is for another log.
    #[error("the checkpoint is for origin {found:?}, but the keys are for {expected:?}")]
    WrongOrigin {
        /// The origin in the checkpoint.
        found: String,
        /// The key name.
        expected: String,
    },
    /// The given keys disagree about the origin.
    #[error("the --vkey keys name different logs ({0} and {1}); pass the keys of one log")]
    MixedKeys(String, String),
    /// A proof failed.
    #[error("proof: {0}")]
    Proof(#[from] VerifyError),
    /// The proof is about something else than asked.
    #[error("{0}")]
    Mismatch(String),
}

/// A checkpoint whose signatures have been checked (or, with no keys, not).
#[derive(Clone, Debug)]
pub struct CheckedCheckpoint {
    /// The parsed body.
    pub checkpoint: Checkpoint,
    /// The note as received.
    pub note: String,
    /// True only if every required key's signature verified.
    pub verified: bool,
}

/// Parses a checkpoint note and verifies it with `keys`.
///
/// Every key given must have signed (a Causeway log signs with both its
/// ECDSA and its Ed25519 key; pass either or both), and the checkpoint's
/// origin must be the keys' name. With no keys the checkpoint is parsed but
/// `verified` is false.
///
/// # Errors
/// If the note is malformed, a known signature is bad, a key did not
/// sign, or the origin is not the keys' name.
pub fn check_checkpoint(
    note: &str,
    keys: &[VerifierKey],
) -> Result<CheckedCheckpoint, VerificationError> {
    let parsed = Note::parse(note.as_bytes())?;
    let checkpoint = Checkpoint::parse(parsed.text())?;
    if keys.is_empty() {
        return Ok(CheckedCheckpoint {
            checkpoint,
            note: note.to_owned(),
            verified: false,
        });
    }
    let name = keys[0].name().as_str();
    if let Some(other) = keys.iter().find(|k| k.name().as_str() != name) {
        return Err(VerificationError::MixedKeys(
            name.to_owned(),
            other.name().to_string(),
        ));
    }
    if checkpoint.origin() != name {
        return Err(VerificationError::WrongOrigin {
            found: checkpoint.origin().to_owned(),
            expected: name.to_owned(),
        });
    }
    let known: Vec<&dyn NoteVerifier> = keys.iter().map(|k| k as &dyn NoteVerifier).collect();
    let verified = parsed.verify(&known)?;
    for key in keys {
        let signed = verified
            .verified
            .iter()
            .any(|s| s.name() == key.name() && s.key_id() == key.key_id());
        if !signed {
            return Err(VerificationError::MissingSignature(key.to_string()));
        }
    }
    Ok(CheckedCheckpoint {
        checkpoint,
        note: note.to_owned(),
        verified: true,
    })
}

/// Verifies an inclusion proof against a checked checkpoint.
///
/// # Errors
/// If the proof does not lead to the checkpoint's root.
pub fn check_inclusion(
    checkpoint: &Checkpoint,
    leaf_index: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
) -> Result<(), VerificationError> {
    verify_inclusion(
        leaf_index,
        checkpoint.size(),
        leaf_hash,
        proof,
        checkpoint.root(),
    )?;
    Ok(())
}

/// Verifies a consistency proof between two checked checkpoints.
///
/// # Errors
/// If the checkpoints are for different logs or the proof fails.
pub fn check_consistency(
    old: &Checkpoint,
    new: &Checkpoint,
    proof: &[Hash],
) -> Result<(), VerificationError> {
    if old.origin() != new.origin() {
        return Err(VerificationError::Mismatch(format!(
            "checkpoints of different logs: {:?} and {:?}",
            old.origin(),
            new.origin()
        )));
    }
    verify_consistency(old.size(), new.size(), old.root(), new.root(), proof)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_proto::merkle::{EMPTY_ROOT, leaf_hash};
    use causeway_proto::note::{EcdsaSigner, Ed25519Signer, KeyName};

    fn signed(origin: &str, ec: &EcdsaSigner, ed: &Ed25519Signer, size: u64, root: Hash) -> String {
        let cp = Checkpoint::new(origin, size, root).unwrap();
        let mut n = Note::new(cp.to_text()).unwrap();
        n.sign(ec).unwrap();
        n.sign(ed).unwrap();
        n.to_string()
    }

    #[test]
    fn every_given_key_must_sign_and_origin_must_match() {
        let mut rng = rand::rngs::OsRng;
        let name = KeyName::new("log.example/a").unwrap();
        let ec = EcdsaSigner::generate(name.clone(), &mut rng);
        let ed = Ed25519Signer::generate(name, &mut rng);
        let note = signed("log.example/a", &ec, &ed, 0, EMPTY_ROOT);
        let both = [ec.verifier(), ed.verifier()];
        assert!(check_checkpoint(&note, &both).unwrap().verified);
        assert!(check_checkpoint(&note, &both[..1]).unwrap().verified);
        assert!(!check_checkpoint(&note, &[]).unwrap().verified);

        // A note signed by only one of the two keys fails when both are required.
        let cp = Checkpoint::new("log.example/a", 0, EMPTY_ROOT).unwrap();
        let mut half = Note::new(cp.to_text()).unwrap();
        half.sign(&ed).unwrap();
        assert!(matches!(
            check_checkpoint(&half.to_string(), &both),
            Err(VerificationError::MissingSignature(_))
        ));

        // Right keys, other origin.
        let foreign = signed("log.example/b", &ec, &ed, 0, EMPTY_ROOT);
        assert!(matches!(
            check_checkpoint(&foreign, &both),
            Err(VerificationError::WrongOrigin { .. })
        ));

        // Another log's keys.
        let other = Ed25519Signer::generate(KeyName::new("log.example/a").unwrap(), &mut rng);
        assert!(check_checkpoint(&note, &[other.verifier()]).is_err());

        // A tampered size.
        let tampered = note.replacen("\n0\n", "\n1\n", 1);
        assert!(check_checkpoint(&tampered, &both).is_err());

        // Inclusion against the checked checkpoint.
        let leaf = leaf_hash(b"x");
        let one = Checkpoint::new("log.example/a", 1, leaf).unwrap();
        assert!(check_inclusion(&one, 0, &leaf, &[]).is_ok());
        assert!(check_inclusion(&one, 0, &EMPTY_ROOT, &[]).is_err());
    }
}
