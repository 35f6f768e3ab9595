//! What a log runs with: [`Config`], checked when it is made from the
//! command line ([`RunArgs`]) and again when a log opens it.
//!
//! * [`args`]: the flags, their environment variables and defaults.
//! * `files`: the files the flags name, read once.
//! * `TryFrom<RunArgs> for Config`: every check `causeway-server` makes
//!   before it starts, so a `Config` made from the command line is valid.

pub mod args;
mod files;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use args::{RunArgs, parse_duration};

use crate::api::tls::TlsFiles;
use crate::election::HaConfig;
use crate::pipeline::admission::Admission;
use crate::pipeline::anchorer::AnchorConfig;
use crate::pipeline::publisher::PublisherConfig;
use crate::pipeline::sequencer::SequencerConfig;
use crate::pipeline::witnesses::WitnessEndpoint;
use crate::storage::StorageOptions;

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
    /// [`crate::api::grpc_limits::BodyBudget::connection_share`] of it.
    pub max_inflight_bytes: usize,
    /// How long a gRPC request body may take to arrive completely.
    pub request_body_timeout: std::time::Duration,
    /// gRPC connections open at once per client IP address (0: no limit).
    pub max_connections_per_ip: usize,
    /// Connections open at once on each listener, gRPC and HTTP (0: no
    /// limit); more wait in the listen backlog until one closes.
    pub max_connections: usize,
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
    pub tls: Option<TlsFiles>,
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
            max_connections: causeway_io::DEFAULT_MAX_CONNECTIONS,
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

    /// Checks what the fields cannot say by their types; a [`Config`] made
    /// with `TryFrom<RunArgs>` always passes, one assembled by hand is
    /// checked again by [`crate::OpenLog::open`].
    ///
    /// # Errors
    /// The first contradiction, as a sentence.
    pub fn check(&self) -> Result<(), String> {
        // With witnesses, a quorum of 0 would publish checkpoints nobody
        // cosigned; more than there are would publish nothing.
        let (witnesses, quorum) = (self.witnesses.len(), self.publisher.quorum);
        if witnesses > 0 && !(1..=witnesses).contains(&quorum) {
            return Err(format!(
                "witness quorum {quorum} must be between 1 and the number of witnesses \
                 ({witnesses}); set PublisherConfig::quorum (--witness-quorum)"
            ));
        }
        Ok(())
    }
}

/// Why the command line cannot make a [`Config`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Options or the files they name are unusable: one line per problem
    /// (`causeway-server` prints each after `error: ` and exits 2).
    #[error("{}", .0.join("; "))]
    Problems(Vec<String>),
    /// Options that contradict each other (`causeway-server` reports it as
    /// a failure to start, exit 1, as it always has).
    #[error("{0}")]
    Contradiction(String),
}

impl RunArgs {
    /// Reads and checks the files and directories the options name, and
    /// the options best reported with them (what `config check` checks).
    ///
    /// # Errors
    /// [`ConfigError::Problems`], one line per problem.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        files::load(self).map(drop).map_err(ConfigError::Problems)
    }
}

impl TryFrom<RunArgs> for Config {
    type Error = ConfigError;

    /// Every check of the command line, in the order `causeway-server`
    /// has always reported them. What depends on the bound listener (the
    /// `--ha` identity and address) is left to the binary: `ha` is `None`.
    fn try_from(args: RunArgs) -> Result<Self, ConfigError> {
        let mut files = files::load(&args).map_err(ConfigError::Problems)?;
        let problem = |p: String| Err(ConfigError::Problems(vec![p]));
        let mut config = Config::new(args.data_dir);
        config.origin = args.origin;
        config.sequencer.max_batch_entries = args.batch_max_entries.max(1);
        config.sequencer.max_batch_delay = args.batch_max_delay;
        config.sequencer.max_pending_entries = args.max_pending_entries.max(1);
        config.max_request_bytes = args.max_request_bytes;
        config.max_request_entries = args.max_request_entries.max(1);
        // A 5-byte gRPC prefix precedes every message.
        if args.max_inflight_bytes < args.max_request_bytes.saturating_add(5) {
            return problem(format!(
                "--max-inflight-bytes {}: smaller than one request of --max-request-bytes {} \
                 (plus 5 bytes of gRPC framing), which could then never be received; raise it or \
                 lower --max-request-bytes",
                args.max_inflight_bytes, args.max_request_bytes
            ));
        }
        if args.request_body_timeout.is_zero() {
            return problem(
                "--request-body-timeout 0s: no request could arrive; give a duration such as 30s"
                    .to_owned(),
            );
        }
        config.max_inflight_bytes = args.max_inflight_bytes;
        config.request_body_timeout = args.request_body_timeout;
        config.max_connections_per_ip = args.max_connections_per_ip;
        config.max_connections = args.max_connections;
        config.max_concurrent_streams = args.max_concurrent_streams.max(1);
        config.storage.block_cache_bytes = args.cache_mb << 20;
        // Checked with the files: "rocksdb" or a postgres:// URL.
        config.postgres = (args.storage != "rocksdb").then(|| args.storage.clone());
        config.postgres_tls = files.storage_tls.take();
        if !(args.producer_rate_limit >= 0.0 && args.producer_rate_limit.is_finite()) {
            return problem(format!(
                "--producer-rate-limit {}: must be a number of records per second, 0 for no limit",
                args.producer_rate_limit
            ));
        }
        config.producer_rate_limit = args.producer_rate_limit;
        config.tls = files.tls.take();
        config.admission = match (args.accept.as_str(), files.policy.take()) {
            ("opaque", None) => Admission::Opaque,
            ("opaque", Some(_)) => {
                return Err(ConfigError::Contradiction(
                    "--policy applies to --accept records; drop one of them".into(),
                ));
            }
            (_, Some(policy)) => Admission::Records(Arc::new(policy)),
            (_, None) => {
                return Err(ConfigError::Contradiction(
                    "the log accepts signed governance records by default and needs the producer policy: --policy FILE (see the README's \"Producer policy\"), or --accept opaque to log arbitrary bytes".into(),
                ));
            }
        };
        let witnesses = args.witnesses.len();
        let quorum = args.witness_quorum.unwrap_or(witnesses);
        if witnesses > 0 && !(1..=witnesses).contains(&quorum) {
            return Err(ConfigError::Contradiction(format!(
                "--witness-quorum {quorum} must be between 1 and the number of --witness flags ({witnesses})"
            )));
        }
        if witnesses == 0 && args.witness_quorum.is_some_and(|q| q > 0) {
            return Err(ConfigError::Contradiction(
                "--witness-quorum needs at least that many --witness VKEY@URL flags".into(),
            ));
        }
        config.witnesses = args.witnesses;
        config.publisher.quorum = quorum;
        config.publisher.timeout = args.witness_timeout;
        config.publisher.refresh = args.witness_refresh.max(Duration::from_secs(1));
        if let (Some(url), Some(trusted)) = (args.tsa_url, files.tsa_roots.take()) {
            config.anchor = Some(AnchorConfig {
                url,
                roots: Arc::new(trusted),
                interval: args.tsa_interval,
                policy: args.tsa_policy,
                timeout: args.tsa_timeout,
            });
        }
        debug_assert!(config.check().is_ok());
        Ok(config)
    }
}
