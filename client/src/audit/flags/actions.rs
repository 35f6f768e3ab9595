//! Action rules: whether each action was allowed by its credential. An
//! action with no credential, not signed by the credential's session key,
//! out of its scope, after its expiry or after its revocation, and a
//! delegated credential wider than the one it came from. They follow the
//! links from an action (or a delegation) to the credential it rests on.

use causeway_records::Kind;

use super::{Cx, FlagKind};

/// `action_without_credential`, `action_not_signed_by_session`,
/// `action_out_of_scope`, `action_after_expiry`.
pub(super) fn actions(cx: &mut Cx<'_>) {
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

pub(super) fn action_after_revocation(cx: &mut Cx<'_>) {
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

pub(super) fn delegation_widens_scope(cx: &mut Cx<'_>) {
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

fn not_in<'a>(items: &'a [String], allowed: &[String]) -> Vec<&'a str> {
    items
        .iter()
        .filter(|i| !allowed.contains(i))
        .map(String::as_str)
        .collect()
}
