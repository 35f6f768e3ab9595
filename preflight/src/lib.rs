//! Offline pre-flight checks for Causeway (issue 19 §2).
//!
//! Before a credential is issued (or a change promoted), a verifier runs
//! checks and signs a `preflight` record with one entry per check and a
//! verdict. This crate computes those checks; the `causeway preflight`
//! command signs and submits the result.
//!
//! # Layout
//! * [`ecosystem`]: the package ecosystems checked (crates.io, npm, PyPI,
//!   Go), their package-name rules and version orders.
//! * [`lockfile`]: `Cargo.lock`, `package-lock.json` (v2/v3), pinned
//!   `requirements.txt`, `poetry.lock` and `go.sum`, parsed into
//!   [`lockfile::Package`]s.
//! * [`osv_db`]: an offline OSV database (a directory of OSV JSON files as
//!   osv.dev exports them), indexed by package.
//! * [`ranges`]: OSV `SEMVER`/`ECOSYSTEM` range events and `versions`
//!   lists, evaluated for one version.
//! * [`scan`]: a lockfile matched against the database: one check.
//! * [`freeze`]: a TOML calendar of change-freeze windows in IANA time
//!   zones: one check.
//! * [`command`]: `NAME=CMD` custom checks, passing on exit status 0.
//! * [`report`]: check results, the verdict, and their record form.
//! * [`plan`]: a whole pre-flight, the inputs read and the checks run in
//!   order.
//!
//! # I/O
//! Everything is pure except clearly named edges:
//! [`osv_db::OsvDatabase::load_dir`], [`lockfile::Lockfile::read`],
//! [`command::CustomCheck::run`], and [`plan::Plan::run`], which calls
//! them. The two readers only read files and hand the text to their pure
//! counterparts, [`osv_db::OsvDatabase::from_documents`] and
//! [`lockfile::Lockfile::parse`]. The tests run all of it on the real
//! advisories in `testdata/osv/` (see its `SOURCES.md`).
//!
//! # Not here
//! Signing, submitting, clocks: the caller passes the time a freeze
//! calendar is judged at.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
pub mod ecosystem;
mod error;
pub mod freeze;
pub mod lockfile;
pub mod osv_db;
pub mod plan;
pub mod ranges;
pub mod report;
pub mod scan;

pub use error::Error;
