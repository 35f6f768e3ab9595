//! The package ecosystems a pre-flight checks, with each one's package-name
//! rule and version order.
//!
//! OSV names ecosystems by exact strings (`crates.io`, `npm`, `PyPI`,
//! `Go`); versions are compared in the ecosystem's own order: Semantic
//! Versioning for crates.io, npm and Go, PEP 440 for PyPI.

use std::cmp::Ordering;
use std::fmt;

/// A package ecosystem with an OSV name and a lockfile format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// Rust crates from crates.io (`Cargo.lock`).
    CratesIo,
    /// npm packages (`package-lock.json`).
    Npm,
    /// Python packages from PyPI (`requirements.txt`, `poetry.lock`).
    PyPI,
    /// Go modules (`go.sum`).
    Go,
}

impl Ecosystem {
    /// Every ecosystem checked.
    pub const ALL: [Ecosystem; 4] = [
        Ecosystem::CratesIo,
        Ecosystem::Npm,
        Ecosystem::PyPI,
        Ecosystem::Go,
    ];

    /// The name OSV gives the ecosystem in `affected[].package.ecosystem`.
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Npm => "npm",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Go => "Go",
        }
    }

    /// The ecosystem OSV names `name`, if it is one checked here.
    pub fn from_osv_name(name: &str) -> Option<Ecosystem> {
        Ecosystem::ALL.into_iter().find(|e| e.osv_name() == name)
    }

    /// The package name under which lockfile and advisory names compare
    /// equal.
    ///
    /// PyPI names are normalized as PEP 503 says (case-insensitive, runs of
    /// `-`, `_` and `.` are one `-`): `requirements.txt` may write
    /// `Django` or `zope.interface` where the advisory writes `django` or
    /// `zope-interface`. crates.io, npm and Go names compare exactly; their
    /// lockfiles carry the canonical name. (pep440_rs has no name type;
    /// the rule is one line.)
    pub fn normalize_name(self, name: &str) -> String {
        match self {
            Ecosystem::PyPI => {
                let mut out = String::with_capacity(name.len());
                let mut separator = false;
                for c in name.trim().chars() {
                    if matches!(c, '-' | '_' | '.') {
                        separator = true;
                    } else {
                        if separator && !out.is_empty() {
                            out.push('-');
                        }
                        separator = false;
                        out.extend(c.to_lowercase());
                    }
                }
                out
            }
            _ => name.to_owned(),
        }
    }

    /// Parses a version in this ecosystem's order.
    ///
    /// Go versions drop their leading `v` (`go.sum` writes `v0.17.0`, OSV
    /// writes `0.17.0`); pseudo-versions are valid SemVer pre-releases.
    ///
    /// # Errors
    /// A message naming the version and the ecosystem if it is not valid
    /// SemVer (PEP 440 for PyPI).
    pub fn parse_version(self, text: &str) -> Result<Version, String> {
        let text = text.trim();
        let parsed = match self {
            Ecosystem::PyPI => text
                .parse::<pep440_rs::Version>()
                .map(Version::Pep440)
                .map_err(|e| e.to_string()),
            Ecosystem::Go => semver::Version::parse(text.strip_prefix('v').unwrap_or(text))
                .map(Version::Semver)
                .map_err(|e| e.to_string()),
            Ecosystem::CratesIo | Ecosystem::Npm => semver::Version::parse(text)
                .map(Version::Semver)
                .map_err(|e| e.to_string()),
        };
        parsed.map_err(|e| format!("{text:?} is not a {self} version: {e}"))
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.osv_name())
    }
}

/// A version in its ecosystem's order. Versions of one ecosystem always
/// have the same variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// Semantic Versioning 2.0.0 (crates.io, npm, Go).
    Semver(semver::Version),
    /// PEP 440 (PyPI).
    Pep440(pep440_rs::Version),
}

impl Version {
    /// Orders two versions of one ecosystem; `None` for versions of
    /// different schemes, which never meet in one range.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            // SemVer precedence ignores build metadata (semver §10); the
            // semver crate's `Ord` does not, so compare without it.
            (Version::Semver(a), Version::Semver(b)) => Some(
                (a.major, a.minor, a.patch)
                    .cmp(&(b.major, b.minor, b.patch))
                    .then_with(|| a.pre.cmp(&b.pre)),
            ),
            (Version::Pep440(a), Version::Pep440(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Semver(v) => v.fmt(f),
            Version::Pep440(v) => v.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pypi_names_normalize_as_pep_503_says() {
        let e = Ecosystem::PyPI;
        assert_eq!(e.normalize_name("Django"), "django");
        assert_eq!(e.normalize_name("zope.interface"), "zope-interface");
        assert_eq!(e.normalize_name("Foo__Bar-.baz"), "foo-bar-baz");
        assert_eq!(Ecosystem::Npm.normalize_name("@Scope/Pkg"), "@Scope/Pkg");
    }

    #[test]
    fn versions_order_by_their_ecosystem() {
        let py = |s| Ecosystem::PyPI.parse_version(s).unwrap();
        assert_eq!(py("3.1").compare(&py("3.1.0")), Some(Ordering::Equal));
        assert_eq!(py("3.3.2rc1").compare(&py("3.3.2")), Some(Ordering::Less));
        let go = |s| Ecosystem::Go.parse_version(s).unwrap();
        assert_eq!(go("v0.17.0").compare(&go("0.17.0")), Some(Ordering::Equal));
        assert_eq!(
            go("v0.0.0-20210220033148-5ea612d1eb83").compare(&go("0.0.1")),
            Some(Ordering::Less)
        );
        let sv = |s| Ecosystem::CratesIo.parse_version(s).unwrap();
        assert_eq!(sv("1.0.0+a").compare(&sv("1.0.0+b")), Some(Ordering::Equal));
        assert_eq!(sv("1.0.0").compare(&py("1.0.0")), None);
        assert!(Ecosystem::Npm.parse_version("latest").is_err());
    }
}
