//! Compact ranges: the right edge of a Merkle tree.
//!
//! A tree of size `n` is covered by one perfect subtree per set bit of `n`
//! (see [`super::node::range_nodes`]). Their hashes, about `log2 n` of them,
//! are all a sequencer needs to append leaves and compute the new root;
//! every other node is written once and never read again on the append path.
//! This is how the log appends without ever holding its tree in memory.

use super::hash::{EMPTY_ROOT, Hash, node_hash};
use super::node::{NodeId, range_nodes};

/// The hashes of the perfect subtrees covering `[0, size)`, largest first.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

/// Hashes that do not match the shape of a tree of the given size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a compact range of size {size} needs {expected} hashes, got {got}")]
pub struct CompactRangeError {
    /// The tree size.
    pub size: u64,
    /// `popcount(size)`.
    pub expected: usize,
    /// What was given.
    pub got: usize,
}

impl CompactRange {
    /// The range of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a range from the hashes of [`CompactRange::node_ids`]`(size)`,
    /// in that order, as read back from storage.
    ///
    /// # Errors
    /// If the number of hashes does not match `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, CompactRangeError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(CompactRangeError {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(CompactRange { size, hashes })
    }

    /// The nodes whose hashes make up the range of a tree of `size` leaves.
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        range_nodes(0, size)
    }

    /// The number of leaves covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hashes, largest subtree first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends one leaf hash. `visit` is called with every node that becomes
    /// complete: the leaf itself, then each new parent up the right edge.
    /// Those are exactly the nodes a log must store to serve proofs later.
    ///
    /// # Panics
    /// If the tree already holds `u64::MAX` leaves.
    pub fn append(&mut self, leaf: Hash, mut visit: impl FnMut(NodeId, Hash)) {
        let index = self.size;
        let mut node = NodeId::leaf(index);
        let mut hash = leaf;
        visit(node, hash);
        // Each trailing one bit of the old size is a subtree of the same
        // level as the one just completed, sitting to its left: merge.
        let mut bits = index;
        while bits & 1 == 1 {
            let left = self.hashes.pop().expect("one hash per set bit of size");
            hash = node_hash(&left, &hash);
            node = node.parent();
            visit(node, hash);
            bits >>= 1;
        }
        self.hashes.push(hash);
        self.size = index.checked_add(1).expect("tree size overflow");
    }

    /// The RFC 6962 root of the tree: the hashes folded right to left.
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes).unwrap_or(EMPTY_ROOT)
    }
}

/// Folds the hashes of consecutive perfect subtrees (as from
/// [`super::node::range_nodes`]) into the hash of the range they cover,
/// right to left; `None` for no hashes.
pub fn fold_right(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, root_of};
    use std::collections::HashMap;

    #[test]
    fn roots_match_the_reference_and_visits_store_every_node() {
        let mut range = CompactRange::new();
        let mut leaves = Vec::new();
        let mut stored: HashMap<NodeId, Hash> = HashMap::new();
        assert_eq!(range.root(), EMPTY_ROOT);
        for i in 0..300u64 {
            let leaf = leaf_hash(&i.to_be_bytes());
            leaves.push(leaf);
            range.append(leaf, |id, h| {
                assert!(stored.insert(id, h).is_none(), "node {id:?} visited twice");
            });
            assert_eq!(range.root(), root_of(&leaves), "size {}", i + 1);
            // The range can always be rebuilt from what was stored.
            let ids = CompactRange::node_ids(range.size());
            let hashes = ids.iter().map(|id| stored[id]).collect();
            assert_eq!(
                CompactRange::from_parts(range.size(), hashes).unwrap(),
                range
            );
        }
        // Every perfect subtree of a 300-leaf tree was visited exactly once.
        let perfect: usize = (0..9).map(|l| 300usize >> l).sum();
        assert_eq!(stored.len(), perfect);
    }

    #[test]
    fn from_parts_checks_shape() {
        let err = CompactRange::from_parts(5, vec![EMPTY_ROOT]).unwrap_err();
        assert_eq!(err.expected, 2);
    }
}
