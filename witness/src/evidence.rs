//! What split-view evidence the witness keeps, and how much: pure rules,
//! no I/O, so each one is unit-tested.
//!
//! Anybody can replay a genuine log-signed checkpoint to `add-checkpoint`
//! with a garbage consistency proof and any number of signature lines of
//! keys the witness does not know. Storing each such request as received
//! would let them fill the witness's disk (40 requests wrote 31 MB before
//! these rules). So:
//!
//! * a record keeps only the checkpoint bodies and the log signatures the
//!   witness verified, one per log key ([`kept_note`]);
//! * its ID is derived from the two checkpoint bodies only
//!   ([`evidence_id`]), so the same conflict presented again, with
//!   whatever proof or extra signature lines, is stored once;
//! * a failed consistency proof is inconclusive (an honest log cannot
//!   produce one, but anybody can send one), so at most one such record
//!   per log is stored per [`EvidenceLimits::inconclusive_interval_secs`],
//!   and they may fill at most half of a log's allowance, leaving the rest
//!   for conclusive evidence (two log-signed trees of one size, which only
//!   the log's key can make);
//! * all records of a log together stay within
//!   [`EvidenceLimits::max_bytes_per_log`] ([`EvidenceBudget`]).
//!
//! None of this changes the answers: refusals keep their C2SP status.

use causeway_tlog::note::{Note, NoteError, NoteSignature};
use causeway_tlog::witness::EvidenceKind;
use sha2::{Digest as _, Sha256};

/// The default of [`EvidenceLimits::max_bytes_per_log`]: 16 MiB, room for
/// thousands of records (one is about 1 to 4 KB).
pub const DEFAULT_MAX_EVIDENCE_BYTES_PER_LOG: u64 = 16 << 20;

/// The default of [`EvidenceLimits::inconclusive_interval_secs`].
pub const DEFAULT_INCONCLUSIVE_INTERVAL_SECS: u64 = 60;

/// How often, at most, a log's dropped records are mentioned in the log
/// output: each drop is one request, and a flood must not become a flood
/// of log lines.
pub const DROP_NOTICE_INTERVAL_SECS: u64 = 60;

/// How much evidence the witness keeps per trusted log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvidenceLimits {
    /// The most bytes of evidence records kept for one log; a record that
    /// does not fit is not written.
    pub max_bytes_per_log: u64,
    /// At most one inconclusive record (a failed consistency proof) is
    /// stored per log in this many seconds.
    pub inconclusive_interval_secs: u64,
}

impl Default for EvidenceLimits {
    fn default() -> Self {
        EvidenceLimits {
            max_bytes_per_log: DEFAULT_MAX_EVIDENCE_BYTES_PER_LOG,
            inconclusive_interval_secs: DEFAULT_INCONCLUSIVE_INTERVAL_SECS,
        }
    }
}

/// Whether a kind of evidence proves a fork by itself. Only two log-signed
/// trees of one size do; a consistency proof is unsigned, so its failure
/// proves nothing about the log until the log is asked for a good one.
pub fn is_conclusive(kind: EvidenceKind) -> bool {
    match kind {
        EvidenceKind::SameSizeDifferentRoot => true,
        EvidenceKind::ConsistencyProofFailed => false,
    }
}

/// The ID of the evidence about a conflict between the checkpoint the
/// witness cosigned and one presented to it: the first 16 hex digits of
/// SHA-256(len(cosigned) as 8 bytes big-endian ‖ cosigned ‖ presented),
/// over the two checkpoint bodies (the texts without signature lines).
/// The length prefix keeps two different pairs from hashing alike.
pub fn evidence_id(cosigned_body: &str, presented_body: &str) -> String {
    let mut hash = Sha256::new();
    hash.update((cosigned_body.len() as u64).to_be_bytes());
    hash.update(cosigned_body.as_bytes());
    hash.update(presented_body.as_bytes());
    let mut id = hex::encode(hash.finalize());
    id.truncate(16);
    id
}

/// The note the witness keeps of a checkpoint: its text and the log
/// signatures that verified, the first one of each key. Signature lines of
/// unknown keys are dropped (the witness cannot vouch for them, and anybody
/// can add them), and so are repeats of one key's line, which add nothing.
///
/// # Errors
/// Only if `note`'s text is not a note text, which a parsed note's is.
pub fn kept_note(note: &Note, verified: &[&NoteSignature]) -> Result<Note, NoteError> {
    let mut kept = Note::new(note.text())?;
    for (i, sig) in verified.iter().enumerate() {
        let repeat = verified[..i]
            .iter()
            .any(|s| s.name() == sig.name() && s.key_id() == sig.key_id());
        if !repeat {
            kept.push_signature((*sig).clone());
        }
    }
    Ok(kept)
}

/// What [`EvidenceBudget::admit`] decided about a new record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Write it.
    Store,
    /// Do not write it.
    Refuse(Refusal),
}

/// Why [`EvidenceBudget::admit`] refused a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An inconclusive record came too soon after the last one.
    RateLimited {
        /// Seconds until the next one may be stored.
        retry_in_secs: u64,
    },
    /// It does not fit in the log's allowance.
    Full {
        /// Bytes of evidence the log has.
        used: u64,
        /// What this kind of record may fill: the whole allowance for
        /// conclusive records, half of it for inconclusive ones.
        limit: u64,
    },
}

/// One log's evidence accounting: bytes stored, when the last
/// inconclusive record was stored, and the rate limit on drop notices.
#[derive(Clone, Debug)]
pub struct EvidenceBudget {
    limits: EvidenceLimits,
    used: u64,
    last_inconclusive: Option<u64>,
    last_notice: Option<u64>,
    dropped_since_notice: u64,
}

impl EvidenceBudget {
    /// A budget under `limits` for a log that already has `used` bytes of
    /// evidence on disk.
    pub fn new(limits: EvidenceLimits, used: u64) -> Self {
        EvidenceBudget {
            limits,
            used,
            last_inconclusive: None,
            last_notice: None,
            dropped_since_notice: 0,
        }
    }

    /// Bytes of evidence the log has.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The limits.
    pub fn limits(&self) -> EvidenceLimits {
        self.limits
    }

    /// Whether a new record of `kind` and `len` bytes may be written at
    /// POSIX time `now`. Changes nothing: call [`Self::stored`] once it is
    /// written.
    pub fn admit(&self, kind: EvidenceKind, len: u64, now: u64) -> Admission {
        let conclusive = is_conclusive(kind);
        if !conclusive && let Some(last) = self.last_inconclusive {
            let next = last.saturating_add(self.limits.inconclusive_interval_secs);
            if now < next {
                return Admission::Refuse(Refusal::RateLimited {
                    retry_in_secs: next - now,
                });
            }
        }
        let limit = if conclusive {
            self.limits.max_bytes_per_log
        } else {
            self.limits.max_bytes_per_log / 2
        };
        if self.used.saturating_add(len) > limit {
            return Admission::Refuse(Refusal::Full {
                used: self.used,
                limit,
            });
        }
        Admission::Store
    }

    /// Accounts for a record of `kind` and `len` bytes written at `now`.
    pub fn stored(&mut self, kind: EvidenceKind, len: u64, now: u64) {
        self.used = self.used.saturating_add(len);
        if !is_conclusive(kind) {
            self.last_inconclusive = Some(now);
        }
    }

    /// Accounts for a record not written at `now`. Returns how many were
    /// dropped since the last notice (this one included) when it is time
    /// to say so: for the first drop, then at most once per
    /// [`DROP_NOTICE_INTERVAL_SECS`].
    pub fn dropped(&mut self, now: u64) -> Option<u64> {
        self.dropped_since_notice += 1;
        let due = self
            .last_notice
            .is_none_or(|last| now >= last.saturating_add(DROP_NOTICE_INTERVAL_SECS));
        if !due {
            return None;
        }
        self.last_notice = Some(now);
        Some(std::mem::take(&mut self.dropped_since_notice))
    }
}

#[cfg(test)]
mod tests {
    use causeway_tlog::checkpoint::Checkpoint;
    use causeway_tlog::merkle::EMPTY_ROOT;
    use causeway_tlog::note::{KeyName, NoteVerifier};

    use super::*;
    use crate::testutil::log_signer;

    const FORK: EvidenceKind = EvidenceKind::SameSizeDifferentRoot;
    const BAD_PROOF: EvidenceKind = EvidenceKind::ConsistencyProofFailed;

    fn limits(max: u64, interval: u64) -> EvidenceLimits {
        EvidenceLimits {
            max_bytes_per_log: max,
            inconclusive_interval_secs: interval,
        }
    }

    #[test]
    fn only_two_signed_trees_of_one_size_are_conclusive() {
        assert!(is_conclusive(FORK));
        assert!(!is_conclusive(BAD_PROOF));
    }

    #[test]
    fn the_id_depends_on_both_bodies_and_nothing_else() {
        let (a, b) = ("o\n5\nAAAA\n", "o\n5\nBBBB\n");
        assert_eq!(evidence_id(a, b), evidence_id(a, b));
        assert_ne!(evidence_id(a, b), evidence_id(b, a));
        assert_ne!(evidence_id(a, b), evidence_id(a, "o\n6\nBBBB\n"));
        // Moving bytes between the two bodies changes the ID.
        assert_ne!(evidence_id("ab", "c"), evidence_id("a", "bc"));
        let id = evidence_id(a, b);
        assert_eq!(id.len(), 16);
        assert!(crate::state::is_evidence_id(&id), "{id}");
    }

    #[test]
    fn kept_notes_drop_unknown_and_repeated_signature_lines() {
        let log = log_signer("example.com/log");
        let text = Checkpoint::new("example.com/log", 0, EMPTY_ROOT)
            .unwrap()
            .to_text();
        let mut note = Note::new(text.clone()).unwrap();
        note.push_signature(NoteSignature::new(
            KeyName::new("junk").unwrap(),
            7,
            vec![1; 3000],
        ));
        note.sign(&log).unwrap();
        note.sign(&log).unwrap(); // Ed25519 is deterministic: the same line twice
        let vkey = log.verifier();
        let known: [&dyn NoteVerifier; 1] = [&vkey];
        let verified = note.verify(&known).unwrap();
        assert_eq!(verified.verified.len(), 2);
        assert_eq!(verified.unverified.len(), 1);

        let kept = kept_note(&note, &verified.verified).unwrap();
        assert_eq!(kept.text(), text);
        assert_eq!(kept.signatures(), &note.signatures()[1..2]);
        assert!(kept.verify(&known).is_ok());
    }

    #[test]
    fn records_are_stored_until_the_allowance_is_full() {
        let mut b = EvidenceBudget::new(limits(1000, 60), 0);
        assert_eq!(b.admit(FORK, 600, 1), Admission::Store);
        b.stored(FORK, 600, 1);
        assert_eq!(b.admit(FORK, 400, 2), Admission::Store);
        assert_eq!(
            b.admit(FORK, 401, 2),
            Admission::Refuse(Refusal::Full {
                used: 600,
                limit: 1000
            })
        );
        b.stored(FORK, 400, 2);
        assert_eq!(b.used(), 1000);
        assert!(matches!(
            b.admit(FORK, 1, 3),
            Admission::Refuse(Refusal::Full { .. })
        ));
        // What is on disk at start-up counts.
        let b = EvidenceBudget::new(limits(1000, 60), 999);
        assert!(matches!(
            b.admit(FORK, 2, 0),
            Admission::Refuse(Refusal::Full { .. })
        ));
    }

    #[test]
    fn inconclusive_records_are_rate_limited_and_leave_room_for_forks() {
        let mut b = EvidenceBudget::new(limits(1000, 60), 0);
        assert_eq!(b.admit(BAD_PROOF, 100, 10), Admission::Store);
        b.stored(BAD_PROOF, 100, 10);
        assert_eq!(
            b.admit(BAD_PROOF, 100, 30),
            Admission::Refuse(Refusal::RateLimited { retry_in_secs: 40 })
        );
        // Forks are never rate-limited.
        assert_eq!(b.admit(FORK, 100, 30), Admission::Store);
        assert_eq!(b.admit(BAD_PROOF, 100, 70), Admission::Store);
        b.stored(BAD_PROOF, 100, 70);
        // Inconclusive records fill at most half the allowance.
        assert_eq!(
            b.admit(BAD_PROOF, 301, 200),
            Admission::Refuse(Refusal::Full {
                used: 200,
                limit: 500
            })
        );
        assert_eq!(b.admit(FORK, 800, 200), Admission::Store);
        // A clock that went backwards does not open the gate.
        assert!(matches!(
            b.admit(BAD_PROOF, 1, 5),
            Admission::Refuse(Refusal::RateLimited { .. })
        ));
    }

    #[test]
    fn drops_are_announced_at_most_once_a_minute_with_their_count() {
        let mut b = EvidenceBudget::new(EvidenceLimits::default(), 0);
        assert_eq!(b.dropped(100), Some(1));
        for t in 101..160 {
            assert_eq!(b.dropped(t), None, "{t}");
        }
        assert_eq!(b.dropped(160), Some(60));
        assert_eq!(b.dropped(161), None);
        assert_eq!(b.dropped(1000), Some(2));
    }

    #[test]
    fn defaults_are_documented_values() {
        let d = EvidenceLimits::default();
        assert_eq!(d.max_bytes_per_log, 16 * 1024 * 1024);
        assert_eq!(d.inconclusive_interval_secs, 60);
    }
}
