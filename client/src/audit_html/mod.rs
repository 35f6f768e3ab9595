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
//! [`render`] reads the typed [`AuditReport`] and [`Verification`], so a
//! renamed field is a compile error, not a silent "—". The markup is
//! written with maud, which escapes every spliced value; record text also
//! loses its invisible characters (`text::Clean`): records are
//! attacker-controlled.
//!
//! # Layout
//!
//! * `view`: the view model (lookups over the report, the page's anchors
//!   and links).
//! * `text`: text for people (times, durations, flag kinds in words).
//! * `summary`: the verdict; `matrix`: CC8.1; `red_flags`: the flags, the
//!   thresholds, invalid entries and other records linked to.
//! * `chain` (one section per authorization) and `chain_svg` (its
//!   picture).
//! * `sample`: how much of a long list the page shows (the rest is in
//!   the JSON Lines files beside it).
//! * `trust`: the trust basis and how to re-verify; `style`: CSS and the
//!   script.

mod chain;
mod chain_svg;
mod matrix;
mod red_flags;
mod sample;
mod style;
mod summary;
mod text;
mod trust;
mod view;

#[cfg(test)]
mod tests;

use maud::{DOCTYPE, PreEscaped, html};

use crate::audit::{AuditReport, Verification};

use text::when_text;
use view::{Page, auth_title};

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

/// Renders the report as a complete HTML5 document.
pub fn render(report: &AuditReport, verification: &Verification, trust: &TrustBasis) -> String {
    let mut page = Page::new(report);
    // In page order: each section registers the anchors it emits and the
    // records it links to, and the last one lists what was linked to but
    // shown nowhere.
    let header = summary::header(&page, trust);
    let matrix = matrix::section(&mut page);
    let flags = red_flags::section(&mut page);
    let chains = html! {
        @for auth in &report.authorizations { (chain::section(&mut page, auth)) }
    };
    let unlinked = chain::unlinked_actions(&mut page);
    let example = report.authorizations.first().map_or(0, |a| a.index);
    let trust_html = trust::section(trust, verification, example);
    let invalid = red_flags::invalid(&mut page);
    let other = red_flags::other_records(&mut page);

    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{}'; img-src data:; \
         base-uri 'none'; form-action 'none'",
        style::script_hash()
    );
    let title = if trust.log_origin.is_empty() {
        "Causeway audit report".to_owned()
    } else {
        format!("Causeway audit report — {}", text::dash(&trust.log_origin))
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy" content=(csp);
                meta name="generator" content="causeway";
                title { (title) }
                style { (PreEscaped(style::CSS)) }
            }
            body {
                (header)
                nav aria-label="Contents" {
                    ul {
                        li { a href="#matrix" { "CC8.1 evidence" } }
                        li { a href="#red-flags" { "Red flags" } }
                        @for auth in &report.authorizations {
                            li { a href={ "#auth-" (auth.index) } { (auth_title(auth)) } }
                        }
                        @if unlinked.is_some() {
                            li { a href="#unlinked" { "Unapproved actions" } }
                        }
                        li { a href="#trust" { "Trust basis" } }
                        @if invalid.is_some() {
                            li { a href="#invalid" { "Invalid entries" } }
                        }
                    }
                }
                (matrix) (flags) (chains)
                @if let Some(u) = &unlinked { (u) }
                (trust_html)
                @if let Some(i) = &invalid { (i) }
                @if let Some(o) = &other { (o) }
                footer {
                    p.muted {
                        "Generated by Causeway at " (when_text(&trust.generated_at))
                        ". Everything on this page comes from the log's entries; the trust \
                        basis above says how to check it independently."
                    }
                }
                script { (PreEscaped(style::SCRIPT)) }
            }
        }
    }
    .into_string()
}
