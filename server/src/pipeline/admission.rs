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

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use causeway_records::{Envelope, ProducerPolicy, Referenced, Rejection, validate_entry};
use causeway_tlog::merkle::Hash;

use super::sequencer::Guard;
use crate::storage::{Storage, StorageError};

/// The admission mode.
#[derive(Clone, Debug)]
pub enum Admission {
    /// Any bytes (1 to 65,535 of them): the generic log.
    Opaque,
    /// Signed governance records under a producer policy.
    Records(Arc<ProducerPolicy>),
}

/// Why admission refused a request; [`crate::api::status`] gives each its
/// gRPC status.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// Entry `index` of the request's `count` is refused (and with it the
    /// whole request).
    #[error("{}", if *.count == 1 { .rejection.message.clone() } else { format!("entry {}: {}", .index, .rejection.message) })]
    Rejected {
        /// The entry's position in the request.
        index: usize,
        /// How many entries the request carries.
        count: usize,
        /// Why, with its class.
        rejection: Rejection,
    },
    /// A reference could not be read: not missing, so the producer should
    /// retry rather than resubmit parents. Nothing was written.
    #[error(
        "could not read the log's entries to check references ({0}); nothing was written: retry"
    )]
    Lookup(StorageError),
}

/// What admission learned about one entry, so nothing decodes it again.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// The record's submission ID (none for opaque entries).
    pub submission_id: Option<Hash>,
    /// Who the rate limiter charges: the root credential for a record
    /// signed by a session key (so delegated keys share their root's
    /// budget), else the signing key; none for opaque entries.
    pub producer: Option<String>,
    /// What the sequencer must judge in log order (records only).
    pub guard: Option<Guard>,
}

/// Requests with fewer entries are checked on the calling thread: a
/// thread's start costs about what a few signature checks do.
const PARALLEL_FROM: usize = 64;

impl Admission {
    /// Checks every entry of one request against the log's state; the
    /// request is refused as a whole at the first entry that fails, with
    /// the entry's position in the message. Blocks on storage reads.
    ///
    /// A large request is split into one contiguous part per core, checked
    /// at once (signature verification is the cost of admission); the
    /// answer is the same as checking in order: the first failure by
    /// position wins.
    ///
    /// # Errors
    /// [`AdmissionError::Rejected`] for the first entry refused;
    /// [`AdmissionError::Lookup`] when storage failed while looking up a
    /// reference (nothing was written).
    pub fn check(
        &self,
        storage: &dyn Storage,
        head_size: u64,
        entries: &[(Vec<u8>, Hash)],
    ) -> Result<Vec<Checked>, AdmissionError> {
        let Admission::Records(policy) = self else {
            return Ok(vec![Checked::default(); entries.len()]);
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let part = |range: std::ops::Range<usize>| {
            check_part(policy, storage, head_size, now, entries, range)
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores == 1 || entries.len() < PARALLEL_FROM {
            return part(0..entries.len());
        }
        let size = entries.len().div_ceil(cores);
        let parts: Vec<Result<Vec<Checked>, AdmissionError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..entries.len())
                .step_by(size)
                .map(|start| {
                    let range = start..(start + size).min(entries.len());
                    scope.spawn(move || part(range))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        // Parts are in position order, so the first error is the first
        // entry refused, as in a check in order.
        let mut checked = Vec::with_capacity(entries.len());
        for p in parts {
            checked.extend(p?);
        }
        Ok(checked)
    }
}

/// [`Admission::check`] of the entries at `range` of a request.
fn check_part(
    policy: &ProducerPolicy,
    storage: &dyn Storage,
    head_size: u64,
    now: i64,
    entries: &[(Vec<u8>, Hash)],
    range: std::ops::Range<usize>,
) -> Result<Vec<Checked>, AdmissionError> {
    // Many records of one request reference the same parent (a session's
    // actions, its credential): read and decode it once per part.
    let failure: RefCell<Option<StorageError>> = RefCell::new(None);
    let mut seen: HashMap<Hash, Option<Referenced>> = HashMap::new();
    let mut lookup = |hash: &Hash| {
        seen.entry(*hash)
            .or_insert_with(|| match lookup(storage, head_size, hash) {
                Ok(found) => found,
                Err(e) => {
                    failure.borrow_mut().get_or_insert(e);
                    None
                }
            })
            .clone()
    };
    let mut checked = Vec::with_capacity(range.len());
    for i in range {
        let entry = &entries[i].0;
        let mut missing: Vec<Hash> = Vec::new();
        let admitted = validate_entry(entry, policy, now, &mut |hash: &Hash| {
            let found = lookup(hash);
            if found.is_none() {
                missing.push(*hash);
            }
            found
        });
        // A reference that could not be read is not a reference that is
        // missing: the producer should retry, not resubmit parents.
        if let Some(e) = failure.borrow_mut().take() {
            return Err(AdmissionError::Lookup(e));
        }
        let admitted = admitted.map_err(|mut rejection| {
            // A parent sent in the same request is not yet in the log when
            // its child is judged: say so, rather than "submit the parent
            // first" to a producer who just did.
            let earlier = missing
                .iter()
                .find_map(|m| entries[..i].iter().position(|(_, leaf)| leaf == m));
            if let Some(j) = earlier {
                rejection.message = format!(
                    "{}; it is entry {j} of this same request: a record cannot reference \
                     another entry of its own request. Submit the parent first and wait for \
                     its acknowledgement, then the child",
                    rejection.message
                );
            }
            AdmissionError::Rejected {
                index: i,
                count: entries.len(),
                rejection,
            }
        })?;
        let producer = match admitted.lineage.root() {
            Some(root) => format!("credential {root}"),
            None => format!("key {}", admitted.keyid),
        };
        checked.push(Checked {
            submission_id: Some(admitted.submission_id),
            producer: Some(producer),
            guard: Some(Guard {
                kind: admitted.record.kind(),
                lineage: admitted.lineage,
                ends: admitted.ends,
            }),
        });
    }
    Ok(checked)
}

/// The record at `hash`, if that leaf is in the durable log and decodes.
fn lookup(
    storage: &dyn Storage,
    head_size: u64,
    hash: &Hash,
) -> Result<Option<Referenced>, StorageError> {
    let Some(index) = storage
        .leaf_indices(std::slice::from_ref(hash))?
        .pop()
        .flatten()
        .filter(|i| *i < head_size)
    else {
        return Ok(None);
    };
    let Some(entry) = storage.entries(index, index + 1, 1, usize::MAX)?.pop() else {
        return Ok(None);
    };
    let record = Envelope::decode(&entry).ok().and_then(|e| e.record().ok());
    Ok(record.map(|record| Referenced { index, record }))
}
