//! The view model: the typed report with the lookups the page needs
//! (records by index, red flags by record), and the page's bookkeeping
//! (which anchors exist, which records are linked to).
//!
//! The joins themselves come from the analysis (`audit/graph.rs`, via
//! [`AuditReport`]): a chain's actions and red flags, an action's
//! delegation path and authorization, a credential's depth, parent and
//! closure. Nothing here recomputes them.

use std::collections::{BTreeSet, HashMap, HashSet};

use maud::{Markup, html};

use crate::audit::{ActionReport, AuditReport, ChainReport, CredentialReport, RedFlag};

use super::text::{DASH, dash, kind_words};

/// The report, indexed for rendering, and what the page has emitted.
pub(super) struct Page<'a> {
    /// The report.
    pub(super) report: &'a AuditReport,
    /// Red flags by the index of the record they point at.
    flags_at: HashMap<u64, Vec<usize>>,
    /// Actions by index.
    action_at: HashMap<u64, &'a ActionReport>,
    /// Authorizations by index.
    auth_at: HashMap<u64, &'a ChainReport>,
    /// Ids already emitted.
    ids: HashSet<String>,
    /// Records linked to (`#record-<index>`).
    linked: BTreeSet<u64>,
    /// Actions already shown in a chain.
    pub(super) shown_actions: HashSet<u64>,
    /// Pictures drawn so far (their ids must differ).
    pub(super) pictures: usize,
}

impl<'a> Page<'a> {
    pub(super) fn new(report: &'a AuditReport) -> Self {
        let mut flags_at: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, f) in report.red_flags.iter().enumerate() {
            flags_at.entry(f.record).or_default().push(i);
        }
        Page {
            report,
            flags_at,
            action_at: report.actions.iter().map(|a| (a.index, a)).collect(),
            auth_at: report.authorizations.iter().map(|a| (a.index, a)).collect(),
            ids: HashSet::new(),
            linked: BTreeSet::new(),
            shown_actions: HashSet::new(),
            pictures: 0,
        }
    }

    /// The action at a log index.
    pub(super) fn action(&self, index: u64) -> Option<&'a ActionReport> {
        self.action_at.get(&index).copied()
    }

    /// The authorization at a log index.
    pub(super) fn authorization(&self, index: u64) -> Option<&'a ChainReport> {
        self.auth_at.get(&index).copied()
    }

    /// The red flag at a position of [`AuditReport::red_flags`].
    pub(super) fn flag(&self, i: usize) -> Option<&'a RedFlag> {
        self.report.red_flags.get(i)
    }

    /// The red flags pointing at a record.
    pub(super) fn flags_of(&self, index: u64) -> Vec<&'a RedFlag> {
        self.flags_at
            .get(&index)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.flag(i))
            .collect()
    }

    /// `Some(id)` the first time an id is asked for, else `None` (for
    /// maud's optional attributes).
    pub(super) fn id(&mut self, id: String) -> Option<String> {
        self.ids.insert(id.clone()).then_some(id)
    }

    /// The anchor id of a record, the first time.
    pub(super) fn record_id(&mut self, index: u64) -> Option<String> {
        self.id(format!("record-{index}"))
    }

    /// "#12", linking to the record's anchor.
    pub(super) fn link(&mut self, index: u64) -> Markup {
        self.linked.insert(index);
        html! { a href={ "#record-" (index) } { "#" (index) } }
    }

    /// [`Page::link`], or "—".
    pub(super) fn link_opt(&mut self, index: Option<u64>) -> Markup {
        match index {
            Some(i) => self.link(i),
            None => html! { (DASH) },
        }
    }

    /// Notes a record as linked to without emitting the link (the
    /// picture's boxes link by `href` themselves).
    pub(super) fn note_link(&mut self, index: u64) -> String {
        self.linked.insert(index);
        format!("#record-{index}")
    }

    /// Records linked to whose anchor the page has not emitted.
    pub(super) fn unanchored(&self) -> Vec<u64> {
        self.linked
            .iter()
            .copied()
            .filter(|i| !self.ids.contains(&format!("record-{i}")))
            .collect()
    }

    /// A record's red flags and admission failure, as cell content
    /// (`None` when there are none).
    pub(super) fn problems(&self, index: u64, valid: bool) -> Option<Markup> {
        self.problems_with(&self.flags_of(index), valid)
    }

    /// [`Page::problems`] with the record's flags given.
    pub(super) fn problems_with(&self, flags: &[&RedFlag], valid: bool) -> Option<Markup> {
        if flags.is_empty() && valid {
            return None;
        }
        Some(html! {
            @for (i, f) in flags.iter().enumerate() {
                @if i > 0 { br; }
                span.bad { "⚠ " (kind_words(f.kind)) }
            }
            @if !valid {
                @if !flags.is_empty() { br; }
                span.bad { "✗ fails the log's admission checks" }
            }
        })
    }
}

/// "Change CHG-1" for an authorization.
pub(super) fn auth_title(auth: &ChainReport) -> String {
    format!("Change {}", dash(&auth.ticket))
}

/// The chain's credentials in tree order (each parent followed by the
/// credentials delegated from it), with the depth the analysis gave each.
/// Parents come first in the log, so a credential whose parent is not in
/// the chain (there is none the analysis would put there) is a root.
pub(super) fn credential_tree(auth: &ChainReport) -> Vec<&CredentialReport> {
    let present: HashSet<u64> = auth.credentials.iter().map(|c| c.index).collect();
    let mut children: HashMap<u64, Vec<&CredentialReport>> = HashMap::new();
    let mut roots = Vec::new();
    for c in &auth.credentials {
        match c.parent {
            Some(p) if present.contains(&p) && p < c.index => {
                children.entry(p).or_default().push(c)
            }
            _ => roots.push(c),
        }
    }
    let mut out = Vec::with_capacity(auth.credentials.len());
    // Depth-first; parents precede children in the log, so no cycles.
    let mut stack: Vec<&CredentialReport> = roots.into_iter().rev().collect();
    while let Some(c) = stack.pop() {
        out.push(c);
        if let Some(kids) = children.get(&c.index) {
            stack.extend(kids.iter().rev());
        }
    }
    out
}
