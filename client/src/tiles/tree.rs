//! Reading one tree through its tiles: the checkpoint served beside them,
//! every entry from the entry bundles, and [`TileTree`], which computes
//! roots, nodes and proofs from cached hash tiles so that no proof endpoint
//! of the server has to be trusted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use causeway_tlog::merkle::{CompactRange, Hash, NodeId, ProofPlan, leaf_hash};
use causeway_tlog::tiles::{
    self, TileId, TileKind, fold_perfect, split_bundle, split_hashes, tile_for_node, width_at,
};
use futures::{StreamExt as _, TryStreamExt as _};

use super::{PARALLEL, TileError, TileSource};
use crate::verify::{LogKeys, MaybeVerified};

/// Fetches the checkpoint served with the tiles and reads it with `keys`
/// (see [`LogKeys::read`]).
///
/// # Errors
/// If it cannot be fetched or does not verify.
pub async fn checked_checkpoint<S: TileSource>(
    source: &S,
    keys: &LogKeys,
) -> Result<MaybeVerified, TileError> {
    let note = source.checkpoint().await?;
    Ok(keys.read(&note)?)
}

/// Every entry of the tree of `size` leaves, from its entry bundles, in
/// index order. `progress(done, total)` is called after each bundle.
///
/// # Errors
/// If a bundle cannot be fetched or is malformed, or holds fewer entries
/// than the tree has there.
pub async fn fetch_entries<S: TileSource>(
    source: &S,
    size: u64,
    progress: impl Fn(u64, u64),
) -> Result<Vec<Vec<u8>>, TileError> {
    use futures::StreamExt as _;
    let total = size.div_ceil(tiles::TILE_WIDTH);
    // The size comes from the checkpoint, which may be unverified: bundles
    // are listed lazily and only a bounded amount is reserved up front, so
    // a claimed size of 2^63 cannot exhaust memory before the first fetch.
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 20));
    let bundles = causeway_tlog::tiles::entry_bundles(size);
    let mut fetched = futures::stream::iter(bundles.map(|tile| async move {
        let bytes = source.fetch(&tile).await?;
        Ok::<_, TileError>((tile, bytes))
    }))
    .buffered(8);
    let mut done = 0;
    while let Some(item) = fetched.next().await {
        let (tile, bytes) = item?;
        let list = causeway_tlog::tiles::split_bundle(&bytes)
            .map_err(|e| TileError::Malformed(format!("entry bundle {}: {e}", tile.index())))?;
        let want = usize::from(tile.width());
        if list.len() < want {
            return Err(TileError::Mismatch(format!(
                "entry bundle {} holds {} entries; the tree has {want} there",
                tile.index(),
                list.len()
            )));
        }
        out.extend(list[..want].iter().map(|e| e.to_vec()));
        done += 1;
        progress(done, total);
    }
    Ok(out)
}

/// The tree of one size, read through tiles, with the tiles it fetched cached.
pub struct TileTree<'a, S> {
    source: &'a S,
    size: u64,
    cache: Mutex<HashMap<TileId, Arc<Vec<Hash>>>>,
}

impl<'a, S: TileSource> TileTree<'a, S> {
    /// The tree of `size` leaves (take it from a verified checkpoint).
    pub fn new(source: &'a S, size: u64) -> Self {
        TileTree {
            source,
            size,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn tile_hashes(&self, tile: TileId) -> Result<Arc<Vec<Hash>>, TileError> {
        if let Some(h) = self.cache.lock().expect("cache lock").get(&tile) {
            return Ok(h.clone());
        }
        let bytes = self.source.fetch(&tile).await?;
        let hashes = Arc::new(
            split_hashes(&tile, &bytes)
                .map_err(|e| TileError::Malformed(format!("{tile}: {e}")))?,
        );
        self.cache
            .lock()
            .expect("cache lock")
            .insert(tile, hashes.clone());
        Ok(hashes)
    }

    /// The hashes of stored nodes, computed from tiles.
    ///
    /// # Errors
    /// If a node is not complete in this tree or a tile cannot be fetched.
    pub async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TileError> {
        let mut located = Vec::with_capacity(ids.len());
        for id in ids {
            let (tile, range) = tile_for_node(*id, self.size).ok_or_else(|| {
                TileError::Malformed(format!(
                    "node {id:?} is not in the tree of size {}",
                    self.size
                ))
            })?;
            located.push((tile, range));
        }
        let mut wanted: Vec<TileId> = located.iter().map(|(t, _)| *t).collect();
        wanted.sort();
        wanted.dedup();
        futures::stream::iter(wanted.into_iter().map(|t| self.tile_hashes(t)))
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<_>>()
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for (tile, range) in located {
            let hashes = self.tile_hashes(tile).await?;
            out.push(fold_perfect(&hashes[range]));
        }
        Ok(out)
    }

    /// The root of the tree, from the tiles on its right edge.
    ///
    /// # Errors
    /// If a tile cannot be fetched.
    pub async fn root(&self) -> Result<Hash, TileError> {
        let ids = CompactRange::node_ids(self.size);
        let hashes = self.nodes(&ids).await?;
        let range = CompactRange::from_parts(self.size, hashes)
            .map_err(|e| TileError::Malformed(e.to_string()))?;
        Ok(range.root())
    }

    /// The leaf hash at `index`.
    ///
    /// # Errors
    /// If the index is beyond the tree or the tile cannot be fetched.
    pub async fn leaf_hash(&self, index: u64) -> Result<Hash, TileError> {
        Ok(self.nodes(&[NodeId::leaf(index)]).await?[0])
    }

    /// The entry at `index`, from its entry bundle, checked against the
    /// leaf hash the hash tiles hold for it: the entry is then the one an
    /// inclusion proof from these tiles covers.
    ///
    /// # Errors
    /// If the index is beyond the tree, a tile cannot be fetched, the
    /// bundle is malformed, or its entry does not hash to the leaf.
    pub async fn entry(&self, index: u64) -> Result<Vec<u8>, TileError> {
        let bundle = index / tiles::TILE_WIDTH;
        let width = width_at(TileKind::Entries, bundle, self.size)
            .filter(|_| index < self.size)
            .ok_or_else(|| {
                TileError::Malformed(format!(
                    "entry {index} is not in the tree of size {}",
                    self.size
                ))
            })?;
        let tile = TileId::entries(bundle, width);
        let (bytes, leaf) = futures::try_join!(self.source.fetch(&tile), self.leaf_hash(index))?;
        let list = split_bundle(&bytes)
            .map_err(|e| TileError::Malformed(format!("entry bundle {bundle}: {e}")))?;
        // At most TILE_WIDTH, so the offset fits.
        let offset = (index % tiles::TILE_WIDTH) as usize;
        let entry = list.get(offset).ok_or_else(|| {
            TileError::Mismatch(format!(
                "entry bundle {bundle} holds {} entries; the tree has {width} there",
                list.len()
            ))
        })?;
        if leaf_hash(entry) != leaf {
            return Err(TileError::Mismatch(format!(
                "entry {index} in bundle {bundle} does not hash to its leaf {leaf} in the hash tiles"
            )));
        }
        Ok(entry.to_vec())
    }

    /// The inclusion proof of leaf `index`, computed from tiles.
    ///
    /// # Errors
    /// If the index is beyond the tree or a tile cannot be fetched.
    pub async fn inclusion_proof(&self, index: u64) -> Result<Vec<Hash>, TileError> {
        let plan = ProofPlan::inclusion(index, self.size)
            .map_err(|e| TileError::Malformed(e.to_string()))?;
        let hashes = self.nodes(plan.node_ids()).await?;
        plan.assemble(&hashes)
            .map_err(|e| TileError::Malformed(e.to_string()))
    }

    /// The consistency proof from `old` leaves to this tree, from tiles.
    ///
    /// # Errors
    /// If `old` is 0 or larger than the tree, or a tile cannot be fetched.
    pub async fn consistency_proof(&self, old: u64) -> Result<Vec<Hash>, TileError> {
        let plan = ProofPlan::consistency(old, self.size)
            .map_err(|e| TileError::Malformed(e.to_string()))?;
        let hashes = self.nodes(plan.node_ids()).await?;
        plan.assemble(&hashes)
            .map_err(|e| TileError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::{DirTiles, TileError};

    #[tokio::test]
    async fn a_huge_claimed_size_fails_at_the_first_fetch_not_in_allocation() {
        // An unverified checkpoint may claim any size; listing or reserving
        // for 2^62 entries up front would abort the process.
        let dir = tempfile::tempdir().unwrap();
        let err = fetch_entries(&DirTiles::new(dir.path()), 1 << 62, |_, _| {})
            .await
            .unwrap_err();
        assert!(matches!(err, TileError::Io { .. }), "{err:?}");
    }
}
