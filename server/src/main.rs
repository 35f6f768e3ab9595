//! `causeway-server`: parses the command line and runs the log.

mod config_file;
mod dev;
mod dev_tsa;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use causeway_rfc3161::TrustedRoots;
use causeway_server::keys::LogKeys;
use std::sync::Arc;

use causeway_records::ProducerPolicy;
use causeway_server::admission::Admission;
use causeway_server::telemetry::{OtlpConfig, Telemetry};
use causeway_server::tls::{ClientAuth, Protocol, TlsFiles};
use causeway_server::witnesses::WitnessEndpoint;
use causeway_server::{Config, DEFAULT_ORIGIN, OpenLog};
use clap::{Parser, Subcommand};

/// The Causeway transparency log: an append-only RFC 6962 Merkle log with
/// C2SP signed checkpoints, served over gRPC.
///
/// Without a subcommand, runs the log in --data-dir (initializing it first
/// if it is empty). Stop it with SIGTERM or Ctrl-C: it stops accepting,
/// finishes the batch in flight and exits 0.
#[derive(Parser, Debug)]
#[command(name = "causeway-server", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Creates the log's two signing keys (ECDSA P-256 and Ed25519, PKCS#8
    /// PEM, mode 0600) in --data-dir and prints their verifier keys.
    Init {
        /// The data directory to initialize.
        #[arg(long, env = "CAUSEWAY_DATA_DIR", default_value = "causeway-data")]
        data_dir: PathBuf,
        /// The log's origin: the first line of every checkpoint and the
        /// name of both keys. A scheme-less URL, e.g. example.com/log.
        #[arg(long, env = "CAUSEWAY_ORIGIN", default_value = DEFAULT_ORIGIN)]
        origin: String,
        /// Print {"origin": ..., "vkeys": [ecdsa, ed25519]} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Checks a config file without starting anything: every key is an
    /// option, every value is accepted by its option, and the files and
    /// directories it names are usable. Prints one line per problem and
    /// exits 2 if there is any.
    Check {
        /// The TOML config file.
        file: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// A TOML file with any of these options (keys are the long option
    /// names, e.g. grpc-addr = "0.0.0.0:7400", witness = ["…", "…"]). Flags
    /// win over environment variables, which win over the file. Check one
    /// with `causeway-server config check FILE`.
    #[arg(long, env = "CAUSEWAY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run a complete local deployment: the log (in <dev-dir>/log) plus two
    /// causeway-witness processes with their own keys and state, quorum 2.
    /// Prints the endpoints, keys and commands to try. For trying Causeway
    /// out, not for production.
    #[arg(long, env = "CAUSEWAY_DEV")]
    dev: bool,
    /// Where --dev keeps the log and the witnesses.
    #[arg(long, env = "CAUSEWAY_DEV_DIR", default_value = "causeway-dev")]
    dev_dir: PathBuf,
    /// Directory holding the keys (keys/, origin) and the RocksDB database (db/).
    #[arg(long, env = "CAUSEWAY_DATA_DIR", default_value = "causeway-data")]
    data_dir: PathBuf,
    /// Origin for a new data directory; must match an existing one.
    /// [default: localhost/causeway]
    #[arg(long, env = "CAUSEWAY_ORIGIN")]
    origin: Option<String>,
    /// gRPC listen address. Port 0 picks a free port (printed on start).
    #[arg(long, env = "CAUSEWAY_GRPC_ADDR", default_value = "127.0.0.1:7400")]
    grpc_addr: SocketAddr,
    /// HTTP listen address of the C2SP tlog-tiles read API (/checkpoint,
    /// /tile/...). "off" disables it.
    #[arg(long, env = "CAUSEWAY_HTTP_ADDR", default_value = "127.0.0.1:7401")]
    http_addr: String,
    /// Close a batch once it holds this many entries (a request is never split).
    #[arg(long, env = "CAUSEWAY_BATCH_MAX_ENTRIES", default_value_t = 4096)]
    batch_max_entries: usize,
    /// Wait up to this long after a batch's first request for more (e.g. 500us, 2ms).
    /// With 0, batches still form from whatever queued while the previous batch
    /// was being written (group commit); measured fastest on loopback.
    #[arg(long, env = "CAUSEWAY_BATCH_MAX_DELAY", default_value = "0ms", value_parser = parse_duration)]
    batch_max_delay: Duration,
    /// Answer RESOURCE_EXHAUSTED while this many entries wait to be sequenced.
    #[arg(long, env = "CAUSEWAY_MAX_PENDING_ENTRIES", default_value_t = 200_000)]
    max_pending_entries: usize,
    /// Largest gRPC request, in bytes; larger ones get RESOURCE_EXHAUSTED.
    #[arg(long, env = "CAUSEWAY_MAX_REQUEST_BYTES", default_value_t = 16 << 20)]
    max_request_bytes: usize,
    /// Most entries per AddEntries call; more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "CAUSEWAY_MAX_REQUEST_ENTRIES", default_value_t = 10_000)]
    max_request_entries: usize,
    /// Memory for gRPC requests still being received, in bytes: past it,
    /// requests get RESOURCE_EXHAUSTED; one connection may hold an eighth
    /// of it (at least one --max-request-bytes request).
    #[arg(long, env = "CAUSEWAY_MAX_INFLIGHT_BYTES", default_value_t = 256 << 20)]
    max_inflight_bytes: usize,
    /// A gRPC request must arrive completely within this long (e.g. 30s);
    /// slower ones get DEADLINE_EXCEEDED.
    #[arg(long, env = "CAUSEWAY_REQUEST_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    request_body_timeout: Duration,
    /// gRPC connections open at once from one IP address (0: no limit);
    /// more are refused with an HTTP/2 GOAWAY saying why.
    #[arg(long, env = "CAUSEWAY_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    max_connections_per_ip: usize,
    /// Calls (HTTP/2 streams) open at once on one gRPC connection; clients
    /// queue the rest.
    #[arg(long, env = "CAUSEWAY_MAX_CONCURRENT_STREAMS", default_value_t = 100)]
    max_concurrent_streams: u32,
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
    storage: String,
    /// Connect to PostgreSQL over TLS only (sslmode=require), verifying the
    /// server's certificate and host name against the PEM root
    /// certificate(s) in this file. Without it the connection is plaintext:
    /// keep it on a private network or a Unix socket.
    #[arg(long, env = "CAUSEWAY_STORAGE_CA", value_name = "FILE")]
    storage_ca: Option<PathBuf>,
    /// Run as one of several instances sharing --storage postgres://…:
    /// the holder of a lease in the database sequences, the others serve
    /// reads (proofs, entries, tiles, checkpoints) and refuse writes with
    /// UNAVAILABLE naming the leader. Every instance needs the same keys
    /// in its --data-dir (run `init` once and copy them).
    #[arg(long, env = "CAUSEWAY_HA")]
    ha: bool,
    /// This instance's name in the lease. [default: <hostname>:<gRPC port>]
    #[arg(long, env = "CAUSEWAY_HA_ID", requires = "ha")]
    ha_id: Option<String>,
    /// How long the lease lasts without renewal (renewed every third of
    /// it): a dead leader is replaced after about this long.
    #[arg(long, env = "CAUSEWAY_HA_LEASE", default_value = "3s", value_parser = parse_duration, requires = "ha")]
    ha_lease: Duration,
    /// The gRPC URL standbys give writers for this instance when it leads.
    /// [default: http(s)://<the --grpc-addr it listens on>]
    #[arg(long, env = "CAUSEWAY_ADVERTISE", value_name = "URL", requires = "ha")]
    advertise: Option<String>,
    /// RocksDB block cache, in MiB.
    #[arg(long, env = "CAUSEWAY_CACHE_MB", default_value_t = 64)]
    cache_mb: usize,
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
    witnesses: Vec<WitnessEndpoint>,
    /// How many witness cosignatures a checkpoint needs before it is
    /// published (GetCheckpoint, /checkpoint). [default: every --witness]
    #[arg(long, env = "CAUSEWAY_WITNESS_QUORUM")]
    witness_quorum: Option<usize>,
    /// How long one witness request may take before it counts as failed.
    #[arg(long, env = "CAUSEWAY_WITNESS_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    witness_timeout: Duration,
    /// Re-cosign an unchanged checkpoint this often, so cosignature
    /// timestamps stay fresh for clients that bound their age.
    #[arg(long, env = "CAUSEWAY_WITNESS_REFRESH", default_value = "60s", value_parser = parse_duration)]
    witness_refresh: Duration,
    /// What the log accepts: "records" (signed governance records checked
    /// against --policy; the default) or "opaque" (any 1 to 65,535 bytes,
    /// for logging other content).
    #[arg(long, env = "CAUSEWAY_ACCEPT", default_value = "records", value_parser = ["records", "opaque"])]
    accept: String,
    /// The producer policy (TOML): which keys belong to which principals
    /// and which record kinds each may sign. Required with --accept records
    /// (--dev writes one for its demo producers).
    #[arg(long, env = "CAUSEWAY_POLICY")]
    policy: Option<PathBuf>,
    /// Records per second each producer may submit (its client certificate
    /// with --tls-client-ca, else its signing key in records mode or its
    /// address in opaque mode), with one second of burst;
    /// more get RESOURCE_EXHAUSTED with the time to wait. 0: no limit.
    #[arg(long, env = "CAUSEWAY_PRODUCER_RATE_LIMIT", default_value_t = 0.0)]
    producer_rate_limit: f64,
    /// An RFC 3161 time-stamp authority to anchor published checkpoints
    /// with (HTTP POST of application/timestamp-query). Needs --tsa-roots.
    #[arg(long, env = "CAUSEWAY_TSA_URL", requires = "tsa_roots")]
    tsa_url: Option<String>,
    /// PEM file with the TSA's trusted root certificate(s) (or one DER
    /// certificate). Every TSA answer must chain to one of them at its
    /// genTime, or it is not stored.
    #[arg(long, env = "CAUSEWAY_TSA_ROOTS", requires = "tsa_url")]
    tsa_roots: Option<PathBuf>,
    /// Ask the TSA at most once per interval (always for the latest
    /// published checkpoint).
    #[arg(long, env = "CAUSEWAY_TSA_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    tsa_interval: Duration,
    /// A TSA policy OID to request and require (dotted, e.g. 1.2.3.4.1).
    #[arg(long, env = "CAUSEWAY_TSA_POLICY")]
    tsa_policy: Option<String>,
    /// One TSA request's time limit.
    #[arg(long, env = "CAUSEWAY_TSA_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    tsa_timeout: Duration,
    /// Serve gRPC and HTTP over TLS with this PEM certificate chain (leaf
    /// first). Reloaded with the key on SIGHUP. Needs --tls-key.
    #[arg(
        long,
        env = "CAUSEWAY_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "CAUSEWAY_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    tls_key: Option<PathBuf>,
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
    tls_client_ca: Option<PathBuf>,
    /// With --tls-client-ca: "writes" lets anyone connect and read while
    /// only AddEntries needs a certificate; "required" refuses every gRPC
    /// connection without one at the handshake. The tile API never asks.
    #[arg(long, env = "CAUSEWAY_TLS_CLIENT_AUTH", default_value = "writes", value_parser = ["writes", "required"], requires = "tls_client_ca")]
    tls_client_auth: String,
    /// Log format on stderr: text or json. The filter comes from RUST_LOG (default info).
    #[arg(long, env = "CAUSEWAY_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Export OpenTelemetry traces and metrics over OTLP/gRPC to this
    /// collector (e.g. http://127.0.0.1:4317). Off when not given.
    #[arg(long, env = "CAUSEWAY_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// How often metrics are exported and queued spans are sent.
    #[arg(long, env = "CAUSEWAY_OTLP_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    otlp_interval: Duration,
    /// The fraction of submissions traced, from 0 to 1 (the decision is
    /// made at `submit` and followed by every later stage).
    #[arg(long, env = "CAUSEWAY_TRACE_RATIO", default_value_t = 1.0)]
    trace_ratio: f64,
}

/// Parses `250us`, `5ms`, `2s` or a bare number of milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500us, 2ms or 1s"))?;
    match unit {
        "us" => Ok(Duration::from_micros(n)),
        "ms" | "" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        _ => Err(format!("{text:?}: unknown unit {unit:?}; use us, ms or s")),
    }
}

fn load_policy(path: &std::path::Path) -> anyhow::Result<ProducerPolicy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--policy {}: cannot read it", path.display()))?;
    ProducerPolicy::parse(&text).with_context(|| format!("--policy {}", path.display()))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
}

/// Exits with code 2 (a configuration problem), one line per problem.
fn config_failure(problems: &[String]) -> ! {
    for p in problems {
        eprintln!("error: {p}");
    }
    std::process::exit(2)
}

/// The command line, with the options of `--config FILE` put before it.
fn arguments() -> Vec<std::ffi::OsString> {
    use clap::CommandFactory as _;
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.is_empty() {
        argv.push("causeway-server".into());
    }
    let rest = argv.split_off(1);
    let subcommand = rest.first().is_some_and(|a| a == "init" || a == "config");
    if !subcommand && let Some(path) = config_file::requested(&rest) {
        match config_file::arguments(std::path::Path::new(&path), &Cli::command(), &rest) {
            Ok(extra) => argv.extend(extra),
            Err(e) => config_failure(&[e.to_string()]),
        }
    }
    argv.extend(rest);
    argv
}

/// What the options' files hold, read once before anything starts.
struct Files {
    /// The producer policy of `--policy`.
    policy: Option<ProducerPolicy>,
    /// The TSA roots of `--tsa-roots`.
    tsa_roots: Option<TrustedRoots>,
    /// The TLS files, checked to load.
    tls: Option<TlsFiles>,
    /// TLS to PostgreSQL (`--storage-ca`).
    storage_tls: Option<rustls::ClientConfig>,
}

/// Reads and checks the files and directories the options name; returns
/// one line per problem.
fn load_files(args: &RunArgs) -> Result<Files, Vec<String>> {
    let mut problems = Vec::new();
    if !args.dev {
        let d = &args.data_dir;
        if d.exists() && !d.is_dir() {
            problems.push(format!("--data-dir {}: not a directory", d.display()));
        } else if d.is_dir()
            && let Err(e) = std::fs::read_dir(d)
        {
            problems.push(format!("--data-dir {}: cannot read it: {e}", d.display()));
        }
    }
    let mut line = |e: anyhow::Error| problems.push(format!("{e:#}"));
    let policy = args
        .policy
        .as_deref()
        .map(load_policy)
        .transpose()
        .unwrap_or_else(|e| {
            line(e);
            None
        });
    let tsa_roots = args
        .tsa_roots
        .as_deref()
        .map(load_roots)
        .transpose()
        .unwrap_or_else(|e| {
            line(e);
            None
        });
    if let Some(p) = &args.tsa_policy
        && let Err(e) = causeway_rfc3161::validate_policy(p)
    {
        problems.push(format!("--tsa-policy: {e}"));
    }
    let postgres =
        args.storage.starts_with("postgres://") || args.storage.starts_with("postgresql://");
    if args.storage != "rocksdb" && !postgres {
        problems.push(format!(
            "--storage {:?}: use rocksdb or a PostgreSQL URL like postgres://user:password@127.0.0.1:5432/causeway",
            args.storage
        ));
    }
    let storage_tls = match &args.storage_ca {
        Some(_) if !postgres => {
            problems.push("--storage-ca applies to --storage postgres://…".into());
            None
        }
        Some(ca) => match causeway_server::tls::client_config("--storage-ca", ca) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        },
        None => None,
    };
    if args.ha && args.storage == "rocksdb" {
        problems.push("--ha needs a store the instances share: --storage postgres://…".into());
    }
    if args.ha && args.dev {
        problems.push("--dev runs one instance; drop --ha".into());
    }
    if args.ha && args.ha_lease < Duration::from_millis(300) {
        problems.push(format!(
            "--ha-lease {:?}: at least 300ms (it is renewed every third of it)",
            args.ha_lease
        ));
    }
    if !(0.0..=1.0).contains(&args.trace_ratio) {
        problems.push(format!(
            "--trace-ratio {}: must be between 0 and 1",
            args.trace_ratio
        ));
    }
    if let Some(url) = &args.otlp_endpoint
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        problems.push(format!(
            "--otlp-endpoint {url:?}: must be an http:// or https:// URL of an OTLP/gRPC collector, e.g. http://127.0.0.1:4317"
        ));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let files = TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
                client_auth: if args.tls_client_auth == "required" {
                    ClientAuth::Required
                } else {
                    ClientAuth::Writes
                },
            };
            match causeway_server::tls::server_config(&files, Protocol::Grpc) {
                Ok(_) => Some(files),
                Err(e) => {
                    problems.push(e.to_string());
                    None
                }
            }
        }
        _ => None,
    };
    if problems.is_empty() {
        Ok(Files {
            policy,
            tsa_roots,
            tls,
            storage_tls,
        })
    } else {
        Err(problems)
    }
}

fn load_roots(path: &std::path::Path) -> anyhow::Result<TrustedRoots> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("--tsa-roots {}: cannot read it", path.display()))?;
    TrustedRoots::from_pem_or_der(&bytes).with_context(|| format!("--tsa-roots {}", path.display()))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse_from(arguments());
    match cli.command {
        Some(Command::Config(ConfigCommand::Check { file })) => {
            use clap::CommandFactory as _;
            let extra = config_file::arguments(&file, &Cli::command(), &[])
                .unwrap_or_else(|e| config_failure(&[e.to_string()]));
            let cli = Cli::try_parse_from(std::iter::once("causeway-server".into()).chain(extra))
                .unwrap_or_else(|e| {
                    let first = e.to_string().lines().next().unwrap_or_default().to_owned();
                    config_failure(&[format!(
                        "config {}: {}",
                        file.display(),
                        first.trim_start_matches("error: ")
                    )])
                });
            if let Err(problems) = load_files(&cli.run) {
                config_failure(&problems);
            }
            println!("config {}: ok", file.display());
            Ok(())
        }
        Some(Command::Init {
            data_dir,
            origin,
            json,
        }) => {
            let keys = LogKeys::create(&data_dir, &origin)
                .with_context(|| format!("initializing {}", data_dir.display()))?;
            let vkeys = keys.vkeys().map(|k| k.to_string());
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "origin": origin, "vkeys": vkeys })
                );
            } else {
                println!("initialized {} for origin {origin}", data_dir.display());
                println!("verifier keys (give both to clients with --vkey):");
                for v in vkeys {
                    println!("  {v}");
                }
            }
            Ok(())
        }
        None => start(cli.run),
    }
}

fn start(args: RunArgs) -> anyhow::Result<()> {
    let mut files = load_files(&args).unwrap_or_else(|problems| config_failure(&problems));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let otlp = args.otlp_endpoint.clone().map(|endpoint| OtlpConfig {
        endpoint,
        interval: args.otlp_interval,
        trace_ratio: args.trace_ratio,
    });
    // The OTLP client is tonic: it needs the runtime.
    let telemetry = {
        let _guard = runtime.enter();
        Telemetry::init(&args.log_format, otlp.as_ref())
            .unwrap_or_else(|e| config_failure(&[e.to_string()]))
    };
    let result = run(args, &mut files, &runtime);
    runtime
        .block_on(async move { tokio::task::spawn_blocking(move || telemetry.shutdown()).await })?;
    result
}

fn run(args: RunArgs, files: &mut Files, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let mut config = Config::new(args.data_dir);
    config.origin = args.origin;
    config.sequencer.max_batch_entries = args.batch_max_entries.max(1);
    config.sequencer.max_batch_delay = args.batch_max_delay;
    config.sequencer.max_pending_entries = args.max_pending_entries.max(1);
    config.max_request_bytes = args.max_request_bytes;
    config.max_request_entries = args.max_request_entries.max(1);
    // A 5-byte gRPC prefix precedes every message.
    if args.max_inflight_bytes < args.max_request_bytes.saturating_add(5) {
        config_failure(&[format!(
            "--max-inflight-bytes {}: smaller than one request of --max-request-bytes {} \
             (plus 5 bytes of gRPC framing), which could then never be received; raise it or \
             lower --max-request-bytes",
            args.max_inflight_bytes, args.max_request_bytes
        )]);
    }
    if args.request_body_timeout.is_zero() {
        config_failure(&[
            "--request-body-timeout 0s: no request could arrive; give a duration such as 30s"
                .to_owned(),
        ]);
    }
    config.max_inflight_bytes = args.max_inflight_bytes;
    config.request_body_timeout = args.request_body_timeout;
    config.max_connections_per_ip = args.max_connections_per_ip;
    config.max_concurrent_streams = args.max_concurrent_streams.max(1);
    config.storage.block_cache_bytes = args.cache_mb << 20;
    // Checked in load_files: "rocksdb" or a postgres:// URL.
    config.postgres = (args.storage != "rocksdb").then(|| args.storage.clone());
    config.postgres_tls = files.storage_tls.take();
    if !(args.producer_rate_limit >= 0.0 && args.producer_rate_limit.is_finite()) {
        config_failure(&[format!(
            "--producer-rate-limit {}: must be a number of records per second, 0 for no limit",
            args.producer_rate_limit
        )]);
    }
    config.producer_rate_limit = args.producer_rate_limit;
    config.tls = files.tls.take();
    let mut witness_endpoints = args.witnesses;
    let dev = if args.dev {
        if !witness_endpoints.is_empty() {
            anyhow::bail!("--dev starts its own two witnesses; drop the --witness flags");
        }
        let (log_dir, witnesses) = dev::start(&args.dev_dir, config.origin.as_deref())?;
        config.data_dir = log_dir;
        witness_endpoints = dev::endpoints(&witnesses)?;
        Some(witnesses)
    } else {
        None
    };
    config.admission = match (args.accept.as_str(), files.policy.take(), &dev) {
        ("opaque", None, _) => Admission::Opaque,
        ("opaque", Some(_), _) => {
            anyhow::bail!("--policy applies to --accept records; drop one of them")
        }
        (_, Some(policy), _) => Admission::Records(Arc::new(policy)),
        (_, None, Some(_)) => Admission::Records(Arc::new(load_policy(&dev::producers_policy(
            &args.dev_dir,
        )?)?)),
        (_, None, None) => anyhow::bail!(
            "the log accepts signed governance records by default and needs the producer policy: --policy FILE (see the README's \"Producer policy\"), or --accept opaque to log arbitrary bytes"
        ),
    };
    let witnesses = witness_endpoints.len();
    let quorum = args.witness_quorum.unwrap_or(witnesses);
    if witnesses > 0 && !(1..=witnesses).contains(&quorum) {
        anyhow::bail!(
            "--witness-quorum {quorum} must be between 1 and the number of --witness flags ({witnesses})"
        );
    }
    if witnesses == 0 && args.witness_quorum.is_some_and(|q| q > 0) {
        anyhow::bail!("--witness-quorum needs at least that many --witness VKEY@URL flags");
    }
    config.witnesses = witness_endpoints;
    config.publisher.quorum = quorum;
    config.publisher.timeout = args.witness_timeout;
    config.publisher.refresh = args.witness_refresh.max(Duration::from_secs(1));
    if let (Some(url), Some(trusted)) = (args.tsa_url, files.tsa_roots.take()) {
        config.anchor = Some(causeway_server::anchorer::AnchorConfig {
            url,
            roots: std::sync::Arc::new(trusted),
            interval: args.tsa_interval,
            policy: args.tsa_policy,
            timeout: args.tsa_timeout,
        });
    }

    // --dev anchors with a development TSA when openssl is available (and
    // no real TSA was given).
    let mut dev_tsa_listener = None;
    let mut dev_tsa_info = None;
    if dev.is_some() && config.anchor.is_none() {
        if dev_tsa::available() {
            let dir = args.dev_dir.join("tsa");
            let roots = dev_tsa::prepare(&dir).context("preparing the development TSA")?;
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            let url = format!("http://{}/", listener.local_addr()?);
            let trusted = load_roots(&roots)?;
            config.anchor = Some(causeway_server::anchorer::AnchorConfig {
                url: url.clone(),
                roots: Arc::new(trusted),
                interval: Duration::from_secs(5),
                policy: None,
                timeout: Duration::from_secs(10),
            });
            dev_tsa_listener = Some((dir, listener));
            dev_tsa_info = Some((url, roots));
        } else {
            eprintln!(
                "note: no openssl on this machine, so --dev runs without a TSA (no RFC 3161 anchors)"
            );
        }
    }

    let dev_ref = dev.as_ref();
    let dev_dir = args.dev_dir;
    let (ha, ha_id, ha_lease, advertise) = (args.ha, args.ha_id, args.ha_lease, args.advertise);
    let result = runtime.block_on(async move {
        let mut config = config;
        if let Some((dir, listener)) = dev_tsa_listener {
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tokio::spawn(dev_tsa::serve(dir, listener));
        }
        let grpc = tokio::net::TcpListener::bind(args.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC to {}; is another server running? pick another --grpc-addr", args.grpc_addr))?;
        let http = match args.http_addr.as_str() {
            "off" => None,
            addr => {
                let addr: SocketAddr = addr
                    .parse()
                    .with_context(|| format!("--http-addr {addr:?} is not host:port or \"off\""))?;
                Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
                    format!("binding HTTP to {addr}; is another server running? pick another --http-addr")
                })?)
            }
        };
        if ha {
            let grpc_addr = grpc.local_addr()?;
            let scheme = if config.tls.is_some() { "https" } else { "http" };
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "localhost".into());
            config.ha = Some(causeway_server::election::HaConfig {
                id: ha_id.unwrap_or_else(|| format!("{host}:{}", grpc_addr.port())),
                advertise: advertise.unwrap_or_else(|| format!("{scheme}://{grpc_addr}")),
                lease: ha_lease,
            });
        }
        let log = OpenLog::open(&config).with_context(|| match &config.postgres {
            Some(_) => format!(
                "opening the log (keys in {}, PostgreSQL storage)",
                config.data_dir.display()
            ),
            None => format!("opening the log in {}", config.data_dir.display()),
        })?;
        let http_addr = match &http {
            Some(l) => l.local_addr()?.to_string(),
            None => "off".into(),
        };
        let head_size = log.head.borrow().size;
        // Machine-readable lines on stdout, "ready" last: scripts and tests
        // wait for it. A closed stdout must not take the server down.
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            if let Some(witnesses) = dev_ref {
                let vkeys: Vec<String> = log.vkeys.iter().map(ToString::to_string).collect();
                let banner = dev::banner(
                    &dev_dir,
                    &grpc.local_addr()?.to_string(),
                    &http_addr,
                    &vkeys,
                    witnesses,
                    dev_tsa_info.as_ref().map(|(u, r)| (u.as_str(), r.as_path())),
                );
                let _ = writeln!(out, "{banner}");
            }
            for v in &log.vkeys {
                let _ = writeln!(out, "vkey {v}");
            }
            let _ = writeln!(
                out,
                "causeway-server ready grpc={} http={http_addr} origin={} size={} tls={} storage={} role={}",
                grpc.local_addr()?,
                log.origin,
                head_size,
                if config.tls.is_some() { "on" } else { "off" },
                if config.postgres.is_some() { "postgres" } else { "rocksdb" },
                if config.ha.is_none() { "single" } else { "standby" },
            );
            let _ = out.flush();
        }
        tracing::info!(grpc = %grpc.local_addr()?, origin = %log.origin, size = head_size, witnesses, quorum, "serving");
        causeway_server::serve(log, &config, grpc, http, shutdown_signal()).await?;
        tracing::info!("stopped cleanly");
        Ok(())
    });
    // The dev witnesses stop after the log (dropping them sends SIGTERM).
    drop(dev);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("5ms"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
