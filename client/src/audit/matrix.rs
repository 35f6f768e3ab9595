//! The CC8.1 evidence matrix (seed white paper, Appendix A): for every
//! authorization, whether the log holds the agentic evidence for each
//! sub-requirement. The definitions are on [`Cc81Row`].

use std::collections::HashSet;

use causeway_records::{Kind, PreflightVerdict, ProducerPolicy, Record, Role, Stage};
use serde::Serialize;

use super::flags::{Finding, FlagKind};
use super::graph::Graph;

/// One authorization's row of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cc81Row {
    /// The authorization's index.
    pub authorization: u64,
    /// Changes are authorized: the authorization is valid (it passes the
    /// log's admission checks) and is signed by a policy principal of role
    /// `human` allowed to sign authorizations.
    pub authorized: bool,
    /// Changes are documented: the plan's `objective`, `method`,
    /// `test_approach` and `backout`, the `ticket` and `scope.targets` are
    /// not empty, and every action on the chain is traced to it through
    /// valid records (the action and every credential of its delegation
    /// path pass admission).
    pub documented: bool,
    /// Changes are tested prior to implementation: a valid pre-flight with
    /// verdict `pass` at stage `issuance`, of the authorization or one of
    /// its credentials, not signed by a session key of the chain, that
    /// comes before the chain's first credential both in the log and in
    /// time (its `time` at or before the earliest `issued_at`). With no
    /// credential, any such pre-flight. False whenever a credential of the
    /// chain is flagged `missing_preflight`, `self_preflight` or
    /// `blocked_preflight_ignored`, so the column and the flags agree.
    pub tested: bool,
    /// Changes are reviewed: a valid review whose subject is the
    /// authorization, one of its credentials or one of their closures,
    /// and that is not flagged `self_review` (the approver reviewing their
    /// own change is no review).
    pub reviewed: bool,
    /// Deviations are identified and addressed: every red flag on a record
    /// of the chain is followed, later in the log, by an exception on the
    /// flagged record's credential (any credential of the chain when the
    /// flagged record is the authorization, a pre-flight or a review) or
    /// naming the flagged action, or by a valid review of the chain that is
    /// not itself flagged `review_too_fast` or `self_review`. True when the
    /// chain has no red flag.
    pub deviations_addressed: bool,
}

/// How many rows hold each sub-requirement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cc81Totals {
    /// Rows (authorizations).
    pub authorizations: usize,
    /// Rows with `authorized`.
    pub authorized: usize,
    /// Rows with `documented`.
    pub documented: usize,
    /// Rows with `tested`.
    pub tested: usize,
    /// Rows with `reviewed`.
    pub reviewed: usize,
    /// Rows with `deviations_addressed`.
    pub deviations_addressed: usize,
    /// Rows with all five.
    pub complete: usize,
}

/// The CC8.1 evidence matrix.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cc81Matrix {
    /// One row per authorization, in log order.
    pub rows: Vec<Cc81Row>,
    /// The column totals.
    pub totals: Cc81Totals,
}

/// Builds the matrix from the graph and the red flags.
pub(crate) fn build(g: &Graph, policy: &ProducerPolicy, findings: &[Finding]) -> Cc81Matrix {
    let flagged = |kinds: &[FlagKind]| -> HashSet<usize> {
        findings
            .iter()
            .filter(|f| kinds.contains(&f.kind))
            .map(|f| f.position)
            .collect()
    };
    let self_reviews = flagged(&[FlagKind::SelfReview]);
    let no_review = flagged(&[FlagKind::ReviewTooFast, FlagKind::SelfReview]);
    let untested = flagged(&[
        FlagKind::MissingPreflight,
        FlagKind::SelfPreflight,
        FlagKind::BlockedPreflightIgnored,
    ]);
    let mut matrix = Cc81Matrix::default();
    for (position, node) in g.nodes.iter().enumerate() {
        let Some(auth) = node.authorization() else {
            continue;
        };
        let authorized = node.valid()
            && node
                .signed_by
                .as_ref()
                .and_then(|k| policy.principal(k))
                .is_some_and(|p| p.role == Role::Human && p.may_sign(Kind::Authorization));

        let plan = &auth.plan;
        let written = [
            &plan.objective,
            &plan.method,
            &plan.test_approach,
            &plan.backout,
            &auth.ticket,
        ]
        .iter()
        .all(|s| !s.trim().is_empty())
            && !auth.scope.targets.is_empty();
        let traced = g
            .members_of_kind(position, Kind::Action)
            .into_iter()
            .all(|a| traced(g, a));
        let documented = written && traced;

        let credentials = g.chain_credentials(position);
        let chain_keys: HashSet<String> = credentials
            .iter()
            .filter_map(|&c| g.credential(c))
            .map(|c| c.session_key.key_id())
            .collect();
        let first_issued = credentials
            .iter()
            .filter_map(|&c| g.credential(c))
            .map(|c| c.issued_at)
            .min();
        let first_position = credentials.first().copied();
        let tested = !credentials.iter().any(|c| untested.contains(c))
            && g.members_of_kind(position, Kind::Preflight)
                .into_iter()
                .any(|p| {
                    let Some(pre_node) = g.node(p) else {
                        return false;
                    };
                    let Some(pre) = pre_node.preflight() else {
                        return false;
                    };
                    pre_node.valid()
                        && pre.verdict == PreflightVerdict::Pass
                        && pre.stage == Stage::Issuance
                        && !pre_node
                            .signed_by
                            .as_ref()
                            .is_some_and(|k| chain_keys.contains(k))
                        && first_position.is_none_or(|c| p < c)
                        && first_issued.is_none_or(|t| pre.time <= t)
                });

        let reviews: Vec<usize> = g
            .members_of_kind(position, Kind::Review)
            .into_iter()
            .filter(|&r| g.node(r).is_some_and(|n| n.valid()) && !self_reviews.contains(&r))
            .collect();
        let reviewed = !reviews.is_empty();

        let exceptions = g.members_of_kind(position, Kind::Exception);
        let deviations_addressed = findings
            .iter()
            .filter(|f| {
                g.node(f.position)
                    .is_some_and(|n| n.chain == Some(position))
            })
            .all(|f| {
                let reviewed_after = reviews
                    .iter()
                    .any(|&r| r > f.position && !no_review.contains(&r));
                let excepted_after = exceptions
                    .iter()
                    .filter(|&&e| e > f.position)
                    .any(|&e| exception_covers(g, e, f.position));
                reviewed_after || excepted_after
            });

        matrix.rows.push(Cc81Row {
            authorization: node.index,
            authorized,
            documented,
            tested,
            reviewed,
            deviations_addressed,
        });
    }
    let t = &mut matrix.totals;
    for row in &matrix.rows {
        let cells = [
            row.authorized,
            row.documented,
            row.tested,
            row.reviewed,
            row.deviations_addressed,
        ];
        t.authorizations += 1;
        t.authorized += usize::from(row.authorized);
        t.documented += usize::from(row.documented);
        t.tested += usize::from(row.tested);
        t.reviewed += usize::from(row.reviewed);
        t.deviations_addressed += usize::from(row.deviations_addressed);
        t.complete += usize::from(cells.iter().all(|&c| c));
    }
    matrix
}

/// Whether an action and every credential of its delegation path passed
/// admission.
fn traced(g: &Graph, action: usize) -> bool {
    let Some(node) = g.node(action) else {
        return false;
    };
    let Some(credential) = node.links.credential.and_then(|c| g.node(c)) else {
        return false;
    };
    node.valid()
        && credential
            .path
            .iter()
            .all(|&c| g.node(c).is_some_and(|n| n.valid()))
}

/// Whether an exception addresses a flag on the record at `flagged`.
fn exception_covers(g: &Graph, exception: usize, flagged: usize) -> bool {
    let (Some(e), Some(f)) = (g.node(exception), g.node(flagged)) else {
        return false;
    };
    let credential = match &f.record {
        Record::Credential(_) => Some(flagged),
        Record::Action(_) | Record::Closure(_) | Record::Exception(_) | Record::Outcome(_) => {
            f.links.credential
        }
        // The flag is about the chain as a whole: any exception on it.
        Record::Authorization(_) | Record::Preflight(_) | Record::Review(_) => return true,
    };
    e.links.action == Some(flagged) || (credential.is_some() && e.links.credential == credential)
}
