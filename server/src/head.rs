//! The log's heads as every stage sees them: the [`TreeHead`] the
//! sequencer signs, the [`Publication`] the publisher announces once
//! witnesses cosigned it, and the [`PublishedView`] readers and the
//! anchorer follow.
//!
//! No stage owns these types: the sequencer produces heads, the publisher
//! turns them into publications, and the reader, the anchorer and the API
//! consume both. Keeping them here lets each stage depend on the types
//! without depending on the stage that makes them.

use std::sync::Arc;

use causeway_tlog::merkle::Hash;
use tokio::sync::watch;

use crate::storage::{Storage, StorageError};
use crate::telemetry::TraceLink;

/// A signed tree head: durable, signed by the log and, once published
/// through witnesses, cosigned (then `note` carries the cosignatures too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
    /// The signed note.
    pub note: String,
    /// The batch that produced it, for tracing the later stages.
    pub trace: TraceLink,
}

impl TreeHead {
    /// The checkpoint body: the note text before the blank line, final
    /// newline included (what witnesses cosign and TSAs timestamp).
    pub fn body(&self) -> Option<&str> {
        self.note.find("\n\n").map(|i| &self.note[..=i])
    }

    /// A stored checkpoint note of the tree of `size` leaves, its root
    /// rebuilt from stored nodes (`popcount(size)` reads).
    ///
    /// # Errors
    /// On a storage failure or a missing node.
    pub fn stored(storage: &dyn Storage, size: u64, note: String) -> Result<Self, StorageError> {
        Ok(TreeHead {
            size,
            root: storage.compact_range(size)?.root(),
            note,
            trace: TraceLink::none(),
        })
    }
}

/// What readers may serve, as announced by the publisher.
#[derive(Clone, Debug, Default)]
pub struct Publication {
    /// The latest checkpoint cosigned by a quorum, if any yet.
    pub checkpoint: Option<Arc<TreeHead>>,
    /// Why publication is behind the log's head, while it is.
    pub stalled: Option<String>,
}

/// What readers treat as "the latest checkpoint".
#[derive(Clone)]
pub enum PublishedView {
    /// No witnesses: every durable signed head is published at once.
    Heads(watch::Receiver<Arc<TreeHead>>),
    /// Witnesses: only checkpoints cosigned by a quorum are published.
    Cosigned(watch::Receiver<Publication>),
    /// No witnesses, on an instance sharing a store ([`crate::election`]):
    /// every durable signed head, as the leader announces it or a standby
    /// reads it from the store (none before the first commit).
    Shared(watch::Receiver<Publication>),
}

impl PublishedView {
    /// The latest published checkpoint, if any.
    pub fn current(&self) -> Option<Arc<TreeHead>> {
        match self {
            PublishedView::Heads(rx) => Some(rx.borrow().clone()),
            PublishedView::Cosigned(rx) | PublishedView::Shared(rx) => {
                rx.borrow().checkpoint.clone()
            }
        }
    }

    /// Waits for the next change; `false` once the publisher is gone.
    pub async fn changed(&mut self) -> bool {
        match self {
            PublishedView::Heads(rx) => rx.changed().await.is_ok(),
            PublishedView::Cosigned(rx) | PublishedView::Shared(rx) => rx.changed().await.is_ok(),
        }
    }

    /// Whether only checkpoints cosigned by witnesses are published.
    pub fn is_cosigned(&self) -> bool {
        matches!(self, PublishedView::Cosigned(_))
    }

    /// Why nothing is published yet, for the answer to a reader.
    pub fn not_published_reason(&self) -> String {
        match self {
            PublishedView::Heads(_) => "the log has not started".into(),
            PublishedView::Shared(_) => {
                "the shared store holds no tree yet; it is created when the first instance leads"
                    .into()
            }
            PublishedView::Cosigned(rx) => rx
                .borrow()
                .stalled
                .clone()
                .unwrap_or_else(|| "waiting for the first witness cosignatures".into()),
        }
    }
}
