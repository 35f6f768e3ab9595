//! A whole pre-flight: which inputs to check, run in a fixed order.
//!
//! This is the I/O edge that `causeway preflight` calls: it reads the OSV
//! directory, the lockfiles and the freeze calendar, runs the custom
//! commands, and returns the [`Report`]. The checks come out in the order
//! given: one `osv:LOCKFILE` per lockfile, then `freeze`, then each custom
//! check.

use std::path::PathBuf;

use jiff::Timestamp;

use crate::Error;
use crate::command::CustomCheck;
use crate::freeze::FreezeCalendar;
use crate::lockfile::Lockfile;
use crate::osv_db::OsvDatabase;
use crate::report::Report;
use crate::scan::scan;

/// The inputs of one pre-flight.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The offline OSV database directory.
    pub osv_dir: PathBuf,
    /// Lockfiles to match against it.
    pub lockfiles: Vec<PathBuf>,
    /// A freeze calendar, if any.
    pub freeze: Option<PathBuf>,
    /// Custom checks.
    pub checks: Vec<CustomCheck>,
}

impl Plan {
    /// Runs every check, judging freeze windows at `at` (the time of the
    /// change, normally now).
    ///
    /// # Errors
    /// Any input that cannot be read or parsed (see [`Error`]), and
    /// [`Error::EmptyDatabase`] when lockfiles are to be checked against
    /// a directory with no advisory for a checked ecosystem: a mistyped
    /// `--osv` must not pass every lockfile.
    pub fn run(&self, at: Timestamp) -> Result<Report, Error> {
        let db = OsvDatabase::load_dir(&self.osv_dir)?;
        if db.is_empty() && !self.lockfiles.is_empty() {
            return Err(Error::EmptyDatabase {
                path: self.osv_dir.clone(),
            });
        }
        let mut report = Report::default();
        for path in &self.lockfiles {
            let lockfile = Lockfile::read(path)?;
            report
                .checks
                .push(scan(&db, &lockfile).into_check(format!("osv:{}", path.display())));
        }
        if let Some(path) = &self.freeze {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            report.checks.push(FreezeCalendar::parse(&text)?.check(at));
        }
        report
            .checks
            .extend(self.checks.iter().map(CustomCheck::run));
        Ok(report)
    }
}
