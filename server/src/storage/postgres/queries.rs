//! The [`Storage`] contract in SQL: one transaction per commit, fenced
//! by the lease; reads batched with `unnest`.

use causeway_records::{CredentialEnd, Ending};
use causeway_tlog::merkle::{Hash, NodeId};
use tokio_postgres::Row;
use tokio_postgres::types::Type;

use super::{PgStorage, col, hash, text, to_i64, to_u64};
use crate::storage::{Commit, Storage, StorageError, StoredAnchor, StoredHead, tile_row_width};

impl PgStorage {
    fn sizes_near(
        &self,
        table: &str,
        size: u64,
    ) -> Result<(Option<u64>, Option<u64>), StorageError> {
        let s = to_i64(size, "tree size")?;
        let rows = self.read(
            &format!(
                "SELECT (SELECT max(size) FROM {table} WHERE size < $1),
                        (SELECT min(size) FROM {table} WHERE size >= $1)"
            ),
            &[(&s, Type::INT8)],
        )?;
        let Some(r) = rows.first() else {
            return Ok((None, None));
        };
        let get = |i: usize| {
            col::<Option<i64>>(r, i)?
                .map(|v| to_u64(v, "tree size"))
                .transpose()
        };
        Ok((get(0)?, get(1)?))
    }

    fn note_at(&self, table: &str, size: u64) -> Result<Option<String>, StorageError> {
        let s = to_i64(size, "tree size")?;
        let rows = self.read(
            &format!("SELECT note FROM {table} WHERE size = $1"),
            &[(&s, Type::INT8)],
        )?;
        rows.first().map(|r| col(r, 0)).transpose()
    }

    fn anchor_row(r: &Row) -> Result<StoredAnchor, StorageError> {
        Ok(StoredAnchor {
            size: to_u64(col(r, 0)?, "anchor size")?,
            gen_time: col(r, 1)?,
            der: col(r, 2)?,
        })
    }
}

impl Storage for PgStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn disk_bytes(&self) -> Option<u64> {
        let rows = self
            .read("SELECT pg_database_size(current_database())", &[])
            .ok()?;
        rows.first()
            .and_then(|r| col::<i64>(r, 0).ok())
            .and_then(|b| u64::try_from(b).ok())
    }

    fn recover(&self) -> Result<bool, StorageError> {
        // A failed transaction leaves nothing behind; a broken connection
        // is reopened by the next call. Check that the database answers.
        self.read("SELECT 1", &[])?;
        Ok(true)
    }

    fn origin(&self) -> Result<Option<String>, StorageError> {
        let rows = self.read("SELECT value FROM meta WHERE name = 'origin'", &[])?;
        rows.into_iter()
            .next()
            .map(|r| text(col(&r, 0)?, "origin"))
            .transpose()
    }

    fn set_origin(&self, origin: &str) -> Result<(), StorageError> {
        let value = origin.as_bytes();
        self.write(
            "INSERT INTO meta (name, value) VALUES ('origin', $1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[(&value, Type::BYTEA)],
        )?;
        Ok(())
    }

    fn head(&self) -> Result<Option<StoredHead>, StorageError> {
        let rows = self.read(
            "SELECT h.size, c.note FROM head h LEFT JOIN checkpoints c ON c.size = h.size",
            &[],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let size = to_u64(col(r, 0)?, "head size")?;
        let note: Option<String> = col(r, 1)?;
        let note = note.ok_or_else(|| {
            StorageError::Corrupt(format!("no checkpoint at the head size {size}"))
        })?;
        Ok(Some(StoredHead { size, note }))
    }

    fn commit(&self, commit: &Commit) -> Result<(), StorageError> {
        let fence = self.fence().map(|t| to_i64(t, "lease term")).transpose()?;
        let first = to_i64(commit.first_index, "leaf index")?;
        let size = to_i64(commit.size, "tree size")?;
        let initial = commit.size == 0 && commit.entries.is_empty();
        let mut idx = Vec::with_capacity(commit.entries.len());
        let mut leaf = Vec::with_capacity(commit.entries.len());
        let mut data = Vec::with_capacity(commit.entries.len());
        for (i, (entry, hash)) in (first..).zip(&commit.entries) {
            idx.push(i);
            leaf.push(hash.as_bytes().as_slice());
            data.push(entry.as_slice());
        }
        let mut levels = Vec::with_capacity(commit.nodes.len());
        let mut node_idx = Vec::with_capacity(commit.nodes.len());
        let mut node_hash = Vec::with_capacity(commit.nodes.len());
        for (id, hash) in &commit.nodes {
            levels.push(i16::from(id.level));
            node_idx.push(to_i64(id.index, "node index")?);
            node_hash.push(hash.as_bytes().as_slice());
        }
        let mut sub_id = Vec::with_capacity(commit.submissions.len());
        let mut sub_idx = Vec::with_capacity(commit.submissions.len());
        let mut sub_leaf = Vec::with_capacity(commit.submissions.len());
        for (id, index, hash) in &commit.submissions {
            sub_id.push(id.as_bytes().as_slice());
            sub_idx.push(to_i64(*index, "leaf index")?);
            sub_leaf.push(hash.as_bytes().as_slice());
        }
        let mut end_credential = Vec::with_capacity(commit.credential_ends.len());
        let mut end_code = Vec::with_capacity(commit.credential_ends.len());
        let mut end_idx = Vec::with_capacity(commit.credential_ends.len());
        for (credential, end) in &commit.credential_ends {
            end_credential.push(credential.as_bytes().as_slice());
            end_code.push(i16::from(end.ending.code()));
            end_idx.push(to_i64(end.index, "leaf index")?);
        }
        let note = commit.note.as_str();
        // The outer error is the connection's, the inner one a refusal.
        self.block(self.with(&self.writer, async |c| {
            let tx = c.transaction().await?;
            if let Some(term) = fence {
                let current: Option<i64> = tx
                    .query_typed_opt("SELECT term FROM leader WHERE one FOR SHARE", &[])
                    .await?
                    .map(|r| r.try_get(0))
                    .transpose()?;
                if current != Some(term) {
                    return Ok(Err(StorageError::Fenced {
                        term: term as u64,
                        current: current.unwrap_or(0) as u64,
                    }));
                }
            }
            let stored: Option<i64> = tx
                .query_typed_opt("SELECT size FROM head WHERE one FOR UPDATE", &[])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            // The batch extends the stored head; the empty tree is
            // committed once, into an empty store.
            let extends = match stored {
                None => first == 0,
                Some(s) => s == first && !initial,
            };
            if !extends {
                return Ok(Err(StorageError::HeadMoved {
                    expected: commit.first_index,
                    stored: stored.unwrap_or(0) as u64,
                }));
            }
            if !idx.is_empty() {
                tx.execute_typed(
                    "INSERT INTO entries (idx, leaf_hash, data)
                     SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])",
                    &[
                        (&idx, Type::INT8_ARRAY),
                        (&leaf, Type::BYTEA_ARRAY),
                        (&data, Type::BYTEA_ARRAY),
                    ],
                )
                .await?;
            }
            if !levels.is_empty() {
                tx.execute_typed(
                    "INSERT INTO nodes (level, idx, hash)
                     SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
                    &[
                        (&levels, Type::INT2_ARRAY),
                        (&node_idx, Type::INT8_ARRAY),
                        (&node_hash, Type::BYTEA_ARRAY),
                    ],
                )
                .await?;
            }
            if !sub_id.is_empty() {
                tx.execute_typed(
                    "INSERT INTO submissions (id, idx, leaf_hash)
                     SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[])",
                    &[
                        (&sub_id, Type::BYTEA_ARRAY),
                        (&sub_idx, Type::INT8_ARRAY),
                        (&sub_leaf, Type::BYTEA_ARRAY),
                    ],
                )
                .await?;
            }
            if !end_credential.is_empty() {
                // The first end of a credential is the one that counts.
                tx.execute_typed(
                    "INSERT INTO credential_ends (credential, ending, idx)
                     SELECT * FROM unnest($1::bytea[], $2::smallint[], $3::bigint[])
                     ON CONFLICT (credential) DO NOTHING",
                    &[
                        (&end_credential, Type::BYTEA_ARRAY),
                        (&end_code, Type::INT2_ARRAY),
                        (&end_idx, Type::INT8_ARRAY),
                    ],
                )
                .await?;
            }
            tx.execute_typed(
                "INSERT INTO checkpoints (size, note) VALUES ($1, $2)
                 ON CONFLICT (size) DO UPDATE SET note = excluded.note",
                &[(&size, Type::INT8), (&note, Type::TEXT)],
            )
            .await?;
            tx.execute_typed(
                "INSERT INTO head (one, size) VALUES (true, $1)
                 ON CONFLICT (one) DO UPDATE SET size = excluded.size",
                &[(&size, Type::INT8)],
            )
            .await?;
            tx.commit().await?;
            Ok(Ok(()))
        }))?
    }

    fn leaf_indices(&self, hashes: &[Hash]) -> Result<Vec<Option<u64>>, StorageError> {
        let rows = self.read_per_hash(
            "SELECT e.idx FROM unnest($1::bytea[]) WITH ORDINALITY AS q(h, ord)
             LEFT JOIN entries e ON e.leaf_hash = q.h ORDER BY q.ord",
            hashes,
        )?;
        rows.iter()
            .map(|r| {
                col::<Option<i64>>(r, 0)?
                    .map(|i| to_u64(i, "leaf index"))
                    .transpose()
            })
            .collect()
    }

    fn credential_ends(
        &self,
        credentials: &[Hash],
    ) -> Result<Vec<Option<CredentialEnd>>, StorageError> {
        let rows = self.read_per_hash(
            "SELECT c.ending, c.idx FROM unnest($1::bytea[]) WITH ORDINALITY AS q(h, ord)
             LEFT JOIN credential_ends c ON c.credential = q.h ORDER BY q.ord",
            credentials,
        )?;
        rows.iter()
            .map(
                |r| match (col::<Option<i16>>(r, 0)?, col::<Option<i64>>(r, 1)?) {
                    (Some(code), Some(i)) => {
                        let ending = u8::try_from(code)
                            .ok()
                            .and_then(Ending::from_code)
                            .ok_or_else(|| {
                                StorageError::Corrupt(format!(
                                    "unknown credential ending code {code}"
                                ))
                            })?;
                        Ok(Some(CredentialEnd {
                            ending,
                            index: to_u64(i, "credential end index")?,
                        }))
                    }
                    _ => Ok(None),
                },
            )
            .collect()
    }

    fn submissions(&self, ids: &[Hash]) -> Result<Vec<Option<(u64, Hash)>>, StorageError> {
        let rows = self.read_per_hash(
            "SELECT s.idx, s.leaf_hash FROM unnest($1::bytea[]) WITH ORDINALITY AS q(id, ord)
             LEFT JOIN submissions s ON s.id = q.id ORDER BY q.ord",
            ids,
        )?;
        rows.iter()
            .map(
                |r| match (col::<Option<i64>>(r, 0)?, col::<Option<Vec<u8>>>(r, 1)?) {
                    (Some(i), Some(h)) => Ok(Some((
                        to_u64(i, "submission index")?,
                        hash(&h, "submission leaf hash")?,
                    ))),
                    _ => Ok(None),
                },
            )
            .collect()
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StorageError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let levels: Vec<i16> = ids.iter().map(|id| i16::from(id.level)).collect();
        let indices = ids
            .iter()
            .map(|id| to_i64(id.index, "node index"))
            .collect::<Result<Vec<i64>, _>>()?;
        let rows = self.read(
            "SELECT n.hash FROM unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS q(level, idx, ord)
             LEFT JOIN nodes n ON n.level = q.level AND n.idx = q.idx ORDER BY q.ord",
            &[(&levels, Type::INT2_ARRAY), (&indices, Type::INT8_ARRAY)],
        )?;
        rows.iter()
            .zip(ids)
            .map(|(r, id)| {
                let v: Option<Vec<u8>> = col(r, 0)?;
                let v = v.ok_or_else(|| StorageError::Corrupt(format!("missing node {id:?}")))?;
                hash(&v, &format!("node {id:?}"))
            })
            .collect()
    }

    fn node_range(
        &self,
        level: u8,
        start: u64,
        max_count: usize,
    ) -> Result<Vec<Hash>, StorageError> {
        let width = tile_row_width(level);
        let end = (start / width + 1)
            .saturating_mul(width)
            .min(start.saturating_add(max_count as u64));
        let (from, to) = (to_i64(start, "node index")?, to_i64(end, "node index")?);
        let level16 = i16::from(level);
        let rows = self.read(
            "SELECT idx, hash FROM nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
            &[
                (&level16, Type::INT2),
                (&from, Type::INT8),
                (&to, Type::INT8),
            ],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for (expected, r) in (from..).zip(&rows) {
            if col::<i64>(r, 0)? != expected {
                break;
            }
            out.push(hash(col(r, 1)?, "node")?);
        }
        Ok(out)
    }

    fn entries(
        &self,
        start: u64,
        end: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        let (from, to) = (to_i64(start, "leaf index")?, to_i64(end, "leaf index")?);
        let limit = max_count as i64;
        let rows = self.read(
            "SELECT idx, data FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3",
            &[(&from, Type::INT8), (&to, Type::INT8), (&limit, Type::INT8)],
        )?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for (expected, r) in (from..).zip(rows) {
            if col::<i64>(&r, 0)? != expected {
                return Err(StorageError::Corrupt(format!(
                    "entry {expected} is missing"
                )));
            }
            let v: Vec<u8> = col(&r, 1)?;
            if !out.is_empty() && bytes + v.len() > max_bytes {
                break;
            }
            bytes += v.len();
            out.push(v);
        }
        Ok(out)
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StorageError> {
        self.note_at("checkpoints", size)
    }

    fn checkpoint_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        self.sizes_near("checkpoints", size)
    }

    fn publish(&self, size: u64, note: &str) -> Result<(), StorageError> {
        let s = to_i64(size, "tree size")?;
        self.write(
            "INSERT INTO published (size, note) VALUES ($1, $2)
             ON CONFLICT (size) DO UPDATE SET note = excluded.note",
            &[(&s, Type::INT8), (&note, Type::TEXT)],
        )?;
        Ok(())
    }

    fn published(&self, size: u64) -> Result<Option<String>, StorageError> {
        self.note_at("published", size)
    }

    fn latest_published(&self) -> Result<Option<(u64, String)>, StorageError> {
        let rows = self.read(
            "SELECT size, note FROM published ORDER BY size DESC LIMIT 1",
            &[],
        )?;
        rows.first()
            .map(|r| Ok((to_u64(col(r, 0)?, "published size")?, col(r, 1)?)))
            .transpose()
    }

    fn published_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        self.sizes_near("published", size)
    }

    fn put_anchor(&self, size: u64, gen_time: i64, der: &[u8]) -> Result<(), StorageError> {
        let s = to_i64(size, "tree size")?;
        self.write(
            "INSERT INTO anchors (size, gen_time, der) VALUES ($1, $2, $3)
             ON CONFLICT (size) DO UPDATE SET gen_time = excluded.gen_time, der = excluded.der",
            &[
                (&s, Type::INT8),
                (&gen_time, Type::INT8),
                (&der, Type::BYTEA),
            ],
        )?;
        Ok(())
    }

    fn anchor(&self, size: u64) -> Result<Option<StoredAnchor>, StorageError> {
        let s = to_i64(size, "tree size")?;
        let rows = self.read(
            "SELECT size, gen_time, der FROM anchors WHERE size = $1",
            &[(&s, Type::INT8)],
        )?;
        rows.first().map(Self::anchor_row).transpose()
    }

    fn latest_anchor(&self) -> Result<Option<StoredAnchor>, StorageError> {
        let rows = self.read(
            "SELECT size, gen_time, der FROM anchors ORDER BY size DESC LIMIT 1",
            &[],
        )?;
        rows.first().map(Self::anchor_row).transpose()
    }

    fn anchors(&self, start: u64, limit: usize) -> Result<Vec<(u64, i64)>, StorageError> {
        let (s, limit) = (to_i64(start, "tree size")?, limit as i64);
        let rows = self.read(
            "SELECT size, gen_time FROM anchors WHERE size >= $1 ORDER BY size LIMIT $2",
            &[(&s, Type::INT8), (&limit, Type::INT8)],
        )?;
        rows.iter()
            .map(|r| Ok((to_u64(col(r, 0)?, "anchor size")?, col(r, 1)?)))
            .collect()
    }

    fn anchor_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        self.sizes_near("anchors", size)
    }
}
