//! The page's header: the plain-English verdict and the figures at a
//! glance.

use maud::{Markup, html};

use super::TrustBasis;
use super::text::{Clean, plural, when_text};
use super::view::Page;

/// The header, with the verdict: green only when the log's signatures
/// were verified and nothing needs attention.
pub(super) fn header(page: &Page, trust: &TrustBasis) -> Markup {
    let s = &page.report.summary;
    let actions_n = s.actions as u64;
    let flags_n = page.report.red_flags.len() as u64;
    let traced = s.actions_with_named_human as u64;
    let invalid_n = page.report.invalid.len() as u64;
    let records = s.records as u64;

    let verified = trust.log_signatures_verified;
    let clean = flags_n == 0 && traced >= actions_n && invalid_n == 0;
    let good = verified && clean;
    let tail = if clean {
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
        "{}, {}: {tail}",
        plural(records, "record", "records"),
        plural(actions_n, "action", "actions")
    );
    let (class, lead) = match (good, verified) {
        (true, _) => ("good", "✓ "),
        (false, true) => ("attention", "⚠ "),
        (false, false) => ("unverified", "⚠ UNVERIFIED: "),
    };
    let glance = [
        ("Log entries", s.entries as u64),
        ("Governance records", records),
        ("Human approvals", s.authorizations as u64),
        ("Agent credentials", s.credentials as u64),
        ("Agent actions", actions_n),
        ("Actions traced to a human", traced),
        ("Red flags", flags_n),
    ];
    html! {
        header #summary {
            h1 { "Causeway audit report" }
            p.muted {
                "Log " code { (Clean(&trust.log_origin)) }
                " · tree size " b { (trust.tree_size) }
                " · root " code { (Clean(&trust.root_hex)) }
                " · generated " (when_text(&trust.generated_at))
            }
            div class={ "verdict " (class) } role="status" {
                p.headline { (lead) (headline) }
                p {
                    @if !verified {
                        strong { "The log's signatures were not checked" }
                        ": this audit ran with " code { "--unverified" } ", without the log's \
                        keys, so anyone could have written these entries and their checkpoint. \
                        Nothing below is evidence until the audit is re-run with the log's keys ("
                        code { "--vkey" } "). "
                    }
                    "At tree size " (trust.tree_size) ", the log held "
                    (plural(s.entries as u64, "entry", "entries")) "; " (records)
                    " of them are signed governance records ("
                    (plural(s.non_records as u64, "other entry", "other entries")) "). They describe "
                    (plural(s.authorizations as u64, "human approval", "human approvals")) ", "
                    (plural(s.credentials as u64, "agent credential", "agent credentials")) " and "
                    (plural(actions_n, "agent action", "agent actions")) ". " (traced) " of the "
                    (actions_n) " actions trace, through their credentials, to a named and \
                    authenticated human approval."
                    @if flags_n > 0 {
                        " The analysis found " (plural(flags_n, "red flag", "red flags"))
                        ", listed under " a href="#red-flags" { "Red flags" }
                        " and marked in each change's picture."
                    } @else {
                        " The analysis found no red flags."
                    }
                    @if invalid_n > 0 {
                        " " (plural(invalid_n, "entry is one", "entries are ones"))
                        " the log should have refused (see " a href="#invalid" { "Invalid entries" } ")."
                    }
                    " These conclusions hold for the checkpoint described under "
                    a href="#trust" { "Trust basis" } ", which anyone can re-verify offline."
                }
            }
            div.glance {
                @for (label, value) in glance {
                    div { b { (value) } (label) }
                }
            }
        }
    }
}
