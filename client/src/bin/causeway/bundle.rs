//! `causeway prove bundle` and `causeway verify`: one record, its causal
//! ancestors and their inclusion proofs packed into a file, and that file
//! checked with no network.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use causeway_client::verify::{LogKeys, check_anchor, check_inclusion, check_witnesses};
use causeway_client::visible::for_terminal;
use causeway_client::{LeafRef, LogTarget};
use causeway_proto::merkle::{Hash, leaf_hash};
use causeway_proto::records::{Envelope, Referenced, validate_at_record_time};
use serde_json::{Value, json};

use crate::trust::{Trust, body, load_policy, load_roots, unix_now};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `causeway prove bundle`: the record, its causal ancestors, their
/// inclusion proofs, the checkpoint they are proved against and its anchor.
pub async fn bundle(
    log: &LogTarget,
    keys: &LogKeys,
    leaf: Hash,
    out: &Path,
    json_out: bool,
) -> anyhow::Result<()> {
    let mut client = log.connect().await?;
    let subject = client
        .inclusion_proof(LeafRef::Hash(leaf), None)
        .await
        .context("finding the record in the log")?
        .leaf_index;
    // Prove against the latest anchored checkpoint that covers the record,
    // so the bundle also says when it existed; else the latest checkpoint.
    let (note, anchor) = match client.anchor(None).await {
        Ok(a) if a.tree_size > subject => (a.checkpoint_note.clone(), Some(a)),
        _ => (client.checkpoint(None).await?, None),
    };
    let cp = keys.read(&note)?.into_checkpoint();
    let mut seen: HashMap<Hash, u64> = HashMap::new();
    let mut queue = vec![leaf];
    let mut items = Vec::new();
    while let Some(h) = queue.pop() {
        if seen.contains_key(&h) {
            continue;
        }
        let p = client
            .inclusion_proof(LeafRef::Hash(h), Some(cp.size()))
            .await
            .with_context(|| format!("proving {h}"))?;
        let entry = client
            .entries(p.leaf_index, 1)
            .await?
            .pop()
            .with_context(|| format!("entry {} is missing", p.leaf_index))?;
        check_inclusion(&cp, p.leaf_index, &leaf_hash(&entry), &p.proof)?;
        if let Ok(record) = Envelope::decode(&entry).and_then(|e| e.record()) {
            queue.extend(record.references().iter().map(|r| r.hash));
        }
        seen.insert(h, p.leaf_index);
        items.push(json!({
            "index": p.leaf_index,
            "entry": BASE64.encode(&entry),
            "proof": p.proof.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        }));
    }
    items.sort_by_key(|i| i["index"].as_u64());
    let bundle = json!({
        "format": "causeway-proof-bundle/v1",
        "record": subject,
        "leaf_hash": leaf.to_hex(),
        "checkpoint": note,
        "anchor": anchor.as_ref().map(|a| json!({"tree_size": a.tree_size, "timestamp_response": BASE64.encode(&a.timestamp_response)})),
        "entries": items,
    });
    // Compact: every byte of the file is significant, so any change to it
    // makes verification fail.
    std::fs::write(out, serde_json::to_string(&bundle)?)
        .with_context(|| format!("writing {}", out.display()))?;
    if json_out {
        println!(
            "{}",
            json!({"out": out.display().to_string(), "record": subject, "entries": items.len(), "tree_size": cp.size(), "anchored": anchor.is_some()})
        );
    } else {
        println!(
            "wrote {}: record {subject} and {} ancestors, proved against checkpoint {}{}",
            out.display(),
            items.len() - 1,
            cp.size(),
            if anchor.is_some() {
                " (RFC 3161 anchored)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// `causeway verify FILE`: checks a proof bundle with no network.
pub fn verify_bundle(
    path: &Path,
    trust: &Trust,
    policy_path: Option<&Path>,
    json_out: bool,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let b: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if b["format"] != "causeway-proof-bundle/v1" {
        bail!("{} is not a causeway-proof-bundle/v1", path.display());
    }
    let note = b["checkpoint"].as_str().context("bundle: no checkpoint")?;
    let checked = trust
        .log
        .read(note)
        .context("the bundle's checkpoint does not verify")?;
    let cosigned = check_witnesses(note, &trust.witnesses, unix_now() as u64)
        .context("the bundle's checkpoint does not satisfy the witness policy")?;
    let cp = checked.checkpoint();
    // Every entry is in the checkpoint's tree.
    let mut entries: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for item in b["entries"].as_array().context("bundle: no entries")? {
        let index = item["index"]
            .as_u64()
            .context("bundle: entry without index")?;
        let entry = BASE64
            .decode(
                item["entry"]
                    .as_str()
                    .context("bundle: entry without bytes")?,
            )
            .context("bundle: entry is not base64")?;
        let proof: Vec<Hash> = item["proof"]
            .as_array()
            .context("bundle: entry without proof")?
            .iter()
            .map(|h| {
                h.as_str()
                    .and_then(|s| Hash::from_hex(s).ok())
                    .context("bundle: bad proof hash")
            })
            .collect::<anyhow::Result<_>>()?;
        check_inclusion(cp, index, &leaf_hash(&entry), &proof)
            .with_context(|| format!("entry {index} is not in the checkpoint's tree"))?;
        entries.insert(index, entry);
    }
    let subject = b["record"].as_u64().context("bundle: no record index")?;
    let Some(subject_entry) = entries.get(&subject) else {
        bail!("the bundle does not contain its record {subject}");
    };
    if b["leaf_hash"].as_str() != Some(leaf_hash(subject_entry).to_hex().as_str()) {
        bail!("the bundle's record {subject} does not have the leaf hash the bundle names");
    }
    // The anchor, if any: the TSA timestamped this checkpoint. Given
    // --tsa-roots, a bundle without one fails: the roots ask for the time
    // to be proved, and removing the anchor must not pass as "nothing to
    // check".
    let anchored = match (&b["anchor"], trust.tsa_roots.as_deref()) {
        (Value::Null, Some(r)) => bail!(
            "the bundle has no RFC 3161 anchor, but --tsa-roots {} asks for one to be verified:              nothing proves when its checkpoint existed (drop --tsa-roots to verify the bundle              without a time)",
            r.display()
        ),
        (Value::Null, None) => None,
        (a, roots) => {
            let der = BASE64
                .decode(
                    a["timestamp_response"]
                        .as_str()
                        .context("bundle: anchor without token")?,
                )
                .context("bundle: anchor is not base64")?;
            match roots {
                Some(r) => Some(
                    check_anchor(&der, body(note), &load_roots(r)?, None)
                        .context("the bundle's anchor does not verify")?,
                ),
                None => None,
            }
        }
    };
    // The records: each signed and authorized under the policy, every
    // reference resolved within the bundle to an earlier entry.
    let mut chain = Vec::new();
    if let Some(policy_path) = policy_path {
        let policy = load_policy(policy_path)?;
        let by_hash: HashMap<Hash, (u64, &Vec<u8>)> = entries
            .iter()
            .map(|(i, e)| (leaf_hash(e), (*i, e)))
            .collect();
        for (index, entry) in &entries {
            let mut lookup = |h: &Hash| {
                let (i, e) = by_hash.get(h)?;
                if i >= index {
                    return None;
                }
                let record = Envelope::decode(e).ok()?.record().ok()?;
                Some(Referenced { index: *i, record })
            };
            // As of the record's own time: the bundle proves what was
            // signed, not the log's clock at admission.
            let record = validate_at_record_time(entry, &policy, &mut lookup)
                .map_err(|r| anyhow::anyhow!("record {index} does not verify: {}", r.message))?
                .record;
            chain.push(json!({"index": index, "kind": record.kind().as_str()}));
        }
    }
    let subject_kind = Envelope::decode(&entries[&subject])
        .ok()
        .and_then(|e| e.record().ok())
        .map(|r| r.kind().as_str());
    if json_out {
        println!(
            "{}",
            json!({
                "record": subject,
                "kind": subject_kind,
                "tree_size": cp.size(),
                "root": cp.root().to_hex(),
                "entries": entries.len(),
                "chain": chain,
                "cosignatures": cosigned.len(),
                "anchored_at": anchored.as_ref().map(|a| a.gen_time_rfc3339.clone()),
                "anchor_verified": anchored.is_some(),
                "verified": checked.is_verified(),
            })
        );
    } else {
        println!(
            "record {subject} ({}) and {} ancestors are in the tree of size {} (root {})",
            subject_kind.unwrap_or("not a record"),
            entries.len() - 1,
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
        } else if !b["anchor"].is_null() {
            println!("the bundle's RFC 3161 anchor was NOT verified (no --tsa-roots)");
        }
        println!(
            "{}",
            if checked.is_verified() {
                "signature verified with the given --vkey keys"
            } else {
                "NOT VERIFIED: no --vkey given (signatures unchecked)"
            }
        );
    }
    Ok(())
}
