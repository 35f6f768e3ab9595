//! `causeway find`: the changes whose records match one key, each with its
//! causal chain (authorization → pre-flight → credentials → actions →
//! closure or revocation → review) and the findings on its records,
//! answered from the state alone, with no log access.
//!
//! A change is an authorization and everything tracing to it. A matching
//! record that traces to no authorization forms a change of its own,
//! keyed by its credential when it has one.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{State, StateError};

/// What to look for: one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// `authorization.ticket`, exactly.
    Ticket(String),
    /// `approver.subject` of the authorization, exactly.
    Approver(String),
    /// `agent.id` of the credential, exactly.
    Agent(String),
    /// A credential's serial or leaf hash.
    Credential(String),
    /// An action's target, as an SQLite `GLOB` pattern (`*`, `?`, `[…]`;
    /// case-sensitive).
    Target(String),
    /// Any record's leaf hash.
    LeafHash(String),
}

/// A query: a key, and a window on the matching records' `time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The key.
    pub key: Key,
    /// Only records at or after this Unix time.
    pub since: Option<i64>,
    /// Only records at or before this Unix time.
    pub until: Option<i64>,
}

/// One record of a chain, as the state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Its log index.
    pub idx: u64,
    /// Its leaf hash.
    pub leaf_hash: String,
    /// Its kind.
    pub kind: String,
    /// Who signed it.
    pub signer: String,
    /// Its verdict (see the `verdict` column).
    pub verdict: Option<String>,
    /// Its time.
    pub time: String,
    /// Whether it passes admission.
    pub valid: bool,
}

/// The authorization at the root of a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthorizationStep {
    /// The record.
    #[serde(flatten)]
    pub step: Step,
    /// Its ticket.
    pub ticket: String,
    /// Its approver.
    pub approver: String,
}

/// A credential of a change and what it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialStep {
    /// Its index.
    pub idx: u64,
    /// Its leaf hash.
    pub leaf_hash: String,
    /// Its serial.
    pub serial: String,
    /// The agent.
    pub agent_id: String,
    /// The parent credential's leaf hash, when delegated.
    pub parent: Option<String>,
    /// `issued_at`.
    pub issued_at: String,
    /// `expires_at`.
    pub expires_at: String,
    /// Actions under it.
    pub actions: u64,
    /// The earliest action time.
    pub first_action: Option<String>,
    /// The latest action time.
    pub last_action: Option<String>,
    /// The record that ended it (closure or revoking exception).
    pub ended_by: Option<Step>,
    /// When it ended.
    pub ended_at: Option<String>,
}

/// A finding on a record of a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingStep {
    /// Its kind.
    pub kind: String,
    /// The record's index.
    pub idx: u64,
    /// The record's leaf hash.
    pub leaf_hash: String,
    /// The evidence.
    pub detail: String,
}

/// One matching change and its causal chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The authorization, when the matched records trace to one.
    pub authorization: Option<AuthorizationStep>,
    /// Pre-flights of the authorization or its credentials.
    pub preflights: Vec<Step>,
    /// Its credentials, in log order.
    pub credentials: Vec<CredentialStep>,
    /// Actions under them.
    pub actions: u64,
    /// Exceptions on its credentials.
    pub exceptions: Vec<Step>,
    /// Closures of its credentials.
    pub closures: Vec<Step>,
    /// Reviews.
    pub reviews: Vec<Step>,
    /// Findings on any of its records.
    pub findings: Vec<FindingStep>,
    /// Indices of the records that matched the query.
    pub matched: Vec<u64>,
}

/// How the records of one change are selected.
enum Group {
    Authorization(String),
    Credential(String),
    Record(String),
}

impl Group {
    /// The condition on `records` and on `credentials` selecting the
    /// change's rows, with its one parameter.
    fn condition(&self) -> (&'static str, &'static str, &str) {
        match self {
            Group::Authorization(a) => ("authorization = ?1", "authorization = ?1", a),
            Group::Credential(c) => ("credential = ?1", "leaf_hash = ?1", c),
            Group::Record(r) => ("leaf_hash = ?1", "leaf_hash = ?1", r),
        }
    }
}

const STEP_COLUMNS: &str = "idx, leaf_hash, kind, signer, verdict, time, valid";

fn step(r: &rusqlite::Row<'_>) -> rusqlite::Result<Step> {
    Ok(Step {
        idx: r.get::<_, i64>(0)?.try_into().unwrap_or(0),
        leaf_hash: r.get(1)?,
        kind: r.get(2)?,
        signer: r.get(3)?,
        verdict: r.get(4)?,
        time: r.get(5)?,
        valid: r.get(6)?,
    })
}

/// The changes matching `query`, in log order of their first record.
///
/// # Errors
/// SQLite failed.
pub fn find(state: &State, query: &Query) -> Result<Vec<Change>, StateError> {
    let db = state.connection();
    let err = |e| state.err(e);
    let (column, value) = match &query.key {
        Key::Ticket(t) => ("ticket = ?1", t.clone()),
        Key::Approver(p) => ("approver = ?1", p.clone()),
        Key::Agent(a) => ("agent_id = ?1", a.clone()),
        Key::Credential(c) => (
            "(credential = lower(?1) OR credential_serial = ?1)",
            c.clone(),
        ),
        Key::Target(g) => ("target GLOB ?1", g.clone()),
        Key::LeafHash(h) => ("leaf_hash = ?1", h.to_lowercase()),
    };
    let sql = format!(
        "SELECT idx, authorization, credential, leaf_hash FROM records WHERE {column} \
         AND time_unix >= ?2 AND time_unix <= ?3 ORDER BY idx"
    );
    let mut stmt = db.prepare(&sql).map_err(err)?;
    let rows = stmt
        .query_map(
            params![
                value,
                query.since.unwrap_or(i64::MIN),
                query.until.unwrap_or(i64::MAX)
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;

    // Group the matches by change, in order of first appearance.
    let mut groups: Vec<(String, Group, Vec<u64>)> = Vec::new();
    for (idx, authorization, credential, leaf) in rows {
        let group = match (authorization, credential) {
            (Some(a), _) => Group::Authorization(a),
            (None, Some(c)) => Group::Credential(c),
            (None, None) => Group::Record(leaf),
        };
        let key = group.condition().2.to_owned();
        let idx = idx.try_into().unwrap_or(0);
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, matched)) => matched.push(idx),
            None => groups.push((key, group, vec![idx])),
        }
    }
    groups
        .into_iter()
        .map(|(_, group, matched)| chain(state, &group, matched))
        .collect()
}

fn chain(state: &State, group: &Group, matched: Vec<u64>) -> Result<Change, StateError> {
    let db = state.connection();
    let err = |e| state.err(e);
    let (records_where, credentials_where, value) = group.condition();
    let steps = |kind: &str| -> Result<Vec<Step>, StateError> {
        let sql = format!(
            "SELECT {STEP_COLUMNS} FROM records WHERE {records_where} AND kind = ?2 ORDER BY idx"
        );
        let mut stmt = db.prepare(&sql).map_err(err)?;
        stmt.query_map(params![value, kind], step)
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)
    };

    let authorization = match group {
        Group::Authorization(a) => db
            .query_row(
                &format!(
                    "SELECT {STEP_COLUMNS}, ticket, approver FROM records WHERE leaf_hash = ?1"
                ),
                params![a],
                |r| {
                    Ok(AuthorizationStep {
                        step: step(r)?,
                        ticket: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                        approver: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                    })
                },
            )
            .optional()
            .map_err(err)?,
        _ => None,
    };

    let mut credentials = Vec::new();
    {
        let sql = format!(
            "SELECT leaf_hash, idx, serial, agent_id, parent, issued_at, expires_at, actions, \
             ended_by, ended_at FROM credentials WHERE {credentials_where} ORDER BY idx"
        );
        let mut stmt = db.prepare(&sql).map_err(err)?;
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            String,
            i64,
            String,
            String,
            Option<String>,
            String,
            String,
            i64,
            Option<String>,
            Option<String>,
        )> = stmt
            .query_map(params![value], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        for (
            leaf,
            idx,
            serial,
            agent_id,
            parent,
            issued_at,
            expires_at,
            actions,
            ended,
            ended_at,
        ) in rows
        {
            let action_time = |order: &str| -> Result<Option<String>, StateError> {
                db.query_row(
                    &format!(
                        "SELECT time FROM records WHERE kind = 'action' AND credential = ?1 \
                         ORDER BY time_unix {order}, idx {order} LIMIT 1"
                    ),
                    params![leaf],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)
            };
            let ended_by = match &ended {
                Some(h) => db
                    .query_row(
                        &format!("SELECT {STEP_COLUMNS} FROM records WHERE leaf_hash = ?1"),
                        params![h],
                        step,
                    )
                    .optional()
                    .map_err(err)?,
                None => None,
            };
            credentials.push(CredentialStep {
                idx: idx.try_into().unwrap_or(0),
                first_action: action_time("ASC")?,
                last_action: action_time("DESC")?,
                leaf_hash: leaf,
                serial,
                agent_id,
                parent,
                issued_at,
                expires_at,
                actions: actions.try_into().unwrap_or(0),
                ended_by,
                ended_at,
            });
        }
    }

    let findings = {
        let sql = format!(
            "SELECT f.kind, f.idx, f.leaf_hash, f.detail FROM findings f \
             JOIN records r ON r.leaf_hash = f.leaf_hash WHERE r.{records_where} \
             ORDER BY f.idx, f.kind"
        );
        let mut stmt = db.prepare(&sql).map_err(err)?;
        stmt.query_map(params![value], |r| {
            Ok(FindingStep {
                kind: r.get(0)?,
                idx: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
                leaf_hash: r.get(2)?,
                detail: r.get(3)?,
            })
        })
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?
    };

    let actions = db
        .query_row(
            &format!("SELECT count(*) FROM records WHERE {records_where} AND kind = 'action'"),
            params![value],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err)?;

    Ok(Change {
        authorization,
        preflights: steps("preflight")?,
        credentials,
        actions: actions.try_into().unwrap_or(0),
        exceptions: steps("exception")?,
        closures: steps("closure")?,
        reviews: steps("review")?,
        findings,
        matched,
    })
}

/// The chains, for people: one block per change.
pub fn render(changes: &[Change]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let short = |h: &str| h.get(..12).unwrap_or(h).to_owned();
    let step_line = |s: &Step| {
        format!(
            "#{} {} {}{} at {} by {}{}",
            s.idx,
            s.kind,
            short(&s.leaf_hash),
            s.verdict
                .as_deref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default(),
            s.time,
            s.signer,
            if s.valid { "" } else { " [INVALID]" }
        )
    };
    if changes.is_empty() {
        out.push_str("no matching change\n");
    }
    for c in changes {
        match &c.authorization {
            Some(a) => {
                let _ = writeln!(
                    out,
                    "change {}: authorization #{} {} approved by {} at {} (signed by {}){}",
                    a.ticket,
                    a.step.idx,
                    short(&a.step.leaf_hash),
                    a.approver,
                    a.step.time,
                    a.step.signer,
                    if a.step.valid { "" } else { " [INVALID]" }
                );
            }
            None => out.push_str("records tracing to no authorization:\n"),
        }
        if c.preflights.is_empty() {
            out.push_str("  preflight: none\n");
        }
        for p in &c.preflights {
            let _ = writeln!(out, "  preflight {}", step_line(p));
        }
        for cr in &c.credentials {
            let _ = writeln!(
                out,
                "  credential #{} {} serial {} for agent {}, valid {} to {}{}",
                cr.idx,
                short(&cr.leaf_hash),
                cr.serial,
                cr.agent_id,
                cr.issued_at,
                cr.expires_at,
                cr.parent
                    .as_deref()
                    .map(|p| format!(", delegated from {}", short(p)))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                out,
                "    {} actions{}",
                cr.actions,
                match (&cr.first_action, &cr.last_action) {
                    (Some(f), Some(l)) => format!(", first at {f}, last at {l}"),
                    _ => String::new(),
                }
            );
            match &cr.ended_by {
                Some(e) => {
                    let _ = writeln!(
                        out,
                        "    ended at {} by {}",
                        cr.ended_at.as_deref().unwrap_or("?"),
                        step_line(e)
                    );
                }
                None => out.push_str("    not closed or revoked\n"),
            }
        }
        let _ = writeln!(out, "  actions: {}", c.actions);
        for e in &c.exceptions {
            let _ = writeln!(out, "  exception {}", step_line(e));
        }
        for cl in &c.closures {
            let _ = writeln!(out, "  closure {}", step_line(cl));
        }
        if c.reviews.is_empty() {
            out.push_str("  review: none\n");
        }
        for r in &c.reviews {
            let _ = writeln!(out, "  review {}", step_line(r));
        }
        if c.findings.is_empty() {
            out.push_str("  findings: none\n");
        }
        for f in &c.findings {
            let _ = writeln!(
                out,
                "  RED FLAG {} at record #{}: {}",
                f.kind, f.idx, f.detail
            );
        }
        let _ = writeln!(
            out,
            "  matched records: {}",
            c.matched
                .iter()
                .map(|i| format!("#{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}
