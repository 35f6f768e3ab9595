//! Proofs assembled from stored nodes: "node IDs → fetch → assemble", with
//! the node selection left to [`ProofPlan`].

use causeway_tlog::merkle::{Hash, ProofPlan};

use super::{Storage, StorageError};

/// Why a proof could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The sizes asked for make no proof (`old` of 0, `old > new`, ...).
    #[error("{0}")]
    Invalid(String),
    /// Storage failed or lacks a node.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The consistency proof from `old` to `new` leaves, from stored nodes,
/// without checking `new` against what is published: the publisher proves
/// not-yet-published heads to witnesses, the reader bounds what it serves.
///
/// # Errors
/// `old` of 0 or `old > new`, or a storage failure.
pub fn consistency_proof(
    storage: &dyn Storage,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    let plan = ProofPlan::consistency(old, new).map_err(|e| ProofError::Invalid(e.to_string()))?;
    let hashes = storage.nodes(plan.node_ids())?;
    Ok(plan
        .assemble(&hashes)
        .map_err(|e| StorageError::Corrupt(e.to_string()))?)
}
