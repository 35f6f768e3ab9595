//! From an MCP tool call to the terms of a credential's scope: the
//! operation (`scope.actions`), the target (`scope.targets`), the summary
//! the record shows and the digests it carries. Pure: no I/O.

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// How one upstream tool maps to the scope's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolMap {
    /// The upstream's name.
    pub upstream: String,
    /// The tool's name on that upstream.
    pub tool: String,
    /// The operation matched against `scope.actions`.
    pub action: String,
    /// How the target is formed from the arguments.
    pub target: TargetRule,
    /// The argument fields the summary shows, in order.
    pub summary: Vec<String>,
    /// Of those, the ones shown as `[redacted]`.
    pub redact: Vec<String>,
}

impl ToolMap {
    /// The mapping of a tool no `[[tool]]` table names: operation
    /// `<upstream>.<tool>`, target the upstream's name, no argument in the
    /// summary.
    pub fn default_for(upstream: &str, tool: &str) -> ToolMap {
        ToolMap {
            upstream: upstream.to_owned(),
            tool: tool.to_owned(),
            action: format!("{upstream}.{tool}"),
            target: TargetRule::literal(upstream),
            summary: Vec::new(),
            redact: Vec::new(),
        }
    }

    /// The summary the record shows: the tool and the listed argument
    /// fields, redacted ones as `[redacted]`, long values cut. Nothing
    /// else of the arguments is ever written in clear.
    pub fn summary(&self, arguments: &Map<String, Value>) -> String {
        let mut out = format!("{}.{}", self.upstream, self.tool);
        for field in &self.summary {
            let shown = match arguments.get(field) {
                None => continue,
                Some(_) if self.redact.contains(field) => "[redacted]".to_owned(),
                Some(Value::String(s)) => cut(s),
                Some(other) => cut(&other.to_string()),
            };
            out.push_str(&format!(" {field}={shown}"));
        }
        out
    }
}

/// At most 80 characters of `s`, marked when cut, so one argument cannot
/// make a record large.
fn cut(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

/// A target template: literal text with `{arguments.<path>}` placeholders,
/// `<path>` a dot-separated path into the call's arguments
/// (`repo:{arguments.repo}`, `fs:{arguments.path}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetRule {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Argument(Vec<String>),
}

/// A target template that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// A `{` without its `}`.
    #[error("{template:?}: a {{ is not closed; write placeholders as {{arguments.name}}")]
    Unclosed {
        /// The template.
        template: String,
    },
    /// A placeholder that is not `arguments.<path>`.
    #[error(
        "{template:?}: placeholder {{{placeholder}}} must be {{arguments.<field>}} (dots go into \
         nested objects)"
    )]
    Placeholder {
        /// The template.
        template: String,
        /// What was between the braces.
        placeholder: String,
    },
}

/// Why a call's target cannot be formed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the call has no string or number argument {path} (the gate names the call's target from it)"
)]
pub struct MissingArgument {
    /// The argument's path, `a.b`.
    pub path: String,
}

impl TargetRule {
    /// A target that is always `text`.
    pub fn literal(text: &str) -> TargetRule {
        TargetRule {
            parts: vec![Part::Text(text.to_owned())],
        }
    }

    /// Parses a template.
    ///
    /// # Errors
    /// An unclosed brace, or a placeholder not of the form
    /// `{arguments.<path>}`.
    pub fn parse(template: &str) -> Result<TargetRule, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| TemplateError::Unclosed {
                template: template.to_owned(),
            })?;
            let inner = &after[..close];
            let path: Vec<String> = match inner.strip_prefix("arguments.") {
                Some(p) if !p.is_empty() && p.split('.').all(|s| !s.is_empty()) => {
                    p.split('.').map(str::to_owned).collect()
                }
                _ => {
                    return Err(TemplateError::Placeholder {
                        template: template.to_owned(),
                        placeholder: inner.to_owned(),
                    });
                }
            };
            parts.push(Part::Argument(path));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(TargetRule { parts })
    }

    /// The target of a call with these arguments.
    ///
    /// # Errors
    /// A placeholder's argument is absent, or not a string or number (an
    /// object's text would make a target no scope names).
    pub fn target(&self, arguments: &Map<String, Value>) -> Result<String, MissingArgument> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Argument(path) => {
                    let missing = || MissingArgument {
                        path: path.join("."),
                    };
                    let mut value = arguments.get(&path[0]);
                    for key in &path[1..] {
                        value = value.and_then(|v| v.get(key));
                    }
                    match value.ok_or_else(missing)? {
                        Value::String(s) => out.push_str(s),
                        Value::Number(n) => out.push_str(&n.to_string()),
                        _ => return Err(missing()),
                    }
                }
            }
        }
        Ok(out)
    }
}

/// `sha256:` and the hex SHA-256 of the JCS (RFC 8785) form of `value`:
/// the same JSON gives the same digest whatever its key order or spacing,
/// so anyone holding the arguments can check the record without the gate.
pub fn digest(value: &Value) -> String {
    // serde_json's output for a `Value` is already JCS but for key order
    // and number forms; the canonicalizer does all of RFC 8785.
    let canonical = serde_json_canonicalizer::to_vec(value).unwrap_or_else(|_| {
        // A `Value` always serializes; keep the digest defined regardless.
        value.to_string().into_bytes()
    });
    format!("sha256:{}", hex::encode(Sha256::digest(canonical)))
}

/// [`digest`] of anything that serializes to JSON (a tool's result, an
/// error): its JSON form, canonicalized.
pub fn digest_of(value: &impl serde::Serialize) -> String {
    digest(&serde_json::to_value(value).unwrap_or(Value::Null))
}

/// The digest of a refused call, `{"name", "arguments"}`, which the
/// exception names: there is no action record to point at.
pub fn call_digest(name: &str, arguments: &Map<String, Value>) -> String {
    digest(&serde_json::json!({ "name": name, "arguments": arguments }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn templates_name_targets_from_arguments() {
        let rule = TargetRule::parse("repo:{arguments.repo}").unwrap();
        assert_eq!(
            rule.target(&args(json!({"repo": "acme/api", "x": 1}))),
            Ok("repo:acme/api".to_owned())
        );
        let nested = TargetRule::parse("{arguments.svc.name}@{arguments.env}").unwrap();
        assert_eq!(
            nested.target(&args(json!({"svc": {"name": "billing"}, "env": 3}))),
            Ok("billing@3".to_owned())
        );
        assert_eq!(
            rule.target(&args(json!({"repository": "acme/api"}))),
            Err(MissingArgument {
                path: "repo".to_owned()
            })
        );
        // An object would make a target no scope names: refused.
        assert!(rule.target(&args(json!({"repo": {"a": 1}}))).is_err());
        assert_eq!(
            TargetRule::literal("git").target(&Map::new()),
            Ok("git".to_owned())
        );
    }

    #[test]
    fn bad_templates_say_how_to_write_them() {
        assert!(matches!(
            TargetRule::parse("repo:{arguments.repo"),
            Err(TemplateError::Unclosed { .. })
        ));
        for bad in ["{repo}", "{arguments.}", "{arguments..a}", "{}"] {
            assert!(
                matches!(
                    TargetRule::parse(bad),
                    Err(TemplateError::Placeholder { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn summaries_show_only_the_listed_fields_and_redact() {
        let map = ToolMap {
            summary: vec!["repo".into(), "message".into(), "absent".into()],
            redact: vec!["message".into()],
            ..ToolMap::default_for("git", "git_commit")
        };
        let long = "x".repeat(200);
        let s = map.summary(&args(
            json!({"repo": long, "message": "secret token", "token": "hunter2"}),
        ));
        assert!(s.starts_with("git.git_commit repo=xxxx"), "{s}");
        assert!(s.ends_with("… message=[redacted]"), "{s}");
        assert!(!s.contains("secret") && !s.contains("hunter2"), "{s}");
        assert_eq!(ToolMap::default_for("fs", "read").action, "fs.read");
    }

    #[test]
    fn digests_are_of_the_canonical_form() {
        // RFC 8785: key order and spacing do not change the digest...
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": [true, "x"]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":[true,"x"],"b":1}"#).unwrap();
        assert_eq!(digest(&a), digest(&b));
        // ... and it is SHA-256 of exactly that form.
        assert_eq!(
            digest(&a),
            format!(
                "sha256:{}",
                hex::encode(Sha256::digest(br#"{"a":[true,"x"],"b":1}"#))
            )
        );
        assert_ne!(digest(&a), digest(&json!({"a": [true, "y"], "b": 1})));
        assert_ne!(
            call_digest("echo", &args(json!({"t": 1}))),
            call_digest("echo2", &args(json!({"t": 1})))
        );
    }
}
