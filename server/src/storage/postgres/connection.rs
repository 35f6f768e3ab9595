//! Connections to PostgreSQL: a small runtime of this backend's own, a
//! few shared read connections with prepared statements, and one
//! connection each for commits and the lease, reopened after they break.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causeway_tlog::merkle::Hash;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::{PgStorage, READ_CONNECTIONS, pg_error, pg_message};
use crate::storage::StorageError;

/// One connection used by one caller at a time (transactions, the
/// lease), opened on first use and again after it breaks.
pub(super) struct Slot(tokio::sync::Mutex<Option<Client>>);

/// A read connection: callers share it, their queries pipelined, each
/// statement prepared once (planning an `unnest` join costs the database
/// more than running it).
#[derive(Default)]
pub(super) struct ReadSlot(tokio::sync::Mutex<Option<Arc<ReadConn>>>);

pub(super) struct ReadConn {
    client: Client,
    prepared: Mutex<HashMap<String, Statement>>,
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
    pub(super) fn block<F: Future>(&self, f: F) -> F::Output {
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
    pub(super) async fn connect(&self) -> Result<Client, StorageError> {
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
    pub(super) async fn with<T>(
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
    pub(super) fn read_per_hash(
        &self,
        sql: &str,
        hashes: &[Hash],
    ) -> Result<Vec<Row>, StorageError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&[u8]> = hashes.iter().map(|h| h.as_bytes().as_slice()).collect();
        self.read(sql, &[(&keys, Type::BYTEA_ARRAY)])
    }

    /// A read query on one of the read connections, round robin.
    pub(super) fn read(
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
    pub(super) fn write(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<u64, StorageError> {
        self.block(self.with(&self.writer, async |c| c.execute_typed(sql, params).await))
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
