//! The Causeway log server.
//!
//! # Layout
//!
//! A submission's path, in order:
//!
//! 1. [`api::grpc`]: the `causeway.v1.Log` gRPC service receives
//!    `AddEntries` (within the request limits of [`api::grpc_limits`], over
//!    the connections of [`api::tls`]);
//! 2. [`pipeline::admission`]: each entry decoded once and checked against
//!    the producer policy (or opaque bytes);
//! 3. [`pipeline::rate_limit`]: per-producer token buckets;
//! 4. [`pipeline::sequencer`]: the single writer: batching, dedup, the
//!    compact range, signing, one durable commit per batch;
//! 5. [`pipeline::publisher`] with [`pipeline::witnesses`]: a head is
//!    published once a quorum of C2SP witnesses cosigned it;
//! 6. [`pipeline::anchorer`]: published checkpoints timestamped by an RFC
//!    3161 TSA.
//!
//! [`pipeline::start`] starts stages 4 to 6 together, for a single instance
//! and for every term of an elected leader alike. Around them:
//!
//! * [`head`]: the tree head, publication and published view every stage
//!   shares.
//! * [`reader`]: checkpoints, proofs and entries, bounded by what is
//!   published, read off the async workers.
//! * [`api`]: the gRPC service, the C2SP tlog-tiles HTTP API, and the one
//!   place where errors become gRPC statuses ([`api::status`]).
//! * [`storage`]: the store behind one trait: RocksDB (embedded, the
//!   default) or PostgreSQL (shared by several instances); one durable
//!   write per batch; proofs assembled from stored nodes.
//! * [`election`]: with PostgreSQL, which instance runs the pipeline (a
//!   lease with fenced commits); the others serve reads.
//! * [`keys`]: the log's origin and its two signing keys in the data
//!   directory.
//! * [`config`]: the command line ([`config::RunArgs`]) and the checked
//!   [`Config`] made from it.
//! * [`telemetry`]: logs, OpenTelemetry traces and metrics.
//!
//! [`serve`] wires them together; the `causeway-server` binary
//! (`src/bin/causeway-server/`: the config file, `--dev`, the development
//! TSA) only parses the command line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod config;
pub mod election;
pub mod head;
pub mod keys;
pub mod pipeline;
pub mod reader;
pub mod storage;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;

use causeway_api::v1::log_server::LogServer;
use causeway_tlog::note::VerifierKey;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::grpc::{Limits, LogService};
use crate::api::{grpc_limits, tiles, tls};
use crate::election::{Election, LeaderParts, Leadership};
use crate::head::TreeHead;
use crate::keys::{KeysError, LogKeys};
use crate::pipeline::rate_limit::RateLimiter;
use crate::pipeline::sequencer::StartError;
use crate::pipeline::{Parts, Pipeline};
use crate::reader::Reader;
use crate::storage::{PgStorage, RocksStorage, Storage, StorageError};

pub use crate::config::Config;

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

/// An open log: storage, the [`pipeline`] (or the election that starts
/// one per term), and read access.
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
    pub head: watch::Receiver<Arc<TreeHead>>,
    /// Stops the pipeline's publisher and anchorer (shared with [`serve`],
    /// which stops them as shutdown begins).
    stop: Arc<watch::Sender<bool>>,
    pipeline: Option<Pipeline>,
    election: Option<Election>,
}

impl OpenLog {
    /// Opens the data directory (initializing it if empty) and the store,
    /// and starts the [`pipeline`] (its publisher and anchorer need a tokio
    /// runtime when witnesses or a TSA are configured); with `config.ha`,
    /// prepares the election instead (see [`serve`]).
    ///
    /// # Errors
    /// If the configuration contradicts itself, or keys, storage or the
    /// stored tree are unusable.
    pub fn open(config: &Config) -> Result<Self, ServerError> {
        config.check().map_err(ServerError::Config)?;
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
        let parts = Parts::new(
            config.sequencer.clone(),
            &config.witnesses,
            config.publisher.clone(),
            config.anchor.clone(),
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        if let Some(ha) = &config.ha {
            let Some(pg) = postgres else {
                return Err(StartError::Inconsistent(
                    "--ha needs a shared store: --storage postgres://…".into(),
                )
                .into());
            };
            let dir = config.data_dir.clone();
            let parts = LeaderParts {
                keys: Box::new(move || LogKeys::load(&dir)),
                pipeline: parts,
            };
            let election = Election::new(pg, ha.clone(), parts)?;
            let head = election.heads();
            return Ok(OpenLog {
                reader: Reader::new(storage, election.view(), head.clone()),
                writes: election.leadership(),
                vkeys,
                origin,
                head,
                stop,
                pipeline: None,
                election: Some(election),
            });
        }
        let (pipeline, reader) = pipeline::start(storage, keys, &parts, stopped)?;
        Ok(OpenLog {
            reader,
            writes: Leadership::single(pipeline.sequencer.clone()),
            vkeys,
            origin,
            head: pipeline.heads.clone(),
            stop,
            pipeline: Some(pipeline),
            election: None,
        })
    }

    /// Stops the pipeline: the publisher and anchorer at once, the
    /// sequencer once every handle is dropped, waiting for the last batch
    /// to be durable.
    pub fn close(self) {
        let OpenLog {
            reader,
            writes,
            stop,
            pipeline,
            election,
            ..
        } = self;
        let _ = stop.send(true);
        drop(election);
        drop(writes);
        drop(reader);
        if let Some(pipeline) = pipeline {
            pipeline.close();
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
    let pipeline_stop = log.stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        // The publisher and the anchorer stop with the listeners; the
        // sequencer drains once the handlers are gone.
        let _ = pipeline_stop.send(true);
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
    let service = LogService::new(
        log.reader.clone(),
        log.writes.clone(),
        Limits {
            max_request_entries: config.max_request_entries,
            admission: config.admission.clone(),
            rate_limit: (config.producer_rate_limit > 0.0)
                .then(|| Arc::new(RateLimiter::new(config.producer_rate_limit))),
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
        max_open: config.max_connections,
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
                        tls::Guards {
                            max_open: config.max_connections,
                            ..tls::Guards::default()
                        },
                    ),
                    local,
                );
                axum::serve(listener, tiles::router(log.reader.clone()))
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
