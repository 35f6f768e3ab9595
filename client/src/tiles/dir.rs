//! Tiles in a local directory, as [`mirror`](super::mirror) writes them.
//! Read under the same [`SizeLimit`]s as over HTTP: a copied directory is
//! no more trusted than the server it came from.

use std::path::{Path, PathBuf};

use super::{SizeLimit, TileError, TileSource};

/// Tiles in a local directory laid out like the HTTP paths.
#[derive(Clone, Debug)]
pub struct DirTiles {
    root: PathBuf,
}

impl DirTiles {
    /// Tiles below `root`.
    pub fn new(root: &Path) -> Self {
        DirTiles {
            root: root.to_owned(),
        }
    }
}

impl TileSource for DirTiles {
    async fn get(&self, path: &str, limit: &SizeLimit) -> Result<Vec<u8>, TileError> {
        use tokio::io::AsyncReadExt as _;
        let path = self.root.join(path);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| TileError::Io { path, source }
        };
        // A copied directory is no more trusted than the server it came
        // from: read one byte past the limit to tell "too large" apart.
        let file = tokio::fs::File::open(&path).await.map_err(io(&path))?;
        let mut bytes = Vec::new();
        file.take(limit.bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(io(&path))?;
        if bytes.len() > limit.bytes {
            return Err(TileError::TooLarge {
                url: path.display().to_string(),
                limit: limit.bytes,
                what: limit.what.clone(),
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_tlog::tiles::TileId;

    #[tokio::test]
    async fn a_local_file_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tile = TileId::hashes(0, 0, 2);
        let path = dir.path().join(tile.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let source = DirTiles::new(dir.path());

        std::fs::write(&path, [0u8; 64]).unwrap();
        assert_eq!(source.fetch(&tile).await.unwrap().len(), 64);

        std::fs::write(&path, [0u8; 65]).unwrap();
        let err = source.fetch(&tile).await.unwrap_err();
        assert!(
            matches!(err, TileError::TooLarge { limit: 64, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(
                "is over 64 bytes, the most a hash tile of width 2 (2 hashes of 32 bytes) can be"
            ),
            "{err}"
        );
    }
}
