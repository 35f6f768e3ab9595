//! Mirroring: copying a log's tiles into a directory incrementally, and
//! writing the new checkpoint only after the copy verifies against it and
//! extends the mirror's previous tree. The directory can then be served by
//! any static file server or read back with [`DirTiles`].

use std::path::Path;

use causeway_tlog::tiles::{TileId, entry_bundles, hash_tiles};
use futures::{StreamExt as _, TryStreamExt as _};

use super::{DirTiles, PARALLEL, TileError, TileSource, TileTree, checked_checkpoint, verify_tree};
use crate::verify::{LogKeys, MaybeVerified};

/// What [`mirror`] did.
#[derive(Clone, Debug)]
pub struct MirrorReport {
    /// The mirrored checkpoint.
    pub checkpoint: MaybeVerified,
    /// The size the mirror had before, if any.
    pub previous_size: Option<u64>,
    /// Tiles and bundles written.
    pub written: u64,
    /// Full tiles already present (immutable, not fetched again).
    pub skipped: u64,
}

/// Copies a log's tiles (and, unless `skip_entries`, its entry bundles) into
/// `dir`, incrementally: full tiles already there are kept, new tiles and
/// the current partial tiles are fetched. Before the new checkpoint is
/// written (last, atomically), the whole tree in `dir` is verified against
/// it ([`verify_tree`]) and, when `dir` held an older checkpoint, that
/// older root is recomputed from the same tiles, which proves the new tree
/// extends it. The result can be served by any static file server.
///
/// # Errors
/// Fetch, write or verification failures; `dir` then keeps its previous
/// checkpoint.
pub async fn mirror<S: TileSource>(
    source: &S,
    dir: &Path,
    keys: &LogKeys,
    skip_entries: bool,
    progress: impl Fn(&str, u64, u64),
) -> Result<MirrorReport, TileError> {
    let checked = checked_checkpoint(source, keys).await?;
    let size = checked.checkpoint().size();
    let local = DirTiles::new(dir);
    let previous = match tokio::fs::read_to_string(dir.join("checkpoint")).await {
        Ok(old) => Some(keys.read(&old)?.into_checkpoint()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(TileError::Io {
                path: dir.join("checkpoint"),
                source,
            });
        }
    };
    if let Some(old) = &previous {
        if old.origin() != checked.checkpoint().origin() {
            return Err(TileError::Mismatch(format!(
                "{} mirrors {:?}, the source is {:?}",
                dir.display(),
                old.origin(),
                checked.checkpoint().origin()
            )));
        }
        if old.size() > size {
            return Err(TileError::Mismatch(format!(
                "the source is at size {size}, behind the mirror's {}; refusing to go back",
                old.size()
            )));
        }
    }
    let mut wanted: Vec<TileId> = hash_tiles(size).collect();
    if !skip_entries {
        wanted.extend(entry_bundles(size));
    }
    let total = wanted.len() as u64;
    let mut skipped = 0u64;
    let mut todo = Vec::new();
    for tile in wanted {
        if tile.is_full()
            && tokio::fs::try_exists(dir.join(tile.path()))
                .await
                .unwrap_or(false)
        {
            skipped += 1;
        } else {
            todo.push(tile);
        }
    }
    let written = todo.len() as u64;
    let done = std::sync::atomic::AtomicU64::new(skipped);
    futures::stream::iter(todo.into_iter().map(|tile| {
        let done = &done;
        let progress = &progress;
        async move {
            let bytes = source.fetch(&tile).await?;
            write_atomically(&dir.join(tile.path()), &bytes).await?;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress("fetching", n, total);
            Ok::<_, TileError>(())
        }
    }))
    .buffer_unordered(PARALLEL)
    .try_collect::<Vec<_>>()
    .await?;
    verify_tree(&local, checked.checkpoint(), !skip_entries, |d, t| {
        progress("verifying", d, t)
    })
    .await?;
    if let Some(old) = &previous
        && old.size() > 0
    {
        let old_root = TileTree::new(&local, old.size()).root().await?;
        if old_root != *old.root() {
            return Err(TileError::Mismatch(format!(
                "the new tiles give root {old_root} at the mirror's previous size {}, which had root {}: the log forked",
                old.size(),
                old.root()
            )));
        }
    }
    write_atomically(&dir.join("checkpoint"), checked.note().as_bytes()).await?;
    Ok(MirrorReport {
        checkpoint: checked,
        previous_size: previous.map(|c| c.size()),
        written,
        skipped,
    })
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TileError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TileError::Io { path, source }
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io(parent))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    tokio::fs::write(&tmp, bytes).await.map_err(io(&tmp))?;
    tokio::fs::rename(&tmp, path).await.map_err(io(path))?;
    Ok(())
}
