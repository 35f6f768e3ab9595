//! `causeway monitor`: follows a log and its witnesses, and fails on any
//! checkpoint that does not verify or does not extend the last one.

use anyhow::{Context as _, bail};
use causeway_client::monitor::{Inconsistency, check_extends, witness_checkpoint_url};
use causeway_client::verify::check_witnesses;
use causeway_client::{LogClient, LogTarget};
use causeway_tlog::checkpoint::Checkpoint;
use serde_json::json;

use crate::trust::{Trust, unix_now};

/// `causeway monitor`: follows the log and its witnesses; one JSON line
/// per event; an error (non-zero exit) on any inconsistency.
pub(crate) async fn monitor(
    log: &LogTarget,
    trust: &Trust,
    witnesses: &[String],
    interval: std::time::Duration,
    rounds: Option<u64>,
) -> anyhow::Result<()> {
    let mut client = log.connect().await?;
    let http = reqwest::Client::new();
    let mut last: Option<Checkpoint> = None;
    let mut round = 0u64;
    loop {
        let note = client.checkpoint(None).await?;
        let cp = trust
            .log
            .read(&note)
            .context("MISBEHAVIOUR: the log's checkpoint does not verify")?
            .into_checkpoint();
        check_witnesses(&note, &trust.witnesses, unix_now() as u64)
            .context("the checkpoint does not satisfy the witness policy")?;
        if let Some(prev) = &last {
            consistent(&mut client, prev, &cp, "the log").await?;
        }
        if last.as_ref().is_none_or(|p| p.size() != cp.size()) {
            println!(
                "{}",
                json!({"event": "checkpoint", "size": cp.size(), "root": cp.root().to_hex()})
            );
        }
        for url in witnesses {
            let response = http
                .get(witness_checkpoint_url(url, cp.origin()))
                .send()
                .await;
            let Ok(response) = response else {
                println!(
                    "{}",
                    json!({"event": "witness_unreachable", "witness": url})
                );
                continue;
            };
            if !response.status().is_success() {
                println!(
                    "{}",
                    json!({"event": "witness_has_nothing", "witness": url, "status": response.status().as_u16()})
                );
                continue;
            }
            let theirs = response.text().await?;
            let seen = trust.log.read(&theirs)
                .with_context(|| format!("MISBEHAVIOUR: witness {url} holds a checkpoint the log's keys do not verify"))?
                .into_checkpoint();
            let (older, newer) = if seen.size() <= cp.size() {
                (&seen, &cp)
            } else {
                (&cp, &seen)
            };
            consistent(&mut client, older, newer, url).await?;
            println!(
                "{}",
                json!({"event": "witness_consistent", "witness": url, "witness_size": seen.size(), "size": cp.size()})
            );
        }
        last = Some(cp);
        round += 1;
        if rounds.is_some_and(|r| round >= r) {
            return Ok(());
        }
        tokio::time::sleep(interval).await;
    }
}

/// Checks that `old` is a prefix of `new` (see [`check_extends`]); on a
/// split view, prints its event and fails.
async fn consistent(
    client: &mut LogClient,
    old: &Checkpoint,
    new: &Checkpoint,
    whose: &str,
) -> anyhow::Result<()> {
    match check_extends(client, old, new).await {
        Ok(()) => Ok(()),
        Err(Inconsistency::SplitView {
            size,
            old_root,
            new_root,
        }) => {
            println!(
                "{}",
                json!({"event": "split_view", "source": whose, "size": size, "roots": [old_root.to_hex(), new_root.to_hex()]})
            );
            bail!(
                "MISBEHAVIOUR: two signed checkpoints of size {size} with different roots ({whose})"
            );
        }
        Err(Inconsistency::Unproved { old_size, new_size }) => {
            println!(
                "{}",
                json!({"event": "inconsistent", "source": whose, "old_size": old_size, "new_size": new_size})
            );
            bail!(
                "MISBEHAVIOUR: the log cannot prove checkpoint {old_size} consistent with {new_size} ({whose})"
            );
        }
    }
}
