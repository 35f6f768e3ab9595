//! The shared backend: the log's durable state in PostgreSQL.
//!
//! | table | key | columns |
//! |---|---|---|
//! | `entries` | `idx` | `leaf_hash` (unique), `data` |
//! | `nodes` | `(level, idx)` | `hash` |
//! | `checkpoints` | `size` | `note` (log-signed) |
//! | `published` | `size` | `note` (witness-cosigned) |
//! | `anchors` | `size` | `gen_time`, `der` (RFC 3161 TimeStampResp) |
//! | `submissions` | `id` | `idx`, `leaf_hash` |
//! | `head` | one row | `size` of the latest committed tree |
//! | `meta` | `name` | `value` (`origin`) |
//! | `leader` | one row | `term`, `holder`, `address`, `expires_at`: the sequencer lease of [`crate::election`] |
//!
//! Durability: a batch is one transaction, committed with PostgreSQL's
//! default `synchronous_commit = on`, so [`Storage::commit`](super::Storage::commit) returns only
//! once the WAL record is flushed (and, with synchronous replication, on
//! the standbys it names).
//!
//! Fencing: an instance holding the sequencer lease writes under its term
//! ([`PgStorage::set_fence`]). Every commit re-reads the lease row `FOR
//! SHARE` in the same transaction and rolls back if the term changed, and
//! checks that the stored head is the size the batch extends. A takeover
//! updates that row, so it either waits for a commit in flight (and the new
//! leader then reads the head after it) or makes that commit fail: a
//! deposed leader can never commit, and two writers can never fork the tree.
//!
//! Schema changes are numbered migrations ([`MIGRATIONS`]), applied at
//! open under an advisory lock so that instances starting together apply
//! each one once.
//!
//! The [`Storage`](super::Storage) methods are blocking, like RocksDB's. This backend runs
//! its connections on a small runtime of its own and blocks the caller
//! (via `block_in_place` on the server's multi-threaded runtime) until the
//! query answers; a broken connection is reopened on the next call.

//!
//! * `connection`: the runtime, the connections and the blocking calls.
//! * `migrations`: the schema, as numbered `.sql` files.
//! * `lease`: the sequencer lease and the fence.
//! * `queries`: the [`Storage`](super::Storage) methods in SQL.

mod connection;
mod lease;
mod migrations;
mod queries;

use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use causeway_tlog::merkle::Hash;
use tokio_postgres::Row;

use super::StorageError;
use connection::{ReadSlot, Slot};

pub use lease::LeaderRecord;
pub use migrations::MIGRATIONS;

/// How many connections serve reads (each pipelines its callers' queries).
const READ_CONNECTIONS: usize = 4;

/// The PostgreSQL-backed log store.
pub struct PgStorage {
    config: tokio_postgres::Config,
    /// Runs the connections; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    readers: Vec<ReadSlot>,
    next_reader: AtomicUsize,
    /// Commits (one transaction at a time).
    writer: Slot,
    /// Lease operations, apart from commits so renewals never queue behind one.
    lease: Slot,
    fence: Mutex<Option<u64>>,
    /// Where the database is, without the password, for messages.
    display: String,
    /// TLS to the database, verified against `--storage-ca`; plaintext when `None`.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

fn pg_error(e: tokio_postgres::Error) -> StorageError {
    StorageError::Postgres(pg_message(&e))
}

/// What went wrong, in the server's words when it answered: tokio-postgres
/// prints only "db error" and keeps them in the source.
fn pg_message(e: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    match (e.as_db_error(), e.source()) {
        (Some(db), _) => format!("{}: {}", db.severity(), db.message()),
        (None, Some(source)) => format!("{e}: {source}"),
        (None, None) => e.to_string(),
    }
}

/// Column `i` of a row, typed; a column of another type (a schema edited
/// by hand) is an error, not a panic.
fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
) -> Result<T, StorageError> {
    row.try_get(i)
        .map_err(|e| StorageError::Corrupt(format!("unexpected column {i} in a query result: {e}")))
}

fn to_i64(v: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::Corrupt(format!("{what} {v} does not fit a bigint")))
}

fn to_u64(v: i64, what: &str) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| StorageError::Corrupt(format!("{what} {v} is negative")))
}

fn hash(bytes: &[u8], what: &str) -> Result<Hash, StorageError> {
    Hash::try_from(bytes).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

fn text(bytes: Vec<u8>, what: &str) -> Result<String, StorageError> {
    String::from_utf8(bytes).map_err(|_| StorageError::Corrupt(format!("{what} is not UTF-8")))
}

impl Drop for PgStorage {
    fn drop(&mut self) {
        // Dropping a runtime blocks; this may run on an async task.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
