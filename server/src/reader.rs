//! Read paths: checkpoints, proofs and entries, served from storage and
//! bounded by the published tree size, so readers never see a tree that
//! is not durable and signed (and, with witnesses, cosigned by a quorum).

use std::sync::Arc;

use causeway_tlog::merkle::{Hash, ProofPlan};
use tokio::sync::watch;

use crate::head::{PublishedView, TreeHead};
use crate::storage::proof::{ProofError, consistency_proof};
use crate::storage::{Storage, StorageError, StoredAnchor};

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
    /// The leaf is durable but the latest published checkpoint predates it.
    #[error(
        "the leaf is sequenced at index {index} but the latest published checkpoint has size {size}; retry once a newer checkpoint is published"
    )]
    NotYetPublished {
        /// The leaf's index.
        index: u64,
        /// The published size.
        size: u64,
    },
    /// No checkpoint has been cosigned by a quorum of witnesses yet.
    #[error("no checkpoint is published yet: {0}")]
    NotPublished(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The blocking task that read storage did not finish (the runtime is
    /// shutting down, or the read panicked).
    #[error("the read did not finish: {0}")]
    Interrupted(String),
}

impl From<ProofError> for ReadError {
    fn from(e: ProofError) -> Self {
        match e {
            ProofError::Invalid(m) => ReadError::Invalid(m),
            ProofError::Storage(e) => ReadError::Storage(e),
        }
    }
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

/// Answers read requests from storage.
///
/// Two sizes bound what it serves. The *published* checkpoint (cosigned by
/// a quorum when witnesses are configured) is the default for "latest" and
/// the limit for checkpoints and tiles. The sequencer's *head*, durable
/// and signed by the log, limits explicit sizes of proofs and entries, so
/// a producer can check inclusion in the checkpoint `AddEntries` returned
/// before witnesses have cosigned it.
#[derive(Clone)]
pub struct Reader {
    storage: Arc<dyn Storage>,
    published: PublishedView,
    head: watch::Receiver<Arc<TreeHead>>,
}

impl Reader {
    /// A reader over `storage` that serves what `published` announces and
    /// proofs up to the sequencer's `head`.
    pub fn new(
        storage: Arc<dyn Storage>,
        published: PublishedView,
        head: watch::Receiver<Arc<TreeHead>>,
    ) -> Self {
        Reader {
            storage,
            published,
            head,
        }
    }

    /// The size of the latest durable signed head.
    pub fn head_size(&self) -> u64 {
        self.head.borrow().size
    }

    /// The latest published checkpoint.
    ///
    /// # Errors
    /// [`ReadError::NotPublished`] before witnesses cosigned anything.
    pub fn latest(&self) -> Result<Arc<TreeHead>, ReadError> {
        self.published
            .current()
            .ok_or_else(|| ReadError::NotPublished(self.published.not_published_reason()))
    }

    /// The size of the latest published checkpoint (0 before the first).
    pub fn published_size(&self) -> u64 {
        self.published.current().map_or(0, |p| p.size)
    }

    /// A view that wakes up on every newly published checkpoint.
    pub fn subscribe(&self) -> PublishedView {
        self.published.clone()
    }

    /// Runs `read` on tokio's blocking pool, so that storage reads (RocksDB
    /// I/O, PostgreSQL round trips) never hold an async worker that also
    /// serves other connections. Every gRPC and HTTP read goes through here.
    ///
    /// # Errors
    /// `read`'s error, or [`ReadError::Interrupted`] if the task did not
    /// finish.
    pub async fn off_worker<T, F>(&self, read: F) -> Result<T, ReadError>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T, ReadError> + Send + 'static,
    {
        let reader = self.clone();
        tokio::task::spawn_blocking(move || read(&reader))
            .await
            .map_err(|e| ReadError::Interrupted(e.to_string()))?
    }

    /// The storage underneath, for the HTTP tile paths.
    pub fn storage(&self) -> &dyn Storage {
        &*self.storage
    }

    /// A shared handle on the storage, for background tasks.
    pub fn storage_arc(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }

    /// The anchor at `size` (the latest when `None`) with the published
    /// checkpoint note it covers.
    ///
    /// # Errors
    /// [`ReadError::NotFound`] naming the nearest anchored sizes.
    pub fn anchor(&self, size: Option<u64>) -> Result<(StoredAnchor, String), ReadError> {
        let anchor = match size {
            None => self.storage.latest_anchor()?.ok_or_else(|| {
                ReadError::NotFound(
                    "no checkpoint has been anchored yet (is --tsa-url set? the server log says why anchoring is behind)".into(),
                )
            })?,
            Some(size) => match self.storage.anchor(size)? {
                Some(a) => a,
                None => {
                    let (below, above) = self.storage.anchor_sizes_near(size)?;
                    let near: Vec<String> =
                        [below, above].into_iter().flatten().map(|s| s.to_string()).collect();
                    return Err(ReadError::NotFound(if near.is_empty() {
                        format!("no anchor at size {size}; no checkpoint has been anchored yet")
                    } else {
                        format!(
                            "no anchor at size {size}; the nearest anchored sizes are {}",
                            near.join(" and ")
                        )
                    }));
                }
            },
        };
        let note = self.checkpoint(Some(anchor.size))?.note.clone();
        Ok((anchor, note))
    }

    /// The signed note published at `size` (the latest when `None`).
    ///
    /// # Errors
    /// Beyond the tree, or no checkpoint was published at that size.
    pub fn checkpoint(&self, size: Option<u64>) -> Result<Arc<TreeHead>, ReadError> {
        let latest = self.latest()?;
        let Some(size) = size.filter(|s| *s != latest.size) else {
            return Ok(latest);
        };
        at_most("tree size", size, self.published_size())?;
        let cosigned = self.published.is_cosigned();
        let stored = if cosigned {
            self.storage.published(size)?
        } else {
            self.storage.checkpoint(size)?
        };
        let Some(note) = stored else {
            let (below, above) = if cosigned {
                self.storage.published_sizes_near(size)?
            } else {
                self.storage.checkpoint_sizes_near(size)?
            };
            let near: Vec<String> = [below, above.filter(|a| *a <= latest.size)]
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
        Ok(Arc::new(TreeHead {
            size,
            root,
            note,
            trace: crate::telemetry::TraceLink::none(),
        }))
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
        let head = self.head_size();
        match self
            .storage
            .leaf_indices(std::slice::from_ref(hash))?
            .pop()
            .flatten()
        {
            Some(index) if index < head => Ok(index),
            _ => Err(ReadError::NotFound(format!(
                "leaf hash {hash} is not in the log (size {head})"
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
        let head = self.head_size();
        if index >= head {
            return Err(ReadError::BeyondTree {
                what: "leaf index",
                value: index,
                size: head,
            });
        }
        let size = match size {
            Some(size) => at_most("tree size", size, self.head_size())?,
            None => {
                let published = self.published_size();
                if index >= published {
                    return Err(ReadError::NotYetPublished {
                        index,
                        size: published,
                    });
                }
                published
            }
        };
        let plan =
            ProofPlan::inclusion(index, size).map_err(|e| ReadError::Invalid(e.to_string()))?;
        // One batched read: the leaf hash and every node the proof needs.
        let mut ids = Vec::with_capacity(plan.node_ids().len() + 1);
        ids.push(causeway_tlog::merkle::NodeId::leaf(index));
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
        let new = match new {
            Some(new) => at_most("tree size", new, self.head_size())?,
            None => self.published_size(),
        };
        if old > new {
            at_most("old size", old, self.head_size())?;
        }
        Ok((new, consistency_proof(&*self.storage, old, new)?))
    }

    /// Up to `count` entries from `start`, bounded by the page limits.
    ///
    /// # Errors
    /// `count` of 0 or `start` beyond the tree.
    pub fn entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, ReadError> {
        if count == 0 {
            return Err(ReadError::Invalid("count must be at least 1".into()));
        }
        let latest = self.head_size();
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

/// `value` if it is at most `limit` (a tree size the reader may serve).
fn at_most(what: &'static str, value: u64, limit: u64) -> Result<u64, ReadError> {
    if value > limit {
        return Err(ReadError::BeyondTree {
            what,
            value,
            size: limit,
        });
    }
    Ok(value)
}
