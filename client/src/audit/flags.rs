//! Red flags: the rules that judge the records (seed framework §4.3 and
//! DESIGN.md §4). Each rule is a pure function of the graph, the policy,
//! the thresholds, the anchors and the caller's `now`, and points at the
//! one record that violates it. The rules are listed, one per variant, on
//! [`FlagKind`].

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use causeway_records::{
    Credential, Kind, PreflightVerdict, Principal, ProducerPolicy, Record, Role, Stage, Time,
};
use serde::{Deserialize, Serialize};

use super::graph::{Graph, Node, nanos_between, seconds_between};
use super::thresholds::{Thresholds, local_day_minute};

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
    pub const ALL: [FlagKind; 21] = [
        FlagKind::AgentActivityAsHuman,
        FlagKind::IdentityMismatch,
        FlagKind::SharedAgentIdentity,
        FlagKind::CredentialWithoutAgentIdentity,
        FlagKind::ActionWithoutCredential,
        FlagKind::ActionNotSignedBySession,
        FlagKind::ActionOutOfScope,
        FlagKind::ActionAfterExpiry,
        FlagKind::ActionAfterRevocation,
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
    agent_activity_as_human(&mut cx);
    identity_mismatch(&mut cx);
    shared_agent_identity(&mut cx);
    credential_without_agent_identity(&mut cx);
    actions(&mut cx);
    action_after_revocation(&mut cx);
    delegation_widens_scope(&mut cx);
    implausible_approval_rate(&mut cx);
    approval_outside_hours(&mut cx);
    review_too_fast(&mut cx);
    self_review(&mut cx);
    preflights(&mut cx);
    session_without_closure(&mut cx);
    authorization_without_mfa(&mut cx);
    backdated_record(&mut cx);
    record_predates_admission(&mut cx);
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

fn identity_mismatch(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let Some(subject) = claimed_subject(&node.record) else {
            continue;
        };
        // Only a verified signature says who signed; an unverifiable one
        // is already an invalid entry.
        let Some(key) = &node.signed_by else {
            continue;
        };
        let field = match node.record.kind() {
            Kind::Authorization => "approver.subject",
            _ => "reviewer.subject",
        };
        let signer = match cx.policy.principal(key) {
            Some(p) if p.is_subject(subject) => continue,
            Some(p) if p.subjects.is_empty() => {
                format!("principal {:?}, which has no other subjects", p.name)
            }
            Some(p) => format!(
                "principal {:?}, whose subjects are {:?}",
                p.name, p.subjects
            ),
            None => cx.g.signer_name(cx.policy, position),
        };
        found.push((
            position,
            format!(
                "{field} is {subject:?}, but the record is signed by key {key} of {signer}: the \
                 claimed name is not the signer"
            ),
        ));
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::IdentityMismatch, detail);
    }
}

fn credential_without_agent_identity(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, credential) in cx.credentials() {
        if credential.agent.id.trim().is_empty() {
            found.push((
                position,
                format!(
                    "agent.id is {:?}: the credential names no agent, so its actions are \
                     attributable to nobody (model {:?})",
                    credential.agent.id, credential.agent.model
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::CredentialWithoutAgentIdentity, detail);
    }
}

fn action_after_revocation(cx: &mut Cx<'_>) {
    let found: Vec<(usize, String)> =
        cx.g.nodes
            .iter()
            .enumerate()
            .filter_map(|(p, n)| Some((p, n.after_end.clone()?)))
            .collect();
    for (position, detail) in found {
        cx.flag(position, FlagKind::ActionAfterRevocation, detail);
    }
}

fn self_review(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let Some(review) = node.review() else {
            continue;
        };
        let Some(auth_position) = node.chain else {
            continue;
        };
        let Some(auth_node) = cx.g.node(auth_position) else {
            continue;
        };
        let Some(auth) = auth_node.authorization() else {
            continue;
        };
        let same = match (cx.human(node), cx.human(auth_node)) {
            (Some(reviewer), Some(approver)) => {
                (reviewer.name == approver.name).then(|| format!("principal {:?}", reviewer.name))
            }
            // Neither names a principal: compare the claimed names.
            (None, None) => (normalized(&review.reviewer.subject)
                == normalized(&auth.approver.subject))
            .then(|| format!("{:?}", review.reviewer.subject)),
            _ => None,
        };
        if let Some(who) = same {
            found.push((
                position,
                format!(
                    "the review (reviewer.subject {:?}) and authorization {} (approver.subject \
                     {:?}) are both by {who}: the approver reviewed their own change",
                    review.reviewer.subject, auth_node.index, auth.approver.subject
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::SelfReview, detail);
    }
}

fn agent_activity_as_human(cx: &mut Cx<'_>) {
    let max = cx.t.human_max_records_per_minute;
    let humans: Vec<_> = cx
        .policy
        .principals()
        .iter()
        .filter(|p| p.role == Role::Human)
        .collect();
    let mut found = Vec::new();
    for human in &humans {
        let mut signed: Vec<(Time, usize)> =
            cx.g.nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| {
                    n.signed_by
                        .as_ref()
                        .is_some_and(|k| human.key_ids.contains(k))
                })
                .map(|(p, n)| (n.record.record_time(), p))
                .collect();
        signed.sort();
        for (position, count) in bursts(&signed, 60, max) {
            found.push((
                position,
                format!(
                    "{count} records signed by human principal {:?} within 60 s; more than {max} \
                     a minute is agent speed under a human identity",
                    human.name
                ),
            ));
        }
    }

    let mut human_names: BTreeMap<String, String> = BTreeMap::new();
    for human in &humans {
        human_names.insert(
            normalized(&human.name),
            format!("human principal {:?}", human.name),
        );
    }
    for node in &cx.g.nodes {
        let (subject, role) = match &node.record {
            Record::Authorization(a) => (&a.approver.subject, "approver"),
            Record::Review(r) => (&r.reviewer.subject, "reviewer"),
            _ => continue,
        };
        human_names
            .entry(normalized(subject))
            .or_insert_with(|| format!("{role} {subject:?} of record {}", node.index));
    }
    for (position, credential) in cx.credentials() {
        if let Some(who) = human_names.get(&normalized(&credential.agent.id)) {
            found.push((
                position,
                format!(
                    "agent.id {:?} is the {who}: the agent has no identity of its own",
                    credential.agent.id
                ),
            ));
        }
        let session = credential.session_key.key_id();
        if let Some(human) = humans.iter().find(|h| h.key_ids.contains(&session)) {
            found.push((
                position,
                format!(
                    "session_key {session} is a key of human principal {:?}: the agent signs \
                     as that human",
                    human.name
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::AgentActivityAsHuman, detail);
    }
}

fn shared_agent_identity(cx: &mut Cx<'_>) {
    let credentials = cx.credentials();
    let mut found = Vec::new();
    let mut by_agent: BTreeMap<&str, Vec<(usize, &Credential)>> = BTreeMap::new();
    for &(position, credential) in &credentials {
        let session = credential.session_key.key_id();
        if let Some(&first) =
            cx.g.session_keys
                .get(&session)
                .and_then(|cs| cs.first())
                .filter(|&&first| first != position)
        {
            let other = cx.g.credential(first).map_or("", |c| c.agent.id.as_str());
            found.push((
                position,
                format!(
                    "session_key {session} is also the session key of credential {} (agent {other:?}): \
                     one key for several credentials, so their actions cannot be told apart",
                    cx.index(first)
                ),
            ));
        }
        let chain = cx.g.node(position).and_then(|n| n.chain);
        let earlier = by_agent.entry(credential.agent.id.as_str()).or_default();
        let overlapping = earlier.iter().find(|(other, c)| {
            cx.g.node(*other).and_then(|n| n.chain) != chain
                && credential.issued_at < c.expires_at
                && c.issued_at < credential.expires_at
        });
        if let Some(&(other, c)) = overlapping {
            let other_chain = cx.g.node(other).and_then(|n| n.chain);
            let name = |chain: Option<usize>| {
                chain.map_or(String::from("no traceable authorization"), |a| {
                    format!("authorization {}", cx.index(a))
                })
            };
            found.push((
                position,
                format!(
                    "agent.id {:?} also holds credential {} under {}, valid {}..{}, overlapping \
                     this credential's {}..{} under {}: one agent identity serves two \
                     authorizations at once",
                    credential.agent.id,
                    cx.index(other),
                    name(other_chain),
                    c.issued_at,
                    c.expires_at,
                    credential.issued_at,
                    credential.expires_at,
                    name(chain)
                ),
            ));
        }
        earlier.push((position, credential));
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::SharedAgentIdentity, detail);
    }
}

/// `action_without_credential`, `action_not_signed_by_session`,
/// `action_out_of_scope`, `action_after_expiry`.
fn actions(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let Some(action) = node.action() else {
            continue;
        };
        let Some(credential_position) = node.links.credential else {
            let hash = action.credential.hash();
            let why = match (cx.g.entry_index.get(&hash), cx.g.by_hash.get(&hash)) {
                (Some(index), Some(&p)) if p >= position => {
                    format!("entry {index}, which comes after the action in the log")
                }
                (Some(index), Some(&p)) => {
                    let kind = cx.g.node(p).map_or(Kind::Credential, |n| n.record.kind());
                    format!("entry {index}, a {kind}, not a credential")
                }
                (Some(index), None) => format!("entry {index}, which is not a valid record"),
                (None, _) => String::from("no entry of the log"),
            };
            found.push((
                position,
                FlagKind::ActionWithoutCredential,
                format!("action.credential {hash} names {why}"),
            ));
            continue;
        };
        if let Some(credential) = cx.g.credential(credential_position) {
            let session = credential.session_key.key_id();
            let signer = node.envelope.signer().map(|s| s.keyid.clone());
            if signer.as_deref().ok() != Some(session.as_str()) {
                let by = match signer {
                    Ok(key) => format!("key {key} ({})", cx.g.signer_name(cx.policy, position)),
                    Err(e) => format!("no single key ({e})"),
                };
                found.push((
                    position,
                    FlagKind::ActionNotSignedBySession,
                    format!(
                        "signed by {by}, not by session key {session} of credential {} (agent \
                         {:?}): the agent the credential was issued to did not sign it",
                        cx.index(credential_position),
                        credential.agent.id
                    ),
                ));
            }
        }
        if let Some(why) = cx.g.scope_violation(position) {
            found.push((position, FlagKind::ActionOutOfScope, why));
        }
        if let Some(why) = cx.g.lifetime_violation(position) {
            found.push((position, FlagKind::ActionAfterExpiry, why));
        }
    }
    for (position, kind, detail) in found {
        cx.flag(position, kind, detail);
    }
}

fn not_in<'a>(items: &'a [String], allowed: &[String]) -> Vec<&'a str> {
    items
        .iter()
        .filter(|i| !allowed.contains(i))
        .map(String::as_str)
        .collect()
}

fn delegation_widens_scope(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, credential) in cx.credentials() {
        let Some(node) = cx.g.node(position) else {
            continue;
        };
        let mut problems = Vec::new();
        let (what, scope, start, end) = if let Some(parent_position) = node.links.parent {
            let Some(parent) = cx.g.credential(parent_position) else {
                continue;
            };
            if credential.authorization != parent.authorization {
                problems.push(format!(
                    "authorization {} differs from parent credential {}'s {}",
                    credential.authorization,
                    cx.index(parent_position),
                    parent.authorization
                ));
            }
            (
                format!("parent credential {}", cx.index(parent_position)),
                &parent.scope,
                ("issued_at", parent.issued_at),
                ("expires_at", parent.expires_at),
            )
        } else if credential.parent.is_none()
            && let Some(auth_position) = node.links.authorization
            && let Some(auth) = cx.g.node(auth_position).and_then(|n| n.authorization())
        {
            (
                format!("authorization {}", cx.index(auth_position)),
                &auth.scope,
                ("not_before", auth.not_before),
                ("not_after", auth.not_after),
            )
        } else {
            continue;
        };
        let targets = not_in(&credential.scope.targets, &scope.targets);
        if !targets.is_empty() {
            problems.push(format!("targets {targets:?} are not in {what}'s scope"));
        }
        let verbs = not_in(&credential.scope.actions, &scope.actions);
        if !verbs.is_empty() {
            problems.push(format!("actions {verbs:?} are not in {what}'s scope"));
        }
        if credential.scope.change_class != scope.change_class {
            problems.push(format!(
                "change_class {:?} is not {what}'s {:?}",
                credential.scope.change_class, scope.change_class
            ));
        }
        if credential.issued_at < start.1 {
            problems.push(format!(
                "issued_at {} is before {what}'s {} {}",
                credential.issued_at, start.0, start.1
            ));
        }
        if credential.expires_at > end.1 {
            problems.push(format!(
                "expires_at {} is after {what}'s {} {}",
                credential.expires_at, end.0, end.1
            ));
        }
        if !problems.is_empty() {
            found.push((position, problems.join("; ")));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::DelegationWidensScope, detail);
    }
}

/// Approvals and reviews, each against its own hourly threshold.
fn implausible_approval_rate(cx: &mut Cx<'_>) {
    let mut by_human: BTreeMap<(Kind, String), Vec<(Time, usize)>> = BTreeMap::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let kind = node.record.kind();
        let Some(subject) = claimed_subject(&node.record) else {
            continue;
        };
        let who = node
            .signed_by
            .as_ref()
            .and_then(|k| cx.policy.principal(k))
            .map_or_else(
                || format!("subject {subject:?}"),
                |p| format!("principal {:?}", p.name),
            );
        by_human
            .entry((kind, who))
            .or_default()
            .push((node.record.record_time(), position));
    }
    let mut found = Vec::new();
    for ((kind, who), mut signed) in by_human {
        let (max, key, what) = if kind == Kind::Authorization {
            (
                cx.t.max_approvals_per_hour,
                "max_approvals_per_hour",
                "authorizations approved",
            )
        } else {
            (
                cx.t.max_reviews_per_hour,
                "max_reviews_per_hour",
                "reviews signed",
            )
        };
        signed.sort();
        for (position, count) in bursts(&signed, 3_600, max) {
            found.push((
                position,
                format!(
                    "{count} {what} by {who} within 60 minutes; more than {max} an hour \
                     ({key}) is not a considered human sign-off"
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::ImplausibleApprovalRate, detail);
    }
}

fn approval_outside_hours(cx: &mut Cx<'_>) {
    let days: Vec<&str> = cx.t.working_days.iter().map(|d| d.as_str()).collect();
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        if !matches!(node.record.kind(), Kind::Authorization | Kind::Review) {
            continue;
        }
        let time = node.record.record_time();
        let human = cx.human(node);
        let tz = human.map_or(jiff::tz::TimeZone::UTC, |p| p.tz.clone());
        if !cx.t.is_working_time_in(time.seconds(), &tz) {
            let (day, minute) = local_day_minute(time.seconds(), &tz);
            let zone = human.map_or("UTC", Principal::tz_name);
            let whose = human.map_or_else(
                || String::from("no policy principal, so UTC"),
                |p| format!("the time zone of principal {:?}", p.name),
            );
            found.push((
                position,
                format!(
                    "{} at {time} is {day} {:02}:{:02} in {zone} ({whose}), outside working \
                     hours {} on {}",
                    node.record.kind(),
                    minute / 60,
                    minute % 60,
                    cx.t.working_hours,
                    if days.is_empty() {
                        String::from("no day")
                    } else {
                        days.join(", ")
                    }
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::ApprovalOutsideHours, detail);
    }
}

fn review_too_fast(cx: &mut Cx<'_>) {
    let min = cx.t.min_review_seconds_per_item;
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let Some(review) = node.review() else {
            continue;
        };
        // What the log shows the review covered: the actions of every
        // session under the reviewed authorization, logged before it. The
        // claimed `items` only ever raises the bar.
        let covered = node.chain.map_or(0, |auth| {
            cx.g.members_of_kind(auth, Kind::Action)
                .into_iter()
                .filter(|&a| a < position)
                .count()
        });
        let covered = u64::try_from(covered).unwrap_or(u64::MAX);
        let items = review.items.max(covered).max(1);
        let spent = nanos_between(review.started_at, review.finished_at);
        let needed = i128::from(min) * 1_000_000_000 * i128::from(items);
        if spent < needed {
            let seconds = seconds_between(review.started_at, review.finished_at);
            let basis = if covered > review.items {
                format!(
                    "{covered} action(s) of authorization {} before it (it claims {} item(s))",
                    node.chain.map_or(0, |a| cx.index(a)),
                    review.items
                )
            } else {
                format!("{} item(s)", review.items)
            };
            found.push((
                position,
                if spent < 0 {
                    format!(
                        "finished_at {} is before started_at {}",
                        review.finished_at, review.started_at
                    )
                } else {
                    format!(
                        "{basis} reviewed in {seconds:.0} s, {:.1} s per item; a considered \
                         review takes at least {min} s per item",
                        seconds / items as f64
                    )
                },
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::ReviewTooFast, detail);
    }
}

/// `missing_preflight`, `self_preflight`, `blocked_preflight_ignored`.
fn preflights(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, credential) in cx.credentials() {
        let Some(node) = cx.g.node(position) else {
            continue;
        };
        // What a pre-flight for this credential may have verified: its
        // authorization and the credentials it was delegated from.
        let mut subjects: BTreeSet<usize> = node.path.iter().skip(1).copied().collect();
        subjects.extend(node.chain);
        subjects.extend(node.links.authorization);

        let referenced = node
            .links
            .preflight
            .and_then(|p| cx.g.node(p))
            .and_then(|n| Some((n, n.preflight()?)));
        match (credential.preflight, referenced) {
            (None, _) => found.push((
                position,
                FlagKind::MissingPreflight,
                String::from("no preflight reference: no pre-flight verification before issuance"),
            )),
            (Some(hash), None) => found.push((
                position,
                FlagKind::MissingPreflight,
                format!("credential.preflight {hash} does not name an earlier pre-flight"),
            )),
            (Some(_), Some((pre_node, pre))) => {
                let index = pre_node.index;
                let mut problems = Vec::new();
                if let Some(why) = &pre_node.rejection {
                    problems.push(format!(
                        "pre-flight {index} is invalid, so it is no pre-flight: {why}"
                    ));
                }
                if pre.time > credential.issued_at {
                    problems.push(format!(
                        "pre-flight {index} at {} is dated after issuance at {}",
                        pre.time, credential.issued_at
                    ));
                }
                if pre.stage != Stage::Issuance {
                    problems.push(format!(
                        "pre-flight {index} ran at stage promotion, not issuance"
                    ));
                }
                if !pre_node
                    .links
                    .subject
                    .is_some_and(|s| subjects.contains(&s))
                {
                    let what = pre_node
                        .links
                        .subject
                        .map_or(String::from("nothing traceable"), |s| {
                            format!("entry {}", cx.index(s))
                        });
                    problems.push(format!(
                        "pre-flight {index} verified {what}, not this credential's \
                         authorization or a credential it was delegated from"
                    ));
                }
                if !problems.is_empty() {
                    found.push((position, FlagKind::MissingPreflight, problems.join("; ")));
                }
                if let Some(why) =
                    self_signed(cx, position, credential, pre_node.signed_by.as_deref())
                {
                    found.push((
                        position,
                        FlagKind::SelfPreflight,
                        format!(
                            "pre-flight {index} was signed by {why}: the agent vouched for itself"
                        ),
                    ));
                }
                if pre.verdict == PreflightVerdict::Block {
                    found.push((
                        position,
                        FlagKind::BlockedPreflightIgnored,
                        format!("it references pre-flight {index}, whose verdict is block"),
                    ));
                    continue;
                }
            }
        }
        // The latest issuance pre-flight before the credential, whatever
        // it references.
        let latest = subjects
            .iter()
            .flat_map(|s| cx.g.preflights_of.get(s).into_iter().flatten())
            .copied()
            .filter(|&p| p < position)
            .filter_map(|p| cx.g.node(p).filter(|n| n.valid()).map(|n| (p, n)))
            .filter_map(|(p, n)| Some((p, n.preflight()?)))
            .filter(|(_, pre)| pre.stage == Stage::Issuance && pre.time <= credential.issued_at)
            .max_by_key(|(p, pre)| (pre.time, *p));
        if let Some((p, pre)) = latest
            && pre.verdict == PreflightVerdict::Block
        {
            let failed: Vec<&str> = pre
                .checks
                .iter()
                .filter(|c| c.result != "pass")
                .map(|c| c.name.as_str())
                .collect();
            found.push((
                position,
                FlagKind::BlockedPreflightIgnored,
                format!(
                    "the latest issuance pre-flight before it, {} at {} (checks {failed:?}), \
                     blocked, and no passing pre-flight followed",
                    cx.index(p),
                    pre.time
                ),
            ));
        }
    }
    for (position, kind, detail) in found {
        cx.flag(position, kind, detail);
    }
}

/// Whether `signer` is the session key of the credential, of a credential
/// of the same agent, or of one it was delegated from; says whose.
fn self_signed(
    cx: &Cx<'_>,
    position: usize,
    credential: &Credential,
    signer: Option<&str>,
) -> Option<String> {
    let signer = signer?;
    let path: HashSet<usize> =
        cx.g.node(position)
            .map(|n| n.path.iter().copied().collect())
            .unwrap_or_default();
    cx.g.session_keys.get(signer)?.iter().find_map(|&c| {
        let other = cx.g.credential(c)?;
        let relation = if c == position {
            "the credential's own session key"
        } else if path.contains(&c) {
            "the session key of a credential it was delegated from"
        } else if other.agent.id == credential.agent.id {
            "the session key of another credential of the same agent"
        } else {
            return None;
        };
        Some(format!(
            "{relation} (credential {}, agent {:?})",
            cx.index(c),
            other.agent.id
        ))
    })
}

fn session_without_closure(cx: &mut Cx<'_>) {
    let now = cx.now;
    let mut found = Vec::new();
    for (position, credential) in cx.credentials() {
        // A closure the log would have refused closes nothing.
        let closed =
            cx.g.closures_of
                .get(&position)
                .into_iter()
                .flatten()
                .any(|&c| cx.g.node(c).is_some_and(Node::valid));
        if !closed && credential.expires_at.seconds() < now {
            found.push((
                position,
                format!(
                    "expired at {} and no closure record ends its session",
                    credential.expires_at
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::SessionWithoutClosure, detail);
    }
}

fn authorization_without_mfa(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        if let Some(auth) = node.authorization()
            && !auth.authn.mfa
        {
            found.push((
                position,
                format!(
                    "approver {:?} authenticated by {:?} without a second factor (authn.mfa \
                     false)",
                    auth.approver.subject, auth.authn.method
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::AuthorizationWithoutMfa, detail);
    }
}

fn backdated_record(cx: &mut Cx<'_>) {
    // The earliest genTime among the anchors covering each index: sort by
    // size, then take suffix minima, so unsorted input is handled too.
    let mut anchors: Vec<(u64, i64)> = cx.anchors.to_vec();
    anchors.sort();
    let mut earliest: Vec<(u64, i64)> = anchors.clone();
    let mut best: Option<(u64, i64)> = None;
    for slot in earliest.iter_mut().rev() {
        if best.is_none_or(|b| slot.1 <= b.1) {
            best = Some(*slot);
        }
        if let Some(b) = best {
            *slot = b;
        }
    }
    let skew = i64::from(cx.t.max_clock_skew_secs);
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let first = anchors.partition_point(|&(size, _)| size <= node.index);
        let Some(&(size, gen_time)) = earliest.get(first) else {
            continue;
        };
        let limit = gen_time.saturating_add(skew);
        let time = node.record.record_time();
        if time.seconds() > limit || (time.seconds() == limit && time.nanos() > 0) {
            let anchored = Time::new(gen_time, 0)
                .map_or_else(|_| format!("unix {gen_time}"), |t| t.to_string());
            found.push((
                position,
                format!(
                    "{}.time {time} is {}s after the TSA anchor of tree size {size} (genTime \
                     {anchored}) already covered it; at most {skew}s is allowed for clock skew",
                    node.record.kind(),
                    time.seconds().saturating_sub(gen_time)
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::BackdatedRecord, detail);
    }
}

fn record_predates_admission(cx: &mut Cx<'_>) {
    // For each index, the latest genTime among anchors of trees that do
    // not contain it (size <= index): sort by size, then prefix maxima.
    let mut anchors: Vec<(u64, i64)> = cx.anchors.to_vec();
    anchors.sort();
    let mut latest: Vec<(u64, i64)> = Vec::with_capacity(anchors.len());
    for &(size, gen_time) in &anchors {
        let best = latest.last().filter(|&&(_, g)| g >= gen_time).copied();
        latest.push(best.unwrap_or((size, gen_time)));
    }
    let skew = i64::from(cx.t.max_clock_skew_secs);
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let before = anchors.partition_point(|&(size, _)| size <= node.index);
        let Some(&(size, gen_time)) = before.checked_sub(1).and_then(|i| latest.get(i)) else {
            continue;
        };
        let time = node.record.record_time();
        if time.seconds() < gen_time.saturating_sub(skew) {
            let anchored = Time::new(gen_time, 0)
                .map_or_else(|_| format!("unix {gen_time}"), |t| t.to_string());
            found.push((
                position,
                format!(
                    "{}.time {time} is {}s before the TSA anchor of tree size {size} (genTime \
                     {anchored}), which does not contain entry {}: the record reached the log \
                     after that time, so it claims an earlier time than it was made; at most \
                     {skew}s is allowed for clock skew",
                    node.record.kind(),
                    gen_time.saturating_sub(time.seconds()),
                    node.index
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::RecordPredatesAdmission, detail);
    }
}
