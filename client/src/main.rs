//! `causeway`: the command-line client for producers and auditors.

mod cli_audit;
mod cli_records;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use causeway_client::tiles::DEFAULT_HTTP_TIMEOUT;
use causeway_client::verify::{
    CheckedCheckpoint, WitnessPolicy, check_checkpoint, check_consistency, check_inclusion,
    check_witnesses,
};
use causeway_client::{DEFAULT_LOG_URL, LeafRef, LogClient, LogTarget, TlsSettings};
use causeway_records::Kind;
use causeway_tlog::merkle::{Hash, leaf_hash};
use causeway_tlog::note::{SignatureType, VerifierKey};
use causeway_tlog::tiles::MAX_ENTRY_SIZE;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

/// Causeway client: submit entries to a log and verify its checkpoints and
/// proofs.
///
/// Commands that verify take the log's keys with --vkey (repeatable; every
/// key given must have signed). Given keys, nothing unverifiable is printed
/// as valid and the exit code is non-zero on any failure. Without keys,
/// commands print what they fetched with "verified": false (proof
/// arithmetic is still checked).
#[derive(Parser, Debug)]
#[command(name = "causeway", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// The log's gRPC endpoint.
    #[arg(long, env = "CAUSEWAY_LOG", default_value = DEFAULT_LOG_URL, global = true)]
    log: String,
    /// A log verifier key (<name>+<hex id>+<base64>), as printed by
    /// `causeway-server init`. Repeatable; every key given must have signed.
    #[arg(
        long = "vkey",
        env = "CAUSEWAY_VKEYS",
        value_delimiter = ',',
        global = true
    )]
    vkeys: Vec<String>,
    /// A witness's cosignature/v1 verifier key, as printed by
    /// `causeway-witness init`. Repeatable; checkpoints must then carry
    /// valid cosignatures from --quorum of these witnesses.
    #[arg(
        long = "witness-vkey",
        env = "CAUSEWAY_WITNESS_VKEYS",
        value_delimiter = ',',
        global = true
    )]
    witness_vkeys: Vec<String>,
    /// How many of the --witness-vkey witnesses must have cosigned.
    /// [default: all of them]
    #[arg(long, env = "CAUSEWAY_QUORUM", global = true)]
    quorum: Option<usize>,
    /// The oldest acceptable cosignature on the latest checkpoint (e.g.
    /// 90s, 30m, 1h, 2d; "none" for no bound). Checkpoints asked for by
    /// --size are historical and exempt.
    #[arg(long, env = "CAUSEWAY_MAX_COSIGNATURE_AGE", default_value = "1h", value_parser = parse_age, global = true)]
    max_cosignature_age: Age,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

/// TLS for an https:// --log.
#[derive(Args, Debug, Clone)]
struct TlsArgs {
    /// PEM CA certificate(s) to trust for the log's TLS certificate
    /// (default: the system's roots).
    #[arg(long, env = "CAUSEWAY_TLS_CA", global = true, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (a producer on a log started
    /// with --tls-client-ca). Needs --tls-key.
    #[arg(
        long,
        env = "CAUSEWAY_TLS_CERT",
        global = true,
        requires = "tls_key",
        value_name = "FILE"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "CAUSEWAY_TLS_KEY",
        global = true,
        requires = "tls_cert",
        value_name = "FILE"
    )]
    tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The target at `url` with these settings (files read now).
    fn target(&self, url: &str) -> anyhow::Result<LogTarget> {
        let read = |flag: &str, p: &PathBuf| {
            std::fs::read(p).with_context(|| format!("{flag} {}: cannot read it", p.display()))
        };
        let ca_pem = self
            .tls_ca
            .as_ref()
            .map(|p| read("--tls-ca", p))
            .transpose()?;
        let identity_pem = match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Some((read("--tls-cert", c)?, read("--tls-key", k)?)),
            _ => None,
        };
        Ok(LogTarget {
            url: url.to_owned(),
            tls: TlsSettings {
                ca_pem,
                identity_pem,
            },
        })
    }
}

impl Common {
    /// The log this command talks to.
    fn target(&self) -> anyhow::Result<LogTarget> {
        self.tls.target(&self.log)
    }
}

/// A duration in seconds, or none (no bound, no waiting).
#[derive(Clone, Copy, Debug)]
struct Age(Option<u64>);

/// Parses `90s`, `30m`, `1h`, `2d` or `none` into seconds.
fn parse_age(text: &str) -> Result<Age, String> {
    if text == "none" {
        return Ok(Age(None));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 90s, 30m, 1h, 2d or none"))?;
    let scale = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    n.checked_mul(scale)
        .map(|s| Age(Some(s)))
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Submits each FILE as one log entry and prints its index and leaf hash.
    ///
    /// Entries are sent in batches and acknowledged only once durable. A
    /// file already in the log gets its original index ("duplicate": true).
    /// With --vkey, the returned checkpoint and each entry's inclusion in
    /// it are verified before anything is printed.
    Submit {
        #[command(flatten)]
        common: Common,
        /// Sign each FILE (a record's JSON) with this producer key (PKCS#8
        /// PEM from `causeway keygen`) as a record of --kind.
        #[arg(long, requires = "kind", conflicts_with = "envelope")]
        key: Option<PathBuf>,
        /// The record kind of every FILE: authorization, preflight,
        /// credential, action, exception, closure or review.
        #[arg(long, requires = "key")]
        kind: Option<Kind>,
        /// Each FILE is a DSSE JSON envelope (as `causeway record sign`
        /// prints); submit it as is.
        #[arg(long)]
        envelope: bool,
        /// Files to submit: raw entries (1 to 65,535 bytes each; for logs
        /// running --accept opaque), record JSON with --key/--kind, or
        /// envelopes with --envelope.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Creates a producer key: ECDSA P-256, PKCS#8 PEM, mode 0600. Prints
    /// its key ID (hex SHA-256 of the DER SPKI) and the public key to put
    /// in the producer policy.
    Keygen {
        /// Where to write the key (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Print {"key", "key_id", "public_key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Audits the whole log: fetches every entry from the tiles (--tiles: a
    /// URL or an exported directory) with a progress bar, recomputes the
    /// tree and checks it against the signed checkpoint (log keys, witness
    /// quorum) and every RFC 3161 anchored checkpoint (--tsa-roots),
    /// re-verifies every record's signature and references under --policy,
    /// builds the causal DAG and answers, for every action, who authorized
    /// it and how. Writes DIR/report.json and a self-contained
    /// DIR/index.html (CC8.1 evidence matrix, one section per
    /// authorization, red flags, trust basis). Fails loudly on a tampered or
    /// forked log; red flags are reported, not errors.
    ///
    /// Needs the log's keys (--vkey) or --unverified. The first line says
    /// what was checked and what was NOT. Exit codes: 0 verified; 1 failed
    /// (tampered or forked log, entries that are not valid records, no
    /// anchor verified with --tsa-roots, bad input); 3 unverified (ran with
    /// --unverified and found nothing else wrong).
    Audit {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        tiles: TilesArg,
        /// The producer policy (its optional [audit] table sets the red-flag thresholds).
        #[arg(long, env = "CAUSEWAY_POLICY")]
        policy: PathBuf,
        /// Where to write report.json and index.html.
        #[arg(long)]
        out: PathBuf,
        /// The TSA's trusted roots, to verify the anchors. An audit that
        /// can then verify no anchor (--log unreachable, none listed) fails.
        #[arg(long, env = "CAUSEWAY_TSA_ROOTS")]
        tsa_roots: Option<PathBuf>,
        /// Audit without the log's keys (no --vkey): the checkpoint's
        /// signatures are not checked, every output says UNVERIFIED, and
        /// the exit code is 3 even when nothing else is wrong. Without
        /// --vkey or this flag the audit refuses to run.
        #[arg(long)]
        unverified: bool,
    },
    /// Checks a proof bundle (`causeway prove bundle`) with no network: the
    /// checkpoint's signatures (--vkey) and witness quorum, every entry's
    /// inclusion, the anchor (--tsa-roots), and with --policy every
    /// record's signature, authorization and references.
    Verify {
        #[command(flatten)]
        common: Common,
        /// The bundle.
        file: PathBuf,
        /// The producer policy.
        #[arg(long, env = "CAUSEWAY_POLICY")]
        policy: Option<PathBuf>,
        /// The TSA's trusted roots.
        #[arg(long, env = "CAUSEWAY_TSA_ROOTS")]
        tsa_roots: Option<PathBuf>,
    },
    /// Follows a log: verifies each new checkpoint (keys, witness policy)
    /// and its consistency with the previous one, and compares it with the
    /// latest checkpoint each --witness-url cosigned, to detect split views.
    /// One JSON line per event; exits non-zero on misbehaviour.
    Monitor {
        #[command(flatten)]
        common: Common,
        /// A witness's URL (its monitoring path is queried). Repeatable.
        #[arg(long = "witness-url")]
        witness_urls: Vec<String>,
        /// Seconds between polls.
        #[arg(long, default_value_t = 5)]
        interval: u64,
        /// Stop after this many polls (default: run until stopped).
        #[arg(long)]
        rounds: Option<u64>,
    },
    /// Governance records: sign and inspect.
    #[command(subcommand)]
    Record(RecordCommand),
    /// Writes a complete, realistic causal chain to a running log: a human
    /// approval, a pre-flight pass, a JIT credential for an orchestrator
    /// agent, its actions, a delegated credential for a sub-agent and its
    /// actions, both closures and a human review, parents before children.
    /// Signs with the demo producers' keys (approver, reviewer, issuer,
    /// verifier .pem) that `causeway-server --dev` creates and trusts.
    Demo {
        #[command(flatten)]
        common: Common,
        /// The directory with the demo producers' keys.
        #[arg(long, default_value = "causeway-dev/producers")]
        producers: PathBuf,
        /// How many actions the orchestrator takes (the sub-agent takes half as many).
        #[arg(long, default_value_t = 24)]
        actions: usize,
    },
    /// Fetches the latest checkpoint (or the one at --size) and verifies it.
    Checkpoint {
        #[command(flatten)]
        common: Common,
        /// The tree size of a published checkpoint; latest if absent.
        #[arg(long)]
        size: Option<u64>,
    },
    /// Fetches and verifies proofs.
    #[command(subcommand)]
    Prove(Prove),
    /// Verifies a whole log from its C2SP tiles alone: the signed
    /// checkpoint, every hash tile against the level above, the root, and
    /// with --entries every entry bundle. Trusts no proof endpoint.
    VerifyTiles {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        tiles: TilesArg,
        /// Also fetch every entry bundle and check each entry's leaf hash.
        #[arg(long)]
        entries: bool,
    },
    /// Verifies an RFC 3161 anchor of a checkpoint, offline or fetched from
    /// the log: the TSA token must timestamp SHA-256 of the checkpoint body,
    /// carry a valid CMS signature bound (ESS) to a TSA certificate with a
    /// single critical timeStamping EKU, and chain to --tsa-roots at its
    /// genTime. With --vkey the checkpoint's log signatures are checked too.
    ///
    /// Online: fetches the anchor at --size (latest if absent) with its
    /// checkpoint. Offline: --token FILE --checkpoint FILE (a signed note
    /// or just its body). --save DIR writes the token and the body for
    /// `openssl ts -verify`.
    VerifyAnchor {
        #[command(flatten)]
        common: Common,
        /// PEM (or DER) file with the TSA's trusted root certificate(s).
        #[arg(long, env = "CAUSEWAY_TSA_ROOTS")]
        tsa_roots: PathBuf,
        /// The anchored tree size (online); latest if absent.
        #[arg(long, conflicts_with = "token")]
        size: Option<u64>,
        /// A saved DER TimeStampResp (offline; needs --checkpoint).
        #[arg(long, requires = "checkpoint")]
        token: Option<PathBuf>,
        /// The checkpoint the token covers: a signed note, or its body.
        #[arg(long, requires = "token")]
        checkpoint: Option<PathBuf>,
        /// A TSA policy OID the token must carry.
        #[arg(long)]
        tsa_policy: Option<String>,
        /// Write anchor-<size>.tsr, checkpoint-<size>.note and
        /// checkpoint-<size>.body into this directory.
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Checks split-view evidence kept by a witness: both checkpoints of
    /// each record must carry a valid signature of the log (--vkey), and
    /// the command says what they prove. Reads a witness's /evidence list
    /// (--witness URL) or saved records (FILE…: one record or a list per
    /// file, as `causeway-witness evidence --json` prints them). Exits
    /// non-zero if any record does not verify.
    VerifyEvidence {
        #[command(flatten)]
        common: Common,
        /// A witness's URL; its /evidence list is fetched.
        #[arg(long, required_unless_present = "files")]
        witness: Option<String>,
        /// Saved evidence records.
        files: Vec<PathBuf>,
    },
    /// Copies a log's tiles, entry bundles and checkpoint into a directory
    /// that any static file server, bucket or CDN can serve at the same
    /// paths. Incremental: full tiles already there are not fetched again.
    /// The copy is verified before its checkpoint is replaced.
    ExportTiles {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        tiles: TilesArg,
        /// The directory to write (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Copy hash tiles only, not entry bundles.
        #[arg(long)]
        no_entries: bool,
    },
}

#[derive(Subcommand, Debug)]
enum RecordCommand {
    /// Signs a record (JSON, from FILE or stdin) with a producer key and
    /// prints the DSSE JSON envelope.
    Sign {
        /// The record kind.
        #[arg(long)]
        kind: Kind,
        /// The producer key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// The record JSON; stdin if absent or "-".
        file: Option<PathBuf>,
    },
    /// Decodes an entry of the log (--index) or an envelope file (DSSE
    /// JSON or entry bytes) to JSON: kind, record, signer key IDs, leaf hash.
    Show {
        /// The log's gRPC endpoint.
        #[arg(long, env = "CAUSEWAY_LOG", default_value = DEFAULT_LOG_URL)]
        log: String,
        /// An entry of the log.
        #[arg(long, conflicts_with = "file")]
        index: Option<u64>,
        /// An envelope file.
        file: Option<PathBuf>,
        /// One line of JSON instead of pretty JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        tls: TlsArgs,
    },
}

#[derive(Args, Debug, Clone)]
struct TilesArg {
    /// The log's tile URL prefix (c2sp.org/tlog-tiles): the server's
    /// --http-addr, a mirror, a bucket or a CDN.
    #[arg(long = "tiles", env = "CAUSEWAY_TILES", default_value = causeway_client::tiles::DEFAULT_TILES_URL)]
    url: String,
    /// The most time one tile request may take, body included (e.g. 30s,
    /// 2m): a server that stalls or drips bytes fails after this.
    #[arg(long, env = "CAUSEWAY_HTTP_TIMEOUT", default_value = "30s", value_parser = parse_timeout)]
    http_timeout: std::time::Duration,
}

/// Parses a timeout like `30s` or `2m` (see [`parse_age`]); at least 1 s.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    match parse_age(text)? {
        Age(Some(secs)) if secs > 0 => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(format!(
            "{text:?}: a timeout must be at least 1s, like 30s or 2m"
        )),
    }
}

#[derive(Subcommand, Debug)]
enum Prove {
    /// Proves that a leaf is in the tree of a signed checkpoint.
    Inclusion {
        #[command(flatten)]
        common: Common,
        /// The leaf's index.
        #[arg(long, required_unless_present_any = ["leaf_hash", "file"])]
        index: Option<u64>,
        /// The leaf's RFC 6962 hash, 64 hex digits (checked against --index if both are given).
        #[arg(long, conflicts_with = "file")]
        leaf_hash: Option<String>,
        /// A file whose content is the entry (its leaf hash is computed locally).
        #[arg(long)]
        file: Option<PathBuf>,
        /// The tree size of a published checkpoint to prove against; latest if absent.
        #[arg(long)]
        size: Option<u64>,
        /// Compute the proof from the log's tiles at this URL instead of
        /// asking the server for it (needs --index; the checkpoint comes
        /// from the tiles too, so --size is not allowed).
        #[arg(long = "from-tiles", value_name = "URL", conflicts_with = "size")]
        from_tiles: Option<String>,
        /// Without --size, wait up to this long (e.g. 5s, 1m, none) for a
        /// published checkpoint that includes the leaf: with witnesses, a
        /// just-submitted entry is published once a quorum cosigned.
        #[arg(long, default_value = "5s", value_parser = parse_age)]
        wait: Age,
    },
    /// Packs one record, its causal ancestors, their inclusion proofs, the
    /// checkpoint they are proved against (the latest anchored one that
    /// covers the record, if any) and its RFC 3161 anchor into one JSON
    /// file that `causeway verify` checks offline.
    Bundle {
        #[command(flatten)]
        common: Common,
        /// The record's leaf hash (64 hex digits).
        #[arg(long)]
        leaf_hash: String,
        /// Where to write the bundle.
        #[arg(long)]
        out: PathBuf,
    },
    /// Proves that one signed checkpoint's tree is a prefix of another's.
    Consistency {
        #[command(flatten)]
        common: Common,
        /// The old tree size (a size at which a checkpoint was published).
        #[arg(long)]
        old: u64,
        /// The new tree size; latest if absent.
        #[arg(long)]
        new: Option<u64>,
        /// Compute the proof from the log's tiles at this URL (the new
        /// checkpoint comes from the tiles; the old one from --log).
        #[arg(long = "from-tiles", value_name = "URL", conflicts_with = "new")]
        from_tiles: Option<String>,
    },
}

fn main() -> ExitCode {
    #[cfg(unix)]
    restore_sigpipe();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors can quote what a log or a record holds: no invisible
            // characters or terminal escapes reach the terminal.
            eprintln!(
                "error: {}",
                causeway_client::visible::for_terminal(&format!("{e:#}"))
            );
            if e.downcast_ref::<cli_audit::Unverified>().is_some() {
                ExitCode::from(cli_audit::EXIT_UNVERIFIED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Lets a closed stdout end the process quietly, as it ends `cat` or `grep`.
///
/// Rust starts programs with SIGPIPE ignored, so writing to a pipe whose
/// reader has gone (`causeway … | head -c1`) makes `println!` panic with
/// "failed printing to stdout: Broken pipe". With the default action back,
/// the kernel ends the process by SIGPIPE at that write (status 141 in a
/// shell), which is what pipelines expect. One call here is less invasive
/// and more complete than making every `println!` a checked `writeln!`, and
/// it changes nothing else: sockets are written with MSG_NOSIGNAL by std and
/// tokio (a closed connection is still an EPIPE error, not a signal), and the
/// CLI writes to no pipe of its own.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: runs first in main, before any other thread exists; SIG_DFL is
    // a valid disposition and installs no handler code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Submit {
            common,
            key,
            kind,
            envelope,
            files,
        } => {
            let key = key.as_deref().map(cli_records::load_key).transpose()?;
            let signing = key.as_ref().zip(kind);
            submit(&common, &files, signing, envelope).await
        }
        Command::Keygen { out, json } => cli_records::keygen(&out, json),
        Command::Audit {
            common,
            tiles,
            policy,
            out,
            tsa_roots,
            unverified,
        } => {
            let trust = cli_audit::Trust {
                unverified,
                ..trust(&common, true, tsa_roots)?
            };
            cli_audit::audit(
                &common.target()?,
                &tiles.url,
                tiles.http_timeout,
                &policy,
                &out,
                &trust,
                common.json,
            )
            .await
        }
        Command::Verify {
            common,
            file,
            policy,
            tsa_roots,
        } => {
            let trust = trust(&common, false, tsa_roots)?;
            cli_audit::verify_bundle(&file, &trust, policy.as_deref(), common.json)
        }
        Command::Monitor {
            common,
            witness_urls,
            interval,
            rounds,
        } => {
            let trust = trust(&common, true, None)?;
            cli_audit::monitor(
                &common.target()?,
                &trust,
                &witness_urls,
                std::time::Duration::from_secs(interval),
                rounds,
            )
            .await
        }
        Command::Prove(Prove::Bundle {
            common,
            leaf_hash,
            out,
        }) => {
            let keys = keys(&common)?;
            let leaf =
                Hash::from_hex(&leaf_hash).with_context(|| format!("--leaf-hash {leaf_hash:?}"))?;
            cli_audit::bundle(&common.target()?, &keys, leaf, &out, common.json).await
        }
        Command::Record(RecordCommand::Sign { kind, key, file }) => {
            cli_records::record_sign(kind, &key, file.as_deref())
        }
        Command::Record(RecordCommand::Show {
            log,
            index,
            file,
            json,
            tls,
        }) => cli_records::record_show(&tls.target(&log)?, index, file.as_deref(), json).await,
        Command::Demo {
            common,
            producers,
            actions,
        } => cli_records::demo(&common.target()?, &producers, actions, common.json).await,
        Command::Checkpoint { common, size } => checkpoint(&common, size).await,
        Command::Prove(Prove::Inclusion {
            common,
            index,
            leaf_hash,
            file,
            size,
            from_tiles,
            wait,
        }) => {
            let leaf = match (index, leaf_hash, file) {
                (_, Some(h), _) => {
                    LeafRef::Hash(Hash::from_hex(&h).with_context(|| format!("--leaf-hash {h:?}"))?)
                }
                (_, _, Some(f)) => {
                    LeafRef::Hash(causeway_tlog::merkle::leaf_hash(&read_entry(&f)?))
                }
                (Some(i), None, None) => LeafRef::Index(i),
                _ => bail!("give --index, --leaf-hash or --file"),
            };
            match from_tiles {
                Some(url) => prove_inclusion_from_tiles(&common, &url, index, leaf).await,
                None => {
                    let wait = std::time::Duration::from_secs(wait.0.unwrap_or(0));
                    prove_inclusion(&common, index, leaf, size, wait).await
                }
            }
        }
        Command::Prove(Prove::Consistency {
            common,
            old,
            new,
            from_tiles,
        }) => match from_tiles {
            Some(url) => prove_consistency_from_tiles(&common, &url, old).await,
            None => prove_consistency(&common, old, new).await,
        },
        Command::VerifyTiles {
            common,
            tiles,
            entries,
        } => verify_tiles(&common, &tiles, entries).await,
        Command::VerifyEvidence {
            common,
            witness,
            files,
        } => verify_evidence(&common, witness.as_deref(), &files).await,
        Command::VerifyAnchor {
            common,
            tsa_roots,
            size,
            token,
            checkpoint,
            tsa_policy,
            save,
        } => {
            let offline = token.zip(checkpoint);
            verify_anchor(
                &common,
                &tsa_roots,
                size,
                offline,
                tsa_policy.as_deref(),
                save.as_deref(),
            )
            .await
        }
        Command::ExportTiles {
            common,
            tiles,
            out,
            no_entries,
        } => export_tiles(&common, &tiles, &out, no_entries).await,
    }
}

fn keys(common: &Common) -> anyhow::Result<Vec<VerifierKey>> {
    common
        .vkeys
        .iter()
        .filter(|v| !v.trim().is_empty())
        .map(|v| VerifierKey::parse(v).with_context(|| format!("--vkey {v:?}")))
        .collect()
}

/// The witness policy of the command line; `latest` applies the age bound.
fn witness_policy(common: &Common, latest: bool) -> anyhow::Result<WitnessPolicy> {
    let keys: Vec<VerifierKey> = common
        .witness_vkeys
        .iter()
        .filter(|v| !v.trim().is_empty())
        .map(|v| VerifierKey::parse(v).with_context(|| format!("--witness-vkey {v:?}")))
        .collect::<anyhow::Result<_>>()?;
    if let Some(k) = keys.iter().find(|k| k.kind() != SignatureType::Cosignature) {
        bail!("--witness-vkey {k}: not a cosignature/v1 (type 0x04) witness key");
    }
    let quorum = common.quorum.unwrap_or(keys.len());
    if quorum > keys.len() {
        bail!(
            "--quorum {quorum} is more than the {} --witness-vkey keys given",
            keys.len()
        );
    }
    Ok(WitnessPolicy {
        keys,
        quorum,
        max_age_secs: if latest {
            common.max_cosignature_age.0
        } else {
            None
        },
    })
}

/// What the auditor's commands trust: the log's keys, the witness policy
/// (`latest` applies the age bound) and the TSA roots.
fn trust(
    common: &Common,
    latest: bool,
    tsa_roots: Option<PathBuf>,
) -> anyhow::Result<cli_audit::Trust> {
    Ok(cli_audit::Trust {
        keys: keys(common)?,
        witnesses: witness_policy(common, latest)?,
        tsa_roots,
        unverified: false,
    })
}

/// Applies the witness policy to a checked checkpoint.
fn check_policy(
    mut checked: CheckedCheckpoint,
    common: &Common,
    latest: bool,
) -> anyhow::Result<CheckedCheckpoint> {
    let policy = witness_policy(common, latest)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    checked.cosigned = check_witnesses(&checked.note, &policy, now)
        .context("the checkpoint does not satisfy the witness policy (--witness-vkey, --quorum)")?;
    Ok(checked)
}

fn cosigned_json(c: &CheckedCheckpoint) -> serde_json::Value {
    c.cosigned
        .iter()
        .map(|w| json!({"witness": w.witness, "time": w.time}))
        .collect()
}

async fn connect(common: &Common) -> anyhow::Result<LogClient> {
    Ok(common.target()?.connect().await?)
}

fn read_entry(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.is_empty() || bytes.len() > MAX_ENTRY_SIZE {
        bail!(
            "{} is {} bytes; an entry must have 1 to {MAX_ENTRY_SIZE} bytes",
            path.display(),
            bytes.len()
        );
    }
    Ok(bytes)
}

/// Fetches a checkpoint and checks it with the given keys.
async fn fetch_checkpoint(
    client: &mut LogClient,
    size: Option<u64>,
    keys: &[VerifierKey],
    common: &Common,
) -> anyhow::Result<CheckedCheckpoint> {
    let note = client.checkpoint(size).await?;
    let checked = check_checkpoint(&note, keys).context("the log's checkpoint does not verify")?;
    let checked = check_policy(checked, common, size.is_none())?;
    if let Some(size) = size
        && checked.checkpoint.size() != size
    {
        bail!(
            "asked for the checkpoint at size {size}, got size {}",
            checked.checkpoint.size()
        );
    }
    Ok(checked)
}

async fn submit(
    common: &Common,
    files: &[PathBuf],
    signing: Option<(&causeway_records::ProducerKey, Kind)>,
    envelope: bool,
) -> anyhow::Result<()> {
    let keys = keys(common)?;
    let mut entries = Vec::with_capacity(files.len());
    for f in files {
        let entry = match cli_records::entry_from_file(f, signing, envelope)? {
            Some(e) => e,
            None => read_entry(f)?,
        };
        entries.push(entry);
    }
    let mut client = connect(common).await?;
    let mut file_iter = files.iter();
    // Batches under the server's default request limits.
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut pending = entries.into_iter().peekable();
    while pending.peek().is_some() {
        batch.clear();
        let mut batch_bytes = 0usize;
        while let Some(e) = pending.peek() {
            if !batch.is_empty() && (batch.len() == 1000 || batch_bytes + e.len() > 8 << 20) {
                break;
            }
            batch_bytes += e.len();
            batch.extend(pending.next());
        }
        let added = match client.add_entries(batch.clone()).await {
            // A standby of a replicated log names the leader: follow it once.
            Err(e) if e.leader().is_some() => {
                let leader = e.leader().unwrap_or_default();
                eprintln!("note: {e}; sending to the leader at {leader}");
                let target = causeway_client::LogTarget {
                    url: leader,
                    ..common.target()?
                };
                client = target.connect().await?;
                client.add_entries(batch.clone()).await?
            }
            other => other?,
        };
        let checked = check_checkpoint(&added.checkpoint_note, &keys)
            .context("the checkpoint returned with the entries does not verify")?;
        for (entry, a) in batch.iter().zip(&added.entries) {
            let file = file_iter
                .next()
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            if a.leaf_hash != leaf_hash(entry) {
                bail!(
                    "the log returned leaf hash {} for {file}, which hashes to {}",
                    a.leaf_hash,
                    leaf_hash(entry)
                );
            }
            if checked.verified {
                let p = client
                    .inclusion_proof(LeafRef::Index(a.index), Some(checked.checkpoint.size()))
                    .await?;
                check_inclusion(&checked.checkpoint, a.index, &a.leaf_hash, &p.proof)
                    .with_context(|| format!("{file}: inclusion in the returned checkpoint"))?;
            }
            if common.json {
                println!(
                    "{}",
                    json!({
                        "index": a.index,
                        "leaf_hash": a.leaf_hash.to_hex(),
                        "duplicate": a.duplicate,
                        "file": file,
                        "tree_size": checked.checkpoint.size(),
                        "verified": checked.verified,
                    })
                );
            } else {
                let dup = if a.duplicate {
                    " (already in the log)"
                } else {
                    ""
                };
                println!("{file}: index {} leaf {}{dup}", a.index, a.leaf_hash);
            }
        }
    }
    Ok(())
}

async fn checkpoint(common: &Common, size: Option<u64>) -> anyhow::Result<()> {
    let keys = keys(common)?;
    let mut client = connect(common).await?;
    let c = fetch_checkpoint(&mut client, size, &keys, common).await?;
    if common.json {
        println!(
            "{}",
            json!({
                "origin": c.checkpoint.origin(),
                "size": c.checkpoint.size(),
                "root": c.checkpoint.root().to_hex(),
                "note": c.note,
                "verified": c.verified,
                "cosignatures": cosigned_json(&c),
            })
        );
    } else {
        println!("origin {}", c.checkpoint.origin());
        println!("size   {}", c.checkpoint.size());
        println!("root   {}", c.checkpoint.root());
        println!("{}", verdict(c.verified));
        for w in &c.cosigned {
            println!("cosigned by {} at {}", w.witness, w.time);
        }
        print!("\n{}", c.note);
    }
    Ok(())
}

fn verdict(verified: bool) -> &'static str {
    if verified {
        "signature verified with the given --vkey keys"
    } else {
        "NOT VERIFIED: no --vkey given (signatures unchecked)"
    }
}

fn hex_list(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(Hash::to_hex).collect()
}

async fn prove_inclusion(
    common: &Common,
    index: Option<u64>,
    leaf: LeafRef,
    size: Option<u64>,
    wait: std::time::Duration,
) -> anyhow::Result<()> {
    let keys = keys(common)?;
    let mut client = connect(common).await?;
    let deadline = std::time::Instant::now() + wait;
    let (c, p) = loop {
        let c = fetch_checkpoint(&mut client, size, &keys, common).await?;
        match client
            .inclusion_proof(leaf, Some(c.checkpoint.size()))
            .await
        {
            Ok(p) => break (c, p),
            // The leaf is beyond the latest published checkpoint: it may
            // be waiting for witness cosignatures.
            Err(e)
                if size.is_none()
                    && matches!(
                        e.code(),
                        Some(tonic::Code::InvalidArgument | tonic::Code::OutOfRange)
                    ) =>
            {
                if std::time::Instant::now() >= deadline {
                    bail!(
                        "{e}\nthe leaf is not in the latest published checkpoint (size {}); with witnesses, entries are published once a quorum cosigns a checkpoint that includes them: retry, or wait longer with --wait",
                        c.checkpoint.size()
                    );
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    if let LeafRef::Hash(h) = leaf
        && p.leaf_hash != h
    {
        bail!("asked about leaf {h}, the log proved {}", p.leaf_hash);
    }
    if let Some(i) = index
        && p.leaf_index != i
    {
        bail!("that leaf is at index {}, not {i}", p.leaf_index);
    }
    if p.tree_size != c.checkpoint.size() {
        bail!(
            "asked for a proof at size {}, got one at {}",
            c.checkpoint.size(),
            p.tree_size
        );
    }
    check_inclusion(&c.checkpoint, p.leaf_index, &p.leaf_hash, &p.proof)
        .context("the inclusion proof does not lead to the checkpoint's root")?;
    print_inclusion(common, p.leaf_index, &p.leaf_hash, &p.proof, &c);
    Ok(())
}

fn print_inclusion(
    common: &Common,
    index: u64,
    leaf: &Hash,
    proof: &[Hash],
    c: &CheckedCheckpoint,
) {
    let size = c.checkpoint.size();
    if common.json {
        println!(
            "{}",
            json!({
                "leaf_index": index,
                "tree_size": size,
                "leaf_hash": leaf.to_hex(),
                "root": c.checkpoint.root().to_hex(),
                "proof": hex_list(proof),
                "note": c.note,
                "verified": c.verified,
                "cosignatures": cosigned_json(c),
            })
        );
    } else {
        println!("leaf {index} ({leaf}) is in the tree of size {size}");
        println!("root {}", c.checkpoint.root());
        println!("proof checked: {} hashes", proof.len());
        println!("{}", verdict(c.verified));
    }
}

async fn prove_consistency(common: &Common, old: u64, new: Option<u64>) -> anyhow::Result<()> {
    let keys = keys(common)?;
    let mut client = connect(common).await?;
    let new_c = fetch_checkpoint(&mut client, new, &keys, common).await?;
    let old_c = fetch_checkpoint(&mut client, Some(old), &keys, common).await?;
    let (new_size, proof) = client
        .consistency_proof(old, Some(new_c.checkpoint.size()))
        .await?;
    if new_size != new_c.checkpoint.size() {
        bail!(
            "asked for a proof to size {}, got one to {new_size}",
            new_c.checkpoint.size()
        );
    }
    check_consistency(&old_c.checkpoint, &new_c.checkpoint, &proof)
        .context("the consistency proof does not link the two checkpoints")?;
    print_consistency(common, &old_c, &new_c, &proof);
    Ok(())
}

fn print_consistency(
    common: &Common,
    old_c: &CheckedCheckpoint,
    new_c: &CheckedCheckpoint,
    proof: &[Hash],
) {
    let verified = old_c.verified && new_c.verified;
    let (old, new) = (old_c.checkpoint.size(), new_c.checkpoint.size());
    if common.json {
        println!(
            "{}",
            json!({
                "old_size": old,
                "new_size": new,
                "old_root": old_c.checkpoint.root().to_hex(),
                "new_root": new_c.checkpoint.root().to_hex(),
                "proof": hex_list(proof),
                "verified": verified,
            })
        );
    } else {
        println!(
            "tree {old} ({}) is a prefix of tree {new} ({})",
            old_c.checkpoint.root(),
            new_c.checkpoint.root()
        );
        println!("proof checked: {} hashes", proof.len());
        println!("{}", verdict(verified));
    }
}

async fn verify_anchor(
    common: &Common,
    roots_path: &std::path::Path,
    size: Option<u64>,
    offline: Option<(PathBuf, PathBuf)>,
    policy: Option<&str>,
    save: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use causeway_client::verify::check_anchor;
    use causeway_rfc3161::TrustedRoots;
    let keys = keys(common)?;
    let roots_bytes = std::fs::read(roots_path)
        .with_context(|| format!("reading --tsa-roots {}", roots_path.display()))?;
    let roots = TrustedRoots::from_pem_or_der(&roots_bytes)
        .with_context(|| format!("--tsa-roots {}", roots_path.display()))?;
    let (der, note_or_body) = match offline {
        Some((token, checkpoint)) => {
            let der =
                std::fs::read(&token).with_context(|| format!("reading {}", token.display()))?;
            let text = std::fs::read_to_string(&checkpoint)
                .with_context(|| format!("reading {}", checkpoint.display()))?;
            (der, text)
        }
        None => {
            let mut client = connect(common).await?;
            let a = client.anchor(size).await?;
            if let Some(size) = size
                && a.tree_size != size
            {
                bail!(
                    "asked for the anchor at size {size}, got size {}",
                    a.tree_size
                );
            }
            (a.timestamp_response, a.checkpoint_note)
        }
    };
    // A signed note (text, blank line, signatures) or a bare body.
    let (body, checked) = match note_or_body.find("\n\n") {
        Some(i) => {
            let checked = check_checkpoint(&note_or_body, &keys)
                .context("the anchored checkpoint's signatures do not verify")?;
            (note_or_body[..=i].to_owned(), Some(checked))
        }
        None => {
            if !keys.is_empty() {
                bail!(
                    "--checkpoint holds only a body, so --vkey cannot be checked: give the signed note"
                );
            }
            (note_or_body.clone(), None)
        }
    };
    let checkpoint = causeway_tlog::checkpoint::Checkpoint::parse(&body)
        .context("the anchored text is not a checkpoint")?;
    let verified =
        check_anchor(&der, &body, &roots, policy).context("the anchor does not verify")?;
    if let Some(dir) = save {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let n = checkpoint.size();
        std::fs::write(dir.join(format!("anchor-{n}.tsr")), &der)?;
        std::fs::write(dir.join(format!("checkpoint-{n}.body")), &body)?;
        std::fs::write(dir.join(format!("checkpoint-{n}.note")), &note_or_body)?;
        if !common.json {
            println!(
                "saved; check independently with:\n  openssl ts -verify -data {} -in {} -CAfile {}",
                dir.join(format!("checkpoint-{n}.body")).display(),
                dir.join(format!("anchor-{n}.tsr")).display(),
                roots_path.display()
            );
        }
    }
    let log_verified = checked.as_ref().is_some_and(|c| c.verified);
    if common.json {
        println!(
            "{}",
            json!({
                "tree_size": checkpoint.size(),
                "root": checkpoint.root().to_hex(),
                "origin": checkpoint.origin(),
                "gen_time": verified.gen_time,
                "gen_time_rfc3339": verified.gen_time_rfc3339,
                "tsa": verified.signer_subject,
                "serial": verified.serial_hex,
                "policy": verified.policy,
                "anchor_verified": true,
                "verified": log_verified,
            })
        );
    } else {
        println!(
            "checkpoint {} of {} (root {}) existed by {} according to {}",
            checkpoint.size(),
            checkpoint.origin(),
            checkpoint.root(),
            verified.gen_time_rfc3339,
            verified.signer_subject
        );
        println!("anchor verified against {}", roots_path.display());
        println!("{}", verdict(log_verified));
    }
    Ok(())
}

async fn verify_evidence(
    common: &Common,
    witness: Option<&str>,
    files: &[PathBuf],
) -> anyhow::Result<()> {
    use causeway_client::evidence::check_evidence;
    use causeway_tlog::witness::EvidenceRecord;
    let keys = keys(common)?;
    let mut records: Vec<EvidenceRecord> = Vec::new();
    let mut load = |text: &str, from: &str| -> anyhow::Result<()> {
        let value: serde_json::Value =
            serde_json::from_str(text).with_context(|| format!("{from} is not JSON"))?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        for item in items {
            records.push(
                serde_json::from_value(item)
                    .with_context(|| format!("{from}: not an evidence record"))?,
            );
        }
        Ok(())
    };
    if let Some(url) = witness {
        let url = format!("{}/evidence", url.trim_end_matches('/'));
        let response = reqwest::get(&url)
            .await
            .with_context(|| format!("fetching {url}"))?;
        if !response.status().is_success() {
            bail!("{url} answered {}", response.status());
        }
        load(&response.text().await?, &url)?;
    }
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        load(&text, &f.display().to_string())?;
    }
    let mut failures = 0;
    for record in &records {
        match check_evidence(record, &keys) {
            Ok(finding) => {
                if common.json {
                    println!(
                        "{}",
                        json!({
                            "id": record.id,
                            "kind": record.kind.as_str(),
                            "origin": record.origin,
                            "detected_at": record.detected_at,
                            "cosigned_size": finding.cosigned.size(),
                            "cosigned_root": finding.cosigned.root().to_hex(),
                            "presented_size": finding.presented.size(),
                            "presented_root": finding.presented.root().to_hex(),
                            "conclusive": finding.conclusive,
                            "explanation": finding.explanation,
                            "verified": true,
                        })
                    );
                } else {
                    let verdict = if finding.conclusive {
                        "PROOF OF A SPLIT VIEW"
                    } else {
                        "SUSPICIOUS"
                    };
                    println!("{} {verdict}: {}", record.id, finding.explanation);
                }
            }
            Err(e) => {
                failures += 1;
                if common.json {
                    println!(
                        "{}",
                        json!({"id": record.id, "kind": record.kind.as_str(), "verified": false, "error": e.to_string()})
                    );
                } else {
                    println!("{} DOES NOT VERIFY: {e}", record.id);
                }
            }
        }
    }
    if records.is_empty() && !common.json {
        println!("no evidence records");
    }
    if failures > 0 {
        bail!(
            "{failures} of {} evidence records do not verify",
            records.len()
        );
    }
    Ok(())
}

/// The tile source at `url` and its checked checkpoint.
async fn open_tiles(
    url: &str,
    timeout: std::time::Duration,
    keys: &[VerifierKey],
    common: &Common,
) -> anyhow::Result<(causeway_client::tiles::HttpTiles, CheckedCheckpoint)> {
    let source =
        causeway_client::tiles::HttpTiles::with_ca(url, common.target()?.tls.ca_pem.as_deref())?
            .timeout(timeout);
    let checked = causeway_client::tiles::checked_checkpoint(&source, keys)
        .await
        .context("the checkpoint served with the tiles does not verify")?;
    let checked = check_policy(checked, common, true)?;
    Ok((source, checked))
}

fn progress_bar(what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} tiles ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

async fn verify_tiles(common: &Common, tiles: &TilesArg, entries: bool) -> anyhow::Result<()> {
    use causeway_client::tiles::verify_tree;
    let keys = keys(common)?;
    let (source, checked) = open_tiles(&tiles.url, tiles.http_timeout, &keys, common).await?;
    let bar = progress_bar("verifying");
    let report = verify_tree(&source, &checked.checkpoint, entries, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await;
    bar.finish_and_clear();
    let report = report.context("the tiles do not match the signed checkpoint")?;
    if common.json {
        println!(
            "{}",
            json!({
                "origin": checked.checkpoint.origin(),
                "size": report.size,
                "root": report.root.to_hex(),
                "hash_tiles": report.hash_tiles,
                "entry_bundles": report.entry_bundles,
                "verified": checked.verified,
            })
        );
    } else {
        println!(
            "tree of size {} with root {}: {} hash tiles{} consistent with the checkpoint",
            report.size,
            report.root,
            report.hash_tiles,
            if entries {
                format!(" and {} entry bundles", report.entry_bundles)
            } else {
                String::new()
            }
        );
        println!("{}", verdict(checked.verified));
    }
    Ok(())
}

async fn export_tiles(
    common: &Common,
    tiles: &TilesArg,
    out: &std::path::Path,
    no_entries: bool,
) -> anyhow::Result<()> {
    use causeway_client::tiles::{HttpTiles, mirror};
    let keys = keys(common)?;
    let source = HttpTiles::with_ca(&tiles.url, common.target()?.tls.ca_pem.as_deref())?
        .timeout(tiles.http_timeout);
    let bar = progress_bar("fetching");
    let report = mirror(&source, out, &keys, no_entries, |phase, done, total| {
        bar.set_message(phase.to_owned());
        bar.set_length(total);
        bar.set_position(done);
    })
    .await;
    bar.finish_and_clear();
    let report = report.with_context(|| format!("exporting tiles to {}", out.display()))?;
    let cp = &report.checkpoint.checkpoint;
    if common.json {
        println!(
            "{}",
            json!({
                "out": out.display().to_string(),
                "size": cp.size(),
                "root": cp.root().to_hex(),
                "previous_size": report.previous_size,
                "written": report.written,
                "skipped": report.skipped,
                "verified": report.checkpoint.verified,
            })
        );
    } else {
        println!(
            "{}: size {} (was {}), {} files written, {} full tiles already present",
            out.display(),
            cp.size(),
            report
                .previous_size
                .map_or("empty".to_owned(), |s| s.to_string()),
            report.written,
            report.skipped
        );
        println!("{}", verdict(report.checkpoint.verified));
    }
    Ok(())
}

async fn prove_inclusion_from_tiles(
    common: &Common,
    url: &str,
    index: Option<u64>,
    leaf: LeafRef,
) -> anyhow::Result<()> {
    use causeway_client::tiles::TileTree;
    let keys = keys(common)?;
    let Some(index) = index else {
        bail!("--from-tiles needs --index: tiles cannot look a leaf up by hash");
    };
    let (source, c) = open_tiles(url, DEFAULT_HTTP_TIMEOUT, &keys, common).await?;
    let tree = TileTree::new(&source, c.checkpoint.size());
    let leaf_hash = tree.leaf_hash(index).await?;
    if let LeafRef::Hash(h) = leaf
        && h != leaf_hash
    {
        bail!("leaf {index} in the tiles is {leaf_hash}, not {h}");
    }
    let proof = tree.inclusion_proof(index).await?;
    check_inclusion(&c.checkpoint, index, &leaf_hash, &proof)
        .context("the proof computed from the tiles does not lead to the checkpoint's root")?;
    print_inclusion(common, index, &leaf_hash, &proof, &c);
    Ok(())
}

async fn prove_consistency_from_tiles(common: &Common, url: &str, old: u64) -> anyhow::Result<()> {
    use causeway_client::tiles::TileTree;
    let keys = keys(common)?;
    let (source, new_c) = open_tiles(url, DEFAULT_HTTP_TIMEOUT, &keys, common).await?;
    // The old root must come from somewhere other than these tiles, or
    // the check would be circular: the log's signed checkpoint at `old`.
    let mut client = connect(common).await?;
    let old_c = fetch_checkpoint(&mut client, Some(old), &keys, common).await?;
    let proof = TileTree::new(&source, new_c.checkpoint.size())
        .consistency_proof(old)
        .await?;
    check_consistency(&old_c.checkpoint, &new_c.checkpoint, &proof)
        .context("the proof computed from the tiles does not link the two checkpoints")?;
    print_consistency(common, &old_c, &new_c, &proof);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
        // Every flag's type matches its parser (clap checks that only when
        // parsing).
        Cli::try_parse_from(["causeway", "checkpoint", "--max-cosignature-age", "none"]).unwrap();
        Cli::try_parse_from([
            "causeway",
            "prove",
            "inclusion",
            "--index",
            "1",
            "--wait",
            "2m",
        ])
        .unwrap();
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("90s").unwrap().0, Some(90));
        assert_eq!(parse_age("30m").unwrap().0, Some(1800));
        assert_eq!(parse_age("2d").unwrap().0, Some(172_800));
        assert_eq!(parse_age("7").unwrap().0, Some(7));
        assert_eq!(parse_age("none").unwrap().0, None);
        assert!(parse_age("1w").is_err());
        assert!(parse_age("h").is_err());
    }
}
