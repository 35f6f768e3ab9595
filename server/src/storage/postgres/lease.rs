//! The sequencer lease of [`crate::election`] and the fence every commit
//! checks: one row in the `leader` table, whose term grows at every
//! takeover and whose expiry is judged by the database's clock.

use std::time::Duration;

use tokio_postgres::types::Type;

use super::{PgStorage, col, to_i64, to_u64};
use crate::storage::StorageError;

/// The sequencer lease as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderRecord {
    /// The lease's term: it grows by one at every takeover.
    pub term: u64,
    /// The instance holding it (`--ha-id`).
    pub holder: String,
    /// Where that instance takes writes (its `--advertise` URL).
    pub address: String,
    /// Whether the lease has not expired (by the database's clock).
    pub live: bool,
}

impl PgStorage {
    /// Commits of this instance must be made under `term` (the sequencer
    /// lease it holds), or under no lease at all with `None` (one writer,
    /// no election).
    pub fn set_fence(&self, term: Option<u64>) {
        *self
            .fence
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = term;
    }

    pub(super) fn fence(&self) -> Option<u64> {
        *self
            .fence
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the sequencer lease for `lease` if nobody holds a live one:
    /// returns the new term, or `None` if another instance holds it.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn try_acquire(
        &self,
        holder: &str,
        address: &str,
        lease: Duration,
    ) -> Result<Option<u64>, StorageError> {
        let ms = lease.as_millis() as f64;
        let row = self.block(self.with(&self.lease, async |c| {
            c.query_typed_opt(
                "INSERT INTO leader (one, term, holder, address, expires_at)
                 VALUES (true, 1, $1, $2, clock_timestamp() + $3 * interval '1 millisecond')
                 ON CONFLICT (one) DO UPDATE
                   SET term = leader.term + 1, holder = excluded.holder,
                       address = excluded.address, expires_at = excluded.expires_at
                   WHERE leader.expires_at < clock_timestamp()
                 RETURNING term",
                &[
                    (&holder, Type::TEXT),
                    (&address, Type::TEXT),
                    (&ms, Type::FLOAT8),
                ],
            )
            .await
        }))?;
        row.map(|r| to_u64(col(&r, 0)?, "lease term")).transpose()
    }

    /// Extends the lease held under `term`; `false` if it was taken over.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn renew(&self, term: u64, lease: Duration) -> Result<bool, StorageError> {
        let (term, ms) = (to_i64(term, "lease term")?, lease.as_millis() as f64);
        let n = self.block(self.with(&self.lease, async |c| {
            c.execute_typed(
                "UPDATE leader SET expires_at = clock_timestamp() + $2 * interval '1 millisecond'
                 WHERE term = $1",
                &[(&term, Type::INT8), (&ms, Type::FLOAT8)],
            )
            .await
        }))?;
        Ok(n == 1)
    }

    /// Gives up the lease held under `term` at once (a clean shutdown), so
    /// another instance need not wait for it to expire.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn release(&self, term: u64) -> Result<(), StorageError> {
        let term = to_i64(term, "lease term")?;
        self.block(self.with(&self.lease, async |c| {
            c.execute_typed(
                "UPDATE leader SET expires_at = clock_timestamp() - interval '1 second' WHERE term = $1",
                &[(&term, Type::INT8)],
            )
            .await
        }))?;
        Ok(())
    }

    /// The current lease, if any instance ever held it.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn leader(&self) -> Result<Option<LeaderRecord>, StorageError> {
        let rows = self.read(
            "SELECT term, holder, address, expires_at > clock_timestamp() FROM leader",
            &[],
        )?;
        rows.first()
            .map(|r| {
                Ok(LeaderRecord {
                    term: to_u64(col(r, 0)?, "lease term")?,
                    holder: col(r, 1)?,
                    address: col(r, 2)?,
                    live: col(r, 3)?,
                })
            })
            .transpose()
    }

    /// The size of the latest committed tree (one small read, for
    /// instances that follow the leader's commits).
    ///
    /// # Errors
    /// On a storage failure.
    pub fn head_size(&self) -> Result<Option<u64>, StorageError> {
        let rows = self.read("SELECT size FROM head", &[])?;
        rows.first()
            .map(|r| to_u64(col(r, 0)?, "head size"))
            .transpose()
    }
}
