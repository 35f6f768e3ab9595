//! `causeway verify-tiles` and `export-tiles`: a whole log checked, or
//! copied, from its C2SP tiles alone.

use anyhow::Context as _;
use causeway_client::tiles::{HttpTiles, checked_checkpoint, mirror, verify_tree};
use causeway_client::verify::{LogKeys, MaybeVerified};
use serde_json::json;

use crate::args::{Common, TilesArg, log_keys};
use crate::checkpoint::check_policy;
use crate::output::verdict;

/// The tile source at `url` and its checked checkpoint.
pub(crate) async fn open_tiles(
    url: &str,
    timeout: std::time::Duration,
    keys: &LogKeys,
    common: &Common,
) -> anyhow::Result<(HttpTiles, MaybeVerified)> {
    let source = HttpTiles::with_ca(url, common.target()?.tls.ca_pem.as_deref())?.timeout(timeout);
    let checked = checked_checkpoint(&source, keys)
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

/// `causeway verify-tiles`.
pub(crate) async fn verify_tiles(
    common: &Common,
    tiles: &TilesArg,
    entries: bool,
) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
    let (source, checked) = open_tiles(&tiles.url, tiles.http_timeout, &keys, common).await?;
    let bar = progress_bar("verifying");
    let report = verify_tree(&source, checked.checkpoint(), entries, |done, total| {
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
                "origin": checked.checkpoint().origin(),
                "size": report.size,
                "root": report.root.to_hex(),
                "hash_tiles": report.hash_tiles,
                "entry_bundles": report.entry_bundles,
                "verified": checked.is_verified(),
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
        println!("{}", verdict(checked.is_verified()));
    }
    Ok(())
}

/// `causeway export-tiles`.
pub(crate) async fn export_tiles(
    common: &Common,
    tiles: &TilesArg,
    out: &std::path::Path,
    no_entries: bool,
) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
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
    let cp = report.checkpoint.checkpoint();
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
                "verified": report.checkpoint.is_verified(),
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
        println!("{}", verdict(report.checkpoint.is_verified()));
    }
    Ok(())
}
