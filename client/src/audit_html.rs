//! A self-contained HTML audit report, readable by a non-engineer: a
//! plain-English verdict, the SOC 2 CC8.1 evidence matrix, the red flags,
//! one section per human authorization with an inline SVG picture of its
//! causal chain, the trust basis (keys, checkpoint, anchors) and how to
//! re-verify it all.
//!
//! The page needs no network: inline CSS and SVG, no fonts, no images, and
//! one tiny inline script (it opens a collapsed list when a link points
//! into it, and every list before printing) pinned by a Content Security
//! Policy hash, so nothing else on the page can run even if a record were
//! somehow not escaped.
//!
//! [`render`] takes the report as a [`serde_json::Value`] and looks fields
//! up by name, so it does not depend on the analysis's Rust types and shows
//! "—" for anything missing. Every string from the report is escaped:
//! records are attacker-controlled.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use base64::Engine as _;
use causeway_rfc3161::MessageImprint;
use serde_json::Value;

use crate::visible::{is_invisible, strip_invisible};

/// Who and what the report's conclusions rest on, and what the audit
/// actually checked: the page claims nothing beyond these facts (the
/// default claims nothing verified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustBasis {
    /// The log's origin line.
    pub log_origin: String,
    /// The log's note verifier keys.
    pub log_vkeys: Vec<String>,
    /// The witnesses' cosignature verifier keys.
    pub witness_vkeys: Vec<String>,
    /// How many of the witnesses must have cosigned.
    pub witness_quorum: usize,
    /// The signed checkpoint note the analysis covered.
    pub checkpoint_note: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's root hash, hex.
    pub root_hex: String,
    /// The RFC 3161 anchors relied on.
    pub anchors: Vec<AnchorSummary>,
    /// The trusted TSA roots, by certificate subject.
    pub tsa_roots: Vec<String>,
    /// When the report was generated (RFC 3339).
    pub generated_at: String,
    /// Whether the checkpoint's log signatures were verified with
    /// `log_vkeys`; false when the audit ran with `--unverified`, and then
    /// the verdict says UNVERIFIED.
    pub log_signatures_verified: bool,
    /// How many of `witness_vkeys` validly cosigned the checkpoint (at
    /// least `witness_quorum`). Witnesses were checked only when
    /// `witness_quorum` is above zero.
    pub witness_cosignatures: usize,
    /// Whether every anchor's TSA signature was verified with `tsa_roots`
    /// (false: the anchors' times are the log's claims).
    pub anchors_verified: bool,
    /// Why no anchor was looked at, when none could be (the log was
    /// unreachable, `ListAnchors` failed).
    pub anchors_unavailable: Option<String>,
}

/// One RFC 3161 anchor of a checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnchorSummary {
    /// The anchored tree size.
    pub tree_size: u64,
    /// The TSA's genTime (RFC 3339).
    pub gen_time: String,
    /// The TSA, by certificate subject.
    pub tsa: String,
}

/// `write!` into a `String`, which cannot fail.
macro_rules! put {
    ($o:expr, $($a:tt)*) => {{
        let _ = write!($o, $($a)*);
    }};
}
/// Shown for anything missing.
const DASH: &str = "—";

/// The page's only script: opens the `<details>` holding a linked record
/// and every `<details>` before printing. Allowed by its CSP hash.
const SCRIPT: &str = "(function(){function reveal(){var h=location.hash.slice(1);\
if(!h){return;}var e=document.getElementById(h);while(e){if(e.tagName==='DETAILS'){e.open=true;}\
e=e.parentElement;}}window.addEventListener('hashchange',reveal);reveal();\
window.addEventListener('beforeprint',function(){var d=document.querySelectorAll('details');\
for(var i=0;i<d.length;i++){d[i].open=true;}});})();";

const CSS: &str = r#"
:root{--ok:#17692f;--bad:#a4161a;--warn:#7a4b00;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg2:#f6f8fa}
*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);margin:0 auto;max-width:1180px;padding:24px 28px 60px;line-height:1.45;font-size:15px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:21px;margin:36px 0 8px;padding-top:8px;border-top:2px solid var(--line)}h3{font-size:16px;margin:22px 0 6px}
small,.muted{color:var(--muted)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
code,.mono{overflow-wrap:anywhere}
.nw,code.nw{white-space:nowrap;overflow-wrap:normal}
pre{background:var(--bg2);border:1px solid var(--line);padding:10px 12px;white-space:pre-wrap;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:8px 0 14px;font-size:14px}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
thead th{background:var(--bg2)}tfoot th,tfoot td{background:var(--bg2);font-weight:600}
td.c,th.c{text-align:center;white-space:nowrap}
.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}
tr.flagged td,tr.flagged th{background:#fff1f0}
.verdict{border:2px solid var(--line);border-left-width:10px;padding:10px 16px;margin:16px 0;border-radius:4px}
.verdict.good{border-color:var(--ok)}.verdict.attention{border-color:var(--bad)}
.verdict.unverified{border-color:var(--warn);background:#fff8e6}
.verdict .headline{font-size:20px;font-weight:700;margin:4px 0 6px}
.glance{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0}
.glance div{border:1px solid var(--line);border-radius:4px;padding:6px 12px;min-width:120px;background:var(--bg2)}
.glance b{display:block;font-size:20px}
nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;padding:0;margin:8px 0}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:6px 0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
dl.kv ul{margin:0;padding-left:18px}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:0 24px}
dl.explain dt{font-weight:600;margin-top:6px}dl.explain dd{margin-left:18px}
.flagnote{border:2px dashed var(--bad);padding:6px 12px;border-radius:4px}
figure{margin:12px 0;border:1px solid var(--line);border-radius:4px;padding:8px;background:#fff}
figcaption{font-size:13px;color:var(--muted);margin-top:4px}
svg.chain{display:block;max-width:100%;height:auto}
svg.chain text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-size:12px;fill:var(--ink)}
svg.chain text.k{font-size:11px;font-weight:700;letter-spacing:.04em;fill:var(--muted)}
svg.chain text.fl{font-weight:700;fill:var(--bad)}
svg.chain text.flt{fill:var(--bad)}svg.chain text.warn{font-weight:700;fill:var(--warn)}
svg.chain text.okt{font-weight:700;fill:var(--ok)}
svg.chain text.badt{font-weight:700;fill:var(--bad)}
svg.chain rect{fill:#fff;stroke:#6e7781;stroke-width:1.5}
svg.chain .human rect{fill:#eef6ff}svg.chain .preflight rect{fill:#f3f0ff}svg.chain .cred rect{fill:#f6f8fa}
svg.chain .acts rect{fill:#fffbea}svg.chain .closure rect{fill:#f0fff4}svg.chain .review rect{fill:#eef6ff}
svg.chain .missing rect{stroke-dasharray:5 4;fill:#fff}
svg.chain .flag rect{stroke:var(--bad);stroke-width:3;stroke-dasharray:7 3}
svg.chain path.edge{fill:none;stroke:#57606a;stroke-width:1.5}
svg.chain a:hover rect,svg.chain a:focus rect{stroke-width:3}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
:target{outline:3px solid #f0b400;outline-offset:2px}
@page{margin:14mm}
@media print{body{max-width:none;padding:0;font-size:11pt}nav{display:none}
section.chain{break-before:page}h2,h3{break-after:avoid}
tr,figure,.verdict{break-inside:avoid}thead{display:table-header-group}
a{color:inherit;text-decoration:none}table{font-size:9.5pt}}
"#;

/// Renders the report as a complete HTML5 document.
pub fn render(report: &Value, trust: &TrustBasis) -> String {
    let mut cx = Ctx::new(report);
    let header = header(&cx, trust);
    let matrix = matrix(&mut cx);
    let flags = red_flags(&mut cx);
    let mut chains = String::new();
    for auth in cx.auths.clone() {
        chains.push_str(&chain_section(&mut cx, auth));
    }
    let unlinked = unlinked_actions(&mut cx);
    let example = cx
        .auths
        .iter()
        .find_map(|a| count(a.get("index")))
        .unwrap_or(0);
    let trust_html = trust_section(trust, example, report);
    let invalid = invalid(&mut cx);
    let other = other_records(&mut cx);

    let mut nav = String::from(
        "<nav aria-label=\"Contents\"><ul><li><a href=\"#matrix\">CC8.1 evidence</a></li>\
         <li><a href=\"#red-flags\">Red flags</a></li>",
    );
    for auth in &cx.auths {
        if let Some(id) = key(auth.get("index")).map(|k| ident(&k)) {
            put!(
                nav,
                "<li><a href=\"#auth-{id}\">{}</a></li>",
                esc(&auth_title(auth))
            );
        }
    }
    if !unlinked.is_empty() {
        nav.push_str("<li><a href=\"#unlinked\">Unapproved actions</a></li>");
    }
    nav.push_str("<li><a href=\"#trust\">Trust basis</a></li>");
    if !invalid.is_empty() {
        nav.push_str("<li><a href=\"#invalid\">Invalid entries</a></li>");
    }
    nav.push_str("</ul></nav>");

    let csp_hash = base64::engine::general_purpose::STANDARD
        .encode(MessageImprint::sha256(SCRIPT.as_bytes()).digest);
    let origin = if trust.log_origin.is_empty() {
        String::new()
    } else {
        format!(" — {}", esc(&trust.log_origin))
    };
    let mut o = String::with_capacity(64 * 1024);
    put!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'sha256-{csp_hash}'; img-src data:; \
         base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"generator\" content=\"causeway\">\n\
         <title>Causeway audit report{origin}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
    );
    for part in [
        &header,
        &nav,
        &matrix,
        &flags,
        &chains,
        &unlinked,
        &trust_html,
        &invalid,
        &other,
    ] {
        o.push_str(part);
        o.push('\n');
    }
    put!(
        o,
        "<footer><p class=\"muted\">Generated by Causeway at {}. Everything on this page comes \
         from the log's entries; the trust basis above says how to check it independently.</p>\
         </footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        esc(&when(&trust.generated_at))
    );
    o
}

/// HTML-escapes text for element content and quoted attributes.
/// Invisible characters (format characters such as bidirectional
/// overrides, zero-width spaces and tags, and line separators, which could
/// make a record's text read differently from what it is) are dropped, see
/// [`crate::visible`]; other control characters become U+FFFD.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\n' | '\t' => o.push(c),
            c if is_invisible(c) => {}
            c if c.is_control() => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

// ---------------------------------------------------------------------------
// Tolerant access to the report.

/// The value at a dotted path, if present and not null.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for k in path.split('.') {
        cur = cur.get(k)?;
    }
    (!cur.is_null()).then_some(cur)
}

/// The first of several spellings that is present.
fn pick<'a>(v: &'a Value, paths: &[&str]) -> Option<&'a Value> {
    paths.iter().find_map(|p| at(v, p))
}

/// A value as plain (unescaped) text; "—" when missing or empty.
fn plain(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => DASH.into(),
        // Invisible characters dropped first, so text made only of them
        // shows as missing and shortening counts what a reader sees.
        Some(Value::String(s)) => {
            let s = strip_invisible(s);
            if s.trim().is_empty() {
                DASH.into()
            } else {
                s.into_owned()
            }
        }
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.into(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(a)) if a.is_empty() => DASH.into(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| plain(Some(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(o @ Value::Object(_)) => o.to_string(),
    }
}

/// Escaped text of the first present spelling.
fn txt(v: &Value, paths: &[&str]) -> String {
    esc(&plain(pick(v, paths)))
}

/// A name a human record claims (escaped), followed always by the signer
/// the auditor verified, so a claimed name never stands alone; marked bad
/// when the signer is someone else (`identity_mismatch`).
fn claimed(rec: &Value, paths: &[&str]) -> String {
    let name = plain(pick(rec, paths));
    let signer = plain(pick(rec, &["signer"]));
    if signer.is_empty() {
        return esc(&name);
    }
    let class = if signer == name { "" } else { " class=\"bad\"" };
    format!(
        "{} <small{class}>(signed by {})</small>",
        esc(&name),
        esc(&signer)
    )
}

/// The plain-text form of [`claimed`], for the diagrams.
fn claimed_plain(rec: &Value, paths: &[&str]) -> String {
    let name = plain(pick(rec, paths));
    match plain(pick(rec, &["signer"])) {
        s if s.is_empty() => name,
        s => format!("{name} (signed by {s})"),
    }
}

/// Escaped text, shortened to `n` characters (the full text in a tooltip).
fn txt_short(v: &Value, paths: &[&str], n: usize) -> String {
    let full = plain(pick(v, paths));
    if full.chars().count() <= n {
        esc(&full)
    } else {
        format!(
            "<span title=\"{}\">{}</span>",
            esc(&full),
            esc(&clip(&full, n))
        )
    }
}

/// A count: a number, a numeric string, or an array's length.
fn count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Array(a) => Some(a.len() as u64),
        _ => None,
    }
}

/// A yes/no: a boolean, a word like "yes"/"pass", a number, or an object's
/// `ok`/`value`/`pass`/`status`.
fn truth(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "pass" | "passed" | "ok" | "y" | "✓" => Some(true),
            "no" | "false" | "fail" | "failed" | "n" | "✗" => Some(false),
            _ => None,
        },
        o @ Value::Object(_) => truth(pick(o, &["ok", "value", "pass", "status"])),
        _ => None,
    }
}

/// The elements of an array field, or nothing.
fn arr<'a>(v: &'a Value, paths: &[&str]) -> &'a [Value] {
    pick(v, paths)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A record index (or other reference) as a comparable key.
fn key(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// A key made safe for an `id` and a URL fragment.
fn ident(k: &str) -> String {
    k.chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// At most `n` characters, with an ellipsis when shortened.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// ✓/✗ with a word, so the meaning never rests on color.
fn mark(v: Option<&Value>) -> String {
    match truth(v) {
        Some(true) => "<span class=\"ok\">✓ yes</span>".into(),
        Some(false) => "<span class=\"bad\">✗ no</span>".into(),
        None => esc(&plain(v)),
    }
}

/// Seconds since the epoch of an RFC 3339 time.
fn unix_secs(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// An RFC 3339 time for people: "2026-11-22 09:30:00 UTC".
fn when(s: &str) -> String {
    let t = s.trim();
    if t.is_empty() {
        return DASH.into();
    }
    if unix_secs(t).is_some() && (t.ends_with('Z') || t.ends_with('z')) {
        let body = &t[..t.len() - 1];
        return format!("{} {} UTC", &body[..10], &body[11..]);
    }
    t.to_owned()
}

/// Escaped time of a field.
fn when_of(v: &Value, paths: &[&str]) -> String {
    match pick(v, paths) {
        Some(Value::String(s)) => esc(&when(s)),
        other => esc(&plain(other)),
    }
}

/// A duration in words.
fn duration(secs: i64) -> String {
    match secs {
        s if s < 0 => "ends before it starts".into(),
        s if s < 120 => plural(s as u64, "second", "seconds"),
        s if s < 7200 => plural((s / 60) as u64, "minute", "minutes"),
        s if s < 172_800 => format!("{:.1} hours", s as f64 / 3600.0),
        s => plural((s / 86_400) as u64, "day", "days"),
    }
}

/// The time between two fields, in words.
fn between(v: &Value, from: &[&str], to: &[&str]) -> Option<String> {
    let a = unix_secs(pick(v, from)?.as_str()?)?;
    let b = unix_secs(pick(v, to)?.as_str()?)?;
    Some(duration(b - a))
}

/// A credential's validity period, short: "2026-11-22 09:30–10:30 UTC
/// (60 minutes)".
fn validity(c: &Value) -> String {
    let from = plain(pick(c, &["issued_at"]));
    let to = plain(pick(c, &["expires_at"]));
    match (unix_secs(&from), unix_secs(&to)) {
        (Some(a), Some(b)) => {
            let (wf, wt) = (when(&from), when(&to));
            if wf.ends_with(" UTC") && wt.ends_with(" UTC") && wf.get(..10) == wt.get(..10) {
                format!(
                    "{} {}–{} UTC ({})",
                    &wf[..10],
                    &wf[11..16],
                    &wt[11..16],
                    duration(b - a)
                )
            } else {
                format!("{wf} → {wt}")
            }
        }
        _ => format!("issued {}", when(&from)),
    }
}

/// A red flag's kind in plain words.
fn kind_words(kind: &str) -> String {
    let k = kind.trim().to_ascii_lowercase().replace('-', "_");
    let words = match k.as_str() {
        // The analysis's names (client/src/audit/flags.rs).
        "agent_activity_as_human" => "An agent acted under a person's identity",
        "shared_agent_identity" => {
            "Two agent credentials share one identity or key, so their actions cannot be told apart"
        }
        "action_without_credential" => "An agent action with no valid credential behind it",
        "identity_mismatch" => "A person's record names someone other than the key that signed it",
        "credential_without_agent_identity" => {
            "A credential names no agent, so its actions are attributable to nobody"
        }
        "action_not_signed_by_session" => {
            "An action was not signed by its credential's session key: someone else acted"
        }
        "action_out_of_scope" => {
            "An agent action on a target, or with an operation, outside its credential's scope"
        }
        "action_after_revocation" => {
            "An agent kept writing after its credential (or a parent one) was revoked or closed"
        }
        "record_predates_admission" => {
            "A record claims a time before the log could have received it (backdated)"
        }
        "action_after_expiry" => {
            "An agent action outside its credential's lifetime (expired, revoked or closed)"
        }
        "delegation_widens_scope" => {
            "A credential was given more than its parent credential or the approval allowed"
        }
        "implausible_approval_rate" => {
            "A person approved or reviewed changes faster than is plausible"
        }
        "approval_outside_hours" => "An approval or review outside working hours",
        "review_too_fast" => "The review was too quick to be a real review",
        "missing_preflight" => "A credential was issued without a proper pre-flight check",
        "self_preflight" => "The agent vouched for itself: it signed its own pre-flight check",
        "blocked_preflight_ignored" => {
            "A credential was issued although the pre-flight check said block"
        }
        "session_without_closure" => "An expired agent session was never closed",
        "authorization_without_mfa" => {
            "The change was approved without multi-factor authentication"
        }
        "backdated_record" => {
            "A record is dated later than its time-stamp proves it existed (backdated)"
        }
        // Other likely names.
        "unauthorized_action"
        | "no_authorization"
        | "action_without_authorization"
        | "unauthorised_action"
        | "orphan_action"
        | "no_human" => "An agent action with no human approval behind it",
        "out_of_scope" | "scope_violation" | "outside_scope" => {
            "An agent action outside the approved scope"
        }
        "outside_lifetime"
        | "action_outside_lifetime"
        | "expired_credential"
        | "credential_expired"
        | "not_within_lifetime" => "An agent action outside its credential's validity period",
        "no_preflight" | "preflight_missing" => {
            "No pre-flight check before the agent got its credential"
        }
        "preflight_blocked" | "blocked_preflight" | "preflight_block" | "issued_despite_block" => {
            "The pre-flight check said block, yet a credential was issued"
        }
        "missing_review" | "no_review" | "unreviewed" | "review_missing" => {
            "Nobody reviewed the work afterwards"
        }
        "self_review" | "reviewer_is_approver" | "self_approval" | "same_approver_reviewer" => {
            "The person who approved the change also reviewed it"
        }
        "implausible_review" | "rubber_stamp" | "review_too_short" | "fast_review" => {
            "The review was too quick to be a real review"
        }
        "review_before_work" | "review_before_actions" | "premature_review" => {
            "The review finished before the work did"
        }
        "no_mfa"
        | "weak_authn"
        | "weak_authentication"
        | "approval_without_mfa"
        | "mfa_missing" => "The approver did not use multi-factor authentication",
        "missing_closure"
        | "no_closure"
        | "unclosed_credential"
        | "unclosed_session"
        | "session_not_closed" => "An agent session was never closed",
        "closure_count_mismatch" | "action_count_mismatch" | "closure_mismatch" => {
            "The session's closing count of actions disagrees with the log"
        }
        "delegation_escalation"
        | "scope_escalation"
        | "privilege_escalation"
        | "delegated_scope_wider" => "A delegated credential has more rights than its parent",
        "delegation_too_deep" | "excessive_delegation" => {
            "Credentials were delegated more levels deep than allowed"
        }
        "credential_outlives_authorization"
        | "credential_outside_authorization"
        | "credential_outside_approval_window"
        | "lifetime_exceeds_authorization" => {
            "A credential is valid beyond the approval's time window"
        }
        "action_outside_authorization_window" | "outside_approval_window" => {
            "An action outside the approval's time window"
        }
        "revoked_credential_used" | "used_after_revocation" => {
            "An agent acted after its credential was revoked"
        }
        "action_after_closure" | "used_after_closure" => {
            "An agent acted after its session was closed"
        }
        "exception" | "exception_raised" | "emergency_change" => "An exception was recorded",
        "missing_ticket" | "no_ticket" => "The approval names no change ticket",
        "missing_plan" | "incomplete_plan" | "undocumented" | "no_backout" | "missing_backout" => {
            "The approved plan is incomplete"
        }
        "invalid" | "invalid_record" | "bad_signature" | "unverifiable" => {
            "An entry that is not a valid, verifiable record"
        }
        "dangling_reference" | "missing_parent" | "broken_reference" | "unknown_reference" => {
            "A record refers to something that is not in the log"
        }
        "stale_authn" | "stale_authentication" | "old_authentication" => {
            "The approver's sign-in was long before the approval"
        }
        "review_rejected" | "rejected_review" | "review_failed" => {
            "The reviewer did not accept the work"
        }
        _ => "",
    };
    if !words.is_empty() {
        return words.to_owned();
    }
    let mut s: String = kind
        .trim()
        .chars()
        .map(|c| {
            if c == '_' || c == '-' || c == '.' {
                ' '
            } else {
                c
            }
        })
        .collect();
    if let Some(first) = s.chars().next() {
        let up: String = first.to_uppercase().collect();
        s.replace_range(..first.len_utf8(), &up);
    }
    if s.is_empty() {
        "Unnamed red flag".into()
    } else {
        s
    }
}

/// "Change CHG-1 · alice" for an authorization.
fn auth_title(auth: &Value) -> String {
    match pick(auth, &["ticket"]) {
        Some(_) => format!("Change {}", plain(pick(auth, &["ticket"]))),
        None => format!("Authorization #{}", plain(auth.get("index"))),
    }
}

// ---------------------------------------------------------------------------
// Rendering context: red flags by record, and which anchors exist.

struct Ctx<'a> {
    report: &'a Value,
    auths: Vec<&'a Value>,
    actions: Vec<&'a Value>,
    flags: Vec<&'a Value>,
    /// Record key → indices into `flags`.
    flagged: HashMap<String, Vec<usize>>,
    /// Red flag index → the authorization (key) whose chain it is in.
    flag_chain: HashMap<usize, String>,
    /// Ids already emitted.
    anchors: HashSet<String>,
    /// Record keys linked to (`#record-<key>`).
    linked: BTreeSet<(u64, String)>,
    /// Actions already shown in a chain.
    shown_actions: HashSet<String>,
    /// Positions in `actions` by action index, by the authorization they
    /// name, and (for those naming none) by credential.
    action_at: HashMap<String, usize>,
    actions_of_auth: HashMap<String, Vec<usize>>,
    orphans_of_cred: HashMap<String, Vec<usize>>,
    svg_seq: usize,
}

impl<'a> Ctx<'a> {
    fn new(report: &'a Value) -> Self {
        let list = |p: &str| -> Vec<&'a Value> { arr(report, &[p]).iter().collect() };
        let auths = list("authorizations");
        let flags = list("red_flags");
        let mut flagged: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, f) in flags.iter().enumerate() {
            if let Some(k) = key(pick(f, &["record", "index"])) {
                flagged.entry(k).or_default().push(i);
            }
        }
        let mut flag_chain = HashMap::new();
        for (i, f) in flags.iter().enumerate() {
            if let Some(ak) = key(pick(f, &["authorization"])) {
                flag_chain.insert(i, ak);
            }
        }
        for a in &auths {
            if let Some(ak) = key(a.get("index")) {
                for f in arr(a, &["red_flags"]) {
                    if let Some(i) = count(Some(f)) {
                        flag_chain.entry(i as usize).or_insert_with(|| ak.clone());
                    }
                }
            }
        }
        let actions = list("actions");
        let mut action_at = HashMap::new();
        let mut actions_of_auth: HashMap<String, Vec<usize>> = HashMap::new();
        let mut orphans_of_cred: HashMap<String, Vec<usize>> = HashMap::new();
        for (p, a) in actions.iter().enumerate() {
            if let Some(k) = key(a.get("index")) {
                action_at.entry(k).or_insert(p);
            }
            match key(pick(a, &["authorization"])) {
                Some(k) => actions_of_auth.entry(k).or_default().push(p),
                None => {
                    if let Some(c) = key(pick(a, &["credential"])) {
                        orphans_of_cred.entry(c).or_default().push(p);
                    }
                }
            }
        }
        Ctx {
            report,
            auths,
            actions,
            action_at,
            actions_of_auth,
            orphans_of_cred,
            flags,
            flagged,
            flag_chain,
            anchors: HashSet::new(),
            linked: BTreeSet::new(),
            shown_actions: HashSet::new(),
            svg_seq: 0,
        }
    }

    /// ` id="…"` the first time an id is asked for, else nothing.
    fn id_attr(&mut self, id: String) -> String {
        if self.anchors.insert(id.clone()) {
            format!(" id=\"{id}\"")
        } else {
            String::new()
        }
    }

    /// The anchor attribute of a record.
    fn rec_id(&mut self, idx: Option<&Value>) -> String {
        match key(idx) {
            Some(k) => self.id_attr(format!("record-{}", ident(&k))),
            None => String::new(),
        }
    }

    /// "#12" linking to the record's anchor, or "—".
    fn rec_link(&mut self, idx: Option<&Value>) -> String {
        match key(idx) {
            Some(k) => {
                self.linked
                    .insert((k.parse().unwrap_or(u64::MAX), k.clone()));
                format!("<a href=\"#record-{}\">#{}</a>", ident(&k), esc(&k))
            }
            None => DASH.into(),
        }
    }

    /// The red flags naming a record.
    fn flags_of(&self, idx: Option<&Value>) -> Vec<&'a Value> {
        key(idx)
            .and_then(|k| self.flagged.get(&k))
            .map(|v| v.iter().map(|i| self.flags[*i]).collect())
            .unwrap_or_default()
    }

    /// A record's red flags and admission failure, as cell content, or "".
    fn problems(&self, rec: &Value) -> String {
        let mut v: Vec<String> = self
            .flags_of(rec.get("index"))
            .iter()
            .map(|f| {
                format!(
                    "<span class=\"bad\">⚠ {}</span>",
                    esc(&kind_words(&plain(f.get("kind"))))
                )
            })
            .collect();
        if truth(pick(rec, &["valid"])) == Some(false) {
            v.push("<span class=\"bad\">✗ fails the log's admission checks</span>".into());
        }
        v.join("<br>")
    }

    fn summary_count(&self, name: &str) -> Option<u64> {
        count(at(self.report, &format!("summary.{name}")))
    }
}

// ---------------------------------------------------------------------------
// Sections.

fn header(cx: &Ctx, trust: &TrustBasis) -> String {
    let r = cx.report;
    let actions_n = cx
        .summary_count("actions")
        .unwrap_or(cx.actions.len() as u64);
    let flags_n = if cx.flags.is_empty() {
        cx.summary_count("red_flags").unwrap_or(0)
    } else {
        cx.flags.len() as u64
    };
    let traced = cx
        .summary_count("actions_with_named_human")
        .unwrap_or_else(|| {
            cx.actions
                .iter()
                .filter(|a| pick(a, &["authorized_by.subject"]).is_some())
                .count() as u64
        });
    let invalid_n = arr(r, &["invalid"]).len() as u64;
    let records = cx.summary_count("records");
    let records_s = records.map_or_else(|| DASH.to_owned(), |n| n.to_string());

    let verified = trust.log_signatures_verified;
    let good = verified && flags_n == 0 && traced >= actions_n && invalid_n == 0;
    let tail = if flags_n == 0 && traced >= actions_n && invalid_n == 0 {
        if actions_n == 0 {
            "no agent actions and no red flags".to_owned()
        } else {
            "every action traces to a human approval".to_owned()
        }
    } else if flags_n > 0 {
        format!(
            "{} {} attention",
            plural(flags_n, "red flag", "red flags"),
            if flags_n == 1 { "needs" } else { "need" }
        )
    } else if traced < actions_n {
        format!(
            "{} not trace to a human approval",
            plural(actions_n - traced, "action does", "actions do")
        )
    } else {
        format!(
            "{} {} attention",
            plural(invalid_n, "invalid entry", "invalid entries"),
            if invalid_n == 1 { "needs" } else { "need" }
        )
    };
    let headline = format!(
        "{} {}, {}: {tail}",
        records_s,
        if records == Some(1) {
            "record"
        } else {
            "records"
        },
        plural(actions_n, "action", "actions")
    );

    let n = |name: &str, fallback: Option<u64>| -> String {
        cx.summary_count(name)
            .or(fallback)
            .map_or_else(|| DASH.to_owned(), |n| n.to_string())
    };
    // "3 things", or "— things" when the report lacks the count.
    let np = |name: &str, fallback: Option<u64>, one: &str, many: &str| -> String {
        match cx.summary_count(name).or(fallback) {
            Some(k) => plural(k, one, many),
            None => format!("{DASH} {many}"),
        }
    };
    let mut p = if verified {
        String::new()
    } else {
        String::from(
            "<strong>The log's signatures were not checked</strong>: this audit ran with \
             <code>--unverified</code>, without the log's keys, so anyone could have written \
             these entries and their checkpoint. Nothing below is evidence until the audit is \
             re-run with the log's keys (<code>--vkey</code>). ",
        )
    };
    put!(
        p,
        "At tree size {}, the log held {}; {records_s} of them are signed governance records \
         ({}). They describe {}, {} and {}. {traced} of the {actions_n} actions trace, through \
         their credentials, to a named and authenticated human approval.",
        trust.tree_size,
        np("entries", None, "entry", "entries"),
        np("non_records", None, "other entry", "other entries"),
        np(
            "authorizations",
            Some(cx.auths.len() as u64),
            "human approval",
            "human approvals"
        ),
        np("credentials", None, "agent credential", "agent credentials"),
        plural(actions_n, "agent action", "agent actions"),
    );
    if flags_n > 0 {
        put!(
            p,
            " The analysis found {}, listed under <a href=\"#red-flags\">Red flags</a> and \
             marked in each change's picture.",
            plural(flags_n, "red flag", "red flags")
        );
    } else {
        p.push_str(" The analysis found no red flags.");
    }
    if invalid_n > 0 {
        put!(
            p,
            " {} the log should have refused (see <a href=\"#invalid\">Invalid entries</a>).",
            plural(invalid_n, "entry is one", "entries are ones")
        );
    }
    p.push_str(
        " These conclusions hold for the checkpoint described under \
         <a href=\"#trust\">Trust basis</a>, which anyone can re-verify offline.",
    );

    let glance = [
        ("Log entries", n("entries", None)),
        ("Governance records", records_s.clone()),
        (
            "Human approvals",
            n("authorizations", Some(cx.auths.len() as u64)),
        ),
        ("Agent credentials", n("credentials", None)),
        ("Agent actions", actions_n.to_string()),
        ("Actions traced to a human", traced.to_string()),
        ("Red flags", flags_n.to_string()),
    ];
    let mut g = String::from("<div class=\"glance\">");
    for (label, value) in glance {
        put!(g, "<div><b>{}</b>{label}</div>", esc(&value));
    }
    g.push_str("</div>");

    format!(
        "<header id=\"summary\"><h1>Causeway audit report</h1>\
         <p class=\"muted\">Log <code>{}</code> · tree size <b>{}</b> · root <code>{}</code> · \
         generated {}</p>\
         <div class=\"verdict {}\" role=\"status\"><p class=\"headline\">{}{}</p><p>{p}</p></div>{g}\
         </header>",
        esc(or_dash(&trust.log_origin)),
        trust.tree_size,
        esc(or_dash(&trust.root_hex)),
        esc(&when(&trust.generated_at)),
        if good {
            "good"
        } else if verified {
            "attention"
        } else {
            "unverified"
        },
        if good {
            "✓ "
        } else if verified {
            "⚠ "
        } else {
            "⚠ UNVERIFIED: "
        },
        esc(&headline),
    )
}

fn or_dash(s: &str) -> &str {
    if s.trim().is_empty() { DASH } else { s }
}

/// The matrix columns: field spellings, heading, explanation.
const MATRIX_COLS: [(&[&str], &str, &str); 5] = [
    (
        &["authorized"],
        "Authorized",
        "A named person approved the change in a signed authorization record that passes the \
         log's checks, with a key the log's policy gives to a person allowed to approve (how \
         they signed in, and whether with multi-factor authentication, is in the change's \
         section).",
    ),
    (
        &["documented"],
        "Documented",
        "The approval states the plan (what the change is for, how it will be made, how it will \
         be tested, how it can be backed out), its ticket and its targets, and every agent \
         action traces back to it through valid records.",
    ),
    (
        &["tested"],
        "Tested",
        "An automated pre-flight check, not signed by the agents themselves, passed the change \
         before the first agent credential was issued.",
    ),
    (
        &["reviewed"],
        "Reviewed",
        "A person recorded a review of the change or of the agents' sessions.",
    ),
    (
        &["deviations_addressed", "deviations", "deviations_handled"],
        "Deviations addressed",
        "The change has no red flags, or each was followed by a recorded exception or by a \
         proper (not rushed) human review.",
    ),
];

fn matrix(cx: &mut Ctx) -> String {
    let mut o = String::from(
        "<section id=\"matrix\"><h2>CC8.1 change-management evidence</h2>\
         <p>SOC 2 criterion CC8.1 asks that every change is authorized, documented, tested, \
         reviewed and that deviations are dealt with. Each row is one change a person approved; \
         each column says whether the log holds the evidence for that step. \
         ✓ means the evidence is there, ✗ means it is missing or contradicted.</p>",
    );
    let Some(m) = pick(cx.report, &["matrix"]) else {
        o.push_str("<p class=\"warn\">The report has no evidence matrix.</p></section>");
        return o;
    };
    let rows: Vec<&Value> = arr(m, &["rows"]).iter().collect();
    let by_key: HashMap<String, &Value> = cx
        .auths
        .iter()
        .filter_map(|a| Some((key(a.get("index"))?, *a)))
        .collect();
    let notes = rows
        .iter()
        .any(|r| pick(r, &["notes", "reasons", "why"]).is_some());
    o.push_str(
        "<table class=\"matrix\" id=\"matrix-table\"><thead><tr>\
         <th scope=\"col\">Change (ticket · approver)</th>",
    );
    for (_, head, _) in MATRIX_COLS {
        put!(o, "<th scope=\"col\" class=\"c\">{head}</th>");
    }
    if notes {
        o.push_str("<th scope=\"col\">Notes</th>");
    }
    o.push_str("</tr></thead><tbody>");
    for &row in &rows {
        let ak = key(pick(row, &["authorization", "index"]));
        let auth = ak.as_ref().and_then(|k| by_key.get(k)).copied();
        let src = auth.unwrap_or(row);
        let ticket = txt(src, &["ticket"]);
        let approver = claimed(src, &["approver.subject", "approver"]);
        let label = match &ak {
            Some(k) => format!("<a href=\"#auth-{}\">{ticket}</a>", ident(k)),
            None => ticket,
        };
        let all_ok = MATRIX_COLS
            .iter()
            .all(|(f, _, _)| truth(pick(row, f)) == Some(true));
        put!(
            o,
            "<tr{}><th scope=\"row\">{label}<br><small>{approver} · authorization {}</small></th>",
            if all_ok { "" } else { " class=\"flagged\"" },
            esc(&plain(pick(row, &["authorization", "index"])))
        );
        for (f, _, _) in MATRIX_COLS {
            put!(o, "<td class=\"c\">{}</td>", mark(pick(row, f)));
        }
        if notes {
            put!(o, "<td>{}</td>", txt(row, &["notes", "reasons", "why"]));
        }
        o.push_str("</tr>");
    }
    if rows.is_empty() {
        put!(
            o,
            "<tr><td colspan=\"{}\">No changes.</td></tr>",
            6 + usize::from(notes)
        );
    }
    o.push_str("</tbody><tfoot><tr><th scope=\"row\">Total</th>");
    let totals = pick(m, &["totals"]);
    let total_rows = totals
        .and_then(|t| count(pick(t, &["rows", "total", "authorizations"])))
        .unwrap_or(rows.len() as u64);
    for (f, _, _) in MATRIX_COLS {
        let computed = rows
            .iter()
            .filter(|r| truth(pick(r, f)) == Some(true))
            .count() as u64;
        let cell = match totals.and_then(|t| pick(t, f)) {
            Some(v @ Value::Number(_)) => {
                format!("{} of {total_rows}", esc(&plain(Some(v))))
            }
            Some(v) if truth(Some(v)).is_none() => esc(&plain(Some(v))),
            _ => format!("{computed} of {total_rows}"),
        };
        put!(o, "<td class=\"c\">{cell}</td>");
    }
    if notes {
        o.push_str("<td></td>");
    }
    let complete = totals
        .and_then(|t| count(pick(t, &["complete"])))
        .unwrap_or_else(|| {
            rows.iter()
                .filter(|r| {
                    MATRIX_COLS
                        .iter()
                        .all(|(f, _, _)| truth(pick(r, f)) == Some(true))
                })
                .count() as u64
        });
    put!(
        o,
        "</tr></tfoot></table><p><b>{complete} of {total_rows}</b> {} all five kinds of \
         evidence.</p><h3>What each column means</h3><dl class=\"explain\">",
        if total_rows == 1 {
            "change has"
        } else {
            "changes have"
        }
    );
    for (_, head, why) in MATRIX_COLS {
        put!(o, "<dt>{head}</dt><dd>{why}</dd>");
    }
    o.push_str("</dl></section>");
    o
}

fn red_flags(cx: &mut Ctx) -> String {
    let mut o = String::from(
        "<section id=\"red-flags\"><h2>Red flags</h2>\
         <p>Things in the log that an auditor should look at: each names the record it is about \
         (follow the link to see it in its change) and what was found.</p>",
    );
    let thresholds = thresholds(cx.report);
    if cx.flags.is_empty() {
        put!(
            o,
            "<p class=\"ok\">✓ No red flags.</p>{thresholds}</section>"
        );
        return o;
    }
    let mut by_kind: std::collections::BTreeMap<String, u64> = Default::default();
    for f in &cx.flags {
        *by_kind.entry(plain(f.get("kind"))).or_default() += 1;
    }
    if by_kind.len() > 1 {
        o.push_str("<p>By kind:</p><ul>");
        for (k, n) in &by_kind {
            put!(
                o,
                "<li><b>{n}</b> × {} (<code>{}</code>)</li>",
                esc(&kind_words(k)),
                esc(k)
            );
        }
        o.push_str("</ul>");
    }
    let titles: HashMap<String, String> = cx
        .auths
        .iter()
        .filter_map(|a| Some((key(a.get("index"))?, auth_title(a))))
        .collect();
    o.push_str(
        "<table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">What was found</th>\
         <th scope=\"col\">Record</th><th scope=\"col\">Change</th>\
         <th scope=\"col\">Detail</th></tr></thead><tbody>",
    );
    for (i, f) in cx.flags.clone().into_iter().enumerate() {
        let kind = plain(f.get("kind"));
        let chain = match cx.flag_chain.get(&i) {
            Some(k) => format!(
                "<a href=\"#auth-{}\">{}</a>",
                ident(k),
                esc(titles.get(k).map_or(k.as_str(), String::as_str))
            ),
            None => DASH.into(),
        };
        let leaf = match pick(f, &["leaf_hash"]) {
            Some(h) => format!(
                "<br><small class=\"mono nw\" title=\"leaf hash\">{}</small>",
                esc(&clip(&plain(Some(h)), 16))
            ),
            None => String::new(),
        };
        put!(
            o,
            "<tr class=\"flagged\"><td>{}</td><td><span class=\"bad\">⚠ {}</span><br>\
             <small>contract name: <code>{}</code></small></td><td>{}{leaf}</td><td>{chain}</td>\
             <td>{}</td></tr>",
            i + 1,
            esc(&kind_words(&kind)),
            esc(&kind),
            cx.rec_link(pick(f, &["record", "index"])),
            txt(f, &["detail", "details", "message"]),
        );
    }
    put!(o, "</tbody></table>{thresholds}</section>");
    o
}

/// The thresholds the analysis judged by, if the report has them.
fn thresholds(report: &Value) -> String {
    let Some(Value::Object(t)) = pick(report, &["thresholds"]) else {
        return String::new();
    };
    if t.is_empty() {
        return String::new();
    }
    let mut o = String::from(
        "<details><summary>The thresholds these judgements used</summary><dl class=\"kv\">",
    );
    for (k, v) in t {
        let mut name = k.replace('_', " ");
        if let Some(first) = name.get(..1) {
            let up = first.to_ascii_uppercase();
            name.replace_range(..1, &up);
        }
        put!(
            o,
            "<dt>{}</dt><dd>{}</dd>",
            esc(&name),
            esc(&plain(Some(v)))
        );
    }
    o.push_str("</dl></details>");
    o
}

/// One box of the chain picture.
struct Node {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    /// (text, CSS class) per line; the first is the kind label.
    lines: Vec<(String, &'static str)>,
    class: &'static str,
    flags: Vec<String>,
    href: Option<String>,
}

const LINE: i64 = 15;

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
    fn admission(self, v: &Value) -> Self {
        if truth(pick(v, &["valid"])) == Some(false) {
            self.line("✗ fails the log's admission checks".into(), "badt")
        } else {
            self
        }
    }

    fn height(&self) -> i64 {
        12 + LINE * (self.lines.len() + self.flag_lines().len()) as i64
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

    fn svg(&self, o: &mut String) {
        let flagged = !self.flags.is_empty();
        let tip: Vec<&str> = self.lines.iter().map(|(t, _)| t.as_str()).collect();
        let mut tip = tip.join(" · ");
        if flagged {
            put!(tip, " · RED FLAG: {}", self.flags.join("; "));
        }
        put!(
            o,
            "<g class=\"n {}{}\">",
            self.class,
            if flagged { " flag" } else { "" }
        );
        if let Some(h) = &self.href {
            put!(o, "<a href=\"{h}\">");
        }
        put!(
            o,
            "<title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\"/>",
            esc(&tip),
            self.x,
            self.y,
            self.w,
            self.h
        );
        let max = ((self.w - 16) * 10 / 66).max(4) as usize;
        let mut ty = self.y + 8 + 12;
        for (text, class) in self.lines.iter().chain(&self.flag_lines()) {
            put!(
                o,
                "<text x=\"{}\" y=\"{ty}\"{}>{}</text>",
                self.x + 8,
                if class.is_empty() {
                    String::new()
                } else {
                    format!(" class=\"{class}\"")
                },
                esc(&clip(text, max))
            );
            ty += LINE;
        }
        if self.href.is_some() {
            o.push_str("</a>");
        }
        o.push_str("</g>");
    }
}

/// An arrow through the given points.
fn edge(o: &mut String, marker: &str, pts: &[(i64, i64)]) {
    let mut d = String::new();
    for (i, (x, y)) in pts.iter().enumerate() {
        put!(d, "{}{x},{y}", if i == 0 { "M" } else { " L" });
    }
    put!(
        o,
        "<path class=\"edge\" d=\"{d}\" marker-end=\"url(#{marker})\"/>"
    );
}

/// The inline SVG picture of one authorization's causal chain.
fn chain_svg(cx: &mut Ctx, auth: &Value, creds: &[(&Value, usize)], actions: &[&Value]) -> String {
    cx.svg_seq += 1;
    let seq = cx.svg_seq;
    let marker = format!("arrow-{seq}");
    const L: i64 = 12;
    const SPINE_W: i64 = 420;
    const INDENT: i64 = 46;
    const TRUNK: i64 = L + 22;
    const CRED_W: i64 = 340;
    const SIDE_W: i64 = 190;
    const GAP: i64 = 34;
    const VGAP: i64 = 26;

    let flag_words = |cx: &Ctx, idx: Option<&Value>| -> Vec<String> {
        cx.flags_of(idx)
            .iter()
            .map(|f| kind_words(&plain(f.get("kind"))))
            .collect()
    };
    let mut nodes: Vec<Node> = Vec::new();
    let mut edges = String::new();
    let mut y = 12;

    // The human.
    let mut human = Node::new("human", L, y, SPINE_W)
        .line(format!("HUMAN APPROVAL #{}", plain(auth.get("index"))), "k")
        .line(
            format!(
                "{} approved {}",
                claimed_plain(auth, &["approver.subject"]),
                plain(pick(auth, &["ticket"]))
            ),
            "",
        )
        .line(
            format!(
                "Signed in with {} · MFA {} · assurance {}",
                plain(pick(auth, &["authn.method"])),
                plain(pick(auth, &["authn.mfa"])),
                plain(pick(auth, &["authn.assurance"]))
            ),
            "",
        )
        .admission(auth);
    human.flags = flag_words(cx, auth.get("index"));
    human.href = key(auth.get("index")).map(|k| format!("#record-{}", ident(&k)));
    cx.rec_link(auth.get("index"));
    human.h = human.height();
    let mut prev_bottom = human.bottom();
    y = prev_bottom + VGAP;
    nodes.push(human);

    // Pre-flights.
    let preflights = arr(auth, &["preflights"]);
    for pf in preflights {
        let verdict = plain(pick(pf, &["verdict"]));
        let (vtext, vclass) = match truth(pick(pf, &["verdict"])) {
            _ if verdict.eq_ignore_ascii_case("pass") => ("✓ PASS".to_owned(), "okt"),
            _ if verdict.eq_ignore_ascii_case("block") => ("✗ BLOCK".to_owned(), "badt"),
            Some(true) => (format!("✓ {}", verdict.to_uppercase()), "okt"),
            Some(false) => (format!("✗ {}", verdict.to_uppercase()), "badt"),
            None => (verdict.clone(), ""),
        };
        let mut n = Node::new("preflight", L, y, SPINE_W)
            .line(
                format!(
                    "PRE-FLIGHT CHECK #{} · {}",
                    plain(pf.get("index")),
                    plain(pick(pf, &["stage"]))
                ),
                "k",
            )
            .line(format!("Verdict: {vtext}"), vclass)
            .line(
                format!(
                    "{} · by {}",
                    when(&plain(pick(pf, &["time"]))),
                    plain(pick(pf, &["signer", "verifier"]))
                ),
                "",
            )
            .admission(pf);
        n.flags = flag_words(cx, pf.get("index"));
        n.href = key(pf.get("index")).map(|k| format!("#record-{}", ident(&k)));
        cx.rec_link(pf.get("index"));
        n.h = n.height();
        edge(&mut edges, &marker, &[(TRUNK, prev_bottom), (TRUNK, y)]);
        prev_bottom = n.bottom();
        y = prev_bottom + VGAP;
        nodes.push(n);
    }
    if preflights.is_empty() {
        let mut n = Node::new("preflight missing", L, y, SPINE_W)
            .line("PRE-FLIGHT CHECK".into(), "k")
            .line("None recorded for this change".into(), "warn");
        n.h = n.height();
        edge(&mut edges, &marker, &[(TRUNK, prev_bottom), (TRUNK, y)]);
        prev_bottom = n.bottom();
        y = prev_bottom + VGAP;
        nodes.push(n);
    }
    let trunk_top = prev_bottom;

    // Credentials, layered by delegation depth, each with its actions and closure.
    let max_depth = creds.iter().map(|(_, d)| *d).max().unwrap_or(0) as i64;
    let acts_x = L + INDENT * (max_depth + 1) + CRED_W + GAP;
    let closure_x = acts_x + SIDE_W + GAP;
    let mut pos: HashMap<String, (i64, i64)> = HashMap::new();
    let mut by_cred: HashMap<String, Vec<&Value>> = HashMap::new();
    for a in actions {
        if let Some(k) = key(pick(a, &["credential"])) {
            by_cred.entry(k).or_default().push(a);
        }
    }
    for (c, depth) in creds {
        let x = L + INDENT * (*depth as i64 + 1);
        let ck = key(c.get("index"));
        let mut cn = Node::new("cred", x, y, CRED_W)
            .line(
                format!(
                    "AGENT CREDENTIAL #{} · depth {}",
                    plain(c.get("index")),
                    plain(pick(c, &["depth"]))
                ),
                "k",
            )
            .line(
                format!(
                    "{} ({} {})",
                    plain(pick(c, &["agent.id"])),
                    plain(pick(c, &["agent.model"])),
                    plain(pick(c, &["agent.version"]))
                ),
                "",
            )
            .line(validity(c), "")
            .admission(c);
        cn.flags = flag_words(cx, c.get("index"));
        cn.href = ck.as_ref().map(|k| format!("#record-{}", ident(k)));
        cx.rec_link(c.get("index"));

        // Its actions.
        let mine: &[&Value] = ck
            .as_ref()
            .and_then(|k| by_cred.get(k))
            .map_or(&[], Vec::as_slice);
        let n_actions = count(pick(c, &["actions"])).unwrap_or(mine.len() as u64);
        let out_scope = mine
            .iter()
            .filter(|a| truth(pick(a, &["in_scope"])) == Some(false))
            .count() as u64;
        let out_life = mine
            .iter()
            .filter(|a| truth(pick(a, &["within_lifetime"])) == Some(false))
            .count() as u64;
        let flagged_acts = mine
            .iter()
            .filter(|a| !cx.flags_of(a.get("index")).is_empty())
            .count() as u64;
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
            an.href = key(first.get("index")).map(|k| format!("#record-{}", ident(&k)));
            cx.rec_link(first.get("index"));
        }

        // Its closure.
        let closure = pick(c, &["closure"]);
        let mut zn = match closure {
            Some(z) => {
                let mut zn = Node::new("closure", closure_x, y, SIDE_W)
                    .line(format!("SESSION CLOSED #{}", plain(Some(z))), "k");
                let zk = key(Some(z));
                if let Some(rec) = arr(auth, &["closures"])
                    .iter()
                    .find(|r| zk.is_some() && key(r.get("index")) == zk)
                {
                    zn = zn.line(format!("reason: {}", plain(pick(rec, &["reason"]))), "");
                    if let Some(claimed) = count(pick(rec, &["actions"])) {
                        zn = if claimed == n_actions {
                            zn.line(format!("✓ reports {claimed} actions"), "okt")
                        } else {
                            zn.line(format!("✗ reports {claimed}, log has {n_actions}"), "badt")
                        };
                    }
                    zn = zn.admission(rec);
                }
                zn
            }
            None => Node::new("closure missing", closure_x, y, SIDE_W)
                .line("SESSION CLOSURE".into(), "k")
                .line("no closure record".into(), "warn"),
        };
        if closure.is_some() {
            zn.flags = flag_words(cx, closure);
            zn.href = key(closure).map(|k| format!("#record-{}", ident(&k)));
            cx.rec_link(closure);
        }

        let h = cn.height().max(an.height()).max(zn.height());
        cn.h = h;
        an.h = h;
        zn.h = h;
        let mid = y + h / 2;
        match key(pick(c, &["parent"])).and_then(|p| pos.get(&p).copied()) {
            Some((px, pbottom)) => edge(
                &mut edges,
                &marker,
                &[(px + 22, pbottom), (px + 22, mid), (x, mid)],
            ),
            None => edge(
                &mut edges,
                &marker,
                &[(TRUNK, trunk_top), (TRUNK, mid), (x, mid)],
            ),
        }
        edge(&mut edges, &marker, &[(x + CRED_W, mid), (acts_x, mid)]);
        edge(
            &mut edges,
            &marker,
            &[(acts_x + SIDE_W, mid), (closure_x, mid)],
        );
        if let Some(k) = ck {
            pos.insert(k, (x, y + h));
        }
        y += h + VGAP;
        nodes.push(cn);
        nodes.push(an);
        nodes.push(zn);
    }
    if creds.is_empty() {
        let mut n = Node::new("cred missing", L + INDENT, y, CRED_W)
            .line("AGENT CREDENTIAL".into(), "k")
            .line("none issued under this approval".into(), "");
        n.h = n.height();
        edge(
            &mut edges,
            &marker,
            &[
                (TRUNK, trunk_top),
                (TRUNK, y + n.h / 2),
                (L + INDENT, y + n.h / 2),
            ],
        );
        y = n.bottom() + VGAP;
        nodes.push(n);
    }

    // Exceptions and reviews hang off the trunk.
    let mut from = trunk_top;
    for ex in arr(auth, &["exceptions"]) {
        let mut n = Node::new("exception", L, y, SPINE_W)
            .line(format!("EXCEPTION #{}", plain(ex.get("index"))), "k")
            .line(plain(pick(ex, &["reason"])), "")
            .line(
                format!(
                    "{}{}{}",
                    pick(ex, &["credential"]).map_or_else(String::new, |c| format!(
                        "on credential #{} · ",
                        plain(Some(c))
                    )),
                    pick(ex, &["action"]).map_or_else(String::new, |a| format!(
                        "for action #{} · ",
                        plain(Some(a))
                    )),
                    if truth(pick(ex, &["revoked"])) == Some(true) {
                        "credential revoked"
                    } else {
                        "credential not revoked"
                    }
                ),
                "",
            )
            .admission(ex);
        n.flags = flag_words(cx, ex.get("index"));
        n.href = key(ex.get("index")).map(|k| format!("#record-{}", ident(&k)));
        cx.rec_link(ex.get("index"));
        n.h = n.height();
        edge(&mut edges, &marker, &[(TRUNK, from), (TRUNK, y)]);
        from = n.bottom();
        y = from + VGAP;
        nodes.push(n);
    }
    let reviews = arr(auth, &["reviews"]);
    for rv in reviews {
        let took = between(rv, &["started_at"], &["finished_at"])
            .map_or_else(String::new, |d| format!(" · took {d}"));
        let mut n = Node::new("review", L, y, SPINE_W)
            .line(format!("HUMAN REVIEW #{}", plain(rv.get("index"))), "k")
            .line(
                format!(
                    "{} reviewed: {}",
                    claimed_plain(rv, &["reviewer.subject", "reviewer"]),
                    plain(pick(rv, &["verdict"]))
                ),
                "",
            )
            .line(
                format!(
                    "{}{took}",
                    plural(count(pick(rv, &["items"])).unwrap_or(0), "item", "items")
                ),
                "",
            )
            .admission(rv);
        n.flags = flag_words(cx, rv.get("index"));
        n.href = key(rv.get("index")).map(|k| format!("#record-{}", ident(&k)));
        cx.rec_link(rv.get("index"));
        n.h = n.height();
        edge(&mut edges, &marker, &[(TRUNK, from), (TRUNK, y)]);
        from = n.bottom();
        y = from + VGAP;
        nodes.push(n);
    }
    if reviews.is_empty() {
        let mut n = Node::new("review missing", L, y, SPINE_W)
            .line("HUMAN REVIEW".into(), "k")
            .line("No review recorded for this change".into(), "warn");
        n.h = n.height();
        edge(&mut edges, &marker, &[(TRUNK, from), (TRUNK, y)]);
        y = n.bottom() + VGAP;
        nodes.push(n);
    }

    let width = nodes.iter().map(|n| n.x + n.w).max().unwrap_or(SPINE_W) + 12;
    let height = y - VGAP + 12;
    let mut o = String::new();
    put!(
        o,
        "<svg class=\"chain\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\" role=\"img\" aria-labelledby=\"chain-title-{seq}\">\
         <title id=\"chain-title-{seq}\">Causal chain of {}: the approving human, pre-flight \
         check, agent credentials by delegation depth with their actions and closures, and the \
         review</title><defs><marker id=\"{marker}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" \
         fill=\"#57606a\"/></marker></defs>{edges}",
        esc(&auth_title(auth))
    );
    for n in &nodes {
        n.svg(&mut o);
    }
    o.push_str("</svg>");
    o
}

/// The chain's credentials in tree order (parents before children), each
/// with its depth in the tree.
fn credential_tree(auth: &Value) -> Vec<(&Value, usize)> {
    let creds = arr(auth, &["credentials"]);
    let keys: HashSet<String> = creds.iter().filter_map(|c| key(c.get("index"))).collect();
    let mut children: HashMap<String, Vec<&Value>> = HashMap::new();
    let mut roots = Vec::new();
    for c in creds {
        match key(pick(c, &["parent"])) {
            Some(p) if keys.contains(&p) && key(c.get("index")) != Some(p.clone()) => {
                children.entry(p).or_default().push(c)
            }
            _ => roots.push(c),
        }
    }
    let mut out: Vec<(&Value, usize)> = Vec::new();
    let mut seen: HashSet<*const Value> = HashSet::new();
    fn walk<'a>(
        c: &'a Value,
        depth: usize,
        children: &HashMap<String, Vec<&'a Value>>,
        seen: &mut HashSet<*const Value>,
        out: &mut Vec<(&'a Value, usize)>,
    ) {
        if !seen.insert(c as *const Value) {
            return;
        }
        out.push((c, depth.min(12)));
        if let Some(kids) = key(c.get("index")).and_then(|k| children.get(&k)) {
            for k in kids {
                walk(k, depth + 1, children, seen, out);
            }
        }
    }
    for r in roots {
        walk(r, 0, &children, &mut seen, &mut out);
    }
    // Anything left (a cycle) is shown as a root.
    for c in creds {
        walk(c, 0, &children, &mut seen, &mut out);
    }
    out
}

/// A credential's scope, compact: targets and actions.
fn scope_text(c: &Value) -> String {
    let mut parts = Vec::new();
    for (label, path) in [("targets", "scope.targets"), ("actions", "scope.actions")] {
        if pick(c, &[path]).is_some() {
            parts.push(format!(
                "<small>{label}:</small> <code>{}</code>",
                esc(&plain(pick(c, &[path])))
            ));
        }
    }
    if parts.is_empty() {
        DASH.into()
    } else {
        parts.join("<br>")
    }
}

/// A pre-flight's checks: "name: result (detail; CVE-…)" per line.
fn checks(pf: &Value) -> String {
    let list = arr(pf, &["checks"]);
    if list.is_empty() {
        return DASH.into();
    }
    list.iter()
        .map(|c| {
            let result = plain(pick(c, &["result"]));
            let mark = match truth(pick(c, &["result"])) {
                Some(true) => "<span class=\"ok\">✓</span> ",
                Some(false) => "<span class=\"bad\">✗</span> ",
                None => "",
            };
            let mut s = format!(
                "{mark}<b>{}</b>: {}",
                esc(&plain(pick(c, &["name"]))),
                esc(&result)
            );
            let detail = plain(pick(c, &["detail"]));
            if detail != DASH {
                put!(s, " — {}", esc(&clip(&detail, 160)));
            }
            let cves = arr(c, &["cves"]);
            if !cves.is_empty() {
                put!(s, " ({})", esc(&plain(pick(c, &["cves"]))));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// One table row per action.
fn action_rows(cx: &mut Ctx, actions: &[&Value], with_human: bool) -> String {
    let mut o = String::from(
        "<table><thead><tr><th scope=\"col\">Record</th><th scope=\"col\">Time</th>\
         <th scope=\"col\">Tool</th><th scope=\"col\">Target</th>\
         <th scope=\"col\">What it did</th><th scope=\"col\">Credential (delegation path)</th>",
    );
    if with_human {
        o.push_str("<th scope=\"col\">Approved by</th>");
    }
    o.push_str(
        "<th scope=\"col\" class=\"c\">In scope</th><th scope=\"col\" class=\"c\">Within \
         lifetime</th><th scope=\"col\">Problems</th></tr></thead><tbody>",
    );
    for a in actions {
        let idx = a.get("index");
        let flag = cx.problems(a);
        let id = cx.rec_id(idx);
        let path = arr(a, &["delegation_path"]);
        let cred = if path.is_empty() {
            cx.rec_link(pick(a, &["credential"]))
        } else {
            path.iter()
                .map(|p| cx.rec_link(Some(p)))
                .collect::<Vec<_>>()
                .join(" → ")
        };
        put!(
            o,
            "<tr{}><th scope=\"row\"{id}><span title=\"leaf hash {}\">#{}</span></th><td>{}</td>\
             <td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{cred}</td>",
            if flag.is_empty() {
                ""
            } else {
                " class=\"flagged\""
            },
            txt(a, &["leaf_hash"]),
            esc(&plain(idx)),
            when_of(a, &["time"]),
            txt_short(a, &["tool"], 80),
            txt_short(a, &["target"], 120),
            txt_short(a, &["summary"], 160),
        );
        if with_human {
            // The claimed approver, with the signer of the authorization.
            let auth = key(pick(a, &["authorization"])).and_then(|k| {
                cx.auths
                    .iter()
                    .find(|au| key(au.get("index")) == Some(k.clone()))
            });
            let who = match (pick(a, &["authorized_by.subject"]), auth) {
                (Some(_), Some(auth)) => claimed(auth, &["approver.subject"]),
                (Some(v), None) => esc(&plain(Some(v))),
                (None, _) => "<span class=\"bad\">✗ nobody</span>".into(),
            };
            put!(o, "<td>{who}</td>");
        }
        put!(
            o,
            "<td class=\"c\">{}</td><td class=\"c\">{}</td><td>{flag}</td></tr>",
            mark(pick(a, &["in_scope"])),
            mark(pick(a, &["within_lifetime"])),
        );
    }
    o.push_str("</tbody></table>");
    o
}

fn chain_section(cx: &mut Ctx, auth: &Value) -> String {
    let idx = auth.get("index");
    let sid = key(idx)
        .map(|k| cx.id_attr(format!("auth-{}", ident(&k))))
        .unwrap_or_default();
    let rid = cx.rec_id(idx);
    let mut o = String::new();
    put!(
        o,
        "<section class=\"chain\"{sid}><h2><span{rid}>{}</span> \
         <small>approved by {} · authorization record #{}</small></h2>",
        esc(&auth_title(auth)),
        claimed(auth, &["approver.subject"]),
        esc(&plain(idx)),
    );

    // This chain's red flags.
    let chain_flags: Vec<usize> = arr(auth, &["red_flags"])
        .iter()
        .filter_map(|f| count(Some(f)).map(|i| i as usize))
        .filter(|i| *i < cx.flags.len())
        .collect();
    if !chain_flags.is_empty() {
        put!(
            o,
            "<div class=\"flagnote\"><p><b class=\"bad\">⚠ {} in this change:</b></p><ul>",
            plural(chain_flags.len() as u64, "red flag", "red flags")
        );
        for i in chain_flags {
            let f = cx.flags[i];
            let link = cx.rec_link(pick(f, &["record", "index"]));
            put!(
                o,
                "<li>{} (<code>{}</code>), record {link}: {}</li>",
                esc(&kind_words(&plain(f.get("kind")))),
                txt(f, &["kind"]),
                txt(f, &["detail", "details", "message"])
            );
        }
        o.push_str("</ul></div>");
    } else {
        o.push_str("<p class=\"ok\">✓ No red flags in this change.</p>");
    }

    // Who, how, what.
    let mfa = match truth(pick(auth, &["authn.mfa"])) {
        Some(true) => "<span class=\"ok\">✓ yes</span>".to_owned(),
        Some(false) => "<span class=\"bad\">✗ no</span>".to_owned(),
        None => txt(auth, &["authn.mfa"]),
    };
    let list = |v: &Value, p: &str| -> String {
        let items = arr(v, &[p]);
        if items.is_empty() {
            return txt(v, &[p]);
        }
        let mut s = String::from("<ul>");
        for i in items {
            put!(s, "<li><code>{}</code></li>", esc(&plain(Some(i))));
        }
        s.push_str("</ul>");
        s
    };
    put!(
        o,
        "<div class=\"cols\"><div><h3>Who approved, and how they signed in</h3><dl class=\"kv\">\
         <dt>Approver</dt><dd><b>{}</b></dd><dt>Identity provider</dt><dd>{}</dd>\
         <dt>Sign-in method</dt><dd>{}</dd><dt>Multi-factor</dt><dd>{mfa}</dd>\
         <dt>Assurance level</dt><dd>{}</dd><dt>Signed in at</dt><dd>{}</dd>\
         <dt>Approved at</dt><dd>{}</dd><dt>Change ticket</dt><dd>{}</dd></dl></div>\
         <div><h3>The plan</h3><dl class=\"kv\"><dt>Objective</dt><dd>{}</dd>\
         <dt>Method</dt><dd>{}</dd><dt>Test approach</dt><dd>{}</dd><dt>Backout</dt><dd>{}</dd>\
         </dl></div><div><h3>Scope</h3><dl class=\"kv\"><dt>Change class</dt><dd>{}</dd>\
         <dt>Targets</dt><dd>{}</dd><dt>Allowed actions</dt><dd>{}</dd></dl></div></div>",
        claimed(auth, &["approver.subject"]),
        txt(auth, &["approver.issuer"]),
        txt(auth, &["authn.method"]),
        txt(auth, &["authn.assurance"]),
        when_of(auth, &["authn.authenticated_at"]),
        when_of(auth, &["time"]),
        txt(auth, &["ticket"]),
        txt(auth, &["plan.objective"]),
        txt(auth, &["plan.method"]),
        txt(auth, &["plan.test_approach"]),
        txt(auth, &["plan.backout"]),
        txt(auth, &["scope.change_class"]),
        list(auth, "scope.targets"),
        list(auth, "scope.actions"),
    );

    // This chain's actions: those it lists, those naming it, and (if they
    // name no authorization) those acting under one of its credentials.
    let creds = credential_tree(auth);
    let ak = key(idx);
    let cred_keys: HashSet<String> = creds
        .iter()
        .filter_map(|(c, _)| key(c.get("index")))
        .collect();
    let mut positions: BTreeSet<usize> = arr(auth, &["actions"])
        .iter()
        .filter_map(|a| key(Some(a)).or_else(|| key(a.get("index"))))
        .filter_map(|k| cx.action_at.get(&k).copied())
        .collect();
    if let Some(v) = ak.as_ref().and_then(|k| cx.actions_of_auth.get(k)) {
        positions.extend(v);
    }
    for c in &cred_keys {
        if let Some(v) = cx.orphans_of_cred.get(c) {
            positions.extend(v);
        }
    }
    let actions: Vec<&Value> = positions.into_iter().map(|p| cx.actions[p]).collect();
    for a in &actions {
        if let Some(k) = key(a.get("index")) {
            cx.shown_actions.insert(k);
        }
    }

    put!(
        o,
        "<h3>The causal chain</h3><figure>{}<figcaption>Read top to bottom: the person who \
         approved, the automated pre-flight check, then each agent credential (a credential \
         delegated by another sits indented under it, joined by an arrow) with the number of \
         actions taken under it and whether its session was closed, and finally the human \
         review. Boxes with a red dashed outline and a “⚠ RED FLAG” label are red flags; dashed \
         grey boxes mark evidence that is missing. Click a box to jump to its record.\
         </figcaption></figure>",
        chain_svg(cx, auth, &creds, &actions)
    );

    // Pre-flights.
    let preflights = arr(auth, &["preflights"]);
    if !preflights.is_empty() {
        o.push_str(
            "<h3>Pre-flight checks</h3><table><thead><tr><th scope=\"col\">Record</th>\
             <th scope=\"col\">Stage</th><th scope=\"col\">Verdict</th><th scope=\"col\">Time</th>\
             <th scope=\"col\">Checked by</th><th scope=\"col\">Checks</th>\
             <th scope=\"col\">Problems</th></tr></thead><tbody>",
        );
        for pf in preflights {
            let i = pf.get("index");
            let id = cx.rec_id(i);
            let flag = cx.problems(pf);
            let verdict = plain(pick(pf, &["verdict"]));
            let v = if verdict.eq_ignore_ascii_case("pass") {
                "<span class=\"ok\">✓ pass</span>".to_owned()
            } else if verdict.eq_ignore_ascii_case("block") {
                "<span class=\"bad\">✗ block</span>".to_owned()
            } else {
                esc(&verdict)
            };
            put!(
                o,
                "<tr{}><th scope=\"row\"{id}>#{}</th><td>{}</td><td>{v}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{flag}</td></tr>",
                if flag.is_empty() {
                    ""
                } else {
                    " class=\"flagged\""
                },
                esc(&plain(i)),
                txt(pf, &["stage"]),
                when_of(pf, &["time"]),
                txt(pf, &["signer", "verifier"]),
                checks(pf),
            );
        }
        o.push_str("</tbody></table>");
    }

    // Credentials.
    o.push_str("<h3>Agent credentials</h3>");
    if creds.is_empty() {
        o.push_str("<p>No credential was issued under this approval.</p>");
    } else {
        o.push_str(
            "<table><thead><tr><th scope=\"col\">Record</th><th scope=\"col\">Depth</th>\
             <th scope=\"col\">Agent</th><th scope=\"col\">Delegated by</th>\
             <th scope=\"col\">Scope</th>\
             <th scope=\"col\">Serial</th><th scope=\"col\">Valid</th>\
             <th scope=\"col\">Actions</th>\
             <th scope=\"col\">Closed by</th><th scope=\"col\">Session key</th>\
             <th scope=\"col\">Problems</th></tr></thead><tbody>",
        );
        for (c, _) in &creds {
            let i = c.get("index");
            let id = cx.rec_id(i);
            let flag = cx.problems(c);
            let closed = match pick(c, &["closure"]) {
                Some(z) => format!("closure {}", cx.rec_link(Some(z))),
                None => "<span class=\"warn\">not closed</span>".into(),
            };
            let parent = match pick(c, &["parent"]) {
                Some(p) => format!("credential {}", cx.rec_link(Some(p))),
                None => "the issuer".into(),
            };
            put!(
                o,
                "<tr{}><th scope=\"row\"{id}>#{}</th><td class=\"c\">{}</td>\
                 <td><b>{}</b><br><small>{} {}</small></td><td>{parent}</td><td>{}</td>\
                 <td><code>{}</code></td>\
                 <td>{}</td><td class=\"c\">{}</td><td>{closed}</td>\
                 <td><code class=\"nw\">{}</code></td><td>{flag}</td></tr>",
                if flag.is_empty() {
                    ""
                } else {
                    " class=\"flagged\""
                },
                esc(&plain(i)),
                txt(c, &["depth"]),
                txt(c, &["agent.id"]),
                txt(c, &["agent.model"]),
                txt(c, &["agent.version"]),
                scope_text(c),
                txt_short(c, &["serial"], 40),
                esc(&validity(c)),
                txt(c, &["actions"]),
                txt_short(c, &["session_key_id", "session_key"], 16),
            );
        }
        o.push_str("</tbody></table>");
    }

    // Closures.
    let closures = arr(auth, &["closures"]);
    if !closures.is_empty() {
        o.push_str(
            "<h3>Session closures</h3><table><thead><tr><th scope=\"col\">Record</th>\
             <th scope=\"col\">Credential</th><th scope=\"col\">Reason</th>\
             <th scope=\"col\">Started</th><th scope=\"col\">Ended</th>\
             <th scope=\"col\">Actions reported</th><th scope=\"col\">Summary</th>\
             <th scope=\"col\">Problems</th></tr></thead><tbody>",
        );
        for z in closures {
            let i = z.get("index");
            let id = cx.rec_id(i);
            let flag = cx.problems(z);
            let cred = cx.rec_link(pick(z, &["credential"]));
            put!(
                o,
                "<tr{}><th scope=\"row\"{id}>#{}</th><td>{cred}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td class=\"c\">{}</td><td>{}</td><td>{flag}</td></tr>",
                if flag.is_empty() {
                    ""
                } else {
                    " class=\"flagged\""
                },
                esc(&plain(i)),
                txt(z, &["reason"]),
                when_of(z, &["started_at"]),
                when_of(z, &["ended_at"]),
                txt(z, &["actions"]),
                txt_short(z, &["summary"], 200),
            );
        }
        o.push_str("</tbody></table>");
    }

    // Exceptions and reviews.
    let exceptions = arr(auth, &["exceptions"]);
    if !exceptions.is_empty() {
        o.push_str(
            "<h3>Exceptions</h3><table><thead><tr><th scope=\"col\">Record</th>\
             <th scope=\"col\">On</th><th scope=\"col\">Reason</th><th scope=\"col\">Time</th>\
             <th scope=\"col\" class=\"c\">Credential revoked</th>\
             <th scope=\"col\">Problems</th></tr></thead><tbody>",
        );
        for ex in exceptions {
            let i = ex.get("index");
            let id = cx.rec_id(i);
            let flag = cx.problems(ex);
            let mut on = Vec::new();
            if let Some(c) = pick(ex, &["credential"]) {
                on.push(format!("credential {}", cx.rec_link(Some(c))));
            }
            if let Some(a) = pick(ex, &["action"]) {
                on.push(format!("action {}", cx.rec_link(Some(a))));
            }
            let on = if on.is_empty() {
                DASH.to_owned()
            } else {
                on.join(", ")
            };
            put!(
                o,
                "<tr><th scope=\"row\"{id}>#{}</th><td>{on}</td><td>{}</td>\
                 <td>{}</td><td class=\"c\">{}</td><td>{flag}</td></tr>",
                esc(&plain(i)),
                txt(ex, &["reason"]),
                when_of(ex, &["time"]),
                txt(ex, &["revoked"]),
            );
        }
        o.push_str("</tbody></table>");
    }
    let reviews = arr(auth, &["reviews"]);
    o.push_str("<h3>Human review</h3>");
    if reviews.is_empty() {
        o.push_str("<p class=\"warn\">No review was recorded for this change.</p>");
    } else {
        o.push_str(
            "<table><thead><tr><th scope=\"col\">Record</th><th scope=\"col\">Reviewer</th>\
             <th scope=\"col\">Verdict</th><th scope=\"col\">Started</th>\
             <th scope=\"col\">Finished</th><th scope=\"col\">Took</th>\
             <th scope=\"col\">Items</th><th scope=\"col\">Problems</th></tr></thead><tbody>",
        );
        for rv in reviews {
            let i = rv.get("index");
            let id = cx.rec_id(i);
            let flag = cx.problems(rv);
            put!(
                o,
                "<tr{}><th scope=\"row\"{id}>#{}</th><td><b>{}</b><br><small>{}</small></td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{flag}</td></tr>",
                if flag.is_empty() {
                    ""
                } else {
                    " class=\"flagged\""
                },
                esc(&plain(i)),
                claimed(rv, &["reviewer.subject", "reviewer"]),
                txt(rv, &["reviewer.issuer"]),
                txt(rv, &["verdict"]),
                when_of(rv, &["started_at"]),
                when_of(rv, &["finished_at"]),
                esc(&between(rv, &["started_at"], &["finished_at"]).unwrap_or_else(|| DASH.into())),
                txt(rv, &["items"]),
            );
        }
        o.push_str("</tbody></table>");
    }

    // Actions, collapsed.
    let out_scope = actions
        .iter()
        .filter(|a| truth(pick(a, &["in_scope"])) == Some(false))
        .count() as u64;
    let out_life = actions
        .iter()
        .filter(|a| truth(pick(a, &["within_lifetime"])) == Some(false))
        .count() as u64;
    let mut problems = Vec::new();
    if out_scope > 0 {
        problems.push(format!("{out_scope} outside scope"));
    }
    if out_life > 0 {
        problems.push(format!("{out_life} outside the credential's lifetime"));
    }
    let problems = if problems.is_empty() {
        if actions.is_empty() {
            String::new()
        } else {
            " — <span class=\"ok\">✓ all in scope and in time</span>".into()
        }
    } else {
        format!(" — <span class=\"bad\">✗ {}</span>", problems.join(", "))
    };
    put!(
        o,
        "<details><summary>{} taken under this approval{problems}</summary>",
        plural(actions.len() as u64, "agent action", "agent actions")
    );
    if actions.is_empty() {
        o.push_str("<p>None.</p>");
    } else {
        o.push_str(&action_rows(cx, &actions, false));
    }
    o.push_str("</details></section>");
    o
}

fn unlinked_actions(cx: &mut Ctx) -> String {
    let rest: Vec<&Value> = cx
        .actions
        .iter()
        .copied()
        .filter(|a| key(a.get("index")).is_none_or(|k| !cx.shown_actions.contains(&k)))
        .collect();
    if rest.is_empty() {
        return String::new();
    }
    let mut o = format!(
        "<section id=\"unlinked\"><h2>Actions not traced to an approval shown above</h2>\
         <p class=\"bad\">⚠ {} could not be placed under any human approval in this report.</p>",
        plural(rest.len() as u64, "agent action", "agent actions")
    );
    o.push_str(&action_rows(cx, &rest, true));
    o.push_str("</section>");
    o
}

/// A key for a shell command line, single-quoted unless plainly safe.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=._:@-".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What the auditor checked when it made the report: exactly the facts
/// of the trust basis, nothing more (the witness times come from the
/// report's `verification.cosignatures`).
fn verification(t: &TrustBasis, report: &Value) -> String {
    let mut o =
        String::from("<h3>What was checked when this report was made</h3><dl class=\"kv\">");
    // The analysis records the root it recomputed; claim it only when it
    // is the checkpoint's.
    let recomputed = pick(report, &["verification.root"]).and_then(Value::as_str);
    if !t.root_hex.is_empty() && recomputed == Some(t.root_hex.as_str()) {
        o.push_str(
            "<dt>Tree</dt><dd><span class=\"ok\">✓ recomputed</span> from the entries to the \
             checkpoint's root</dd>",
        );
    } else {
        o.push_str("<dt>Tree</dt><dd>— (no recomputed root in this report)</dd>");
    }
    if t.log_signatures_verified {
        put!(
            o,
            "<dt>Log signatures on the checkpoint</dt><dd><span class=\"ok\">✓ verified</span> \
             with {}</dd>",
            plural(t.log_vkeys.len() as u64, "log key", "log keys")
        );
    } else {
        o.push_str(
            "<dt>Log signatures on the checkpoint</dt><dd><span class=\"bad\">✗ NOT \
             verified</span> (<code>--unverified</code>: no log key given)</dd>",
        );
    }
    o.push_str("<dt>Witness cosignatures</dt><dd>");
    if t.witness_quorum == 0 {
        o.push_str(
            "<span class=\"bad\">✗ not checked</span>: no witness keys were given, so no \
             witness was checked",
        );
    } else {
        put!(
            o,
            "<span class=\"ok\">✓ quorum met</span>: {} of the {} witnesses cosigned ({} required)",
            t.witness_cosignatures,
            t.witness_vkeys.len(),
            t.witness_quorum
        );
        let cos = arr(report, &["verification.cosignatures"]);
        if !cos.is_empty() {
            o.push_str("<ul>");
            for c in cos {
                let time = match pick(c, &["time"]) {
                    Some(Value::Number(n)) => n
                        .as_i64()
                        .map_or_else(|| n.to_string(), |t| when(&crate::demo::rfc3339(t))),
                    other => when(&plain(other)),
                };
                put!(
                    o,
                    "<li><code>{}</code> at {}</li>",
                    txt(c, &["witness"]),
                    esc(&time)
                );
            }
            o.push_str("</ul>");
        }
    }
    o.push_str("</dd><dt>Timestamp anchors</dt><dd>");
    let n = t.anchors.len() as u64;
    match (&t.anchors_unavailable, n, t.anchors_verified) {
        (Some(why), _, _) => put!(o, "<span class=\"bad\">✗ not checked</span>: {}", esc(why)),
        (None, 0, _) => {
            o.push_str("<span class=\"warn\">none</span>: the log lists no anchor of this tree")
        }
        (None, _, true) => put!(
            o,
            "<span class=\"ok\">✓ {} verified</span> against the trusted timestamp roots \
             (TSA signature and certificate chain), each on a checkpoint of this tree signed \
             by the log",
            plural(n, "anchor", "anchors")
        ),
        (None, _, false) => put!(
            o,
            "<span class=\"bad\">✗ TSA signatures not verified</span> (no trusted timestamp \
             roots given): {} listed by the log, on checkpoints of this tree{}; their times are \
             the log's claims",
            plural(n, "anchor", "anchors"),
            if t.log_signatures_verified {
                " signed by the log"
            } else {
                ""
            }
        ),
    }
    o.push_str("</dd></dl>");
    o
}

fn trust_section(t: &TrustBasis, example: u64, report: &Value) -> String {
    let keys = |ks: &[String]| -> String {
        if ks.is_empty() {
            return "<dd>— (none given)</dd>".into();
        }
        let mut s = String::from("<dd><ul>");
        for k in ks {
            put!(s, "<li><code>{}</code></li>", esc(k));
        }
        s.push_str("</ul></dd>");
        s
    };
    // Each sentence states one thing that was checked, or says it was not.
    let mut rests = format!(
        "Everything above was computed from the log's first {} entries, whose Merkle tree \
         root is the hash below. ",
        t.tree_size
    );
    if t.log_signatures_verified {
        put!(
            rests,
            "The log's signature on the checkpoint below was verified with the {} listed, so \
             the log cannot deny having published this history. ",
            plural(t.log_vkeys.len() as u64, "log key", "log keys")
        );
    } else {
        rests.push_str(
            "<strong class=\"bad\">The log's signatures on the checkpoint below were NOT \
             verified</strong>: the audit ran with <code>--unverified</code> and no log key, so \
             anyone could have written these entries and this checkpoint. ",
        );
    }
    if t.witness_quorum > 0 {
        put!(
            rests,
            "{} of the {} witnesses listed cosigned it ({} required), so the log cannot show \
             auditors one history and others another without being caught. ",
            t.witness_cosignatures,
            t.witness_vkeys.len(),
            t.witness_quorum
        );
    } else {
        rests.push_str(
            "<strong class=\"bad\">No witness was checked</strong> (no witness keys were \
             given): nothing here shows that others were shown the same history. ",
        );
    }
    let n = t.anchors.len() as u64;
    if let Some(why) = &t.anchors_unavailable {
        put!(rests, "No timestamp anchor was checked: {}. ", esc(why));
    } else if n == 0 {
        rests.push_str("No timestamp anchor covers this checkpoint. ");
    } else if t.anchors_verified {
        put!(
            rests,
            "{} verified against the trusted timestamp roots prove the tree existed by the \
             times shown. ",
            plural(n, "timestamp anchor", "timestamp anchors")
        );
    } else {
        put!(
            rests,
            "<strong class=\"bad\">The {} listed by the log {} NOT verified</strong> (no \
             trusted timestamp roots were given): their times are the log's claims. ",
            plural(n, "timestamp anchor", "timestamp anchors"),
            if n == 1 { "was" } else { "were" }
        );
    }
    rests.push_str(
        "Anyone can check all of this offline, with the keys below, using the commands at \
         the end.",
    );
    let mut o = format!(
        "<section id=\"trust\"><h2>Trust basis: what these conclusions rest on</h2>\
         <p>{rests}</p>\
         <dl class=\"kv\"><dt>Log origin</dt><dd><code>{}</code></dd>\
         <dt>Tree size</dt><dd>{}</dd><dt>Root hash</dt><dd><code>{}</code></dd>\
         <dt>Log keys</dt>{}<dt>Witness keys</dt>{}<dt>Witness quorum</dt><dd>{}</dd>\
         <dt>Trusted timestamp roots</dt>{}<dt>Report generated</dt><dd>{}</dd></dl>",
        esc(or_dash(&t.log_origin)),
        t.tree_size,
        esc(or_dash(&t.root_hex)),
        keys(&t.log_vkeys),
        keys(&t.witness_vkeys),
        if t.witness_quorum == 0 {
            "none checked (no witness keys given)".to_owned()
        } else {
            format!(
                "{} of the {} witnesses above must cosign",
                t.witness_quorum,
                t.witness_vkeys.len()
            )
        },
        keys(&t.tsa_roots),
        esc(&when(&t.generated_at)),
    );
    o.push_str(&verification(t, report));
    put!(
        o,
        "<h3>Signed checkpoint</h3><pre>{}</pre>",
        esc(if t.checkpoint_note.is_empty() {
            DASH
        } else {
            t.checkpoint_note.as_str()
        })
    );
    o.push_str("<h3>Timestamp anchors (RFC 3161)</h3>");
    if t.anchors.is_empty() {
        o.push_str("<p class=\"warn\">No timestamp anchors were relied on.</p>");
    } else {
        o.push_str(
            "<table><thead><tr><th scope=\"col\">Tree size</th>\
             <th scope=\"col\">Time stamped (genTime)</th><th scope=\"col\">Time-stamping \
             authority</th></tr></thead><tbody>",
        );
        for a in &t.anchors {
            put!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                a.tree_size,
                esc(&when(&a.gen_time)),
                esc(or_dash(&a.tsa))
            );
        }
        o.push_str("</tbody></table>");
    }

    // How to re-verify.
    let mut vk = String::new();
    for k in &t.log_vkeys {
        put!(vk, " \\\n    --vkey {}", shell_word(k));
    }
    if t.log_vkeys.is_empty() {
        // The audit ran unverified: the commands need the log's real keys.
        vk.push_str(" \\\n    --vkey LOG_VKEY");
    }
    let mut wk = vk.clone();
    for k in &t.witness_vkeys {
        put!(wk, " \\\n    --witness-vkey {}", shell_word(k));
    }
    if !t.witness_vkeys.is_empty() {
        put!(wk, " --quorum {}", t.witness_quorum);
    }
    let size = t
        .anchors
        .iter()
        .map(|a| a.tree_size)
        .max()
        .map_or_else(|| "SIZE".to_owned(), |s| s.to_string());
    let cmds = format!(
        "# 1. The whole log, from its tiles alone: every hash tile, every entry, and the root\n\
         #    against the signed, cosigned checkpoint. TILES_URL is the log's tile address\n\
         #    (or a mirror's), LOG_URL its gRPC address.\n\
         causeway verify-tiles --tiles TILES_URL --entries{wk}\n\n\
         # 2. The timestamp anchor at size {size}: the TSA's signature, its certificate chain\n\
         #    to the trusted root, and that it covers the checkpoint (saves both for step 3).\n\
         causeway verify-anchor --log LOG_URL --tsa-roots tsa-root.pem --size {size} \\\n    --save anchors/{vk}\n\n\
         # 3. The same anchor with OpenSSL alone.\n\
         openssl ts -verify -data anchors/checkpoint-{size}.body -in anchors/anchor-{size}.tsr \
         -CAfile tsa-root.pem\n\n\
         # 4. Any one record of this report, e.g. #{example}: decode it and prove it is in\n\
         #    the tree.\n\
         causeway record show --log LOG_URL --index {example}\n\
         causeway prove inclusion --log LOG_URL --index {example} --size {}{wk}\n\n\
         # 5. This whole report again, from the tiles, under the producer policy.\n\
         causeway audit --tiles TILES_URL --policy policy.toml --tsa-roots tsa-root.pem \\\n    \
         --out report/{wk}\n",
        t.tree_size
    );
    put!(
        o,
        "<h3>How to re-verify</h3><p>With the <code>causeway</code> command-line client and \
         OpenSSL, on any machine:</p><pre>{}</pre></section>",
        esc(&cmds)
    );
    o
}

fn invalid(cx: &mut Ctx) -> String {
    let bad = arr(cx.report, &["invalid"]);
    if bad.is_empty() {
        return String::new();
    }
    let mut o = format!(
        "<section id=\"invalid\"><h2>Invalid entries</h2><p>{} the log should have refused: \
         a bad signature, a signer the policy does not allow, a broken reference, a second \
         copy of a submission, or bytes that are no record. Nothing above counts them as \
         evidence, and they fail the audit.</p>\
         <table><thead><tr><th scope=\"col\">Entry</th><th scope=\"col\">Kind</th>\
         <th scope=\"col\">Leaf hash</th><th scope=\"col\">Class</th>\
         <th scope=\"col\">Why it is invalid</th></tr></thead><tbody>",
        plural(bad.len() as u64, "entry is one", "entries are ones")
    );
    for b in bad {
        let i = b.get("index");
        let id = cx.rec_id(i);
        put!(
            o,
            "<tr class=\"flagged\"><th scope=\"row\"{id}>#{}</th><td>{}</td>\
             <td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&plain(i)),
            txt(b, &["kind"]),
            txt(b, &["leaf_hash"]),
            txt(b, &["code"]),
            txt(b, &["reason", "error"]),
        );
    }
    o.push_str("</tbody></table></section>");
    o
}

/// Records linked to but shown nowhere else, so every link lands.
fn other_records(cx: &mut Ctx) -> String {
    let missing: Vec<String> = cx
        .linked
        .iter()
        .filter(|(_, k)| !cx.anchors.contains(&format!("record-{}", ident(k))))
        .map(|(_, k)| k.clone())
        .collect();
    if missing.is_empty() {
        return String::new();
    }
    let mut o = String::from(
        "<section id=\"other-records\"><h2>Other records referred to</h2>\
         <p>Records named above that are not part of any change shown in this report.</p>\
         <table><thead><tr><th scope=\"col\">Record</th><th scope=\"col\">Red flags naming it</th>\
         </tr></thead><tbody>",
    );
    for k in missing {
        let v = Value::String(k.clone());
        let id = cx.rec_id(Some(&v));
        let mut what: Vec<String> = cx
            .flags_of(Some(&v))
            .iter()
            .map(|f| {
                format!(
                    "<span class=\"bad\">⚠ {}</span>: {}",
                    esc(&kind_words(&plain(f.get("kind")))),
                    txt(f, &["detail", "details", "message"])
                )
            })
            .collect();
        if what.is_empty() {
            what.push(DASH.into());
        }
        put!(
            o,
            "<tr><th scope=\"row\"{id}>#{}</th><td>{}</td></tr>",
            esc(&k),
            what.join("<br>")
        );
    }
    o.push_str("</tbody></table></section>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A report in the analysis's shape: one chain with a delegation, two
    /// red flags, an action outside any chain, an invalid entry.
    fn report() -> Value {
        json!({
            "summary": {"entries": 14, "records": 13, "non_records": 1, "invalid": 1,
                        "authorizations": 1, "preflights": 1, "credentials": 2, "actions": 4,
                        "exceptions": 0, "closures": 1, "reviews": 1, "red_flags": 2,
                        "red_flags_by_kind": {"action_out_of_scope": 1, "review_too_fast": 1},
                        "actions_with_named_human": 3},
            "thresholds": {"working_hours": "07:00-20:00", "working_days": ["mon", "tue"],
                           "max_approvals_per_hour": 12, "min_review_seconds_per_item": 20,
                           "human_max_records_per_minute": 6, "max_clock_skew_secs": 300},
            "authorizations": [{
                "index": 0, "leaf_hash": "aa".repeat(32),
                "approver": {"subject": "alice@example.com", "issuer": "https://login.example.com"},
                "authn": {"method": "sso-oidc", "mfa": true, "assurance": "aal2",
                          "authenticated_at": "2026-11-22T09:12:41Z"},
                "plan": {"objective": "Fix rounding", "method": "PR on a branch",
                         "test_approach": "unit tests", "backout": "revert"},
                "scope": {"change_class": "standard", "targets": ["github.com/acme/pay"],
                          "actions": ["git.clone", "git.push:branch/fix/*"]},
                "ticket": "CHG-20481", "not_before": "2026-11-22T09:30:00Z",
                "not_after": "2026-11-22T17:00:00Z", "time": "2026-11-22T09:14:03Z",
                "signer": "alice@example.com", "valid": true,
                "preflights": [{"index": 1, "leaf_hash": "01".repeat(32), "subject": 0,
                                "stage": "issuance", "verdict": "pass",
                                "checks": [{"name": "sast", "result": "pass", "detail": "clean",
                                            "cves": []},
                                           {"name": "deps", "result": "warn", "detail": "old",
                                            "cves": ["CVE-2026-0001"]}],
                                "time": "2026-11-22T09:20:00Z", "signer": "scanner",
                                "valid": true}],
                "credentials": [
                    {"index": 2, "leaf_hash": "02".repeat(32), "serial": "S-1",
                     "agent": {"id": "orchestrator", "model": "m1", "version": "1"},
                     "parent": null, "depth": 1, "scope": {}, "preflight": 1,
                     "issued_at": "2026-11-22T09:30:00Z", "expires_at": "2026-11-22T10:30:00Z",
                     "session_key_id": "ab".repeat(32), "signer": "issuer", "actions": 2,
                     "closure": 8, "valid": true},
                    {"index": 4, "leaf_hash": "04".repeat(32), "serial": "S-2",
                     "agent": {"id": "sub-agent", "model": "m2", "version": "2"},
                     "parent": 2, "depth": 2, "scope": {}, "preflight": null,
                     "issued_at": "2026-11-22T09:40:00Z", "expires_at": "2026-11-22T10:00:00Z",
                     "session_key_id": "cd".repeat(32), "signer": "session key of #2",
                     "actions": 1, "closure": null, "valid": true}
                ],
                "actions": [3, 5, 6],
                "closures": [{"index": 8, "leaf_hash": "08".repeat(32), "credential": 2,
                              "reason": "voluntary", "started_at": "2026-11-22T09:30:00Z",
                              "ended_at": "2026-11-22T09:50:00Z", "actions": 2,
                              "summary": "done", "signer": "issuer", "valid": true}],
                "reviews": [{"index": 9, "leaf_hash": "09".repeat(32), "subject": 0,
                             "reviewer": {"subject": "bob@example.com", "issuer": "x"},
                             "verdict": "approved", "started_at": "2026-11-22T11:00:00Z",
                             "finished_at": "2026-11-22T11:00:30Z", "items": 3,
                             "time": "2026-11-22T11:00:31Z", "signer": "bob", "valid": true}],
                "exceptions": [],
                "red_flags": [0, 1]
            }],
            "actions": [
                {"index": 3, "time": "2026-11-22T09:31:00Z", "tool": "git.clone",
                 "target": "github.com/acme/pay", "summary": "cloned", "credential": 2,
                 "delegation_path": [2], "authorization": 0,
                 "authorized_by": {"subject": "alice@example.com"},
                 "in_scope": true, "within_lifetime": true, "valid": true, "red_flags": []},
                {"index": 5, "time": "2026-11-22T09:41:00Z", "tool": "git.push",
                 "target": "<script>alert(1)</script>", "credential": 4,
                 "delegation_path": [4, 2], "authorization": 0,
                 "authorized_by": {"subject": "alice@example.com"},
                 "in_scope": false, "within_lifetime": true, "valid": true, "red_flags": [0]},
                {"index": 6, "time": "2026-11-22T09:45:00Z", "tool": "ci.run",
                 "target": "ci", "credential": 2, "delegation_path": [2],
                 "authorization": 0, "authorized_by": {"subject": "alice@example.com"},
                 "in_scope": true, "within_lifetime": true, "valid": true, "red_flags": []},
                {"index": 12, "time": "2026-11-22T12:00:00Z", "tool": "db.drop",
                 "target": "prod", "credential": null, "delegation_path": [],
                 "authorization": null, "authorized_by": null, "in_scope": false,
                 "within_lifetime": false, "valid": false, "red_flags": []}
            ],
            "red_flags": [
                {"kind": "action_out_of_scope", "record": 5, "leaf_hash": "bb".repeat(32),
                 "authorization": 0,
                 "detail": "target is not among the credential's \"quoted\" & <b>bold</b>"},
                {"kind": "review_too_fast", "record": 9, "leaf_hash": "cc".repeat(32),
                 "authorization": 0, "detail": "30 s for 3 items"}
            ],
            "matrix": {"rows": [{"authorization": 0, "authorized": true, "documented": true,
                                 "tested": true, "reviewed": true,
                                 "deviations_addressed": false}],
                       "totals": {"authorizations": 1, "authorized": 1, "documented": 1,
                                  "tested": 1, "reviewed": 1, "deviations_addressed": 0,
                                  "complete": 0}},
            "verification": {"tree_size": 14, "root": "ee".repeat(32),
                             "log_signature_verified": true,
                             "cosignatures": [{"witness": "w1+89abcdef+EfGh", "time": 1_795_340_000},
                                              {"witness": "w2+0000aaaa+IjKl", "time": 1_795_340_001}],
                             "anchors_checked": 1, "anchors_verified_with_tsa_roots": true},
            "invalid": [{"index": 13, "leaf_hash": "dd".repeat(32), "kind": "action",
                         "code": "permission_denied", "reason": "bad signature <x>"}]
        })
    }

    fn trust() -> TrustBasis {
        TrustBasis {
            log_origin: "example.com/log".into(),
            log_vkeys: vec!["example.com/log+01234567+AbCd".into()],
            witness_vkeys: vec!["w1+89abcdef+EfGh".into(), "w2+0000aaaa+IjKl".into()],
            witness_quorum: 2,
            checkpoint_note: "example.com/log\n14\nroot=\n\n— example.com/log AbCd\n".into(),
            tree_size: 14,
            root_hex: "ee".repeat(32),
            anchors: vec![AnchorSummary {
                tree_size: 14,
                gen_time: "2026-11-22T12:01:00Z".into(),
                tsa: "CN=Test TSA".into(),
            }],
            tsa_roots: vec!["CN=Test TSA Root".into()],
            generated_at: "2026-11-22T12:05:00Z".into(),
            log_signatures_verified: true,
            witness_cosignatures: 2,
            anchors_verified: true,
            anchors_unavailable: None,
        }
    }

    /// Rough structural check: every non-void element is closed in order.
    fn balanced(html: &str) -> Result<(), String> {
        const VOID: [&str; 7] = ["meta", "br", "hr", "img", "input", "link", "wbr"];
        let mut stack: Vec<String> = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let end = after.find('>').ok_or("unterminated tag")?;
            let tag = &after[..end];
            rest = &after[end + 1..];
            if tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if name.is_empty() {
                return Err(format!("stray '<' before {tag:?}"));
            }
            if tag.ends_with('/') || VOID.contains(&name.as_str()) {
                continue;
            }
            if name == "style" || name == "script" {
                let close = format!("</{name}>");
                let i = rest.find(&close).ok_or("unclosed raw text")?;
                rest = &rest[i + close.len()..];
                continue;
            }
            stack.push(name);
        }
        if stack.is_empty() {
            Ok(())
        } else {
            Err(format!("unclosed: {stack:?}"))
        }
    }

    #[test]
    fn renders_the_key_content() {
        let html = render(&report(), &trust());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        for s in [
            "CC8.1",
            ">Authorized</th>",
            ">Documented</th>",
            ">Tested</th>",
            ">Reviewed</th>",
            ">Deviations addressed</th>",
            "<tfoot>",
            "id=\"matrix-table\"",
            "id=\"red-flags\"",
            "<code>action_out_of_scope</code>",
            "<code>review_too_fast</code>",
            "An agent action on a target, or with an operation, outside its credential&#39;s scope",
            // Every claimed name comes with the verified signer.
            "alice@example.com <small>(signed by alice@example.com)</small>",
            "bob@example.com <small class=\"bad\">(signed by bob)</small>",
            "alice@example.com (signed by alice@example.com) approved",
            "The review was too quick to be a real review",
            "1</b> × The review was too quick",
            "Min review seconds per item",
            "0 of 1</b> change has all five",
            "✗ fails the log's admission checks",
            "CVE-2026-0001",
            "Session closures",
            "What was checked when this report was made",
            "w1+89abcdef+EfGh</code> at 2026-11-22 09:33:20 UTC",
            "2026-11-22 09:40–10:00 UTC (20 minutes)",
            "permission_denied",
            "id=\"auth-0\"",
            "id=\"record-0\"",
            "id=\"record-2\"",
            "id=\"record-4\"",
            "id=\"record-5\"",
            "id=\"record-8\"",
            "id=\"record-9\"",
            "id=\"record-12\"",
            "id=\"record-13\"",
            "href=\"#record-5\"",
            "href=\"#record-9\"",
            "<svg class=\"chain\"",
            "AGENT CREDENTIAL #4 · depth 2",
            "SESSION CLOSED #8",
            "✓ reports 2 actions",
            "href=\"#record-4\">#4</a> → <a href=\"#record-2\">#2</a>",
            "⚠ RED FLAG",
            "<details>",
            "2 red flags need attention",
            "CHG-20481",
            "sso-oidc",
            "aal2",
            "causeway verify-tiles",
            "causeway verify-anchor",
            "openssl ts -verify",
            "--witness-vkey w2+0000aaaa+IjKl --quorum 2",
            "<pre>example.com/log\n14\n",
            "id=\"unlinked\"",
            "id=\"invalid\"",
            "bad signature &lt;x&gt;",
            "took 30 seconds",
        ] {
            assert!(html.contains(s), "missing {s:?}");
        }
        // Every record link has its anchor.
        let mut rest = html.as_str();
        while let Some(i) = rest.find("href=\"#") {
            let frag = &rest[i + 7..];
            let id = &frag[..frag.find('"').unwrap()];
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "no anchor for #{id}"
            );
            rest = frag;
        }
    }

    #[test]
    fn escapes_record_text() {
        let html = render(&report(), &trust());
        assert!(!html.contains("<script>alert(1)</script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;"));
        assert!(!html.contains("<b>bold</b>"));
        // Only the page's own script.
        assert_eq!(html.matches("<script").count(), 1);
        assert_eq!(esc("a&<>\"'b"), "a&amp;&lt;&gt;&quot;&#39;b");
        assert_eq!(esc("x\u{202e}y\u{0}"), "xy\u{fffd}");
        assert_eq!(esc("a\u{200b}\u{2028}\u{e0041}b"), "ab");
    }

    #[test]
    fn escapes_everything_in_a_hostile_report() {
        let evil = "<script>alert(1)</script>\"'&";
        let mut r = report();
        // Put the payload in every string of the report, and in the keys.
        fn poison(v: &mut Value, evil: &str) {
            match v {
                Value::String(s) => *s = format!("{s}{evil}"),
                Value::Array(a) => a.iter_mut().for_each(|x| poison(x, evil)),
                Value::Object(o) => o.values_mut().for_each(|x| poison(x, evil)),
                _ => {}
            }
        }
        poison(&mut r, evil);
        r["red_flags"][0]["record"] = json!(evil);
        r["authorizations"][0]["index"] = json!(evil);
        let t = TrustBasis {
            log_origin: evil.into(),
            log_vkeys: vec![evil.into()],
            checkpoint_note: evil.into(),
            tsa_roots: vec![evil.into()],
            ..trust()
        };
        let html = render(&r, &t);
        assert!(!html.contains("<script>alert"), "unescaped payload");
        assert!(!html.contains("\"'&"), "unescaped quotes");
        assert_eq!(html.matches("<script").count(), 1);
        balanced(&html).unwrap();
    }

    #[test]
    fn is_self_contained_and_well_formed() {
        let html = render(&report(), &trust());
        balanced(&html).unwrap();
        let lower = html.to_ascii_lowercase();
        for bad in [
            "src=\"http",
            "href=\"http",
            "src='http",
            "href='http",
            "url(http",
            "url(//",
            "@import",
            "<script src",
            "<link",
            "<img",
            "<iframe",
            "src=\"//",
            "href=\"//",
        ] {
            assert!(!lower.contains(bad), "external reference {bad:?}");
        }
        // Every href is a fragment within the page.
        for (i, _) in lower.match_indices("href=\"") {
            assert!(lower[i + 6..].starts_with('#'), "{}", &lower[i..i + 40]);
        }
        assert!(lower.contains("content-security-policy"));
        assert!(lower.contains("@media print"));
    }

    #[test]
    fn tolerates_an_empty_report() {
        let html = render(&json!({}), &TrustBasis::default());
        balanced(&html).unwrap();
        assert!(html.contains("no evidence matrix"));
        assert!(html.contains("No red flags"));
        let html = render(
            &json!({"authorizations": [{}], "matrix": {"rows": [{}]}}),
            &trust(),
        );
        balanced(&html).unwrap();
        assert!(html.contains("—"));
    }

    /// The sample report with its red flags and invalid entries removed:
    /// every action traces to a human approval.
    fn clean_report() -> Value {
        let mut r = report();
        r["red_flags"] = json!([]);
        r["authorizations"][0]["red_flags"] = json!([]);
        r["summary"]["actions_with_named_human"] = json!(4);
        r["summary"]["red_flags"] = json!(0);
        r["invalid"] = json!([]);
        r
    }

    #[test]
    fn verdict_when_all_is_well() {
        let r = clean_report();
        let html = render(&r, &trust());
        assert!(html.contains("13 records, 4 actions: every action traces to a human approval"));
    }

    #[test]
    fn an_unverified_audit_is_never_green_and_claims_no_signature() {
        let r = clean_report();
        let t = TrustBasis {
            log_vkeys: Vec::new(),
            log_signatures_verified: false,
            ..trust()
        };
        let html = render(&r, &t);
        assert!(html.contains("class=\"verdict unverified\""), "{html}");
        assert!(!html.contains("class=\"verdict good\""));
        assert!(html.contains("⚠ UNVERIFIED: 13 records, 4 actions"));
        assert!(html.contains("The log's signatures on the checkpoint below were NOT verified"));
        assert!(html.contains("✗ NOT verified</span> (<code>--unverified</code>"));
        assert!(!html.contains("The log's signature on the checkpoint below was verified"));
        assert!(html.contains("--vkey LOG_VKEY"));
        // The same report with the keys checked is green.
        assert!(render(&r, &trust()).contains("class=\"verdict good\""));
        // The default trust basis claims nothing.
        let html = render(&r, &TrustBasis::default());
        assert!(html.contains("class=\"verdict unverified\""));
        assert!(html.contains("No witness was checked"));
    }

    #[test]
    fn the_trust_section_says_what_was_not_checked() {
        let t = TrustBasis {
            witness_vkeys: Vec::new(),
            witness_quorum: 0,
            witness_cosignatures: 0,
            anchors_verified: false,
            tsa_roots: Vec::new(),
            ..trust()
        };
        let html = render(&report(), &t);
        assert!(html.contains("No witness was checked</strong> (no witness keys were given)"));
        assert!(html.contains("none checked (no witness keys given)"));
        assert!(html.contains("✗ not checked</span>: no witness keys were given"));
        assert!(html.contains("The 1 timestamp anchor listed by the log was NOT verified"));
        assert!(html.contains("✗ TSA signatures not verified"));
        assert!(!html.contains("cosigned it"));
        let html = render(&report(), &trust());
        assert!(html.contains("<dt>Tree</dt><dd><span class=\"ok\">✓ recomputed</span>"));
        assert!(html.contains("2 of the 2 witnesses listed cosigned it (2 required)"));
        assert!(html.contains("✓ 1 anchor verified</span>"));
        assert!(html.contains("✓ verified</span> with 1 log key"));
        let t = TrustBasis {
            anchors: Vec::new(),
            anchors_unavailable: Some("the log at http://127.0.0.1:9 is unreachable".into()),
            ..trust()
        };
        let html = render(&report(), &t);
        assert!(html.contains(
            "No timestamp anchor was checked: the log at http://127.0.0.1:9 is unreachable."
        ));
        // A root the report did not recompute is not claimed.
        let t = TrustBasis {
            root_hex: "ff".repeat(32),
            ..trust()
        };
        let html = render(&report(), &t);
        assert!(html.contains("<dt>Tree</dt><dd>— (no recomputed root in this report)</dd>"));
    }

    #[test]
    fn many_chains() {
        let mut auths = Vec::new();
        let mut actions = Vec::new();
        for a in 0..300u64 {
            let base = a * 1000;
            auths.push(json!({"index": base, "ticket": format!("CHG-{a}"),
                "credentials": [{"index": base + 1, "depth": 1, "actions": 100}],
                "actions": (0..100).map(|i| base + 2 + i).collect::<Vec<_>>()}));
            for i in 0..100 {
                actions.push(json!({"index": base + 2 + i, "credential": base + 1,
                    "authorization": base, "in_scope": true, "within_lifetime": true}));
            }
        }
        let r = json!({"authorizations": auths, "actions": actions,
                       "matrix": {"rows": [{"authorization": 0}]}});
        let html = render(&r, &trust());
        assert!(html.contains("id=\"auth-299000\""));
        assert!(html.contains("id=\"record-299101\""));
        assert!(!html.contains("id=\"unlinked\""));
        balanced(&html).unwrap();
    }

    #[test]
    fn delegation_cycles_and_depths() {
        let auth = json!({"credentials": [
            {"index": 1, "parent": 2}, {"index": 2, "parent": 1}, {"index": 3, "parent": null},
            {"index": 4, "parent": 3}, {"index": 5, "parent": 4}
        ]});
        let tree: Vec<(String, usize)> = credential_tree(&auth)
            .into_iter()
            .map(|(c, d)| (plain(c.get("index")), d))
            .collect();
        assert_eq!(tree.len(), 5);
        assert!(tree.contains(&("5".into(), 2)));
        assert!(tree.contains(&("3".into(), 0)));
    }

    #[test]
    fn times() {
        assert_eq!(unix_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_secs("2026-11-22T09:30:00Z"), Some(1_795_339_800));
        assert_eq!(
            unix_secs("2026-11-22T10:30:00.5+01:00"),
            Some(1_795_339_800)
        );
        assert_eq!(unix_secs("yesterday"), None);
        assert_eq!(when("2026-11-22T09:30:00Z"), "2026-11-22 09:30:00 UTC");
    }
}
