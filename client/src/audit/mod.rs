//! The audit analysis core: turn the log's entries into CC8.1 evidence
//! (DESIGN.md §4, seed white paper §3–4 and Appendix A). Pure: no I/O, no
//! network, no clock; the caller fetches and verifies the entries, the
//! checkpoints and the anchors, and passes `now`.
//!
//! [`analyze`] never fails: whatever is wrong with the log becomes a red
//! flag or an entry of [`AuditReport::invalid`].
//!
//! # What it does
//!
//! 1. Decodes every entry and re-validates every record with the log's own
//!    admission rules, against the entries before it (the auditor trusts
//!    nothing the log claims to have checked). The log's clock at
//!    admission is unknowable afterwards, so the record's own `time` stands
//!    in for it (future skew never fails); claimed times are judged against
//!    the TSA anchors instead (`backdated_record`). Entries that are
//!    not Causeway envelopes count as `non_records` and are listed in
//!    [`AuditReport::invalid`] as `not_a_record` (a records log refuses
//!    them); a second copy of a submission (same signer and signed bytes,
//!    `Envelope::submission_id`, so also a copy whose ECDSA signature was
//!    malleated) is listed as `duplicate` and counted once.
//! 2. Rebuilds the causal DAG: references resolve to earlier records of
//!    the allowed kinds, every record is assigned the authorization it
//!    traces to, and every credential its delegation path. Records that
//!    fail validation keep their place in the DAG when they decode.
//! 3. Applies the red-flag rules ([`FlagKind`] documents each one).
//! 4. Fills the CC8.1 matrix ([`Cc81Row`] defines each column).
//!
//! # Layout
//!
//! * [`thresholds`]: [`Thresholds`], from the policy's `[audit]` table.
//! * `graph` (private): decoding, validation and the DAG.
//! * [`flags`]: the red-flag rules.
//! * [`matrix`]: the CC8.1 evidence matrix.
//! * [`report`]: the report's serde types and their assembly.
//!
//! # Thresholds
//!
//! An optional `[audit]` table in the producer policy file overrides the
//! defaults; unknown keys are an error.
//!
//! | key | default | judges |
//! |---|---|---|
//! | `working_hours` | `"07:00-20:00"` | `approval_outside_hours`: the UTC window (start inside, end not; a start after the end wraps midnight) |
//! | `working_days` | `["mon", "tue", "wed", "thu", "fri"]` | `approval_outside_hours`: UTC days (`mon` … `sun`) |
//! | `max_approvals_per_hour` | `12` | `implausible_approval_rate`: authorizations per human in any 60 minutes |
//! | `min_review_seconds_per_item` | `20` | `review_too_fast`: seconds of review per item |
//! | `human_max_records_per_minute` | `6` | `agent_activity_as_human`: records a human key signs in any 60 seconds |
//! | `max_clock_skew_secs` | `300` | `backdated_record`: how far a record's `time` may be after the anchor that covers it |
//!
//! ```toml
//! [audit]
//! working_hours = "08:00-18:00"
//! working_days = ["mon", "tue", "wed", "thu"]
//! max_approvals_per_hour = 6
//! ```
//!
//! # Red flags
//!
//! | kind | points at | rule |
//! |---|---|---|
//! | `agent_activity_as_human` | the record, or the credential | a human key signs more than `human_max_records_per_minute` records less than 60 s apart; or a credential's `agent.id` is a human's name (policy human, approver or reviewer subject); or its `session_key` is a human's key |
//! | `shared_agent_identity` | the later credential | same `session_key` as an earlier credential; or same `agent.id` as an earlier credential of another authorization with an overlapping validity window |
//! | `action_without_credential` | the action | `action.credential` names no earlier credential |
//! | `action_out_of_scope` | the action | `target` not in the credential's `scope.targets` |
//! | `action_after_expiry` | the action | `time` before `issued_at`, after `expires_at`, after a revoking exception on the credential or an ancestor, or after the session's `closure.ended_at` |
//! | `delegation_widens_scope` | the credential | targets, actions, `change_class`, validity window (or `authorization`) beyond its parent credential, or for a root credential beyond its authorization |
//! | `implausible_approval_rate` | the authorization | more than `max_approvals_per_hour` authorizations by one human less than 60 minutes apart |
//! | `approval_outside_hours` | the authorization or review | `time` outside `working_hours` / `working_days` |
//! | `review_too_fast` | the review | `(finished_at - started_at) / max(items, 1) < min_review_seconds_per_item` |
//! | `missing_preflight` | the credential | no pre-flight reference, or it is dated after issuance, at stage promotion, or about another change |
//! | `self_preflight` | the credential | its pre-flight is signed by its own session key, another session key of the same `agent.id`, or a delegating credential's session key |
//! | `blocked_preflight_ignored` | the credential | it references a `block` pre-flight, or the latest issuance pre-flight of its chain before issuance blocked |
//! | `session_without_closure` | the credential | `expires_at` before `now` and no closure |
//! | `authorization_without_mfa` | the authorization | `authn.mfa` false |
//! | `backdated_record` | the record | `time` later than the genTime of the first anchor covering it plus `max_clock_skew_secs` |
//!
//! Structural breaks (a reference to a missing entry or to the wrong kind,
//! a bad signature, a signer the policy does not allow) are reported in
//! [`AuditReport::invalid`]; of them only `action_without_credential` is
//! also a red flag, because it breaks the causal chain of an action.
//!
//! # Example
//!
//! ```
//! use causeway_client::audit::{AuditInput, Thresholds, analyze};
//! # use causeway_proto::records::ProducerPolicy;
//! # let policy = ProducerPolicy::parse(r#"
//! # [[principal]]
//! # name = "alice@example.com"
//! # role = "human"
//! # keys = ["MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnTrI7D7awnb/YUhk3A7rsObxeI33ICRyBpy+eJf9L2iQt3g50mUSuN3UQAvm+xiBMnzMFqYEcrbMuPbVQI/3ow=="]
//! # "#).unwrap();
//! let thresholds = Thresholds::from_policy(&policy).unwrap();
//! let entries: Vec<(u64, Vec<u8>)> = vec![(0, b"not a record".to_vec())];
//! let report = analyze(&AuditInput {
//!     entries: &entries,
//!     policy: &policy,
//!     thresholds: &thresholds,
//!     anchors: &[],
//!     now: 1_795_528_800,
//! });
//! assert_eq!(report.summary.non_records, 1);
//! assert_eq!(report.invalid[0].code, "not_a_record");
//! assert!(report.red_flags.is_empty());
//! ```

pub mod flags;
mod graph;
pub mod matrix;
pub mod report;
pub mod thresholds;

#[cfg(test)]
mod tests;

use causeway_proto::records::ProducerPolicy;

pub use flags::{FlagKind, RedFlag};
pub use matrix::{Cc81Matrix, Cc81Row, Cc81Totals};
pub use report::{
    ActionReport, AgentReport, AuditReport, AuthorizedBy, ChainReport, ClosureReport,
    CredentialReport, ExceptionReport, InvalidEntry, PreflightLink, PreflightReport, ReviewReport,
    Summary,
};
pub use thresholds::{ThresholdError, Thresholds, Weekday, WorkingHours};

/// What [`analyze`] reads.
#[derive(Clone, Copy, Debug)]
pub struct AuditInput<'a> {
    /// `(index, entry bytes)` of the whole log, in index order.
    pub entries: &'a [(u64, Vec<u8>)],
    /// The producer policy: who may sign what, and who is human.
    pub policy: &'a ProducerPolicy,
    /// The judgement thresholds.
    pub thresholds: &'a Thresholds,
    /// `(anchored tree size, TSA genTime in Unix seconds)`, as verified by
    /// the caller, by increasing size.
    pub anchors: &'a [(u64, i64)],
    /// The caller's clock, in Unix seconds: credentials that expired
    /// before it must have a closure.
    pub now: i64,
}

/// Audits a log: re-validates every record, rebuilds the causal DAG,
/// raises the red flags and fills the CC8.1 matrix (see the [module
/// docs](self)). Never fails: problems are findings.
pub fn analyze(input: &AuditInput<'_>) -> AuditReport {
    let g = graph::Graph::build(input.entries, input.policy);
    let findings = flags::detect(&g, input.policy, input.thresholds, input.anchors, input.now);
    let matrix = matrix::build(&g, input.policy, &findings);
    report::assemble(&g, input.policy, input.thresholds, &findings, matrix)
}
