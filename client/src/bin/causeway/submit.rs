//! `causeway submit`: entries (raw, signed here, or envelopes) sent in
//! batches, each acknowledged once durable and, with `--vkey`, checked to
//! be in the checkpoint the log returned.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use causeway_client::submit::{AckError, add_following_leader, batches, check_ack};
use causeway_records::{Kind, ProducerKey};
use causeway_tlog::merkle::Hash;
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

/// One entry the log acknowledged, its inclusion checked.
#[derive(Clone, Debug)]
pub(crate) struct Submitted {
    /// Its index in the log.
    pub(crate) index: u64,
    /// Its RFC 6962 leaf hash.
    pub(crate) leaf_hash: Hash,
    /// Whether it was already in the log (the index is the original one).
    pub(crate) duplicate: bool,
    /// The size of the checkpoint it was checked against.
    pub(crate) tree_size: u64,
    /// Whether that checkpoint's signatures were verified (`--vkey`).
    pub(crate) verified: bool,
}

/// `causeway submit`.
pub(crate) async fn submit(
    common: &Common,
    files: &[PathBuf],
    signing: Option<(&ProducerKey, Kind)>,
    envelope: bool,
) -> anyhow::Result<()> {
    let mut entries = Vec::with_capacity(files.len());
    for f in files {
        let entry = match records::entry_from_file(f, signing, envelope)? {
            Some(e) => e,
            None => read_entry(f)?,
        };
        entries.push((f.display().to_string(), entry));
    }
    send_entries(common, entries, |file, s| {
        if common.json {
            println!(
                "{}",
                json!({
                    "index": s.index,
                    "leaf_hash": s.leaf_hash.to_hex(),
                    "duplicate": s.duplicate,
                    "file": file,
                    "tree_size": s.tree_size,
                    "verified": s.verified,
                })
            );
        } else {
            let dup = if s.duplicate {
                " (already in the log)"
            } else {
                ""
            };
            println!("{file}: index {} leaf {}{dup}", s.index, s.leaf_hash);
        }
    })
    .await
}

/// Sends one entry (described by `label` in messages) and returns its
/// checked acknowledgement: what `approve` and `preflight` write.
pub(crate) async fn send_one(
    common: &Common,
    label: &str,
    entry: Vec<u8>,
) -> anyhow::Result<Submitted> {
    let mut written: Option<Submitted> = None;
    send_entries(common, vec![(label.to_owned(), entry)], |_, s| {
        written = Some(s.clone())
    })
    .await
    .with_context(|| format!("submitting {label}"))?;
    written.with_context(|| format!("the log acknowledged no entry for {label}"))
}

/// `now` to the millisecond, as records are dated.
pub(crate) fn record_time(now: jiff::Timestamp) -> anyhow::Result<causeway_records::Time> {
    Ok(causeway_client::clock::record_time(now)?)
}

/// The current time, as a record made now is dated.
pub(crate) fn record_time_now() -> anyhow::Result<causeway_records::Time> {
    Ok(causeway_client::clock::record_time_now()?)
}

/// Sends `(label, entry)` pairs to `--log` in batches, following a
/// redirect to the leader, and checks each acknowledgement: the returned
/// checkpoint under the `--vkey` keys, the leaf hash, and the entry's
/// inclusion in that checkpoint. `each` is called for every entry once it
/// is checked, in order, so what was written is reported even if a later
/// batch fails. Every command that writes to the log sends through here.
pub(crate) async fn send_entries(
    common: &Common,
    entries: Vec<(String, Vec<u8>)>,
    mut each: impl FnMut(&str, &Submitted),
) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
    let (labels, entries): (Vec<String>, Vec<Vec<u8>>) = entries.into_iter().unzip();
    let target = common.target()?;
    let mut client = target.connect().await?;
    let mut label_iter = labels.iter();
    for batch in batches(entries) {
        let added = add_following_leader(&mut client, &target, batch.clone(), |e, leader| {
            eprintln!("note: {e}; sending to the leader at {leader}");
        })
        .await?;
        let checked = keys
            .read(&added.checkpoint_note)
            .context("the checkpoint returned with the entries does not verify")?;
        for (entry, a) in batch.iter().zip(&added.entries) {
            let file = label_iter.next().map(String::as_str).unwrap_or_default();
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
            each(
                file,
                &Submitted {
                    index: a.index,
                    leaf_hash: a.leaf_hash,
                    duplicate: a.duplicate,
                    tree_size: checked.checkpoint().size(),
                    verified: checked.is_verified(),
                },
            );
        }
    }
    Ok(())
}
