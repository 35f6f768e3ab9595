//! npm's `package-lock.json`, lockfile versions 2 and 3.
//!
//! Both list every installed package under `packages`, keyed by its path
//! (`node_modules/a/node_modules/b`); version 1 has only the nested
//! `dependencies` tree and is refused rather than half-read.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageLock {
    lockfile_version: u32,
    #[serde(default)]
    packages: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    link: bool,
}

/// The npm packages a `package-lock.json` installs.
pub(super) fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let lock: PackageLock = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if !(2..=3).contains(&lock.lockfile_version) {
        return Err(format!(
            "lockfileVersion {} is not supported; expected 2 or 3 (npm 7 or later)",
            lock.lockfile_version
        ));
    }
    let mut out = Vec::new();
    for (path, entry) in lock.packages {
        // "" is the project itself; links point at workspace folders whose
        // own entry (if installed from the registry) is listed separately.
        if path.is_empty() || entry.link {
            continue;
        }
        let Some(installed) = path.rsplit_once("node_modules/").map(|(_, name)| name) else {
            // A workspace folder ("packages/x"), not an installed package.
            continue;
        };
        let name = entry.name.unwrap_or_else(|| installed.to_owned());
        let version = entry
            .version
            .ok_or_else(|| format!("packages[{path:?}] has no version"))?;
        out.push((name, version));
    }
    Ok(out)
}
