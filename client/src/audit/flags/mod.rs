//! Red flags: the rules that judge the records (seed framework §4.3 and
//! DESIGN.md §4). Each rule is a pure function of the graph, the policy,
//! the thresholds, the anchors and the caller's `now`, and points at the
//! one record that violates it. The rules are listed, one per variant, on
//! [`FlagKind`].
//!
//! This module holds what every rule shares: the flag types, the context
//! the rules read (`Cx`), `detect`, which runs them all, and the small
//! helpers more than one family uses. The rules themselves are split by
//! the question they ask of the records, one family per module, so that a
//! rule sits beside the rules it is most easily confused with:
//! `identity` (who acted), `actions` (what a credential allowed),
//! `outcomes` (whether each call's return was recorded),
//! `approvals` (whether the humans' sign-offs are believable),
//! `session` (preflight before, closure after) and `clock` (claimed
//! times against the TSA anchors).

mod actions;
mod approvals;
mod clock;
mod identity;
mod outcomes;
mod session;

use std::collections::BTreeMap;
use std::fmt;

use causeway_records::{Credential, Principal, ProducerPolicy, Record, Role, Time};
use serde::{Deserialize, Serialize};

use super::graph::{Graph, Node, nanos_between};
use super::thresholds::Thresholds;

/// The kind of a red flag. The snake-case names are a contract (the JSON
/// `kind`, the CLI's output). Each variant documents its rule and the
/// record it points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// Agent activity under a human identity. Points at the record that
    /// shows it: (a) the record with which a human principal's key (policy
    /// role `human`) has signed more than `human_max_records_per_minute`
    /// records whose `time`s lie less than 60 s apart (once per burst);
    /// (b) a credential whose `agent.id` equals, ignoring case, a human
    /// principal's name or the subject of any approver or reviewer in the
    /// log; (c) a credential whose `session_key` is a human principal's
    /// key, so the agent signs as that human.
    AgentActivityAsHuman,
    /// A human record that claims someone other than its signer: an
    /// authorization whose `approver.subject`, or a review whose
    /// `reviewer.subject`, is neither the name nor one of the `subjects` of
    /// the policy principal whose key verifiably signed it (or the record
    /// is verifiably signed by a key of no principal, such as a session
    /// key). The log refuses these now; old logs may hold them. Points at
    /// the record.
    IdentityMismatch,
    /// Credentials without a distinct agent identity. Points at the later
    /// credential of a pair that (a) has the same `session_key` as an
    /// earlier credential (whose actions then cannot be told apart), or
    /// (b) has the same `agent.id` as an earlier credential that traces to
    /// a different authorization and whose `issued_at..expires_at` window
    /// overlaps (one agent identity serving two authorizations at once).
    /// Delegating to the same `agent.id` within one authorization is not
    /// flagged.
    SharedAgentIdentity,
    /// A credential whose `agent.id` is empty or blank: its actions are
    /// attributable to no agent. The log refuses these now
    /// (`INVALID_ARGUMENT`); old logs may hold them. Points at the
    /// credential.
    CredentialWithoutAgentIdentity,
    /// An action whose `credential` reference does not name an earlier
    /// record of kind credential: missing from the log, later in it, not
    /// a decodable record, or of another kind. Points at the action.
    ActionWithoutCredential,
    /// An action whose envelope is not signed by the session key of the
    /// credential it references (another key, or not exactly one
    /// signature): whoever acted, it was not the agent the credential was
    /// issued to. Points at the action.
    ActionNotSignedBySession,
    /// An action outside its credential's scope: its `target` is not,
    /// exactly, one of `scope.targets`, or it has an `operation` that
    /// matches none of the `scope.actions` patterns (`*` any run of
    /// characters, `?` one). The detail says which failed. Actions
    /// without an `operation` (made before it existed) are judged on the
    /// target alone. Points at the action.
    ActionOutOfScope,
    /// An action whose `time` is outside its credential's lifetime: before
    /// `issued_at`, after `expires_at`, after the `time` of a valid
    /// exception with `revoked: true` on the credential or on one it was
    /// delegated from, or after the `ended_at` of a valid closure of the
    /// credential. Points at the action.
    ActionAfterExpiry,
    /// A record signed by a session key (an action, a closure by the
    /// session key, a credential delegated by it) that comes, in log order,
    /// after a valid revoking exception or closure of its credential or of
    /// a credential that one was delegated from, whatever the records'
    /// claimed times say. The log refuses these now; old logs may hold
    /// them. Points at the late record.
    ActionAfterRevocation,
    /// An action with no valid outcome, under a credential that has at
    /// least one valid outcome: the producer records how calls return
    /// (a gateway does), so a call without one was cut off mid-flight
    /// (the gateway was killed) or its outcome was dropped. A producer
    /// that never writes outcomes raises nothing. Points at the action.
    ActionWithoutOutcome,
    /// A second valid outcome naming the same action: one call returns
    /// once, so which result stands is unclear. Points at the later
    /// outcome.
    OutcomeDuplicate,
    /// A call an agent tried and a gateway refused: a valid exception
    /// naming a refused call (`call_digest`), out of scope, of an unknown
    /// tool, or after its credential ended. The control worked, but the
    /// agent reached past its approval; a reviewer looks at why. Points at
    /// the exception.
    CallRefused,
    /// A credential that holds more than it was given. For a delegated
    /// credential, compared with its parent credential: a target or action
    /// not in the parent's scope, another `change_class`, `issued_at`
    /// before or `expires_at` after the parent's, or an `authorization`
    /// other than the parent's. For a root credential, compared with its
    /// authorization: scope as above, `issued_at` before `not_before` or
    /// `expires_at` after `not_after`. Points at the credential.
    DelegationWidensScope,
    /// A human signing off faster than a person plausibly does: more than
    /// `max_approvals_per_hour` authorizations, or more than
    /// `max_reviews_per_hour` reviews, by one human whose `time`s lie less
    /// than 60 minutes apart (approvals and reviews are counted
    /// separately). The human is the policy principal whose key signed the
    /// record, or the claimed subject when the signature is not a policy
    /// key's. Points at the record that exceeds the threshold (once per
    /// burst).
    ImplausibleApprovalRate,
    /// An authorization or a review (both human sign-offs) whose `time`
    /// is outside `working_hours` or not on one of `working_days`, on the
    /// wall clock of the human's `tz` in the policy (UTC when it names
    /// none). The human is the signing principal, or the principal the
    /// claimed subject names. Points at that record.
    ApprovalOutsideHours,
    /// A review with `(finished_at - started_at) / max(covered, 1)` below
    /// `min_review_seconds_per_item` seconds (including a review that
    /// finished before it started), where `covered` is the larger of the
    /// review's claimed `items` and the number of actions the log shows
    /// under the reviewed authorization before the review. Points at the
    /// review.
    ReviewTooFast,
    /// A review signed by the same human as the authorization it reviews
    /// (its subject's authorization: the authorization itself, or the one a
    /// credential or closure traces to): nobody checked the approver's
    /// work. Humans are compared as principals (the signing key's, else the
    /// one the claimed subject names). Points at the review.
    SelfReview,
    /// A credential issued without a pre-flight: no `preflight` reference,
    /// one that does not name an earlier pre-flight, one that names an
    /// invalid one (a forged pre-flight is no pre-flight), or one that is
    /// dated after `issued_at`, ran at stage `promotion`, or verified
    /// something other than the credential's authorization or the
    /// credentials it was delegated from. Points at the credential.
    MissingPreflight,
    /// A credential whose referenced pre-flight was signed (verifiably) by
    /// the credential's own session key, by the session key of any
    /// credential of the same `agent.id`, or by the session key of a
    /// credential it was delegated from: the agent vouched for itself.
    /// Points at the credential.
    SelfPreflight,
    /// A credential issued despite a block: it references a pre-flight
    /// whose verdict is `block`, or the latest valid issuance-stage
    /// pre-flight of its authorization (or of the credentials it was
    /// delegated from) earlier in the log and dated at or before its
    /// `issued_at` has verdict `block`. Points at the credential.
    BlockedPreflightIgnored,
    /// A credential whose `expires_at` is before the caller's `now` and
    /// that no valid closure references (a forged closure closes nothing).
    /// Points at the credential.
    SessionWithoutClosure,
    /// An authorization with `authn.mfa` false. Points at the
    /// authorization.
    AuthorizationWithoutMfa,
    /// An authorization whose approver is not proven by an identity
    /// provider: its ID token does not verify under a provider the policy
    /// pins, was issued for another plan (nonce), or says something else
    /// than the record about the approver or the login; or it has no token
    /// while the policy sets `require_idp`. Points at the authorization.
    AuthorizationNotIdpBound,
    /// A record whose `time` is later than the TSA genTime of the first
    /// anchor covering it (the earliest anchored tree size greater than its
    /// index) plus `max_clock_skew_secs`: the anchor proves the record
    /// existed before the time it claims. Points at the record.
    BackdatedRecord,
    /// A record whose `time` is earlier, by more than
    /// `max_clock_skew_secs`, than the TSA genTime of an anchored tree that
    /// does not contain it (anchored size at most its index): the record
    /// was not in the log when that tree was stamped, so it was made or
    /// submitted later than it claims. Anchors bound the log's clock from
    /// below. Points at the record.
    RecordPredatesAdmission,
}

impl FlagKind {
    /// Every kind, in report order.
    pub const ALL: [FlagKind; 25] = [
        FlagKind::AgentActivityAsHuman,
        FlagKind::IdentityMismatch,
        FlagKind::SharedAgentIdentity,
        FlagKind::CredentialWithoutAgentIdentity,
        FlagKind::ActionWithoutCredential,
        FlagKind::ActionNotSignedBySession,
        FlagKind::ActionOutOfScope,
        FlagKind::ActionAfterExpiry,
        FlagKind::ActionAfterRevocation,
        FlagKind::ActionWithoutOutcome,
        FlagKind::OutcomeDuplicate,
        FlagKind::CallRefused,
        FlagKind::DelegationWidensScope,
        FlagKind::ImplausibleApprovalRate,
        FlagKind::ApprovalOutsideHours,
        FlagKind::ReviewTooFast,
        FlagKind::SelfReview,
        FlagKind::MissingPreflight,
        FlagKind::SelfPreflight,
        FlagKind::BlockedPreflightIgnored,
        FlagKind::SessionWithoutClosure,
        FlagKind::AuthorizationWithoutMfa,
        FlagKind::AuthorizationNotIdpBound,
        FlagKind::BackdatedRecord,
        FlagKind::RecordPredatesAdmission,
    ];

    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            FlagKind::AgentActivityAsHuman => "agent_activity_as_human",
            FlagKind::IdentityMismatch => "identity_mismatch",
            FlagKind::SharedAgentIdentity => "shared_agent_identity",
            FlagKind::CredentialWithoutAgentIdentity => "credential_without_agent_identity",
            FlagKind::ActionWithoutCredential => "action_without_credential",
            FlagKind::ActionNotSignedBySession => "action_not_signed_by_session",
            FlagKind::ActionOutOfScope => "action_out_of_scope",
            FlagKind::ActionAfterExpiry => "action_after_expiry",
            FlagKind::ActionAfterRevocation => "action_after_revocation",
            FlagKind::ActionWithoutOutcome => "action_without_outcome",
            FlagKind::OutcomeDuplicate => "outcome_duplicate",
            FlagKind::CallRefused => "call_refused",
            FlagKind::DelegationWidensScope => "delegation_widens_scope",
            FlagKind::ImplausibleApprovalRate => "implausible_approval_rate",
            FlagKind::ApprovalOutsideHours => "approval_outside_hours",
            FlagKind::ReviewTooFast => "review_too_fast",
            FlagKind::SelfReview => "self_review",
            FlagKind::MissingPreflight => "missing_preflight",
            FlagKind::SelfPreflight => "self_preflight",
            FlagKind::BlockedPreflightIgnored => "blocked_preflight_ignored",
            FlagKind::SessionWithoutClosure => "session_without_closure",
            FlagKind::AuthorizationWithoutMfa => "authorization_without_mfa",
            FlagKind::AuthorizationNotIdpBound => "authorization_not_idp_bound",
            FlagKind::BackdatedRecord => "backdated_record",
            FlagKind::RecordPredatesAdmission => "record_predates_admission",
        }
    }
}

impl fmt::Display for FlagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One red flag in the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RedFlag {
    /// What is wrong.
    pub kind: FlagKind,
    /// The index of the record that violates the rule.
    pub record: u64,
    /// That record's leaf hash (hex).
    pub leaf_hash: String,
    /// The index of the authorization the record traces to, if any.
    pub authorization: Option<u64>,
    /// The evidence, for people: which fields, values and other records.
    pub detail: String,
}

/// A flag before it is placed in the report: the node position it
/// points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    /// The position of the violating record in [`Graph::nodes`].
    pub(crate) position: usize,
    /// The rule.
    pub(crate) kind: FlagKind,
    /// The evidence.
    pub(crate) detail: String,
}

/// What the rules read.
struct Cx<'a> {
    g: &'a Graph,
    policy: &'a ProducerPolicy,
    t: &'a Thresholds,
    anchors: &'a [(u64, i64)],
    now: i64,
    /// One entry per (record, rule); several reasons are joined.
    found: BTreeMap<(usize, FlagKind), Vec<String>>,
}

impl Cx<'_> {
    fn flag(&mut self, position: usize, kind: FlagKind, detail: String) {
        self.found.entry((position, kind)).or_default().push(detail);
    }

    fn index(&self, position: usize) -> u64 {
        self.g.node(position).map_or(0, |n| n.index)
    }

    /// The human behind a human record (authorization or review): the
    /// policy principal whose key verifiably signed it, else the principal
    /// its claimed subject names.
    fn human(&self, node: &Node) -> Option<&Principal> {
        let signer = node
            .signed_by
            .as_ref()
            .and_then(|k| self.policy.principal(k));
        signer.or_else(|| {
            let subject = claimed_subject(&node.record)?;
            self.policy
                .principals()
                .iter()
                .find(|p| p.role == Role::Human && p.is_subject(subject))
        })
    }

    fn credentials(&self) -> Vec<(usize, &Credential)> {
        self.g
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(p, n)| Some((p, n.credential()?)))
            .collect()
    }
}

/// Runs every rule; the findings come in record order, then in
/// [`FlagKind`] order.
pub(crate) fn detect(
    g: &Graph,
    policy: &ProducerPolicy,
    t: &Thresholds,
    anchors: &[(u64, i64)],
    now: i64,
) -> Vec<Finding> {
    let mut cx = Cx {
        g,
        policy,
        t,
        anchors,
        now,
        found: BTreeMap::new(),
    };
    identity::agent_activity_as_human(&mut cx);
    identity::identity_mismatch(&mut cx);
    identity::shared_agent_identity(&mut cx);
    identity::credential_without_agent_identity(&mut cx);
    actions::actions(&mut cx);
    actions::action_after_revocation(&mut cx);
    outcomes::action_without_outcome(&mut cx);
    outcomes::outcome_duplicate(&mut cx);
    outcomes::call_refused(&mut cx);
    actions::delegation_widens_scope(&mut cx);
    approvals::implausible_approval_rate(&mut cx);
    approvals::approval_outside_hours(&mut cx);
    approvals::review_too_fast(&mut cx);
    approvals::self_review(&mut cx);
    session::preflights(&mut cx);
    session::session_without_closure(&mut cx);
    approvals::authorization_without_mfa(&mut cx);
    approvals::authorization_not_idp_bound(&mut cx);
    clock::backdated_record(&mut cx);
    clock::record_predates_admission(&mut cx);
    cx.found
        .into_iter()
        .map(|((position, kind), details)| Finding {
            position,
            kind,
            detail: details.join("; "),
        })
        .collect()
}

/// The positions in `items` (sorted by time) at which more than `max`
/// items lie within a window of less than `window_secs` seconds ending
/// there, once per burst (until the count falls back to `max`), with the
/// count.
fn bursts(items: &[(Time, usize)], window_secs: i64, max: u32) -> Vec<(usize, usize)> {
    let window = i128::from(window_secs) * 1_000_000_000;
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_burst = false;
    for (j, &(time, position)) in items.iter().enumerate() {
        while let Some(&(first, _)) = items.get(start) {
            if nanos_between(first, time) < window {
                break;
            }
            start += 1;
        }
        let count = j + 1 - start;
        if count > max {
            if !in_burst {
                out.push((position, count));
            }
            in_burst = true;
        } else {
            in_burst = false;
        }
    }
    out
}

fn normalized(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The subject a human record claims: `approver.subject` or
/// `reviewer.subject`.
fn claimed_subject(record: &Record) -> Option<&str> {
    match record {
        Record::Authorization(a) => Some(&a.approver.subject),
        Record::Review(r) => Some(&r.reviewer.subject),
        _ => None,
    }
}
