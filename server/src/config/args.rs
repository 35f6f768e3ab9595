//! The command line of `causeway-server` (without a subcommand): every
//! flag, its environment variable and its default. The binary parses it;
//! [`crate::Config`]'s `TryFrom<RunArgs>` checks it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::pipeline::witnesses::WitnessEndpoint;

/// The options of a run: flags, environment variables, defaults.
// The field docs are clap's --help text, whose `<dev-dir>` and
// `[default: …]` rustdoc would read as HTML and links; escaping them
// would change what --help prints.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]
#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// A TOML file with any of these options (keys are the long option
    /// names, e.g. grpc-addr = "0.0.0.0:7400", witness = ["…", "…"]). Flags
    /// win over environment variables, which win over the file. Check one
    /// with `causeway-server config check FILE`.
    #[arg(long, env = "CAUSEWAY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run a complete local deployment: the log (in <dev-dir>/log) plus two
    /// causeway-witness processes with their own keys and state, quorum 2.
    /// Prints the endpoints, keys and commands to try. For trying Causeway
    /// out, not for production.
    #[arg(long, env = "CAUSEWAY_DEV")]
    pub dev: bool,
    /// Where --dev keeps the log and the witnesses.
    #[arg(long, env = "CAUSEWAY_DEV_DIR", default_value = "causeway-dev")]
    pub dev_dir: PathBuf,
    /// Directory holding the keys (keys/, origin) and the RocksDB database (db/).
    #[arg(long, env = "CAUSEWAY_DATA_DIR", default_value = "causeway-data")]
    pub data_dir: PathBuf,
    /// Origin for a new data directory; must match an existing one.
    /// [default: localhost/causeway]
    #[arg(long, env = "CAUSEWAY_ORIGIN")]
    pub origin: Option<String>,
    /// gRPC listen address. Port 0 picks a free port (printed on start).
    #[arg(long, env = "CAUSEWAY_GRPC_ADDR", default_value = "127.0.0.1:7400")]
    pub grpc_addr: SocketAddr,
    /// HTTP listen address of the C2SP tlog-tiles read API (/checkpoint,
    /// /tile/...). "off" disables it.
    #[arg(long, env = "CAUSEWAY_HTTP_ADDR", default_value = "127.0.0.1:7401")]
    pub http_addr: String,
    /// Close a batch once it holds this many entries (a request is never split).
    #[arg(long, env = "CAUSEWAY_BATCH_MAX_ENTRIES", default_value_t = 4096)]
    pub batch_max_entries: usize,
    /// Wait up to this long after a batch's first request for more (e.g. 500us, 2ms).
    /// With 0, batches still form from whatever queued while the previous batch
    /// was being written (group commit); measured fastest on loopback.
    #[arg(long, env = "CAUSEWAY_BATCH_MAX_DELAY", default_value = "0ms", value_parser = parse_duration)]
    pub batch_max_delay: Duration,
    /// Answer RESOURCE_EXHAUSTED while this many entries wait to be sequenced.
    #[arg(long, env = "CAUSEWAY_MAX_PENDING_ENTRIES", default_value_t = 200_000)]
    pub max_pending_entries: usize,
    /// Largest gRPC request, in bytes; larger ones get RESOURCE_EXHAUSTED.
    #[arg(long, env = "CAUSEWAY_MAX_REQUEST_BYTES", default_value_t = 16 << 20)]
    pub max_request_bytes: usize,
    /// Most entries per AddEntries call; more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "CAUSEWAY_MAX_REQUEST_ENTRIES", default_value_t = 10_000)]
    pub max_request_entries: usize,
    /// Memory for gRPC requests still being received, in bytes: past it,
    /// requests get RESOURCE_EXHAUSTED; one connection may hold an eighth
    /// of it (at least one --max-request-bytes request).
    #[arg(long, env = "CAUSEWAY_MAX_INFLIGHT_BYTES", default_value_t = 256 << 20)]
    pub max_inflight_bytes: usize,
    /// A gRPC request must arrive completely within this long (e.g. 30s);
    /// slower ones get DEADLINE_EXCEEDED.
    #[arg(long, env = "CAUSEWAY_REQUEST_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_body_timeout: Duration,
    /// gRPC connections open at once from one IP address (0: no limit);
    /// more are refused with an HTTP/2 GOAWAY saying why.
    #[arg(long, env = "CAUSEWAY_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_connections_per_ip: usize,
    /// Connections open at once on each listener, gRPC and HTTP (0: no
    /// limit). More wait, unanswered, until one closes; the time limits on
    /// requests and idle connections make places come free.
    #[arg(long, env = "CAUSEWAY_MAX_CONNECTIONS", value_name = "N", default_value_t = causeway_io::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Calls (HTTP/2 streams) open at once on one gRPC connection; clients
    /// queue the rest.
    #[arg(long, env = "CAUSEWAY_MAX_CONCURRENT_STREAMS", default_value_t = 100)]
    pub max_concurrent_streams: u32,
    /// Where the log is stored: "rocksdb" (embedded, in --data-dir/db) or a
    /// PostgreSQL URL, postgres://user:password@host:5432/database, which
    /// several instances can share with --ha. Schema migrations are
    /// applied at start. Keep the password out of `ps`: set it in the
    /// environment variable or the --config file.
    #[arg(
        long,
        env = "CAUSEWAY_STORAGE",
        hide_env_values = true,
        default_value = "rocksdb",
        value_name = "rocksdb|URL"
    )]
    pub storage: String,
    /// Connect to PostgreSQL over TLS only (sslmode=require), verifying the
    /// server's certificate and host name against the PEM root
    /// certificate(s) in this file. Without it the connection is plaintext:
    /// keep it on a private network or a Unix socket.
    #[arg(long, env = "CAUSEWAY_STORAGE_CA", value_name = "FILE")]
    pub storage_ca: Option<PathBuf>,
    /// Run as one of several instances sharing --storage postgres://…:
    /// the holder of a lease in the database sequences, the others serve
    /// reads (proofs, entries, tiles, checkpoints) and refuse writes with
    /// UNAVAILABLE naming the leader. Every instance needs the same keys
    /// in its --data-dir (run `init` once and copy them).
    #[arg(long, env = "CAUSEWAY_HA")]
    pub ha: bool,
    /// This instance's name in the lease. [default: <hostname>:<gRPC port>]
    #[arg(long, env = "CAUSEWAY_HA_ID", requires = "ha")]
    pub ha_id: Option<String>,
    /// How long the lease lasts without renewal (renewed every third of
    /// it): a dead leader is replaced after about this long.
    #[arg(long, env = "CAUSEWAY_HA_LEASE", default_value = "3s", value_parser = parse_duration, requires = "ha")]
    pub ha_lease: Duration,
    /// The gRPC URL standbys give writers for this instance when it leads.
    /// [default: http(s)://<the --grpc-addr it listens on>]
    #[arg(long, env = "CAUSEWAY_ADVERTISE", value_name = "URL", requires = "ha")]
    pub advertise: Option<String>,
    /// RocksDB block cache, in MiB.
    #[arg(long, env = "CAUSEWAY_CACHE_MB", default_value_t = 64)]
    pub cache_mb: usize,
    /// A C2SP witness to ask for a cosignature of every checkpoint, as
    /// VKEY@URL (the witness's cosignature/v1 vkey and its submission
    /// prefix, e.g. http://127.0.0.1:7410). Repeatable; the environment
    /// variable takes a comma-separated list.
    #[arg(
        long = "witness",
        env = "CAUSEWAY_WITNESSES",
        value_delimiter = ',',
        value_name = "VKEY@URL"
    )]
    pub witnesses: Vec<WitnessEndpoint>,
    /// How many witness cosignatures a checkpoint needs before it is
    /// published (GetCheckpoint, /checkpoint). [default: every --witness]
    #[arg(long, env = "CAUSEWAY_WITNESS_QUORUM")]
    pub witness_quorum: Option<usize>,
    /// How long one witness request may take before it counts as failed.
    #[arg(long, env = "CAUSEWAY_WITNESS_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub witness_timeout: Duration,
    /// Re-cosign an unchanged checkpoint this often, so cosignature
    /// timestamps stay fresh for clients that bound their age.
    #[arg(long, env = "CAUSEWAY_WITNESS_REFRESH", default_value = "60s", value_parser = parse_duration)]
    pub witness_refresh: Duration,
    /// What the log accepts: "records" (signed governance records checked
    /// against --policy; the default) or "opaque" (any 1 to 65,535 bytes,
    /// for logging other content).
    #[arg(long, env = "CAUSEWAY_ACCEPT", default_value = "records", value_parser = ["records", "opaque"])]
    pub accept: String,
    /// The producer policy (TOML): which keys belong to which principals
    /// and which record kinds each may sign. Required with --accept records
    /// (--dev writes one for its demo producers).
    #[arg(long, env = "CAUSEWAY_POLICY")]
    pub policy: Option<PathBuf>,
    /// Records per second each producer may submit (its client certificate
    /// with --tls-client-ca, else its signing key in records mode or its
    /// address in opaque mode), with one second of burst;
    /// more get RESOURCE_EXHAUSTED with the time to wait. 0: no limit.
    #[arg(long, env = "CAUSEWAY_PRODUCER_RATE_LIMIT", default_value_t = 0.0)]
    pub producer_rate_limit: f64,
    /// An RFC 3161 time-stamp authority to anchor published checkpoints
    /// with (HTTP POST of application/timestamp-query). Needs --tsa-roots.
    #[arg(long, env = "CAUSEWAY_TSA_URL", requires = "tsa_roots")]
    pub tsa_url: Option<String>,
    /// PEM file with the TSA's trusted root certificate(s) (or one DER
    /// certificate). Every TSA answer must chain to one of them at its
    /// genTime, or it is not stored.
    #[arg(long, env = "CAUSEWAY_TSA_ROOTS", requires = "tsa_url")]
    pub tsa_roots: Option<PathBuf>,
    /// Ask the TSA at most once per interval (always for the latest
    /// published checkpoint).
    #[arg(long, env = "CAUSEWAY_TSA_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub tsa_interval: Duration,
    /// A TSA policy OID to request and require (dotted, e.g. 1.2.3.4.1).
    #[arg(long, env = "CAUSEWAY_TSA_POLICY")]
    pub tsa_policy: Option<String>,
    /// One TSA request's time limit.
    #[arg(long, env = "CAUSEWAY_TSA_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub tsa_timeout: Duration,
    /// Serve gRPC and HTTP over TLS with this PEM certificate chain (leaf
    /// first). Reloaded with the key on SIGHUP. Needs --tls-key.
    #[arg(
        long,
        env = "CAUSEWAY_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "CAUSEWAY_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS for producers: PEM CA certificate(s) that client
    /// certificates must chain to. AddEntries then needs a client
    /// certificate (UNAUTHENTICATED without one), and rate limits count per
    /// certificate. Needs --tls-cert.
    #[arg(
        long,
        env = "CAUSEWAY_TLS_CLIENT_CA",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    pub tls_client_ca: Option<PathBuf>,
    /// With --tls-client-ca: "writes" lets anyone connect and read while
    /// only AddEntries needs a certificate; "required" refuses every gRPC
    /// connection without one at the handshake. The tile API never asks.
    #[arg(long, env = "CAUSEWAY_TLS_CLIENT_AUTH", default_value = "writes", value_parser = ["writes", "required"], requires = "tls_client_ca")]
    pub tls_client_auth: String,
    /// Log format on stderr: text or json. The filter comes from RUST_LOG (default info).
    #[arg(long, env = "CAUSEWAY_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Export OpenTelemetry traces and metrics over OTLP/gRPC to this
    /// collector (e.g. http://127.0.0.1:4317). Off when not given.
    #[arg(long, env = "CAUSEWAY_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// How often metrics are exported and queued spans are sent.
    #[arg(long, env = "CAUSEWAY_OTLP_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub otlp_interval: Duration,
    /// The fraction of submissions traced, from 0 to 1 (the decision is
    /// made at `submit` and followed by every later stage).
    #[arg(long, env = "CAUSEWAY_TRACE_RATIO", default_value_t = 1.0)]
    pub trace_ratio: f64,
}

/// Parses a duration: `250us`, `5ms`, `2s`, `1m`, anything `humantime`
/// reads (`1h 30m`), or a bare number of milliseconds.
///
/// # Errors
/// A sentence naming the text, for clap to show.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    // A bare number has always meant milliseconds here.
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("{text:?} is not a duration like 500us, 2ms or 1s"));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like 500us, 2ms or 1s: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("5ms"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        // The spelling `--witness-refresh 1m` used to be refused.
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("2x").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
