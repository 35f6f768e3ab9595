//! Reading a checkpoint note: verified with the log's keys
//! ([`verify_checkpoint`] → [`VerifiedCheckpoint`]), or, by name only,
//! without them ([`read_unverified`] → [`UnverifiedCheckpoint`]).
//!
//! The two are different types so that the compiler shows every place that
//! works from a head nobody checked: a [`VerifiedCheckpoint`] has private
//! fields and only [`verify_checkpoint`] makes one, so no caller can claim
//! a verification that did not happen. Commands that accept both (the CLI
//! without `--vkey` prints what it fetched, marked unverified) say which
//! with [`LogKeys`] and get a [`MaybeVerified`] back.

use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::note::{Note, NoteVerifier, VerifierKey};

use super::{Cosigned, VerificationError, WitnessPolicy, check_witnesses};

/// A checkpoint whose log signatures verified: every key given signed it
/// and its origin is the keys' name. Built only by [`verify_checkpoint`].
#[derive(Clone, Debug)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
    cosigned: Vec<Cosigned>,
}

/// A checkpoint parsed WITHOUT checking who signed it: its size and root
/// are only what the server claims. Built only by [`read_unverified`];
/// whatever is derived from one must say it is unverified.
#[derive(Clone, Debug)]
pub struct UnverifiedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
    cosigned: Vec<Cosigned>,
}

/// Parses a checkpoint note and verifies it with `keys`.
///
/// Every key given must have signed (a Causeway log signs with both its
/// ECDSA and its Ed25519 key; pass either or both), and the checkpoint's
/// origin must be the keys' name.
///
/// # Errors
/// [`VerificationError::NoKeys`] for an empty `keys` (to read a note
/// without keys, call [`read_unverified`] by name); otherwise if the note
/// is malformed, a known signature is bad, a key did not sign, or the
/// origin is not the keys' name.
pub fn verify_checkpoint(
    note: &str,
    keys: &[VerifierKey],
) -> Result<VerifiedCheckpoint, VerificationError> {
    let Some(first) = keys.first() else {
        return Err(VerificationError::NoKeys);
    };
    let parsed = Note::parse(note.as_bytes())?;
    let checkpoint = Checkpoint::parse(parsed.text())?;
    let name = first.name().as_str();
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
    Ok(VerifiedCheckpoint {
        checkpoint,
        note: note.to_owned(),
        cosigned: Vec::new(),
    })
}

/// Parses a checkpoint note without checking any signature: the explicit
/// path for an auditor who has no keys (`causeway audit --unverified`, and
/// every command run without `--vkey`).
///
/// # Errors
/// If the note or its checkpoint body is malformed.
pub fn read_unverified(note: &str) -> Result<UnverifiedCheckpoint, VerificationError> {
    let parsed = Note::parse(note.as_bytes())?;
    let checkpoint = Checkpoint::parse(parsed.text())?;
    Ok(UnverifiedCheckpoint {
        checkpoint,
        note: note.to_owned(),
        cosigned: Vec::new(),
    })
}

// The two types read the same; only who may build them differs.
macro_rules! checkpoint_accessors {
    ($type:ident) => {
        impl $type {
            /// The parsed checkpoint body.
            pub fn checkpoint(&self) -> &Checkpoint {
                &self.checkpoint
            }

            /// The parsed checkpoint body, by value.
            pub fn into_checkpoint(self) -> Checkpoint {
                self.checkpoint
            }

            /// The signed note as received.
            pub fn note(&self) -> &str {
                &self.note
            }

            /// The witness cosignatures that satisfied a [`WitnessPolicy`],
            /// once [`Self::with_witnesses`] has been applied (empty
            /// before).
            pub fn cosigned(&self) -> &[Cosigned] {
                &self.cosigned
            }

            /// Applies a witness policy at POSIX time `now` and keeps the
            /// cosignatures that counted.
            ///
            /// # Errors
            /// See [`check_witnesses`].
            pub fn with_witnesses(
                mut self,
                policy: &WitnessPolicy,
                now: u64,
            ) -> Result<Self, VerificationError> {
                self.cosigned = check_witnesses(&self.note, policy, now)?;
                Ok(self)
            }
        }
    };
}

checkpoint_accessors!(VerifiedCheckpoint);
checkpoint_accessors!(UnverifiedCheckpoint);

/// What a checkpoint's log signatures are checked with.
#[derive(Clone, Debug)]
pub enum LogKeys {
    /// The log's verifier keys: every one must have signed.
    Verify(Vec<VerifierKey>),
    /// None: checkpoints are read without checking who signed them
    /// ([`read_unverified`]), and say so.
    Unverified,
}

impl LogKeys {
    /// The log's keys, or [`LogKeys::Unverified`] when there are none: the
    /// CLI's rule that a command run without `--vkey` prints what it
    /// fetched as unverified.
    pub fn or_unverified(keys: Vec<VerifierKey>) -> Self {
        if keys.is_empty() {
            LogKeys::Unverified
        } else {
            LogKeys::Verify(keys)
        }
    }

    /// The keys (none when unverified).
    pub fn keys(&self) -> &[VerifierKey] {
        match self {
            LogKeys::Verify(keys) => keys,
            LogKeys::Unverified => &[],
        }
    }

    /// Reads `note` with these keys: [`verify_checkpoint`], or
    /// [`read_unverified`] for [`LogKeys::Unverified`].
    ///
    /// # Errors
    /// See those functions.
    pub fn read(&self, note: &str) -> Result<MaybeVerified, VerificationError> {
        Ok(match self {
            LogKeys::Verify(keys) => MaybeVerified::Verified(verify_checkpoint(note, keys)?),
            LogKeys::Unverified => MaybeVerified::Unverified(read_unverified(note)?),
        })
    }
}

/// A checkpoint as a command read it with [`LogKeys`]: verified, or
/// explicitly not.
#[derive(Clone, Debug)]
pub enum MaybeVerified {
    /// Its log signatures verified.
    Verified(VerifiedCheckpoint),
    /// Read without the log's keys.
    Unverified(UnverifiedCheckpoint),
}

impl MaybeVerified {
    /// Whether the log's signatures were verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, MaybeVerified::Verified(_))
    }

    /// The verified checkpoint, if it is one.
    pub fn verified(&self) -> Option<&VerifiedCheckpoint> {
        match self {
            MaybeVerified::Verified(v) => Some(v),
            MaybeVerified::Unverified(_) => None,
        }
    }

    /// The parsed checkpoint body (verified or not: see
    /// [`Self::is_verified`]).
    pub fn checkpoint(&self) -> &Checkpoint {
        match self {
            MaybeVerified::Verified(v) => v.checkpoint(),
            MaybeVerified::Unverified(u) => u.checkpoint(),
        }
    }

    /// The parsed checkpoint body, by value.
    pub fn into_checkpoint(self) -> Checkpoint {
        match self {
            MaybeVerified::Verified(v) => v.into_checkpoint(),
            MaybeVerified::Unverified(u) => u.into_checkpoint(),
        }
    }

    /// The signed note as received.
    pub fn note(&self) -> &str {
        match self {
            MaybeVerified::Verified(v) => v.note(),
            MaybeVerified::Unverified(u) => u.note(),
        }
    }

    /// The witness cosignatures that counted (see
    /// [`VerifiedCheckpoint::cosigned`]).
    pub fn cosigned(&self) -> &[Cosigned] {
        match self {
            MaybeVerified::Verified(v) => v.cosigned(),
            MaybeVerified::Unverified(u) => u.cosigned(),
        }
    }

    /// Applies a witness policy (see [`VerifiedCheckpoint::with_witnesses`]).
    ///
    /// # Errors
    /// See [`check_witnesses`].
    pub fn with_witnesses(
        self,
        policy: &WitnessPolicy,
        now: u64,
    ) -> Result<Self, VerificationError> {
        Ok(match self {
            MaybeVerified::Verified(v) => MaybeVerified::Verified(v.with_witnesses(policy, now)?),
            MaybeVerified::Unverified(u) => {
                MaybeVerified::Unverified(u.with_witnesses(policy, now)?)
            }
        })
    }
}
