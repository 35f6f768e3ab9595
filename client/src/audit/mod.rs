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
//!    nothing the log claims to have checked), and the log-order rule that
//!    nothing is written under a revoked or closed credential. The log's
//!    clock at admission is unknowable afterwards, so the clock checks are
//!    left out; claimed times are judged against the TSA anchors instead
//!    (`backdated_record`, `record_predates_admission`). Entries that are
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
//! * [`index`]: one flat row per record and credential, for the
//!   auditor's own evidence store (`causeway audit --state`).
//! * [`report`]: the report's serde types and their assembly.
//! * [`verification`]: the report's `verification` section (what the
//!   caller checked before the analysis).
//! * [`files`]: `report.json` (the summary, its long lists cut) and the
//!   JSON Lines files with the bulk.
//!
//! # Thresholds
//!
//! An optional `[audit]` table in the producer policy file overrides the
//! defaults; unknown keys are an error.
//!
//! | key | default | judges |
//! |---|---|---|
//! | `working_hours` | `"07:00-20:00"` | `approval_outside_hours`: the daily window on the human's wall clock (their policy `tz`, else UTC; start inside, end not; a start after the end wraps midnight) |
//! | `working_days` | `["mon", "tue", "wed", "thu", "fri"]` | `approval_outside_hours`: days (`mon` … `sun`) in the human's `tz` |
//! | `max_approvals_per_hour` | `12` | `implausible_approval_rate`: authorizations per human in any 60 minutes |
//! | `max_reviews_per_hour` | `12` | `implausible_approval_rate`: reviews per human in any 60 minutes |
//! | `min_review_seconds_per_item` | `20` | `review_too_fast`: seconds of review per item (items: the larger of the claimed `items` and the actions the log shows) |
//! | `human_max_records_per_minute` | `6` | `agent_activity_as_human`: records a human key signs in any 60 seconds |
//! | `max_clock_skew_secs` | `300` | `backdated_record`: how far a record's `time` may be after the anchor that covers it; `record_predates_admission`: how far before the anchor of a tree without it |
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
//! | `identity_mismatch` | the authorization or review | its `approver.subject` / `reviewer.subject` is not the name or one of the `subjects` of the principal whose key verifiably signed it |
//! | `shared_agent_identity` | the later credential | same `session_key` as an earlier credential; or same `agent.id` as an earlier credential of another authorization with an overlapping validity window |
//! | `credential_without_agent_identity` | the credential | `agent.id` empty or blank |
//! | `action_without_credential` | the action | `action.credential` names no earlier credential |
//! | `action_not_signed_by_session` | the action | not signed by its credential's `session_key` |
//! | `action_out_of_scope` | the action | `target` not in the credential's `scope.targets`, or `operation` (when present) matching none of its `scope.actions` patterns |
//! | `action_after_expiry` | the action | `time` before `issued_at`, after `expires_at`, after a valid revoking exception on the credential or an ancestor, or after a valid closure's `ended_at` |
//! | `action_after_revocation` | the session-key record | in log order, after a valid revoking exception or closure of its credential or an ancestor (an outcome included: a call that returns after its credential was revoked has its outcome refused) |
//! | `action_without_outcome` | the action | no valid outcome names it, while its credential has at least one valid outcome (a producer that never writes outcomes raises nothing) |
//! | `outcome_duplicate` | the later outcome | a second valid outcome names the same action |
//! | `call_refused` | the exception | a valid exception names a refused call (`call_digest`): a gateway refused an agent's call (out of scope, unknown tool, credential ended) |
//! | `delegation_widens_scope` | the credential | targets, actions, `change_class`, validity window (or `authorization`) beyond its parent credential, or for a root credential beyond its authorization |
//! | `implausible_approval_rate` | the authorization or review | more than `max_approvals_per_hour` authorizations, or `max_reviews_per_hour` reviews, by one human less than 60 minutes apart |
//! | `approval_outside_hours` | the authorization or review | `time` outside `working_hours` / `working_days` in the human's `tz` |
//! | `review_too_fast` | the review | `(finished_at - started_at) / max(items, actions the log shows under the reviewed authorization before it, 1) < min_review_seconds_per_item` |
//! | `self_review` | the review | signed by the same human as the authorization it reviews |
//! | `missing_preflight` | the credential | no valid pre-flight reference, or it is dated after issuance, at stage promotion, or about another change |
//! | `self_preflight` | the credential | its pre-flight is signed by its own session key, another session key of the same `agent.id`, or a delegating credential's session key |
//! | `blocked_preflight_ignored` | the credential | it references a `block` pre-flight, or the latest valid issuance pre-flight of its chain before issuance blocked |
//! | `session_without_closure` | the credential | `expires_at` before `now` and no valid closure |
//! | `authorization_without_mfa` | the authorization | `authn.mfa` false |
//! | `authorization_not_idp_bound` | the authorization | its ID token does not verify under a pinned `[[idp]]`, is for another plan, or disagrees with the record; or it has none and the policy says `require_idp` |
//! | `backdated_record` | the record | `time` later than the genTime of the first anchor covering it plus `max_clock_skew_secs` |
//! | `record_predates_admission` | the record | `time` earlier than the genTime of an anchor of a tree that does not contain it, minus `max_clock_skew_secs` |
//!
//! Structural breaks (a reference to a missing entry or to the wrong kind,
//! a bad signature, a signer the policy does not allow, a record under a
//! revoked or closed credential) are reported in [`AuditReport::invalid`];
//! those that break the chain of custody are also red flags
//! (`action_without_credential`, `action_not_signed_by_session`,
//! `identity_mismatch`, `action_after_revocation`,
//! `credential_without_agent_identity`). An invalid record never satisfies
//! a rule: an invalid closure closes nothing, an invalid pre-flight is no
//! pre-flight, an invalid exception revokes nothing.
//!
//! # Example
//!
//! ```
//! use causeway_client::audit::{AuditInput, Thresholds, analyze};
//! # use causeway_records::ProducerPolicy;
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

pub mod files;
pub mod flags;
mod graph;
pub mod idp;
pub mod index;
pub mod matrix;
pub mod report;
pub mod thresholds;
pub mod verification;

#[cfg(test)]
mod tests;

use causeway_records::ProducerPolicy;

pub use files::{ACTIONS_FILE, ChainSummary, FINDINGS_FILE, LIST_CAP, ReportFile};
pub use flags::{FlagKind, RedFlag};
pub use idp::{IdpReport, IdpStatus};
pub use index::{CredentialRow, EvidenceIndex, RecordRow, analyze_indexed};
pub use matrix::{Cc81Matrix, Cc81Row, Cc81Totals};
pub use report::{
    ActionOutcome, ActionReport, AgentReport, AuditReport, AuthorizedBy, ChainReport,
    ClosureReport, CredentialReport, ExceptionReport, InvalidEntry, OutcomeReport, PreflightLink,
    PreflightReport, ReviewReport, Summary,
};
pub use thresholds::{ThresholdError, Thresholds, Weekday, WorkingHours};
pub use verification::{AuditStatus, Verification, WitnessCosignature};

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
