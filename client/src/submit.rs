//! Submitting entries: batches that fit the server's default request
//! limits, a standby's refusal followed to the leader it names, and each
//! acknowledgement checked against the entry sent and the checkpoint
//! returned with it.

use causeway_tlog::merkle::{Hash, leaf_hash};

use crate::verify::{MaybeVerified, VerificationError, check_inclusion};
use crate::{AddResult, Added, ClientError, LeafRef, LogClient, LogTarget};

/// The most entries one `AddEntries` request carries (the server's default
/// limit).
pub const MAX_BATCH_ENTRIES: usize = 1000;

/// The most entry bytes one `AddEntries` request carries, under the
/// server's default message limit.
pub const MAX_BATCH_BYTES: usize = 8 << 20;

/// Splits `entries` into consecutive batches of at most
/// [`MAX_BATCH_ENTRIES`] entries and [`MAX_BATCH_BYTES`] bytes, in order (an
/// entry larger than the byte limit goes alone).
pub fn batches(entries: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut bytes = 0usize;
    for entry in entries {
        let full = out.last().is_none_or(|batch| {
            batch.len() == MAX_BATCH_ENTRIES || bytes + entry.len() > MAX_BATCH_BYTES
        });
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += entry.len();
        if let Some(batch) = out.last_mut() {
            batch.push(entry);
        }
    }
    out
}

/// Sends one batch. A standby of a replicated log refuses it naming the
/// leader: then `on_redirect(refusal, leader URL)` is called, `client` is
/// replaced by a connection to the leader (with `target`'s TLS settings),
/// and the batch is sent there, once.
///
/// # Errors
/// The log's refusal, or the leader's.
pub async fn add_following_leader(
    client: &mut LogClient,
    target: &LogTarget,
    batch: Vec<Vec<u8>>,
    on_redirect: impl FnOnce(&ClientError, &str),
) -> Result<AddResult, ClientError> {
    match client.add_entries(batch.clone()).await {
        Err(e) if e.leader().is_some() => {
            let leader = e.leader().unwrap_or_default();
            on_redirect(&e, &leader);
            let leader = LogTarget {
                url: leader,
                ..target.clone()
            };
            *client = leader.connect().await?;
            client.add_entries(batch).await
        }
        other => other,
    }
}

/// Why an acknowledgement does not hold.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// The log acknowledged another leaf than the entry sent.
    #[error("the log returned leaf hash {returned}, the entry hashes to {computed}")]
    WrongLeafHash {
        /// The leaf hash the log returned.
        returned: Hash,
        /// The entry's.
        computed: Hash,
    },
    /// The log could not prove the entry's inclusion.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The proof does not lead to the returned checkpoint's root.
    #[error("inclusion in the returned checkpoint")]
    NotIncluded(#[source] VerificationError),
}

/// Checks the acknowledgement `added` of `entry`: its leaf hash is the
/// entry's and, when the checkpoint returned with it was verified, the log
/// proves the entry's inclusion in that checkpoint.
///
/// # Errors
/// [`AckError`] saying which check failed.
pub async fn check_ack(
    client: &mut LogClient,
    checkpoint: &MaybeVerified,
    entry: &[u8],
    added: &Added,
) -> Result<(), AckError> {
    let computed = leaf_hash(entry);
    if added.leaf_hash != computed {
        return Err(AckError::WrongLeafHash {
            returned: added.leaf_hash,
            computed,
        });
    }
    if let Some(verified) = checkpoint.verified() {
        let cp = verified.checkpoint();
        let p = client
            .inclusion_proof(LeafRef::Index(added.index), Some(cp.size()))
            .await?;
        check_inclusion(cp, added.index, &added.leaf_hash, &p.proof)
            .map_err(AckError::NotIncluded)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_the_order_and_the_limits() {
        assert!(batches(Vec::new()).is_empty());
        let small: Vec<Vec<u8>> = (0..2500u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let split = batches(small.clone());
        assert_eq!(
            split.iter().map(Vec::len).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        assert_eq!(split.concat(), small);
        // Bytes: three 3 MiB entries make two batches; a huge one goes alone.
        let big = vec![vec![0u8; 3 << 20]; 3];
        assert_eq!(
            batches(big).iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 1]
        );
        let huge = vec![vec![1u8; 1], vec![0u8; 9 << 20], vec![2u8; 1]];
        assert_eq!(
            batches(huge).iter().map(Vec::len).collect::<Vec<_>>(),
            [1, 1, 1]
        );
    }
}
