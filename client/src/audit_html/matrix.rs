//! The SOC 2 CC8.1 evidence matrix: one row per change, one column per
//! kind of evidence.

use maud::{Markup, html};

use crate::audit::{Cc81Row, Cc81Totals};

use super::text::{Clean, claimed, mark};
use super::view::Page;

/// One column: its heading, its explanation, and where a row and the
/// totals hold it.
struct Column {
    head: &'static str,
    why: &'static str,
    row: fn(&Cc81Row) -> bool,
    total: fn(&Cc81Totals) -> usize,
}

const COLUMNS: [Column; 5] = [
    Column {
        head: "Authorized",
        why: "A named person approved the change in a signed authorization record that passes \
              the log's checks, with a key the log's policy gives to a person allowed to approve \
              (how they signed in, and whether with multi-factor authentication, is in the \
              change's section).",
        row: |r| r.authorized,
        total: |t| t.authorized,
    },
    Column {
        head: "Documented",
        why: "The approval states the plan (what the change is for, how it will be made, how it \
              will be tested, how it can be backed out), its ticket and its targets, and every \
              agent action traces back to it through valid records.",
        row: |r| r.documented,
        total: |t| t.documented,
    },
    Column {
        head: "Tested",
        why: "An automated pre-flight check, not signed by the agents themselves, passed the \
              change before the first agent credential was issued.",
        row: |r| r.tested,
        total: |t| t.tested,
    },
    Column {
        head: "Reviewed",
        why: "A person recorded a review of the change or of the agents' sessions.",
        row: |r| r.reviewed,
        total: |t| t.reviewed,
    },
    Column {
        head: "Deviations addressed",
        why: "The change has no red flags, or each was followed by a recorded exception or by a \
              proper (not rushed) human review.",
        row: |r| r.deviations_addressed,
        total: |t| t.deviations_addressed,
    },
];

/// The matrix section.
pub(super) fn section(page: &mut Page) -> Markup {
    let m = &page.report.matrix;
    let total_rows = m.totals.authorizations;
    html! {
        section #matrix {
            h2 { "CC8.1 change-management evidence" }
            p {
                "SOC 2 criterion CC8.1 asks that every change is authorized, documented, tested, \
                reviewed and that deviations are dealt with. Each row is one change a person \
                approved; each column says whether the log holds the evidence for that step. \
                ✓ means the evidence is there, ✗ means it is missing or contradicted."
            }
            table.matrix #matrix-table {
                thead {
                    tr {
                        th scope="col" { "Change (ticket · approver)" }
                        @for c in &COLUMNS { th scope="col" class="c" { (c.head) } }
                    }
                }
                tbody {
                    @for row in &m.rows {
                        @let complete = COLUMNS.iter().all(|c| (c.row)(row));
                        tr class=[(!complete).then_some("flagged")] {
                            th scope="row" {
                                @match page.authorization(row.authorization) {
                                    Some(auth) => {
                                        a href={ "#auth-" (row.authorization) } { (Clean(&auth.ticket)) }
                                        br;
                                        small {
                                            (claimed(&auth.approver.subject, &auth.signer))
                                            " · authorization " (row.authorization)
                                        }
                                    }
                                    None => { "authorization " (row.authorization) }
                                }
                            }
                            @for c in &COLUMNS { td.c { (mark((c.row)(row))) } }
                        }
                    }
                    @if m.rows.is_empty() {
                        tr { td colspan="6" { "No changes." } }
                    }
                }
                tfoot {
                    tr {
                        th scope="row" { "Total" }
                        @for c in &COLUMNS {
                            td.c { ((c.total)(&m.totals)) " of " (total_rows) }
                        }
                    }
                }
            }
            p {
                b { (m.totals.complete) " of " (total_rows) }
                (if total_rows == 1 { " change has" } else { " changes have" })
                " all five kinds of evidence."
            }
            h3 { "What each column means" }
            dl.explain {
                @for c in &COLUMNS { dt { (c.head) } dd { (c.why) } }
            }
        }
    }
}
