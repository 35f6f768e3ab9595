//! `causeway demo`: a complete, signed causal chain written to a running
//! log, with the demo producers' keys of `causeway-server --dev`.

use std::path::Path;

use anyhow::Context as _;
use causeway_client::LogTarget;
use causeway_client::demo::{DemoKeys, causal_chain};
use causeway_client::submit::batches;
use serde_json::json;

use crate::records::load_key;

/// `causeway demo`: writes a complete causal chain, parents first.
pub(crate) async fn demo(
    log: &LogTarget,
    producers: &Path,
    actions: usize,
    json_out: bool,
) -> anyhow::Result<()> {
    let load = |stem: &str| load_key(&producers.join(format!("{stem}.pem")));
    let keys = DemoKeys {
        approver: load("approver")?,
        reviewer: load("reviewer")?,
        issuer: load("issuer")?,
        verifier: load("verifier")?,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let steps = causal_chain(&keys, now, actions, &mut rand::rngs::OsRng)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut client = log.connect().await?;
    let total: usize = steps.iter().map(|s| s.envelopes.len()).sum();
    let bar = indicatif::ProgressBar::new(total as u64);
    if json_out {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    for step in &steps {
        let entries: Vec<Vec<u8>> = step.envelopes.iter().map(|(_, e)| e.encode()).collect();
        // A step can hold more actions than one request may carry (the
        // server's --max-request-entries): send it in batches, in order, so
        // the log order of the chain is unchanged.
        let mut added = Vec::with_capacity(entries.len());
        for batch in batches(entries) {
            let sent = batch.len();
            let result = client
                .add_entries(batch)
                .await
                .with_context(|| format!("submitting {}", step.label))?;
            added.extend(result.entries);
            bar.inc(sent as u64);
        }
        for ((kind, _), a) in step.envelopes.iter().zip(&added) {
            if json_out {
                println!(
                    "{}",
                    json!({"step": step.label, "kind": kind.as_str(), "index": a.index, "leaf_hash": a.leaf_hash.to_hex()})
                );
            }
        }
        if let (false, Some(first)) = (json_out, added.first()) {
            bar.suspend(|| {
                println!(
                    "{:<44} {:>3} × {:<13} from index {} (leaf {})",
                    step.label,
                    step.envelopes.len(),
                    step.envelopes[0].0.as_str(),
                    first.index,
                    &first.leaf_hash.to_hex()[..16]
                );
            });
        }
    }
    bar.finish_and_clear();
    if !json_out {
        println!("{total} records written; inspect one with `causeway record show --index N`");
    }
    Ok(())
}
