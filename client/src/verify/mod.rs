//! Offline verification: checkpoints against the log's keys
//! ([`verify_checkpoint`], or explicitly not: [`read_unverified`]), their
//! witness cosignatures, RFC 3161 anchors, and
//! proofs against verified checkpoints. Nothing here touches the network.

mod checkpoint;

pub use checkpoint::{
    LogKeys, MaybeVerified, UnverifiedCheckpoint, VerifiedCheckpoint, read_unverified,
    verify_checkpoint,
};

use causeway_rfc3161::{
    Expectations, MessageImprint, TimestampError, TrustedRoots, VerifiedTimestamp, verify_response,
};
use causeway_tlog::checkpoint::{Checkpoint, CheckpointError};
use causeway_tlog::merkle::{Hash, VerifyError, verify_consistency, verify_inclusion};
use causeway_tlog::note::{Note, NoteError, NoteVerifier, VerifierKey};

/// Why something did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerificationError {
    /// The note is malformed or a signature is bad.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The note's text is not a valid checkpoint.
    #[error("checkpoint body: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// No log key was given to verify with (read a checkpoint without
    /// keys with [`read_unverified`], by name).
    #[error("no log keys to verify the checkpoint with")]
    NoKeys,
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
    /// Fewer witnesses than the policy's quorum cosigned.
    #[error(
        "the checkpoint is cosigned by {got} of the required {quorum} witnesses{detail}; it is not yet (or no longer) witnessed enough"
    )]
    NoQuorum {
        /// Valid, fresh cosignatures from distinct policy witnesses.
        got: usize,
        /// The quorum.
        quorum: usize,
        /// Which cosignatures did not count, and why.
        detail: String,
    },
    /// An RFC 3161 anchor does not verify.
    #[error("RFC 3161 anchor: {0}")]
    Timestamp(#[from] TimestampError),
    /// A proof failed.
    #[error("proof: {0}")]
    Proof(#[from] VerifyError),
    /// The proof is about something else than asked.
    #[error("{0}")]
    Mismatch(String),
}

/// Which witnesses must have cosigned a checkpoint (c2sp.org/tlog-cosignature).
#[derive(Clone, Debug, Default)]
pub struct WitnessPolicy {
    /// The witnesses' cosignature/v1 verifier keys.
    pub keys: Vec<VerifierKey>,
    /// How many of them must have cosigned.
    pub quorum: usize,
    /// The oldest acceptable cosignature, in seconds before `now`; `None`
    /// accepts any age (for historical checkpoints).
    pub max_age_secs: Option<u64>,
}

/// How far in the future a cosignature timestamp may be (clock skew).
pub const MAX_COSIGNATURE_SKEW_SECS: u64 = 600;

/// A witness cosignature that counted towards the quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness's verifier key.
    pub witness: String,
    /// The cosignature's timestamp (POSIX seconds).
    pub time: u64,
}

/// Checks a checkpoint note's witness cosignatures against `policy` at
/// POSIX time `now`. A policy witness whose cosignature is present but
/// invalid rejects the note (as any known key's bad signature does); stale
/// or future-dated cosignatures do not count.
///
/// # Errors
/// [`VerificationError::NoQuorum`] if fewer than `policy.quorum` distinct
/// policy witnesses cosigned within the age bound, or a note error.
pub fn check_witnesses(
    note: &str,
    policy: &WitnessPolicy,
    now: u64,
) -> Result<Vec<Cosigned>, VerificationError> {
    if policy.quorum == 0 {
        return Ok(Vec::new());
    }
    let parsed = Note::parse(note.as_bytes())?;
    let known: Vec<&dyn NoteVerifier> =
        policy.keys.iter().map(|k| k as &dyn NoteVerifier).collect();
    let verified = match parsed.verify(&known) {
        Ok(v) => v.verified,
        Err(NoteError::NoKnownSignature(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut counted: Vec<Cosigned> = Vec::new();
    let mut rejected = Vec::new();
    for key in &policy.keys {
        let Some(sig) = verified
            .iter()
            .find(|s| s.name() == key.name() && s.key_id() == key.key_id())
        else {
            continue;
        };
        let time = VerifierKey::cosignature_time(sig.signature()).unwrap_or(0);
        let too_old = policy
            .max_age_secs
            .is_some_and(|max| now.saturating_sub(time) > max);
        if time > now.saturating_add(MAX_COSIGNATURE_SKEW_SECS) {
            rejected.push(format!("{} is dated {time}, in the future", key.name()));
        } else if too_old {
            rejected.push(format!(
                "{} is {} s old (limit {} s)",
                key.name(),
                now - time,
                policy.max_age_secs.unwrap_or(0)
            ));
        } else if !counted.iter().any(|c| c.witness == key.to_string()) {
            counted.push(Cosigned {
                witness: key.to_string(),
                time,
            });
        }
    }
    if counted.len() < policy.quorum {
        let detail = if rejected.is_empty() {
            String::new()
        } else {
            format!(" (not counted: {})", rejected.join("; "))
        };
        return Err(VerificationError::NoQuorum {
            got: counted.len(),
            quorum: policy.quorum,
            detail,
        });
    }
    Ok(counted)
}

/// The body of a signed note: its text up to and including the line
/// before the blank line (what an anchor timestamps); the whole of `note`
/// if it has no signatures.
pub fn note_body(note: &str) -> &str {
    note.find("\n\n").map_or(note, |i| &note[..=i])
}

/// Verifies an RFC 3161 anchor: the DER `TimeStampResp` must timestamp
/// SHA-256 of `checkpoint_body` and pass every check of
/// [`verify_response`] against `roots` (and `policy`, if given). The nonce
/// is not checked here: only the log that asked knew it, and it checked it
/// before storing the token.
///
/// # Errors
/// [`VerificationError::Timestamp`] naming the rule that failed.
pub fn check_anchor(
    der: &[u8],
    checkpoint_body: &str,
    roots: &TrustedRoots,
    policy: Option<&str>,
) -> Result<VerifiedTimestamp, VerificationError> {
    let imprint = MessageImprint::sha256(checkpoint_body.as_bytes());
    Ok(verify_response(
        der,
        roots,
        &Expectations {
            imprint: &imprint,
            nonce: None,
            policy,
            not_before: None,
            signer_common_name: None,
        },
    )?)
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
    use causeway_tlog::merkle::{EMPTY_ROOT, leaf_hash};
    use causeway_tlog::note::{EcdsaSigner, Ed25519Signer, KeyName};

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
        assert_eq!(verify_checkpoint(&note, &both).unwrap().note(), note);
        assert!(verify_checkpoint(&note, &both[..1]).is_ok());
        // No keys verify nothing: reading without them is its own function.
        assert!(matches!(
            verify_checkpoint(&note, &[]),
            Err(VerificationError::NoKeys)
        ));
        assert_eq!(read_unverified(&note).unwrap().checkpoint().size(), 0);
        assert!(!LogKeys::Unverified.read(&note).unwrap().is_verified());
        assert!(
            LogKeys::or_unverified(both.to_vec())
                .read(&note)
                .unwrap()
                .is_verified()
        );
        assert!(
            !LogKeys::or_unverified(Vec::new())
                .read(&note)
                .unwrap()
                .is_verified()
        );

        // A note signed by only one of the two keys fails when both are required.
        let cp = Checkpoint::new("log.example/a", 0, EMPTY_ROOT).unwrap();
        let mut half = Note::new(cp.to_text()).unwrap();
        half.sign(&ed).unwrap();
        assert!(matches!(
            verify_checkpoint(&half.to_string(), &both),
            Err(VerificationError::MissingSignature(_))
        ));

        // Right keys, other origin.
        let foreign = signed("log.example/b", &ec, &ed, 0, EMPTY_ROOT);
        assert!(matches!(
            verify_checkpoint(&foreign, &both),
            Err(VerificationError::WrongOrigin { .. })
        ));

        // Another log's keys.
        let other = Ed25519Signer::generate(KeyName::new("log.example/a").unwrap(), &mut rng);
        assert!(verify_checkpoint(&note, &[other.verifier()]).is_err());

        // A tampered size.
        let tampered = note.replacen("\n0\n", "\n1\n", 1);
        assert!(verify_checkpoint(&tampered, &both).is_err());

        // Inclusion against the checked checkpoint.
        let leaf = leaf_hash(b"x");
        let one = Checkpoint::new("log.example/a", 1, leaf).unwrap();
        assert!(check_inclusion(&one, 0, &leaf, &[]).is_ok());
        assert!(check_inclusion(&one, 0, &EMPTY_ROOT, &[]).is_err());
    }

    #[test]
    fn witness_quorum_and_age() {
        use causeway_tlog::note::{CosignatureSigner, NoteSignature};
        let mut rng = rand::rngs::OsRng;
        let name = KeyName::new("log.example/a").unwrap();
        let ec = EcdsaSigner::generate(name.clone(), &mut rng);
        let ed = Ed25519Signer::generate(name, &mut rng);
        let note = signed("log.example/a", &ec, &ed, 0, EMPTY_ROOT);
        let witnesses: Vec<CosignatureSigner> = (1..=3)
            .map(|i| {
                CosignatureSigner::generate(
                    KeyName::new(format!("w{i}.example")).unwrap(),
                    &mut rng,
                )
            })
            .collect();
        let text = Note::parse(note.as_bytes()).unwrap().text().to_owned();
        let cosign = |note: &str, w: &CosignatureSigner, time: u64| {
            let mut n = Note::parse(note.as_bytes()).unwrap();
            n.push_signature(NoteSignature::new(
                w.name().clone(),
                w.key_id(),
                w.cosign(&text, time),
            ));
            n.to_string()
        };
        let now = 1_800_000_000;
        let policy = |quorum, max_age_secs| WitnessPolicy {
            keys: witnesses.iter().map(|w| w.verifier()).collect(),
            quorum,
            max_age_secs,
        };
        let two = cosign(
            &cosign(&note, &witnesses[0], now - 10),
            &witnesses[2],
            now - 5000,
        );
        assert_eq!(
            check_witnesses(&two, &policy(2, None), now).unwrap().len(),
            2
        );
        assert!(matches!(
            check_witnesses(&two, &policy(3, None), now),
            Err(VerificationError::NoQuorum {
                got: 2,
                quorum: 3,
                ..
            })
        ));
        // The one-hour bound drops the 5000 s old cosignature.
        let err = check_witnesses(&two, &policy(2, Some(3600)), now).unwrap_err();
        assert!(err.to_string().contains("5000 s old"), "{err}");
        assert_eq!(
            check_witnesses(&two, &policy(1, Some(3600)), now)
                .unwrap()
                .len(),
            1
        );
        // Future-dated beyond the skew does not count.
        let future = cosign(&note, &witnesses[1], now + 3600);
        assert!(check_witnesses(&future, &policy(1, None), now).is_err());
        // The same witness twice counts once.
        let twice = cosign(&cosign(&note, &witnesses[0], now), &witnesses[0], now - 1);
        assert!(check_witnesses(&twice, &policy(2, None), now).is_err());
        // A policy witness's forged cosignature rejects the note.
        let last = two.lines().last().unwrap();
        let b64_start = last.rfind(' ').unwrap() + 1;
        // Base64 characters 20..30 encode signature bytes (after the 4-byte
        // key ID and the 8-byte time).
        let sig_chars = &last[b64_start + 20..b64_start + 30];
        let replacement = if sig_chars == "AAAAAAAAAA" {
            "BBBBBBBBBB"
        } else {
            "AAAAAAAAAA"
        };
        let forged = two.replacen(sig_chars, replacement, 1);
        assert!(matches!(
            check_witnesses(&forged, &policy(1, None), now),
            Err(VerificationError::Note(_))
        ));
        // Cosignatures from unknown witnesses are ignored.
        let stranger = CosignatureSigner::generate(KeyName::new("w9.example").unwrap(), &mut rng);
        let other = cosign(&note, &stranger, now);
        assert!(matches!(
            check_witnesses(&other, &policy(1, None), now),
            Err(VerificationError::NoQuorum { got: 0, .. })
        ));
    }
}
