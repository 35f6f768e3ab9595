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
    Cosigned, WitnessPolicy, check_anchor, check_checkpoint, check_consistency, check_inclusion,
    check_witnesses,
};
use causeway_client::visible::for_terminal;
use causeway_client::{LeafRef, LogClient, LogTarget};
use causeway_records::{Envelope, ProducerPolicy, Referenced, validate_at_record_time};
use causeway_rfc3161::TrustedRoots;
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{CompactRange, Hash, leaf_hash};
use causeway_tlog::note::VerifierKey;
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

/// What the auditor's commands were told to trust.
pub struct Trust {
    /// The log's verifier keys (`--vkey`).
    pub keys: Vec<VerifierKey>,
    /// The witness policy (`--witness-vkey`, `--quorum`, age bound).
    pub witnesses: WitnessPolicy,
    /// The TSA roots (`--tsa-roots`), if anchors are to be checked.
    pub tsa_roots: Option<std::path::PathBuf>,
    /// `audit --unverified`: audit without the log's keys, saying so in
    /// every output. Without it and without keys `audit` refuses to run.
    pub unverified: bool,
}

/// The exit code of an audit that found nothing wrong but ran with
/// `--unverified`: its report was written, yet nothing shows that the log
/// signed what it served, so it must not pass as a successful audit.
pub const EXIT_UNVERIFIED: u8 = 3;

/// An audit that ran to its end with `--unverified`; `main` exits with
/// [`EXIT_UNVERIFIED`] for it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unverified(String);

/// What an audit checked, and what it did not: every output (the verdict
/// line, `--json`, `report.json`, the HTML trust basis) says exactly this.
struct Checked {
    /// The entries recomputed to the checkpoint's root.
    entries: u64,
    /// The log keys the checkpoint's signatures verified with (0: none).
    log_keys: usize,
    /// The witness keys given.
    witness_keys: usize,
    /// How many had to cosign (0: witnesses not checked).
    quorum: usize,
    /// The cosignatures that counted.
    cosigned: Vec<Cosigned>,
    /// Anchored checkpoints of this tree checked (log signature, root).
    anchors: usize,
    /// Whether their TSA signatures were verified too (`--tsa-roots`).
    tsa_roots: bool,
    /// Why no anchor could be looked at, if none could.
    anchors_unavailable: Option<String>,
}

impl Checked {
    fn checked(&self) -> Vec<String> {
        let mut v = vec![format!(
            "tree ({} entries recomputed to the checkpoint's root)",
            self.entries
        )];
        if self.log_keys > 0 {
            v.push(format!("log signatures ({})", count(self.log_keys, "key")));
        }
        if self.quorum > 0 {
            v.push(format!(
                "witness quorum ({} of {} cosigned, {} required)",
                self.cosigned.len(),
                self.witness_keys,
                self.quorum
            ));
        }
        if self.anchors > 0 && self.tsa_roots {
            v.push(format!(
                "{} (TSA signatures with --tsa-roots)",
                count(self.anchors, "anchor")
            ));
        } else if self.anchors > 0 {
            v.push(format!(
                "{} (on this tree{})",
                count(self.anchors, "anchored checkpoint"),
                if self.log_keys > 0 {
                    ", signed by the log"
                } else {
                    ""
                }
            ));
        }
        v
    }

    fn not_checked(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.log_keys == 0 {
            v.push("log signatures (--unverified: no --vkey)".to_owned());
        }
        if self.quorum == 0 {
            v.push(if self.witness_keys == 0 {
                "witness cosignatures (no --witness-vkey)".to_owned()
            } else {
                "witness cosignatures (--quorum 0)".to_owned()
            });
        }
        if let Some(why) = &self.anchors_unavailable {
            v.push(format!("anchors ({why})"));
        } else if self.anchors == 0 {
            v.push("anchors (the log lists none for this tree)".to_owned());
        } else if !self.tsa_roots {
            v.push(format!(
                "the TSA signatures of {} (no --tsa-roots)",
                count(self.anchors, "anchor")
            ));
        }
        v
    }
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// How an audit ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Everything checked passed, with the log's keys.
    Verified,
    /// Nothing failed, but the log's signatures were not checked.
    Unverified,
    /// Some entries are not valid records of this log.
    Failed,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Verified => "verified",
            Status::Unverified => "unverified",
            Status::Failed => "failed",
        }
    }
}

/// `causeway audit`.
pub async fn audit(
    log: &LogTarget,
    tiles: &str,
    http_timeout: std::time::Duration,
    policy_path: &Path,
    out: &Path,
    trust: &Trust,
    json_out: bool,
) -> anyhow::Result<()> {
    // Before fetching anything: without the log's keys nothing shows who
    // wrote the checkpoint, so say so up front rather than audit a forgery.
    match (trust.keys.is_empty(), trust.unverified) {
        (true, false) => bail!(
            "no log keys: pass the log's verifier keys with --vkey (repeatable, or \
             CAUSEWAY_VKEYS) so the audit can check who signed the checkpoint, or --unverified \
             to audit anyway (every output then says UNVERIFIED and the exit code is {EXIT_UNVERIFIED})"
        ),
        (false, true) => bail!(
            "--unverified contradicts the --vkey keys given (or CAUSEWAY_VKEYS): drop \
             --unverified to verify the log's signatures with them"
        ),
        _ => {}
    }
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
        let source = HttpTiles::with_ca(tiles, log.tls.ca_pem.as_deref())?.timeout(http_timeout);
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
    let roots_pem = trust.tsa_roots.as_deref().map(load_roots).transpose()?;
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

    // 2. The anchors the log lists, from its API. With --tsa-roots they
    //    are what was asked for, so not being able to list any fails the
    //    audit before the entries are fetched.
    let (mut client, anchor_list, anchors_unavailable) = match log.connect().await {
        Ok(mut c) => match c.anchors(0, 0).await {
            Ok(mut list) => {
                list.retain(|(s, _)| *s <= size);
                (Some(c), list, None)
            }
            Err(e) => (
                None,
                Vec::new(),
                Some(format!(
                    "ListAnchors on the log at --log {} failed: {e}",
                    log.url
                )),
            ),
        },
        Err(e) => (
            None,
            Vec::new(),
            Some(format!("the log at --log {} is unreachable: {e}", log.url)),
        ),
    };
    if roots_pem.is_some() {
        let why = match &anchors_unavailable {
            Some(why) => why.clone(),
            None if anchor_list.is_empty() => format!(
                "the log at --log {} lists no anchor of a tree of at most {size} entries",
                log.url
            ),
            None => String::new(),
        };
        if !why.is_empty() {
            bail!(
                "AUDIT FAILED: NO ANCHOR VERIFIED: --tsa-roots asks for the log's RFC 3161 \
                 anchors to be verified, but {why}; point --log at the log's gRPC address, or \
                 drop --tsa-roots to audit without anchors"
            );
        }
    }
    let interesting: BTreeSet<u64> = anchor_list.iter().map(|(s, _)| *s).collect();

    // 3. Every entry, from the entry bundles.
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
    let mut anchors = Vec::new();
    let mut anchor_summaries = Vec::new();
    if let Some(c) = client.as_mut() {
        for (anchor_size, _) in &anchor_list {
            let a = c.anchor(Some(*anchor_size)).await.with_context(|| {
                format!(
                    "AUDIT FAILED: fetching the anchor at size {anchor_size} from --log {}",
                    log.url
                )
            })?;
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
    let facts = Checked {
        entries: size,
        log_keys: if checked.verified {
            trust.keys.len()
        } else {
            0
        },
        witness_keys: trust.witnesses.keys.len(),
        quorum: trust.witnesses.quorum,
        cosigned: cosigned.clone(),
        anchors: anchors.len(),
        tsa_roots: roots_pem.is_some(),
        anchors_unavailable,
    };

    // 6. The records: re-verified, the causal DAG, the red flags, CC8.1.
    let indexed: Vec<(u64, Vec<u8>)> = (0u64..).zip(entries).collect();
    let report = analyze(&AuditInput {
        entries: &indexed,
        policy: &policy,
        thresholds: &thresholds,
        anchors: &anchors,
        now,
    });
    // Entries that are not valid records (an operator's own bytes, a
    // duplicate, a record admission must refuse) mean the log did not
    // apply its rules: the audit fails, after writing the report that
    // lists them.
    let status = if !report.invalid.is_empty() {
        Status::Failed
    } else if checked.verified {
        Status::Verified
    } else {
        Status::Unverified
    };
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
        log_signatures_verified: checked.verified,
        witness_cosignatures: cosigned.len(),
        anchors_verified: facts.tsa_roots && facts.anchors > 0,
        anchors_unavailable: facts.anchors_unavailable.clone(),
    };
    value["verification"] = json!({
        "status": status.word(),
        "tree_size": size,
        "root": checkpoint.root().to_hex(),
        "log_signature_verified": checked.verified,
        "log_keys_checked": facts.log_keys,
        "witnesses_checked": facts.quorum > 0,
        "witness_quorum": facts.quorum,
        "cosignatures": cosigned.iter().map(|c| json!({"witness": c.witness, "time": c.time})).collect::<Vec<_>>(),
        "anchors_checked": facts.anchors,
        "anchors_verified_with_tsa_roots": facts.tsa_roots && facts.anchors > 0,
        "checked": facts.checked(),
        "not_checked": facts.not_checked(),
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
    let invalid: Vec<String> = report
        .invalid
        .iter()
        .map(|i| format!("#{} {}: {}", i.index, i.code, i.reason))
        .collect();
    if json_out {
        println!(
            "{}",
            json!({
                "origin": checkpoint.origin(),
                "tree_size": size,
                "root": checkpoint.root().to_hex(),
                "status": status.word(),
                "verified": checked.verified,
                "checked": facts.checked(),
                "not_checked": facts.not_checked(),
                "witnesses_checked": facts.quorum > 0,
                "summary": value["summary"],
                "red_flags": flags,
                "invalid": value["invalid"],
                "out": out.display().to_string(),
            })
        );
    } else {
        let mut verdict = format!(
            "audited {} entries of {} (root {}): {}: ",
            size,
            checkpoint.origin(),
            checkpoint.root(),
            status.word().to_uppercase(),
        );
        if status == Status::Failed {
            verdict.push_str(&if invalid.len() == 1 {
                "1 entry is not a valid record; ".to_owned()
            } else {
                format!("{} entries are not valid records; ", invalid.len())
            });
        }
        verdict.push_str(&format!("checked {}", facts.checked().join(", ")));
        let not = facts.not_checked();
        if !not.is_empty() {
            verdict.push_str(&format!("; NOT checked: {}", not.join(", ")));
        }
        println!("{}", for_terminal(&verdict));
        println!("{}", value["summary"]);
        if flags.is_empty() {
            println!("no red flags");
        }
        for f in &flags {
            // Record text: invisible characters dropped (see visible.rs).
            println!(
                "{}",
                for_terminal(&format!(
                    "RED FLAG {} at record {}: {}",
                    f["kind"], f["record"], f["detail"]
                ))
            );
        }
        for i in &invalid {
            println!("{}", for_terminal(&format!("INVALID ENTRY {i}")));
        }
        println!("report: {}", out.join("index.html").display());
    }
    match status {
        Status::Verified => Ok(()),
        Status::Failed => {
            const SHOWN: usize = 10;
            let mut list = invalid[..invalid.len().min(SHOWN)].join("; ");
            if invalid.len() > SHOWN {
                list.push_str(&format!("; and {} more", invalid.len() - SHOWN));
            }
            bail!(
                "AUDIT FAILED: INVALID ENTRIES: {} of the log's {size} entries are not valid \
                 records, which the log must refuse (listed under Invalid entries in {}): {list}",
                invalid.len(),
                out.join("index.html").display()
            )
        }
        Status::Unverified => Err(Unverified(format!(
            "UNVERIFIED: the audit ran with --unverified: the tree was recomputed and the records \
             checked, but no log signature was, so nothing shows the log wrote these entries; \
             re-run with the log's keys (--vkey) for evidence (report: {})",
            out.join("index.html").display()
        ))
        .into()),
    }
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
