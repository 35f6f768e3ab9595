//! Python: pinned `requirements.txt` (as `pip freeze` or `pip-compile`
//! write it) and Poetry's `poetry.lock`.
//!
//! A requirements line is a PEP 508 requirement; only the pinned form
//! `NAME[EXTRAS]==VERSION [; MARKER] [--hash=…]` says which version is
//! installed, so that is the one form parsed here, by hand, rather than
//! through a full PEP 508 parser. Any other requirement (`>=`, a URL, an
//! editable path) is refused with its line: an unpinned dependency cannot
//! be checked, and skipping it would pass what was never checked.

use serde::Deserialize;

/// The pinned requirements of a `requirements.txt`.
pub(super) fn parse_requirements(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    // Backslash-continued lines are one logical line (pip-compile puts each
    // `--hash` on a line of its own).
    let mut logical = String::new();
    let mut first_line = 0;
    for (number, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            first_line = number + 1;
        }
        let content = strip_comment(raw);
        if let Some(head) = content.trim_end().strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(content);
        let line = std::mem::take(&mut logical);
        if let Some(pin) =
            pinned_requirement(line.trim()).map_err(|e| format!("line {first_line}: {e}"))?
        {
            out.push(pin);
        }
    }
    Ok(out)
}

/// A comment starts at `#` at the line's start or after whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn pinned_requirement(line: &str) -> Result<Option<(String, String)>, String> {
    if line.is_empty() {
        return Ok(None);
    }
    if line.starts_with('-') {
        // Options: an index URL, constraints, an editable install. Those that
        // install something (`-e`, `-r`) cannot be checked from this file.
        return match line.split_whitespace().next() {
            Some("-e" | "--editable" | "-r" | "--requirement" | "-c" | "--constraint") => Err(
                format!("{line:?} is not a pinned requirement; list the resolved packages"),
            ),
            _ => Ok(None),
        };
    }
    // Drop the marker and options: `NAME==VERSION ; marker --hash=…`.
    let requirement = line.split(';').next().unwrap_or(line);
    let requirement = requirement
        .split(" --")
        .next()
        .unwrap_or(requirement)
        .trim();
    let Some((name, version)) = requirement
        .split_once("===")
        .or_else(|| requirement.split_once("=="))
    else {
        return Err(format!("{requirement:?} is not pinned with =="));
    };
    let name = name.split('[').next().unwrap_or(name).trim();
    let version = version.trim();
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_name {
        return Err(format!("{name:?} is not a package name"));
    }
    if version.is_empty() || version.contains(['*', ',', ' ', '<', '>', '!', '~']) {
        return Err(format!("{requirement:?} is not pinned to one version"));
    }
    Ok(Some((name.to_owned(), version.to_owned())))
}

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<PoetrySource>,
}

#[derive(Deserialize)]
struct PoetrySource {
    #[serde(rename = "type")]
    kind: String,
}

/// The PyPI packages a `poetry.lock` pins.
pub(super) fn parse_poetry_lock(text: &str) -> Result<Vec<(String, String)>, String> {
    let lock: PoetryLock = toml::from_str(text).map_err(|e| e.to_string())?;
    Ok(lock
        .package
        .into_iter()
        // `git`, `directory`, `file` and `url` sources are not PyPI
        // releases; a `legacy` source is a PyPI-compatible index.
        .filter(|p| p.source.as_ref().is_none_or(|s| s.kind == "legacy"))
        .map(|p| (p.name, p.version))
        .collect())
}
