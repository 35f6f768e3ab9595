//! `--config FILE`: every command-line option, in TOML.
//!
//! Keys are the long flag names (`grpc-addr` or `grpc_addr`); values are
//! strings, numbers, booleans (for switches like `dev`) or arrays (for
//! repeatable options like `witness`). The file is turned into arguments
//! placed before the real ones, leaving out every option that the command
//! line or its environment variable already sets: flags win, then the
//! environment, then the file.

use std::ffi::OsString;
use std::path::Path;

/// A problem with the config file, for a one-line message and exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("config {path}: cannot read it: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML.
    #[error("config {path}: not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message, on one line.
        message: String,
    },
    /// A key that is not an option.
    #[error("config {path}: unknown key {key:?}{hint}")]
    UnknownKey {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// A suggestion, if one is close.
        hint: String,
    },
    /// A value of the wrong shape or rejected by the option.
    #[error("config {path}: {key} = {value}: {message}")]
    Value {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong.
        message: String,
    },
}

/// The options a config file may not set: they choose the file, or are
/// per-invocation switches.
const NOT_IN_FILE: [&str; 3] = ["config", "help", "version"];

/// The arguments `path` contributes before `argv` (without the program
/// name), given the command's options.
///
/// # Errors
/// [`ConfigError`] for an unreadable file, bad TOML, an unknown key or a
/// value an option rejects.
pub fn arguments(
    path: &Path,
    command: &clap::Command,
    argv: &[OsString],
) -> Result<Vec<OsString>, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: shown.clone(),
            message: e.message().replace('\n', " "),
        })?;
    let on_command_line = |long: &str| {
        argv.iter().any(|a| {
            let a = a.to_string_lossy();
            a == format!("--{long}") || a.starts_with(&format!("--{long}="))
        })
    };
    let mut out = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && !NOT_IN_FILE.contains(&long.as_str()))
            .ok_or_else(|| ConfigError::UnknownKey {
                path: shown.clone(),
                key: key.clone(),
                hint: suggestion(&long, command),
            })?;
        let from_env = arg
            .get_env()
            .is_some_and(|name| std::env::var_os(name).is_some());
        if on_command_line(&long) || from_env {
            continue;
        }
        let bad = |message: &str| ConfigError::Value {
            path: shown.clone(),
            key: key.clone(),
            value: value.to_string(),
            message: message.to_owned(),
        };
        let switch = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        let items: Vec<&toml::Value> = match value {
            toml::Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        for item in items {
            let text = match item {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) if switch => {
                    if *b {
                        out.push(OsString::from(format!("--{long}")));
                    }
                    continue;
                }
                _ => return Err(bad("expected a string, a number or a list of them")),
            };
            if switch {
                return Err(bad("this option is a switch: write true or false"));
            }
            out.push(OsString::from(format!("--{long}={text}")));
        }
    }
    // Let the options themselves judge the values, one key at a time, so
    // that the error names the key.
    for option in &out {
        let mut probe = command.clone();
        let Err(e) =
            probe.try_get_matches_from_mut([OsString::from("causeway-server"), option.clone()])
        else {
            continue;
        };
        if matches!(
            e.kind(),
            clap::error::ErrorKind::ValueValidation | clap::error::ErrorKind::InvalidValue
        ) {
            let flag = option.to_string_lossy();
            let (long, value) = flag
                .trim_start_matches("--")
                .split_once('=')
                .unwrap_or((&flag, ""));
            let first = e.to_string();
            let message = first
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_owned();
            return Err(ConfigError::Value {
                path: shown,
                key: long.to_owned(),
                value: format!("{value:?}"),
                message,
            });
        }
    }
    Ok(out)
}

/// ` (did you mean "x"?)` for the option closest to `key`, if close.
fn suggestion(key: &str, command: &clap::Command) -> String {
    let best = command
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| !NOT_IN_FILE.contains(l))
        .map(|l| (strsim::levenshtein(key, l), l))
        .min();
    match best {
        Some((d, l)) if d <= 2 => format!(" (did you mean {l:?}?)"),
        _ => "; the keys are the long option names of `causeway-server --help`".into(),
    }
}

/// Where `--config` (or `CAUSEWAY_CONFIG`) points, if anywhere.
pub fn requested(argv: &[OsString]) -> Option<OsString> {
    let mut iter = argv.iter();
    while let Some(a) = iter.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            return iter.next().cloned();
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(OsString::from(v));
        }
    }
    std::env::var_os("CAUSEWAY_CONFIG")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_option() {
        let command = clap::Command::new("t")
            .arg(clap::Arg::new("witness").long("witness"))
            .arg(clap::Arg::new("grpc-addr").long("grpc-addr"));
        assert_eq!(
            suggestion("witnes", &command),
            " (did you mean \"witness\"?)"
        );
        assert_eq!(
            suggestion("grpc-adr", &command),
            " (did you mean \"grpc-addr\"?)"
        );
        assert!(suggestion("xyz", &command).contains("the keys are the long option names"));
    }
}
