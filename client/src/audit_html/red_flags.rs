//! The red flags (with the thresholds they were judged by), the entries
//! the log should have refused, and the records linked to but shown in
//! no change.

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::audit::{ACTIONS_FILE, FINDINGS_FILE, FlagKind, Thresholds};

use super::text::{Clean, DASH, clip, dash, kind_words, plural};
use super::view::{Page, auth_title};

/// The most red flags the table shows; the counts by kind above it are
/// of all of them.
const SHOWN: usize = 500;

/// The red flags section.
pub(super) fn section(page: &mut Page) -> Markup {
    let flags = &page.report.red_flags;
    let thresholds = thresholds(&page.report.thresholds);
    let mut by_kind: BTreeMap<&'static str, (FlagKind, u64)> = BTreeMap::new();
    for f in flags {
        by_kind.entry(f.kind.as_str()).or_insert((f.kind, 0)).1 += 1;
    }
    html! {
        section #red-flags {
            h2 { "Red flags" }
            p {
                "Things in the log that an auditor should look at: each names the record it is \
                about (follow the link to see it in its change) and what was found."
            }
            @if flags.is_empty() {
                p.ok { "✓ No red flags." }
            } @else {
                @if by_kind.len() > 1 {
                    p { "By kind:" }
                    ul {
                        @for (name, (kind, n)) in &by_kind {
                            li { b { (n) } " × " (kind_words(*kind)) " (" code { (name) } ")" }
                        }
                    }
                }
                table {
                    thead {
                        tr {
                            th scope="col" { "#" }
                            th scope="col" { "What was found" }
                            th scope="col" { "Record" }
                            th scope="col" { "Change" }
                            th scope="col" { "Detail" }
                        }
                    }
                    tbody {
                        @for (i, f) in flags.iter().enumerate().take(SHOWN) {
                            tr.flagged {
                                td { (i + 1) }
                                td {
                                    span.bad { "⚠ " (kind_words(f.kind)) }
                                    br;
                                    small { "contract name: " code { (f.kind.as_str()) } }
                                }
                                td {
                                    (page.link(f.record))
                                    br;
                                    small.mono.nw title="leaf hash" { (clip(&dash(&f.leaf_hash), 16)) }
                                }
                                td {
                                    @match f.authorization.and_then(|a| page.authorization(a)) {
                                        Some(auth) => {
                                            a href={ "#auth-" (auth.index) } { (auth_title(auth)) }
                                        }
                                        None => { (DASH) }
                                    }
                                }
                                td { (Clean(&f.detail)) }
                            }
                        }
                        @if flags.len() > SHOWN {
                            tr.omitted {
                                td colspan="5" {
                                    "… " (plural((flags.len() - SHOWN) as u64, "more red flag", "more red flags"))
                                    " not shown here: every red flag is in "
                                    a href=(FINDINGS_FILE) { code { (FINDINGS_FILE) } }
                                    " beside this page (one JSON object per line)."
                                }
                            }
                        }
                    }
                }
            }
            (thresholds)
        }
    }
}

/// The thresholds the analysis judged by, by name.
fn thresholds(t: &Thresholds) -> Markup {
    let days: Vec<&str> = t.working_days.iter().map(|d| d.as_str()).collect();
    // By their JSON names, in that order.
    let rows = [
        (
            "Human max records per minute",
            t.human_max_records_per_minute.to_string(),
        ),
        (
            "Max approvals per hour",
            t.max_approvals_per_hour.to_string(),
        ),
        ("Max clock skew secs", t.max_clock_skew_secs.to_string()),
        ("Max reviews per hour", t.max_reviews_per_hour.to_string()),
        (
            "Min review seconds per item",
            t.min_review_seconds_per_item.to_string(),
        ),
        (
            "Working days",
            if days.is_empty() {
                DASH.to_owned()
            } else {
                days.join(", ")
            },
        ),
        ("Working hours", t.working_hours.to_string()),
    ];
    html! {
        details {
            summary { "The thresholds these judgements used" }
            dl.kv {
                @for (name, value) in &rows { dt { (name) } dd { (value) } }
            }
        }
    }
}

/// The invalid entries section, if there are any.
pub(super) fn invalid(page: &mut Page) -> Option<Markup> {
    let bad = &page.report.invalid;
    if bad.is_empty() {
        return None;
    }
    Some(html! {
        section #invalid {
            h2 { "Invalid entries" }
            p {
                (plural(bad.len() as u64, "entry is one", "entries are ones"))
                " the log should have refused: a bad signature, a signer the policy does not \
                allow, a broken reference, a second copy of a submission, or bytes that are no \
                record. Nothing above counts them as evidence, and they fail the audit."
            }
            table {
                thead {
                    tr {
                        th scope="col" { "Entry" }
                        th scope="col" { "Kind" }
                        th scope="col" { "Leaf hash" }
                        th scope="col" { "Class" }
                        th scope="col" { "Why it is invalid" }
                    }
                }
                tbody {
                    @for b in bad {
                        tr.flagged {
                            th scope="row" id=[page.record_id(b.index)] { "#" (b.index) }
                            td { (b.kind.map_or(DASH, |k| k.as_str())) }
                            td { code { (b.leaf_hash) } }
                            td { code { (b.code) } }
                            td { (Clean(&b.reason)) }
                        }
                    }
                }
            }
        }
    })
}

/// Records linked to but shown nowhere else, so every link lands.
pub(super) fn other_records(page: &mut Page) -> Option<Markup> {
    let missing = page.unanchored();
    if missing.is_empty() {
        return None;
    }
    Some(html! {
        section #other-records {
            h2 { "Other records referred to" }
            p {
                "Records named above that no change on this page shows: not part of any change, \
                or left out of a long list (every action is in "
                a href=(ACTIONS_FILE) { code { (ACTIONS_FILE) } } ")."
            }
            table {
                thead {
                    tr { th scope="col" { "Record" } th scope="col" { "Red flags naming it" } }
                }
                tbody {
                    @for index in missing {
                        @let flags = page.flags_of(index);
                        tr {
                            th scope="row" id=[page.record_id(index)] { "#" (index) }
                            td {
                                @for (i, f) in flags.iter().enumerate() {
                                    @if i > 0 { br; }
                                    span.bad { "⚠ " (kind_words(f.kind)) } ": " (Clean(&f.detail))
                                }
                                @if flags.is_empty() { (DASH) }
                            }
                        }
                    }
                }
            }
        }
    })
}
