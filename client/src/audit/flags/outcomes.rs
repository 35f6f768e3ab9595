//! Outcome rules: whether the calls a producer records the return of all
//! have one. An `outcome` is how a gateway says a call it logged (as an
//! action) came back; a gateway writes the action before it forwards the
//! call, so an action without its outcome is a call whose end nobody
//! recorded. Only valid outcomes count (`Graph::outcomes_of`): one the
//! log would have refused says nothing about the call.

use super::{Cx, FlagKind};

/// `action_without_outcome`: only under credentials with at least one
/// outcome, so a producer that never writes outcomes is not judged by a
/// practice it does not follow.
pub(super) fn action_without_outcome(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        if node.action().is_none() || cx.g.outcomes_of.contains_key(&position) {
            continue;
        }
        let Some(credential) = node.links.credential else {
            continue;
        };
        let Some(outcomes) = cx.g.credential_outcomes.get(&credential) else {
            continue;
        };
        found.push((
            position,
            format!(
                "no outcome names this action, while credential {} has {} outcome(s) (first: \
                 entry {}): the call was cut off before it returned, or its outcome was not \
                 recorded",
                cx.index(credential),
                outcomes.len(),
                outcomes.first().map_or(0, |&o| cx.index(o)),
            ),
        ));
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::ActionWithoutOutcome, detail);
    }
}

/// `outcome_duplicate`: every valid outcome after the first for one
/// action.
pub(super) fn outcome_duplicate(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (&action, outcomes) in &cx.g.outcomes_of {
        let Some((&first, later)) = outcomes.split_first() else {
            continue;
        };
        for &o in later {
            found.push((
                o,
                format!(
                    "action {} already has outcome {}; one call returns once",
                    cx.index(action),
                    cx.index(first)
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::OutcomeDuplicate, detail);
    }
}

/// `call_refused`: every valid exception that names a refused call.
pub(super) fn call_refused(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let Some(exception) = node.exception().filter(|_| node.valid()) else {
            continue;
        };
        let Some(digest) = &exception.call_digest else {
            continue;
        };
        found.push((
            position,
            format!(
                "a call ({digest}) under credential {} was refused; the exception's reason says \
                 which rule refused it",
                node.links.credential.map_or(0, |c| cx.index(c)),
            ),
        ));
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::CallRefused, detail);
    }
}
