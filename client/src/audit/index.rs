//! The evidence index: one flat row per record and per credential, taken
//! from the same graph the analysis judged, for an auditor's own store
//! (`causeway audit --state`, `crate::audit_state`). Pure, like the rest
//! of the analysis: it only re-reads the graph.
//!
//! Every value here comes from entries the caller verified against the
//! signed tree, so a query over these rows trusts no log operator.

use causeway_records::{Kind, ProducerPolicy, Record};

use super::AuditInput;
use super::graph::{Graph, Node};
use super::report::AuditReport;

/// One record, flattened. Columns that do not apply to its kind are
/// `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRow {
    /// Its log index.
    pub idx: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// Its kind (`authorization`, `action`, …).
    pub kind: Kind,
    /// Who signed it: the policy principal's name, `session key of
    /// <credential leaf hash>`, or `key <key id>`; `, signature not
    /// verified` is appended when the signature did not verify.
    pub signer: String,
    /// The leaf hash of the authorization it traces to.
    pub authorization: Option<String>,
    /// That authorization's `ticket`.
    pub ticket: Option<String>,
    /// That authorization's `approver.subject`.
    pub approver: Option<String>,
    /// The agent of the credential it is under (or is).
    pub agent_id: Option<String>,
    /// The leaf hash of the credential it is under (or is).
    pub credential: Option<String>,
    /// That credential's `serial`.
    pub credential_serial: Option<String>,
    /// `action.target`.
    pub target: Option<String>,
    /// `action.operation`.
    pub operation: Option<String>,
    /// The kind's own verdict: a pre-flight's or review's `verdict`, a
    /// closure's `reason`, an outcome's `status`, `revoked` for a revoking
    /// exception and `exception` for another.
    pub verdict: Option<String>,
    /// Its `time` (RFC 3339 UTC).
    pub time: String,
    /// The same, in whole Unix seconds.
    pub time_unix: i64,
    /// Whether it passes the log's admission rules, re-checked.
    pub valid: bool,
}

/// One credential and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRow {
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// Its log index.
    pub idx: u64,
    /// `credential.serial`.
    pub serial: String,
    /// `credential.agent.id`.
    pub agent_id: String,
    /// The leaf hash of the authorization it traces to (through its
    /// delegation path), when it resolves.
    pub authorization: Option<String>,
    /// The leaf hash of its parent credential, when delegated.
    pub parent: Option<String>,
    /// `credential.issued_at`.
    pub issued_at: String,
    /// `credential.expires_at`.
    pub expires_at: String,
    /// Actions that name it.
    pub actions: u64,
    /// The leaf hash of the first valid record that ended it: a closure or
    /// a revoking exception.
    pub ended_by: Option<String>,
    /// When that record says it ended: the closure's `ended_at`, the
    /// exception's `time`.
    pub ended_at: Option<String>,
}

/// Every record and credential of the audited log, in log order.
#[derive(Clone, Debug, Default)]
pub struct EvidenceIndex {
    /// One row per decodable record (duplicates and non-records have none).
    pub records: Vec<RecordRow>,
    /// One row per credential.
    pub credentials: Vec<CredentialRow>,
}

/// [`super::analyze`], and the evidence index of the same graph.
pub fn analyze_indexed(input: &AuditInput<'_>) -> (AuditReport, EvidenceIndex) {
    let g = Graph::build(input.entries, input.policy);
    let findings =
        super::flags::detect(&g, input.policy, input.thresholds, input.anchors, input.now);
    let matrix = super::matrix::build(&g, input.policy, &findings);
    let index = build(&g, input.policy);
    let report = super::report::assemble(&g, input.policy, input.thresholds, &findings, matrix);
    (report, index)
}

fn build(g: &Graph, policy: &ProducerPolicy) -> EvidenceIndex {
    let leaf = |p: Option<usize>| p.and_then(|p| g.node(p)).map(|n| n.leaf.to_hex());
    let mut out = EvidenceIndex::default();
    for (position, node) in g.nodes.iter().enumerate() {
        let auth = node.chain.and_then(|a| g.node(a));
        let authorization = auth.and_then(Node::authorization);
        // The credential the record is under, or is.
        let credential_pos = match &node.record {
            Record::Credential(_) => Some(position),
            Record::Preflight(_) | Record::Review(_) => node.links.subject.and_then(|s| {
                let n = g.node(s)?;
                match &n.record {
                    Record::Credential(_) => Some(s),
                    Record::Closure(_) => n.links.credential,
                    _ => None,
                }
            }),
            _ => node.links.credential,
        };
        let credential = credential_pos.and_then(|c| g.credential(c));
        let (target, operation, verdict) = match &node.record {
            Record::Action(a) => (Some(a.target.clone()), a.operation.clone(), None),
            Record::Preflight(p) => (None, None, Some(json_word(&p.verdict))),
            Record::Review(r) => (None, None, Some(r.verdict.clone())),
            Record::Closure(c) => (None, None, Some(json_word(&c.reason))),
            Record::Outcome(o) => (None, None, Some(o.status.as_str().to_owned())),
            Record::Exception(e) => (
                None,
                None,
                Some(if e.revoked { "revoked" } else { "exception" }.to_owned()),
            ),
            Record::Authorization(_) | Record::Credential(_) => (None, None, None),
        };
        let time = node.record.record_time();
        out.records.push(RecordRow {
            idx: node.index,
            leaf_hash: node.leaf.to_hex(),
            kind: node.record.kind(),
            signer: signer(g, policy, node),
            authorization: auth.map(|a| a.leaf.to_hex()),
            ticket: authorization.map(|a| a.ticket.clone()),
            approver: authorization.map(|a| a.approver.subject.clone()),
            agent_id: credential.map(|c| c.agent.id.clone()),
            credential: leaf(credential_pos),
            credential_serial: credential.map(|c| c.serial.clone()),
            target,
            operation,
            verdict,
            time: time.to_rfc3339(),
            time_unix: time.seconds(),
            valid: node.valid(),
        });

        if let Record::Credential(c) = &node.record {
            // The first valid record, in log order, that ended this
            // credential itself; an invalid one ends nothing.
            let closures = g.closures_of.get(&position).into_iter().flatten();
            let revocations = g
                .exceptions_of
                .get(&position)
                .into_iter()
                .flatten()
                .filter(|&&e| {
                    g.node(e)
                        .and_then(Node::exception)
                        .is_some_and(|e| e.revoked)
                });
            let end = closures
                .chain(revocations)
                .copied()
                .filter(|&p| g.node(p).is_some_and(Node::valid))
                .min()
                .and_then(|p| g.node(p))
                .map(|n| {
                    let at = match &n.record {
                        Record::Closure(cl) => cl.ended_at,
                        other => other.record_time(),
                    };
                    (n.leaf.to_hex(), at.to_rfc3339())
                });
            out.credentials.push(CredentialRow {
                leaf_hash: node.leaf.to_hex(),
                idx: node.index,
                serial: c.serial.clone(),
                agent_id: c.agent.id.clone(),
                authorization: auth.map(|a| a.leaf.to_hex()),
                parent: leaf(node.links.parent),
                issued_at: c.issued_at.to_rfc3339(),
                expires_at: c.expires_at.to_rfc3339(),
                actions: g.actions_of.get(&position).map_or(0, |a| a.len() as u64),
                ended_by: end.as_ref().map(|(h, _)| h.clone()),
                ended_at: end.map(|(_, at)| at),
            });
        }
    }
    out
}

/// Who signed a record, as the `signer` column says it.
fn signer(g: &Graph, policy: &ProducerPolicy, node: &Node) -> String {
    let (key, verified) = match (&node.signed_by, node.envelope.signer()) {
        (Some(k), _) => (k.clone(), true),
        (None, Ok(s)) => (s.keyid.clone(), false),
        (None, Err(_)) => return "no single signature".to_owned(),
    };
    let who = if let Some(p) = policy.principal(&key) {
        p.name.clone()
    } else if let Some(n) = g
        .session_keys
        .get(&key)
        .and_then(|cs| cs.first())
        .and_then(|&c| g.node(c))
    {
        format!("session key of {}", n.leaf.to_hex())
    } else {
        format!("key {key}")
    };
    if verified {
        who
    } else {
        format!("{who}, signature not verified")
    }
}

/// A unit enum's JSON name (`pass`, `voluntary`).
fn json_word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
