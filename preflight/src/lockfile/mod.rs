//! Lockfiles: the exact package versions a change builds with.
//!
//! The format is told by the file name, as the package managers name them:
//! `Cargo.lock`, `package-lock.json`, `requirements*.txt`, `poetry.lock`,
//! `go.sum`. Only packages that come from the ecosystem's public registry
//! are listed (workspace members, path and git dependencies have no OSV
//! advisories under their name).

mod cargo;
mod go;
mod npm;
mod python;

use std::path::{Path, PathBuf};

use crate::Error;
use crate::ecosystem::Ecosystem;

/// One package at one version, as a lockfile pins it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Package {
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// Its name as the lockfile writes it.
    pub name: String,
    /// Its version as the lockfile writes it.
    pub version: String,
}

/// The lockfile formats understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Cargo's `Cargo.lock`.
    CargoLock,
    /// npm's `package-lock.json`, lockfile version 2 or 3.
    PackageLock,
    /// pip's `requirements.txt`, every requirement pinned with `==`.
    Requirements,
    /// Poetry's `poetry.lock`.
    PoetryLock,
    /// Go's `go.sum`.
    GoSum,
}

impl Format {
    /// The format a file's name says, if any.
    pub fn from_file_name(name: &str) -> Option<Format> {
        match name {
            "Cargo.lock" => Some(Format::CargoLock),
            "package-lock.json" => Some(Format::PackageLock),
            "poetry.lock" => Some(Format::PoetryLock),
            "go.sum" => Some(Format::GoSum),
            _ if name.starts_with("requirements") && name.ends_with(".txt") => {
                Some(Format::Requirements)
            }
            _ => None,
        }
    }

    /// The ecosystem whose packages the format lists.
    pub fn ecosystem(self) -> Ecosystem {
        match self {
            Format::CargoLock => Ecosystem::CratesIo,
            Format::PackageLock => Ecosystem::Npm,
            Format::Requirements | Format::PoetryLock => Ecosystem::PyPI,
            Format::GoSum => Ecosystem::Go,
        }
    }
}

/// A parsed lockfile: where it came from and the packages it pins, sorted
/// and without duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lockfile {
    /// The path it was read from (or the name it was parsed under).
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// The packages it pins.
    pub packages: Vec<Package>,
}

impl Lockfile {
    /// Parses `text` in the format `path`'s file name says.
    ///
    /// # Errors
    /// [`Error::UnknownLockfile`] for a file name of no known format;
    /// [`Error::Lockfile`] for a malformed file, an unsupported lockfile
    /// version, or an unpinned requirement.
    pub fn parse(path: &Path, text: &str) -> Result<Lockfile, Error> {
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let format = Format::from_file_name(file_name).ok_or_else(|| Error::UnknownLockfile {
            path: path.to_owned(),
        })?;
        let pinned = match format {
            Format::CargoLock => cargo::parse(text),
            Format::PackageLock => npm::parse(text),
            Format::Requirements => python::parse_requirements(text),
            Format::PoetryLock => python::parse_poetry_lock(text),
            Format::GoSum => go::parse(text),
        }
        .map_err(|reason| Error::Lockfile {
            file: path.display().to_string(),
            reason,
        })?;
        let ecosystem = format.ecosystem();
        let mut packages: Vec<Package> = pinned
            .into_iter()
            .map(|(name, version)| Package {
                ecosystem,
                name,
                version,
            })
            .collect();
        packages.sort();
        packages.dedup();
        Ok(Lockfile {
            path: path.to_owned(),
            format,
            packages,
        })
    }

    /// Reads and parses the lockfile at `path` (an I/O edge).
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be read; otherwise as [`Lockfile::parse`].
    pub fn read(path: &Path) -> Result<Lockfile, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Lockfile::parse(path, &text)
    }
}

#[cfg(test)]
mod tests;
