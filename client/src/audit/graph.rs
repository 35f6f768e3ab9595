//! The causal DAG, rebuilt from the log's bytes alone.
//!
//! Every entry is decoded and re-validated here with the log's own
//! admission rules ([`validate_at_record_time`]), against the entries
//! before it in index order: the auditor does not trust that the log
//! checked anything. The clock checks are left out, because the log's
//! clock at admission is unknowable afterwards; whether a claimed time is
//! plausible is judged against the TSA anchors instead (the
//! `backdated_record` and `record_predates_admission` flags).
//!
//! The log-order rule is applied too, as the log applies it when it
//! sequences: a session-key record under a credential that an earlier
//! valid record revoked or closed, or under one delegated from such a
//! credential, is refused ([`check_open`]); [`Node::after_end`] keeps why,
//! for the `action_after_revocation` flag. Only valid records end a
//! credential: a forged closure closes nothing.
//!
//! A record that fails validation stays in the graph whenever it decodes,
//! so the flags that judge it still fire; [`Graph::invalid`] says why it
//! would have been refused. References resolve only to records *earlier*
//! in the log (the log order is the proof that parents came first) and
//! only to the kinds the field allows; anything else leaves the link
//! empty.

use std::collections::HashMap;

use causeway_records::{
    Action, Authorization, Closure, Credential, CredentialEnd, Envelope, Exception, IdpBinding,
    Kind, Outcome, PAYLOAD_TYPE, Preflight, ProducerPolicy, Record, Referenced, RejectCode, Review,
    Time, check_open, id_token, validate_at_record_time,
};
use causeway_tlog::merkle::{Hash, leaf_hash};

use super::report::InvalidEntry;

/// The resolved references of a record: positions in [`Graph::nodes`].
/// A link is `None` when the field is unset, names no earlier record, or
/// names a record of a kind the field does not allow.
#[derive(Clone, Debug, Default)]
pub(crate) struct Links {
    /// `credential.authorization`.
    pub(crate) authorization: Option<usize>,
    /// `credential.preflight`.
    pub(crate) preflight: Option<usize>,
    /// `credential.parent`.
    pub(crate) parent: Option<usize>,
    /// `action.credential`, `exception.credential`, `closure.credential`,
    /// `outcome.credential`.
    pub(crate) credential: Option<usize>,
    /// `exception.action`, `outcome.action`.
    pub(crate) action: Option<usize>,
    /// `preflight.subject`, `review.subject`.
    pub(crate) subject: Option<usize>,
}

/// One decodable record of the log.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// Its index in the log.
    pub(crate) index: u64,
    /// Its leaf hash.
    pub(crate) leaf: Hash,
    /// The record.
    pub(crate) record: Record,
    /// The envelope, for signature checks.
    pub(crate) envelope: Envelope,
    /// Why the log should have refused it, if it should have.
    pub(crate) rejection: Option<String>,
    /// Why it comes too late, in log order: it is signed by a session key
    /// whose credential, or an ancestor of it, an earlier valid record
    /// revoked or closed (the log refuses it; see the module docs).
    pub(crate) after_end: Option<String>,
    /// Its references, resolved.
    pub(crate) links: Links,
    /// The key ID whose signature verifies over the envelope: the claimed
    /// key ID when the key is known (the policy's keys and every session
    /// key in the log) and the signature checks out, else `None`.
    pub(crate) signed_by: Option<String>,
    /// The position of the authorization the record traces back to.
    pub(crate) chain: Option<usize>,
    /// For an authorization, what its ID token proves (re-checked here,
    /// offline, against the policy's identity providers).
    pub(crate) idp: Option<IdpBinding>,
    /// For a credential: itself, its parent, … up to the root credential.
    pub(crate) path: Vec<usize>,
}

impl Node {
    /// Whether the record passed the log's admission checks.
    pub(crate) fn valid(&self) -> bool {
        self.rejection.is_none()
    }

    /// The authorization, if the record is one.
    pub(crate) fn authorization(&self) -> Option<&Authorization> {
        match &self.record {
            Record::Authorization(a) => Some(a),
            _ => None,
        }
    }

    /// The preflight, if the record is one.
    pub(crate) fn preflight(&self) -> Option<&Preflight> {
        match &self.record {
            Record::Preflight(p) => Some(p),
            _ => None,
        }
    }

    /// The credential, if the record is one.
    pub(crate) fn credential(&self) -> Option<&Credential> {
        match &self.record {
            Record::Credential(c) => Some(c),
            _ => None,
        }
    }

    /// The action, if the record is one.
    pub(crate) fn action(&self) -> Option<&Action> {
        match &self.record {
            Record::Action(a) => Some(a),
            _ => None,
        }
    }

    /// The exception, if the record is one.
    pub(crate) fn exception(&self) -> Option<&Exception> {
        match &self.record {
            Record::Exception(e) => Some(e),
            _ => None,
        }
    }

    /// The closure, if the record is one.
    pub(crate) fn closure(&self) -> Option<&Closure> {
        match &self.record {
            Record::Closure(c) => Some(c),
            _ => None,
        }
    }

    /// The review, if the record is one.
    pub(crate) fn review(&self) -> Option<&Review> {
        match &self.record {
            Record::Review(r) => Some(r),
            _ => None,
        }
    }

    /// The outcome, if the record is one.
    pub(crate) fn outcome(&self) -> Option<&Outcome> {
        match &self.record {
            Record::Outcome(o) => Some(o),
            _ => None,
        }
    }
}

/// The log as a DAG of records, with the indexes the analysis needs.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    /// Every decodable record except duplicates, in index order.
    pub(crate) nodes: Vec<Node>,
    /// How many entries there were.
    pub(crate) entries: usize,
    /// Entries that are Causeway envelopes.
    pub(crate) records: usize,
    /// Entries that are not (opaque bytes, other payload types).
    pub(crate) non_records: usize,
    /// Entries the log should have refused (non-records included), and why.
    pub(crate) invalid: Vec<InvalidEntry>,
    /// The first index of every entry, by leaf hash (records or not).
    pub(crate) entry_index: HashMap<Hash, u64>,
    /// The first index of every record, by submission ID.
    pub(crate) submissions: HashMap<Hash, u64>,
    /// Node position by leaf hash.
    pub(crate) by_hash: HashMap<Hash, usize>,
    /// Credential position → its actions.
    pub(crate) actions_of: HashMap<usize, Vec<usize>>,
    /// Credential position → its closures.
    pub(crate) closures_of: HashMap<usize, Vec<usize>>,
    /// Credential position → its exceptions.
    pub(crate) exceptions_of: HashMap<usize, Vec<usize>>,
    /// Action position → its valid outcomes, in log order. An outcome the
    /// log would have refused (another signer, another credential) says
    /// nothing about how the call returned, so it is left out.
    pub(crate) outcomes_of: HashMap<usize, Vec<usize>>,
    /// Credential position → the valid outcomes written under it.
    pub(crate) credential_outcomes: HashMap<usize, Vec<usize>>,
    /// Authorization or credential position → preflights of it.
    pub(crate) preflights_of: HashMap<usize, Vec<usize>>,
    /// Authorization position → every record of its chain, itself included.
    pub(crate) members: HashMap<usize, Vec<usize>>,
    /// Key ID → the credentials whose session key it is.
    pub(crate) session_keys: HashMap<String, Vec<usize>>,
    /// Credential leaf hash → the first valid record that ended it, as
    /// the walk in log order has seen so far.
    ended: HashMap<Hash, CredentialEnd>,
}

impl Graph {
    /// Decodes, validates and links every entry (see the [module
    /// docs](self)).
    pub(crate) fn build(entries: &[(u64, Vec<u8>)], policy: &ProducerPolicy) -> Graph {
        let mut g = Graph {
            entries: entries.len(),
            ..Graph::default()
        };
        for (index, bytes) in entries {
            g.add(*index, bytes, policy);
        }
        g.authenticate(policy);
        g.index();
        g
    }

    fn add(&mut self, index: u64, bytes: &[u8], policy: &ProducerPolicy) {
        let leaf = leaf_hash(bytes);
        let invalid = |code: &'static str, kind, reason: String| InvalidEntry {
            index,
            leaf_hash: leaf.to_hex(),
            kind,
            code,
            reason,
        };
        let envelope = match Envelope::decode(bytes) {
            Ok(e) if e.payload_type == PAYLOAD_TYPE => e,
            other => {
                // A records log refuses anything but a record, so such an
                // entry was put there by someone bypassing admission.
                self.non_records += 1;
                self.entry_index.entry(leaf).or_insert(index);
                let reason = match other {
                    Ok(e) => format!(
                        "an envelope of payload type {:?}, not a Causeway record",
                        e.payload_type
                    ),
                    Err(e) => format!("not a Causeway record envelope ({e})"),
                };
                self.invalid.push(invalid("not_a_record", None, reason));
                return;
            }
        };
        self.records += 1;
        // The log's duplicate rule: one submission (signer and signed
        // bytes, `Envelope::submission_id`) is stored once, whatever its
        // signature's encoding, so a malleated copy counts nothing twice.
        let submission = envelope.submission_id().ok();
        let first = submission
            .and_then(|id| self.submissions.get(&id))
            .or_else(|| self.entry_index.get(&leaf))
            .copied();
        if let Some(first) = first {
            let how = if self.entry_index.get(&leaf) == Some(&first) {
                "byte for byte"
            } else {
                "same signer and signed bytes, another signature encoding: ECDSA (r, s) and (r, n - s) both verify"
            };
            self.invalid.push(invalid(
                "duplicate",
                None,
                format!(
                    "a second copy of entry {first} ({how}); the log stores each submission once, so it is not counted again"
                ),
            ));
            return;
        }
        self.entry_index.insert(leaf, index);
        if let Some(id) = submission {
            self.submissions.insert(id, index);
        }
        let record = match envelope.record() {
            Ok(r) => r,
            Err(e) => {
                self.invalid.push(invalid(
                    "invalid_argument",
                    None,
                    format!("malformed record: {e}"),
                ));
                return;
            }
        };
        let kind = record.kind();

        // No clock checks: see the module docs.
        let (nodes, by_hash) = (&self.nodes, &self.by_hash);
        let mut lookup = |hash: &Hash| {
            let node = nodes.get(*by_hash.get(hash)?)?;
            Some(Referenced {
                index: node.index,
                record: node.record.clone(),
            })
        };
        let mut after_end = None;
        // Admission binds an authorization's ID token; an entry it refuses
        // before that rule still gets its token judged below.
        let mut idp = None;
        let rejection = match validate_at_record_time(bytes, policy, &mut lookup) {
            Err(r) => Some(r),
            Ok(admitted) => {
                idp = admitted.idp;
                let ended = &self.ended;
                match check_open(kind, &admitted.lineage, &mut |h| ended.get(h).copied()) {
                    Err(r) => {
                        after_end = Some(r.message.clone());
                        Some(r)
                    }
                    Ok(()) => {
                        if let Some((credential, ending)) = admitted.ends {
                            self.ended
                                .entry(credential)
                                .or_insert(CredentialEnd { ending, index });
                        }
                        None
                    }
                }
            }
        };
        if let Some(r) = &rejection {
            let code = match r.code {
                RejectCode::InvalidArgument => "invalid_argument",
                RejectCode::PermissionDenied => "permission_denied",
                RejectCode::FailedPrecondition => "failed_precondition",
            };
            self.invalid
                .push(invalid(code, Some(kind), r.message.clone()));
        }

        let mut links = Links::default();
        for reference in record.references() {
            let target = self.by_hash.get(&reference.hash).copied().filter(|&p| {
                self.nodes
                    .get(p)
                    .is_some_and(|n| reference.allowed.contains(&n.record.kind()))
            });
            let slot = match reference.field {
                "authorization" => &mut links.authorization,
                "preflight" => &mut links.preflight,
                "parent" => &mut links.parent,
                "credential" => &mut links.credential,
                "action" => &mut links.action,
                "subject" => &mut links.subject,
                _ => continue,
            };
            *slot = target;
        }

        let position = self.nodes.len();
        let chain_of = |p: Option<usize>| p.and_then(|p| self.nodes.get(p)).and_then(|n| n.chain);
        let (chain, path) = match &record {
            Record::Authorization(_) => (Some(position), Vec::new()),
            Record::Credential(c) => match (c.parent, links.parent) {
                // A parent that cannot be followed breaks the chain: the
                // credential's authority comes from nowhere traceable.
                (Some(_), None) => (None, vec![position]),
                (Some(_), Some(parent)) => {
                    let mut path = vec![position];
                    if let Some(p) = self.nodes.get(parent) {
                        path.extend_from_slice(&p.path);
                    }
                    (chain_of(Some(parent)), path)
                }
                (None, _) => (links.authorization, vec![position]),
            },
            Record::Preflight(_) | Record::Review(_) => (chain_of(links.subject), Vec::new()),
            Record::Action(_) | Record::Closure(_) => (chain_of(links.credential), Vec::new()),
            Record::Exception(_) | Record::Outcome(_) => (
                chain_of(links.credential).or_else(|| chain_of(links.action)),
                Vec::new(),
            ),
        };
        let signed_by = if rejection.is_none() {
            // Admission verified the signature under the claimed key.
            envelope.signer().ok().map(|s| s.keyid.clone())
        } else {
            None
        };
        if idp.is_none()
            && let Record::Authorization(a) = &record
        {
            idp = Some(id_token::bind(a, policy));
        }
        self.by_hash.insert(leaf, position);
        self.nodes.push(Node {
            index,
            leaf,
            record,
            envelope,
            rejection: rejection.map(|r| r.message),
            after_end,
            links,
            signed_by,
            chain,
            idp,
            path,
        });
    }

    /// For records that failed admission, whether their signature is
    /// nevertheless genuine under a key we know (a policy key or any
    /// session key in the log), so that signer-based flags can judge them.
    fn authenticate(&mut self, policy: &ProducerPolicy) {
        let mut keys: HashMap<String, Vec<u8>> = HashMap::new();
        for principal in policy.principals() {
            for (id, key) in principal.key_ids.iter().zip(&principal.keys) {
                keys.insert(id.clone(), key.clone());
            }
        }
        for node in &self.nodes {
            if let Some(c) = node.credential() {
                keys.entry(c.session_key.key_id())
                    .or_insert_with(|| c.session_key.spki_der().to_vec());
            }
        }
        for node in self.nodes.iter_mut().filter(|n| n.signed_by.is_none()) {
            let Ok(signature) = node.envelope.signer() else {
                continue;
            };
            if let Some(spki) = keys.get(&signature.keyid)
                && node.envelope.verify(spki).is_ok()
            {
                node.signed_by = Some(signature.keyid.clone());
            }
        }
    }

    /// Builds the reverse indexes.
    fn index(&mut self) {
        for (position, node) in self.nodes.iter().enumerate() {
            if let Some(chain) = node.chain {
                self.members.entry(chain).or_default().push(position);
            }
            let links = &node.links;
            match &node.record {
                Record::Credential(c) => self
                    .session_keys
                    .entry(c.session_key.key_id())
                    .or_default()
                    .push(position),
                Record::Action(_) => push(&mut self.actions_of, links.credential, position),
                Record::Closure(_) => push(&mut self.closures_of, links.credential, position),
                Record::Exception(_) => push(&mut self.exceptions_of, links.credential, position),
                Record::Preflight(_) => push(&mut self.preflights_of, links.subject, position),
                Record::Outcome(_) if node.valid() => {
                    push(&mut self.outcomes_of, links.action, position);
                    push(&mut self.credential_outcomes, links.credential, position);
                }
                Record::Authorization(_) | Record::Review(_) | Record::Outcome(_) => {}
            }
        }
    }

    /// The node at a position.
    pub(crate) fn node(&self, position: usize) -> Option<&Node> {
        self.nodes.get(position)
    }

    /// The credential at a position.
    pub(crate) fn credential(&self, position: usize) -> Option<&Credential> {
        self.node(position).and_then(Node::credential)
    }

    /// Who signed a record, for people: the policy principal's name, the
    /// agent whose session key it is, or the bare key ID.
    pub(crate) fn signer_name(&self, policy: &ProducerPolicy, position: usize) -> String {
        let Some(node) = self.node(position) else {
            return String::new();
        };
        let (key, verified) = match (&node.signed_by, node.envelope.signer()) {
            (Some(k), _) => (k.clone(), true),
            (None, Ok(s)) => (s.keyid.clone(), false),
            (None, Err(_)) => return String::from("no single signature"),
        };
        let who = if let Some(p) = policy.principal(&key) {
            p.name.clone()
        } else if let Some(c) = self
            .session_keys
            .get(&key)
            .and_then(|cs| cs.first())
            .and_then(|&c| Some((c, self.credential(c)?)))
            .map(|(c, cred)| {
                let index = self.node(c).map_or(0, |n| n.index);
                format!("{} (session key of credential {index})", cred.agent.id)
            })
        {
            c
        } else {
            format!("key {key}")
        };
        if verified {
            who
        } else {
            format!("{who}, signature not verified")
        }
    }

    /// Why an action is outside its credential's lifetime, if it is: before
    /// `issued_at`, after `expires_at`, after a valid exception that revoked
    /// the credential or one it was delegated from, or after the end of the
    /// credential's session (`ended_at` of a valid closure). `None` when it
    /// is inside, or when the credential does not resolve. Invalid
    /// exceptions and closures end nothing.
    pub(crate) fn lifetime_violation(&self, action: usize) -> Option<String> {
        let node = self.node(action)?;
        let time = node.action()?.time;
        let cred_pos = node.links.credential?;
        let cred_node = self.node(cred_pos)?;
        let cred = cred_node.credential()?;
        if time < cred.issued_at {
            return Some(format!(
                "action at {time} is before credential {}'s issued_at {}",
                cred_node.index, cred.issued_at
            ));
        }
        if time > cred.expires_at {
            return Some(format!(
                "action at {time} is after credential {}'s expires_at {}",
                cred_node.index, cred.expires_at
            ));
        }
        for &c in &cred_node.path {
            for &e in self.exceptions_of.get(&c).into_iter().flatten() {
                let Some(exception) = self.node(e).filter(|n| n.valid()).and_then(Node::exception)
                else {
                    continue;
                };
                if exception.revoked && exception.time < time {
                    return Some(format!(
                        "action at {time} is after exception {} revoked credential {} at {}",
                        self.node(e).map_or(0, |n| n.index),
                        self.node(c).map_or(0, |n| n.index),
                        exception.time
                    ));
                }
            }
        }
        for &c in self.closures_of.get(&cred_pos).into_iter().flatten() {
            let Some(closure) = self.node(c).filter(|n| n.valid()).and_then(Node::closure) else {
                continue;
            };
            if closure.ended_at < time {
                return Some(format!(
                    "action at {time} is after closure {} ended credential {}'s session at {}",
                    self.node(c).map_or(0, |n| n.index),
                    cred_node.index,
                    closure.ended_at
                ));
            }
        }
        None
    }

    /// Why an action is outside its credential's scope, if it is: its
    /// `target` is not, exactly, one of `scope.targets`, or its
    /// `operation`, when it has one, matches none of the `scope.actions`
    /// patterns ([`causeway_records::action_matches`]). `None` when it is inside, or when the
    /// credential does not resolve.
    pub(crate) fn scope_violation(&self, action: usize) -> Option<String> {
        let node = self.node(action)?;
        let a = node.action()?;
        let cred_pos = node.links.credential?;
        let credential = self.credential(cred_pos)?;
        let index = self.node(cred_pos).map_or(0, |n| n.index);
        let mut problems = Vec::new();
        if !credential.scope.allows_target(&a.target) {
            problems.push(format!(
                "target {:?} is not in credential {index}'s scope.targets {:?}",
                a.target, credential.scope.targets
            ));
        }
        if let Some(operation) = &a.operation
            && !credential.scope.allows_operation(operation)
        {
            problems.push(format!(
                "operation {operation:?} matches none of credential {index}'s scope.actions {:?}",
                credential.scope.actions
            ));
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    /// Whether an action is within its credential's scope (false when the
    /// credential does not resolve).
    pub(crate) fn in_scope(&self, action: usize) -> bool {
        let resolves = self
            .node(action)
            .and_then(|n| n.links.credential)
            .and_then(|c| self.credential(c))
            .is_some();
        resolves && self.scope_violation(action).is_none()
    }

    /// The credential positions of an authorization's chain, in log
    /// order.
    pub(crate) fn chain_credentials(&self, authorization: usize) -> Vec<usize> {
        self.members_of_kind(authorization, Kind::Credential)
    }

    /// The positions of an authorization's chain of one kind, in log order.
    pub(crate) fn members_of_kind(&self, authorization: usize, kind: Kind) -> Vec<usize> {
        self.members
            .get(&authorization)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&p| self.node(p).is_some_and(|n| n.record.kind() == kind))
            .collect()
    }
}

fn push(map: &mut HashMap<usize, Vec<usize>>, key: Option<usize>, value: usize) {
    if let Some(k) = key {
        map.entry(k).or_default().push(value);
    }
}

/// Seconds from `a` to `b` (negative when `b` is earlier), with the
/// fractions.
pub(crate) fn seconds_between(a: Time, b: Time) -> f64 {
    // Exact below 2^53 ns (104 days); beyond that it rounds to well under
    // a second, which is fine for messages. Comparisons use `nanos_between`.
    nanos_between(a, b) as f64 / 1e9
}

/// Nanoseconds from `a` to `b` (negative when `b` is earlier), exactly.
pub(crate) fn nanos_between(a: Time, b: Time) -> i128 {
    let nanos = |t: Time| i128::from(t.seconds()) * 1_000_000_000 + i128::from(t.nanos());
    nanos(b) - nanos(a)
}

/// The `scope.actions` matcher, shared with the gate that enforces it.
#[cfg(test)]
pub(crate) use causeway_records::action_matches as glob_match;
