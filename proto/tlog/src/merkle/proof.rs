//! Which stored nodes a proof needs, and how to assemble it from them.
//!
//! Proofs are built in two steps so that storage stays dumb: a
//! [`ProofPlan`] lists the perfect-subtree [`NodeId`]s to read, the caller
//! fetches their hashes (in one batched read), and
//! [`ProofPlan::assemble`] folds them into the RFC 9162 proof.
//!
//! Most proof elements are perfect subtrees, stored as they are. At most
//! one element is not: the subtree on the tree's right edge, whose hash is
//! folded from the perfect subtrees that cover it. (It appears when the
//! recursion of RFC 9162 §2.1.3.1 or §2.1.4.1 first steps left; below that
//! point every subtree is perfect.)

use std::ops::Range;

use super::compact::fold_right;
use super::hash::Hash;
use super::largest_power_of_two_below;
use super::node::{NodeId, range_nodes};

/// The nodes to read for one proof, and how to combine them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofPlan {
    /// Every node to read, element by element, leaf end first.
    ids: Vec<NodeId>,
    /// For each proof element, the slice of `ids` folded into it.
    elements: Vec<Range<usize>>,
}

/// A proof asked for a tree that cannot contain it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofPlanError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexBeyondSize {
        /// The leaf asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from the empty tree says nothing.
    #[error("a consistency proof needs an old size of at least 1")]
    OldSizeZero,
    /// The old tree is larger than the new one.
    #[error("old size {old} is larger than new size {new}")]
    OldSizeAboveNew {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// [`ProofPlan::assemble`] got the wrong number of hashes.
    #[error("the proof plan needs {expected} hashes, got {got}")]
    HashCount {
        /// What the plan lists.
        expected: usize,
        /// What was given.
        got: usize,
    },
}

impl ProofPlan {
    /// The plan for the inclusion proof of leaf `index` in a tree of `size`
    /// leaves (RFC 9162 §2.1.3.1, `PATH(m, D[n])`).
    ///
    /// # Errors
    /// [`ProofPlanError::IndexBeyondSize`] unless `index < size`.
    pub fn inclusion(index: u64, size: u64) -> Result<Self, ProofPlanError> {
        if index >= size {
            return Err(ProofPlanError::IndexBeyondSize { index, size });
        }
        let mut plan = PlanBuilder::default();
        // Walk down from the root: (offset, len) is the current subtree and
        // m the leaf's position inside it.
        let (mut offset, mut len, mut m) = (0u64, size, index);
        while len > 1 {
            let k = largest_power_of_two_below(len);
            if m < k {
                plan.push(offset + k, offset + len);
                len = k;
            } else {
                plan.push(offset, offset + k);
                offset += k;
                m -= k;
                len -= k;
            }
        }
        Ok(plan.finish())
    }

    /// The plan for the consistency proof between trees of `old` and `new`
    /// leaves (RFC 9162 §2.1.4.1, `PROOF(m, D[n])`). Equal sizes need an
    /// empty proof.
    ///
    /// # Errors
    /// If `old` is 0 or larger than `new`.
    pub fn consistency(old: u64, new: u64) -> Result<Self, ProofPlanError> {
        if old == 0 {
            return Err(ProofPlanError::OldSizeZero);
        }
        if old > new {
            return Err(ProofPlanError::OldSizeAboveNew { old, new });
        }
        let mut plan = PlanBuilder::default();
        if old == new {
            return Ok(plan.finish());
        }
        // SUBPROOF(m, D[offset..offset+len], whole_old_tree_is_a_subtree)
        let (mut offset, mut len, mut m) = (0u64, new, old);
        let mut is_old_root = true;
        loop {
            if m == len {
                // The old tree's root (b = true) is known to the verifier.
                if !is_old_root {
                    plan.push(offset, offset + len);
                }
                break;
            }
            let k = largest_power_of_two_below(len);
            if m <= k {
                plan.push(offset + k, offset + len);
                len = k;
            } else {
                plan.push(offset, offset + k);
                offset += k;
                m -= k;
                len -= k;
                is_old_root = false;
            }
        }
        Ok(plan.finish())
    }

    /// Every node whose hash [`ProofPlan::assemble`] needs, in order.
    pub fn node_ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// The number of hashes in the finished proof.
    pub fn proof_len(&self) -> usize {
        self.elements.len()
    }

    /// Builds the proof from the hashes of [`ProofPlan::node_ids`], given in
    /// the same order.
    ///
    /// # Errors
    /// [`ProofPlanError::HashCount`] if the number of hashes is wrong.
    pub fn assemble(&self, hashes: &[Hash]) -> Result<Vec<Hash>, ProofPlanError> {
        if hashes.len() != self.ids.len() {
            return Err(ProofPlanError::HashCount {
                expected: self.ids.len(),
                got: hashes.len(),
            });
        }
        Ok(self
            .elements
            .iter()
            .map(|r| fold_right(&hashes[r.clone()]).expect("every element covers a node"))
            .collect())
    }
}

/// Collects proof elements root end first, as the RFC recursion finds
/// them, and reverses them into proof order at the end.
#[derive(Default)]
struct PlanBuilder {
    ranges: Vec<(u64, u64)>,
}

impl PlanBuilder {
    fn push(&mut self, begin: u64, end: u64) {
        self.ranges.push((begin, end));
    }

    fn finish(self) -> ProofPlan {
        let mut ids = Vec::new();
        let mut elements = Vec::with_capacity(self.ranges.len());
        for (begin, end) in self.ranges.into_iter().rev() {
            let start = ids.len();
            ids.extend(range_nodes(begin, end));
            elements.push(start..ids.len());
        }
        ProofPlan { ids, elements }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{CompactRange, leaf_hash, root_of, verify_consistency, verify_inclusion};
    use std::collections::HashMap;

    /// A naive in-memory tree storing every perfect node, as a log would.
    fn stored_tree(n: u64) -> (Vec<Hash>, HashMap<NodeId, Hash>) {
        let mut range = CompactRange::new();
        let mut nodes = HashMap::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let leaf = leaf_hash(format!("leaf {i}").as_bytes());
            leaves.push(leaf);
            range.append(leaf, |id, h| {
                nodes.insert(id, h);
            });
        }
        (leaves, nodes)
    }

    fn fetch(plan: &ProofPlan, nodes: &HashMap<NodeId, Hash>) -> Vec<Hash> {
        let hashes: Vec<Hash> = plan.node_ids().iter().map(|id| nodes[id]).collect();
        plan.assemble(&hashes).unwrap()
    }

    #[test]
    fn every_inclusion_proof_verifies() {
        let (leaves, nodes) = stored_tree(70);
        for size in 1..=70u64 {
            let root = root_of(&leaves[..size as usize]);
            for index in 0..size {
                let plan = ProofPlan::inclusion(index, size).unwrap();
                // Proofs only ever use nodes that exist at `size`.
                for id in plan.node_ids() {
                    assert!(id.coverage().end <= size);
                }
                let proof = fetch(&plan, &nodes);
                verify_inclusion(index, size, &leaves[index as usize], &proof, &root)
                    .unwrap_or_else(|e| panic!("{index}/{size}: {e}"));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies() {
        let (leaves, nodes) = stored_tree(70);
        for new in 1..=70u64 {
            let new_root = root_of(&leaves[..new as usize]);
            for old in 1..=new {
                let old_root = root_of(&leaves[..old as usize]);
                let proof = fetch(&ProofPlan::consistency(old, new).unwrap(), &nodes);
                verify_consistency(old, new, &old_root, &new_root, &proof)
                    .unwrap_or_else(|e| panic!("{old}->{new}: {e}"));
            }
        }
    }

    #[test]
    fn rejects_impossible_requests() {
        assert!(ProofPlan::inclusion(5, 5).is_err());
        assert!(ProofPlan::inclusion(0, 0).is_err());
        assert_eq!(
            ProofPlan::consistency(0, 5),
            Err(ProofPlanError::OldSizeZero)
        );
        assert!(ProofPlan::consistency(6, 5).is_err());
        assert_eq!(ProofPlan::consistency(5, 5).unwrap().proof_len(), 0);
        let plan = ProofPlan::inclusion(3, 7).unwrap();
        assert!(matches!(
            plan.assemble(&[]),
            Err(ProofPlanError::HashCount { .. })
        ));
    }

    #[test]
    fn plans_stay_logarithmic_at_huge_sizes() {
        let size = u64::MAX - 1;
        let plan = ProofPlan::inclusion(size / 3, size).unwrap();
        assert!(plan.proof_len() <= 64);
        assert!(plan.node_ids().len() <= 128);
        let plan = ProofPlan::consistency(size / 3, size).unwrap();
        assert!(plan.proof_len() <= 128);
    }
}
