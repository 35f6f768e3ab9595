//! Check results, the verdict, and their form in a `preflight` record.

use causeway_records::{Check, PreflightVerdict};
use serde::Serialize;

/// Whether a check lets the change through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Nothing found that blocks.
    Pass,
    /// The change must not go ahead.
    Block,
}

impl Outcome {
    /// `"pass"` or `"block"`, as the record's `checks[].result` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Block => "block",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The check, such as `osv:Cargo.lock`, `freeze` or a custom name.
    pub name: String,
    /// Pass or block.
    #[serde(rename = "result")]
    pub outcome: Outcome,
    /// A human-readable detail.
    pub detail: String,
    /// Advisory ids and their aliases (GHSA, CVE, …) the check found.
    #[serde(rename = "cves")]
    pub ids: Vec<String>,
}

impl CheckResult {
    /// The record's `checks[]` entry.
    pub fn to_record(&self) -> Check {
        Check {
            name: self.name.clone(),
            result: self.outcome.as_str().to_owned(),
            detail: self.detail.clone(),
            cves: self.ids.clone(),
        }
    }
}

/// All check results of one pre-flight, in the order run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The results.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Block if any check blocks, and also if there is no check at all: a
    /// pre-flight that checked nothing vouches for nothing.
    pub fn verdict(&self) -> Outcome {
        if self.checks.is_empty() || self.checks.iter().any(|c| c.outcome == Outcome::Block) {
            Outcome::Block
        } else {
            Outcome::Pass
        }
    }

    /// The record's `checks[]`.
    pub fn record_checks(&self) -> Vec<Check> {
        self.checks.iter().map(CheckResult::to_record).collect()
    }

    /// The record's `verdict`.
    pub fn record_verdict(&self) -> PreflightVerdict {
        match self.verdict() {
            Outcome::Pass => PreflightVerdict::Pass,
            Outcome::Block => PreflightVerdict::Block,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(outcome: Outcome) -> CheckResult {
        CheckResult {
            name: "c".into(),
            outcome,
            detail: String::new(),
            ids: vec![],
        }
    }

    #[test]
    fn one_block_blocks_and_nothing_checked_blocks() {
        let mut r = Report::default();
        assert_eq!(r.verdict(), Outcome::Block);
        r.checks.push(check(Outcome::Pass));
        assert_eq!(r.record_verdict(), PreflightVerdict::Pass);
        r.checks.push(check(Outcome::Block));
        assert_eq!(r.record_verdict(), PreflightVerdict::Block);
        assert_eq!(r.record_checks()[1].result, "block");
    }
}
