//! The audit's files, sized for a log of any length.
//!
//! `report.json` is the summary: each list in it that grows with the log (a
//! change's actions, outcomes, exceptions and red flags, the report's red
//! flags and invalid entries) is cut at [`LIST_CAP`] items, with its full
//! length beside it as `<list>_total`. The bulk goes to JSON Lines files,
//! written one line at a time: [`ACTIONS_FILE`] holds every action and
//! [`FINDINGS_FILE`] every red flag, each in log order, so `jq`, `grep` or
//! a spreadsheet import read them without loading the whole audit.

use std::io::{self, Write};

use causeway_records::{Authn, Identity, Plan, Scope, Time};
use serde::Serialize;

use super::report::{
    AuditReport, ChainReport, ClosureReport, CredentialReport, ExceptionReport, InvalidEntry,
    OutcomeReport, PreflightReport, ReviewReport, Summary,
};
use super::{Cc81Matrix, IdpReport, RedFlag, Thresholds, Verification};

/// The most items of one list `report.json` holds.
pub const LIST_CAP: usize = 1000;
/// Every action, one JSON object per line, in log order.
pub const ACTIONS_FILE: &str = "actions.jsonl";
/// Every red flag, one JSON object per line, in record order.
pub const FINDINGS_FILE: &str = "findings.jsonl";

/// The first [`LIST_CAP`] items of a list.
fn capped<T>(items: &[T]) -> &[T] {
    &items[..items.len().min(LIST_CAP)]
}

/// The whole of `report.json`: the analysis's summary fields, the
/// `verification` section beside them, and where the bulk is.
#[derive(Debug, Serialize)]
pub struct ReportFile<'a> {
    /// The counts (never capped).
    pub summary: &'a Summary,
    /// The thresholds the judgement used.
    pub thresholds: &'a Thresholds,
    /// One causal chain per authorization, in log order.
    pub authorizations: Vec<ChainSummary<'a>>,
    /// The first red flags, in record order.
    pub red_flags: &'a [RedFlag],
    /// How many red flags there are (all are in [`FINDINGS_FILE`]).
    pub red_flags_total: usize,
    /// The CC8.1 evidence matrix.
    pub matrix: &'a Cc81Matrix,
    /// The first entries the log should have refused, in index order.
    pub invalid: &'a [InvalidEntry],
    /// How many there are.
    pub invalid_total: usize,
    /// What was checked before the analysis.
    pub verification: &'a Verification,
    /// The JSON Lines files beside this one.
    pub files: BulkFiles,
}

/// The names of the bulk files, relative to `report.json`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct BulkFiles {
    /// [`ACTIONS_FILE`].
    pub actions: &'static str,
    /// [`FINDINGS_FILE`].
    pub findings: &'static str,
}

/// A [`ChainReport`] with its long lists cut at [`LIST_CAP`]; the field
/// names are the chain's own.
#[derive(Debug, Serialize)]
pub struct ChainSummary<'a> {
    /// The authorization's index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: &'a str,
    /// `authorization.approver`.
    pub approver: &'a Identity,
    /// `authorization.authn`.
    pub authn: &'a Authn,
    /// What its ID token proves, re-checked offline.
    pub idp: &'a IdpReport,
    /// `authorization.plan`.
    pub plan: &'a Plan,
    /// `authorization.scope`.
    pub scope: &'a Scope,
    /// `authorization.ticket`.
    pub ticket: &'a str,
    /// `authorization.not_before`.
    pub not_before: &'a Time,
    /// `authorization.not_after`.
    pub not_after: &'a Time,
    /// `authorization.time`.
    pub time: &'a Time,
    /// Who signed it.
    pub signer: &'a str,
    /// Whether it passes admission.
    pub valid: bool,
    /// Its pre-flights.
    pub preflights: &'a [PreflightReport],
    /// Its credentials, in log order.
    pub credentials: &'a [CredentialReport],
    /// The first indices of the actions tracing to it.
    pub actions: &'a [u64],
    /// How many actions trace to it.
    pub actions_total: usize,
    /// Closures of its credentials.
    pub closures: &'a [ClosureReport],
    /// Reviews of it.
    pub reviews: &'a [ReviewReport],
    /// The first exceptions on its credentials.
    pub exceptions: &'a [ExceptionReport],
    /// How many there are.
    pub exceptions_total: usize,
    /// The first outcomes of its actions.
    pub outcomes: &'a [OutcomeReport],
    /// How many there are.
    pub outcomes_total: usize,
    /// The first of its red flags, as indices into the report's.
    pub red_flags: &'a [usize],
    /// How many there are.
    pub red_flags_total: usize,
}

impl<'a> ChainSummary<'a> {
    /// The summary of `c`.
    pub fn new(c: &'a ChainReport) -> Self {
        ChainSummary {
            index: c.index,
            leaf_hash: &c.leaf_hash,
            approver: &c.approver,
            authn: &c.authn,
            idp: &c.idp,
            plan: &c.plan,
            scope: &c.scope,
            ticket: &c.ticket,
            not_before: &c.not_before,
            not_after: &c.not_after,
            time: &c.time,
            signer: &c.signer,
            valid: c.valid,
            preflights: &c.preflights,
            credentials: &c.credentials,
            actions: capped(&c.actions),
            actions_total: c.actions.len(),
            closures: &c.closures,
            reviews: &c.reviews,
            exceptions: capped(&c.exceptions),
            exceptions_total: c.exceptions.len(),
            outcomes: capped(&c.outcomes),
            outcomes_total: c.outcomes.len(),
            red_flags: capped(&c.red_flags),
            red_flags_total: c.red_flags.len(),
        }
    }
}

impl<'a> ReportFile<'a> {
    /// The summary file of `report`, checked as `verification` says.
    pub fn new(report: &'a AuditReport, verification: &'a Verification) -> Self {
        ReportFile {
            summary: &report.summary,
            thresholds: &report.thresholds,
            authorizations: report
                .authorizations
                .iter()
                .map(ChainSummary::new)
                .collect(),
            red_flags: capped(&report.red_flags),
            red_flags_total: report.red_flags.len(),
            matrix: &report.matrix,
            invalid: capped(&report.invalid),
            invalid_total: report.invalid.len(),
            verification,
            files: BulkFiles {
                actions: ACTIONS_FILE,
                findings: FINDINGS_FILE,
            },
        }
    }
}

/// Writes each of `items` as one line of JSON.
///
/// # Errors
/// What `out` returns.
pub fn write_jsonl<T: Serialize>(
    out: impl Write,
    items: impl IntoIterator<Item = T>,
) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    for item in items {
        serde_json::to_writer(&mut out, &item)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_keeps_short_lists_whole_and_cuts_long_ones() {
        let short: Vec<u64> = (0..3).collect();
        assert_eq!(capped(&short), &short[..]);
        let long: Vec<u64> = (0..LIST_CAP as u64 + 5).collect();
        assert_eq!(capped(&long).len(), LIST_CAP);
        assert_eq!(capped(&long).last(), Some(&(LIST_CAP as u64 - 1)));
    }

    /// `report.json` keeps the report's summary fields as the report
    /// serializes them, and says how long each cut list is.
    #[test]
    fn the_report_file_is_the_summary_with_totals_and_its_verification() {
        use crate::audit::{AuditInput, AuditStatus, analyze};
        use causeway_records::ProducerPolicy;
        let policy = ProducerPolicy::parse(
            r#"
[[principal]]
name = "alice@example.com"
role = "human"
keys = ["MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnTrI7D7awnb/YUhk3A7rsObxeI33ICRyBpy+eJf9L2iQt3g50mUSuN3UQAvm+xiBMnzMFqYEcrbMuPbVQI/3ow=="]
"#,
        )
        .unwrap();
        let thresholds = Thresholds::from_policy(&policy).unwrap();
        let entries: Vec<(u64, Vec<u8>)> = vec![(0, b"not a record".to_vec())];
        let report = analyze(&AuditInput {
            entries: &entries,
            policy: &policy,
            thresholds: &thresholds,
            anchors: &[],
            now: 1_795_528_800,
        });
        let verification = Verification {
            status: AuditStatus::Failed,
            tree_size: 1,
            root: "ee".repeat(32),
            log_signature_verified: true,
            log_keys_checked: 1,
            witnesses_checked: false,
            witness_quorum: 0,
            cosignatures: Vec::new(),
            anchors_checked: 0,
            anchors_verified_with_tsa_roots: false,
            checked: Vec::new(),
            not_checked: Vec::new(),
        };
        let file = serde_json::to_value(ReportFile::new(&report, &verification)).unwrap();
        let whole = serde_json::to_value(&report).unwrap();
        for key in [
            "summary",
            "thresholds",
            "matrix",
            "invalid",
            "authorizations",
        ] {
            assert_eq!(file[key], whole[key], "{key}");
        }
        assert_eq!(
            file["verification"],
            serde_json::to_value(&verification).unwrap()
        );
        assert_eq!(file["invalid_total"], 1);
        assert_eq!(file["red_flags_total"], report.red_flags.len());
        assert_eq!(file["files"]["actions"], ACTIONS_FILE);
        assert_eq!(file["files"]["findings"], FINDINGS_FILE);
        assert!(
            file.get("actions").is_none(),
            "the actions are in {ACTIONS_FILE}"
        );
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let mut out = Vec::new();
        write_jsonl(
            &mut out,
            [
                serde_json::json!({"a": 1}),
                serde_json::json!({"b": "x\ny"}),
            ],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, [r#"{"a":1}"#, r#"{"b":"x\ny"}"#]);
    }
}
