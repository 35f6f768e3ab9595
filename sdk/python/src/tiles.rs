//! Verification from a log's C2SP tlog-tiles alone, through
//! `causeway_client::tiles`: the checkpoint served beside the tiles is
//! verified with the log's keys and witness policy, and proofs are
//! computed from the hash tiles here, so no proof endpoint of the server
//! is trusted.

use std::time::Duration;

use causeway_client::tiles::{HttpTiles, TileError, TileTree, checked_checkpoint};
use causeway_client::verify::{
    LogKeys, MaybeVerified, WitnessPolicy, check_consistency, check_inclusion,
};
use pyo3::prelude::*;

use crate::{CheckpointFacts, LogError, VerificationError, checkpoint_facts, hash, invalid, keys};

/// A tile failure as Python sees it: what the server sent does not verify
/// (VerificationError), or it could not be fetched (LogError, with
/// `UNREACHABLE` or the HTTP status as `HTTP_<code>`).
fn tile_error(e: TileError) -> PyErr {
    match &e {
        TileError::Http { .. } | TileError::Timeout { .. } | TileError::Io { .. } => {
            LogError::new_err(("UNREACHABLE", e.to_string()))
        }
        TileError::Status { status, .. } => {
            LogError::new_err((format!("HTTP_{status}"), e.to_string()))
        }
        _ => VerificationError::new_err(e.to_string()),
    }
}

/// A log's tile endpoint and what its checkpoints must satisfy; blocking
/// (each call runs on the object's own runtime, with the GIL released).
#[pyclass]
pub(crate) struct Tiles {
    runtime: tokio::runtime::Runtime,
    source: HttpTiles,
    log: LogKeys,
    witnesses: WitnessPolicy,
}

impl Tiles {
    /// The checkpoint served with the tiles, verified at POSIX time `now`.
    async fn verified(&self, now: u64) -> Result<MaybeVerified, PyErr> {
        let checked = checked_checkpoint(&self.source, &self.log)
            .await
            .map_err(|e| match e {
                TileError::Checkpoint(v) => VerificationError::new_err(format!(
                    "the checkpoint served with the tiles does not verify: {v}"
                )),
                other => tile_error(other),
            })?;
        checked.with_witnesses(&self.witnesses, now).map_err(|e| {
            VerificationError::new_err(format!(
                "the checkpoint served with the tiles does not satisfy the witness policy: {e}"
            ))
        })
    }
}

#[pymethods]
impl Tiles {
    /// The tiles below `url` (e.g. `http://127.0.0.1:7401`), whose
    /// checkpoints must verify with `vkeys` and, with `quorum > 0`, carry
    /// that many of `witness_vkeys`' cosignatures; `ca_pem` is trusted
    /// besides the system's roots for `https://`; `timeout_secs` bounds
    /// each request, body included.
    #[new]
    #[pyo3(signature = (url, vkeys, witness_vkeys = Vec::new(), quorum = 0, ca_pem = None, timeout_secs = 30.0))]
    fn new(
        url: &str,
        vkeys: Vec<String>,
        witness_vkeys: Vec<String>,
        quorum: usize,
        ca_pem: Option<Vec<u8>>,
        timeout_secs: f64,
    ) -> PyResult<Tiles> {
        let log = keys(&vkeys)?;
        if log.is_empty() {
            return Err(invalid("give the log's verifier keys"));
        }
        let timeout = Duration::try_from_secs_f64(timeout_secs)
            .map_err(|e| invalid(format!("timeout {timeout_secs}: {e}")))?;
        let source = HttpTiles::with_ca(url, ca_pem.as_deref())
            .map_err(invalid)?
            .timeout(timeout);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(invalid)?;
        Ok(Tiles {
            runtime,
            source,
            log: LogKeys::Verify(log),
            witnesses: WitnessPolicy {
                keys: keys(&witness_vkeys)?,
                quorum,
                max_age_secs: None,
            },
        })
    }

    /// Fetches and verifies the latest checkpoint served with the tiles.
    fn checkpoint(&self, py: Python<'_>, now: u64) -> PyResult<CheckpointFacts> {
        py.detach(|| {
            self.runtime.block_on(async {
                let c = self.verified(now).await?;
                Ok(checkpoint_facts(c.checkpoint(), c.note()))
            })
        })
    }

    /// Verifies that entry `index` is in the tree of the latest checkpoint
    /// by an inclusion proof computed from the tiles, and, given `leaf`
    /// (hex), that it is that leaf. Returns the checkpoint and the leaf
    /// hash.
    #[pyo3(signature = (index, leaf = None, now = 0))]
    fn inclusion(
        &self,
        py: Python<'_>,
        index: u64,
        leaf: Option<&str>,
        now: u64,
    ) -> PyResult<(CheckpointFacts, String)> {
        let want = leaf.map(hash).transpose()?;
        py.detach(|| {
            self.runtime.block_on(async {
                let c = self.verified(now).await?;
                let size = c.checkpoint().size();
                if index >= size {
                    return Err(VerificationError::new_err(format!(
                        "entry {index} is not in the tree of size {size} the tiles' checkpoint covers"
                    )));
                }
                let tree = TileTree::new(&self.source, size);
                // In turn, not at once: the proof reuses the leaf's tile.
                let got = tree.leaf_hash(index).await.map_err(tile_error)?;
                let proof = tree.inclusion_proof(index).await.map_err(tile_error)?;
                if let Some(want) = want
                    && want != got
                {
                    return Err(VerificationError::new_err(format!(
                        "leaf {index} in the tiles is {got}, not {want}"
                    )));
                }
                check_inclusion(c.checkpoint(), index, &got, &proof).map_err(|e| {
                    VerificationError::new_err(format!(
                        "the proof computed from the tiles does not lead to the checkpoint's root: {e}"
                    ))
                })?;
                Ok((checkpoint_facts(c.checkpoint(), c.note()), got.to_hex()))
            })
        })
    }

    /// Entry `index` of the latest checkpoint's tree, from its entry
    /// bundle, checked against its leaf in the hash tiles and proved in
    /// the tree. Returns the checkpoint and the entry's bytes.
    #[pyo3(signature = (index, now = 0))]
    fn entry(&self, py: Python<'_>, index: u64, now: u64) -> PyResult<(CheckpointFacts, Vec<u8>)> {
        py.detach(|| {
            self.runtime.block_on(async {
                let c = self.verified(now).await?;
                let tree = TileTree::new(&self.source, c.checkpoint().size());
                let entry = tree.entry(index).await.map_err(tile_error)?;
                let proof = tree.inclusion_proof(index).await.map_err(tile_error)?;
                let leaf = causeway_tlog::merkle::leaf_hash(&entry);
                check_inclusion(c.checkpoint(), index, &leaf, &proof).map_err(|e| {
                    VerificationError::new_err(format!(
                        "the proof computed from the tiles does not lead to the checkpoint's root: {e}"
                    ))
                })?;
                Ok((checkpoint_facts(c.checkpoint(), c.note()), entry))
            })
        })
    }

    /// Verifies that the tree of the checkpoint `old_note` (verified with
    /// the same keys, witnesses aside: it is historical) is a prefix of
    /// the latest one, by a consistency proof computed from the tiles.
    /// Returns the latest checkpoint.
    #[pyo3(signature = (old_note, now = 0))]
    fn consistency(&self, py: Python<'_>, old_note: &str, now: u64) -> PyResult<CheckpointFacts> {
        let old = self
            .log
            .read(old_note)
            .map_err(|e| VerificationError::new_err(format!("the old checkpoint: {e}")))?;
        py.detach(|| {
            self.runtime.block_on(async {
                let new = self.verified(now).await?;
                let (o, n) = (old.checkpoint(), new.checkpoint());
                if o.size() > n.size() {
                    return Err(VerificationError::new_err(format!(
                        "the old checkpoint has {} entries, more than the {} of the tiles' \
                         latest: the log has been rolled back, or these tiles are of a fork",
                        o.size(),
                        n.size()
                    )));
                }
                let proof = TileTree::new(&self.source, n.size())
                    .consistency_proof(o.size())
                    .await
                    .map_err(tile_error)?;
                check_consistency(o, n, &proof).map_err(|e| {
                    VerificationError::new_err(format!(
                        "the tiles' checkpoint does not extend the old one: {e}"
                    ))
                })?;
                Ok(checkpoint_facts(n, new.note()))
            })
        })
    }
}
