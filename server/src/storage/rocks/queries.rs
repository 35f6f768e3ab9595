//! The [`Storage`] contract over the column families of [`super`]: one
//! synced `WriteBatch` per commit, point reads and ordered scans.

use causeway_records::CredentialEnd;
use causeway_tlog::merkle::{Hash, NodeId};

use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};

use super::{
    CF_ANCHORS, CF_CHECKPOINTS, CF_CREDENTIAL_ENDS, CF_ENTRIES, CF_LEAVES, CF_META, CF_NODES,
    CF_PUBLISHED, CF_SUBMISSIONS, META_ORIGIN, META_SIZE, REOPEN_HEADROOM, RocksStorage,
    decode_end, encode_end, node_key, open_db, u64_value, wal_bytes,
};
use crate::storage::{Commit, Storage, StorageError, StoredAnchor, StoredHead};

impl Storage for RocksStorage {
    fn backend(&self) -> &'static str {
        "rocksdb"
    }

    fn disk_bytes(&self) -> Option<u64> {
        let files = std::fs::read_dir(&self.path).ok()?;
        Some(
            files
                .filter_map(|f| f.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum(),
        )
    }

    fn recover(&self) -> Result<bool, StorageError> {
        let needed = wal_bytes(&self.path) + REOPEN_HEADROOM;
        let free = rustix::fs::statvfs(&self.path)
            .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
            .unwrap_or(0);
        let closed = self
            .db
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none();
        if free < needed && !closed {
            return Ok(false);
        }
        let mut db = self
            .db
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Close first: RocksDB's lock file admits one instance.
        *db = None;
        *db = Some(open_db(&self.path, &self.options)?);
        Ok(true)
    }

    fn origin(&self) -> Result<Option<String>, StorageError> {
        let db = self.db()?;
        let v = db.get_cf(db.cf(CF_META), META_ORIGIN)?;
        v.map(|b| {
            String::from_utf8(b).map_err(|_| StorageError::Corrupt("origin is not UTF-8".into()))
        })
        .transpose()
    }

    fn set_origin(&self, origin: &str) -> Result<(), StorageError> {
        let db = self.db()?;
        let mut b = WriteBatch::default();
        b.put_cf(db.cf(CF_META), META_ORIGIN, origin.as_bytes());
        db.write_opt(b, &self.sync_writes)?;
        Ok(())
    }

    fn head(&self) -> Result<Option<StoredHead>, StorageError> {
        let db = self.db()?;
        let Some(size) = db.get_cf(db.cf(CF_META), META_SIZE)? else {
            return Ok(None);
        };
        let size = u64_value(&size, "stored tree size")?;
        let note = self.checkpoint(size)?.ok_or_else(|| {
            StorageError::Corrupt(format!("no checkpoint at the head size {size}"))
        })?;
        Ok(Some(StoredHead { size, note }))
    }

    fn commit(&self, commit: &Commit) -> Result<(), StorageError> {
        let db = self.db()?;
        let mut b = WriteBatch::default();
        let (entries, leaves, nodes) = (db.cf(CF_ENTRIES), db.cf(CF_LEAVES), db.cf(CF_NODES));
        for (i, (entry, hash)) in commit.entries.iter().enumerate() {
            let index = (commit.first_index + i as u64).to_be_bytes();
            b.put_cf(entries, index, entry);
            b.put_cf(leaves, hash.as_bytes(), index);
        }
        let submissions = db.cf(CF_SUBMISSIONS);
        for (id, index, leaf) in &commit.submissions {
            let mut value = [0u8; 40];
            value[..8].copy_from_slice(&index.to_be_bytes());
            value[8..].copy_from_slice(leaf.as_bytes());
            b.put_cf(submissions, id.as_bytes(), value);
        }
        let ends = db.cf(CF_CREDENTIAL_ENDS);
        for (credential, end) in &commit.credential_ends {
            b.put_cf(ends, credential.as_bytes(), encode_end(end));
        }
        for (id, hash) in &commit.nodes {
            b.put_cf(nodes, node_key(*id), hash.as_bytes());
        }
        b.put_cf(
            db.cf(CF_CHECKPOINTS),
            commit.size.to_be_bytes(),
            commit.note.as_bytes(),
        );
        b.put_cf(db.cf(CF_META), META_SIZE, commit.size.to_be_bytes());
        db.write_opt(b, &self.sync_writes)?;
        Ok(())
    }

    fn leaf_indices(&self, hashes: &[Hash]) -> Result<Vec<Option<u64>>, StorageError> {
        let db = self.db()?;
        let cf = db.cf(CF_LEAVES);
        db.batched_multi_get_cf(cf, hashes.iter().map(|h| h.as_bytes()), false)
            .into_iter()
            .map(|r| match r? {
                Some(v) => u64_value(&v, "leaf index").map(Some),
                None => Ok(None),
            })
            .collect()
    }

    fn credential_ends(
        &self,
        credentials: &[Hash],
    ) -> Result<Vec<Option<CredentialEnd>>, StorageError> {
        if credentials.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db()?;
        let cf = db.cf(CF_CREDENTIAL_ENDS);
        db.batched_multi_get_cf(cf, credentials.iter().map(|h| h.as_bytes()), false)
            .into_iter()
            .map(|r| match r? {
                Some(v) => decode_end(&v).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    fn submissions(&self, ids: &[Hash]) -> Result<Vec<Option<(u64, Hash)>>, StorageError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db()?;
        let cf = db.cf(CF_SUBMISSIONS);
        db.batched_multi_get_cf(cf, ids.iter().map(|h| h.as_bytes()), false)
            .into_iter()
            .map(|r| match r? {
                Some(v) if v.len() == 40 => {
                    let index = u64_value(&v[..8], "submission index")?;
                    let leaf = Hash::try_from(&v[8..])
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                    Ok(Some((index, leaf)))
                }
                Some(v) => Err(StorageError::Corrupt(format!(
                    "a submission record is {} bytes, not 40",
                    v.len()
                ))),
                None => Ok(None),
            })
            .collect()
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StorageError> {
        let db = self.db()?;
        let cf = db.cf(CF_NODES);
        let keys: Vec<[u8; 18]> = ids.iter().map(|id| node_key(*id)).collect();
        db.batched_multi_get_cf(cf, keys.iter(), false)
            .into_iter()
            .zip(ids)
            .map(|(r, id)| {
                let v = r?.ok_or_else(|| StorageError::Corrupt(format!("missing node {id:?}")))?;
                Hash::try_from(&v[..])
                    .map_err(|e| StorageError::Corrupt(format!("node {id:?}: {e}")))
            })
            .collect()
    }

    fn node_range(
        &self,
        level: u8,
        start: u64,
        max_count: usize,
    ) -> Result<Vec<Hash>, StorageError> {
        let db = self.db()?;
        let from = node_key(NodeId::new(level, start));
        let mut out = Vec::with_capacity(max_count.min(256));
        let iter = db.iterator_cf(
            db.cf(CF_NODES),
            IteratorMode::From(&from, Direction::Forward),
        );
        for (expected, item) in (start..).zip(iter) {
            if out.len() == max_count {
                break;
            }
            let (k, v) = item?;
            if k.as_ref() != node_key(NodeId::new(level, expected)) {
                break;
            }
            out.push(Hash::try_from(&v[..]).map_err(|e| StorageError::Corrupt(e.to_string()))?);
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
        let db = self.db()?;
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(end.to_be_bytes().to_vec());
        let from = start.to_be_bytes();
        let iter = db.iterator_cf_opt(
            db.cf(CF_ENTRIES),
            opts,
            IteratorMode::From(&from, Direction::Forward),
        );
        let mut out = Vec::new();
        let mut bytes = 0;
        for (expected, item) in (start..end).zip(iter) {
            let (k, v) = item?;
            if u64_value(&k, "entry key")? != expected {
                return Err(StorageError::Corrupt(format!(
                    "entry {expected} is missing"
                )));
            }
            if out.len() == max_count || (!out.is_empty() && bytes + v.len() > max_bytes) {
                break;
            }
            bytes += v.len();
            out.push(v.into_vec());
        }
        Ok(out)
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StorageError> {
        let db = self.db()?;
        let v = db.get_cf(db.cf(CF_CHECKPOINTS), size.to_be_bytes())?;
        v.map(|b| {
            String::from_utf8(b)
                .map_err(|_| StorageError::Corrupt(format!("checkpoint {size} is not UTF-8")))
        })
        .transpose()
    }

    fn checkpoint_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        self.sizes_near(CF_CHECKPOINTS, size)
    }

    fn publish(&self, size: u64, note: &str) -> Result<(), StorageError> {
        let db = self.db()?;
        let mut b = WriteBatch::default();
        b.put_cf(db.cf(CF_PUBLISHED), size.to_be_bytes(), note.as_bytes());
        db.write_opt(b, &self.sync_writes)?;
        Ok(())
    }

    fn published(&self, size: u64) -> Result<Option<String>, StorageError> {
        let db = self.db()?;
        let v = db.get_cf(db.cf(CF_PUBLISHED), size.to_be_bytes())?;
        v.map(|b| {
            String::from_utf8(b).map_err(|_| {
                StorageError::Corrupt(format!("published checkpoint {size} is not UTF-8"))
            })
        })
        .transpose()
    }

    fn latest_published(&self) -> Result<Option<(u64, String)>, StorageError> {
        let db = self.db()?;
        let Some(item) = db
            .iterator_cf(db.cf(CF_PUBLISHED), IteratorMode::End)
            .next()
        else {
            return Ok(None);
        };
        let (k, v) = item?;
        let size = u64_value(&k, "published checkpoint key")?;
        let note = String::from_utf8(v.to_vec()).map_err(|_| {
            StorageError::Corrupt(format!("published checkpoint {size} is not UTF-8"))
        })?;
        Ok(Some((size, note)))
    }

    fn published_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        self.sizes_near(CF_PUBLISHED, size)
    }

    fn put_anchor(&self, size: u64, gen_time: i64, der: &[u8]) -> Result<(), StorageError> {
        let db = self.db()?;
        let mut value = Vec::with_capacity(8 + der.len());
        value.extend_from_slice(&gen_time.to_be_bytes());
        value.extend_from_slice(der);
        let mut b = WriteBatch::default();
        b.put_cf(db.cf(CF_ANCHORS), size.to_be_bytes(), value);
        db.write_opt(b, &self.sync_writes)?;
        Ok(())
    }

    fn anchor(&self, size: u64) -> Result<Option<StoredAnchor>, StorageError> {
        let db = self.db()?;
        db.get_cf(db.cf(CF_ANCHORS), size.to_be_bytes())?
            .map(|v| Self::anchor_value(size, &v))
            .transpose()
    }

    fn latest_anchor(&self) -> Result<Option<StoredAnchor>, StorageError> {
        let db = self.db()?;
        let Some(item) = db.iterator_cf(db.cf(CF_ANCHORS), IteratorMode::End).next() else {
            return Ok(None);
        };
        let (k, v) = item?;
        Self::anchor_value(u64_value(&k, "anchor key")?, &v).map(Some)
    }

    fn anchors(&self, start: u64, limit: usize) -> Result<Vec<(u64, i64)>, StorageError> {
        let db = self.db()?;
        let key = start.to_be_bytes();
        let mut out = Vec::new();
        for item in db
            .iterator_cf(
                db.cf(CF_ANCHORS),
                IteratorMode::From(&key, Direction::Forward),
            )
            .take(limit)
        {
            let (k, v) = item?;
            let anchor = Self::anchor_value(u64_value(&k, "anchor key")?, &v)?;
            out.push((anchor.size, anchor.gen_time));
        }
        Ok(out)
    }

    fn anchor_sizes_near(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StorageError> {
        self.sizes_near(CF_ANCHORS, size)
    }
}
