//! The crate's one error type.

use std::path::PathBuf;

/// Why a pre-flight input could not be read or understood.
///
/// Each of these stops the pre-flight: a lockfile or advisory that cannot
/// be read is never treated as "no vulnerabilities".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A lockfile's name says nothing about its format.
    #[error(
        "{}: unknown lockfile kind; expected Cargo.lock, package-lock.json, \
         requirements*.txt, poetry.lock or go.sum",
        path.display()
    )]
    UnknownLockfile {
        /// The file.
        path: PathBuf,
    },
    /// A lockfile is malformed or of an unsupported version.
    #[error("{file}: {reason}")]
    Lockfile {
        /// The lockfile's name.
        file: String,
        /// What is wrong, with the line where there is one.
        reason: String,
    },
    /// The OSV directory holds no advisory for any checked ecosystem.
    #[error(
        "{}: no OSV advisory for crates.io, npm, PyPI or Go; \
         is this the exported database?",
        path.display()
    )]
    EmptyDatabase {
        /// The directory.
        path: PathBuf,
    },
    /// An OSV advisory for a checked ecosystem does not follow the schema.
    #[error("{}: not an OSV advisory: {reason}", path.display())]
    Advisory {
        /// The advisory's file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The freeze calendar is malformed.
    #[error("freeze calendar: {0}")]
    Freeze(String),
    /// A `--check NAME=CMD` argument is malformed.
    #[error("custom check {arg:?}: {reason}")]
    CustomCheck {
        /// The argument as given.
        arg: String,
        /// What is wrong.
        reason: &'static str,
    },
}
