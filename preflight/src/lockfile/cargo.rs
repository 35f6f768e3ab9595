//! `Cargo.lock`, through RustSec's `cargo-lock` parser.

use std::str::FromStr;

/// The crates.io packages a `Cargo.lock` pins.
pub(super) fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let lockfile = cargo_lock::Lockfile::from_str(text).map_err(|e| e.to_string())?;
    Ok(lockfile
        .packages
        .into_iter()
        // Workspace members have no source; git, path and other-registry
        // crates are not the crates.io crates OSV's advisories name.
        .filter(|p| p.source.as_ref().is_some_and(|s| s.is_default_registry()))
        .map(|p| (p.name.as_str().to_owned(), p.version.to_string()))
        .collect())
}
