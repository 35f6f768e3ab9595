//! What the log accepts: governance records (the default) or opaque bytes.
//!
//! In records mode every entry must be a signed record envelope that
//! passes [`validate_entry`] against the producer policy: well-formed,
//! signed by a key allowed to sign its kind (or by the session key of the
//! credential it belongs to, inside that credential's validity), every
//! reference naming an entry already in the log of the right kind, and its
//! time not too far in the future. References are looked up in storage,
//! bounded by the durable head, so a child can only follow an acknowledged
//! parent. Scope conformance and plausibility are left to the auditor.

use std::sync::Arc;

use causeway_proto::merkle::Hash;
use causeway_proto::records::{
    Envelope, ProducerPolicy, Referenced, RejectCode, Rejection, validate_entry,
};
use tonic::Status;

use crate::storage::Storage;

/// The admission mode.
#[derive(Clone, Debug)]
pub enum Admission {
    /// Any bytes (1 to 65,535 of them): the generic log.
    Opaque,
    /// Signed governance records under a producer policy.
    Records(Arc<ProducerPolicy>),
}

impl Admission {
    /// Checks every entry of one request against the log's state; the
    /// request is refused as a whole at the first entry that fails, with
    /// the entry's position in the message. Blocks on storage reads.
    /// Returns each record's submission ID (none for opaque entries).
    ///
    /// # Errors
    /// The gRPC status of the first rejection.
    pub fn check(
        &self,
        storage: &dyn Storage,
        head_size: u64,
        entries: &[(Vec<u8>, Hash)],
    ) -> Result<Vec<Option<Hash>>, Status> {
        let Admission::Records(policy) = self else {
            return Ok(vec![None; entries.len()]);
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        // Many records of one request reference the same parent (a
        // session's actions, its credential): read and decode it once.
        let mut seen: std::collections::HashMap<Hash, Option<Referenced>> =
            std::collections::HashMap::new();
        let mut lookup = |hash: &Hash| {
            seen.entry(*hash)
                .or_insert_with(|| lookup(storage, head_size, hash))
                .clone()
        };
        let mut ids = Vec::with_capacity(entries.len());
        for (i, (entry, _)) in entries.iter().enumerate() {
            if let Err(rejection) = validate_entry(entry, policy, now, &mut lookup) {
                return Err(status(i, entries.len(), rejection));
            }
            // Valid, so it decodes and has one signature.
            ids.push(
                Envelope::decode(entry)
                    .ok()
                    .and_then(|e| e.submission_id().ok()),
            );
        }
        Ok(ids)
    }
}

/// The record at `hash`, if that leaf is in the durable log and decodes.
fn lookup(storage: &dyn Storage, head_size: u64, hash: &Hash) -> Option<Referenced> {
    let index = storage
        .leaf_indices(std::slice::from_ref(hash))
        .ok()?
        .pop()
        .flatten()
        .filter(|i| *i < head_size)?;
    let entry = storage
        .entries(index, index + 1, 1, usize::MAX)
        .ok()?
        .pop()?;
    let record = Envelope::decode(&entry).ok()?.record().ok()?;
    Some(Referenced { index, record })
}

fn status(index: usize, count: usize, rejection: Rejection) -> Status {
    let message = if count == 1 {
        rejection.message
    } else {
        format!("entry {index}: {}", rejection.message)
    };
    match rejection.code {
        RejectCode::InvalidArgument => Status::invalid_argument(message),
        RejectCode::PermissionDenied => Status::permission_denied(message),
        RejectCode::FailedPrecondition => Status::failed_precondition(message),
    }
}
