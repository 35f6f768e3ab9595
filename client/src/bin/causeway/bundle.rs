//! `causeway prove bundle` and `causeway verify`: one record, its causal
//! ancestors and their inclusion proofs packed into a file, and that file
//! checked with no network (the checks are `causeway_client::bundle`'s).

use std::path::Path;

use anyhow::{Context as _, bail};
use causeway_client::LogTarget;
use causeway_client::bundle::{BundleError, ProofBundle, build};
use causeway_client::verify::LogKeys;
use causeway_client::visible::for_terminal;
use causeway_tlog::merkle::Hash;
use serde_json::json;

use crate::output::verdict;
use crate::trust::{Trust, load_policy, load_roots, unix_now};

/// `causeway prove bundle`: the record, its causal ancestors, their
/// inclusion proofs, the checkpoint they are proved against and its anchor.
pub(crate) async fn bundle(
    log: &LogTarget,
    keys: &LogKeys,
    leaf: Hash,
    out: &Path,
    json_out: bool,
) -> anyhow::Result<()> {
    let mut client = log.connect().await?;
    let built = build(&mut client, keys, leaf).await?;
    std::fs::write(out, &built.text).with_context(|| format!("writing {}", out.display()))?;
    if json_out {
        println!(
            "{}",
            json!({"out": out.display().to_string(), "record": built.record, "entries": built.entries, "tree_size": built.tree_size, "anchored": built.anchored})
        );
    } else {
        println!(
            "wrote {}: record {} and {} ancestors, proved against checkpoint {}{}",
            out.display(),
            built.record,
            built.entries - 1,
            built.tree_size,
            if built.anchored {
                " (RFC 3161 anchored)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// `causeway verify FILE`: checks a proof bundle with no network.
pub(crate) fn verify_bundle(
    path: &Path,
    trust: &Trust,
    policy_path: Option<&Path>,
    json_out: bool,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let b = match ProofBundle::parse(&text) {
        Ok(b) => b,
        Err(BundleError::NotJson(e)) => {
            return Err(anyhow::Error::new(e).context(format!("{} is not JSON", path.display())));
        }
        Err(BundleError::NotABundle) => {
            bail!("{} is not a causeway-proof-bundle/v1", path.display())
        }
        Err(e) => return Err(e.into()),
    };
    let proved = b.check_entries(&trust.log, &trust.witnesses, unix_now() as u64)?;
    let cp = proved.checkpoint.checkpoint();
    // The anchor, if any: the TSA timestamped this checkpoint. Given
    // --tsa-roots, a bundle without one fails: the roots ask for the time
    // to be proved, and removing the anchor must not pass as "nothing to
    // check".
    let token = b.anchor_token()?;
    let anchored = match (&token, trust.tsa_roots.as_deref()) {
        (None, Some(r)) => bail!(
            "the bundle has no RFC 3161 anchor, but --tsa-roots {} asks for one to be verified:              nothing proves when its checkpoint existed (drop --tsa-roots to verify the bundle              without a time)",
            r.display()
        ),
        (Some(der), Some(r)) => Some(b.check_anchor(der, &load_roots(r)?)?),
        (_, None) => None,
    };
    let chain = match policy_path {
        Some(policy_path) => proved.check_records(&load_policy(policy_path)?)?,
        None => Vec::new(),
    };
    let chain: Vec<_> = chain
        .iter()
        .map(|(index, kind)| json!({"index": index, "kind": kind.as_str()}))
        .collect();
    let subject = proved.record;
    let subject_kind = proved.record_kind().map(|k| k.as_str());
    if json_out {
        println!(
            "{}",
            json!({
                "record": subject,
                "kind": subject_kind,
                "tree_size": cp.size(),
                "root": cp.root().to_hex(),
                "entries": proved.entries.len(),
                "chain": chain,
                "cosignatures": proved.cosigned.len(),
                "anchored_at": anchored.as_ref().map(|a| a.gen_time_rfc3339.clone()),
                "anchor_verified": anchored.is_some(),
                "verified": proved.checkpoint.is_verified(),
            })
        );
    } else {
        println!(
            "record {subject} ({}) and {} ancestors are in the tree of size {} (root {})",
            subject_kind.unwrap_or("not a record"),
            proved.entries.len() - 1,
            cp.size(),
            cp.root()
        );
        if policy_path.is_some() {
            println!("every record's signature and references verified under the policy");
        }
        if let Some(a) = &anchored {
            println!(
                "{}",
                for_terminal(&format!(
                    "that tree existed by {} according to {}",
                    a.gen_time_rfc3339, a.signer_subject
                ))
            );
        } else if token.is_some() {
            println!("the bundle's RFC 3161 anchor was NOT verified (no --tsa-roots)");
        }
        println!("{}", verdict(proved.checkpoint.is_verified()));
    }
    Ok(())
}
