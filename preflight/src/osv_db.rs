//! An offline OSV database: advisories read from a directory of OSV JSON
//! files and indexed by package.
//!
//! osv.dev exports one folder (or `all.zip`) per ecosystem, each file one
//! advisory. Any layout of such files is accepted: `DIR/crates.io/*.json`,
//! `DIR/PyPI/*.json`, …, a flat folder, or an extracted `all.zip`; the
//! folder is walked and every `*.json` file read.
//!
//! Advisories are parsed with the `osv` crate's schema types. A file whose
//! `affected` names none of the ecosystems checked here is skipped before
//! that (a full export holds Debian, Maven and dozens more, whose
//! ecosystem strings the schema types may not know); a file that does name
//! one and does not parse stops the load: a pre-flight that silently
//! dropped an advisory would pass what it never checked. Withdrawn
//! advisories are kept out of the index.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use osv::schema::{Affected, Vulnerability};

use crate::Error;
use crate::ecosystem::Ecosystem;
use crate::lockfile::Package;

/// Advisories indexed by (ecosystem, normalized package name).
#[derive(Debug, Default)]
pub struct OsvDatabase {
    advisories: Vec<Vulnerability>,
    /// (advisory index, affected index) per package.
    index: HashMap<(Ecosystem, String), Vec<(usize, usize)>>,
    withdrawn: usize,
    other_ecosystems: usize,
}

impl OsvDatabase {
    /// Builds the database from `(path, JSON text)` pairs; the paths only
    /// name files in errors.
    ///
    /// # Errors
    /// [`Error::Advisory`] for a file that is not JSON, or names a checked
    /// ecosystem and does not follow the OSV schema.
    pub fn from_documents<I>(documents: I) -> Result<OsvDatabase, Error>
    where
        I: IntoIterator<Item = (PathBuf, String)>,
    {
        let mut db = OsvDatabase::default();
        for (path, text) in documents {
            let invalid = |reason: String| Error::Advisory {
                path: path.clone(),
                reason,
            };
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
            if !names_checked_ecosystem(&value) {
                db.other_ecosystems += 1;
                continue;
            }
            let advisory: Vulnerability =
                serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
            if advisory.withdrawn.is_some() {
                db.withdrawn += 1;
                continue;
            }
            db.insert(advisory);
        }
        Ok(db)
    }

    /// Reads every `*.json` file under `dir`, in path order (an I/O edge).
    ///
    /// # Errors
    /// [`Error::Io`] if `dir` or a file in it cannot be read; otherwise as
    /// [`OsvDatabase::from_documents`].
    pub fn load_dir(dir: &Path) -> Result<OsvDatabase, Error> {
        let mut files = Vec::new();
        collect_json_files(dir, &mut files)?;
        files.sort();
        let mut documents = Vec::with_capacity(files.len());
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            documents.push((path, text));
        }
        OsvDatabase::from_documents(documents)
    }

    fn insert(&mut self, advisory: Vulnerability) {
        let at = self.advisories.len();
        for (i, affected) in advisory.affected.iter().flatten().enumerate() {
            let Some(package) = &affected.package else {
                continue;
            };
            let Ok(ecosystem_name) = serde_json::to_value(&package.ecosystem) else {
                continue;
            };
            let Some(ecosystem) = ecosystem_name.as_str().and_then(Ecosystem::from_osv_name) else {
                continue;
            };
            self.index
                .entry((ecosystem, ecosystem.normalize_name(&package.name)))
                .or_default()
                .push((at, i));
        }
        self.advisories.push(advisory);
    }

    /// The advisories, and their `affected` entries, that name `package`
    /// (whatever the versions).
    pub fn entries_for<'a>(
        &'a self,
        package: &Package,
    ) -> impl Iterator<Item = (&'a Vulnerability, &'a Affected)> + 'a {
        let key = (
            package.ecosystem,
            package.ecosystem.normalize_name(&package.name),
        );
        self.index
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(move |&(a, i)| {
                let advisory = self.advisories.get(a)?;
                Some((advisory, advisory.affected.as_ref()?.get(i)?))
            })
    }

    /// How many advisories are indexed.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// Whether no advisory is indexed.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// How many withdrawn advisories were left out.
    pub fn withdrawn(&self) -> usize {
        self.withdrawn
    }

    /// How many files named only ecosystems not checked here.
    pub fn other_ecosystems(&self) -> usize {
        self.other_ecosystems
    }
}

/// Whether an advisory's `affected[].package.ecosystem` names one of
/// [`Ecosystem::ALL`].
fn names_checked_ecosystem(value: &serde_json::Value) -> bool {
    value
        .get("affected")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter_map(|a| a.pointer("/package/ecosystem")?.as_str())
        .any(|e| Ecosystem::from_osv_name(e).is_some())
}

fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            collect_json_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}
