//! The embedded backend: the log's durable state in RocksDB.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `entries` | leaf index, u64 big-endian | entry bytes |
//! | `leaves` | leaf hash, 32 bytes | leaf index, u64 big-endian |
//! | `nodes` | level (1 byte) ‖ index (u64 big-endian) | node hash, 32 bytes |
//! | `checkpoints` | tree size, u64 big-endian | signed note text |
//! | `meta` | name | value (`size`: latest tree size; `origin`) |
//! | `submissions` | submission ID, 32 bytes | index (u64 BE) ‖ leaf hash |
//! | `credential_ends` | credential leaf hash, 32 bytes | ending code (1 byte) ‖ index (u64 BE) |
//!
//! Every perfect subtree is stored once, when it completes (see
//! [`causeway_tlog::merkle::CompactRange::append`]), so any proof is a
//! handful of point reads: O(log n), never the whole tree. Level 0 of
//! `nodes` holds the leaf hashes. Big-endian keys keep each level and the
//! entries in index order, which makes tile and entry ranges plain scans.
//!
//! Durability: a batch of entries, its new nodes, its signed checkpoint and
//! the new `size` are one `WriteBatch` written with `sync = true`. Either all
//! of it survives a crash or none of it does, and `size` never points past
//! what is on disk. Readers are only told about a size after its batch
//! commits.

mod queries;

use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use causeway_records::{CredentialEnd, Ending};
use causeway_tlog::merkle::NodeId;

use super::{StorageError, StoredAnchor};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType, Direction,
    IteratorMode, Options, WriteBatch, WriteOptions,
};

const CF_ENTRIES: &str = "entries";
const CF_LEAVES: &str = "leaves";
const CF_NODES: &str = "nodes";
const CF_CHECKPOINTS: &str = "checkpoints";
/// Witness-cosigned checkpoints by size; only used when witnesses are
/// configured. Written after the tree it names is durable.
const CF_PUBLISHED: &str = "published";
/// RFC 3161 anchors by tree size: `gen_time (i64 BE) ‖ DER TimeStampResp`.
const CF_ANCHORS: &str = "anchors";
const CF_META: &str = "meta";
/// Records by submission ID (see `Envelope::submission_id`):
/// `index (u64 BE) ‖ leaf hash`, so that a record resubmitted with another
/// signature gets its original index.
const CF_SUBMISSIONS: &str = "submissions";
/// Credentials revoked or closed: `ending code ‖ index (u64 BE)` of the
/// record that ended each one (see `causeway_records::lineage`).
const CF_CREDENTIAL_ENDS: &str = "credential_ends";

const META_SIZE: &[u8] = b"size";
const META_ORIGIN: &[u8] = b"origin";
const META_LAYOUT: &[u8] = b"layout";

/// The on-disk layout this code reads and writes. Bump it when key or
/// value encodings change. Layout 2 added `credential_ends`; a layout-1
/// database is upgraded at open by filling it in from the entries.
pub const LAYOUT_VERSION: u64 = 2;

/// Tuning knobs for the RocksDB instance.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// Shared block cache size in bytes.
    pub block_cache_bytes: usize,
    /// Total memtable budget across column families, in bytes.
    pub write_buffer_bytes: usize,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            block_cache_bytes: 64 << 20,
            write_buffer_bytes: 96 << 20,
        }
    }
}

/// The RocksDB-backed log store.
///
/// The database sits behind a lock only so that [`Storage::recover`](super::Storage::recover) can
/// close and reopen it after a failed write; every other access shares it.
pub struct RocksStorage {
    db: RwLock<Option<DB>>,
    path: PathBuf,
    options: StorageOptions,
    sync_writes: WriteOptions,
}

/// Shared access to the open database.
struct Db<'a>(RwLockReadGuard<'a, Option<DB>>);

impl Db<'_> {
    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.cf_handle(name)
            .expect("column families are created at open")
    }
}

impl std::ops::Deref for Db<'_> {
    type Target = DB;

    fn deref(&self) -> &DB {
        match self.0.as_ref() {
            Some(db) => db,
            // `Storage::db` hands out a `Db` only when the database is open.
            None => unreachable!("Db guards an open database"),
        }
    }
}

/// How much free space, beyond the write-ahead logs to replay, reopening
/// needs: RocksDB writes a new manifest, WAL and options file, and flushes
/// the recovered memtables.
const REOPEN_HEADROOM: u64 = 16 << 20;

/// Node keys cluster each 8-level tile: `tile level ‖ tile index ‖ level
/// within the tile ‖ node index`. A proof's nodes fall into about one
/// cluster per tile level (three at 10^6 leaves), so they share a handful
/// of data blocks instead of touching one block per tree level, and a
/// tile's base row is one contiguous scan.
fn node_key(id: NodeId) -> [u8; 18] {
    let tile_level = id.level / 8;
    let sub = id.level % 8;
    let tile_index = (id.index << sub) >> 8;
    let mut k = [0u8; 18];
    k[0] = tile_level;
    k[1..9].copy_from_slice(&tile_index.to_be_bytes());
    k[9] = sub;
    k[10..].copy_from_slice(&id.index.to_be_bytes());
    k
}

fn u64_value(bytes: &[u8], what: &str) -> Result<u64, StorageError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StorageError::Corrupt(format!("{what} is {} bytes, not 8", bytes.len())))
}

impl RocksStorage {
    /// Opens (creating if needed) the database at `path`.
    ///
    /// # Errors
    /// If RocksDB cannot open it, e.g. another process holds its lock.
    pub fn open(path: &Path, opts: &StorageOptions) -> Result<Self, StorageError> {
        let db = open_db(path, opts)?;
        let mut sync_writes = WriteOptions::default();
        sync_writes.set_sync(true);
        let storage = RocksStorage {
            db: RwLock::new(Some(db)),
            path: path.to_owned(),
            options: opts.clone(),
            sync_writes,
        };
        storage.check_layout()?;
        Ok(storage)
    }

    fn db(&self) -> Result<Db<'_>, StorageError> {
        let guard = self
            .db
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            return Err(StorageError::Closed);
        }
        Ok(Db(guard))
    }

    /// Stamps a new database with [`LAYOUT_VERSION`]; refuses one written
    /// with another layout instead of misreading it.
    fn check_layout(&self) -> Result<(), StorageError> {
        let db = self.db()?;
        let meta = db.cf(CF_META);
        match db.get_cf(meta, META_LAYOUT)? {
            Some(v) => {
                let found = u64_value(&v, "layout version")?;
                if found == 1 {
                    drop(db);
                    return self.upgrade_from_layout_1();
                }
                if found != LAYOUT_VERSION {
                    return Err(StorageError::Corrupt(format!(
                        "the database has layout {found}; this build reads layout {LAYOUT_VERSION}"
                    )));
                }
            }
            None if db.get_cf(meta, META_SIZE)?.is_some() => {
                return Err(StorageError::Corrupt(
                    "the database predates layout versions; start a new --data-dir".into(),
                ));
            }
            None => {
                let mut b = WriteBatch::default();
                b.put_cf(meta, META_LAYOUT, LAYOUT_VERSION.to_be_bytes());
                db.write_opt(b, &self.sync_writes)?;
            }
        }
        Ok(())
    }

    /// Layout 1 → 2: records every credential the log's entries revoked or
    /// closed, and the new layout, in one synced batch.
    fn upgrade_from_layout_1(&self) -> Result<(), StorageError> {
        let db = self.db()?;
        let mut found = std::collections::HashMap::new();
        for item in db.iterator_cf(db.cf(CF_ENTRIES), IteratorMode::Start) {
            let (key, value) = item?;
            let index = u64_value(&key, "entry key")?;
            super::ends_in_entries([(index, value.as_ref())], &mut found);
        }
        let mut b = WriteBatch::default();
        for (credential, end) in &found {
            b.put_cf(
                db.cf(CF_CREDENTIAL_ENDS),
                credential.as_bytes(),
                encode_end(end),
            );
        }
        b.put_cf(db.cf(CF_META), META_LAYOUT, LAYOUT_VERSION.to_be_bytes());
        db.write_opt(b, &self.sync_writes)?;
        tracing::info!(
            credentials = found.len(),
            "upgraded the database to layout 2: credential ends filled in from the entries"
        );
        Ok(())
    }

    fn sizes_near(&self, cf: &str, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        let db = self.db()?;
        let cf = db.cf(cf);
        let key = size.to_be_bytes();
        let above = db
            .iterator_cf(cf, IteratorMode::From(&key, Direction::Forward))
            .next()
            .transpose()?
            .map(|(k, _)| u64_value(&k, "checkpoint key"))
            .transpose()?;
        let below = db
            .iterator_cf(cf, IteratorMode::From(&key, Direction::Reverse))
            .find(|item| item.as_ref().map_or(true, |(k, _)| k.as_ref() != key))
            .transpose()?
            .map(|(k, _)| u64_value(&k, "checkpoint key"))
            .transpose()?;
        Ok((below, above))
    }

    fn anchor_value(size: u64, value: &[u8]) -> Result<StoredAnchor, StorageError> {
        if value.len() < 8 {
            return Err(StorageError::Corrupt(format!("anchor {size} is truncated")));
        }
        let (time, der) = value.split_at(8);
        Ok(StoredAnchor {
            size,
            gen_time: i64::from_be_bytes(time.try_into().unwrap_or_default()),
            der: der.to_vec(),
        })
    }

    /// Approximate bytes on disk (SST files plus WAL-backed memtables).
    pub fn approximate_size(&self) -> u64 {
        let Ok(db) = self.db() else { return 0 };
        [
            CF_ENTRIES,
            CF_LEAVES,
            CF_NODES,
            CF_CHECKPOINTS,
            CF_PUBLISHED,
            CF_META,
        ]
        .iter()
        .filter_map(|cf| {
            db.property_int_value_cf(db.cf(cf), "rocksdb.total-sst-files-size")
                .ok()
                .flatten()
        })
        .sum()
    }
}

/// Bytes of write-ahead log files in the database directory.
fn wal_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|files| {
            files
                .filter_map(Result::ok)
                .filter(|f| f.path().extension().is_some_and(|e| e == "log"))
                .filter_map(|f| f.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A credential end as stored: `ending code ‖ index (u64 BE)`.
fn encode_end(end: &CredentialEnd) -> [u8; 9] {
    let mut value = [0u8; 9];
    value[0] = end.ending.code();
    value[1..].copy_from_slice(&end.index.to_be_bytes());
    value
}

/// A stored credential end: `ending code ‖ index (u64 BE)`.
fn decode_end(v: &[u8]) -> Result<CredentialEnd, StorageError> {
    let Some((&code, index)) = v.split_first() else {
        return Err(StorageError::Corrupt(String::from(
            "a credential end is empty, not 9 bytes",
        )));
    };
    let ending = Ending::from_code(code)
        .ok_or_else(|| StorageError::Corrupt(format!("unknown credential ending code {code}")))?;
    Ok(CredentialEnd {
        ending,
        index: u64_value(index, "credential end index")?,
    })
}

/// Opens (creating if needed) the database with Causeway's column families.
fn open_db(path: &Path, opts: &StorageOptions) -> Result<DB, StorageError> {
    let cache = Cache::new_lru_cache(opts.block_cache_bytes);
    let table = |bloom: bool| {
        let mut t = BlockBasedOptions::default();
        t.set_block_cache(&cache);
        // Index and filter blocks live in the bounded cache, so memory
        // stays flat as the log grows instead of growing with file count.
        t.set_cache_index_and_filter_blocks(true);
        t.set_pin_l0_filter_and_index_blocks_in_cache(true);
        if bloom {
            t.set_bloom_filter(10.0, false);
        } else {
            // Node clusters are ~20 KiB (one block read per tile level
            // of a proof) and entries are read in ranges.
            t.set_block_size(16 << 10);
        }
        t
    };
    let cf = |name: &str, bloom: bool, compress: bool, buffer: usize| {
        let mut o = Options::default();
        o.set_block_based_table_factory(&table(bloom));
        o.set_write_buffer_size(buffer);
        o.set_max_write_buffer_number(2);
        o.set_compression_type(if compress {
            DBCompressionType::Lz4
        } else {
            DBCompressionType::None
        });
        ColumnFamilyDescriptor::new(name, o)
    };
    let wb = opts.write_buffer_bytes;
    let cfs = vec![
        cf(CF_ENTRIES, false, true, wb / 2),
        // Leaf hashes are random: a bloom filter turns "is this new?"
        // into a memory check for almost every new entry.
        cf(CF_LEAVES, true, false, wb / 4),
        cf(CF_NODES, false, false, wb / 8),
        cf(CF_CHECKPOINTS, false, true, wb / 16),
        cf(CF_PUBLISHED, false, true, wb / 16),
        cf(CF_ANCHORS, false, false, wb / 16),
        cf(CF_META, false, false, wb / 16),
        cf(CF_SUBMISSIONS, true, false, wb / 16),
        cf(CF_CREDENTIAL_ENDS, true, false, wb / 16),
    ];
    let mut db_opts = Options::default();
    db_opts.create_if_missing(true);
    db_opts.create_missing_column_families(true);
    db_opts.set_max_background_jobs(2);
    db_opts.set_keep_log_file_num(4);
    db_opts.set_max_total_wal_size(256 << 20);
    db_opts.set_db_write_buffer_size(wb);
    Ok(DB::open_cf_descriptors(&db_opts, path, cfs)?)
}
