//! The auditor's checks of a whole log, before its records are analysed
//! ([`crate::audit::analyze`]): the anchors the log lists, the tree
//! recomputed from every entry against the signed checkpoint, and each
//! anchored checkpoint checked to be on that same tree.
//!
//! Each step is its own function, so that a caller (the `causeway audit`
//! command) runs them in its order, shows progress between them, and says
//! in its own words which step failed.

use std::collections::{BTreeMap, BTreeSet};

use causeway_rfc3161::TrustedRoots;
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{CompactRange, Hash, leaf_hash};

use crate::verify::{LogKeys, VerificationError, check_anchor, note_body};
use crate::{ClientError, LogClient, LogTarget};

/// The anchors a log lists, on trees no larger than the audited one.
pub struct ListedAnchors {
    /// A connection to the log, to fetch the anchors with, when it listed
    /// them.
    pub client: Option<LogClient>,
    /// The anchored tree sizes and the TSA times the log claims.
    pub anchors: Vec<(u64, i64)>,
    /// Why the log could not be asked, if it could not.
    pub unavailable: Option<AnchorsUnavailable>,
}

/// Why a log's anchors could not be listed.
#[derive(Debug)]
pub enum AnchorsUnavailable {
    /// The log could not be reached.
    Unreachable(ClientError),
    /// It was reached, but `ListAnchors` failed.
    ListFailed(ClientError),
}

/// Asks the log at `log` for its anchors of trees of at most `size`
/// entries. A log that cannot be reached or asked is not an error here:
/// [`ListedAnchors::unavailable`] says why, and the caller decides.
pub async fn list_anchors(log: &LogTarget, size: u64) -> ListedAnchors {
    let (client, anchors, unavailable) = match log.connect().await {
        Ok(mut c) => match c.anchors(0, 0).await {
            Ok(mut list) => {
                list.retain(|(s, _)| *s <= size);
                (Some(c), list, None)
            }
            Err(e) => (None, Vec::new(), Some(AnchorsUnavailable::ListFailed(e))),
        },
        Err(e) => (None, Vec::new(), Some(AnchorsUnavailable::Unreachable(e))),
    };
    ListedAnchors {
        client,
        anchors,
        unavailable,
    }
}

/// The entries do not recompute to the signed checkpoint.
#[derive(Debug, thiserror::Error)]
#[error(
    "TAMPERED OR FORKED LOG: the {size} entries recompute to root {root}, but the signed checkpoint at size {signed_size} says {signed_root}"
)]
pub struct TreeMismatch {
    /// How many entries there were.
    pub size: u64,
    /// The root they give.
    pub root: Hash,
    /// The checkpoint's size.
    pub signed_size: u64,
    /// The checkpoint's root.
    pub signed_root: Hash,
}

/// Recomputes the tree of `entries` and checks it is the `checkpoint`'s;
/// returns its roots at each of `sizes` it reached on the way.
///
/// # Errors
/// [`TreeMismatch`] if the size or the root differ.
pub fn recompute_tree(
    entries: &[Vec<u8>],
    checkpoint: &Checkpoint,
    sizes: &BTreeSet<u64>,
) -> Result<BTreeMap<u64, Hash>, TreeMismatch> {
    let mut range = CompactRange::new();
    let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
    if sizes.contains(&0) {
        roots.insert(0, range.root());
    }
    for entry in entries {
        range.append(leaf_hash(entry), |_, _| {});
        if sizes.contains(&range.size()) {
            roots.insert(range.size(), range.root());
        }
    }
    if range.size() != checkpoint.size() || range.root() != *checkpoint.root() {
        return Err(TreeMismatch {
            size: range.size(),
            root: range.root(),
            signed_size: checkpoint.size(),
            signed_root: *checkpoint.root(),
        });
    }
    Ok(roots)
}

/// An anchored checkpoint found on the audited tree.
#[derive(Clone, Debug)]
pub struct AnchorOnTree {
    /// The anchored size.
    pub tree_size: u64,
    /// The TSA's time: verified with TSA roots, else as the log claims.
    pub gen_time: i64,
    /// The TSA (its certificate's subject), or why it is not known.
    pub tsa: String,
}

/// Why an anchored checkpoint is not on the audited tree.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// The log did not return it.
    #[error("fetching the anchor")]
    Fetch(#[source] ClientError),
    /// Its checkpoint does not verify with the log's keys.
    #[error("its checkpoint")]
    Checkpoint(#[source] VerificationError),
    /// It is on another tree.
    #[error("FORK: the anchored checkpoint at size {size} has root {anchored}, the entries give {}", recomputed.map_or("nothing".into(), |h| h.to_hex()))]
    Fork {
        /// The anchored size.
        size: u64,
        /// The anchored checkpoint's root.
        anchored: Hash,
        /// The root the entries give at that size.
        recomputed: Option<Hash>,
    },
    /// The TSA token does not verify against the roots.
    #[error("its timestamp")]
    Timestamp(#[source] VerificationError),
}

/// Fetches the anchor at `size` and checks it: its checkpoint is read with
/// `keys` and has the root the entries give at that size (`roots`, from
/// [`recompute_tree`]), and with `tsa_roots` its token verifies.
///
/// # Errors
/// [`AnchorError`] naming the step that failed.
pub async fn check_anchor_on_tree(
    client: &mut LogClient,
    size: u64,
    keys: &LogKeys,
    roots: &BTreeMap<u64, Hash>,
    tsa_roots: Option<&TrustedRoots>,
) -> Result<AnchorOnTree, AnchorError> {
    let a = client
        .anchor(Some(size))
        .await
        .map_err(AnchorError::Fetch)?;
    let cp = keys
        .read(&a.checkpoint_note)
        .map_err(AnchorError::Checkpoint)?
        .into_checkpoint();
    if Some(cp.root()) != roots.get(&size) {
        return Err(AnchorError::Fork {
            size,
            anchored: *cp.root(),
            recomputed: roots.get(&size).copied(),
        });
    }
    let (gen_time, tsa) = match tsa_roots {
        Some(r) => {
            let v = check_anchor(
                &a.timestamp_response,
                note_body(&a.checkpoint_note),
                r,
                None,
            )
            .map_err(AnchorError::Timestamp)?;
            (v.gen_time, v.signer_subject)
        }
        None => (a.gen_time, "unverified (no --tsa-roots)".into()),
    };
    Ok(AnchorOnTree {
        tree_size: size,
        gen_time,
        tsa,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_tlog::merkle::EMPTY_ROOT;

    #[test]
    fn the_tree_is_recomputed_with_its_roots_at_the_anchored_sizes() {
        let entries: Vec<Vec<u8>> = (0u8..3).map(|i| vec![i]).collect();
        let mut range = CompactRange::new();
        let mut at_two = EMPTY_ROOT;
        for (i, e) in entries.iter().enumerate() {
            range.append(leaf_hash(e), |_, _| {});
            if i == 1 {
                at_two = range.root();
            }
        }
        let signed = Checkpoint::new("log.example/a", 3, range.root()).unwrap();
        let roots = recompute_tree(&entries, &signed, &BTreeSet::from([0, 2, 9])).unwrap();
        assert_eq!(roots, BTreeMap::from([(0, EMPTY_ROOT), (2, at_two)]));
        // One entry short, or another root: tampered.
        let err = recompute_tree(&entries[..2], &signed, &BTreeSet::new()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("TAMPERED OR FORKED LOG: the 2 entries"),
            "{err}"
        );
        let other = Checkpoint::new("log.example/a", 3, at_two).unwrap();
        assert!(recompute_tree(&entries, &other, &BTreeSet::new()).is_err());
    }
}
