//! What a credential's scope allows: the one definition the gate enforces
//! before a tool call and the auditor judges after it, so the two cannot
//! disagree about the same action.

use crate::kinds::Scope;

impl Scope {
    /// Whether `target` is in scope: exactly one of `targets`. Targets are
    /// names of resources (`repo:acme/api`), not patterns, so a human
    /// approving `repo:acme/api` never approves `repo:acme/api-admin`.
    pub fn allows_target(&self, target: &str) -> bool {
        self.targets.iter().any(|t| t == target)
    }

    /// Whether `operation` matches one of the `actions` patterns
    /// ([`action_matches`]).
    pub fn allows_operation(&self, operation: &str) -> bool {
        self.actions
            .iter()
            .any(|pattern| action_matches(pattern, operation))
    }
}

/// Whether `text` matches the `scope.actions` pattern `pattern`: `*`
/// matches any run of characters (`/` and `:` included), `?` any one
/// character, everything else itself; the whole text must match. So
/// `git.push:branch/fix/*` allows `git.push:branch/fix/x`, and a pattern
/// without wildcards allows exactly itself (`deploy`).
///
/// Hand-written rather than taken from a crate: the crates' globs are for
/// file paths (`*` stops at `/`, `[...]` classes, `**`), which is not the
/// meaning `scope.actions` has; this is the classic two-pointer matcher,
/// linear in practice and never exponential.
pub fn action_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it is trying to absorb up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` absorb one more character and retry.
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    pi = sp + 1;
                    ti = st + 1;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}
