//! `causeway preflight`: the checks of `causeway-preflight` run on a
//! change, their `preflight` record signed with a verifier's key and
//! submitted through [`submit::send_entries`] (the path `causeway submit
//! --key` takes). A block verdict ends the command with [`Blocked`], which
//! `main` turns into exit code [`EXIT_BLOCKED`] once the record is written.

use causeway_client::visible::for_terminal;
use causeway_preflight::Error as CheckError;
use causeway_preflight::command::CustomCheck;
use causeway_preflight::plan::Plan;
use causeway_preflight::report::{Outcome, Report};
use causeway_records::{Envelope, Preflight, Record, RecordRef, Stage};
use causeway_tlog::merkle::leaf_hash;
use serde_json::json;

use crate::cli::PreflightArgs;
use crate::records::load_key;
use crate::submit::{self, record_time};

/// The exit code of a pre-flight whose verdict is block.
pub(crate) const EXIT_BLOCKED: u8 = 3;

/// The verdict was block: the change must not go ahead. Not a failure of
/// the command (the record was written), so `main` prints it as a verdict.
#[derive(Debug, thiserror::Error)]
#[error("verdict block: {}{}", blocked_phrase(.checks), if *.dry_run { " (dry run: nothing submitted)" } else { "; the block record is in the log" })]
pub(crate) struct Blocked {
    /// The names of the checks that blocked (empty when there was none).
    checks: Vec<String>,
    dry_run: bool,
}

/// `a, b blocked`, or why a pre-flight without checks blocks.
fn blocked_phrase(checks: &[String]) -> String {
    if checks.is_empty() {
        String::from(
            "no check ran, and a pre-flight that checked nothing vouches for nothing (give --lockfile, --freeze or --check)",
        )
    } else {
        format!("{} blocked", checks.join(", "))
    }
}

/// `causeway preflight`.
pub(crate) async fn preflight(args: PreflightArgs) -> anyhow::Result<()> {
    let subject: RecordRef = args.subject.parse().map_err(|e| {
        anyhow::anyhow!(
            "--subject {:?}: {e}; give the leaf hash of the authorization or credential \
             checked, as `causeway submit` printed it",
            args.subject
        )
    })?;
    let key = load_key(&args.key)?;
    let checks = args
        .checks
        .iter()
        .map(|c| CustomCheck::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| with_hint(e, &args))?;
    let now = jiff::Timestamp::now();
    let at = args.at.unwrap_or(now);
    let plan = Plan {
        osv_dir: args.osv.clone(),
        lockfiles: args.lockfiles.clone(),
        freeze: args.freeze.clone(),
        checks,
    };
    let report = plan.run(at).map_err(|e| with_hint(e, &args))?;

    let stage: Stage = args.stage.into();
    let record = Record::Preflight(Preflight {
        subject,
        stage,
        checks: report.record_checks(),
        verdict: report.record_verdict(),
        time: record_time(now)?,
    });
    let envelope = Envelope::sign(&record, &key);
    let entry = envelope.encode();
    let json_out = args.common.json;
    if !json_out {
        print_summary(&report, subject, stage, at);
    }

    let mut fields = json!({
        "subject": subject.to_string(),
        "stage": stage_name(stage),
        "judged_at": at.to_string(),
        "verdict": report.verdict().as_str(),
        "checks": report.checks,
    });
    if args.dry_run {
        let hash = leaf_hash(&entry);
        if json_out {
            fields["submitted"] = json!(false);
            fields["leaf_hash"] = json!(hash.to_hex());
            fields["record"] = record.to_json();
            fields["envelope"] = envelope.to_dsse_json();
            println!("{fields}");
        } else {
            println!("dry run, nothing submitted; the signed record (leaf hash {hash}):");
            let text = serde_json::to_string_pretty(&record.to_json())?;
            println!("{}", for_terminal(&text));
        }
    } else {
        let s = submit::send_one(&args.common, "the preflight record", entry).await?;
        if json_out {
            fields["submitted"] = json!(true);
            fields["index"] = json!(s.index);
            fields["leaf_hash"] = json!(s.leaf_hash.to_hex());
            fields["duplicate"] = json!(s.duplicate);
            fields["tree_size"] = json!(s.tree_size);
            fields["verified"] = json!(s.verified);
            println!("{fields}");
        } else {
            let dup = if s.duplicate {
                " (already in the log)"
            } else {
                ""
            };
            println!(
                "preflight record: index {} leaf {}{dup}",
                s.index, s.leaf_hash
            );
        }
    }

    match report.verdict() {
        Outcome::Pass => Ok(()),
        Outcome::Block => Err(Blocked {
            checks: report
                .checks
                .iter()
                .filter(|c| c.outcome == Outcome::Block)
                .map(|c| c.name.clone())
                .collect(),
            dry_run: args.dry_run,
        }
        .into()),
    }
}

/// Explains what to do about an input the checks could not use.
fn with_hint(e: CheckError, args: &PreflightArgs) -> anyhow::Error {
    let hint = match &e {
        CheckError::Io { path, .. } if path.starts_with(&args.osv) => {
            "--osv must be a readable directory of OSV JSON files, as osv.dev exports them \
             per ecosystem (unzip <ecosystem>/all.zip into it)"
        }
        CheckError::Io { path, .. } if Some(path) == args.freeze.as_ref() => {
            "--freeze must name a readable TOML freeze calendar"
        }
        CheckError::Io { .. } => "check the --lockfile path: each must be a readable file",
        CheckError::UnknownLockfile { .. } => {
            "give the lockfile under the name its package manager writes"
        }
        CheckError::Lockfile { .. } => {
            "regenerate the lockfile with its package manager, or pin every requirement with =="
        }
        CheckError::EmptyDatabase { .. } => {
            "point --osv at the exported database: the folder holding crates.io/, npm/, PyPI/ \
             or Go/ advisories"
        }
        CheckError::Advisory { .. } => {
            "re-export the OSV database, or remove the file if it is not an advisory"
        }
        CheckError::Freeze(_) => {
            "fix the --freeze calendar: zones are IANA names such as \"Europe/Berlin\", times \
             local date-times without an offset (see `causeway preflight --help`)"
        }
        CheckError::CustomCheck { .. } => {
            "write --check NAME=CMD, such as --check unit-tests='cargo test --locked'"
        }
        _ => "fix the input named",
    };
    // One line, what is wrong then what to do. The library's messages
    // already quote their I/O cause, so its source chain is not repeated.
    anyhow::anyhow!("{e}; {hint}")
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Issuance => "issuance",
        Stage::Promotion => "promotion",
    }
}

/// The human-readable report: one block per check, then the verdict.
fn print_summary(report: &Report, subject: RecordRef, stage: Stage, at: jiff::Timestamp) {
    println!(
        "pre-flight of {subject} at stage {}, judged at {at}",
        stage_name(stage)
    );
    for check in &report.checks {
        // Details quote command output and advisory text: keep terminal
        // escapes and invisible characters off the screen.
        println!(
            "  {:<5}  {}",
            check.outcome.as_str(),
            for_terminal(&check.name)
        );
        println!("         {}", for_terminal(&check.detail));
        if !check.ids.is_empty() {
            println!("         ids: {}", for_terminal(&check.ids.join(", ")));
        }
    }
    if report.checks.is_empty() {
        println!("  (no checks: give --lockfile, --freeze or --check)");
    }
    println!("verdict: {}", report.verdict().as_str());
}
