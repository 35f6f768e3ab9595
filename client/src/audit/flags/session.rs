//! Session rules: whether an agent's session was gated at both ends. Before
//! acting, a preflight that exists, is not signed by the agent itself and
//! was not ignored when it blocked; at the end, a closure. They follow each
//! credential's session through the records that link to it.

use std::collections::{BTreeSet, HashSet};

use causeway_records::{Credential, PreflightVerdict, Stage};

use super::{Cx, FlagKind};
use crate::audit::graph::Node;

/// `missing_preflight`, `self_preflight`, `blocked_preflight_ignored`.
pub(super) fn preflights(cx: &mut Cx<'_>) {
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

pub(super) fn session_without_closure(cx: &mut Cx<'_>) {
    let now = cx.now;
    let mut found = Vec::new();
    for (position, credential) in cx.credentials() {
        // A closure the log would have refused closes nothing. A valid
        // revocation ends the session too: after it the log takes nothing
        // under the credential, and the issuer closes nothing revoked.
        let closed =
            cx.g.closures_of
                .get(&position)
                .into_iter()
                .flatten()
                .any(|&c| cx.g.node(c).is_some_and(Node::valid))
                || cx
                    .g
                    .exceptions_of
                    .get(&position)
                    .into_iter()
                    .flatten()
                    .filter_map(|&e| cx.g.node(e).filter(|n| n.valid()))
                    .any(|n| n.exception().is_some_and(|x| x.revoked));
        if !closed && credential.expires_at.seconds() < now {
            found.push((
                position,
                format!(
                    "expired at {} and no closure record or revocation ends its session",
                    credential.expires_at
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::SessionWithoutClosure, detail);
    }
}
