//! What `causeway monitor --audit` has already reported, so that each
//! finding is reported once, across restarts: a `reported` table beside
//! the audit's own, keyed like a finding (kind, record index). The audit
//! replaces `findings` on every run; `reported` only grows.

use serde::Serialize;

use super::{State, StateError};

/// The table, created on first use (a state the monitor never touched has
/// none, and reads as before).
const REPORTED: &str = "CREATE TABLE IF NOT EXISTS reported (
    kind        TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    reported_at TEXT NOT NULL,
    PRIMARY KEY (kind, idx)
);";

/// One row of `findings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The red-flag kind (or `invalid_entry`).
    pub kind: String,
    /// The record it points at.
    pub record: u64,
    /// That record's leaf hash.
    pub leaf_hash: String,
    /// What was found, in words.
    pub detail: String,
}

impl State {
    fn sqlite(&self, source: rusqlite::Error) -> StateError {
        StateError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The latest audit's findings not yet marked reported, in record
    /// order.
    ///
    /// # Errors
    /// SQLite's.
    pub fn unreported(&self) -> Result<Vec<Finding>, StateError> {
        self.conn
            .execute_batch(REPORTED)
            .map_err(|e| self.sqlite(e))?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.kind, f.idx, f.leaf_hash, f.detail FROM findings f \
                 LEFT JOIN reported r ON r.kind = f.kind AND r.idx = f.idx \
                 WHERE r.kind IS NULL ORDER BY f.idx, f.kind",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Finding {
                    kind: r.get(0)?,
                    record: r.get::<_, i64>(1)? as u64,
                    leaf_hash: r.get(2)?,
                    detail: r.get(3)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Marks `f` reported at `at` (RFC 3339).
    ///
    /// # Errors
    /// SQLite's.
    pub fn mark_reported(&self, f: &Finding, at: &str) -> Result<(), StateError> {
        self.conn
            .execute_batch(REPORTED)
            .map_err(|e| self.sqlite(e))?;
        self.conn
            .execute(
                "INSERT OR IGNORE INTO reported (kind, idx, reported_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![f.kind, f.record as i64, at],
            )
            .map(drop)
            .map_err(|e| self.sqlite(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_is_unreported_until_marked_and_then_stays_reported() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open_or_create(dir.path()).unwrap();
        state
            .conn
            .execute_batch(
                "INSERT INTO findings VALUES ('action_out_of_scope', 7, 'aa', 'x'), \
                 ('call_refused', 3, 'bb', 'y');",
            )
            .unwrap();
        let first = state.unreported().unwrap();
        assert_eq!(
            first.iter().map(|f| f.record).collect::<Vec<_>>(),
            [3, 7],
            "in record order"
        );
        state
            .mark_reported(&first[0], "2026-12-04T00:00:00Z")
            .unwrap();
        // The next audit replaces the findings; the reported one stays so.
        state
            .conn
            .execute_batch(
                "DELETE FROM findings; INSERT INTO findings VALUES \
                 ('action_out_of_scope', 7, 'aa', 'x'), ('call_refused', 3, 'bb', 'y');",
            )
            .unwrap();
        drop(state);
        let state = State::open_or_create(dir.path()).unwrap();
        assert_eq!(state.unreported().unwrap(), [first[1].clone()]);
    }
}
