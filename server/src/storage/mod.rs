//! The log's durable state, behind one trait with two backends:
//!
//! * [`rocks`]: embedded RocksDB under `--data-dir`, the default;
//! * [`postgres`]: a PostgreSQL database (`--storage postgres://…`) that
//!   several `causeway-server` instances share, one sequencing
//!   ([`crate::election`]) and the others serving reads.
//!
//! Both keep the same promise: [`Storage::commit`] returns only once the
//! whole batch (entries, nodes, checkpoint, new size) is durable, and a
//! crash leaves either all of it or none of it. Readers are only told
//! about a size after its batch commits.
//!
//! Every perfect subtree is stored once, when it completes (see
//! [`causeway_tlog::merkle::CompactRange::append`]), so any proof is a
//! handful of point reads, never the whole tree.

pub mod postgres;
pub mod proof;
pub mod rocks;

use causeway_records::CredentialEnd;
use causeway_tlog::merkle::{CompactRange, Hash, NodeId};

pub use postgres::PgStorage;
pub use rocks::{RocksStorage, StorageOptions};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// RocksDB reported an error (I/O, corruption, disk full...).
    #[error("storage: {0}")]
    RocksDb(#[from] rocksdb::Error),
    /// PostgreSQL reported an error or the connection failed.
    #[error("storage (PostgreSQL): {0}")]
    Postgres(String),
    /// Stored data contradicts itself; the data directory is damaged.
    #[error("storage is inconsistent: {0}")]
    Corrupt(String),
    /// The database is closed after a failed reopen (see [`Storage::recover`]).
    #[error("storage is closed after a failed write and could not be reopened yet; retry later")]
    Closed,
    /// This instance lost the sequencer lease: another instance took over
    /// (a newer term), so this batch was not written. The fence of
    /// [`PgStorage::commit`] makes a deposed leader unable to commit.
    #[error(
        "this instance is no longer the leader (its term {term}, now term {current}); send writes to the current leader"
    )]
    Fenced {
        /// The term this instance held.
        term: u64,
        /// The term in the database.
        current: u64,
    },
    /// The stored head moved under this writer: another writer committed.
    #[error(
        "the stored tree has size {stored}, not {expected}: another writer committed; nothing was written"
    )]
    HeadMoved {
        /// The size this writer extended.
        expected: u64,
        /// The size in the database.
        stored: u64,
    },
}

/// The latest committed tree: its size and its signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredHead {
    /// The tree size.
    pub size: u64,
    /// The signed note of the checkpoint at that size.
    pub note: String,
}

/// One sequenced batch, ready to be made durable.
#[derive(Default)]
pub struct Commit {
    /// New entries with their leaf hashes, at consecutive indices from `first_index`.
    pub entries: Vec<(Vec<u8>, Hash)>,
    /// The index of the first new entry (the tree size before the batch).
    pub first_index: u64,
    /// Every node completed by the batch, leaves included.
    pub nodes: Vec<(NodeId, Hash)>,
    /// The tree size after the batch.
    pub size: u64,
    /// The signed checkpoint note at `size`.
    pub note: String,
    /// Submission IDs of new records: `(id, index, leaf hash)`.
    pub submissions: Vec<(Hash, u64, Hash)>,
    /// Credentials the batch revoked or closed, each for the first time.
    pub credential_ends: Vec<(Hash, CredentialEnd)>,
}

/// The credentials that `entries` (index, bytes; in log order) revoke or
/// close, each with the first record that ended it. Entries that are not
/// records end nothing. Used to fill in the credential ends of a store
/// written before they were kept (RocksDB layout 1, PostgreSQL before
/// migration 2), so an upgrade does not reopen revoked sessions.
pub fn ends_in_entries<'a>(
    entries: impl IntoIterator<Item = (u64, &'a [u8])>,
    found: &mut std::collections::HashMap<Hash, CredentialEnd>,
) {
    for (index, bytes) in entries {
        let record = causeway_records::Envelope::decode(bytes)
            .ok()
            .and_then(|e| e.record().ok());
        if let Some((credential, ending)) =
            record.as_ref().and_then(causeway_records::lineage::ends)
        {
            found
                .entry(credential)
                .or_insert(CredentialEnd { ending, index });
        }
    }
}

/// A stored RFC 3161 anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnchor {
    /// The anchored tree size.
    pub size: u64,
    /// The TSA's genTime, POSIX seconds.
    pub gen_time: i64,
    /// The DER TimeStampResp.
    pub der: Vec<u8>,
}

/// The log store. Calls block (disk or network); async callers on the
/// runtime use them as they would a RocksDB read.
pub trait Storage: Send + Sync {
    /// A short name of the backend, for logs: `rocksdb` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Bytes the store occupies, for the storage-size metric; `None` if unknown.
    fn disk_bytes(&self) -> Option<u64>;

    /// After a failed write, makes the store writable again if it can
    /// (RocksDB reopens once the disk has room; PostgreSQL reconnects).
    /// Returns whether it is ready.
    ///
    /// # Errors
    /// If reopening failed; then reads may fail too until a later call succeeds.
    fn recover(&self) -> Result<bool, StorageError>;

    /// The origin recorded at the first start, if any.
    ///
    /// # Errors
    /// On a storage failure.
    fn origin(&self) -> Result<Option<String>, StorageError>;

    /// Records the origin (durably); done once, before the first commit.
    ///
    /// # Errors
    /// On a storage failure.
    fn set_origin(&self, origin: &str) -> Result<(), StorageError>;

    /// The latest committed tree, or `None` for a log that never committed.
    ///
    /// # Errors
    /// On a storage failure or if the stored head has no checkpoint.
    fn head(&self) -> Result<Option<StoredHead>, StorageError>;

    /// Makes a batch durable, all of it or nothing.
    ///
    /// # Errors
    /// On a storage failure; then nothing of the batch is visible.
    fn commit(&self, commit: &Commit) -> Result<(), StorageError>;

    /// Looks up the indices of leaf hashes, in one batched read.
    ///
    /// # Errors
    /// On a storage failure.
    fn leaf_indices(&self, hashes: &[Hash]) -> Result<Vec<Option<u64>>, StorageError>;

    /// Looks up whether credentials (by leaf hash) were revoked or closed,
    /// in one batched read: how, and by which record.
    ///
    /// # Errors
    /// On a storage failure or a malformed stored value.
    fn credential_ends(
        &self,
        credentials: &[Hash],
    ) -> Result<Vec<Option<CredentialEnd>>, StorageError>;

    /// Looks up records by submission ID, in one batched read: the index
    /// and leaf hash of each one already logged.
    ///
    /// # Errors
    /// On a storage failure.
    fn submissions(&self, ids: &[Hash]) -> Result<Vec<Option<(u64, Hash)>>, StorageError>;

    /// Reads node hashes, in one batched read.
    ///
    /// # Errors
    /// On a storage failure, or [`StorageError::Corrupt`] if a node is missing.
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StorageError>;

    /// Reads up to `max_count` consecutive nodes of one level from `start`,
    /// stopping at the end of the 256-wide tile that holds `start` (a
    /// level-`l` node row of a tile is `256 >> (l % 8)` wide): the hashes
    /// of a tile row.
    ///
    /// # Errors
    /// On a storage failure or a malformed node.
    fn node_range(
        &self,
        level: u8,
        start: u64,
        max_count: usize,
    ) -> Result<Vec<Hash>, StorageError>;

    /// Reads up to `max_count` consecutive entries from `start`, stopping
    /// before `end` and once `max_bytes` is reached (at least one entry is
    /// returned if any exists).
    ///
    /// # Errors
    /// On a storage failure.
    fn entries(
        &self,
        start: u64,
        end: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, StorageError>;

    /// The log-signed checkpoint committed at `size`, if one was.
    ///
    /// # Errors
    /// On a storage failure.
    fn checkpoint(&self, size: u64) -> Result<Option<String>, StorageError>;

    /// The sizes of the signed checkpoints nearest to `size`: the largest
    /// below it and the smallest at or above it, to help a caller who
    /// asked for a size that has none.
    ///
    /// # Errors
    /// On a storage failure.
    fn checkpoint_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError>;

    /// Records a witness-cosigned checkpoint (durably, replacing one of the
    /// same size) so that a restart serves it again instead of waiting for
    /// witnesses.
    ///
    /// # Errors
    /// On a storage failure.
    fn publish(&self, size: u64, note: &str) -> Result<(), StorageError>;

    /// The cosigned checkpoint published at `size`, if one was.
    ///
    /// # Errors
    /// On a storage failure.
    fn published(&self, size: u64) -> Result<Option<String>, StorageError>;

    /// The latest cosigned checkpoint, if any: `(size, note)`.
    ///
    /// # Errors
    /// On a storage failure.
    fn latest_published(&self) -> Result<Option<(u64, String)>, StorageError>;

    /// Like [`Storage::checkpoint_sizes_near`], among cosigned checkpoints.
    ///
    /// # Errors
    /// On a storage failure.
    fn published_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError>;

    /// Stores a verified RFC 3161 anchor of the checkpoint at `size`
    /// (durably: a token is kept only once, after verification).
    ///
    /// # Errors
    /// On a storage failure.
    fn put_anchor(&self, size: u64, gen_time: i64, der: &[u8]) -> Result<(), StorageError>;

    /// The anchor at `size`, if any.
    ///
    /// # Errors
    /// On a storage failure.
    fn anchor(&self, size: u64) -> Result<Option<StoredAnchor>, StorageError>;

    /// The anchor of the largest tree, if any.
    ///
    /// # Errors
    /// On a storage failure.
    fn latest_anchor(&self) -> Result<Option<StoredAnchor>, StorageError>;

    /// Up to `limit` anchors from `start` on, by size: `(size, gen_time)`.
    ///
    /// # Errors
    /// On a storage failure.
    fn anchors(&self, start: u64, limit: usize) -> Result<Vec<(u64, i64)>, StorageError>;

    /// Like [`Storage::checkpoint_sizes_near`], among anchored sizes.
    ///
    /// # Errors
    /// On a storage failure.
    fn anchor_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError>;

    /// Rebuilds the compact range of the tree of `size` leaves from stored
    /// nodes: `popcount(size)` point reads.
    ///
    /// # Errors
    /// On a storage failure or a missing node.
    fn compact_range(&self, size: u64) -> Result<CompactRange, StorageError> {
        let hashes = self.nodes(&CompactRange::node_ids(size))?;
        CompactRange::from_parts(size, hashes).map_err(|e| StorageError::Corrupt(e.to_string()))
    }
}

/// The width of the tile row holding level-`level` nodes: a tile spans
/// 8 levels and 256 leaves of its bottom level, so level `8t + s` has
/// `256 >> s` nodes per tile.
pub fn tile_row_width(level: u8) -> u64 {
    256 >> (level % 8)
}
