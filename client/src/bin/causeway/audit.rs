//! `causeway audit`: the whole log fetched from its tiles, recomputed and
//! checked against the signed checkpoint and its anchors, every record
//! re-verified, and the result written as `report.json` and `index.html`;
//! with `--state DIR`, also kept in the auditor's own SQLite evidence store
//! (`causeway_client::audit_state`), whose checkpoint each later audit
//! first proves consistent with the log's new one.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, bail};
use causeway_client::LogTarget;
use causeway_client::audit::files::write_jsonl;
use causeway_client::audit::{
    ACTIONS_FILE, AuditInput, AuditStatus as Status, FINDINGS_FILE, ReportFile, Thresholds,
    Verification, WitnessCosignature, analyze, analyze_indexed,
};
use causeway_client::audit_html::{AnchorSummary, TrustBasis, render};
use causeway_client::audit_state::{State, StoredCheckpoint, fork};
use causeway_client::auditor::{
    AnchorError, AnchorsUnavailable, check_anchor_on_tree, list_anchors, recompute_tree,
};
use causeway_client::tiles::{DirTiles, HttpTiles, TileSource, TileTree, fetch_entries};
use causeway_client::verify::{Cosigned, LogKeys, check_witnesses};
use causeway_client::visible::for_terminal;
use serde_json::{Value, json};

use crate::trust::{Trust, load_policy, load_roots, unix_now};

pub(crate) const EXIT_UNVERIFIED: u8 = 3;

/// An audit that ran to its end with `--unverified`; `main` exits with
/// [`EXIT_UNVERIFIED`] for it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unverified(String);

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

/// Checks the log keys against `--unverified` before anything is fetched:
/// without the log's keys nothing shows who wrote the checkpoint, so the
/// audit says so up front rather than audit a forgery, and only
/// `--unverified` makes it run without them.
pub(crate) fn require_keys(log: &LogKeys, unverified: bool) -> anyhow::Result<()> {
    match (log, unverified) {
        (LogKeys::Unverified, false) => bail!(
            "no log keys: pass the log's verifier keys with --vkey (repeatable, or \
             CAUSEWAY_VKEYS) so the audit can check who signed the checkpoint, or --unverified \
             to audit anyway (every output then says UNVERIFIED and the exit code is {EXIT_UNVERIFIED})"
        ),
        (LogKeys::Verify(_), true) => bail!(
            "--unverified contradicts the --vkey keys given (or CAUSEWAY_VKEYS): drop \
             --unverified to verify the log's signatures with them"
        ),
        _ => Ok(()),
    }
}

/// `causeway audit`; with `state`, the audit state directory (`--state`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit(
    log: &LogTarget,
    tiles: &str,
    http_timeout: std::time::Duration,
    policy_path: &Path,
    out: &Path,
    state: Option<&Path>,
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
            state,
            trust,
            json_out,
        )
        .await
    } else {
        let source = HttpTiles::with_ca(tiles, log.tls.ca_pem.as_deref())?.timeout(http_timeout);
        audit_from(
            &source,
            log,
            tiles,
            policy_path,
            out,
            state,
            trust,
            json_out,
        )
        .await
    }
}

/// Opens the state at `dir` and, when it holds an audited checkpoint,
/// proves it consistent with `checkpoint` (signed note `note`) of `source`
/// before anything else is fetched. A fork fails the audit with its
/// evidence, also written to `dir/fork-evidence.json`.
async fn open_state<S: TileSource>(
    dir: &Path,
    source: &S,
    tiles: &str,
    checkpoint: &causeway_tlog::checkpoint::Checkpoint,
    note: &str,
) -> anyhow::Result<State> {
    let state = State::open_or_create(dir).context("AUDIT FAILED: --state")?;
    let Some(stored) = state.checkpoint().context("AUDIT FAILED: --state")? else {
        return Ok(state);
    };
    let size = checkpoint.size();
    let proof = if fork::needs_proof(&stored, size) {
        TileTree::new(source, size)
            .consistency_proof(stored.size)
            .await
            .with_context(|| {
                format!(
                    "AUDIT FAILED: fetching the consistency proof from the audited size {} to {size} \
                     from {tiles}; the state is unchanged",
                    stored.size
                )
            })?
    } else {
        Vec::new()
    };
    if let Err(evidence) = fork::check(&stored, checkpoint, note, &proof) {
        let written = evidence.write(dir).map_or_else(
            |e| {
                format!(
                    "could not write {}: {e}",
                    dir.join(fork::EVIDENCE_FILE).display()
                )
            },
            |p| format!("evidence written to {}", p.display()),
        );
        let proof = if evidence.proof.is_empty() {
            "  (none)".to_owned()
        } else {
            evidence
                .proof
                .iter()
                .map(|h| format!("  {h}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        bail!(
            "AUDIT FAILED: {evidence}\n{written}\nthe audited checkpoint (in {}):\n{}\nthe log's \
             checkpoint now:\n{}\nconsistency proof from size {} to {}:\n{proof}",
            state.path().display(),
            stored.note.trim_end(),
            note.trim_end(),
            stored.size,
            size
        );
    }
    Ok(state)
}

#[allow(clippy::too_many_arguments)]
async fn audit_from<S: TileSource>(
    source: &S,
    log: &LogTarget,
    tiles: &str,
    policy_path: &Path,
    out: &Path,
    state_dir: Option<&Path>,
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
    let checked = trust
        .log
        .read(&note)
        .context("AUDIT FAILED: the log's checkpoint does not verify")?;
    let cosigned = check_witnesses(&note, &trust.witnesses, now as u64)
        .context("AUDIT FAILED: the checkpoint does not satisfy the witness policy")?;
    let checkpoint = checked.checkpoint().clone();
    let size = checkpoint.size();
    // 1b. The state's checkpoint must be a prefix of this one, before
    //     anything else is fetched.
    let mut state = match state_dir {
        Some(dir) => Some(open_state(dir, source, tiles, &checkpoint, &note).await?),
        None => None,
    };

    // 2. The anchors the log lists, from its API. With --tsa-roots they
    //    are what was asked for, so not being able to list any fails the
    //    audit before the entries are fetched.
    let listed = list_anchors(log, size).await;
    let (mut client, anchor_list) = (listed.client, listed.anchors);
    let anchors_unavailable = listed.unavailable.map(|why| match why {
        AnchorsUnavailable::ListFailed(e) => {
            format!("ListAnchors on the log at --log {} failed: {e}", log.url)
        }
        AnchorsUnavailable::Unreachable(e) => {
            format!("the log at --log {} is unreachable: {e}", log.url)
        }
    });
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
    let roots = recompute_tree(&entries, &checkpoint, &interesting)
        .map_err(|e| anyhow::Error::new(e).context("AUDIT FAILED"))?;

    // 5. Every anchored checkpoint: signed by the log, on the same tree,
    //    and (with --tsa-roots) timestamped by the TSA.
    let mut anchors = Vec::new();
    let mut anchor_summaries = Vec::new();
    if let Some(c) = client.as_mut() {
        for (anchor_size, _) in &anchor_list {
            let checked =
                check_anchor_on_tree(c, *anchor_size, &trust.log, &roots, roots_pem.as_ref()).await;
            let anchor = checked.map_err(|e| match e {
                AnchorError::Fetch(e) => anyhow::Error::new(e).context(format!(
                    "AUDIT FAILED: fetching the anchor at size {anchor_size} from --log {}",
                    log.url
                )),
                AnchorError::Checkpoint(e) => anyhow::Error::new(e).context(format!(
                    "AUDIT FAILED: the checkpoint anchored at size {anchor_size}"
                )),
                AnchorError::Timestamp(e) => anyhow::Error::new(e)
                    .context(format!("AUDIT FAILED: the anchor at size {anchor_size}")),
                fork @ AnchorError::Fork { .. } => anyhow::Error::new(fork).context("AUDIT FAILED"),
            })?;
            anchors.push((anchor.tree_size, anchor.gen_time));
            anchor_summaries.push(AnchorSummary {
                tree_size: anchor.tree_size,
                gen_time: causeway_client::demo::rfc3339(anchor.gen_time),
                tsa: anchor.tsa,
            });
        }
    }
    let facts = Checked {
        entries: size,
        log_keys: if checked.is_verified() {
            trust.log.keys().len()
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
    let input = AuditInput {
        entries: &indexed,
        policy: &policy,
        thresholds: &thresholds,
        anchors: &anchors,
        now,
    };
    let (report, index) = if state.is_some() {
        let (report, index) = analyze_indexed(&input);
        (report, Some(index))
    } else {
        (analyze(&input), None)
    };
    // Entries that are not valid records (an operator's own bytes, a
    // duplicate, a record admission must refuse) mean the log did not
    // apply its rules: the audit fails, after writing the report that
    // lists them.
    let status = if !report.invalid.is_empty() {
        Status::Failed
    } else if checked.is_verified() {
        Status::Verified
    } else {
        Status::Unverified
    };
    let trust_basis = TrustBasis {
        log_origin: checkpoint.origin().to_owned(),
        log_vkeys: trust.log.keys().iter().map(ToString::to_string).collect(),
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
        log_signatures_verified: checked.is_verified(),
        witness_cosignatures: cosigned.len(),
        anchors_verified: facts.tsa_roots && facts.anchors > 0,
        anchors_unavailable: facts.anchors_unavailable.clone(),
    };
    let verification = Verification {
        status,
        tree_size: size,
        root: checkpoint.root().to_hex(),
        log_signature_verified: checked.is_verified(),
        log_keys_checked: facts.log_keys,
        witnesses_checked: facts.quorum > 0,
        witness_quorum: facts.quorum,
        cosignatures: cosigned
            .iter()
            .map(|c| WitnessCosignature {
                witness: c.witness.clone(),
                time: c.time,
            })
            .collect(),
        anchors_checked: facts.anchors,
        anchors_verified_with_tsa_roots: facts.tsa_roots && facts.anchors > 0,
        checked: facts.checked(),
        not_checked: facts.not_checked(),
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let summary_file = ReportFile::new(&report, &verification);
    let create = |name: &str| {
        let path = out.join(name);
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))
    };
    let mut report_json = std::io::BufWriter::new(create("report.json")?);
    serde_json::to_writer_pretty(&mut report_json, &summary_file)?;
    std::io::Write::flush(&mut report_json)?;
    write_jsonl(create(ACTIONS_FILE)?, &report.actions)
        .with_context(|| format!("writing {ACTIONS_FILE}"))?;
    write_jsonl(create(FINDINGS_FILE)?, &report.red_flags)
        .with_context(|| format!("writing {FINDINGS_FILE}"))?;
    std::fs::write(
        out.join("index.html"),
        render(&report, &verification, &trust_basis),
    )?;

    // 7. The state: only now, after everything above verified.
    let stored = match (state.as_mut(), &index) {
        (Some(st), Some(index)) => {
            let update = st
                .store(
                    &StoredCheckpoint {
                        size,
                        root_hex: checkpoint.root().to_hex(),
                        note: note.clone(),
                        audited_at: causeway_client::demo::rfc3339(now),
                    },
                    index,
                    &report.red_flags,
                    &report.invalid,
                )
                .context("AUDIT FAILED: writing --state")?;
            Some(json!({
                "path": st.path().display().to_string(),
                "records_added": update.added,
                "records_kept": update.kept,
                "findings": update.findings,
            }))
        }
        _ => None,
    };

    let flags: Vec<Value> = summary_file
        .red_flags
        .iter()
        .map(|f| json!({"kind": f.kind, "record": f.record, "detail": f.detail}))
        .collect();
    let invalid: Vec<String> = summary_file
        .invalid
        .iter()
        .map(|i| format!("#{} {}: {}", i.index, i.code, i.reason))
        .collect();
    let invalid_total = summary_file.invalid_total;
    if json_out {
        println!(
            "{}",
            json!({
                "origin": checkpoint.origin(),
                "tree_size": size,
                "root": checkpoint.root().to_hex(),
                "status": status.word(),
                "verified": checked.is_verified(),
                "checked": facts.checked(),
                "not_checked": facts.not_checked(),
                "witnesses_checked": facts.quorum > 0,
                "summary": summary_file.summary,
                "red_flags": flags,
                "red_flags_total": summary_file.red_flags_total,
                "invalid": summary_file.invalid,
                "invalid_total": summary_file.invalid_total,
                "out": out.display().to_string(),
                "state": stored,
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
            verdict.push_str(&if invalid_total == 1 {
                "1 entry is not a valid record; ".to_owned()
            } else {
                format!("{invalid_total} entries are not valid records; ")
            });
        }
        verdict.push_str(&format!("checked {}", facts.checked().join(", ")));
        let not = facts.not_checked();
        if !not.is_empty() {
            verdict.push_str(&format!("; NOT checked: {}", not.join(", ")));
        }
        println!("{}", for_terminal(&verdict));
        println!("{}", json!(summary_file.summary));
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
        let more = summary_file.red_flags_total - flags.len();
        if more > 0 {
            println!(
                "and {more} more red flags: every red flag is in {}",
                out.join(FINDINGS_FILE).display()
            );
        }
        for i in &invalid {
            println!("{}", for_terminal(&format!("INVALID ENTRY {i}")));
        }
        println!("report: {}", out.join("index.html").display());
        if let Some(s) = &stored {
            println!(
                "state: {}: {} records added, {} kept, {} findings",
                s["path"].as_str().unwrap_or_default(),
                s["records_added"],
                s["records_kept"],
                s["findings"]
            );
        }
    }
    match status {
        Status::Verified => Ok(()),
        Status::Failed => {
            const SHOWN: usize = 10;
            let mut list = invalid[..invalid.len().min(SHOWN)].join("; ");
            if invalid_total > SHOWN {
                list.push_str(&format!("; and {} more", invalid_total - SHOWN));
            }
            bail!(
                "AUDIT FAILED: INVALID ENTRIES: {} of the log's {size} entries are not valid \
                 records, which the log must refuse (listed under Invalid entries in {}): {list}",
                invalid_total,
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
