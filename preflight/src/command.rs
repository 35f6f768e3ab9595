//! Custom checks: `--check NAME=CMD` runs CMD, and exit status 0 passes.

use std::process::{Command, Stdio};

use crate::Error;
use crate::report::{CheckResult, Outcome};

/// Longest detail kept from a command's output.
const DETAIL_MAX: usize = 300;

/// A named command whose exit status is the check's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomCheck {
    /// The check's name.
    pub name: String,
    /// The command line, run by `sh -c`.
    pub command: String,
}

impl CustomCheck {
    /// Parses `NAME=CMD`; the name is letters, digits, `.`, `_` and `-`.
    ///
    /// # Errors
    /// [`Error::CustomCheck`] if there is no `=`, the name is empty or has
    /// other characters, or the command is empty.
    pub fn parse(arg: &str) -> Result<CustomCheck, Error> {
        let bad = |reason| Error::CustomCheck {
            arg: arg.to_owned(),
            reason,
        };
        let (name, command) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected NAME=CMD"))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(bad("NAME must be letters, digits, '.', '_' or '-'"));
        }
        if command.trim().is_empty() {
            return Err(bad("CMD is empty"));
        }
        Ok(CustomCheck {
            name: name.to_owned(),
            command: command.to_owned(),
        })
    }

    /// Runs the command (an I/O edge) with no standard input and waits for
    /// it. Exit status 0 passes; any other status, death by a signal, or a
    /// command that cannot start blocks. The detail is the status and the
    /// last line the command wrote (standard error first).
    pub fn run(&self) -> CheckResult {
        let output = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .output();
        let (outcome, detail) = match output {
            Err(e) => (
                Outcome::Block,
                format!("cannot run {:?}: {e}", self.command),
            ),
            Ok(out) => {
                let outcome = if out.status.success() {
                    Outcome::Pass
                } else {
                    Outcome::Block
                };
                let last = last_line(&out.stderr).or_else(|| last_line(&out.stdout));
                let detail = match last {
                    Some(line) => format!("{}: {line}", out.status),
                    None => out.status.to_string(),
                };
                (outcome, detail)
            }
        };
        CheckResult {
            name: self.name.clone(),
            outcome,
            detail,
            ids: Vec::new(),
        }
    }
}

fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(DETAIL_MAX).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_commands_are_checked() {
        let c = CustomCheck::parse("unit-tests=cargo test --x=1").unwrap();
        assert_eq!(c.name, "unit-tests");
        assert_eq!(c.command, "cargo test --x=1");
        for bad in ["nocommand", "=true", "a b=true", "a="] {
            assert!(CustomCheck::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exit_status_is_the_result() {
        let pass = CustomCheck::parse("ok=echo fine").unwrap().run();
        assert_eq!(pass.outcome, Outcome::Pass);
        assert_eq!(pass.detail, "exit status: 0: fine");
        let block = CustomCheck::parse("lint=echo noisy; echo 2 warnings >&2; exit 3")
            .unwrap()
            .run();
        assert_eq!(block.outcome, Outcome::Block);
        assert_eq!(block.detail, "exit status: 3: 2 warnings");
        let missing = CustomCheck::parse("gone=/nonexistent/tool").unwrap().run();
        assert_eq!(missing.outcome, Outcome::Block);
    }
}
