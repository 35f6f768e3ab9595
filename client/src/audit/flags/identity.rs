//! Identity rules: whether the records show who acted. An agent working
//! under a human's key or name, an approver or reviewer who is not the
//! policy principal they claim, one agent identity shared by several
//! sessions, a credential that names no agent. They read the policy's
//! principals against the credentials and the human records.

use std::collections::BTreeMap;

use causeway_records::{Credential, Kind, Record, Role, Time};

use super::{Cx, FlagKind, bursts, claimed_subject, normalized};

pub(super) fn agent_activity_as_human(cx: &mut Cx<'_>) {
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

pub(super) fn identity_mismatch(cx: &mut Cx<'_>) {
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

pub(super) fn shared_agent_identity(cx: &mut Cx<'_>) {
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

pub(super) fn credential_without_agent_identity(cx: &mut Cx<'_>) {
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
