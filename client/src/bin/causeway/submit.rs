//! `causeway submit`: entries (raw, signed here, or envelopes) sent in
//! batches, each acknowledged once durable and, with `--vkey`, checked to
//! be in the checkpoint the log returned.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use causeway_client::submit::{AckError, add_following_leader, batches, check_ack};
use causeway_records::{Kind, ProducerKey};
use causeway_tlog::tiles::MAX_ENTRY_SIZE;
use serde_json::json;

use crate::args::{Common, log_keys};
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
    let target = common.target()?;
    let mut client = target.connect().await?;
    let mut file_iter = files.iter();
    for batch in batches(entries) {
        let added = add_following_leader(&mut client, &target, batch.clone(), |e, leader| {
            eprintln!("note: {e}; sending to the leader at {leader}");
        })
        .await?;
        let checked = keys
            .read(&added.checkpoint_note)
            .context("the checkpoint returned with the entries does not verify")?;
        for (entry, a) in batch.iter().zip(&added.entries) {
            let file = file_iter
                .next()
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            match check_ack(&mut client, &checked, entry, a).await {
                Ok(()) => {}
                Err(AckError::WrongLeafHash { returned, computed }) => bail!(
                    "the log returned leaf hash {returned} for {file}, which hashes to {computed}"
                ),
                Err(AckError::Client(e)) => return Err(e.into()),
                Err(AckError::NotIncluded(e)) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("{file}: inclusion in the returned checkpoint")));
                }
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
