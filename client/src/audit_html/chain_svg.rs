//! The inline SVG picture of one authorization's causal chain: the human,
//! the pre-flights, the credentials by delegation depth (each with its
//! actions and its closure), then the exceptions and reviews.

use std::collections::HashMap;

use maud::{Markup, html};

use crate::audit::{ActionReport, ChainReport, CredentialReport, RedFlag};
use causeway_records::PreflightVerdict;

use super::chain::{reason_word, stage_word};
use super::text::{
    claimed_plain, clip, dash, duration, kind_words, plural, seconds, validity, when, yes_no,
};
use super::view::{Page, auth_title};

/// The height of one line of text in a box.
const LINE: i64 = 15;

/// One box of the picture.
struct Node {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    /// (text, CSS class) per line; the first is the kind label.
    lines: Vec<(String, &'static str)>,
    class: &'static str,
    /// The red flags on the record, in words.
    flags: Vec<String>,
    href: Option<String>,
}

impl Node {
    fn new(class: &'static str, x: i64, y: i64, w: i64) -> Self {
        Node {
            x,
            y,
            w,
            h: 0,
            lines: Vec::new(),
            class,
            flags: Vec::new(),
            href: None,
        }
    }

    fn line(mut self, text: String, class: &'static str) -> Self {
        self.lines.push((text, class));
        self
    }

    /// Notes a record that fails the log's admission checks.
    fn admission(self, valid: bool) -> Self {
        if valid {
            self
        } else {
            self.line("✗ fails the log's admission checks".into(), "badt")
        }
    }

    /// The record's flags and link.
    fn record(mut self, page: &mut Page, index: u64) -> Self {
        self.flags = words(&page.flags_of(index));
        self.href = Some(page.note_link(index));
        self
    }

    fn height(&self) -> i64 {
        12 + LINE * (self.lines.len() + self.flag_lines().len()) as i64
    }

    /// Sets the height from the content.
    fn fit(mut self) -> Self {
        self.h = self.height();
        self
    }

    /// "⚠ RED FLAG" and what it is, as lines.
    fn flag_lines(&self) -> Vec<(String, &'static str)> {
        let n = self.flags.len();
        if n == 0 {
            return Vec::new();
        }
        let mut v = vec![(
            if n == 1 {
                "⚠ RED FLAG".to_owned()
            } else {
                format!("⚠ {n} RED FLAGS")
            },
            "fl",
        )];
        v.extend(self.flags.iter().take(2).map(|f| (f.clone(), "flt")));
        if n > 2 {
            v.push((format!("and {} more", n - 2), "flt"));
        }
        v
    }

    fn bottom(&self) -> i64 {
        self.y + self.h
    }

    fn svg(&self) -> Markup {
        let flagged = !self.flags.is_empty();
        let mut tip = self
            .lines
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(" · ");
        if flagged {
            tip.push_str(&format!(" · RED FLAG: {}", self.flags.join("; ")));
        }
        let max = ((self.w - 16) * 10 / 66).max(4) as usize;
        let body = html! {
            title { (tip) }
            rect x=(self.x) y=(self.y) width=(self.w) height=(self.h) rx="6" {}
            @for (i, (text, class)) in self.lines.iter().chain(&self.flag_lines()).enumerate() {
                text x=(self.x + 8) y=(self.y + 20 + LINE * i as i64)
                    class=[(!class.is_empty()).then_some(*class)] { (clip(text, max)) }
            }
        };
        html! {
            g class={ "n " (self.class) @if flagged { " flag" } } {
                @if let Some(h) = &self.href { a href=(h) { (body) } } @else { (body) }
            }
        }
    }
}

/// Red flags in words.
fn words(flags: &[&RedFlag]) -> Vec<String> {
    flags
        .iter()
        .map(|f| kind_words(f.kind).to_owned())
        .collect()
}

/// An arrow through the given points.
fn edge(marker: &str, pts: &[(i64, i64)]) -> Markup {
    let d = pts
        .iter()
        .enumerate()
        .map(|(i, (x, y))| format!("{}{x},{y}", if i == 0 { "M" } else { " L" }))
        .collect::<String>();
    html! { path.edge d=(d) marker-end={ "url(#" (marker) ")" } {} }
}

/// The picture of one authorization's chain: `creds` in tree order,
/// `actions` those of the chain.
pub(super) fn picture(
    page: &mut Page,
    auth: &ChainReport,
    creds: &[&CredentialReport],
    actions: &[&ActionReport],
) -> Markup {
    page.pictures += 1;
    let seq = page.pictures;
    let marker = format!("arrow-{seq}");
    const L: i64 = 12;
    const SPINE_W: i64 = 420;
    const INDENT: i64 = 46;
    const TRUNK: i64 = L + 22;
    const CRED_W: i64 = 340;
    const SIDE_W: i64 = 190;
    const GAP: i64 = 34;
    const VGAP: i64 = 26;

    let mut nodes: Vec<Node> = Vec::new();
    let mut edges: Vec<Markup> = Vec::new();
    let mut y = 12;

    // The human.
    let human = Node::new("human", L, y, SPINE_W)
        .line(format!("HUMAN APPROVAL #{}", auth.index), "k")
        .line(
            format!(
                "{} approved {}",
                claimed_plain(&auth.approver.subject, &auth.signer),
                dash(&auth.ticket)
            ),
            "",
        )
        .line(
            format!(
                "Signed in with {} · MFA {} · assurance {}",
                dash(&auth.authn.method),
                yes_no(auth.authn.mfa),
                dash(&auth.authn.assurance)
            ),
            "",
        )
        .admission(auth.valid)
        .record(page, auth.index)
        .fit();
    let mut prev_bottom = human.bottom();
    y = prev_bottom + VGAP;
    nodes.push(human);

    // Pre-flights.
    for pf in &auth.preflights {
        let (vtext, vclass) = match pf.verdict {
            PreflightVerdict::Pass => ("✓ PASS", "okt"),
            PreflightVerdict::Block => ("✗ BLOCK", "badt"),
        };
        let n = Node::new("preflight", L, y, SPINE_W)
            .line(
                format!("PRE-FLIGHT CHECK #{} · {}", pf.index, stage_word(pf.stage)),
                "k",
            )
            .line(format!("Verdict: {vtext}"), vclass)
            .line(format!("{} · by {}", when(pf.time), dash(&pf.signer)), "")
            .admission(pf.valid)
            .record(page, pf.index)
            .fit();
        edges.push(edge(&marker, &[(TRUNK, prev_bottom), (TRUNK, y)]));
        prev_bottom = n.bottom();
        y = prev_bottom + VGAP;
        nodes.push(n);
    }
    if auth.preflights.is_empty() {
        let n = Node::new("preflight missing", L, y, SPINE_W)
            .line("PRE-FLIGHT CHECK".into(), "k")
            .line("None recorded for this change".into(), "warn")
            .fit();
        edges.push(edge(&marker, &[(TRUNK, prev_bottom), (TRUNK, y)]));
        prev_bottom = n.bottom();
        y = prev_bottom + VGAP;
        nodes.push(n);
    }
    let trunk_top = prev_bottom;

    // Credentials, indented by delegation depth (the analysis's: 1 for a
    // root credential), each with its actions and closure.
    let indent = |c: &CredentialReport| c.depth.clamp(1, 13) as i64 - 1;
    let max_depth = creds.iter().map(|c| indent(c)).max().unwrap_or(0);
    let acts_x = L + INDENT * (max_depth + 1) + CRED_W + GAP;
    let closure_x = acts_x + SIDE_W + GAP;
    let mut pos: HashMap<u64, (i64, i64)> = HashMap::new();
    let mut by_cred: HashMap<u64, Vec<&ActionReport>> = HashMap::new();
    for a in actions {
        if let Some(c) = a.credential {
            by_cred.entry(c).or_default().push(a);
        }
    }
    for c in creds {
        let x = L + INDENT * (indent(c) + 1);
        let mut cn = Node::new("cred", x, y, CRED_W)
            .line(
                format!("AGENT CREDENTIAL #{} · depth {}", c.index, c.depth),
                "k",
            )
            .line(
                format!(
                    "{} ({} {})",
                    dash(&c.agent.id),
                    dash(&c.agent.model),
                    dash(&c.agent.version)
                ),
                "",
            )
            .line(validity(c.issued_at, c.expires_at), "")
            .admission(c.valid)
            .record(page, c.index);

        // Its actions.
        let mine: &[&ActionReport] = by_cred.get(&c.index).map_or(&[], Vec::as_slice);
        let n_actions = c.actions as u64;
        let out_scope = mine.iter().filter(|a| !a.in_scope).count();
        let out_life = mine.iter().filter(|a| !a.within_lifetime).count();
        let flagged_acts = mine.iter().filter(|a| !a.red_flags.is_empty()).count() as u64;
        let mut an = Node::new("acts", acts_x, y, SIDE_W)
            .line("ACTIONS".into(), "k")
            .line(plural(n_actions, "action", "actions"), "");
        if out_scope > 0 {
            an = an.line(format!("✗ {out_scope} outside scope"), "badt");
        }
        if out_life > 0 {
            an = an.line(format!("✗ {out_life} outside lifetime"), "badt");
        }
        if out_scope == 0 && out_life == 0 && !mine.is_empty() {
            an = an.line("✓ all in scope and time".into(), "okt");
        }
        if flagged_acts > 0 {
            an.flags = vec![plural(flagged_acts, "flagged action", "flagged actions")];
        }
        if let Some(first) = mine.first() {
            an.href = Some(page.note_link(first.index));
        }

        // Its closure.
        let mut zn = match c.closure {
            Some(z) => {
                let mut zn = Node::new("closure", closure_x, y, SIDE_W)
                    .line(format!("SESSION CLOSED #{z}"), "k");
                if let Some(rec) = auth.closures.iter().find(|r| r.index == z) {
                    zn = zn.line(format!("reason: {}", reason_word(rec.reason)), "");
                    zn = if rec.actions == n_actions {
                        zn.line(format!("✓ reports {} actions", rec.actions), "okt")
                    } else {
                        zn.line(
                            format!("✗ reports {}, log has {n_actions}", rec.actions),
                            "badt",
                        )
                    };
                    zn = zn.admission(rec.valid);
                }
                zn.record(page, z)
            }
            None => Node::new("closure missing", closure_x, y, SIDE_W)
                .line("SESSION CLOSURE".into(), "k")
                .line("no closure record".into(), "warn"),
        };

        let h = cn.height().max(an.height()).max(zn.height());
        (cn.h, an.h, zn.h) = (h, h, h);
        let mid = y + h / 2;
        match c.parent.and_then(|p| pos.get(&p).copied()) {
            Some((px, pbottom)) => edges.push(edge(
                &marker,
                &[(px + 22, pbottom), (px + 22, mid), (x, mid)],
            )),
            None => edges.push(edge(&marker, &[(TRUNK, trunk_top), (TRUNK, mid), (x, mid)])),
        }
        edges.push(edge(&marker, &[(x + CRED_W, mid), (acts_x, mid)]));
        edges.push(edge(&marker, &[(acts_x + SIDE_W, mid), (closure_x, mid)]));
        pos.insert(c.index, (x, y + h));
        y += h + VGAP;
        nodes.extend([cn, an, zn]);
    }
    if creds.is_empty() {
        let n = Node::new("cred missing", L + INDENT, y, CRED_W)
            .line("AGENT CREDENTIAL".into(), "k")
            .line("none issued under this approval".into(), "")
            .fit();
        edges.push(edge(
            &marker,
            &[
                (TRUNK, trunk_top),
                (TRUNK, y + n.h / 2),
                (L + INDENT, y + n.h / 2),
            ],
        ));
        y = n.bottom() + VGAP;
        nodes.push(n);
    }

    // Exceptions and reviews hang off the trunk.
    let mut from = trunk_top;
    for ex in &auth.exceptions {
        let mut on = String::new();
        if let Some(c) = ex.credential {
            on.push_str(&format!("on credential #{c} · "));
        }
        if let Some(a) = ex.action {
            on.push_str(&format!("for action #{a} · "));
        }
        let n = Node::new("exception", L, y, SPINE_W)
            .line(format!("EXCEPTION #{}", ex.index), "k")
            .line(dash(&ex.reason), "")
            .line(
                format!(
                    "{on}{}",
                    if ex.revoked {
                        "credential revoked"
                    } else {
                        "credential not revoked"
                    }
                ),
                "",
            )
            .admission(ex.valid)
            .record(page, ex.index)
            .fit();
        edges.push(edge(&marker, &[(TRUNK, from), (TRUNK, y)]));
        from = n.bottom();
        y = from + VGAP;
        nodes.push(n);
    }
    for rv in &auth.reviews {
        let n = Node::new("review", L, y, SPINE_W)
            .line(format!("HUMAN REVIEW #{}", rv.index), "k")
            .line(
                format!(
                    "{} reviewed: {}",
                    claimed_plain(&rv.reviewer.subject, &rv.signer),
                    dash(&rv.verdict)
                ),
                "",
            )
            .line(
                format!(
                    "{} · took {}",
                    plural(rv.items, "item", "items"),
                    duration(seconds(rv.started_at, rv.finished_at))
                ),
                "",
            )
            .admission(rv.valid)
            .record(page, rv.index)
            .fit();
        edges.push(edge(&marker, &[(TRUNK, from), (TRUNK, y)]));
        from = n.bottom();
        y = from + VGAP;
        nodes.push(n);
    }
    if auth.reviews.is_empty() {
        let n = Node::new("review missing", L, y, SPINE_W)
            .line("HUMAN REVIEW".into(), "k")
            .line("No review recorded for this change".into(), "warn")
            .fit();
        edges.push(edge(&marker, &[(TRUNK, from), (TRUNK, y)]));
        y = n.bottom() + VGAP;
        nodes.push(n);
    }

    let width = nodes.iter().map(|n| n.x + n.w).max().unwrap_or(SPINE_W) + 12;
    let height = y - VGAP + 12;
    let title_id = format!("chain-title-{seq}");
    html! {
        svg.chain xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (width) " " (height) }
            width=(width) height=(height) role="img" aria-labelledby=(title_id) {
            title id=(title_id) {
                "Causal chain of " (auth_title(auth)) ": the approving human, pre-flight check, \
                agent credentials by delegation depth with their actions and closures, and the \
                review"
            }
            defs {
                marker id=(marker) viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
                    markerHeight="7" orient="auto" {
                    path d="M0,0 L10,5 L0,10 z" fill="#57606a" {}
                }
            }
            @for e in &edges { (e) }
            @for n in &nodes { (n.svg()) }
        }
    }
}
