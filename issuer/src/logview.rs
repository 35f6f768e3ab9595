//! What the issuer knows of the log for one request: a checkpoint
//! verified with the log's keys and every entry up to it, decoded.
//!
//! Reading the whole log per request is fine for tests and small logs; an
//! index of credentials by agent and of pre-flights by subject is issue
//! 18's.

use std::collections::HashMap;

use causeway_client::submit::check_ack;
use causeway_client::verify::{LogKeys, check_inclusion};
use causeway_client::{ClientError, LeafRef, LogClient};
use causeway_records::{Envelope, Record};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, leaf_hash};
use causeway_tlog::note::VerifierKey;
use tonic::Status;

/// One decoded entry.
pub struct Seen {
    /// Its index.
    pub index: u64,
    /// Its leaf hash.
    pub hash: Hash,
    /// The envelope.
    pub envelope: Envelope,
    /// The record.
    pub record: Record,
}

/// The log as of a verified checkpoint.
pub struct LogView {
    /// The verified checkpoint.
    pub checkpoint: Checkpoint,
    /// Every record entry, in log order.
    pub entries: Vec<Seen>,
    by_hash: HashMap<Hash, usize>,
}

/// A log client error as the issuer's caller should see it.
pub fn log_status(url: &str, e: &ClientError) -> Status {
    if e.is_transport() || e.code() == Some(tonic::Code::Unavailable) {
        Status::unavailable(format!(
            "cannot reach the log at {url}: {e}; retry with the same request_id"
        ))
    } else {
        Status::internal(format!("the log at {url} answered unexpectedly: {e}"))
    }
}

impl LogView {
    /// Fetches a verified checkpoint and every entry it covers.
    ///
    /// # Errors
    /// UNAVAILABLE when the log cannot be read, INTERNAL when its
    /// checkpoint does not verify.
    pub async fn fetch(
        client: &mut LogClient,
        url: &str,
        keys: &[VerifierKey],
    ) -> Result<LogView, Status> {
        let note = client
            .checkpoint(None)
            .await
            .map_err(|e| log_status(url, &e))?;
        let checkpoint = LogKeys::Verify(keys.to_vec())
            .read(&note)
            .map_err(|e| {
                Status::internal(format!(
                    "the log's checkpoint does not verify with log_vkeys: {e}; check the \
                     issuer's log_vkeys against the log's"
                ))
            })?
            .into_checkpoint();
        let mut entries = Vec::new();
        let mut by_hash = HashMap::new();
        let mut next = 0u64;
        while next < checkpoint.size() {
            let page = client
                .entries(next, checkpoint.size() - next)
                .await
                .map_err(|e| log_status(url, &e))?;
            if page.is_empty() {
                return Err(Status::unavailable("the log returned no entries; retry"));
            }
            for data in page {
                let index = next;
                next += 1;
                let hash = leaf_hash(&data);
                // Entries that are not records are no governance evidence.
                let Ok(envelope) = Envelope::decode(&data) else {
                    continue;
                };
                let Ok(record) = envelope.record() else {
                    continue;
                };
                by_hash.insert(hash, entries.len());
                entries.push(Seen {
                    index,
                    hash,
                    envelope,
                    record,
                });
            }
        }
        Ok(LogView {
            checkpoint,
            entries,
            by_hash,
        })
    }

    /// The entry with leaf hash `hash`, once the log proved its inclusion
    /// in the verified checkpoint.
    ///
    /// # Errors
    /// UNAVAILABLE when the proof cannot be fetched, INTERNAL when it does
    /// not verify.
    pub async fn proven(
        &self,
        client: &mut LogClient,
        url: &str,
        hash: &Hash,
    ) -> Result<Option<&Seen>, Status> {
        let Some(&i) = self.by_hash.get(hash) else {
            return Ok(None);
        };
        let seen = &self.entries[i];
        let proof = client
            .inclusion_proof(LeafRef::Index(seen.index), Some(self.checkpoint.size()))
            .await
            .map_err(|e| log_status(url, &e))?;
        check_inclusion(&self.checkpoint, seen.index, hash, &proof.proof).map_err(|e| {
            Status::internal(format!(
                "the log's inclusion proof of {hash} does not verify: {e}"
            ))
        })?;
        Ok(Some(seen))
    }
}

/// Submits one entry and checks the acknowledgement: the leaf hash is the
/// entry's (or, for a duplicate, the original's) and its inclusion in the
/// returned checkpoint, verified with the log's keys, is proven.
///
/// # Errors
/// The log's refusal with its own code, UNAVAILABLE when the log cannot
/// be reached.
pub async fn submit(
    client: &mut LogClient,
    url: &str,
    keys: &[VerifierKey],
    entry: Vec<u8>,
) -> Result<(u64, Hash), Status> {
    let result = match client.add_entries(vec![entry.clone()]).await {
        Ok(r) => r,
        Err(ClientError::Status(s)) if s.source_is_none() => {
            return Err(Status::new(
                s.code(),
                format!("the log refused the record: {}", s.message()),
            ));
        }
        Err(e) => return Err(log_status(url, &e)),
    };
    let added = result
        .entries
        .first()
        .cloned()
        .ok_or_else(|| Status::internal("the log acknowledged nothing"))?;
    let checkpoint = LogKeys::Verify(keys.to_vec())
        .read(&result.checkpoint_note)
        .map_err(|e| Status::internal(format!("the log's checkpoint does not verify: {e}")))?;
    if added.duplicate {
        // The original's leaf hash may differ when only the signature
        // differs; prove that leaf instead.
        let cp = checkpoint.checkpoint();
        let p = client
            .inclusion_proof(LeafRef::Index(added.index), Some(cp.size()))
            .await
            .map_err(|e| log_status(url, &e))?;
        check_inclusion(cp, added.index, &added.leaf_hash, &p.proof)
            .map_err(|e| Status::internal(format!("inclusion of the original: {e}")))?;
    } else {
        check_ack(client, &checkpoint, &entry, &added)
            .await
            .map_err(|e| Status::internal(format!("the log's acknowledgement: {e}")))?;
    }
    Ok((added.index, added.leaf_hash))
}

trait SourceIsNone {
    fn source_is_none(&self) -> bool;
}

impl SourceIsNone for Status {
    /// An answer from the log rather than a broken connection.
    fn source_is_none(&self) -> bool {
        std::error::Error::source(self).is_none() && self.code() != tonic::Code::Unavailable
    }
}
