//! `causeway submit`: entries (raw, signed here, or envelopes) sent in
//! batches, each acknowledged once durable and, with `--vkey`, checked to
//! be in the checkpoint the log returned.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use causeway_client::verify::check_inclusion;
use causeway_client::{LeafRef, LogTarget};
use causeway_proto::MAX_ENTRY_SIZE;
use causeway_proto::merkle::leaf_hash;
use causeway_proto::records::{Kind, ProducerKey};
use serde_json::json;

use crate::args::{Common, connect, log_keys};
use crate::records;

/// Reads a file as one raw entry (1 to 65,535 bytes).
pub(crate) fn read_entry(path: &Path) -> anyhow::Result<Vec<u8>> {
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

/// `causeway submit`.
pub(crate) async fn submit(
    common: &Common,
    files: &[PathBuf],
    signing: Option<(&ProducerKey, Kind)>,
    envelope: bool,
) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
    let mut entries = Vec::with_capacity(files.len());
    for f in files {
        let entry = match records::entry_from_file(f, signing, envelope)? {
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
                let target = LogTarget {
                    url: leader,
                    ..common.target()?
                };
                client = target.connect().await?;
                client.add_entries(batch.clone()).await?
            }
            other => other?,
        };
        let checked = keys
            .read(&added.checkpoint_note)
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
            if let Some(verified) = checked.verified() {
                let p = client
                    .inclusion_proof(LeafRef::Index(a.index), Some(verified.checkpoint().size()))
                    .await?;
                check_inclusion(verified.checkpoint(), a.index, &a.leaf_hash, &p.proof)
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
                        "tree_size": checked.checkpoint().size(),
                        "verified": checked.is_verified(),
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
