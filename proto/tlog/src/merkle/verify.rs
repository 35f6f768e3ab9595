//! Proof verification, RFC 9162 §2.1.3.2 and §2.1.4.2, from sizes and
//! hashes only. Edge cases follow transparency-dev/merkle: a consistency
//! proof from size 0 is rejected, equal sizes need an empty proof and equal
//! roots, and a proof of the wrong length is rejected before any hashing
//! result is trusted.

use super::hash::{Hash, node_hash};

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexBeyondSize {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from the empty tree proves nothing.
    #[error("a consistency proof needs an old size of at least 1")]
    OldSizeZero,
    /// The old tree is larger than the new tree.
    #[error("old size {old} is larger than new size {new}")]
    OldSizeAboveNew {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("wrong proof length: {got} hashes, expected {expected}")]
    WrongProofLength {
        /// The number of hashes the sizes call for.
        expected: usize,
        /// The number given.
        got: usize,
    },
    /// Everything was well-formed but the computed root differs.
    #[error("root mismatch: the proof yields {computed}, expected {expected}")]
    RootMismatch {
        /// What the proof hashed to.
        computed: Hash,
        /// What it should have been.
        expected: Hash,
    },
    /// `[start, end)` is not a subtree: empty, or `start` is not a multiple
    /// of the smallest power of two holding `end - start` leaves.
    #[error("[{start}, {end}) is not a valid subtree")]
    InvalidSubtree {
        /// First leaf.
        start: u64,
        /// One past the last leaf.
        end: u64,
    },
    /// The proof does not lead from the old root.
    #[error("old root mismatch: the proof yields {computed}, expected {expected}")]
    OldRootMismatch {
        /// What the proof hashed to.
        computed: Hash,
        /// The old root given.
        expected: Hash,
    },
}

/// The number of hashes in an inclusion proof of `index` in a tree of
/// `size`: one per level below the point where the paths to `index` and to
/// the last leaf part, plus one per set bit of `size - 1` above it.
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let last = size - 1;
    let inner = 64 - (index ^ last).leading_zeros(); // levels up to the fork
    // Perfect subtrees on the left above. `inner` is 64 when the paths part
    // at the top bit (sizes above 2^63), and a u64 shifted by 64 is zero,
    // not an overflow.
    let border = last.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Computes the root implied by an inclusion proof (RFC 9162 §2.1.3.2).
///
/// # Errors
/// If `index >= size` or the proof has the wrong length.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexBeyondSize { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            // On the right edge: climb past levels where this node has no
            // right sibling.
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    debug_assert_eq!(snode, 0, "length check guarantees a full walk");
    Ok(r)
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves whose
/// root is `root` (RFC 9162 §2.1.3.2).
///
/// # Errors
/// Any [`VerifyError`] describing why the proof fails.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if computed != *root {
        return Err(VerifyError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// Verifies that leaf `index` is in the subtree of leaves `[start, end)`
/// whose hash is `subtree_root` (the subtree inclusion proofs of the Merkle
/// Tree Certificates draft, as transparency-dev/merkle implements them).
/// A valid subtree is non-empty and starts at a multiple of the smallest
/// power of two at least `end - start`; the proof is then an ordinary
/// inclusion proof inside it.
///
/// # Errors
/// Any [`VerifyError`] describing why the proof fails.
pub fn verify_subtree_inclusion(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
    subtree_root: &Hash,
) -> Result<(), VerifyError> {
    if start >= end {
        return Err(VerifyError::InvalidSubtree { start, end });
    }
    let width = (end - start)
        .checked_next_power_of_two()
        .ok_or(VerifyError::InvalidSubtree { start, end })?;
    if !start.is_multiple_of(width) {
        return Err(VerifyError::InvalidSubtree { start, end });
    }
    if !(start..end).contains(&index) {
        return Err(VerifyError::IndexBeyondSize { index, size: end });
    }
    verify_inclusion(index - start, end - start, leaf, proof, subtree_root)
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix
/// of the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
///
/// # Errors
/// Any [`VerifyError`] describing why the proof fails.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old == 0 {
        return Err(VerifyError::OldSizeZero);
    }
    if old > new {
        return Err(VerifyError::OldSizeAboveNew { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(VerifyError::WrongProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if old_root != new_root {
            return Err(VerifyError::RootMismatch {
                computed: *old_root,
                expected: *new_root,
            });
        }
        return Ok(());
    }

    // The proof is the inclusion path of the old tree's last leaf, from
    // the level where that leaf's subtree is perfect; when the whole old
    // tree is perfect its root is that start and is not sent.
    let level = old.trailing_zeros();
    let (mut fnode, mut snode) = ((old - 1) >> level, (new - 1) >> level);
    let (start, path) = if old.is_power_of_two() {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => {
                return Err(VerifyError::WrongProofLength {
                    expected: 1,
                    got: 0,
                });
            }
        }
    };
    let expected = expected_consistency_len(fnode, snode);
    if path.len() != expected {
        let sent_start = usize::from(!old.is_power_of_two());
        return Err(VerifyError::WrongProofLength {
            expected: expected + sent_start,
            got: proof.len(),
        });
    }

    let (mut old_acc, mut new_acc) = (start, start);
    for c in path {
        if fnode & 1 == 1 || fnode == snode {
            old_acc = node_hash(c, &old_acc);
            new_acc = node_hash(c, &new_acc);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            new_acc = node_hash(&new_acc, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if old_acc != *old_root {
        return Err(VerifyError::OldRootMismatch {
            computed: old_acc,
            expected: *old_root,
        });
    }
    if new_acc != *new_root {
        return Err(VerifyError::RootMismatch {
            computed: new_acc,
            expected: *new_root,
        });
    }
    Ok(())
}

/// The number of path hashes after the start node in a consistency proof,
/// where `fnode`/`snode` are the old and new last-leaf positions already
/// shifted up to the start node's level.
fn expected_consistency_len(fnode: u64, snode: u64) -> usize {
    let inner = 64 - (fnode ^ snode).leading_zeros();
    // As in `inclusion_proof_len`, `inner` may be 64.
    (inner + snode.checked_shr(inner).unwrap_or(0).count_ones()) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, root_of};

    #[test]
    fn single_leaf_tree() {
        let leaf = leaf_hash(b"only");
        assert_eq!(verify_inclusion(0, 1, &leaf, &[], &leaf), Ok(()));
        assert!(verify_inclusion(0, 1, &leaf, &[leaf], &leaf).is_err());
        assert!(verify_inclusion(1, 1, &leaf, &[], &leaf).is_err());
    }

    #[test]
    fn consistency_rejects_shapes() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let root2 = root_of(&[a, b]);
        assert_eq!(verify_consistency(1, 2, &a, &root2, &[b]), Ok(()));
        assert!(matches!(
            verify_consistency(1, 2, &a, &root2, &[]),
            Err(VerifyError::WrongProofLength { .. })
        ));
        assert!(matches!(
            verify_consistency(1, 2, &a, &root2, &[b, b]),
            Err(VerifyError::WrongProofLength { .. })
        ));
        assert_eq!(
            verify_consistency(0, 2, &a, &root2, &[]),
            Err(VerifyError::OldSizeZero)
        );
        assert!(verify_consistency(2, 1, &root2, &a, &[]).is_err());
        assert_eq!(verify_consistency(2, 2, &root2, &root2, &[]), Ok(()));
        assert!(verify_consistency(2, 2, &root2, &a, &[]).is_err());
    }

    /// Trees of more than 2^63 leaves: the paths to the first and last
    /// leaves part at the top bit, and the length computations shift by 64
    /// (found by proto/tlog/tests/proof_properties.rs; it panicked in debug
    /// builds and rejected honest proofs in release builds).
    #[test]
    fn trees_above_two_to_the_63() {
        let leaf = leaf_hash(b"leaf");
        let p = leaf_hash(b"p");
        for size in [(1 << 63) + 1, u64::MAX] {
            // Leaf 0: 63 hashes up to the left perfect subtree of 2^63
            // leaves, then the right subtree's root.
            let proof = vec![p; 64];
            let root = root_from_inclusion_proof(0, size, &leaf, &proof).unwrap();
            let folded = proof.iter().fold(leaf, |acc, h| node_hash(&acc, h));
            assert_eq!(root, folded);
            assert_eq!(verify_inclusion(0, size, &leaf, &proof, &root), Ok(()));
            for wrong in [63, 65] {
                assert!(matches!(
                    verify_inclusion(0, size, &leaf, &vec![p; wrong], &root),
                    Err(VerifyError::WrongProofLength { expected: 64, .. })
                ));
            }
            // Old size 1: the same shape, every hash on the right.
            assert_eq!(verify_consistency(1, size, &leaf, &folded, &proof), Ok(()));
            assert!(matches!(
                verify_consistency(1, size, &leaf, &folded, &proof[1..]),
                Err(VerifyError::WrongProofLength { expected: 64, .. })
            ));
        }
        // The last leaf of 2^63 + 1: one hash, the left subtree's root.
        let size = (1 << 63) + 1;
        let root = node_hash(&p, &leaf);
        assert_eq!(verify_inclusion(size - 1, size, &leaf, &[p], &root), Ok(()));
    }
}
