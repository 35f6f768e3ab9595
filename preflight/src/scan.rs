//! One lockfile matched against the OSV database: one check.

use std::collections::BTreeSet;

use crate::lockfile::{Lockfile, Package};
use crate::osv_db::OsvDatabase;
use crate::ranges::is_affected;
use crate::report::{CheckResult, Outcome};

/// One advisory that affects one locked package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The package.
    pub package: Package,
    /// The advisory's id (`GHSA-…`, `RUSTSEC-…`, `PYSEC-…`, `GO-…`).
    pub id: String,
    /// Its aliases, such as CVE ids.
    pub aliases: Vec<String>,
}

/// What matching one lockfile found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Advisories that affect a locked version.
    pub findings: Vec<Finding>,
    /// Packages an advisory names whose versions could not be compared
    /// (`package@version: advisory: reason`).
    pub unevaluable: Vec<String>,
    /// How many packages were checked.
    pub packages: usize,
}

/// Matches every package of `lockfile` against `db`.
pub fn scan(db: &OsvDatabase, lockfile: &Lockfile) -> Scan {
    let mut out = Scan {
        packages: lockfile.packages.len(),
        ..Scan::default()
    };
    for package in &lockfile.packages {
        let version = match package.ecosystem.parse_version(&package.version) {
            Ok(v) => v,
            Err(reason) => {
                if db.entries_for(package).next().is_some() {
                    out.unevaluable
                        .push(format!("{}@{}: {reason}", package.name, package.version));
                }
                continue;
            }
        };
        let mut seen = BTreeSet::new();
        for (advisory, affected) in db.entries_for(package) {
            match is_affected(package.ecosystem, affected, &version) {
                Ok(true) if seen.insert(advisory.id.clone()) => out.findings.push(Finding {
                    package: package.clone(),
                    id: advisory.id.clone(),
                    aliases: advisory.aliases.clone().unwrap_or_default(),
                }),
                Ok(_) => {}
                Err(reason) => out.unevaluable.push(format!(
                    "{}@{}: {}: {reason}",
                    package.name, package.version, advisory.id
                )),
            }
        }
    }
    out
}

impl Scan {
    /// The check this scan makes, named `name`: a block if any advisory
    /// affects a locked version or any could not be judged.
    pub fn into_check(self, name: String) -> CheckResult {
        let mut ids = BTreeSet::new();
        for f in &self.findings {
            ids.insert(f.id.clone());
            ids.extend(f.aliases.iter().cloned());
        }
        let mut parts: Vec<String> = self
            .findings
            .iter()
            .map(|f| {
                let aliases = if f.aliases.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", f.aliases.join(", "))
                };
                format!(
                    "{}@{}: {}{aliases}",
                    f.package.name, f.package.version, f.id
                )
            })
            .collect();
        parts.extend(self.unevaluable.iter().map(|u| format!("cannot judge {u}")));
        let outcome = if parts.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Block
        };
        let detail = if parts.is_empty() {
            format!("{} packages, no known vulnerability", self.packages)
        } else {
            format!("{} packages; {}", self.packages, parts.join("; "))
        };
        CheckResult {
            name,
            outcome,
            detail,
            ids: ids.into_iter().collect(),
        }
    }
}
