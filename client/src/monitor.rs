//! Following a log: every new checkpoint must extend the last one seen,
//! and the checkpoint a witness cosigned must be on the same tree. A log
//! that shows two parties different trees is caught by either check.

use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::Hash;

use crate::LogClient;
use crate::verify::check_consistency;

/// Two checkpoints of one log that are not on one tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    /// Two signed checkpoints of one size with different roots.
    #[error("two signed checkpoints of size {size} with different roots")]
    SplitView {
        /// Their size.
        size: u64,
        /// The older one's root.
        old_root: Hash,
        /// The newer one's root.
        new_root: Hash,
    },
    /// The log cannot prove that the older tree is a prefix of the newer.
    #[error("the log cannot prove checkpoint {old_size} consistent with {new_size}")]
    Unproved {
        /// The older size.
        old_size: u64,
        /// The newer size.
        new_size: u64,
    },
}

/// Checks that `old` is a prefix of `new`, with a consistency proof from
/// the log when their sizes differ. A failed or wrong answer from the log
/// counts as no proof.
///
/// # Errors
/// [`Inconsistency`] saying which.
pub async fn check_extends(
    client: &mut LogClient,
    old: &Checkpoint,
    new: &Checkpoint,
) -> Result<(), Inconsistency> {
    if old.size() == new.size() {
        if old.root() != new.root() {
            return Err(Inconsistency::SplitView {
                size: old.size(),
                old_root: *old.root(),
                new_root: *new.root(),
            });
        }
        return Ok(());
    }
    if old.size() == 0 {
        return Ok(());
    }
    let proved = match client.consistency_proof(old.size(), Some(new.size())).await {
        Ok((n, p)) if n == new.size() => check_consistency(old, new, &p).is_ok(),
        _ => false,
    };
    if proved {
        Ok(())
    } else {
        Err(Inconsistency::Unproved {
            old_size: old.size(),
            new_size: new.size(),
        })
    }
}

/// Where a witness serves the latest checkpoint of `origin` it cosigned
/// (`<witness URL>/<hex SHA-256 of the origin>/checkpoint`).
pub fn witness_checkpoint_url(witness: &str, origin: &str) -> String {
    use sha2::Digest as _;
    let origin_hash = hex::encode(sha2::Sha256::digest(origin.as_bytes()));
    format!("{}/{origin_hash}/checkpoint", witness.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_witness_path_is_the_origin_hash() {
        assert_eq!(
            witness_checkpoint_url("http://w.example/", "example.com/log"),
            format!(
                "http://w.example/{}/checkpoint",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"example.com/log"))
            )
        );
    }
}
