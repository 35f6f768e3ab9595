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
//! default `synchronous_commit = on`, so [`Storage::commit`] returns only
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
//! The [`Storage`] methods are blocking, like RocksDB's. This backend runs
//! its connections on a small runtime of its own and blocks the caller
//! (via `block_in_place` on the server's multi-threaded runtime) until the
//! query answers; a broken connection is reopened on the next call.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causeway_records::{CredentialEnd, Ending};
use causeway_tlog::merkle::{Hash, NodeId};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::{Commit, Storage, StorageError, StoredAnchor, StoredHead, tile_row_width};

/// Numbered schema migrations, applied in order; never edit a released one,
/// add the next.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
    "log tables and the sequencer lease",
    "CREATE TABLE meta (name text PRIMARY KEY, value bytea NOT NULL);
     CREATE TABLE entries (idx bigint PRIMARY KEY, leaf_hash bytea NOT NULL UNIQUE, data bytea NOT NULL);
     CREATE TABLE nodes (level smallint NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx));
     CREATE TABLE checkpoints (size bigint PRIMARY KEY, note text NOT NULL);
     CREATE TABLE published (size bigint PRIMARY KEY, note text NOT NULL);
     CREATE TABLE anchors (size bigint PRIMARY KEY, gen_time bigint NOT NULL, der bytea NOT NULL);
     CREATE TABLE submissions (id bytea PRIMARY KEY, idx bigint NOT NULL, leaf_hash bytea NOT NULL);
     CREATE TABLE head (one boolean PRIMARY KEY DEFAULT true CHECK (one), size bigint NOT NULL);
     CREATE TABLE leader (one boolean PRIMARY KEY DEFAULT true CHECK (one), term bigint NOT NULL,
                          holder text NOT NULL, address text NOT NULL, expires_at timestamptz NOT NULL);",
    ),
    (
        2,
        "credentials revoked or closed, by the record that ended each",
        "CREATE TABLE credential_ends (credential bytea PRIMARY KEY,
                                       ending smallint NOT NULL, idx bigint NOT NULL);",
    ),
];

/// Migration 2's data: every credential the log's entries already revoked
/// or closed, read in chunks so a large log is never held in memory.
async fn fill_credential_ends(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut found = std::collections::HashMap::new();
    let mut from: i64 = 0;
    loop {
        let rows = tx
            .query_typed(
                "SELECT idx, data FROM entries WHERE idx >= $1 ORDER BY idx LIMIT 4096",
                &[(&from, Type::INT8)],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        from = last.try_get::<_, i64>(0)? + 1;
        let mut chunk = Vec::with_capacity(rows.len());
        for r in &rows {
            chunk.push((r.try_get::<_, i64>(0)?, r.try_get::<_, Vec<u8>>(1)?));
        }
        super::ends_in_entries(
            chunk.iter().map(|(i, d)| (*i as u64, d.as_slice())),
            &mut found,
        );
    }
    for (credential, end) in &found {
        let (code, index) = (i16::from(end.ending.code()), end.index as i64);
        tx.execute_typed(
            "INSERT INTO credential_ends (credential, ending, idx) VALUES ($1, $2, $3)",
            &[
                (&credential.as_bytes().as_slice(), Type::BYTEA),
                (&code, Type::INT2),
                (&index, Type::INT8),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The advisory lock key that serializes migrations ("causew" in ASCII).
const MIGRATION_LOCK: i64 = 0x6361_7573_6577;

/// How many connections serve reads (each pipelines its callers' queries).
const READ_CONNECTIONS: usize = 4;

/// The sequencer lease as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderRecord {
    /// The lease's term: it grows by one at every takeover.
    pub term: u64,
    /// The instance holding it (`--ha-id`).
    pub holder: String,
    /// Where that instance takes writes (its `--advertise` URL).
    pub address: String,
    /// Whether the lease has not expired (by the database's clock).
    pub live: bool,
}

/// One connection used by one caller at a time (transactions, the
/// lease), opened on first use and again after it breaks.
struct Slot(tokio::sync::Mutex<Option<Client>>);

/// A read connection: callers share it, their queries pipelined, each
/// statement prepared once (planning an `unnest` join costs the database
/// more than running it).
#[derive(Default)]
struct ReadSlot(tokio::sync::Mutex<Option<Arc<ReadConn>>>);

struct ReadConn {
    client: Client,
    prepared: Mutex<HashMap<String, Statement>>,
}

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

impl PgStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`)
    /// and applies pending migrations. With `tls`, every connection is TLS
    /// (`sslmode=require`) and the server's certificate must verify
    /// against it, host name included.
    ///
    /// # Errors
    /// If the URL is malformed, the database is unreachable, or a migration fails.
    pub fn open(url: &str, tls: Option<rustls::ClientConfig>) -> Result<Self, StorageError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StorageError::Postgres(format!(
                "--storage {url:?} is not a PostgreSQL URL like postgres://user:password@host:5432/causeway: {e}"
            ))
        })?;
        // An acknowledgement must mean "on disk", whatever the server's
        // default: synchronous_commit is forced on for our sessions. A
        // database that stops answering fails calls within seconds
        // instead of TCP's minutes, so a leader cut off from it steps down.
        let options = match config.get_options() {
            Some(o) => format!("{o} -c synchronous_commit=on"),
            None => "-c synchronous_commit=on".into(),
        };
        config
            .application_name("causeway-server")
            .options(options)
            .connect_timeout(Duration::from_secs(5))
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(1))
            .keepalives_retries(5)
            .tcp_user_timeout(Duration::from_secs(10));
        if tls.is_some() {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
        }
        let display = display_url(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StorageError::Postgres(format!("starting the PostgreSQL client: {e}")))?;
        let slot = || Slot(tokio::sync::Mutex::new(None));
        let storage = PgStorage {
            config,
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            readers: (0..READ_CONNECTIONS).map(|_| ReadSlot::default()).collect(),
            next_reader: AtomicUsize::new(0),
            writer: slot(),
            lease: slot(),
            fence: Mutex::new(None),
            display,
            tls: tls.map(tokio_postgres_rustls::MakeRustlsConnect::new),
        };
        storage.migrate()?;
        Ok(storage)
    }

    /// Where the database is (host, port, database; no password).
    pub fn location(&self) -> &str {
        &self.display
    }

    /// Runs `f` on this backend's runtime and waits for it.
    fn block<F: Future>(&self, f: F) -> F::Output {
        let run = || self.handle.block_on(f);
        match tokio::runtime::Handle::try_current() {
            // A worker of the server's runtime: let it hand its other
            // tasks to another thread while this one waits.
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }

    /// Opens a connection, its driver running on this backend's runtime.
    async fn connect(&self) -> Result<Client, StorageError> {
        let failed = |e: tokio_postgres::Error| {
            StorageError::Postgres(format!(
                "connecting to {}: {}",
                self.display,
                pg_message(&e)
            ))
        };
        let database = self.display.clone();
        let closed = move |e: tokio_postgres::Error| {
            tracing::warn!(%database, error = %e, "PostgreSQL connection closed");
        };
        // The connection's type depends on the TLS connector: drive each
        // kind on this runtime.
        match &self.tls {
            Some(tls) => {
                let (client, connection) =
                    self.config.connect(tls.clone()).await.map_err(failed)?;
                tokio::spawn(async move { connection.await.map_err(closed) });
                Ok(client)
            }
            None => {
                let (client, connection) = self.config.connect(NoTls).await.map_err(failed)?;
                tokio::spawn(async move { connection.await.map_err(closed) });
                Ok(client)
            }
        }
    }

    /// Runs `op` with the slot's connection, opening it first if needed;
    /// a connection that broke is dropped so the next call reopens it.
    async fn with<T>(
        &self,
        slot: &Slot,
        op: impl AsyncFnOnce(&mut Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StorageError> {
        let mut guard = slot.0.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(self.connect().await?);
        }
        let Some(client) = guard.as_mut() else {
            unreachable!("the connection was just opened")
        };
        let result = op(client).await;
        if client.is_closed() {
            *guard = None;
        }
        result.map_err(pg_error)
    }

    /// Looks up each of `hashes`, passed as `$1`, with `sql`, which must
    /// answer one row a hash in their order (`unnest($1) WITH ORDINALITY
    /// … LEFT JOIN … ORDER BY ord`); asks nothing of the server for none.
    fn read_per_hash(&self, sql: &str, hashes: &[Hash]) -> Result<Vec<Row>, StorageError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&[u8]> = hashes.iter().map(|h| h.as_bytes().as_slice()).collect();
        self.read(sql, &[(&keys, Type::BYTEA_ARRAY)])
    }

    /// A read query on one of the read connections, round robin.
    fn read(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StorageError> {
        let slot =
            &self.readers[self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len()];
        self.block(async {
            let conn = {
                let mut guard = slot.0.lock().await;
                match guard.as_ref() {
                    Some(c) if !c.client.is_closed() => c.clone(),
                    _ => {
                        let conn = Arc::new(ReadConn {
                            client: self.connect().await?,
                            prepared: Mutex::new(HashMap::new()),
                        });
                        *guard = Some(conn.clone());
                        conn
                    }
                }
            };
            let known = conn
                .prepared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(sql)
                .cloned();
            let statement = match known {
                Some(s) => s,
                None => {
                    let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
                    let s = conn
                        .client
                        .prepare_typed(sql, &types)
                        .await
                        .map_err(pg_error)?;
                    conn.prepared
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(sql.to_owned(), s.clone());
                    s
                }
            };
            let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
            conn.client
                .query(&statement, &values)
                .await
                .map_err(pg_error)
        })
    }

    /// A one-statement write (autocommit, durable once it returns).
    fn write(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<u64, StorageError> {
        self.block(self.with(&self.writer, async |c| c.execute_typed(sql, params).await))
    }

    fn migrate(&self) -> Result<(), StorageError> {
        // One transaction under an advisory lock: instances starting
        // together apply each migration once (even CREATE TABLE IF NOT
        // EXISTS races without it).
        self.block(self.with(&self.writer, async |c| {
            let tx = c.transaction().await?;
            tx.execute_typed(
                "SELECT pg_advisory_xact_lock($1)",
                &[(&MIGRATION_LOCK, Type::INT8)],
            )
            .await?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS causeway_migrations (
                   version integer PRIMARY KEY, description text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await?;
            for (version, description, sql) in MIGRATIONS {
                let done = tx
                    .query_typed_opt(
                        "SELECT 1 FROM causeway_migrations WHERE version = $1",
                        &[(version, Type::INT4)],
                    )
                    .await?;
                if done.is_none() {
                    tx.batch_execute(sql).await?;
                    if *version == 2 {
                        fill_credential_ends(&tx).await?;
                    }
                    tx.execute_typed(
                        "INSERT INTO causeway_migrations (version, description) VALUES ($1, $2)",
                        &[(version, Type::INT4), (description, Type::TEXT)],
                    )
                    .await?;
                    tracing::info!(version, description, "applied a storage migration");
                }
            }
            tx.commit().await
        }))?;
        let newest = self.read("SELECT max(version) FROM causeway_migrations", &[])?;
        let newest: Option<i32> = match newest.first() {
            Some(r) => col(r, 0)?,
            None => None,
        };
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if newest.is_some_and(|v| v > known) {
            return Err(StorageError::Corrupt(format!(
                "the database {} has schema version {}, newer than this build's {known}; upgrade causeway-server",
                self.display,
                newest.unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// Commits of this instance must be made under `term` (the sequencer
    /// lease it holds), or under no lease at all with `None` (one writer,
    /// no election).
    pub fn set_fence(&self, term: Option<u64>) {
        *self
            .fence
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = term;
    }

    fn fence(&self) -> Option<u64> {
        *self
            .fence
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the sequencer lease for `lease` if nobody holds a live one:
    /// returns the new term, or `None` if another instance holds it.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn try_acquire(
        &self,
        holder: &str,
        address: &str,
        lease: Duration,
    ) -> Result<Option<u64>, StorageError> {
        let ms = lease.as_millis() as f64;
        let row = self.block(self.with(&self.lease, async |c| {
            c.query_typed_opt(
                "INSERT INTO leader (one, term, holder, address, expires_at)
                 VALUES (true, 1, $1, $2, clock_timestamp() + $3 * interval '1 millisecond')
                 ON CONFLICT (one) DO UPDATE
                   SET term = leader.term + 1, holder = excluded.holder,
                       address = excluded.address, expires_at = excluded.expires_at
                   WHERE leader.expires_at < clock_timestamp()
                 RETURNING term",
                &[
                    (&holder, Type::TEXT),
                    (&address, Type::TEXT),
                    (&ms, Type::FLOAT8),
                ],
            )
            .await
        }))?;
        row.map(|r| to_u64(col(&r, 0)?, "lease term")).transpose()
    }

    /// Extends the lease held under `term`; `false` if it was taken over.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn renew(&self, term: u64, lease: Duration) -> Result<bool, StorageError> {
        let (term, ms) = (to_i64(term, "lease term")?, lease.as_millis() as f64);
        let n = self.block(self.with(&self.lease, async |c| {
            c.execute_typed(
                "UPDATE leader SET expires_at = clock_timestamp() + $2 * interval '1 millisecond'
                 WHERE term = $1",
                &[(&term, Type::INT8), (&ms, Type::FLOAT8)],
            )
            .await
        }))?;
        Ok(n == 1)
    }

    /// Gives up the lease held under `term` at once (a clean shutdown), so
    /// another instance need not wait for it to expire.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn release(&self, term: u64) -> Result<(), StorageError> {
        let term = to_i64(term, "lease term")?;
        self.block(self.with(&self.lease, async |c| {
            c.execute_typed(
                "UPDATE leader SET expires_at = clock_timestamp() - interval '1 second' WHERE term = $1",
                &[(&term, Type::INT8)],
            )
            .await
        }))?;
        Ok(())
    }

    /// The current lease, if any instance ever held it.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn leader(&self) -> Result<Option<LeaderRecord>, StorageError> {
        let rows = self.read(
            "SELECT term, holder, address, expires_at > clock_timestamp() FROM leader",
            &[],
        )?;
        rows.first()
            .map(|r| {
                Ok(LeaderRecord {
                    term: to_u64(col(r, 0)?, "lease term")?,
                    holder: col(r, 1)?,
                    address: col(r, 2)?,
                    live: col(r, 3)?,
                })
            })
            .transpose()
    }

    /// The size of the latest committed tree (one small read, for
    /// instances that follow the leader's commits).
    ///
    /// # Errors
    /// On a storage failure.
    pub fn head_size(&self) -> Result<Option<u64>, StorageError> {
        let rows = self.read("SELECT size FROM head", &[])?;
        rows.first()
            .map(|r| to_u64(col(r, 0)?, "head size"))
            .transpose()
    }

    fn sizes_near(
        &self,
        table: &str,
        size: u64,
    ) -> Result<(Option<u64>, Option<u64>), StorageError> {
        let s = to_i64(size, "tree size")?;
        let rows = self.read(
            &format!(
                "SELECT (SELECT max(size) FROM {table} WHERE size < $1),
                        (SELECT min(size) FROM {table} WHERE size >= $1)"
            ),
            &[(&s, Type::INT8)],
        )?;
        let Some(r) = rows.first() else {
            return Ok((None, None));
        };
        let get = |i: usize| {
            col::<Option<i64>>(r, i)?
                .map(|v| to_u64(v, "tree size"))
                .transpose()
        };
        Ok((get(0)?, get(1)?))
    }

    fn note_at(&self, table: &str, size: u64) -> Result<Option<String>, StorageError> {
        let s = to_i64(size, "tree size")?;
        let rows = self.read(
            &format!("SELECT note FROM {table} WHERE size = $1"),
            &[(&s, Type::INT8)],
        )?;
        rows.first().map(|r| col(r, 0)).transpose()
    }

    fn anchor_row(r: &Row) -> Result<StoredAnchor, StorageError> {
        Ok(StoredAnchor {
            size: to_u64(col(r, 0)?, "anchor size")?,
            gen_time: col(r, 1)?,
            der: col(r, 2)?,
        })
    }
}

impl Drop for PgStorage {
    fn drop(&mut self) {
        // Dropping a runtime blocks; this may run on an async task.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn display_url(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{host}:{port}/{}",
        config.get_dbname().unwrap_or_default()
    )
}

impl Storage for PgStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn disk_bytes(&self) -> Option<u64> {
        let rows = self
            .read("SELECT pg_database_size(current_database())", &[])
            .ok()?;
        rows.first()
            .and_then(|r| col::<i64>(r, 0).ok())
            .and_then(|b| u64::try_from(b).ok())
    }

    fn recover(&self) -> Result<bool, StorageError> {
        // A failed transaction leaves nothing behind; a broken connection
        // is reopened by the next call. Check that the database answers.
        self.read("SELECT 1", &[])?;
        Ok(true)
    }

    fn origin(&self) -> Result<Option<String>, StorageError> {
        let rows = self.read("SELECT value FROM meta WHERE name = 'origin'", &[])?;
        rows.into_iter()
            .next()
            .map(|r| text(col(&r, 0)?, "origin"))
            .transpose()
    }

    fn set_origin(&self, origin: &str) -> Result<(), StorageError> {
        let value = origin.as_bytes();
        self.write(
            "INSERT INTO meta (name, value) VALUES ('origin', $1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[(&value, Type::BYTEA)],
        )?;
        Ok(())
    }

    fn head(&self) -> Result<Option<StoredHead>, StorageError> {
        let rows = self.read(
            "SELECT h.size, c.note FROM head h LEFT JOIN checkpoints c ON c.size = h.size",
            &[],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let size = to_u64(col(r, 0)?, "head size")?;
        let note: Option<String> = col(r, 1)?;
        let note = note.ok_or_else(|| {
            StorageError::Corrupt(format!("no checkpoint at the head size {size}"))
        })?;
        Ok(Some(StoredHead { size, note }))
    }

    fn commit(&self, commit: &Commit) -> Result<(), StorageError> {
        let fence = self.fence().map(|t| to_i64(t, "lease term")).transpose()?;
        let first = to_i64(commit.first_index, "leaf index")?;
        let size = to_i64(commit.size, "tree size")?;
        let initial = commit.size == 0 && commit.entries.is_empty();
        let mut idx = Vec::with_capacity(commit.entries.len());
        let mut leaf = Vec::with_capacity(commit.entries.len());
        let mut data = Vec::with_capacity(commit.entries.len());
        for (i, (entry, hash)) in (first..).zip(&commit.entries) {
            idx.push(i);
            leaf.push(hash.as_bytes().as_slice());
            data.push(entry.as_slice());
        }
        let mut levels = Vec::with_capacity(commit.nodes.len());
        let mut node_idx = Vec::with_capacity(commit.nodes.len());
        let mut node_hash = Vec::with_capacity(commit.nodes.len());
        for (id, hash) in &commit.nodes {
            levels.push(i16::from(id.level));
            node_idx.push(to_i64(id.index, "node index")?);
            node_hash.push(hash.as_bytes().as_slice());
        }
        let mut sub_id = Vec::with_capacity(commit.submissions.len());
        let mut sub_idx = Vec::with_capacity(commit.submissions.len());
        let mut sub_leaf = Vec::with_capacity(commit.submissions.len());
        for (id, index, hash) in &commit.submissions {
            sub_id.push(id.as_bytes().as_slice());
            sub_idx.push(to_i64(*index, "leaf index")?);
            sub_leaf.push(hash.as_bytes().as_slice());
        }
        let mut end_credential = Vec::with_capacity(commit.credential_ends.len());
        let mut end_code = Vec::with_capacity(commit.credential_ends.len());
        let mut end_idx = Vec::with_capacity(commit.credential_ends.len());
        for (credential, end) in &commit.credential_ends {
            end_credential.push(credential.as_bytes().as_slice());
            end_code.push(i16::from(end.ending.code()));
            end_idx.push(to_i64(end.index, "leaf index")?);
        }
        let note = commit.note.as_str();
        // The outer error is the connection's, the inner one a refusal.
        self.block(self.with(&self.writer, async |c| {
            let tx = c.transaction().await?;
            if let Some(term) = fence {
                let current: Option<i64> = tx
                    .query_typed_opt("SELECT term FROM leader WHERE one FOR SHARE", &[])
                    .await?
                    .map(|r| r.try_get(0))
                    .transpose()?;
                if current != Some(term) {
                    return Ok(Err(StorageError::Fenced {
                        term: term as u64,
                        current: current.unwrap_or(0) as u64,
                    }));
                }
            }
            let stored: Option<i64> = tx
                .query_typed_opt("SELECT size FROM head WHERE one FOR UPDATE", &[])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            // The batch extends the stored head; the empty tree is
            // committed once, into an empty store.
            let extends = match stored {
                None => first == 0,
                Some(s) => s == first && !initial,
            };
            if !extends {
                return Ok(Err(StorageError::HeadMoved {
                    expected: commit.first_index,
                    stored: stored.unwrap_or(0) as u64,
                }));
            }
            if !idx.is_empty() {
                tx.execute_typed(
                    "INSERT INTO entries (idx, leaf_hash, data)
                     SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])",
                    &[
                        (&idx, Type::INT8_ARRAY),
                        (&leaf, Type::BYTEA_ARRAY),
                        (&data, Type::BYTEA_ARRAY),
                    ],
                )
                .await?;
            }
            if !levels.is_empty() {
                tx.execute_typed(
                    "INSERT INTO nodes (level, idx, hash)
                     SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
                    &[
                        (&levels, Type::INT2_ARRAY),
                        (&node_idx, Type::INT8_ARRAY),
                        (&node_hash, Type::BYTEA_ARRAY),
                    ],
                )
                .await?;
            }
            if !sub_id.is_empty() {
                tx.execute_typed(
                    "INSERT INTO submissions (id, idx, leaf_hash)
                     SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[])",
                    &[
                        (&sub_id, Type::BYTEA_ARRAY),
                        (&sub_idx, Type::INT8_ARRAY),
                        (&sub_leaf, Type::BYTEA_ARRAY),
                    ],
                )
                .await?;
            }
            if !end_credential.is_empty() {
                // The first end of a credential is the one that counts.
                tx.execute_typed(
                    "INSERT INTO credential_ends (credential, ending, idx)
                     SELECT * FROM unnest($1::bytea[], $2::smallint[], $3::bigint[])
                     ON CONFLICT (credential) DO NOTHING",
                    &[
                        (&end_credential, Type::BYTEA_ARRAY),
                        (&end_code, Type::INT2_ARRAY),
                        (&end_idx, Type::INT8_ARRAY),
                    ],
                )
                .await?;
            }
            tx.execute_typed(
                "INSERT INTO checkpoints (size, note) VALUES ($1, $2)
                 ON CONFLICT (size) DO UPDATE SET note = excluded.note",
                &[(&size, Type::INT8), (&note, Type::TEXT)],
            )
            .await?;
            tx.execute_typed(
                "INSERT INTO head (one, size) VALUES (true, $1)
                 ON CONFLICT (one) DO UPDATE SET size = excluded.size",
                &[(&size, Type::INT8)],
            )
            .await?;
            tx.commit().await?;
            Ok(Ok(()))
        }))?
    }

    fn leaf_indices(&self, hashes: &[Hash]) -> Result<Vec<Option<u64>>, StorageError> {
        let rows = self.read_per_hash(
            "SELECT e.idx FROM unnest($1::bytea[]) WITH ORDINALITY AS q(h, ord)
             LEFT JOIN entries e ON e.leaf_hash = q.h ORDER BY q.ord",
            hashes,
        )?;
        rows.iter()
            .map(|r| {
                col::<Option<i64>>(r, 0)?
                    .map(|i| to_u64(i, "leaf index"))
                    .transpose()
            })
            .collect()
    }

    fn credential_ends(
        &self,
        credentials: &[Hash],
    ) -> Result<Vec<Option<CredentialEnd>>, StorageError> {
        let rows = self.read_per_hash(
            "SELECT c.ending, c.idx FROM unnest($1::bytea[]) WITH ORDINALITY AS q(h, ord)
             LEFT JOIN credential_ends c ON c.credential = q.h ORDER BY q.ord",
            credentials,
        )?;
        rows.iter()
            .map(
                |r| match (col::<Option<i16>>(r, 0)?, col::<Option<i64>>(r, 1)?) {
                    (Some(code), Some(i)) => {
                        let ending = u8::try_from(code)
                            .ok()
                            .and_then(Ending::from_code)
                            .ok_or_else(|| {
                                StorageError::Corrupt(format!(
                                    "unknown credential ending code {code}"
                                ))
                            })?;
                        Ok(Some(CredentialEnd {
                            ending,
                            index: to_u64(i, "credential end index")?,
                        }))
                    }
                    _ => Ok(None),
                },
            )
            .collect()
    }

    fn submissions(&self, ids: &[Hash]) -> Result<Vec<Option<(u64, Hash)>>, StorageError> {
        let rows = self.read_per_hash(
            "SELECT s.idx, s.leaf_hash FROM unnest($1::bytea[]) WITH ORDINALITY AS q(id, ord)
             LEFT JOIN submissions s ON s.id = q.id ORDER BY q.ord",
            ids,
        )?;
        rows.iter()
            .map(
                |r| match (col::<Option<i64>>(r, 0)?, col::<Option<Vec<u8>>>(r, 1)?) {
                    (Some(i), Some(h)) => Ok(Some((
                        to_u64(i, "submission index")?,
                        hash(&h, "submission leaf hash")?,
                    ))),
                    _ => Ok(None),
                },
            )
            .collect()
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StorageError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let levels: Vec<i16> = ids.iter().map(|id| i16::from(id.level)).collect();
        let indices = ids
            .iter()
            .map(|id| to_i64(id.index, "node index"))
            .collect::<Result<Vec<i64>, _>>()?;
        let rows = self.read(
            "SELECT n.hash FROM unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS q(level, idx, ord)
             LEFT JOIN nodes n ON n.level = q.level AND n.idx = q.idx ORDER BY q.ord",
            &[(&levels, Type::INT2_ARRAY), (&indices, Type::INT8_ARRAY)],
        )?;
        rows.iter()
            .zip(ids)
            .map(|(r, id)| {
                let v: Option<Vec<u8>> = col(r, 0)?;
                let v = v.ok_or_else(|| StorageError::Corrupt(format!("missing node {id:?}")))?;
                hash(&v, &format!("node {id:?}"))
            })
            .collect()
    }

    fn node_range(
        &self,
        level: u8,
        start: u64,
        max_count: usize,
    ) -> Result<Vec<Hash>, StorageError> {
        let width = tile_row_width(level);
        let end = (start / width + 1)
            .saturating_mul(width)
            .min(start.saturating_add(max_count as u64));
        let (from, to) = (to_i64(start, "node index")?, to_i64(end, "node index")?);
        let level16 = i16::from(level);
        let rows = self.read(
            "SELECT idx, hash FROM nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
            &[
                (&level16, Type::INT2),
                (&from, Type::INT8),
                (&to, Type::INT8),
            ],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for (expected, r) in (from..).zip(&rows) {
            if col::<i64>(r, 0)? != expected {
                break;
            }
            out.push(hash(col(r, 1)?, "node")?);
        }
        Ok(out)
    }

    fn entries(
        &self,
        start: u64,
        end: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        let (from, to) = (to_i64(start, "leaf index")?, to_i64(end, "leaf index")?);
        let limit = max_count as i64;
        let rows = self.read(
            "SELECT idx, data FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3",
            &[(&from, Type::INT8), (&to, Type::INT8), (&limit, Type::INT8)],
        )?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for (expected, r) in (from..).zip(rows) {
            if col::<i64>(&r, 0)? != expected {
                return Err(StorageError::Corrupt(format!(
                    "entry {expected} is missing"
                )));
            }
            let v: Vec<u8> = col(&r, 1)?;
            if !out.is_empty() && bytes + v.len() > max_bytes {
                break;
            }
            bytes += v.len();
            out.push(v);
        }
        Ok(out)
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StorageError> {
        self.note_at("checkpoints", size)
    }

    fn checkpoint_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        self.sizes_near("checkpoints", size)
    }

    fn publish(&self, size: u64, note: &str) -> Result<(), StorageError> {
        let s = to_i64(size, "tree size")?;
        self.write(
            "INSERT INTO published (size, note) VALUES ($1, $2)
             ON CONFLICT (size) DO UPDATE SET note = excluded.note",
            &[(&s, Type::INT8), (&note, Type::TEXT)],
        )?;
        Ok(())
    }

    fn published(&self, size: u64) -> Result<Option<String>, StorageError> {
        self.note_at("published", size)
    }

    fn latest_published(&self) -> Result<Option<(u64, String)>, StorageError> {
        let rows = self.read(
            "SELECT size, note FROM published ORDER BY size DESC LIMIT 1",
            &[],
        )?;
        rows.first()
            .map(|r| Ok((to_u64(col(r, 0)?, "published size")?, col(r, 1)?)))
            .transpose()
    }

    fn published_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        self.sizes_near("published", size)
    }

    fn put_anchor(&self, size: u64, gen_time: i64, der: &[u8]) -> Result<(), StorageError> {
        let s = to_i64(size, "tree size")?;
        self.write(
            "INSERT INTO anchors (size, gen_time, der) VALUES ($1, $2, $3)
             ON CONFLICT (size) DO UPDATE SET gen_time = excluded.gen_time, der = excluded.der",
            &[
                (&s, Type::INT8),
                (&gen_time, Type::INT8),
                (&der, Type::BYTEA),
            ],
        )?;
        Ok(())
    }

    fn anchor(&self, size: u64) -> Result<Option<StoredAnchor>, StorageError> {
        let s = to_i64(size, "tree size")?;
        let rows = self.read(
            "SELECT size, gen_time, der FROM anchors WHERE size = $1",
            &[(&s, Type::INT8)],
        )?;
        rows.first().map(Self::anchor_row).transpose()
    }

    fn latest_anchor(&self) -> Result<Option<StoredAnchor>, StorageError> {
        let rows = self.read(
            "SELECT size, gen_time, der FROM anchors ORDER BY size DESC LIMIT 1",
            &[],
        )?;
        rows.first().map(Self::anchor_row).transpose()
    }

    fn anchors(&self, start: u64, limit: usize) -> Result<Vec<(u64, i64)>, StorageError> {
        let (s, limit) = (to_i64(start, "tree size")?, limit as i64);
        let rows = self.read(
            "SELECT size, gen_time FROM anchors WHERE size >= $1 ORDER BY size LIMIT $2",
            &[(&s, Type::INT8), (&limit, Type::INT8)],
        )?;
        rows.iter()
            .map(|r| Ok((to_u64(col(r, 0)?, "anchor size")?, col(r, 1)?)))
            .collect()
    }

    fn anchor_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        self.sizes_near("anchors", size)
    }
}
