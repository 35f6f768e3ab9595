//! RFC 6962 / RFC 9162 Merkle trees: hashing, node addresses, compact
//! ranges, proof planning and proof verification.
//!
//! The pieces are separate on purpose, after transparency-dev/merkle:
//!
//! * [`hash`]: the two hash functions and the fixed-size [`Hash`](struct@Hash).
//! * [`node`]: [`NodeId`], the `(level, index)` address of a perfect subtree.
//! * [`compact`]: [`CompactRange`], the right edge of a tree, which is all a
//!   sequencer needs in memory to append.
//! * [`proof`]: which stored nodes a proof needs ([`ProofPlan`]), and how
//!   to turn their hashes into the proof.
//! * [`verify`]: proof verification from sizes and hashes only.
//!
//! Nothing here does I/O; storage lives in the server.

pub mod compact;
pub mod hash;
pub mod node;
pub mod proof;
pub mod verify;

pub use compact::CompactRange;
pub use hash::{EMPTY_ROOT, Hash, HashLengthError, leaf_hash, node_hash};
pub use node::NodeId;
pub use proof::{ProofPlan, ProofPlanError};
pub use verify::{
    VerifyError, root_from_inclusion_proof, verify_consistency, verify_inclusion,
    verify_subtree_inclusion,
};

/// Computes the RFC 6962 root of a list of leaf hashes, the slow and obvious
/// way. Meant for tests and tools that already hold every leaf; a log uses
/// [`CompactRange`] instead.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly less than `n`, for `n >= 2`: the RFC
/// 6962 split point of a tree with `n` leaves.
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point() {
        assert_eq!(largest_power_of_two_below(2), 1);
        assert_eq!(largest_power_of_two_below(3), 2);
        assert_eq!(largest_power_of_two_below(4), 2);
        assert_eq!(largest_power_of_two_below(5), 4);
        assert_eq!(largest_power_of_two_below(1 << 40), 1 << 39);
        assert_eq!(largest_power_of_two_below((1 << 40) + 1), 1 << 40);
        assert_eq!(largest_power_of_two_below(u64::MAX), 1 << 63);
    }
}
