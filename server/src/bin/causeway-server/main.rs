//! `causeway-server`: parses the command line and runs the log. Everything
//! it checks lives in the library (`TryFrom<RunArgs> for Config`); the
//! binary keeps what only a process does: the config file, `--dev` and its
//! development TSA, the listeners, signals and the lines it prints.

mod config_file;
mod dev;
mod dev_issuer;
mod dev_tsa;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use causeway_server::config::{ConfigError, RunArgs};
use causeway_server::keys::LogKeys;
use causeway_server::telemetry::{OtlpConfig, Telemetry};
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
            if let Err(e) = cli.run.check_files() {
                refuse(e)?;
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
    // Everything is checked before anything starts; --dev first starts its
    // witnesses, which the options then name.
    let config = if args.dev {
        if let Err(e) = args.check_files() {
            refuse(e)?;
        }
        None
    } else {
        Some(checked(args.clone())?)
    };
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
    let result = run(args, config, &runtime);
    runtime
        .block_on(async move { tokio::task::spawn_blocking(move || telemetry.shutdown()).await })?;
    result
}

/// The [`Config`] of `args`, or the process's answer to why not: exit 2
/// with one line per problem, or a start failure.
fn checked(args: RunArgs) -> anyhow::Result<Config> {
    Config::try_from(args).or_else(|e| refuse(e).map(|never| match never {}))
}

/// Reports a [`ConfigError`] as `causeway-server` always has: problems
/// exit 2 at once, contradictions are returned as a start failure.
fn refuse(e: ConfigError) -> anyhow::Result<std::convert::Infallible> {
    match e {
        ConfigError::Problems(problems) => config_failure(&problems),
        ConfigError::Contradiction(message) => Err(anyhow::anyhow!(message)),
    }
}

/// The development TSA of `--dev`: where it keeps its keys, its listener,
/// and what the banner shows.
struct DevTsa {
    dir: PathBuf,
    listener: std::net::TcpListener,
    url: String,
    roots: PathBuf,
}

/// `--dev`: starts the two witnesses (and a development TSA when openssl
/// is there and no real TSA was given) and points `args` at them.
fn start_dev(args: &mut RunArgs) -> anyhow::Result<(dev::DevWitnesses, Option<DevTsa>)> {
    if !args.witnesses.is_empty() {
        anyhow::bail!("--dev starts its own two witnesses; drop the --witness flags");
    }
    let (log_dir, witnesses) = dev::start(&args.dev_dir, args.origin.as_deref())?;
    args.data_dir = log_dir;
    args.witnesses = dev::endpoints(&witnesses)?;
    if args.accept != "opaque" && args.policy.is_none() {
        args.policy = Some(dev::producers_policy(&args.dev_dir)?);
    }
    let mut tsa = None;
    if args.tsa_url.is_none() {
        if dev_tsa::available() {
            let dir = args.dev_dir.join("tsa");
            let roots = dev_tsa::prepare(&dir).context("preparing the development TSA")?;
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            let url = format!("http://{}/", listener.local_addr()?);
            args.tsa_url = Some(url.clone());
            args.tsa_roots = Some(roots.clone());
            args.tsa_interval = Duration::from_secs(5);
            args.tsa_policy = None;
            args.tsa_timeout = Duration::from_secs(10);
            tsa = Some(DevTsa {
                dir,
                listener,
                url,
                roots,
            });
        } else {
            eprintln!(
                "note: no openssl on this machine, so --dev runs without a TSA (no RFC 3161 anchors)"
            );
        }
    }
    Ok((witnesses, tsa))
}

fn run(
    mut args: RunArgs,
    config: Option<Config>,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let (dev, dev_tsa) = if args.dev {
        let (witnesses, tsa) = start_dev(&mut args)?;
        (Some(witnesses), tsa)
    } else {
        (None, None)
    };
    let config = match config {
        Some(config) => config,
        None => checked(args.clone())?,
    };
    let (witnesses, quorum) = (config.witnesses.len(), config.publisher.quorum);
    let dev_ref = dev.as_ref();
    let dev_dir = args.dev_dir;
    let (ha, ha_id, ha_lease, advertise) = (args.ha, args.ha_id, args.ha_lease, args.advertise);
    let dev_tsa_info = dev_tsa.as_ref().map(|t| (t.url.clone(), t.roots.clone()));
    let result = runtime.block_on(async move {
        let mut config = config;
        // Lives as long as the log: dropping it stops the issuer.
        let dev_issuer: Option<dev_issuer::DevIssuer>;
        if let Some(DevTsa { dir, listener, .. }) = dev_tsa {
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
                // The issuer reaches the log only when asked for a
                // credential, by which time the log serves.
                let log_url = format!("http://{}", grpc.local_addr()?);
                dev_issuer = match dev_issuer::start(&dev_dir, &log_url, &vkeys) {
                    Ok(issuer) => Some(issuer),
                    Err(e) => {
                        eprintln!("note: --dev runs without a development issuer: {e:#}");
                        None
                    }
                };
                let banner = dev::banner(
                    &dev_dir,
                    &grpc.local_addr()?.to_string(),
                    &http_addr,
                    &vkeys,
                    witnesses,
                    dev_tsa_info.as_ref().map(|(u, r)| (u.as_str(), r.as_path())),
                    dev_issuer.as_ref(),
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
        causeway_server::serve(log, &config, grpc, http, causeway_io::shutdown::signal()).await?;
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
    fn cli_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
