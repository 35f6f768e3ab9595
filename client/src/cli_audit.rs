//! The auditor's commands: `audit` (the whole log, verified and turned
//! into CC8.1 evidence), `prove bundle` / `verify` (offline proof of one
//! record and its causal ancestors) and `monitor` (follow a log and its
//! witnesses, flag forks).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use causeway_client::audit::{AuditInput, Thresholds, analyze};
use causeway_client::audit_html::{AnchorSummary, TrustBasis, render};
use causeway_client::tiles::{DirTiles, HttpTiles, TileSource, fetch_entries};
use causeway_client::verify::{
    WitnessPolicy, check_anchor, check_checkpoint, check_consistency, check_inclusion,
    check_witnesses,
};
use causeway_client::{LeafRef, LogClient, LogTarget};
use causeway_proto::checkpoint::Checkpoint;
use causeway_proto::merkle::{CompactRange, Hash, leaf_hash};
use causeway_proto::note::VerifierKey;
use causeway_proto::records::{Envelope, ProducerPolicy, Referenced, validate_at_record_time};
use causeway_proto::timestamp::TrustedRoots;
use serde_json::{Value, json};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn load_policy(path: &Path) -> anyhow::Result<ProducerPolicy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--policy {}: cannot read it", path.display()))?;
    ProducerPolicy::parse(&text).with_context(|| format!("--policy {}", path.display()))
}

fn load_roots(path: &Path) -> anyhow::Result<TrustedRoots> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("--tsa-roots {}: cannot read it", path.display()))?;
    TrustedRoots::from_pem_or_der(&bytes).with_context(|| format!("--tsa-roots {}", path.display()))
}

fn body(note: &str) -> &str {
    note.find("\n\n").map_or(note, |i| &note[..=i])
}

/// What `audit` was told to trust.
pub struct Trust {
    /// The log's verifier keys (`--vkey`).
    pub keys: Vec<VerifierKey>,
    /// The witness policy (`--witness-vkey`, `--quorum`, age bound).
    pub witnesses: WitnessPolicy,
    /// The TSA roots (`--tsa-roots`), if anchors are to be checked.
    pub tsa_roots: Option<std::path::PathBuf>,
}

/// `causeway audit`.
pub async fn audit(
    log: &LogTarget,
    tiles: &str,
    policy_path: &Path,
    out: &Path,
    trust: &Trust,
    json_out: bool,
) -> anyhow::Result<()> {
    if Path::new(tiles).is_dir() {
        audit_from(
            &DirTiles::new(Path::new(tiles)),
            log,
            tiles,
            policy_path,
            out,
            trust,
            json_out,
        )
        .await
    } else {
        let source = HttpTiles::with_ca(tiles, log.tls.ca_pem.as_deref())?;
        audit_from(&source, log, tiles, policy_path, out, trust, json_out).await
    }
}

#[allow(clippy::too_many_arguments)]
async fn audit_from<S: TileSource>(
    source: &S,
    log: &LogTarget,
    tiles: &str,
    policy_path: &Path,
    out: &Path,
    trust: &Trust,
    json_out: bool,
) -> anyhow::Result<()> {
    let policy = load_policy(policy_path)?;
    let thresholds = Thresholds::from_policy(&policy)
        .map_err(|e| anyhow::anyhow!("--policy {}: [audit]: {e}", policy_path.display()))?;
    let now = unix_now();

    // 1. The latest checkpoint served with the tiles: log signatures and
    //    the witness quorum.
    let note = source
        .checkpoint()
        .await
        .with_context(|| format!("fetching the checkpoint from {tiles}"))?;
    let checked = check_checkpoint(&note, &trust.keys)
        .context("AUDIT FAILED: the log's checkpoint does not verify")?;
    let cosigned = check_witnesses(&note, &trust.witnesses, now as u64)
        .context("AUDIT FAILED: the checkpoint does not satisfy the witness policy")?;
    let checkpoint = checked.checkpoint.clone();
    let size = checkpoint.size();

    // 2. Every entry, from the entry bundles.
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "fetching entries [{bar:40}] {pos}/{len} bundles ({eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    if json_out {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let entries = fetch_entries(source, size, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .context("AUDIT FAILED: fetching the entries")?;
    bar.finish_and_clear();

    // 3. Anchors and other checkpoints from the log's API, if reachable.
    let mut client = log.connect().await.ok();
    let mut anchor_list: Vec<(u64, i64)> = Vec::new();
    if let Some(c) = client.as_mut() {
        anchor_list = c.anchors(0, 0).await.unwrap_or_default();
        anchor_list.retain(|(s, _)| *s <= size);
    }
    let interesting: BTreeSet<u64> = anchor_list.iter().map(|(s, _)| *s).collect();

    // 4. Recompute the tree from the entries; keep the roots at every size
    //    some checkpoint claims.
    let mut range = CompactRange::new();
    let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
    if interesting.contains(&0) {
        roots.insert(0, range.root());
    }
    for entry in &entries {
        range.append(leaf_hash(entry), |_, _| {});
        if interesting.contains(&range.size()) {
            roots.insert(range.size(), range.root());
        }
    }
    if range.size() != size || range.root() != *checkpoint.root() {
        bail!(
            "AUDIT FAILED: TAMPERED OR FORKED LOG: the {} entries recompute to root {}, but the signed checkpoint at size {size} says {}",
            range.size(),
            range.root(),
            checkpoint.root()
        );
    }

    // 5. Every anchored checkpoint: signed by the log, on the same tree,
    //    and (with --tsa-roots) timestamped by the TSA.
    let roots_pem = trust.tsa_roots.as_deref().map(load_roots).transpose()?;
    let mut anchors = Vec::new();
    let mut anchor_summaries = Vec::new();
    if let Some(c) = client.as_mut() {
        for (anchor_size, _) in &anchor_list {
            let a = c.anchor(Some(*anchor_size)).await?;
            let cp = check_checkpoint(&a.checkpoint_note, &trust.keys)
                .with_context(|| {
                    format!("AUDIT FAILED: the checkpoint anchored at size {anchor_size}")
                })?
                .checkpoint;
            if Some(cp.root()) != roots.get(anchor_size) {
                bail!(
                    "AUDIT FAILED: FORK: the anchored checkpoint at size {anchor_size} has root {}, the entries give {}",
                    cp.root(),
                    roots
                        .get(anchor_size)
                        .map_or("nothing".into(), Hash::to_hex)
                );
            }
            let (gen_time, tsa) = match &roots_pem {
                Some(r) => {
                    let v = check_anchor(&a.timestamp_response, body(&a.checkpoint_note), r, None)
                        .with_context(|| {
                            format!("AUDIT FAILED: the anchor at size {anchor_size}")
                        })?;
                    (v.gen_time, v.signer_subject)
                }
                None => (a.gen_time, "unverified (no --tsa-roots)".into()),
            };
            anchors.push((*anchor_size, gen_time));
            anchor_summaries.push(AnchorSummary {
                tree_size: *anchor_size,
                gen_time: causeway_client::demo::rfc3339(gen_time),
                tsa,
            });
        }
    }

    // 6. The records: re-verified, the causal DAG, the red flags, CC8.1.
    let indexed: Vec<(u64, Vec<u8>)> = (0u64..).zip(entries).collect();
    let report = analyze(&AuditInput {
        entries: &indexed,
        policy: &policy,
        thresholds: &thresholds,
        anchors: &anchors,
        now,
    });
    let mut value = serde_json::to_value(&report)?;
    let trust_basis = TrustBasis {
        log_origin: checkpoint.origin().to_owned(),
        log_vkeys: trust.keys.iter().map(ToString::to_string).collect(),
        witness_vkeys: trust
            .witnesses
            .keys
            .iter()
            .map(ToString::to_string)
            .collect(),
        witness_quorum: trust.witnesses.quorum,
        checkpoint_note: note.clone(),
        tree_size: size,
        root_hex: checkpoint.root().to_hex(),
        anchors: anchor_summaries,
        tsa_roots: trust
            .tsa_roots
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        generated_at: causeway_client::demo::rfc3339(now),
    };
    value["verification"] = json!({
        "tree_size": size,
        "root": checkpoint.root().to_hex(),
        "log_signature_verified": checked.verified,
        "cosignatures": cosigned.iter().map(|c| json!({"witness": c.witness, "time": c.time})).collect::<Vec<_>>(),
        "anchors_checked": anchors.len(),
        "anchors_verified_with_tsa_roots": roots_pem.is_some(),
    });
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&value)?,
    )?;
    std::fs::write(out.join("index.html"), render(&value, &trust_basis))?;

    let flags: Vec<Value> = value["red_flags"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|f| json!({"kind": f["kind"], "record": f["record"], "detail": f["detail"]}))
        .collect();
    if json_out {
        println!(
            "{}",
            json!({
                "origin": checkpoint.origin(),
                "tree_size": size,
                "root": checkpoint.root().to_hex(),
                "verified": checked.verified,
                "summary": value["summary"],
                "red_flags": flags,
                "out": out.display().to_string(),
            })
        );
    } else {
        println!(
            "audited {} entries of {} (root {}): tree, signatures{}{} verified",
            size,
            checkpoint.origin(),
            checkpoint.root(),
            if cosigned.is_empty() {
                ""
            } else {
                ", witness quorum"
            },
            if anchors.is_empty() { "" } else { ", anchors" },
        );
        println!("{}", value["summary"]);
        if flags.is_empty() {
            println!("no red flags");
        }
        for f in &flags {
            println!(
                "RED FLAG {} at record {}: {}",
                f["kind"], f["record"], f["detail"]
            );
        }
        println!("report: {}", out.join("index.html").display());
    }
    Ok(())
}

/// `causeway prove bundle`: the record, its causal ancestors, their
/// inclusion proofs, the checkpoint they are proved against and its anchor.
pub async fn bundle(
    log: &LogTarget,
    keys: &[VerifierKey],
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
    let cp = check_checkpoint(&note, keys)?.checkpoint;
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
    let checked =
        check_checkpoint(note, &trust.keys).context("the bundle's checkpoint does not verify")?;
    let cosigned = check_witnesses(note, &trust.witnesses, unix_now() as u64)
        .context("the bundle's checkpoint does not satisfy the witness policy")?;
    let cp = &checked.checkpoint;
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
    // The anchor, if any: the TSA timestamped this checkpoint.
    let anchored = match (&b["anchor"], trust.tsa_roots.as_deref()) {
        (Value::Null, _) => None,
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
                "verified": checked.verified,
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
                "that tree existed by {} according to {}",
                a.gen_time_rfc3339, a.signer_subject
            );
        }
        println!(
            "{}",
            if checked.verified {
                "signature verified with the given --vkey keys"
            } else {
                "NOT VERIFIED: no --vkey given (signatures unchecked)"
            }
        );
    }
    Ok(())
}

/// `causeway monitor`: follows the log and its witnesses; one JSON line
/// per event; an error (non-zero exit) on any inconsistency.
pub async fn monitor(
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
        let cp = check_checkpoint(&note, &trust.keys)
            .context("MISBEHAVIOUR: the log's checkpoint does not verify")?
            .checkpoint;
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
            let origin_hash = hex::encode(sha2_256(cp.origin().as_bytes()));
            let response = http
                .get(format!(
                    "{}/{origin_hash}/checkpoint",
                    url.trim_end_matches('/')
                ))
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
            let seen = check_checkpoint(&theirs, &trust.keys)
                .with_context(|| format!("MISBEHAVIOUR: witness {url} holds a checkpoint the log's keys do not verify"))?
                .checkpoint;
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

fn sha2_256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

/// Checks that `old` is a prefix of `new` with a proof from the log; a
/// split view otherwise.
async fn consistent(
    client: &mut LogClient,
    old: &Checkpoint,
    new: &Checkpoint,
    whose: &str,
) -> anyhow::Result<()> {
    if old.size() == new.size() {
        if old.root() != new.root() {
            println!(
                "{}",
                json!({"event": "split_view", "source": whose, "size": old.size(), "roots": [old.root().to_hex(), new.root().to_hex()]})
            );
            bail!(
                "MISBEHAVIOUR: two signed checkpoints of size {} with different roots ({whose})",
                old.size()
            );
        }
        return Ok(());
    }
    if old.size() == 0 {
        return Ok(());
    }
    let proof = client.consistency_proof(old.size(), Some(new.size())).await;
    let ok = match proof {
        Ok((n, p)) if n == new.size() => check_consistency(old, new, &p).is_ok(),
        _ => false,
    };
    if !ok {
        println!(
            "{}",
            json!({"event": "inconsistent", "source": whose, "old_size": old.size(), "new_size": new.size()})
        );
        bail!(
            "MISBEHAVIOUR: the log cannot prove checkpoint {} consistent with {} ({whose})",
            old.size(),
            new.size()
        );
    }
    Ok(())
}
