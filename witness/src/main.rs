//! `causeway-witness`: parses the command line and runs the witness.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use causeway_io::DEFAULT_MAX_CONNECTIONS;
use causeway_witness::evidence::{
    DEFAULT_INCONCLUSIVE_INTERVAL_SECS, DEFAULT_MAX_EVIDENCE_BYTES_PER_LOG,
};
use causeway_witness::keys::{self, KeysError};
use causeway_witness::{DEFAULT_ADDR, DEFAULT_NAME, DataDir, EvidenceLimits, TrustedLogs, Witness};
use clap::{Parser, Subcommand};

/// A C2SP tlog-witness (https://c2sp.org/tlog-witness).
///
/// Logs POST their signed checkpoints with a consistency proof to
/// /add-checkpoint; the witness cosigns a checkpoint only if a trusted key
/// of its log signed it and it extends the last checkpoint the witness
/// cosigned for that log. Conflicting signed checkpoints are kept as
/// evidence in <data-dir>/evidence/, within --max-evidence-bytes-per-log.
///
/// Without a subcommand, runs the witness (like `run`), creating its key
/// in --data-dir first if there is none. Stop it with SIGTERM or Ctrl-C:
/// it finishes the requests in flight and exits 0.
#[derive(Parser, Debug)]
#[command(
    name = "causeway-witness",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the witness (the default).
    Run(RunArgs),
    /// Creates the witness's cosigning key (Ed25519, PKCS#8 PEM, mode 0600)
    /// in --data-dir and prints its verifier key. Refuses, with exit code 2,
    /// if the directory already holds a key.
    Init {
        /// The data directory to initialize.
        #[arg(
            long,
            env = "CAUSEWAY_WITNESS_DATA_DIR",
            default_value = "causeway-witness-data"
        )]
        data_dir: PathBuf,
        /// The witness's key name, which appears in every cosignature line,
        /// e.g. example.com/witness.
        #[arg(long, env = "CAUSEWAY_WITNESS_NAME", default_value = DEFAULT_NAME)]
        name: String,
        /// Print {"name": ..., "vkey": ...} as JSON.
        #[arg(long, env = "CAUSEWAY_WITNESS_JSON")]
        json: bool,
    },
    /// Lists the split-view evidence stored in --data-dir.
    Evidence {
        /// The witness's data directory.
        #[arg(
            long,
            env = "CAUSEWAY_WITNESS_DATA_DIR",
            default_value = "causeway-witness-data"
        )]
        data_dir: PathBuf,
        /// Print the records as a JSON array.
        #[arg(long, env = "CAUSEWAY_WITNESS_JSON")]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Directory holding the key (witness.pem, witness.json), the latest
    /// cosigned checkpoint per log (logs/) and evidence (evidence/).
    #[arg(
        long,
        env = "CAUSEWAY_WITNESS_DATA_DIR",
        default_value = "causeway-witness-data"
    )]
    data_dir: PathBuf,
    /// Name for a new witness key; must match an existing one.
    /// [default: localhost/causeway-witness]
    #[arg(long, env = "CAUSEWAY_WITNESS_NAME")]
    name: Option<String>,
    /// HTTP listen address. Port 0 picks a free port (printed on start).
    #[arg(long, env = "CAUSEWAY_WITNESS_ADDR", default_value = DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Verifier key of a trusted log, <name>+<hex id>+<base64>. The key's
    /// name is the log's origin; repeat --log for more logs, or for more
    /// keys of one log (e.g. its ECDSA and Ed25519 keys). In the
    /// environment variable, separate keys with commas.
    #[arg(
        long = "log",
        value_name = "VKEY",
        env = "CAUSEWAY_WITNESS_LOG",
        value_delimiter = ',',
        required = true
    )]
    logs: Vec<String>,
    /// Log format on stderr: text or json. The filter comes from RUST_LOG
    /// (default info; debug shows every cosigned checkpoint).
    #[arg(long, env = "CAUSEWAY_WITNESS_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// The most bytes of evidence records kept per trusted log (default 16
    /// MiB). Past it, new evidence for that log is not written (a notice is
    /// logged at most once a minute) and requests are answered as always.
    /// Inconclusive records (failed consistency proofs) may fill half of it,
    /// so they cannot crowd out proof of a fork. Records already on disk
    /// count.
    #[arg(
        long,
        env = "CAUSEWAY_WITNESS_MAX_EVIDENCE_BYTES_PER_LOG",
        value_name = "BYTES",
        default_value_t = DEFAULT_MAX_EVIDENCE_BYTES_PER_LOG
    )]
    max_evidence_bytes_per_log: u64,
    /// Store at most one inconclusive record (a checkpoint signed by the log
    /// sent with a consistency proof that does not verify, which anybody
    /// can send) per log in this many seconds. Proof of a fork (two signed
    /// trees of one size) is never rate-limited.
    #[arg(
        long,
        env = "CAUSEWAY_WITNESS_INCONCLUSIVE_EVIDENCE_INTERVAL_SECS",
        value_name = "SECS",
        default_value_t = DEFAULT_INCONCLUSIVE_INTERVAL_SECS
    )]
    inconclusive_evidence_interval_secs: u64,
    /// Connections open at once (0: no limit). More wait, unanswered,
    /// until one closes; each connection's request must arrive within 30 s
    /// and an idle one is closed after 2 minutes, so places come free.
    #[arg(
        long,
        env = "CAUSEWAY_WITNESS_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = DEFAULT_MAX_CONNECTIONS
    )]
    max_connections: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Init {
            data_dir,
            name,
            json,
        }) => init(&data_dir, &name, json),
        Some(Command::Evidence { data_dir, json }) => evidence(&data_dir, json),
        Some(Command::Run(args)) => run(args),
        None => run(cli.run),
    }
}

fn init(data_dir: &std::path::Path, name: &str, json: bool) -> anyhow::Result<()> {
    let signer = match keys::create(data_dir, name) {
        Ok(s) => s,
        Err(e @ KeysError::AlreadyInitialized(_)) => {
            eprintln!("causeway-witness init: {e}");
            std::process::exit(2);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("initializing {}", data_dir.display()));
        }
    };
    let vkey = signer.verifier().to_string();
    if json {
        println!("{}", serde_json::json!({ "name": name, "vkey": vkey }));
    } else {
        println!("{vkey}");
        println!(
            "# initialized witness {name} in {}; give the line above to logs and monitors, then run:",
            data_dir.display()
        );
        println!(
            "#   causeway-witness run --data-dir {} --log <log vkey> [--log <log vkey>]...",
            data_dir.display()
        );
    }
    Ok(())
}

fn evidence(data_dir: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let records = DataDir::new(data_dir)
        .list_evidence()
        .with_context(|| format!("reading evidence in {}", data_dir.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&records)?)?;
        return Ok(());
    }
    if records.is_empty() {
        writeln!(out, "no split-view evidence in {}", data_dir.display())?;
        return Ok(());
    }
    for r in &records {
        writeln!(
            out,
            "evidence {} ({}) for {} detected at {}, old size {}:",
            r.id, r.kind, r.origin, r.detected_at, r.old_size
        )?;
        writeln!(out, "  cosigned by this witness:")?;
        for line in r.cosigned.lines() {
            writeln!(out, "    {line}")?;
        }
        writeln!(out, "  presented by the log:")?;
        for line in r.presented.lines() {
            writeln!(out, "    {line}")?;
        }
        if !r.proof.is_empty() {
            writeln!(out, "  proof:")?;
            for line in &r.proof {
                writeln!(out, "    {line}")?;
            }
        }
    }
    Ok(())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    // Checked by clap's value_parser: text or json.
    causeway_io::logging::init_stderr(args.log_format.parse().unwrap_or_default());
    let logs = TrustedLogs::parse(&args.logs).context("checking --log")?;
    let (signer, created) =
        keys::load_or_create(&args.data_dir, args.name.as_deref(), DEFAULT_NAME)
            .with_context(|| format!("loading the witness key in {}", args.data_dir.display()))?;
    if created {
        tracing::info!(dir = %args.data_dir.display(), name = %signer.name(), "created a new witness key");
    }
    let limits = EvidenceLimits {
        max_bytes_per_log: args.max_evidence_bytes_per_log,
        inconclusive_interval_secs: args.inconclusive_evidence_interval_secs,
    };
    let witness = Witness::open_with(DataDir::new(&args.data_dir), signer, &logs, limits)
        .with_context(|| format!("opening the witness state in {}", args.data_dir.display()))?;
    let witness = Arc::new(witness);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| {
                format!(
                    "binding {}; is another witness running? pick another --addr",
                    args.addr
                )
            })?;
        let addr = listener.local_addr()?;
        for log in witness.summaries().await {
            tracing::info!(origin = %log.origin, cosigned_size = ?log.size, "trusting log");
        }
        // One machine-readable line on stdout: scripts and tests wait for
        // it. A closed stdout must not take the witness down.
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "causeway-witness ready addr={addr} name={} vkey={}",
                witness.name(),
                witness.vkey()
            );
            let _ = out.flush();
        }
        tracing::info!(%addr, name = %witness.name(), "serving");
        let listener = causeway_io::CappedListener::new(listener, args.max_connections);
        causeway_witness::serve(listener, witness, causeway_io::shutdown::signal())
            .await
            .context("serving HTTP")?;
        tracing::info!("stopped cleanly");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_do_not_need_run_flags() {
        assert!(Cli::try_parse_from(["w", "init", "--data-dir", "d", "--name", "n"]).is_ok());
        assert!(Cli::try_parse_from(["w", "evidence", "--data-dir", "d", "--json"]).is_ok());
        assert!(Cli::try_parse_from(["w", "--addr", "127.0.0.1:0"]).is_err());
        let cli = Cli::try_parse_from(["w", "--log", "a", "--log", "b,c"]).unwrap();
        assert_eq!(cli.run.logs, ["a", "b", "c"]);
        let cli = Cli::try_parse_from(["w", "run", "--log", "a"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Run(_))));
    }

    #[test]
    fn evidence_limits_have_defaults_and_take_flags() {
        let cli = Cli::try_parse_from(["w", "--log", "a"]).unwrap();
        assert_eq!(cli.run.max_evidence_bytes_per_log, 16 << 20);
        assert_eq!(cli.run.inconclusive_evidence_interval_secs, 60);
        assert_eq!(cli.run.max_connections, 1024);
        let cli = Cli::try_parse_from([
            "w",
            "--log",
            "a",
            "--max-evidence-bytes-per-log",
            "4096",
            "--inconclusive-evidence-interval-secs",
            "0",
        ])
        .unwrap();
        assert_eq!(cli.run.max_evidence_bytes_per_log, 4096);
        assert_eq!(cli.run.inconclusive_evidence_interval_secs, 0);
        assert!(
            Cli::try_parse_from(["w", "--log", "a", "--max-evidence-bytes-per-log", "16MiB"])
                .is_err()
        );
    }
}
