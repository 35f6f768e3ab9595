//! `causeway`: the command-line client for producers and auditors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use causeway_client::verify::{
    CheckedCheckpoint, check_checkpoint, check_consistency, check_inclusion,
};
use causeway_client::{DEFAULT_LOG_URL, LeafRef, LogClient};
use causeway_proto::MAX_ENTRY_SIZE;
use causeway_proto::merkle::{Hash, leaf_hash};
use causeway_proto::note::VerifierKey;
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
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
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
        /// Files to submit, 1 to 65,535 bytes each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
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
}

#[derive(Subcommand, Debug)]
enum Prove {
    /// Proves that a leaf is in the tree of a signed checkpoint.
    Inclusion {
        #[command(flatten)]
        common: Common,
        /// The leaf's index.
        #[arg(long, conflicts_with_all = ["leaf_hash", "file"], required_unless_present_any = ["leaf_hash", "file"])]
        index: Option<u64>,
        /// The leaf's RFC 6962 hash, 64 hex digits.
        #[arg(long, conflicts_with = "file")]
        leaf_hash: Option<String>,
        /// A file whose content is the entry (its leaf hash is computed locally).
        #[arg(long)]
        file: Option<PathBuf>,
        /// The tree size of a published checkpoint to prove against; latest if absent.
        #[arg(long)]
        size: Option<u64>,
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
    },
}

fn main() -> ExitCode {
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
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Submit { common, files } => submit(&common, &files).await,
        Command::Checkpoint { common, size } => checkpoint(&common, size).await,
        Command::Prove(Prove::Inclusion {
            common,
            index,
            leaf_hash,
            file,
            size,
        }) => {
            let leaf = match (index, leaf_hash, file) {
                (Some(i), _, _) => LeafRef::Index(i),
                (_, Some(h), _) => {
                    LeafRef::Hash(Hash::from_hex(&h).with_context(|| format!("--leaf-hash {h:?}"))?)
                }
                (_, _, Some(f)) => {
                    LeafRef::Hash(causeway_proto::merkle::leaf_hash(&read_entry(&f)?))
                }
                _ => bail!("give --index, --leaf-hash or --file"),
            };
            prove_inclusion(&common, leaf, size).await
        }
        Command::Prove(Prove::Consistency { common, old, new }) => {
            prove_consistency(&common, old, new).await
        }
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

async fn connect(common: &Common) -> anyhow::Result<LogClient> {
    Ok(LogClient::connect(&common.log).await?)
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
) -> anyhow::Result<CheckedCheckpoint> {
    let note = client.checkpoint(size).await?;
    let checked = check_checkpoint(&note, keys).context("the log's checkpoint does not verify")?;
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

async fn submit(common: &Common, files: &[PathBuf]) -> anyhow::Result<()> {
    let keys = keys(common)?;
    let mut entries = Vec::with_capacity(files.len());
    for f in files {
        entries.push(read_entry(f)?);
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
        let added = client.add_entries(batch.clone()).await?;
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
    let c = fetch_checkpoint(&mut client, size, &keys).await?;
    if common.json {
        println!(
            "{}",
            json!({
                "origin": c.checkpoint.origin(),
                "size": c.checkpoint.size(),
                "root": c.checkpoint.root().to_hex(),
                "note": c.note,
                "verified": c.verified,
            })
        );
    } else {
        println!("origin {}", c.checkpoint.origin());
        println!("size   {}", c.checkpoint.size());
        println!("root   {}", c.checkpoint.root());
        println!("{}", verdict(c.verified));
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

async fn prove_inclusion(common: &Common, leaf: LeafRef, size: Option<u64>) -> anyhow::Result<()> {
    let keys = keys(common)?;
    let mut client = connect(common).await?;
    let c = fetch_checkpoint(&mut client, size, &keys).await?;
    let p = client
        .inclusion_proof(leaf, Some(c.checkpoint.size()))
        .await?;
    if let LeafRef::Hash(h) = leaf
        && p.leaf_hash != h
    {
        bail!("asked about leaf {h}, the log proved {}", p.leaf_hash);
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
    if common.json {
        println!(
            "{}",
            json!({
                "leaf_index": p.leaf_index,
                "tree_size": p.tree_size,
                "leaf_hash": p.leaf_hash.to_hex(),
                "root": c.checkpoint.root().to_hex(),
                "proof": hex_list(&p.proof),
                "note": c.note,
                "verified": c.verified,
            })
        );
    } else {
        println!(
            "leaf {} ({}) is in the tree of size {}",
            p.leaf_index, p.leaf_hash, p.tree_size
        );
        println!("root {}", c.checkpoint.root());
        println!("proof checked: {} hashes", p.proof.len());
        println!("{}", verdict(c.verified));
    }
    Ok(())
}

async fn prove_consistency(common: &Common, old: u64, new: Option<u64>) -> anyhow::Result<()> {
    let keys = keys(common)?;
    let mut client = connect(common).await?;
    let new_c = fetch_checkpoint(&mut client, new, &keys).await?;
    let old_c = fetch_checkpoint(&mut client, Some(old), &keys).await?;
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
    let verified = old_c.verified && new_c.verified;
    if common.json {
        println!(
            "{}",
            json!({
                "old_size": old,
                "new_size": new_size,
                "old_root": old_c.checkpoint.root().to_hex(),
                "new_root": new_c.checkpoint.root().to_hex(),
                "proof": hex_list(&proof),
                "verified": verified,
            })
        );
    } else {
        println!(
            "tree {old} ({}) is a prefix of tree {new_size} ({})",
            old_c.checkpoint.root(),
            new_c.checkpoint.root()
        );
        println!("proof checked: {} hashes", proof.len());
        println!("{}", verdict(verified));
    }
    Ok(())
}
