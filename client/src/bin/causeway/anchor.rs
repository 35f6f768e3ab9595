//! `causeway verify-anchor`: an RFC 3161 anchor of a checkpoint, fetched
//! from the log or read from files.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use causeway_client::verify::{LogKeys, MaybeVerified, check_anchor};
use causeway_rfc3161::TrustedRoots;
use causeway_tlog::checkpoint::Checkpoint;
use serde_json::json;

use crate::args::{Common, connect, log_keys};
use crate::output::verdict;

/// `causeway verify-anchor`.
pub(crate) async fn verify_anchor(
    common: &Common,
    roots_path: &Path,
    size: Option<u64>,
    offline: Option<(PathBuf, PathBuf)>,
    policy: Option<&str>,
    save: Option<&Path>,
) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
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
            let checked = keys
                .read(&note_or_body)
                .context("the anchored checkpoint's signatures do not verify")?;
            (note_or_body[..=i].to_owned(), Some(checked))
        }
        None => {
            if let LogKeys::Verify(_) = keys {
                bail!(
                    "--checkpoint holds only a body, so --vkey cannot be checked: give the signed note"
                );
            }
            (note_or_body.clone(), None)
        }
    };
    let checkpoint = Checkpoint::parse(&body).context("the anchored text is not a checkpoint")?;
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
    let log_verified = checked.as_ref().is_some_and(MaybeVerified::is_verified);
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
