//! The auditor's own evidence store: `DIR/audit.sqlite`, written by
//! `causeway audit --state DIR` from what that audit verified, and read
//! offline by `causeway find`.
//!
//! Everything in it comes from entries the audit recomputed to a signed
//! checkpoint, so a query over it trusts no log operator. Each later audit
//! with the same state first proves the stored checkpoint consistent with
//! the log's new one ([`fork`]); only then are the rows updated.
//!
//! # Layout
//!
//! * this module: the schema ([`SCHEMA`], [`SCHEMA_VERSION`]) and
//!   [`State`], opening and writing the database.
//! * [`fork`]: the consistency check and its evidence.
//! * [`find`]: the causal chains of the changes matching one key.
//! * [`alerts`]: which findings `causeway monitor --audit` has reported.

pub mod alerts;
pub mod find;
pub mod fork;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::audit::{EvidenceIndex, InvalidEntry, RedFlag};

/// The database's file name inside the state directory.
pub const FILE: &str = "audit.sqlite";

/// The schema version, kept in `PRAGMA user_version`. A state of another
/// version is refused rather than read with the wrong meaning.
pub const SCHEMA_VERSION: i64 = 1;

/// The schema (documented column by column in the README).
pub const SCHEMA: &str = "
CREATE TABLE checkpoint (
    size       INTEGER NOT NULL,
    root_hex   TEXT NOT NULL,
    note       TEXT NOT NULL,
    audited_at TEXT NOT NULL
);
CREATE TABLE records (
    idx               INTEGER PRIMARY KEY,
    leaf_hash         TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL,
    signer            TEXT NOT NULL,
    authorization     TEXT,
    ticket            TEXT,
    approver          TEXT,
    agent_id          TEXT,
    credential        TEXT,
    credential_serial TEXT,
    target            TEXT,
    operation         TEXT,
    verdict           TEXT,
    time              TEXT NOT NULL,
    time_unix         INTEGER NOT NULL,
    valid             INTEGER NOT NULL
);
CREATE INDEX records_ticket ON records(ticket);
CREATE INDEX records_approver ON records(approver);
CREATE INDEX records_agent ON records(agent_id);
CREATE INDEX records_credential ON records(credential);
CREATE INDEX records_serial ON records(credential_serial);
CREATE INDEX records_authorization ON records(authorization);
CREATE INDEX records_target ON records(target);
CREATE TABLE credentials (
    leaf_hash     TEXT PRIMARY KEY,
    idx           INTEGER NOT NULL,
    serial        TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    authorization TEXT,
    parent        TEXT,
    issued_at     TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    actions       INTEGER NOT NULL,
    ended_by      TEXT,
    ended_at      TEXT
);
CREATE INDEX credentials_authorization ON credentials(authorization);
CREATE TABLE findings (
    kind      TEXT NOT NULL,
    idx       INTEGER NOT NULL,
    leaf_hash TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX findings_leaf ON findings(leaf_hash);
";

/// What can go wrong with a state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The directory holds no `audit.sqlite`.
    #[error(
        "no audit state in {}: {FILE} is missing; run `causeway audit --state {}` first",
        dir.display(),
        dir.display()
    )]
    Missing {
        /// The state directory.
        dir: PathBuf,
    },
    /// The database is of another schema version.
    #[error(
        "{}: audit state schema version {found}, but this causeway reads version {SCHEMA_VERSION}; \
         audit into a new --state directory",
        path.display()
    )]
    Version {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
    },
    /// SQLite failed.
    #[error("{}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The directory could not be created.
    #[error("creating {}: {source}", dir.display())]
    Io {
        /// The state directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The audited checkpoint, as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredCheckpoint {
    /// Its tree size.
    pub size: u64,
    /// Its root (hex).
    pub root_hex: String,
    /// The signed note, as the log served it.
    pub note: String,
    /// When it was audited (RFC 3339 UTC).
    pub audited_at: String,
}

/// What one audit changed in the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Update {
    /// Record rows that were already stored, and kept.
    pub kept: u64,
    /// Record rows appended.
    pub added: u64,
    /// Findings now stored.
    pub findings: u64,
}

/// An open state database.
pub struct State {
    conn: Connection,
    path: PathBuf,
}

impl State {
    /// Opens `dir/audit.sqlite`, creating the directory and the schema
    /// when there is none.
    ///
    /// # Errors
    /// [`StateError`]: of another version, or SQLite failed.
    pub fn open_or_create(dir: &Path) -> Result<State, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
            dir: dir.to_owned(),
            source,
        })?;
        let path = dir.join(FILE);
        let conn = Connection::open(&path).map_err(|source| StateError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let state = State { conn, path };
        match state.version()? {
            0 => {
                // A new file: the schema and its version in one
                // transaction, so a crash leaves no half-made state.
                state
                    .conn
                    .execute_batch(&format!(
                        "BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                    ))
                    .map_err(|e| state.err(e))?;
            }
            SCHEMA_VERSION => {}
            found => {
                return Err(StateError::Version {
                    path: state.path,
                    found,
                });
            }
        }
        Ok(state)
    }

    /// Opens an existing `dir/audit.sqlite` read-only, for queries.
    ///
    /// # Errors
    /// [`StateError::Missing`] when there is none; of another version;
    /// SQLite failed.
    pub fn open_existing(dir: &Path) -> Result<State, StateError> {
        let path = dir.join(FILE);
        if !path.is_file() {
            return Err(StateError::Missing {
                dir: dir.to_owned(),
            });
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
            |source| StateError::Sqlite {
                path: path.clone(),
                source,
            },
        )?;
        let state = State { conn, path };
        match state.version()? {
            SCHEMA_VERSION => Ok(state),
            found => Err(StateError::Version {
                path: state.path,
                found,
            }),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for queries of one's own.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn err(&self, source: rusqlite::Error) -> StateError {
        StateError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn version(&self) -> Result<i64, StateError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The checkpoint of the latest audit, if there was one.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, StateError> {
        self.conn
            .query_row(
                "SELECT size, root_hex, note, audited_at FROM checkpoint ORDER BY rowid DESC LIMIT 1",
                [],
                |r| {
                    Ok(StoredCheckpoint {
                        size: r.get::<_, i64>(0)?.try_into().unwrap_or(0),
                        root_hex: r.get(1)?,
                        note: r.get(2)?,
                        audited_at: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Stores one audit's results in one transaction: the checkpoint
    /// appended, record rows of new entries appended (those stored before
    /// are kept as they are: a record's row depends only on the entries
    /// before it), every credential's state upserted, and the findings
    /// replaced by this audit's red flags and invalid entries.
    ///
    /// # Errors
    /// SQLite failed; nothing is changed then.
    pub fn store(
        &mut self,
        checkpoint: &StoredCheckpoint,
        index: &EvidenceIndex,
        red_flags: &[RedFlag],
        invalid: &[InvalidEntry],
    ) -> Result<Update, StateError> {
        let path = self.path.clone();
        let err = |source| StateError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let mut update = Update {
            kept: 0,
            added: 0,
            findings: 0,
        };
        {
            tx.execute(
                "INSERT INTO checkpoint (size, root_hex, note, audited_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    to_i64(checkpoint.size),
                    checkpoint.root_hex,
                    checkpoint.note,
                    checkpoint.audited_at
                ],
            )
            .map_err(err)?;
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO records (idx, leaf_hash, kind, signer, authorization, \
                     ticket, approver, agent_id, credential, credential_serial, target, operation, \
                     verdict, time, time_unix, valid) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                )
                .map_err(err)?;
            for r in &index.records {
                let n = insert
                    .execute(params![
                        to_i64(r.idx),
                        r.leaf_hash,
                        r.kind.as_str(),
                        r.signer,
                        r.authorization,
                        r.ticket,
                        r.approver,
                        r.agent_id,
                        r.credential,
                        r.credential_serial,
                        r.target,
                        r.operation,
                        r.verdict,
                        r.time,
                        r.time_unix,
                        r.valid,
                    ])
                    .map_err(err)?;
                if n == 0 {
                    update.kept += 1;
                } else {
                    update.added += 1;
                }
            }
            // A credential's counts and end change as the log grows.
            let mut upsert = tx
                .prepare(
                    "INSERT INTO credentials (leaf_hash, idx, serial, agent_id, authorization, \
                     parent, issued_at, expires_at, actions, ended_by, ended_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                     ON CONFLICT(leaf_hash) DO UPDATE SET actions = excluded.actions, \
                     ended_by = excluded.ended_by, ended_at = excluded.ended_at",
                )
                .map_err(err)?;
            for c in &index.credentials {
                upsert
                    .execute(params![
                        c.leaf_hash,
                        to_i64(c.idx),
                        c.serial,
                        c.agent_id,
                        c.authorization,
                        c.parent,
                        c.issued_at,
                        c.expires_at,
                        to_i64(c.actions),
                        c.ended_by,
                        c.ended_at,
                    ])
                    .map_err(err)?;
            }
            tx.execute("DELETE FROM findings", []).map_err(err)?;
            let mut finding = tx
                .prepare(
                    "INSERT INTO findings (kind, idx, leaf_hash, detail) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for f in red_flags {
                finding
                    .execute(params![
                        f.kind.as_str(),
                        to_i64(f.record),
                        f.leaf_hash,
                        f.detail
                    ])
                    .map_err(err)?;
                update.findings += 1;
            }
            // An entry the log should have refused is a finding too.
            for i in invalid {
                finding
                    .execute(params![
                        "invalid_entry",
                        to_i64(i.index),
                        i.leaf_hash,
                        format!("{}: {}", i.code, i.reason)
                    ])
                    .map_err(err)?;
                update.findings += 1;
            }
        }
        tx.commit().map_err(err)?;
        Ok(update)
    }
}

/// SQLite integers are signed; log indices and sizes stay far below 2^63.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
