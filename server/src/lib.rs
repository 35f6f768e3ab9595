//! The Causeway log server.
//!
//! # Layout
//!
//! * [`keys`]: the log's origin and its two signing keys in the data directory.
//! * [`storage`]: the store behind one trait: RocksDB (embedded, the
//!   default) or PostgreSQL (shared by several instances); one durable
//!   write per batch.
//! * [`election`]: with PostgreSQL, which instance sequences (a lease with
//!   fenced commits); the others serve reads.
//! * [`admission`]: governance records checked against the producer policy
//!   (or opaque bytes) before they are sequenced.
//! * [`rate_limit`]: per-producer token buckets.
//! * [`sequencer`]: the single writer: batching, dedup, appending to the
//!   compact range, signing, committing, publishing.
//! * [`witnesses`]: asking one C2SP witness to cosign (tlog-witness client).
//! * [`publisher`]: publishes a head once a quorum of witnesses cosigned it.
//! * [`anchorer`]: has published checkpoints timestamped by an RFC 3161 TSA.
//! * [`reader`]: checkpoints, proofs and entries, bounded by what is published.
//! * [`service`]: the `causeway.v1.Log` gRPC service (translation only).
//! * [`grpc_limits`]: oversized requests answer `RESOURCE_EXHAUSTED`; the
//!   bytes of requests being received are held to a memory budget and a
//!   deadline.
//! * [`http`]: the C2SP tlog-tiles read API.
//! * [`telemetry`]: logs, OpenTelemetry traces and metrics.
//! * [`tls`]: plain or TLS connections, client certificates, SIGHUP reload.
//!
//! [`serve`] wires them together; `main.rs` only parses the command line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod anchorer;
pub mod election;
pub mod grpc_limits;
pub mod http;
pub mod keys;
pub mod publisher;
pub mod rate_limit;
pub mod reader;
pub mod sequencer;
pub mod service;
pub mod storage;
pub mod telemetry;
pub mod tls;
pub mod witnesses;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use causeway_api::v1::log_server::LogServer;
use causeway_tlog::note::VerifierKey;
use tokio::net::TcpListener;

use crate::admission::Admission;
use crate::anchorer::{AnchorConfig, Anchorer};
use crate::election::{Election, HaConfig, LeaderParts, Leadership};
use crate::keys::{KeysError, LogKeys};
use crate::publisher::{Publisher, PublisherConfig};
use crate::reader::{PublishedView, Reader};
use crate::sequencer::{Sequencer, SequencerConfig, StartError, TreeHead};
use crate::service::{Limits, LogService};
use crate::storage::{PgStorage, RocksStorage, Storage, StorageError, StorageOptions};
use crate::witnesses::{WitnessClient, WitnessEndpoint};

/// How long open connections may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// gRPC HTTP/2 keep-alive: ping interval and how long an answer may take.
const GRPC_KEEPALIVE: (std::time::Duration, std::time::Duration) = (
    std::time::Duration::from_secs(30),
    std::time::Duration::from_secs(10),
);

/// The `grpc.health.v1` service name that is SERVING only while this
/// instance takes writes (the leader, with `--ha`).
pub const WRITES_HEALTH: &str = "causeway.v1.Log/writes";

/// The origin used when a data directory is initialized without `--origin`.
pub const DEFAULT_ORIGIN: &str = "localhost/causeway";

/// Everything needed to run a log.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where keys and the database live.
    pub data_dir: PathBuf,
    /// The origin for a new data directory; checked against an existing one.
    pub origin: Option<String>,
    /// Batching.
    pub sequencer: SequencerConfig,
    /// The largest gRPC request accepted, in bytes.
    pub max_request_bytes: usize,
    /// The most entries one `AddEntries` call may carry.
    pub max_request_entries: usize,
    /// The memory budget for gRPC request bytes received but not yet
    /// complete (`--max-inflight-bytes`); each connection may use
    /// [`grpc_limits::BodyBudget::connection_share`] of it.
    pub max_inflight_bytes: usize,
    /// How long a gRPC request body may take to arrive completely.
    pub request_body_timeout: std::time::Duration,
    /// gRPC connections open at once per client IP address (0: no limit).
    pub max_connections_per_ip: usize,
    /// HTTP/2 streams (calls) open at once per gRPC connection.
    pub max_concurrent_streams: u32,
    /// RocksDB memory budget.
    pub storage: StorageOptions,
    /// A PostgreSQL URL to keep the log in instead of RocksDB under `data_dir`.
    pub postgres: Option<String>,
    /// TLS to PostgreSQL, trusting these roots (`--storage-ca`).
    pub postgres_tls: Option<rustls::ClientConfig>,
    /// Take part in leader election among instances sharing `postgres`.
    pub ha: Option<HaConfig>,
    /// Witnesses asked to cosign every checkpoint; empty publishes every
    /// signed head at once.
    pub witnesses: Vec<WitnessEndpoint>,
    /// Quorum and timing of witnessing.
    pub publisher: PublisherConfig,
    /// RFC 3161 anchoring, if a TSA is configured.
    pub anchor: Option<AnchorConfig>,
    /// What entries are accepted.
    pub admission: Admission,
    /// Records per second per producer (0: no limit).
    pub producer_rate_limit: f64,
    /// TLS for both listeners (and mutual TLS for producers), if set.
    pub tls: Option<tls::TlsFiles>,
}

impl Config {
    /// Defaults for a data directory.
    pub fn new(data_dir: PathBuf) -> Self {
        Config {
            data_dir,
            origin: None,
            sequencer: SequencerConfig::default(),
            max_request_bytes: 16 << 20,
            max_request_entries: 10_000,
            max_inflight_bytes: 256 << 20,
            request_body_timeout: std::time::Duration::from_secs(30),
            max_connections_per_ip: 64,
            max_concurrent_streams: 100,
            storage: StorageOptions::default(),
            postgres: None,
            postgres_tls: None,
            ha: None,
            witnesses: Vec::new(),
            publisher: PublisherConfig {
                quorum: 0,
                timeout: std::time::Duration::from_secs(5),
                refresh: std::time::Duration::from_secs(60),
            },
            anchor: None,
            admission: Admission::Opaque,
            producer_rate_limit: 0.0,
            tls: None,
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Keys could not be created or loaded.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// Storage could not be opened.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored log could not be restored.
    #[error(transparent)]
    Start(#[from] StartError),
    /// gRPC serving failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Other I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The configuration contradicts itself.
    #[error("configuration: {0}")]
    Config(String),
}

/// An open log: storage, the sequencer thread (or the election that
/// starts one), and read access.
pub struct OpenLog {
    /// Read access to published data.
    pub reader: Reader,
    /// Write access: the sequencer, while this instance leads.
    pub writes: Leadership,
    /// The log's verifier keys (ECDSA, Ed25519).
    pub vkeys: [VerifierKey; 2],
    /// The log's origin.
    pub origin: String,
    /// The latest durable head (ahead of what is published while
    /// witnesses cosign; the store's, on a standby).
    pub head: tokio::sync::watch::Receiver<Arc<TreeHead>>,
    publisher: Option<Publisher>,
    election: Option<Election>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn http_client() -> Result<reqwest::Client, ServerError> {
    reqwest::Client::builder()
        .user_agent(concat!("causeway-server/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| std::io::Error::other(e.to_string()).into())
}

impl OpenLog {
    /// Opens the data directory (initializing it if empty) and the store,
    /// restores the tree and starts the sequencer thread; with
    /// `config.ha`, prepares the election instead (see [`serve`]).
    ///
    /// # Errors
    /// If keys, storage or the stored tree are unusable.
    pub fn open(config: &Config) -> Result<Self, ServerError> {
        // With witnesses, a quorum of 0 would publish checkpoints nobody
        // cosigned; more than there are would publish nothing.
        let (witnesses, quorum) = (config.witnesses.len(), config.publisher.quorum);
        if witnesses > 0 && !(1..=witnesses).contains(&quorum) {
            return Err(ServerError::Config(format!(
                "witness quorum {quorum} must be between 1 and the number of witnesses \
                 ({witnesses}); set PublisherConfig::quorum (--witness-quorum)"
            )));
        }
        let keys = if config.ha.is_some() {
            // Every instance must sign with the same keys: never make new ones.
            if !LogKeys::exists(&config.data_dir) {
                return Err(StartError::Inconsistent(format!(
                    "--ha: {} holds no log keys; every instance signs with the same keys, so run `causeway-server init` once and copy its keys/ and origin to every instance's --data-dir",
                    config.data_dir.display()
                ))
                .into());
            }
            LogKeys::load(&config.data_dir)?
        } else {
            LogKeys::load_or_create(&config.data_dir, config.origin.as_deref(), DEFAULT_ORIGIN)?
        };
        // PostgreSQL if configured, else RocksDB in the data directory.
        let postgres = match &config.postgres {
            Some(url) => Some(Arc::new(PgStorage::open(url, config.postgres_tls.clone())?)),
            None => None,
        };
        let storage: Arc<dyn Storage> = match &postgres {
            Some(pg) => pg.clone(),
            None => Arc::new(RocksStorage::open(
                &config.data_dir.join("db"),
                &config.storage,
            )?),
        };
        match storage.origin()? {
            None => storage.set_origin(keys.origin.as_str())?,
            Some(o) if o != keys.origin.as_str() => {
                return Err(StartError::Inconsistent(format!(
                    "the {} store belongs to origin {o:?} but the keys to {:?}",
                    storage.backend(),
                    keys.origin.as_str()
                ))
                .into());
            }
            Some(_) => {}
        }
        let vkeys = keys.vkeys();
        let origin = keys.origin.to_string();
        let witnesses: Vec<Arc<WitnessClient>> = if config.witnesses.is_empty() {
            Vec::new()
        } else {
            let http = http_client()?;
            config
                .witnesses
                .iter()
                .map(|w| {
                    Arc::new(WitnessClient::new(
                        w.clone(),
                        http.clone(),
                        config.publisher.timeout,
                    ))
                })
                .collect()
        };
        if let Some(ha) = &config.ha {
            let Some(pg) = postgres else {
                return Err(StartError::Inconsistent(
                    "--ha needs a shared store: --storage postgres://…".into(),
                )
                .into());
            };
            let anchor = match &config.anchor {
                Some(a) => Some((a.clone(), http_client()?)),
                None => None,
            };
            let dir = config.data_dir.clone();
            let parts = LeaderParts {
                keys: Box::new(move || LogKeys::load(&dir)),
                sequencer: config.sequencer.clone(),
                witnesses,
                publisher: config.publisher.clone(),
                anchor,
            };
            let election = Election::new(pg, ha.clone(), parts)?;
            let head = election.heads();
            return Ok(OpenLog {
                reader: Reader::new(storage, election.view(), head.clone()),
                writes: election.leadership(),
                vkeys,
                origin,
                head,
                publisher: None,
                election: Some(election),
                thread: None,
            });
        }
        let (sequencer, handle, heads) =
            Sequencer::start(storage.clone(), keys, config.sequencer.clone())?;
        let (publisher, view) = if witnesses.is_empty() {
            (None, PublishedView::Heads(heads.clone()))
        } else {
            let (publisher, rx) = Publisher::new(
                storage.clone(),
                witnesses,
                config.publisher.clone(),
                heads.clone(),
            )?;
            (Some(publisher), PublishedView::Cosigned(rx))
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || sequencer.run())?;
        Ok(OpenLog {
            reader: Reader::new(storage, view, heads.clone()),
            writes: Leadership::single(handle),
            vkeys,
            origin,
            head: heads,
            publisher,
            election: None,
            thread: Some(thread),
        })
    }

    /// Stops the sequencer once every handle is dropped and waits for the
    /// last batch to be durable.
    pub fn close(self) {
        let OpenLog {
            reader,
            writes,
            thread,
            publisher,
            election,
            ..
        } = self;
        drop(election);
        drop(publisher);
        drop(writes);
        drop(reader);
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// The HTTP/2 flow-control window for a connection with a budget share of
/// `share` bytes: hyper's usual 1 MiB, or the share if smaller.
fn flow_window(share: usize) -> u32 {
    u32::try_from(share.min(1 << 20))
        .unwrap_or(1 << 20)
        .max(65_535)
}

/// Serves the log over gRPC on `grpc` and the tile API on `http` until
/// `shutdown` completes, then stops accepting, lets in-flight batches
/// finish and returns.
///
/// # Errors
/// If serving fails.
pub async fn serve(
    mut log: OpenLog,
    config: &Config,
    grpc: TcpListener,
    http: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    // One shutdown signal, fanned out to both servers.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    telemetry::observe_storage(log.reader.storage_arc());
    // The election outlives the listeners: requests in flight at shutdown
    // still find the sequencer, then the lease is released.
    let (election_stop, election_stopped) = tokio::sync::watch::channel(false);
    let election = log
        .election
        .take()
        .map(|e| tokio::spawn(e.run(election_stopped)));
    if let Some(publisher) = log.publisher.take() {
        tokio::spawn(publisher.run(stopped(stop_rx.clone())));
    }
    if let Some(anchor) = config.anchor.as_ref().filter(|_| config.ha.is_none()) {
        let http = http_client()?;
        let anchorer = Anchorer::new(
            log.reader.storage_arc(),
            log.reader.subscribe(),
            anchor.clone(),
            http,
        );
        tokio::spawn(anchorer.run(stopped(stop_rx.clone())));
    }
    let service = LogService::new(
        log.reader.clone(),
        log.writes.clone(),
        Limits {
            max_request_entries: config.max_request_entries,
            admission: config.admission.clone(),
            rate_limit: (config.producer_rate_limit > 0.0)
                .then(|| Arc::new(rate_limit::RateLimiter::new(config.producer_rate_limit))),
            client_certificates: config.tls.as_ref().is_some_and(|t| t.client_ca.is_some()),
        },
        stop_rx.clone(),
    );
    // Both reflection versions: grpcurl speaks v1, older tools v1alpha.
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(causeway_api::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(causeway_api::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let (grpc_tls, http_tls) = match &config.tls {
        Some(files) => (
            Some(tls::Acceptor::new(files.clone(), tls::Protocol::Grpc)?),
            Some(tls::Acceptor::new(files.clone(), tls::Protocol::Http)?),
        ),
        None => (None, None),
    };
    if let (Some(g), Some(h)) = (&grpc_tls, &http_tls) {
        tokio::spawn(tls::reload_on_sighup(
            vec![g.clone(), h.clone()],
            stopped(stop_rx.clone()),
        ));
    }
    let share = grpc_limits::BodyBudget::connection_share(
        config.max_inflight_bytes,
        config.max_request_bytes,
    );
    let guards = tls::Guards {
        max_per_ip: config.max_connections_per_ip,
        body_share: Some(share),
    };
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::ReceiverStream::new(tls::accept(
            grpc,
            grpc_tls,
            tls::Limits::GRPC,
            guards,
        )),
        Ok::<_, std::io::Error>,
    );
    // grpc.health.v1: SERVING for the whole server and for causeway.v1.Log
    // while it runs; NOT_SERVING once shutdown begins, so load balancers
    // drain it before the listener closes.
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<LogServer<LogService>>().await;
    {
        let reporter = health_reporter.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _ = stop.wait_for(|s| *s).await;
            reporter.set_not_serving::<LogServer<LogService>>().await;
            reporter
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
        });
    }
    // `causeway.v1.Log/writes`: SERVING while this instance takes writes
    // (always for a single instance; the leader under --ha), so a load
    // balancer can send producers to the leader and readers anywhere; the
    // `causeway.leader` gauge says the same to monitoring.
    {
        let (reporter, writes, mut stop) =
            (health_reporter.clone(), log.writes.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let mut leading = writes.is_leader();
            loop {
                let stopping = *stop.borrow();
                let serving = leading && !stopping;
                let status = if serving {
                    tonic_health::ServingStatus::Serving
                } else {
                    tonic_health::ServingStatus::NotServing
                };
                reporter.set_service_status(WRITES_HEALTH, status).await;
                telemetry::metrics().leader.record(u64::from(serving), &[]);
                if stopping {
                    return;
                }
                tokio::select! {
                    now = writes.until_leading_is(!leading) => leading = now,
                    changed = stop.changed() => if changed.is_err() { return },
                }
            }
        });
    }
    let grpc_server = tonic::transport::Server::builder()
        // Pings find clients that went silent or stall mid-frame (slow
        // loris): no answer within the timeout closes the connection.
        .http2_keepalive_interval(Some(GRPC_KEEPALIVE.0))
        .http2_keepalive_timeout(Some(GRPC_KEEPALIVE.1))
        .max_concurrent_streams(config.max_concurrent_streams)
        // Flow control bounds what a client can send that the server has
        // not read yet (and so not counted against the budget): at most a
        // window per connection, never more than the connection's share.
        // hyper's default window is 1 MiB; adaptive windows would grow it.
        .initial_connection_window_size(flow_window(share))
        .initial_stream_window_size(flow_window(share))
        .http2_adaptive_window(Some(false))
        .layer(grpc_limits::OversizeLayer {
            limit: config.max_request_bytes,
        })
        .layer(grpc_limits::BudgetLayer {
            budget: grpc_limits::BodyBudget::new(
                config.max_inflight_bytes,
                config.request_body_timeout,
            ),
        })
        .add_service(
            LogServer::new(service)
                .max_decoding_message_size(config.max_request_bytes)
                .max_encoding_message_size(64 << 20),
        )
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .serve_with_incoming_shutdown(incoming, stopped(stop_rx.clone()));

    let http_server = async {
        match http {
            Some(listener) => {
                let local = listener.local_addr()?;
                let listener = tls::HttpListener::new(
                    tls::accept(
                        listener,
                        http_tls,
                        tls::Limits::HTTP,
                        tls::Guards::default(),
                    ),
                    local,
                );
                axum::serve(listener, http::router(log.reader.clone()))
                    .with_graceful_shutdown(stopped(stop_rx.clone()))
                    .await
                    .map_err(ServerError::Io)
            }
            None => Ok(()),
        }
    };
    // Connections get SHUTDOWN_GRACE to finish once shutdown begins; a
    // client holding one open cannot keep the log from stopping.
    let grace = async {
        let _ = stop_rx.clone().wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let cut_off = tokio::select! {
        (grpc_result, http_result) = async { tokio::join!(grpc_server, http_server) } => {
            grpc_result?;
            http_result?;
            false
        }
        () = grace => {
            tracing::warn!(
                grace_secs = SHUTDOWN_GRACE.as_secs(),
                "connections still open after the shutdown grace period; closing them"
            );
            true
        }
    };
    if let Some(election) = election {
        let _ = election_stop.send(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, election)
            .await
            .is_err()
        {
            tracing::warn!("the election did not stop in time; the lease expires by itself");
        }
    }
    // Handlers are gone; the sequencer drains its queue and stops. (After
    // the grace period, connection tasks cut off above may still hold
    // sequencer handles until the runtime ends: then the log stops with the
    // process, and whatever they submit meanwhile is answered or not at
    // all, never acknowledged without being durable.)
    let closing = tokio::task::spawn_blocking(move || log.close());
    let wait = if cut_off {
        std::time::Duration::from_secs(1)
    } else {
        SHUTDOWN_GRACE
    };
    match tokio::time::timeout(wait, closing).await {
        Ok(joined) => joined.map_err(std::io::Error::other)?,
        Err(_) => tracing::warn!("the sequencer is still held by closed connections; exiting"),
    }
    Ok(())
}
