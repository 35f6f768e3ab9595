//! Checking a whole tree against its signed checkpoint, tile by tile and
//! (if asked) entry by entry, level by level so that memory stays at one
//! hash per full tile. The `verify-tiles` command and [`mirror`](super::mirror)
//! both rest on it.

use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, leaf_hash};
use causeway_tlog::tiles::{
    self, TileId, TileKind, entry_bundles, fold_perfect, hash_tiles, split_bundle, split_hashes,
};
use futures::StreamExt as _;

use super::{PARALLEL, TileError, TileSource, TileTree};

/// What [`verify_tree`] checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeReport {
    /// The tree size.
    pub size: u64,
    /// The root recomputed from the tiles (equal to the checkpoint's).
    pub root: Hash,
    /// Hash tiles fetched and checked.
    pub hash_tiles: u64,
    /// Entry bundles fetched and checked (0 unless asked).
    pub entry_bundles: u64,
}

/// Checks a whole tree against its checkpoint: every full tile must hash to
/// its entry one level up, the root recomputed from the tiles must equal
/// the checkpoint's, and (with `entries`) every entry bundle must hash to
/// its level-0 tile. Memory stays at one hash per full tile. `progress` is
/// called with (tiles done, tiles in total).
///
/// # Errors
/// The first fetch failure or mismatch.
pub async fn verify_tree<S: TileSource>(
    source: &S,
    checkpoint: &Checkpoint,
    entries: bool,
    progress: impl Fn(u64, u64),
) -> Result<TreeReport, TileError> {
    let size = checkpoint.size();
    let total_hash = hash_tiles(size).count() as u64;
    let total = total_hash
        + if entries {
            entry_bundles(size).count() as u64
        } else {
            0
        };
    let mut done = 0u64;
    let mut bundles = 0u64;
    // Folds of the full tiles of the level below, in order: they must be
    // exactly the hashes of this level.
    let mut expected: Option<Vec<Hash>> = None;
    for level in 0u8..8 {
        let level_tiles: Vec<TileId> = hash_tiles(size)
            .filter(|t| t.kind() == TileKind::Hashes { level })
            .collect();
        if level_tiles.is_empty() {
            break;
        }
        let mut folds = Vec::new();
        let mut seen = 0usize;
        let mut fetched = futures::stream::iter(level_tiles.into_iter().map(|tile| async move {
            let bytes = source.fetch(&tile).await?;
            let bundle = if entries && level == 0 {
                Some(
                    source
                        .fetch(&TileId::entries(tile.index(), tile.width()))
                        .await?,
                )
            } else {
                None
            };
            Ok::<_, TileError>((tile, bytes, bundle))
        }))
        .buffered(PARALLEL);
        while let Some(item) = fetched.next().await {
            let (tile, bytes, bundle) = item?;
            let hashes = split_hashes(&tile, &bytes)
                .map_err(|e| TileError::Malformed(format!("{tile}: {e}")))?;
            if let Some(exp) = &expected {
                let want = exp.get(seen..seen + hashes.len()).ok_or_else(|| {
                    TileError::Mismatch(format!("{tile} has more hashes than full tiles below it"))
                })?;
                if let Some(i) = (0..hashes.len()).find(|&i| hashes[i] != want[i]) {
                    return Err(TileError::Mismatch(format!(
                        "{tile} hash {i} is {}, but the tile below hashes to {}",
                        hashes[i], want[i]
                    )));
                }
            }
            seen += hashes.len();
            if let Some(bundle) = bundle {
                let list = split_bundle(&bundle).map_err(|e| {
                    TileError::Malformed(format!("entry bundle {}: {e}", tile.index()))
                })?;
                if list.len() != hashes.len() {
                    return Err(TileError::Mismatch(format!(
                        "entry bundle {} holds {} entries, its tile {} hashes",
                        tile.index(),
                        list.len(),
                        hashes.len()
                    )));
                }
                for (i, e) in list.iter().enumerate() {
                    if leaf_hash(e) != hashes[i] {
                        let index = tile.index() * tiles::TILE_WIDTH + i as u64;
                        return Err(TileError::Mismatch(format!(
                            "entry {index} does not hash to its leaf in {tile}"
                        )));
                    }
                }
                bundles += 1;
                done += 1;
            }
            if tile.is_full() {
                folds.push(fold_perfect(&hashes));
            }
            done += 1;
            progress(done, total);
        }
        if let Some(exp) = &expected
            && seen != exp.len()
        {
            return Err(TileError::Mismatch(format!(
                "level {level} has {seen} hashes but level {} has {} full tiles",
                level - 1,
                exp.len()
            )));
        }
        expected = Some(folds);
    }
    let root = TileTree::new(source, size).root().await?;
    if root != *checkpoint.root() {
        return Err(TileError::Mismatch(format!(
            "the tiles give root {root}, the signed checkpoint says {}",
            checkpoint.root()
        )));
    }
    Ok(TreeReport {
        size,
        root,
        hash_tiles: total_hash,
        entry_bundles: bundles,
    })
}
