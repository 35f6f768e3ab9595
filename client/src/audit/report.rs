//! The audit report: serde types whose JSON names are a contract (the CLI
//! writes them to `report.json`, and the HTML page and other tools read
//! them), and their assembly from the graph, the red flags and the matrix.
//!
//! Records are named by their log index everywhere; hashes are lowercase
//! hex; times are RFC 3339 UTC.

use std::collections::{BTreeMap, HashMap};

use causeway_records::{
    Authn, Check, ClosureReason, Identity, Kind, OutcomeStatus, Plan, PreflightVerdict,
    ProducerPolicy, Scope, Stage, Time,
};
use serde::Serialize;

use super::flags::{Finding, FlagKind, RedFlag};
use super::graph::Graph;
use super::idp::IdpReport;
use super::matrix::Cc81Matrix;
use super::thresholds::Thresholds;

/// Everything the auditor found in the log.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    /// The counts.
    pub summary: Summary,
    /// The thresholds the judgement used.
    pub thresholds: Thresholds,
    /// One causal chain per authorization, in log order.
    pub authorizations: Vec<ChainReport>,
    /// Every action, in log order, with its path to a human.
    pub actions: Vec<ActionReport>,
    /// The red flags, in record order.
    pub red_flags: Vec<RedFlag>,
    /// The CC8.1 evidence matrix.
    pub matrix: Cc81Matrix,
    /// Entries the log should have refused (records that fail admission,
    /// duplicates, non-records), in index order.
    pub invalid: Vec<InvalidEntry>,
}

/// The counts of the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Entries read.
    pub entries: usize,
    /// Entries that are Causeway record envelopes.
    pub records: usize,
    /// Entries that are not (opaque bytes, other payload types).
    pub non_records: usize,
    /// Entries in [`AuditReport::invalid`].
    pub invalid: usize,
    /// Decoded authorizations.
    pub authorizations: usize,
    /// Decoded pre-flights.
    pub preflights: usize,
    /// Decoded credentials.
    pub credentials: usize,
    /// Decoded actions.
    pub actions: usize,
    /// Decoded exceptions.
    pub exceptions: usize,
    /// Decoded closures.
    pub closures: usize,
    /// Decoded reviews.
    pub reviews: usize,
    /// Decoded outcomes.
    pub outcomes: usize,
    /// Red flags.
    pub red_flags: usize,
    /// Red flags per kind (kinds with none are absent).
    pub red_flags_by_kind: BTreeMap<FlagKind, usize>,
    /// Actions whose chain resolves to an authorization, so the
    /// authorizing human is named.
    pub actions_with_named_human: usize,
}

/// An entry the log should have refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvalidEntry {
    /// Its index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// Its kind, when the record decodes.
    pub kind: Option<Kind>,
    /// The class of the problem: `invalid_argument`, `permission_denied`
    /// or `failed_precondition` (as the log would answer), `duplicate` (a
    /// second copy of a submission, by `Envelope::submission_id`) or
    /// `not_a_record` (bytes that are no Causeway record envelope).
    pub code: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// An agent, as its credential names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentReport {
    /// The agent's identity.
    pub id: String,
    /// Its model.
    pub model: String,
    /// Its version.
    pub version: String,
}

/// The human at the root of an action's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthorizedBy {
    /// `approver.subject`.
    pub subject: String,
    /// `approver.issuer` (the identity provider).
    pub issuer: String,
    /// `authn.method`.
    pub authn_method: String,
    /// `authn.mfa`.
    pub mfa: bool,
    /// `authn.assurance`.
    pub assurance: String,
    /// `authn.authenticated_at`.
    pub authenticated_at: Time,
    /// The pinned identity provider that proves this login, when the
    /// authorization's ID token verifies.
    pub idp_verified: Option<String>,
}

/// The pre-flight behind an action's credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreflightLink {
    /// The pre-flight's index.
    pub index: u64,
    /// The credential on the delegation path that references it (the
    /// action's own, or the nearest one it was delegated from).
    pub credential: u64,
    /// Its verdict.
    pub verdict: PreflightVerdict,
    /// Its stage.
    pub stage: Stage,
    /// Its time.
    pub time: Time,
    /// Whether its time is at or before that credential's `issued_at`.
    pub before_issuance: bool,
    /// Who signed it.
    pub signer: String,
}

/// One action and its path back to a human.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionReport {
    /// The action's index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// `action.time`.
    pub time: Time,
    /// `action.seq`.
    pub seq: u64,
    /// `action.tool`.
    pub tool: String,
    /// `action.target`.
    pub target: String,
    /// `action.summary`.
    pub summary: String,
    /// `action.result`.
    pub result: String,
    /// The credential acted under, if it resolves.
    pub credential: Option<u64>,
    /// The agent the credential was issued to.
    pub agent: Option<AgentReport>,
    /// Credential indices from the action's credential up to the root
    /// credential.
    pub delegation_path: Vec<u64>,
    /// The index of the root authorization.
    pub authorization: Option<u64>,
    /// The authorizing human.
    pub authorized_by: Option<AuthorizedBy>,
    /// Whether the target (and the operation, when the action names one)
    /// is in the credential's scope (see the `action_out_of_scope` rule).
    pub in_scope: bool,
    /// Whether the action's time is inside the credential's lifetime and,
    /// in log order, it does not follow the revocation or closure of its
    /// credential or an ancestor (the `action_after_expiry` and
    /// `action_after_revocation` rules).
    pub within_lifetime: bool,
    /// The pre-flight behind the credential.
    pub preflight: Option<PreflightLink>,
    /// Who signed the action.
    pub signer: String,
    /// How its call returned: its first valid outcome, if it has one.
    pub outcome: Option<ActionOutcome>,
    /// Whether the action, every credential of its path and the
    /// authorization pass admission.
    pub valid: bool,
    /// Indices into [`AuditReport::red_flags`] of the flags on this action.
    pub red_flags: Vec<usize>,
}

/// How an action's call returned, from its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionOutcome {
    /// The outcome's index.
    pub index: u64,
    /// `outcome.status`: `ok` or `error`.
    pub status: OutcomeStatus,
    /// `outcome.error`, the error class.
    pub error: Option<String>,
    /// `outcome.result_digest`.
    pub result_digest: String,
    /// `outcome.time`.
    pub time: Time,
}

/// A pre-flight on a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreflightReport {
    /// Its index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// The record verified.
    pub subject: Option<u64>,
    /// `preflight.stage`.
    pub stage: Stage,
    /// `preflight.verdict`.
    pub verdict: PreflightVerdict,
    /// `preflight.checks`.
    pub checks: Vec<Check>,
    /// `preflight.time`.
    pub time: Time,
    /// Who signed it.
    pub signer: String,
    /// Whether it passes admission.
    pub valid: bool,
}

/// A credential on a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialReport {
    /// Its index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// `credential.serial`.
    pub serial: String,
    /// The agent.
    pub agent: AgentReport,
    /// The parent credential (delegation).
    pub parent: Option<u64>,
    /// Delegation level: 1 for a credential issued under the authorization
    /// (the human being level 0), 2 for one delegated from it, and so on.
    pub depth: usize,
    /// `credential.scope`.
    pub scope: Scope,
    /// The referenced pre-flight, if it resolves.
    pub preflight: Option<u64>,
    /// `credential.issued_at`.
    pub issued_at: Time,
    /// `credential.expires_at`.
    pub expires_at: Time,
    /// The key ID of the session key.
    pub session_key_id: String,
    /// Who signed the credential (an issuer, or the parent's session key).
    pub signer: String,
    /// How many actions reference it.
    pub actions: usize,
    /// How many valid outcomes under it have status `ok`.
    pub outcomes_ok: usize,
    /// How many valid outcomes under it have status `error`.
    pub outcomes_error: usize,
    /// The first closure of its session.
    pub closure: Option<u64>,
    /// Whether it passes admission.
    pub valid: bool,
}

/// A closure on a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClosureReport {
    /// Its index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// The credential whose session it ends.
    pub credential: Option<u64>,
    /// `closure.reason`.
    pub reason: ClosureReason,
    /// `closure.started_at`.
    pub started_at: Time,
    /// `closure.ended_at`.
    pub ended_at: Time,
    /// `closure.actions`, as claimed.
    pub actions: u64,
    /// `closure.summary`.
    pub summary: String,
    /// Who signed it.
    pub signer: String,
    /// Whether it passes admission.
    pub valid: bool,
}

/// A review on a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewReport {
    /// Its index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// The record reviewed.
    pub subject: Option<u64>,
    /// `review.reviewer`.
    pub reviewer: Identity,
    /// `review.verdict`.
    pub verdict: String,
    /// `review.started_at`.
    pub started_at: Time,
    /// `review.finished_at`.
    pub finished_at: Time,
    /// `review.items`.
    pub items: u64,
    /// `review.time`.
    pub time: Time,
    /// Who signed it.
    pub signer: String,
    /// Whether it passes admission.
    pub valid: bool,
}

/// An exception on a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExceptionReport {
    /// Its index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// The credential concerned.
    pub credential: Option<u64>,
    /// The action that caused it.
    pub action: Option<u64>,
    /// `exception.reason`.
    pub reason: String,
    /// `exception.revoked`.
    pub revoked: bool,
    /// `exception.time`.
    pub time: Time,
    /// `exception.call_digest`: the digest of the refused call, for an
    /// exception about a call the gate refused before any action.
    pub call_digest: Option<String>,
    /// Who signed it.
    pub signer: String,
    /// Whether it passes admission.
    pub valid: bool,
}

/// An outcome on a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutcomeReport {
    /// Its index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// The action whose call returned, if it resolves.
    pub action: Option<u64>,
    /// The credential, if it resolves.
    pub credential: Option<u64>,
    /// `outcome.status`.
    pub status: OutcomeStatus,
    /// `outcome.error`.
    pub error: Option<String>,
    /// `outcome.result_digest`.
    pub result_digest: String,
    /// `outcome.time`.
    pub time: Time,
    /// Who signed it.
    pub signer: String,
    /// Whether it passes admission.
    pub valid: bool,
}

/// One authorization and everything that traces to it: enough to draw
/// human → credentials (by delegation level) → actions, with pre-flights,
/// closures, reviews and exceptions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// The authorization's index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// `authorization.approver`.
    pub approver: Identity,
    /// `authorization.authn`.
    pub authn: Authn,
    /// What its ID token proves, re-checked offline.
    pub idp: IdpReport,
    /// `authorization.plan`.
    pub plan: Plan,
    /// `authorization.scope`.
    pub scope: Scope,
    /// `authorization.ticket`.
    pub ticket: String,
    /// `authorization.not_before`.
    pub not_before: Time,
    /// `authorization.not_after`.
    pub not_after: Time,
    /// `authorization.time`.
    pub time: Time,
    /// Who signed it.
    pub signer: String,
    /// Whether it passes admission.
    pub valid: bool,
    /// Pre-flights of the authorization or its credentials.
    pub preflights: Vec<PreflightReport>,
    /// Credentials tracing to it, in log order.
    pub credentials: Vec<CredentialReport>,
    /// Indices of the actions tracing to it.
    pub actions: Vec<u64>,
    /// Closures of its credentials.
    pub closures: Vec<ClosureReport>,
    /// Reviews of it, its credentials or their closures.
    pub reviews: Vec<ReviewReport>,
    /// Exceptions on its credentials.
    pub exceptions: Vec<ExceptionReport>,
    /// Outcomes of its actions, in log order.
    pub outcomes: Vec<OutcomeReport>,
    /// Indices into [`AuditReport::red_flags`] of the flags on any record
    /// of the chain.
    pub red_flags: Vec<usize>,
}

/// Assembles the report.
pub(crate) fn assemble(
    g: &Graph,
    policy: &ProducerPolicy,
    thresholds: &Thresholds,
    findings: &[Finding],
    matrix: Cc81Matrix,
) -> AuditReport {
    let index = |p: usize| g.node(p).map_or(0, |n| n.index);
    let signer = |p: usize| g.signer_name(policy, p);
    let valid = |p: usize| g.node(p).is_some_and(|n| n.valid());

    let red_flags: Vec<RedFlag> = findings
        .iter()
        .map(|f| RedFlag {
            kind: f.kind,
            record: index(f.position),
            leaf_hash: g
                .node(f.position)
                .map_or_else(String::new, |n| n.leaf.to_hex()),
            authorization: g.node(f.position).and_then(|n| n.chain).map(index),
            detail: f.detail.clone(),
        })
        .collect();
    let mut flags_at: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut flags_of_chain: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        flags_at.entry(f.position).or_default().push(i);
        if let Some(chain) = g.node(f.position).and_then(|n| n.chain) {
            flags_of_chain.entry(chain).or_default().push(i);
        }
    }

    let mut summary = Summary {
        entries: g.entries,
        records: g.records,
        non_records: g.non_records,
        invalid: g.invalid.len(),
        red_flags: red_flags.len(),
        ..Summary::default()
    };
    for f in &red_flags {
        *summary.red_flags_by_kind.entry(f.kind).or_default() += 1;
    }
    for node in &g.nodes {
        let count = match node.record.kind() {
            Kind::Authorization => &mut summary.authorizations,
            Kind::Preflight => &mut summary.preflights,
            Kind::Credential => &mut summary.credentials,
            Kind::Action => &mut summary.actions,
            Kind::Exception => &mut summary.exceptions,
            Kind::Closure => &mut summary.closures,
            Kind::Review => &mut summary.reviews,
            Kind::Outcome => &mut summary.outcomes,
        };
        *count += 1;
    }

    let mut actions = Vec::new();
    for (position, node) in g.nodes.iter().enumerate() {
        let Some(action) = node.action() else {
            continue;
        };
        let credential_node = node.links.credential.and_then(|c| g.node(c));
        let path: &[usize] = credential_node.map_or(&[], |c| c.path.as_slice());
        let authorization = node
            .chain
            .and_then(|a| Some((a, g.node(a)?.authorization()?)));
        let preflight = path.iter().find_map(|&c| {
            let cred = g.credential(c)?;
            let p = g.node(c)?.links.preflight?;
            let pre = g.node(p)?.preflight()?;
            Some(PreflightLink {
                index: index(p),
                credential: index(c),
                verdict: pre.verdict,
                stage: pre.stage,
                time: pre.time,
                before_issuance: pre.time <= cred.issued_at,
                signer: signer(p),
            })
        });
        let chain_valid = valid(position)
            && path.iter().all(|&c| valid(c))
            && authorization.is_some_and(|(a, _)| valid(a));
        actions.push(ActionReport {
            index: node.index,
            leaf_hash: node.leaf.to_hex(),
            time: action.time,
            seq: action.seq,
            tool: action.tool.clone(),
            target: action.target.clone(),
            summary: action.summary.clone(),
            result: action.result.clone(),
            credential: node.links.credential.map(index),
            agent: credential_node
                .and_then(|c| c.credential())
                .map(|c| AgentReport {
                    id: c.agent.id.clone(),
                    model: c.agent.model.clone(),
                    version: c.agent.version.clone(),
                }),
            delegation_path: path.iter().map(|&c| index(c)).collect(),
            authorization: authorization.map(|(a, _)| index(a)),
            authorized_by: authorization.map(|(a_pos, a)| AuthorizedBy {
                subject: a.approver.subject.clone(),
                issuer: a.approver.issuer.clone(),
                authn_method: a.authn.method.clone(),
                mfa: a.authn.mfa,
                assurance: a.authn.assurance.clone(),
                authenticated_at: a.authn.authenticated_at,
                idp_verified: g
                    .node(a_pos)
                    .and_then(|n| n.idp.as_ref())
                    .and_then(|b| b.verified())
                    .map(|t| t.idp.clone()),
            }),
            in_scope: g.in_scope(position),
            // Inside by claimed time and, in log order, not after its
            // credential (or an ancestor) ended.
            within_lifetime: node.links.credential.is_some()
                && g.lifetime_violation(position).is_none()
                && node.after_end.is_none(),
            preflight,
            signer: signer(position),
            outcome: g
                .outcomes_of
                .get(&position)
                .and_then(|os| os.first())
                .and_then(|&o| {
                    let out = g.node(o)?.outcome()?;
                    Some(ActionOutcome {
                        index: index(o),
                        status: out.status,
                        error: out.error.clone(),
                        result_digest: out.result_digest.clone(),
                        time: out.time,
                    })
                }),
            valid: chain_valid,
            red_flags: flags_at.get(&position).cloned().unwrap_or_default(),
        });
    }
    summary.actions_with_named_human = actions.iter().filter(|a| a.authorized_by.is_some()).count();

    let mut authorizations = Vec::new();
    for (position, node) in g.nodes.iter().enumerate() {
        let Some(auth) = node.authorization() else {
            continue;
        };
        let members = |kind| g.members_of_kind(position, kind);
        let outcomes_with = |credential: usize, status: OutcomeStatus| {
            g.credential_outcomes
                .get(&credential)
                .into_iter()
                .flatten()
                .filter(|&&o| g.node(o).and_then(|n| n.outcome()).map(|o| o.status) == Some(status))
                .count()
        };
        let preflights = members(Kind::Preflight)
            .into_iter()
            .filter_map(|p| {
                let n = g.node(p)?;
                let pre = n.preflight()?;
                Some(PreflightReport {
                    index: n.index,
                    leaf_hash: n.leaf.to_hex(),
                    subject: n.links.subject.map(index),
                    stage: pre.stage,
                    verdict: pre.verdict,
                    checks: pre.checks.clone(),
                    time: pre.time,
                    signer: signer(p),
                    valid: n.valid(),
                })
            })
            .collect();
        let credentials = members(Kind::Credential)
            .into_iter()
            .filter_map(|c| {
                let n = g.node(c)?;
                let cred = n.credential()?;
                Some(CredentialReport {
                    index: n.index,
                    leaf_hash: n.leaf.to_hex(),
                    serial: cred.serial.clone(),
                    agent: AgentReport {
                        id: cred.agent.id.clone(),
                        model: cred.agent.model.clone(),
                        version: cred.agent.version.clone(),
                    },
                    parent: n.links.parent.map(index),
                    depth: n.path.len(),
                    scope: cred.scope.clone(),
                    preflight: n.links.preflight.map(index),
                    issued_at: cred.issued_at,
                    expires_at: cred.expires_at,
                    session_key_id: cred.session_key.key_id(),
                    signer: signer(c),
                    actions: g.actions_of.get(&c).map_or(0, Vec::len),
                    outcomes_ok: outcomes_with(c, OutcomeStatus::Ok),
                    outcomes_error: outcomes_with(c, OutcomeStatus::Error),
                    closure: g
                        .closures_of
                        .get(&c)
                        .and_then(|cs| cs.first())
                        .map(|&p| index(p)),
                    valid: n.valid(),
                })
            })
            .collect();
        let closures = members(Kind::Closure)
            .into_iter()
            .filter_map(|p| {
                let n = g.node(p)?;
                let c = n.closure()?;
                Some(ClosureReport {
                    index: n.index,
                    leaf_hash: n.leaf.to_hex(),
                    credential: n.links.credential.map(index),
                    reason: c.reason,
                    started_at: c.started_at,
                    ended_at: c.ended_at,
                    actions: c.actions,
                    summary: c.summary.clone(),
                    signer: signer(p),
                    valid: n.valid(),
                })
            })
            .collect();
        let reviews = members(Kind::Review)
            .into_iter()
            .filter_map(|p| {
                let n = g.node(p)?;
                let r = n.review()?;
                Some(ReviewReport {
                    index: n.index,
                    leaf_hash: n.leaf.to_hex(),
                    subject: n.links.subject.map(index),
                    reviewer: r.reviewer.clone(),
                    verdict: r.verdict.clone(),
                    started_at: r.started_at,
                    finished_at: r.finished_at,
                    items: r.items,
                    time: r.time,
                    signer: signer(p),
                    valid: n.valid(),
                })
            })
            .collect();
        let exceptions = members(Kind::Exception)
            .into_iter()
            .filter_map(|p| {
                let n = g.node(p)?;
                let e = n.exception()?;
                Some(ExceptionReport {
                    index: n.index,
                    leaf_hash: n.leaf.to_hex(),
                    credential: n.links.credential.map(index),
                    action: n.links.action.map(index),
                    reason: e.reason.clone(),
                    revoked: e.revoked,
                    time: e.time,
                    call_digest: e.call_digest.clone(),
                    signer: signer(p),
                    valid: n.valid(),
                })
            })
            .collect();
        let outcomes = members(Kind::Outcome)
            .into_iter()
            .filter_map(|p| {
                let n = g.node(p)?;
                let o = n.outcome()?;
                Some(OutcomeReport {
                    index: n.index,
                    leaf_hash: n.leaf.to_hex(),
                    action: n.links.action.map(index),
                    credential: n.links.credential.map(index),
                    status: o.status,
                    error: o.error.clone(),
                    result_digest: o.result_digest.clone(),
                    time: o.time,
                    signer: signer(p),
                    valid: n.valid(),
                })
            })
            .collect();
        authorizations.push(ChainReport {
            index: node.index,
            leaf_hash: node.leaf.to_hex(),
            approver: auth.approver.clone(),
            authn: auth.authn.clone(),
            idp: node.idp.as_ref().map_or_else(
                || IdpReport::of(&causeway_records::IdpBinding::Missing),
                IdpReport::of,
            ),
            plan: auth.plan.clone(),
            scope: auth.scope.clone(),
            ticket: auth.ticket.clone(),
            not_before: auth.not_before,
            not_after: auth.not_after,
            time: auth.time,
            signer: signer(position),
            valid: node.valid(),
            preflights,
            credentials,
            actions: members(Kind::Action).into_iter().map(index).collect(),
            closures,
            reviews,
            exceptions,
            outcomes,
            red_flags: flags_of_chain.get(&position).cloned().unwrap_or_default(),
        });
    }

    AuditReport {
        summary,
        thresholds: thresholds.clone(),
        authorizations,
        actions,
        red_flags,
        matrix,
        invalid: g.invalid.clone(),
    }
}
