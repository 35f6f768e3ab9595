//! One section per authorization: its red flags, who approved and how,
//! the plan and scope, the picture, and a table per kind of record; and
//! the actions that trace to no authorization.

use maud::{Markup, html};

use crate::audit::{
    ACTIONS_FILE, ActionOutcome, ActionReport, ChainReport, CredentialReport, FINDINGS_FILE,
    LIST_CAP, RedFlag,
};
use causeway_records::{ClosureReason, OutcomeStatus, PreflightVerdict, Stage};

use super::chain_svg;
use super::sample::{LIST, Row, sample};
use super::text::{
    Clean, DASH, claimed, clip, dash, duration, kind_words, list, mark, plural, seconds, short,
    validity, when, yes_no,
};
use super::view::{Page, auth_title, credential_tree};

/// A pre-flight stage in words (as the records spell it).
pub(super) fn stage_word(stage: Stage) -> &'static str {
    match stage {
        Stage::Issuance => "issuance",
        Stage::Promotion => "promotion",
    }
}

/// A closure reason in words (as the records spell it).
pub(super) fn reason_word(reason: ClosureReason) -> &'static str {
    match reason {
        ClosureReason::Voluntary => "voluntary",
        ClosureReason::Forced => "forced",
        ClosureReason::Expired => "expired",
    }
}

/// How a call returned, marked: "✓ ok" or "✗ error" with its class.
fn status_mark(status: OutcomeStatus, error: Option<&str>) -> Markup {
    html! {
        @match status {
            OutcomeStatus::Ok => span.ok { "✓ ok" },
            OutcomeStatus::Error => span.bad {
                "✗ error" @if let Some(e) = error { " " code { (Clean(e)) } }
            },
        }
    }
}

/// A credential's outcome counts: "3 ok · 1 error", or "—" when its
/// producer records none.
fn outcome_counts(c: &CredentialReport) -> Markup {
    html! {
        @if c.outcomes_ok == 0 && c.outcomes_error == 0 { (DASH) } @else {
            span.ok { (c.outcomes_ok) " ok" } " · "
            span class=[(c.outcomes_error > 0).then_some("bad")] { (c.outcomes_error) " error" }
        }
    }
}

/// An action's outcome cell: its status and a link to the outcome.
fn action_outcome(page: &mut Page, outcome: Option<&ActionOutcome>) -> Markup {
    html! {
        @match outcome {
            Some(o) => { (status_mark(o.status, o.error.as_deref())) " " (page.link(o.index)) }
            None => (DASH),
        }
    }
}

/// A check's free-form result, marked when it is a plain pass or fail.
fn check_mark(result: &str) -> Markup {
    match result.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "pass" | "passed" | "ok" => html! { span.ok { "✓" } " " },
        "no" | "false" | "fail" | "failed" => html! { span.bad { "✗" } " " },
        _ => html! {},
    }
}

/// A list of strings as code items, or "—".
fn code_list(items: &[String]) -> Markup {
    html! {
        @if items.is_empty() { (DASH) } @else {
            ul { @for i in items { li { code { (Clean(i)) } } } }
        }
    }
}

/// The section of one authorization.
pub(super) fn section(page: &mut Page, auth: &ChainReport) -> Markup {
    let idx = auth.index;
    // The chain's flags and actions, as the analysis joined them.
    let chain_flags: Vec<&RedFlag> = auth
        .red_flags
        .iter()
        .filter_map(|&i| page.flag(i))
        .collect();
    let actions: Vec<&ActionReport> = auth
        .actions
        .iter()
        .filter_map(|&i| page.action(i))
        .collect();
    page.shown_actions.extend(actions.iter().map(|a| a.index));
    let creds = credential_tree(auth);

    let section_id = page.id(format!("auth-{idx}"));
    let record_id = page.record_id(idx);
    let flag_note = html! {
        @if chain_flags.is_empty() {
            p.ok { "✓ No red flags in this change." }
        } @else {
            div.flagnote {
                p { b.bad { "⚠ " (plural(chain_flags.len() as u64, "red flag", "red flags")) " in this change:" } }
                ul {
                    @for row in sample(&chain_flags, LIST, |_| false) {
                        @match row {
                            Row::Shown(f) => li {
                                (kind_words(f.kind)) " (" code { (f.kind.as_str()) } "), record "
                                (page.link(f.record)) ": " (Clean(&f.detail))
                            },
                            Row::Omitted(n) => li.muted {
                                "… " (plural(n as u64, "more red flag", "more red flags"))
                                ": all are in " a href=(FINDINGS_FILE) { code { (FINDINGS_FILE) } }
                                " beside this page."
                            },
                        }
                    }
                }
            }
        }
    };
    let picture = chain_svg::picture(page, auth, &creds, &actions);
    let out_scope = actions.iter().filter(|a| !a.in_scope).count();
    let out_life = actions.iter().filter(|a| !a.within_lifetime).count();
    let mut problems = Vec::new();
    if out_scope > 0 {
        problems.push(format!("{out_scope} outside scope"));
    }
    if out_life > 0 {
        problems.push(format!("{out_life} outside the credential's lifetime"));
    }

    html! {
        section.chain id=[section_id] {
            h2 {
                span id=[record_id] { (auth_title(auth)) } " "
                small {
                    "approved by " (claimed(&auth.approver.subject, &auth.signer))
                    " · authorization record #" (idx)
                }
            }
            (flag_note)
            div.cols {
                div {
                    h3 { "Who approved, and how they signed in" }
                    dl.kv {
                        dt { "Approver" } dd { b { (claimed(&auth.approver.subject, &auth.signer)) } }
                        dt { "Identity provider" } dd { (Clean(&auth.approver.issuer)) }
                        dt { "Proven by the identity provider" } dd { (Clean(&auth.idp.summary)) }
                        dt { "Sign-in method" } dd { (Clean(&auth.authn.method)) }
                        dt { "Multi-factor" } dd { (mark(auth.authn.mfa)) }
                        dt { "Assurance level" } dd { (Clean(&auth.authn.assurance)) }
                        dt { "Signed in at" } dd { (when(auth.authn.authenticated_at)) }
                        dt { "Approved at" } dd { (when(auth.time)) }
                        dt { "Change ticket" } dd { (Clean(&auth.ticket)) }
                    }
                }
                div {
                    h3 { "The plan" }
                    dl.kv {
                        dt { "Objective" } dd { (Clean(&auth.plan.objective)) }
                        dt { "Method" } dd { (Clean(&auth.plan.method)) }
                        dt { "Test approach" } dd { (Clean(&auth.plan.test_approach)) }
                        dt { "Backout" } dd { (Clean(&auth.plan.backout)) }
                    }
                }
                div {
                    h3 { "Scope" }
                    dl.kv {
                        dt { "Change class" } dd { (Clean(&auth.scope.change_class)) }
                        dt { "Targets" } dd { (code_list(&auth.scope.targets)) }
                        dt { "Allowed actions" } dd { (code_list(&auth.scope.actions)) }
                    }
                }
            }
            h3 { "The causal chain" }
            figure {
                (picture)
                figcaption {
                    "Read top to bottom: the person who approved, the automated pre-flight check, \
                    then each agent credential (a credential delegated by another sits indented \
                    under it, joined by an arrow) with the number of actions taken under it and \
                    whether its session was closed, and finally the human review. Boxes with a \
                    red dashed outline and a “⚠ RED FLAG” label are red flags; dashed grey boxes \
                    mark evidence that is missing. Click a box to jump to its record."
                }
            }
            (records(page, auth, &creds))
            details {
                summary {
                    (plural(actions.len() as u64, "agent action", "agent actions"))
                    " taken under this approval"
                    @if !problems.is_empty() {
                        " — " span.bad { "✗ " (problems.join(", ")) }
                    } @else if !actions.is_empty() {
                        " — " span.ok { "✓ all in scope and in time" }
                    }
                }
                @if actions.is_empty() { p { "None." } } @else { (action_rows(page, &actions, false)) }
            }
        }
    }
}

/// The tables of a chain's records: pre-flights, credentials, closures,
/// exceptions, reviews.
fn records(page: &mut Page, auth: &ChainReport, creds: &[&CredentialReport]) -> Markup {
    html! {
        @if !auth.preflights.is_empty() {
            h3 { "Pre-flight checks" }
            table {
                thead { tr {
                    th scope="col" { "Record" } th scope="col" { "Stage" } th scope="col" { "Verdict" }
                    th scope="col" { "Time" } th scope="col" { "Checked by" } th scope="col" { "Checks" }
                    th scope="col" { "Problems" }
                } }
                tbody {
                    @for pf in &auth.preflights {
                        @let problems = page.problems(pf.index, pf.valid);
                        tr class=[(problems.is_some()).then_some("flagged")] {
                            th scope="row" id=[page.record_id(pf.index)] { "#" (pf.index) }
                            td { (stage_word(pf.stage)) }
                            td {
                                @match pf.verdict {
                                    PreflightVerdict::Pass => span.ok { "✓ pass" },
                                    PreflightVerdict::Block => span.bad { "✗ block" },
                                }
                            }
                            td { (when(pf.time)) }
                            td { (Clean(&pf.signer)) }
                            td {
                                @if pf.checks.is_empty() { (DASH) }
                                @for (i, c) in pf.checks.iter().enumerate() {
                                    @if i > 0 { br; }
                                    (check_mark(&c.result)) b { (Clean(&c.name)) } ": " (Clean(&c.result))
                                    @let detail = dash(&c.detail);
                                    @if detail != DASH { " — " (clip(&detail, 160)) }
                                    @if !c.cves.is_empty() { " (" (list(&c.cves)) ")" }
                                }
                            }
                            td { @if let Some(p) = &problems { (p) } }
                        }
                    }
                }
            }
        }
        h3 { "Agent credentials" }
        @if creds.is_empty() {
            p { "No credential was issued under this approval." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Record" } th scope="col" { "Depth" } th scope="col" { "Agent" }
                    th scope="col" { "Delegated by" } th scope="col" { "Scope" } th scope="col" { "Serial" }
                    th scope="col" { "Valid" } th scope="col" { "Actions" }
                    th scope="col" { "Call outcomes" } th scope="col" { "Closed by" }
                    th scope="col" { "Session key" } th scope="col" { "Problems" }
                } }
                tbody {
                    @for c in creds {
                        @let problems = page.problems(c.index, c.valid);
                        tr class=[(problems.is_some()).then_some("flagged")] {
                            th scope="row" id=[page.record_id(c.index)] { "#" (c.index) }
                            td.c { (c.depth) }
                            td { b { (Clean(&c.agent.id)) } br; small { (Clean(&c.agent.model)) " " (Clean(&c.agent.version)) } }
                            td {
                                @match c.parent {
                                    Some(p) => { "credential " (page.link(p)) }
                                    None => { "the issuer" }
                                }
                            }
                            td {
                                small { "targets:" } " " code { (list(&c.scope.targets)) }
                                br;
                                small { "actions:" } " " code { (list(&c.scope.actions)) }
                            }
                            td { code { (short(&c.serial, 40)) } }
                            td { (validity(c.issued_at, c.expires_at)) }
                            td.c { (c.actions) }
                            td.c { (outcome_counts(c)) }
                            td {
                                @match c.closure {
                                    Some(z) => { "closure " (page.link(z)) }
                                    None => span.warn { "not closed" },
                                }
                            }
                            td { code.nw { (short(&c.session_key_id, 16)) } }
                            td { @if let Some(p) = &problems { (p) } }
                        }
                    }
                }
            }
        }
        @if !auth.closures.is_empty() {
            h3 { "Session closures" }
            table {
                thead { tr {
                    th scope="col" { "Record" } th scope="col" { "Credential" } th scope="col" { "Reason" }
                    th scope="col" { "Started" } th scope="col" { "Ended" }
                    th scope="col" { "Actions reported" } th scope="col" { "Summary" }
                    th scope="col" { "Problems" }
                } }
                tbody {
                    @for z in &auth.closures {
                        @let problems = page.problems(z.index, z.valid);
                        tr class=[(problems.is_some()).then_some("flagged")] {
                            th scope="row" id=[page.record_id(z.index)] { "#" (z.index) }
                            td { (page.link_opt(z.credential)) }
                            td { (reason_word(z.reason)) }
                            td { (when(z.started_at)) }
                            td { (when(z.ended_at)) }
                            td.c { (z.actions) }
                            td { (short(&z.summary, 200)) }
                            td { @if let Some(p) = &problems { (p) } }
                        }
                    }
                }
            }
        }
        @if !auth.exceptions.is_empty() {
            h3 { "Exceptions" }
            table {
                thead { tr {
                    th scope="col" { "Record" } th scope="col" { "On" } th scope="col" { "Reason" }
                    th scope="col" { "Time" } th scope="col" class="c" { "Credential revoked" }
                    th scope="col" { "Problems" }
                } }
                tbody {
                    @for row in sample(&auth.exceptions, LIST, |ex| !ex.valid || !page.flags_of(ex.index).is_empty()) {
                        @match row {
                            Row::Omitted(n) => (omitted_row(n, 6, ("more exception", "more exceptions"), REPORT_NOTE)),
                            Row::Shown(ex) => {
                                @let problems = page.problems(ex.index, ex.valid);
                                tr {
                                    th scope="row" id=[page.record_id(ex.index)] { "#" (ex.index) }
                                    td {
                                        @if let Some(c) = ex.credential { "credential " (page.link(c)) }
                                        @if ex.credential.is_some() && ex.action.is_some() { ", " }
                                        @if let Some(a) = ex.action { "action " (page.link(a)) }
                                        @if ex.credential.is_none() && ex.action.is_none() { (DASH) }
                                        @if let Some(d) = &ex.call_digest {
                                            br; small { "refused call " code title=(d) { (clip(d, 23)) } }
                                        }
                                    }
                                    td { (Clean(&ex.reason)) }
                                    td { (when(ex.time)) }
                                    td.c { (yes_no(ex.revoked)) }
                                    td { @if let Some(p) = &problems { (p) } }
                            }
                            }
                        }
                    }
                }
            }
        }
        @if !auth.outcomes.is_empty() {
            h3 { "Call outcomes" }
            p { small { "How each recorded tool call returned. Results are never logged, only their digest." } }
            table {
                thead { tr {
                    th scope="col" { "Record" } th scope="col" { "Action" } th scope="col" { "Status" }
                    th scope="col" { "Result digest" } th scope="col" { "Time" } th scope="col" { "Signed by" }
                    th scope="col" { "Problems" }
                } }
                tbody {
                    @for row in sample(&auth.outcomes, LIST, |o| !o.valid || o.status != OutcomeStatus::Ok) {
                        @match row {
                            Row::Omitted(n) => (omitted_row(n, 7, ("more outcome", "more outcomes"), ACTIONS_NOTE)),
                            Row::Shown(o) => {
                                @let problems = page.problems(o.index, o.valid);
                                tr class=[(problems.is_some()).then_some("flagged")] {
                                    th scope="row" id=[page.record_id(o.index)] { "#" (o.index) }
                                    td { (page.link_opt(o.action)) }
                                    td { (status_mark(o.status, o.error.as_deref())) }
                                    td { code.nw title=(o.result_digest) { (clip(&o.result_digest, 23)) } }
                                    td { (when(o.time)) }
                                    td { (Clean(&o.signer)) }
                                    td { @if let Some(p) = &problems { (p) } }
                            }
                            }
                        }
                    }
                }
            }
        }
        h3 { "Human review" }
        @if auth.reviews.is_empty() {
            p.warn { "No review was recorded for this change." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Record" } th scope="col" { "Reviewer" } th scope="col" { "Verdict" }
                    th scope="col" { "Started" } th scope="col" { "Finished" } th scope="col" { "Took" }
                    th scope="col" { "Items" } th scope="col" { "Problems" }
                } }
                tbody {
                    @for rv in &auth.reviews {
                        @let problems = page.problems(rv.index, rv.valid);
                        tr class=[(problems.is_some()).then_some("flagged")] {
                            th scope="row" id=[page.record_id(rv.index)] { "#" (rv.index) }
                            td {
                                b { (claimed(&rv.reviewer.subject, &rv.signer)) }
                                br;
                                small { (Clean(&rv.reviewer.issuer)) }
                            }
                            td { (Clean(&rv.verdict)) }
                            td { (when(rv.started_at)) }
                            td { (when(rv.finished_at)) }
                            td { (duration(seconds(rv.started_at, rv.finished_at))) }
                            td { (rv.items) }
                            td { @if let Some(p) = &problems { (p) } }
                        }
                    }
                }
            }
        }
    }
}

/// Where the rows a list leaves out are: every action (with its outcome)
/// is in the actions file.
const ACTIONS_NOTE: &str = ACTIONS_FILE;
/// Exceptions past the page's are in `report.json` (up to its cap) and the
/// log; the page says so rather than name a file that lacks some.
const REPORT_NOTE: &str = "report.json";

/// The row in place of `n` rows a table of `cols` columns leaves out, saying
/// where they are.
fn omitted_row(n: usize, cols: usize, (one, many): (&str, &str), file: &str) -> Markup {
    html! {
        tr.omitted {
            td colspan=(cols) {
                "… " (plural(n as u64, one, many)) " not shown here: see "
                a href=(file) { code { (file) } } " beside this page"
                @if file == REPORT_NOTE { " (its first " (LIST_CAP) " per change) or " code { "causeway find" } }
                "."
            }
        }
    }
}

/// One table row per action, the first and last and the flagged ones of a
/// long list ([`sample`]); `with_human` adds who approved it.
fn action_rows(page: &mut Page, actions: &[&ActionReport], with_human: bool) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { "Record" } th scope="col" { "Time" } th scope="col" { "Tool" }
                th scope="col" { "Target" } th scope="col" { "What it did" }
                th scope="col" { "Credential (delegation path)" }
                @if with_human { th scope="col" { "Approved by" } }
                th scope="col" class="c" { "In scope" }
                th scope="col" class="c" { "Within lifetime" }
                th scope="col" { "Returned" }
                th scope="col" { "Problems" }
            } }
            tbody {
                @for row in sample(actions, LIST, |a| !a.valid || !a.in_scope || !a.within_lifetime || !a.red_flags.is_empty()) {
                    @match row {
                        Row::Omitted(n) => (omitted_row(n, if with_human { 11 } else { 10 }, ("more action", "more actions"), ACTIONS_NOTE)),
                        Row::Shown(a) => {
                                @let a = *a;
                            // The action's flags as the analysis attached them.
                            @let flags: Vec<&RedFlag> = a.red_flags.iter().filter_map(|&i| page.flag(i)).collect();
                            @let problems = page.problems_with(&flags, a.valid);
                            tr class=[(problems.is_some()).then_some("flagged")] {
                                th scope="row" id=[page.record_id(a.index)] {
                                    span title={ "leaf hash " (a.leaf_hash) } { "#" (a.index) }
                                }
                                td { (when(a.time)) }
                                td { code { (short(&a.tool, 80)) } }
                                td { code { (short(&a.target, 120)) } }
                                td { (short(&a.summary, 160)) }
                                td {
                                    @if a.delegation_path.is_empty() {
                                        (page.link_opt(a.credential))
                                    }
                                    @for (i, &c) in a.delegation_path.iter().enumerate() {
                                        @if i > 0 { " → " }
                                        (page.link(c))
                                    }
                                }
                                @if with_human {
                                    td {
                                        @match (&a.authorized_by, a.authorization.and_then(|i| page.authorization(i))) {
                                            (Some(_), Some(auth)) => (claimed(&auth.approver.subject, &auth.signer)),
                                            (Some(by), None) => (Clean(&by.subject)),
                                            (None, _) => span.bad { "✗ nobody" },
                                        }
                                    }
                                }
                                td.c { (mark(a.in_scope)) }
                                td.c { (mark(a.within_lifetime)) }
                                td { (action_outcome(page, a.outcome.as_ref())) }
                                td { @if let Some(p) = &problems { (p) } }
                        }
                        }
                    }
                }
            }
        }
    }
}

/// The actions no chain above shows, if there are any.
pub(super) fn unlinked_actions(page: &mut Page) -> Option<Markup> {
    let report = page.report;
    let rest: Vec<&ActionReport> = report
        .actions
        .iter()
        .filter(|a| !page.shown_actions.contains(&a.index))
        .collect();
    if rest.is_empty() {
        return None;
    }
    Some(html! {
        section #unlinked {
            h2 { "Actions not traced to an approval shown above" }
            p.bad {
                "⚠ " (plural(rest.len() as u64, "agent action", "agent actions"))
                " could not be placed under any human approval in this report."
            }
            (action_rows(page, &rest, true))
        }
    })
}
