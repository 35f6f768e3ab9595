//! The `add-checkpoint` decision, as a pure function.
//!
//! By the time [`check`] runs, the request body has parsed, the origin is a
//! trusted log and the log's signature has verified. What is left depends
//! only on what the witness last cosigned for that log ([`Stored`]) and on
//! the request, so it is decided here without I/O, clocks or locks, and
//! every branch is unit-tested. The caller holds the log's lock around
//! this call and the persisting of an accepted checkpoint.
//!
//! The order of the checks follows c2sp.org/tlog-witness: an `old` size
//! beyond the checkpoint (400), an `old` size that is not the witness's
//! latest (409), then the proof (422).

use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{EMPTY_ROOT, Hash, VerifyError, verify_consistency};
use causeway_tlog::witness::{AddCheckpointRequest, EvidenceKind};

/// What the witness last cosigned for a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The tree size of the latest cosigned checkpoint.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// The outcome of [`check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Cosign the checkpoint and make it the latest.
    Cosign,
    /// Refuse it.
    Reject(Rejection),
}

/// A refused request, and whether it is evidence of a conflict: proof of
/// a split view for [`EvidenceKind::SameSizeDifferentRoot`], only a
/// suspicion for [`EvidenceKind::ConsistencyProofFailed`] (see
/// [`crate::evidence`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Why it was refused; decides the HTTP status.
    pub reason: RejectReason,
    /// Set when the log-signed checkpoint contradicts what the witness
    /// cosigned: the caller offers it to the evidence store (which may
    /// keep it already, or refuse it past its limits) before answering.
    pub evidence: Option<EvidenceKind>,
}

/// Why a checkpoint was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// `old` is larger than the checkpoint's size (400).
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldSizeBeyondCheckpoint {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// `old` is not the size of the witness's latest checkpoint (409).
    #[error("old size {old} does not match this witness's latest size {latest} for the log")]
    SizeMismatch {
        /// The request's old size.
        old: u64,
        /// The size the witness has (0 when it has cosigned nothing).
        latest: u64,
    },
    /// A size-0 checkpoint whose root is not the empty tree's (422).
    #[error("a checkpoint of size 0 must have the empty tree root {EMPTY_ROOT}, got {root}")]
    EmptyTreeRoot {
        /// The checkpoint's root.
        root: Hash,
    },
    /// A proof from the empty tree, which needs none (422).
    #[error("old size 0 needs an empty consistency proof, got {proof_len} lines")]
    ProofFromEmptyTree {
        /// The number of proof lines.
        proof_len: usize,
    },
    /// A proof between equal sizes, which needs none (422).
    #[error("old size equals the checkpoint size; the proof must be empty, got {proof_len} lines")]
    ProofForSameSize {
        /// The number of proof lines.
        proof_len: usize,
    },
    /// The same size as the latest cosigned checkpoint with another root (422).
    #[error(
        "the checkpoint has size {size} like the one this witness cosigned, but root {presented} instead of {cosigned}"
    )]
    SameSizeDifferentRoot {
        /// The shared size.
        size: u64,
        /// The root the witness cosigned.
        cosigned: Hash,
        /// The root presented.
        presented: Hash,
    },
    /// The consistency proof does not lead from the latest cosigned
    /// checkpoint to this one (422).
    #[error("the consistency proof from size {old} to {size} does not verify: {error}")]
    InconsistentProof {
        /// The old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        error: VerifyError,
    },
}

/// Decides an `add-checkpoint` request whose checkpoint verified against a
/// trusted key of its log. `stored` is the witness's latest cosigned
/// checkpoint for that log, `None` if it has none.
pub fn check(
    stored: Option<Stored>,
    request: &AddCheckpointRequest,
    checkpoint: &Checkpoint,
) -> Verdict {
    let (old, size, root) = (request.old_size, checkpoint.size(), *checkpoint.root());
    let proof = request.proof.as_slice();
    let latest = stored.map_or(0, |s| s.size);

    // A signed checkpoint of the cosigned size with another root is a fork
    // whatever `old` says, so it is evidence even when the answer is a 400
    // or a 409 that would otherwise hide it.
    let fork = stored
        .filter(|s| s.size == size && s.root != root)
        .map(|_| EvidenceKind::SameSizeDifferentRoot);
    let reject = |reason| {
        Verdict::Reject(Rejection {
            reason,
            evidence: fork,
        })
    };

    if old > size {
        return reject(RejectReason::OldSizeBeyondCheckpoint { old, size });
    }
    if old != latest {
        return reject(RejectReason::SizeMismatch { old, latest });
    }
    if size == 0 && root != EMPTY_ROOT {
        return reject(RejectReason::EmptyTreeRoot { root });
    }
    if old == 0 {
        // Trust on first use, or growth from an empty tree: every tree
        // extends the empty one, so there is nothing to prove. (If a size-0
        // checkpoint is stored, its root is EMPTY_ROOT: it was checked above
        // when it was accepted.)
        if !proof.is_empty() {
            return reject(RejectReason::ProofFromEmptyTree {
                proof_len: proof.len(),
            });
        }
        return Verdict::Cosign;
    }
    // Here old == latest > 0, so there is a stored checkpoint.
    let Some(stored) = stored else {
        return reject(RejectReason::SizeMismatch { old, latest });
    };
    if old == size {
        if !proof.is_empty() {
            return reject(RejectReason::ProofForSameSize {
                proof_len: proof.len(),
            });
        }
        // Same size, different root: 422 as transparency-dev/witness does,
        // because the log's `old` is right and only the checkpoint is
        // wrong. (The v1.0.0 C2SP text says 409 here; a 409 would make a
        // log retry with the same `old`, which cannot help.)
        if stored.root != root {
            return reject(RejectReason::SameSizeDifferentRoot {
                size,
                cosigned: stored.root,
                presented: root,
            });
        }
        // The same checkpoint again: cosign it afresh.
        return Verdict::Cosign;
    }
    match verify_consistency(old, size, &stored.root, &root, proof) {
        Ok(()) => Verdict::Cosign,
        Err(error) => Verdict::Reject(Rejection {
            reason: RejectReason::InconsistentProof { old, size, error },
            evidence: Some(EvidenceKind::ConsistencyProofFailed),
        }),
    }
}

#[cfg(test)]
mod tests {
    use causeway_tlog::merkle::{leaf_hash, root_of};

    use super::*;
    use crate::testutil::consistency_proof;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn cp(size: u64, root: Hash) -> Checkpoint {
        Checkpoint::new("example.com/log", size, root).unwrap()
    }

    fn req(old: u64, proof: Vec<Hash>) -> AddCheckpointRequest {
        AddCheckpointRequest {
            old_size: old,
            proof,
            checkpoint: Vec::new(), // check() never looks at the note
        }
    }

    fn stored(size: u64) -> Option<Stored> {
        Some(Stored {
            size,
            root: root_of(&leaves(size)),
        })
    }

    fn reason(v: Verdict) -> (RejectReason, Option<EvidenceKind>) {
        match v {
            Verdict::Reject(r) => (r.reason, r.evidence),
            Verdict::Cosign => panic!("expected a rejection"),
        }
    }

    #[test]
    fn first_checkpoint_is_trusted_on_first_use() {
        let l = leaves(7);
        assert_eq!(
            check(None, &req(0, vec![]), &cp(7, root_of(&l))),
            Verdict::Cosign
        );
        assert_eq!(
            check(None, &req(0, vec![]), &cp(0, EMPTY_ROOT)),
            Verdict::Cosign
        );
    }

    #[test]
    fn growth_with_a_valid_proof_is_cosigned() {
        let l = leaves(1000);
        for (old, new) in [(1, 2), (3, 7), (4, 8), (7, 1000), (512, 1000), (999, 1000)] {
            let proof = consistency_proof(old, &l[..new]);
            let v = check(
                stored(old as u64),
                &req(old as u64, proof),
                &cp(new as u64, root_of(&l[..new])),
            );
            assert_eq!(v, Verdict::Cosign, "{old} -> {new}");
        }
        // From a stored empty tree, no proof is needed.
        let s0 = Some(Stored {
            size: 0,
            root: EMPTY_ROOT,
        });
        assert_eq!(
            check(s0, &req(0, vec![]), &cp(5, root_of(&l[..5]))),
            Verdict::Cosign
        );
    }

    #[test]
    fn the_same_checkpoint_is_cosigned_again() {
        let v = check(stored(9), &req(9, vec![]), &cp(9, root_of(&leaves(9))));
        assert_eq!(v, Verdict::Cosign);
    }

    #[test]
    fn old_beyond_size_is_400() {
        let (r, e) = reason(check(
            stored(5),
            &req(6, vec![]),
            &cp(5, root_of(&leaves(5))),
        ));
        assert_eq!(r, RejectReason::OldSizeBeyondCheckpoint { old: 6, size: 5 });
        assert_eq!(e, None);
    }

    #[test]
    fn wrong_old_size_is_409_with_the_stored_size() {
        let l = leaves(20);
        let (r, e) = reason(check(stored(10), &req(8, vec![]), &cp(20, root_of(&l))));
        assert_eq!(r, RejectReason::SizeMismatch { old: 8, latest: 10 });
        assert_eq!(e, None);
        // Nothing stored: the latest size is 0.
        let (r, _) = reason(check(None, &req(3, vec![]), &cp(20, root_of(&l))));
        assert_eq!(r, RejectReason::SizeMismatch { old: 3, latest: 0 });
        // A smaller checkpoint than the stored one.
        let (r, _) = reason(check(stored(10), &req(5, vec![]), &cp(5, root_of(&l[..5]))));
        assert_eq!(r, RejectReason::SizeMismatch { old: 5, latest: 10 });
    }

    #[test]
    fn a_fork_is_evidence_even_when_the_answer_is_409_or_400() {
        let other = leaf_hash(b"other");
        let (r, e) = reason(check(stored(10), &req(4, vec![]), &cp(10, other)));
        assert_eq!(r, RejectReason::SizeMismatch { old: 4, latest: 10 });
        assert_eq!(e, Some(EvidenceKind::SameSizeDifferentRoot));
        let (r, e) = reason(check(stored(10), &req(11, vec![]), &cp(10, other)));
        assert!(matches!(r, RejectReason::OldSizeBeyondCheckpoint { .. }));
        assert_eq!(e, Some(EvidenceKind::SameSizeDifferentRoot));
    }

    #[test]
    fn size_zero_with_another_root_is_422() {
        let bad = leaf_hash(b"x");
        let (r, e) = reason(check(None, &req(0, vec![]), &cp(0, bad)));
        assert_eq!(r, RejectReason::EmptyTreeRoot { root: bad });
        assert_eq!(e, None);
    }

    #[test]
    fn a_proof_from_the_empty_tree_is_422() {
        let l = leaves(4);
        let (r, e) = reason(check(None, &req(0, vec![l[0]]), &cp(4, root_of(&l))));
        assert_eq!(r, RejectReason::ProofFromEmptyTree { proof_len: 1 });
        assert_eq!(e, None);
    }

    #[test]
    fn a_proof_between_equal_sizes_is_422() {
        let l = leaves(4);
        let (r, e) = reason(check(stored(4), &req(4, vec![l[0]]), &cp(4, root_of(&l))));
        assert_eq!(r, RejectReason::ProofForSameSize { proof_len: 1 });
        assert_eq!(e, None);
    }

    #[test]
    fn same_size_different_root_is_422_and_evidence() {
        let other = leaf_hash(b"other");
        let (r, e) = reason(check(stored(4), &req(4, vec![]), &cp(4, other)));
        assert_eq!(
            r,
            RejectReason::SameSizeDifferentRoot {
                size: 4,
                cosigned: root_of(&leaves(4)),
                presented: other,
            }
        );
        assert_eq!(e, Some(EvidenceKind::SameSizeDifferentRoot));
    }

    #[test]
    fn a_bad_proof_is_422_and_evidence() {
        let l = leaves(10);
        let good = consistency_proof(3, &l);
        let new = cp(10, root_of(&l));
        // Tampered hash, truncated proof, empty proof.
        let mut tampered = good.clone();
        tampered[0] = leaf_hash(b"tampered");
        for proof in [tampered, good[..good.len() - 1].to_vec(), vec![]] {
            let (r, e) = reason(check(stored(3), &req(3, proof), &new));
            assert!(
                matches!(
                    r,
                    RejectReason::InconsistentProof {
                        old: 3,
                        size: 10,
                        ..
                    }
                ),
                "{r}"
            );
            assert_eq!(e, Some(EvidenceKind::ConsistencyProofFailed));
        }
        // A valid proof towards another tree does not match this checkpoint.
        let forked: Vec<Hash> = (0..10).map(|i| leaf_hash(&[i as u8, 1])).collect();
        let mut fork_leaves = l[..3].to_vec();
        fork_leaves.extend_from_slice(&forked[3..]);
        let (r, _) = reason(check(
            stored(3),
            &req(3, consistency_proof(3, &fork_leaves)),
            &new,
        ));
        assert!(matches!(r, RejectReason::InconsistentProof { .. }));
    }

    #[test]
    fn evidence_kinds_serialize_as_documented() {
        for k in [
            EvidenceKind::SameSizeDifferentRoot,
            EvidenceKind::ConsistencyProofFailed,
        ] {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
    }
}
