//! The plan file a human approves, in TOML:
//!
//! ```toml
//! ticket = "CHG-4821"
//! objective = "Fix rounding of ledger totals (PAY-3312)"
//! method = "Agent edits ledger/rounding.rs on a branch and opens a PR"
//! test_approach = "Unit tests, full CI, reconciliation diff in staging"
//! backout = "Close the PR, or revert the merge and redeploy v4.18.2"
//! # The change window: not_before, and either not_after or valid_for (a
//! # duration such as "4h"). Both ends are written down, not taken from
//! # the clock: the plan's digest (the login's nonce) covers them, so the
//! # same file must give the same digest on every run.
//! not_before = "2026-12-03T12:00:00Z"
//! valid_for = "4h"
//!
//! [scope]
//! change_class = "standard"
//! targets = ["github.com/acme/payments-service"]
//! actions = ["git.clone", "git.push:branch/fix/*", "github.pull_request.create"]
//! ```

use std::fmt::Write as _;

use causeway_records::{Authn, Authorization, Identity, Plan, Scope, Time};
use serde::Deserialize;

/// A plan file that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Not valid TOML, or an unknown or missing field.
    #[error("{0}")]
    Toml(String),
    /// A field is empty.
    #[error("{0} is empty: a person must be able to read what they approve")]
    Empty(&'static str),
    /// A time is not RFC 3339 UTC.
    #[error("{field}: {message}; write RFC 3339 UTC such as 2026-12-03T12:00:00Z")]
    Time {
        /// The field.
        field: &'static str,
        /// The parser's reason.
        message: String,
    },
    /// The window is missing, doubled or empty.
    #[error("{0}")]
    Window(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    ticket: String,
    objective: String,
    method: String,
    test_approach: String,
    backout: String,
    not_before: String,
    not_after: Option<String>,
    valid_for: Option<String>,
    scope: ScopeFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeFile {
    change_class: String,
    targets: Vec<String>,
    actions: Vec<String>,
}

fn time(field: &'static str, text: &str) -> Result<Time, PlanError> {
    Time::parse_rfc3339(text).map_err(|e| PlanError::Time {
        field,
        message: e.to_string(),
    })
}

/// Reads a plan file into an authorization made at `now`, whose approver
/// and login are still blank (filled by the login, or by the caller).
///
/// # Errors
/// [`PlanError`] naming the field.
pub fn parse(text: &str, now: Time) -> Result<Authorization, PlanError> {
    let file: PlanFile = toml::from_str(text).map_err(|e| PlanError::Toml(e.to_string()))?;
    for (field, value) in [
        ("ticket", &file.ticket),
        ("objective", &file.objective),
        ("method", &file.method),
        ("test_approach", &file.test_approach),
        ("backout", &file.backout),
        ("scope.change_class", &file.scope.change_class),
    ] {
        if value.trim().is_empty() {
            return Err(PlanError::Empty(field));
        }
    }
    if file.scope.targets.is_empty() {
        return Err(PlanError::Empty("scope.targets"));
    }
    if file.scope.actions.is_empty() {
        return Err(PlanError::Empty("scope.actions"));
    }
    let not_before = time("not_before", &file.not_before)?;
    let not_after = match (&file.not_after, &file.valid_for) {
        (Some(t), None) => time("not_after", t)?,
        (None, Some(d)) => {
            let secs = humantime::parse_duration(d)
                .map_err(|e| PlanError::Window(format!("valid_for {d:?}: {e}")))?
                .as_secs();
            let end = i64::try_from(secs)
                .ok()
                .and_then(|s| not_before.seconds().checked_add(s))
                .ok_or_else(|| PlanError::Window(format!("valid_for {d:?} is too long")))?;
            Time::new(end, 0).map_err(|e| PlanError::Window(e.to_string()))?
        }
        _ => {
            return Err(PlanError::Window(String::from(
                "give exactly one of not_after and valid_for: the approval must end",
            )));
        }
    };
    if not_after <= not_before {
        return Err(PlanError::Window(format!(
            "not_after {not_after} is not after not_before {not_before}"
        )));
    }
    Ok(Authorization {
        approver: Identity {
            subject: String::new(),
            issuer: String::new(),
        },
        authn: Authn {
            method: String::new(),
            mfa: false,
            assurance: String::new(),
            authenticated_at: now,
            id_token: None,
        },
        plan: Plan {
            objective: file.objective,
            method: file.method,
            test_approach: file.test_approach,
            backout: file.backout,
        },
        scope: Scope {
            change_class: file.scope.change_class,
            targets: file.scope.targets,
            actions: file.scope.actions,
        },
        ticket: file.ticket,
        not_before,
        not_after,
        time: now,
    })
}

/// The plan as the approver reads it before confirming.
pub fn describe(a: &Authorization) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Change {} ({})", a.ticket, a.scope.change_class);
    let _ = writeln!(out, "  Objective:     {}", a.plan.objective);
    let _ = writeln!(out, "  Method:        {}", a.plan.method);
    let _ = writeln!(out, "  Test approach: {}", a.plan.test_approach);
    let _ = writeln!(out, "  Backout:       {}", a.plan.backout);
    let _ = writeln!(out, "  Window:        {} to {}", a.not_before, a.not_after);
    let _ = writeln!(out, "  Targets:");
    for t in &a.scope.targets {
        let _ = writeln!(out, "    - {t}");
    }
    let _ = writeln!(out, "  Actions:");
    for t in &a.scope.actions {
        let _ = writeln!(out, "    - {t}");
    }
    let _ = writeln!(out, "  Plan digest (OIDC nonce): {}", a.idp_nonce());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
ticket = "CHG-1"
objective = "o"
method = "m"
test_approach = "t"
backout = "b"
not_before = "2026-12-03T12:00:00Z"
valid_for = "4h"
[scope]
change_class = "standard"
targets = ["repo:a"]
actions = ["git.push:branch/*"]
"#;

    #[test]
    fn a_plan_file_becomes_an_authorization_with_its_window() {
        let now = Time::parse_rfc3339("2026-12-03T11:00:00Z").unwrap();
        let a = parse(PLAN, now).unwrap();
        assert_eq!(a.not_after.to_string(), "2026-12-03T16:00:00Z");
        assert_eq!(a.scope.targets, ["repo:a"]);
        assert!(describe(&a).contains(&a.idp_nonce()));
    }

    #[test]
    fn a_plan_without_an_end_or_with_blanks_is_refused() {
        let now = Time::parse_rfc3339("2026-12-03T11:00:00Z").unwrap();
        let e = parse(&PLAN.replace("valid_for = \"4h\"\n", ""), now).unwrap_err();
        assert!(e.to_string().contains("not_after"), "{e}");
        let e = parse(&PLAN.replace("backout = \"b\"", "backout = \" \""), now).unwrap_err();
        assert!(e.to_string().contains("backout"), "{e}");
        let e = parse(&format!("{PLAN}\nextra = 1"), now).unwrap_err();
        assert!(e.to_string().contains("extra"), "{e}");
    }
}
