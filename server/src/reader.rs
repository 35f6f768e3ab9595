//! Read paths: checkpoints, proofs and entries, served from storage and
//! bounded by the published tree size, so readers never see a tree that
//! is not durable and signed.

use std::sync::Arc;

use causeway_proto::merkle::{Hash, ProofPlan};
use tokio::sync::watch;

use crate::sequencer::Published;
use crate::storage::{Storage, StorageError};

/// Why a read could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A size or index beyond the current tree.
    #[error("{what} {value} is beyond the current tree size {size}")]
    BeyondTree {
        /// What was asked for ("leaf index", "tree size", ...).
        what: &'static str,
        /// The value asked for.
        value: u64,
        /// The current published size.
        size: u64,
    },
    /// A well-formed request that cannot make sense.
    #[error("{0}")]
    Invalid(String),
    /// Nothing matches.
    #[error("{0}")]
    NotFound(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// An inclusion proof with its coordinates.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    /// The leaf's index.
    pub leaf_index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The leaf hash.
    pub leaf_hash: Hash,
    /// The audit path.
    pub hashes: Vec<Hash>,
}

/// Largest number of entries one `GetEntries` page returns.
pub const MAX_ENTRIES_PAGE: usize = 1000;
/// Largest number of entry bytes one `GetEntries` page returns.
pub const MAX_ENTRIES_PAGE_BYTES: usize = 4 << 20;

/// Answers read requests from storage and the published head.
#[derive(Clone)]
pub struct Reader {
    storage: Arc<Storage>,
    published: watch::Receiver<Arc<Published>>,
}

impl Reader {
    /// A reader over `storage` that trusts only what `published` announces.
    pub fn new(storage: Arc<Storage>, published: watch::Receiver<Arc<Published>>) -> Self {
        Reader { storage, published }
    }

    /// The latest published checkpoint.
    pub fn latest(&self) -> Arc<Published> {
        self.published.borrow().clone()
    }

    /// A receiver that wakes up on every newly published checkpoint.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.published.clone()
    }

    /// The storage underneath, for the HTTP tile paths.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    fn size_at_most_latest(&self, what: &'static str, size: u64) -> Result<u64, ReadError> {
        let latest = self.latest().size;
        if size > latest {
            return Err(ReadError::BeyondTree {
                what,
                value: size,
                size: latest,
            });
        }
        Ok(size)
    }

    /// The signed note published at `size` (the latest when `None`).
    ///
    /// # Errors
    /// Beyond the tree, or no checkpoint was published at that size.
    pub fn checkpoint(&self, size: Option<u64>) -> Result<Arc<Published>, ReadError> {
        let latest = self.latest();
        let Some(size) = size.filter(|s| *s != latest.size) else {
            return Ok(latest);
        };
        self.size_at_most_latest("tree size", size)?;
        let Some(note) = self.storage.checkpoint(size)? else {
            let (below, above) = self.storage.checkpoint_sizes_near(size)?;
            let near: Vec<String> = [below, above]
                .into_iter()
                .flatten()
                .map(|s| s.to_string())
                .collect();
            return Err(ReadError::NotFound(format!(
                "no checkpoint was published at size {size}; the nearest published sizes are {}",
                near.join(" and ")
            )));
        };
        let root = self.root_at(size)?;
        Ok(Arc::new(Published { size, root, note }))
    }

    /// The root of the tree of `size` leaves, from stored nodes.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn root_at(&self, size: u64) -> Result<Hash, ReadError> {
        Ok(self.storage.compact_range(size)?.root())
    }

    /// The index of a leaf hash, if it is in the published tree.
    ///
    /// # Errors
    /// [`ReadError::NotFound`] if it is not.
    pub fn leaf_index(&self, hash: &Hash) -> Result<u64, ReadError> {
        let latest = self.latest().size;
        match self
            .storage
            .leaf_indices(std::slice::from_ref(hash))?
            .pop()
            .flatten()
        {
            Some(index) if index < latest => Ok(index),
            _ => Err(ReadError::NotFound(format!(
                "leaf hash {hash} is not in the log (size {latest})"
            ))),
        }
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves
    /// (the latest when `None`).
    ///
    /// # Errors
    /// Beyond the tree, or the leaf is not below `size`.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, ReadError> {
        let latest = self.latest().size;
        if index >= latest {
            return Err(ReadError::BeyondTree {
                what: "leaf index",
                value: index,
                size: latest,
            });
        }
        let size = self.size_at_most_latest("tree size", size.unwrap_or(latest))?;
        let plan =
            ProofPlan::inclusion(index, size).map_err(|e| ReadError::Invalid(e.to_string()))?;
        // One batched read: the leaf hash and every node the proof needs.
        let mut ids = Vec::with_capacity(plan.node_ids().len() + 1);
        ids.push(causeway_proto::merkle::NodeId::leaf(index));
        ids.extend_from_slice(plan.node_ids());
        let hashes = self.storage.nodes(&ids)?;
        let proof = plan
            .assemble(&hashes[1..])
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        Ok(InclusionProof {
            leaf_index: index,
            tree_size: size,
            leaf_hash: hashes[0],
            hashes: proof,
        })
    }

    /// The consistency proof from `old` to `new` leaves (the latest when `None`).
    ///
    /// # Errors
    /// Beyond the tree, `old` of 0, or `old > new`.
    pub fn consistency_proof(
        &self,
        old: u64,
        new: Option<u64>,
    ) -> Result<(u64, Vec<Hash>), ReadError> {
        let new = self.size_at_most_latest("tree size", new.unwrap_or(self.latest().size))?;
        if old > new {
            self.size_at_most_latest("old size", old)?;
        }
        let plan =
            ProofPlan::consistency(old, new).map_err(|e| ReadError::Invalid(e.to_string()))?;
        let hashes = self.storage.nodes(plan.node_ids())?;
        let proof = plan
            .assemble(&hashes)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        Ok((new, proof))
    }

    /// Up to `count` entries from `start`, bounded by the page limits.
    ///
    /// # Errors
    /// `count` of 0 or `start` beyond the tree.
    pub fn entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, ReadError> {
        if count == 0 {
            return Err(ReadError::Invalid("count must be at least 1".into()));
        }
        let latest = self.latest().size;
        if start >= latest {
            return Err(ReadError::BeyondTree {
                what: "start index",
                value: start,
                size: latest,
            });
        }
        let end = start.saturating_add(count).min(latest);
        let max = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(MAX_ENTRIES_PAGE);
        Ok(self
            .storage
            .entries(start, end, max, MAX_ENTRIES_PAGE_BYTES)?)
    }
}
