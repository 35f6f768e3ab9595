//! Schema changes: numbered migrations, each a `.sql` file beside this
//! one, applied at open in one transaction under an advisory lock so that
//! instances starting together apply each one once.

use tokio_postgres::types::Type;

use super::{PgStorage, col};
use crate::storage::StorageError;

/// Numbered schema migrations, applied in order; never edit a released one,
/// add the next.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "log tables and the sequencer lease",
        include_str!("migrations/0001_log_tables.sql"),
    ),
    (
        2,
        "credentials revoked or closed, by the record that ended each",
        include_str!("migrations/0002_credential_ends.sql"),
    ),
];

/// Migration 2's data: every credential the log's entries already revoked
/// or closed, read in chunks so a large log is never held in memory.
async fn fill_credential_ends(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut found = std::collections::HashMap::new();
    let mut from: i64 = 0;
    loop {
        let rows = tx
            .query_typed(
                "SELECT idx, data FROM entries WHERE idx >= $1 ORDER BY idx LIMIT 4096",
                &[(&from, Type::INT8)],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        from = last.try_get::<_, i64>(0)? + 1;
        let mut chunk = Vec::with_capacity(rows.len());
        for r in &rows {
            chunk.push((r.try_get::<_, i64>(0)?, r.try_get::<_, Vec<u8>>(1)?));
        }
        crate::storage::ends_in_entries(
            chunk.iter().map(|(i, d)| (*i as u64, d.as_slice())),
            &mut found,
        );
    }
    for (credential, end) in &found {
        let (code, index) = (i16::from(end.ending.code()), end.index as i64);
        tx.execute_typed(
            "INSERT INTO credential_ends (credential, ending, idx) VALUES ($1, $2, $3)",
            &[
                (&credential.as_bytes().as_slice(), Type::BYTEA),
                (&code, Type::INT2),
                (&index, Type::INT8),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The advisory lock key that serializes migrations ("causew" in ASCII).
const MIGRATION_LOCK: i64 = 0x6361_7573_6577;

impl PgStorage {
    /// Applies the migrations this database lacks; refuses a schema newer
    /// than this build.
    pub(super) fn migrate(&self) -> Result<(), StorageError> {
        // One transaction under an advisory lock: instances starting
        // together apply each migration once (even CREATE TABLE IF NOT
        // EXISTS races without it).
        self.block(self.with(&self.writer, async |c| {
            let tx = c.transaction().await?;
            tx.execute_typed(
                "SELECT pg_advisory_xact_lock($1)",
                &[(&MIGRATION_LOCK, Type::INT8)],
            )
            .await?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS causeway_migrations (
                   version integer PRIMARY KEY, description text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await?;
            for (version, description, sql) in MIGRATIONS {
                let done = tx
                    .query_typed_opt(
                        "SELECT 1 FROM causeway_migrations WHERE version = $1",
                        &[(version, Type::INT4)],
                    )
                    .await?;
                if done.is_none() {
                    tx.batch_execute(sql).await?;
                    if *version == 2 {
                        fill_credential_ends(&tx).await?;
                    }
                    tx.execute_typed(
                        "INSERT INTO causeway_migrations (version, description) VALUES ($1, $2)",
                        &[(version, Type::INT4), (description, Type::TEXT)],
                    )
                    .await?;
                    tracing::info!(version, description, "applied a storage migration");
                }
            }
            tx.commit().await
        }))?;
        let newest = self.read("SELECT max(version) FROM causeway_migrations", &[])?;
        let newest: Option<i32> = match newest.first() {
            Some(r) => col(r, 0)?,
            None => None,
        };
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if newest.is_some_and(|v| v > known) {
            return Err(StorageError::Corrupt(format!(
                "the database {} has schema version {}, newer than this build's {known}; upgrade causeway-server",
                self.display,
                newest.unwrap_or_default()
            )));
        }
        Ok(())
    }
}
