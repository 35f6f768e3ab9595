//! `causeway checkpoint`, and the fetching and checking of checkpoints that
//! the proof commands share.

use anyhow::{Context as _, bail};
use causeway_client::LogClient;
use causeway_client::verify::{LogKeys, MaybeVerified};
use serde_json::json;

use crate::args::{Common, connect, log_keys, witness_policy};
use crate::output::{cosigned_json, verdict};

/// Applies the command line's witness policy to a checkpoint; `latest`
/// applies the age bound.
pub(crate) fn check_policy(
    checked: MaybeVerified,
    common: &Common,
    latest: bool,
) -> anyhow::Result<MaybeVerified> {
    let policy = witness_policy(common, latest)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    checked
        .with_witnesses(&policy, now)
        .context("the checkpoint does not satisfy the witness policy (--witness-vkey, --quorum)")
}

/// Fetches a checkpoint (the latest, or the one at `size`) and checks it
/// with the given keys and the witness policy.
pub(crate) async fn fetch_checkpoint(
    client: &mut LogClient,
    size: Option<u64>,
    keys: &LogKeys,
    common: &Common,
) -> anyhow::Result<MaybeVerified> {
    let note = client.checkpoint(size).await?;
    let checked = keys
        .read(&note)
        .context("the log's checkpoint does not verify")?;
    let checked = check_policy(checked, common, size.is_none())?;
    if let Some(size) = size
        && checked.checkpoint().size() != size
    {
        bail!(
            "asked for the checkpoint at size {size}, got size {}",
            checked.checkpoint().size()
        );
    }
    Ok(checked)
}

/// `causeway checkpoint`.
pub(crate) async fn checkpoint(common: &Common, size: Option<u64>) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
    let mut client = connect(common).await?;
    let c = fetch_checkpoint(&mut client, size, &keys, common).await?;
    let cp = c.checkpoint();
    if common.json {
        println!(
            "{}",
            json!({
                "origin": cp.origin(),
                "size": cp.size(),
                "root": cp.root().to_hex(),
                "note": c.note(),
                "verified": c.is_verified(),
                "cosignatures": cosigned_json(c.cosigned()),
            })
        );
    } else {
        println!("origin {}", cp.origin());
        println!("size   {}", cp.size());
        println!("root   {}", cp.root());
        println!("{}", verdict(c.is_verified()));
        for w in c.cosigned() {
            println!("cosigned by {} at {}", w.witness, w.time);
        }
        print!("\n{}", c.note());
    }
    Ok(())
}
