//! Text for people: record text made safe to show, times, durations,
//! counts, and the red-flag kinds in plain words.
//!
//! maud escapes every spliced value; [`Clean`] additionally drops what
//! would make a record's text read differently from what it is.

use std::borrow::Cow;

use causeway_records::Time;
use maud::{Markup, Render, html};

use crate::audit::FlagKind;
use crate::visible::{for_terminal, is_invisible};

/// Shown for anything missing or empty.
pub(super) const DASH: &str = "—";

/// Record text as a reader may see it: invisible characters (format
/// characters such as bidirectional overrides, zero-width spaces and tags,
/// and line separators) dropped, see [`crate::visible`]; other control
/// characters but newline and tab replaced by U+FFFD.
pub(super) fn visible(s: &str) -> Cow<'_, str> {
    if s.chars()
        .any(|c| is_invisible(c) || (c.is_control() && c != '\n' && c != '\t'))
    {
        Cow::Owned(for_terminal(s))
    } else {
        Cow::Borrowed(s)
    }
}

/// Record text, made [`visible`], or "—" when nothing visible is left.
pub(super) fn dash(s: &str) -> String {
    let v = visible(s);
    if v.trim().is_empty() {
        DASH.to_owned()
    } else {
        v.into_owned()
    }
}

/// Renders record text through [`dash`] (and maud's escaping).
pub(super) struct Clean<'a>(pub(super) &'a str);

impl Render for Clean<'_> {
    fn render_to(&self, buffer: &mut String) {
        dash(self.0).render_to(buffer);
    }
}

/// A list of record strings, comma-separated, or "—" when empty.
pub(super) fn list(items: &[String]) -> String {
    if items.is_empty() {
        return DASH.to_owned();
    }
    items.iter().map(|s| dash(s)).collect::<Vec<_>>().join(", ")
}

/// At most `n` characters, with an ellipsis when shortened.
pub(super) fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Record text shortened to `n` characters, the full text in a tooltip.
pub(super) fn short(s: &str, n: usize) -> Markup {
    let full = dash(s);
    if full.chars().count() <= n {
        html! { (full) }
    } else {
        html! { span title=(full) { (clip(&full, n)) } }
    }
}

/// "1 thing", "2 things".
pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "yes" or "no".
pub(super) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// ✓/✗ with a word, so the meaning never rests on color.
pub(super) fn mark(b: bool) -> Markup {
    if b {
        html! { span.ok { "✓ yes" } }
    } else {
        html! { span.bad { "✗ no" } }
    }
}

/// A time for people: "2026-11-22 09:30:00 UTC".
pub(super) fn when(t: Time) -> String {
    let s = t.to_rfc3339();
    let body = s.strip_suffix('Z').unwrap_or(&s);
    format!("{} UTC", body.replacen('T', " ", 1))
}

/// An RFC 3339 text for people, through the records' parser: as
/// [`when`] when it parses, else as it is (or "—").
pub(super) fn when_text(s: &str) -> String {
    match Time::parse_rfc3339(s.trim()) {
        Ok(t) => when(t),
        Err(_) => dash(s),
    }
}

/// A time given as POSIX seconds, for people.
pub(super) fn when_secs(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| Time::new(s, 0).ok())
        .map_or_else(|| secs.to_string(), when)
}

/// Whole seconds from `a` to `b` (negative when `b` is earlier).
pub(super) fn seconds(a: Time, b: Time) -> i64 {
    b.seconds() - a.seconds()
}

/// A duration in words.
pub(super) fn duration(secs: i64) -> String {
    match secs {
        s if s < 0 => "ends before it starts".into(),
        s if s < 120 => plural(s as u64, "second", "seconds"),
        s if s < 7200 => plural((s / 60) as u64, "minute", "minutes"),
        s if s < 172_800 => format!("{:.1} hours", s as f64 / 3600.0),
        s => plural((s / 86_400) as u64, "day", "days"),
    }
}

/// A validity period, short: "2026-11-22 09:30–10:30 UTC (60 minutes)"
/// within one day, else "from → to".
pub(super) fn validity(from: Time, to: Time) -> String {
    let (wf, wt) = (when(from), when(to));
    if wf.get(..10) == wt.get(..10) {
        format!(
            "{} {}–{} UTC ({})",
            &wf[..10],
            &wf[11..16],
            &wt[11..16],
            duration(seconds(from, to))
        )
    } else {
        format!("{wf} → {wt}")
    }
}

/// A name a record claims, followed always by the signer the auditor
/// verified, so a claimed name never stands alone; marked bad when the
/// signer is someone else (`identity_mismatch`).
pub(super) fn claimed(name: &str, signer: &str) -> Markup {
    let (name, signer) = (dash(name), dash(signer));
    html! {
        (name) " "
        small class=[(signer != name).then_some("bad")] { "(signed by " (signer) ")" }
    }
}

/// The plain-text form of [`claimed`], for the diagrams.
pub(super) fn claimed_plain(name: &str, signer: &str) -> String {
    format!("{} (signed by {})", dash(name), dash(signer))
}

/// A red flag's kind in plain words.
pub(super) fn kind_words(kind: FlagKind) -> &'static str {
    match kind {
        FlagKind::AgentActivityAsHuman => "An agent acted under a person's identity",
        FlagKind::SharedAgentIdentity => {
            "Two agent credentials share one identity or key, so their actions cannot be told apart"
        }
        FlagKind::ActionWithoutCredential => "An agent action with no valid credential behind it",
        FlagKind::IdentityMismatch => {
            "A person's record names someone other than the key that signed it"
        }
        FlagKind::CredentialWithoutAgentIdentity => {
            "A credential names no agent, so its actions are attributable to nobody"
        }
        FlagKind::ActionNotSignedBySession => {
            "An action was not signed by its credential's session key: someone else acted"
        }
        FlagKind::ActionOutOfScope => {
            "An agent action on a target, or with an operation, outside its credential's scope"
        }
        FlagKind::ActionAfterRevocation => {
            "An agent kept writing after its credential (or a parent one) was revoked or closed"
        }
        FlagKind::ActionWithoutOutcome => {
            "A tool call was recorded but never how it returned: it was cut off or its outcome lost"
        }
        FlagKind::OutcomeDuplicate => "One tool call has two recorded outcomes",
        FlagKind::CallRefused => {
            "An agent tried a tool call its approval does not allow; the gateway refused it"
        }
        FlagKind::RecordPredatesAdmission => {
            "A record claims a time before the log could have received it (backdated)"
        }
        FlagKind::ActionAfterExpiry => {
            "An agent action outside its credential's lifetime (expired, revoked or closed)"
        }
        FlagKind::DelegationWidensScope => {
            "A credential was given more than its parent credential or the approval allowed"
        }
        FlagKind::ImplausibleApprovalRate => {
            "A person approved or reviewed changes faster than is plausible"
        }
        FlagKind::ApprovalOutsideHours => "An approval or review outside working hours",
        FlagKind::ReviewTooFast => "The review was too quick to be a real review",
        FlagKind::SelfReview => "The person who approved the change also reviewed it",
        FlagKind::MissingPreflight => "A credential was issued without a proper pre-flight check",
        FlagKind::SelfPreflight => {
            "The agent vouched for itself: it signed its own pre-flight check"
        }
        FlagKind::BlockedPreflightIgnored => {
            "A credential was issued although the pre-flight check said block"
        }
        FlagKind::SessionWithoutClosure => "An expired agent session was never closed",
        FlagKind::AuthorizationWithoutMfa => {
            "The change was approved without multi-factor authentication"
        }
        FlagKind::AuthorizationNotIdpBound => {
            "The approver's sign-in is not proven by the company's identity provider"
        }
        FlagKind::BackdatedRecord => {
            "A record is dated later than its time-stamp proves it existed (backdated)"
        }
    }
}
