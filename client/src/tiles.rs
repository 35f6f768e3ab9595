//! Reading a log through its C2SP tlog-tiles, so an auditor never has to
//! trust the server's proof endpoints: roots, inclusion and consistency
//! proofs are computed here from the tiles, and a whole tree can be checked
//! tile by tile (and entry by entry) against a signed checkpoint.
//!
//! A [`TileSource`] fetches tiles: [`HttpTiles`] from a tile server, CDN or
//! bucket, [`DirTiles`] from a directory written by [`mirror`].

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{CompactRange, Hash, NodeId, ProofPlan, leaf_hash};
use causeway_tlog::note::Note;
use causeway_tlog::tiles::{
    self, TileId, TileKind, entry_bundles, fold_perfect, hash_tiles, split_bundle, split_hashes,
    tile_for_node,
};
use futures::{StreamExt as _, TryStreamExt as _};

use crate::verify::{LogKeys, MaybeVerified, VerificationError};

/// The default tile endpoint of a local log.
pub const DEFAULT_TILES_URL: &str = "http://127.0.0.1:7401";

/// How many tiles are fetched at once.
const PARALLEL: usize = 16;

/// How long one tile request may take, from connecting to the last byte of
/// the body, unless the caller says otherwise ([`HttpTiles::timeout`]). The
/// largest resource, a full entry bundle of 256 maximal entries (16 MiB),
/// arrives in well under this at 1 MB/s, while a server that stalls or
/// drips bytes cannot hold an audit hostage for longer.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an error response's body is read for the message: enough for
/// any real error text, and a hostile server cannot make it more.
const ERROR_BODY_LIMIT: usize = 4096;

/// The most bytes one response may have, and why, so that a hostile or
/// broken server cannot make the client buffer more than the format allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeLimit {
    /// The limit in bytes.
    pub bytes: usize,
    /// What the resource is and where the limit comes from, for errors.
    pub what: String,
}

impl SizeLimit {
    /// The checkpoint: a signed note, which the note parser refuses above
    /// [`Note::MAX_SIZE`] anyway (a checkpoint is a few hundred bytes, but
    /// the parser allows room for many large post-quantum signatures, and
    /// the client must not refuse what the parser accepts).
    pub fn checkpoint() -> Self {
        SizeLimit {
            bytes: Note::MAX_SIZE,
            what: format!(
                "a checkpoint (a signed note of at most {} bytes)",
                Note::MAX_SIZE
            ),
        }
    }

    /// A tile or entry bundle, from c2sp.org/tlog-tiles: a hash tile of
    /// width w is exactly w hashes of 32 bytes; an entry bundle of width w
    /// holds w entries, each a 2-byte big-endian length and at most 65,535
    /// bytes (the most that length can say).
    pub fn tile(tile: &TileId) -> Self {
        let width = usize::from(tile.width());
        match tile.kind() {
            TileKind::Hashes { .. } => SizeLimit {
                bytes: width * Hash::LEN,
                what: format!(
                    "a hash tile of width {width} ({width} hashes of {} bytes)",
                    Hash::LEN
                ),
            },
            TileKind::Entries => {
                let per_entry = 2 + usize::from(u16::MAX);
                SizeLimit {
                    bytes: width * per_entry,
                    what: format!(
                        "an entry bundle of width {width} ({width} entries of at most {per_entry} bytes with their length)"
                    ),
                }
            }
        }
    }
}

/// A response body read up to a [`SizeLimit`]: chunks are appended while
/// the total stays within the limit, and the first chunk past it is refused,
/// so at most `limit` bytes are ever held, however much the server sends
/// (or a gzip stream inflates to).
#[derive(Debug)]
pub struct LimitedBody {
    limit: usize,
    bytes: Vec<u8>,
}

/// A body went past its [`SizeLimit`].
#[derive(Debug, PartialEq, Eq)]
pub struct OverLimit;

impl LimitedBody {
    /// An empty body that may grow to `limit` bytes; `expected` (a
    /// Content-Length) reserves room up front, never more than the limit.
    pub fn new(limit: usize, expected: Option<u64>) -> Self {
        let reserve = expected
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(limit);
        LimitedBody {
            limit,
            bytes: Vec::with_capacity(reserve),
        }
    }

    /// Appends a chunk.
    ///
    /// # Errors
    /// If the body would pass the limit; nothing is appended then.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), OverLimit> {
        if chunk.len() > self.limit - self.bytes.len() {
            return Err(OverLimit);
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes read.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Why tiles could not be read or did not verify.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// The HTTP request failed.
    #[error("fetching {url}: {message}")]
    Http {
        /// What was fetched.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The response (after decompression) is larger than the resource can
    /// be, so reading stopped there.
    #[error(
        "{url}: the response is over {limit} bytes, the most {what} can be; stopped reading: the server is broken or hostile, fetch the tiles from another --tiles source"
    )]
    TooLarge {
        /// What was fetched.
        url: String,
        /// The limit in bytes.
        limit: usize,
        /// What the resource is and why that is its limit.
        what: String,
    },
    /// The request did not complete, body included, within the timeout.
    #[error(
        "fetching {url}: no complete response within {} s; the server is too slow or stalls: retry, fetch from another --tiles source, or allow more time with --http-timeout",
        timeout.as_secs_f64()
    )]
    Timeout {
        /// What was fetched.
        url: String,
        /// The time allowed.
        timeout: Duration,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// What was fetched.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The body, trimmed.
        body: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A tile or bundle is malformed.
    #[error("{0}")]
    Malformed(String),
    /// The tiles contradict each other or the signed checkpoint.
    #[error("verification failed: {0}")]
    Mismatch(String),
    /// The checkpoint did not verify.
    #[error(transparent)]
    Checkpoint(#[from] VerificationError),
}

/// Something tiles can be fetched from.
pub trait TileSource: Send + Sync {
    /// The bytes at a path below the log's prefix, e.g. `checkpoint` or
    /// `tile/0/x001/234`, refused if longer than `limit`.
    fn get(
        &self,
        path: &str,
        limit: &SizeLimit,
    ) -> impl Future<Output = Result<Vec<u8>, TileError>> + Send;

    /// The current signed checkpoint note.
    fn checkpoint(&self) -> impl Future<Output = Result<String, TileError>> + Send {
        async {
            let bytes = self.get("checkpoint", &SizeLimit::checkpoint()).await?;
            String::from_utf8(bytes)
                .map_err(|_| TileError::Malformed("the checkpoint is not UTF-8".into()))
        }
    }

    /// The bytes of one tile or entry bundle.
    fn fetch(&self, tile: &TileId) -> impl Future<Output = Result<Vec<u8>, TileError>> + Send {
        let path = tile.path();
        let limit = SizeLimit::tile(tile);
        async move { self.get(&path, &limit).await }
    }
}

/// Tiles over HTTP(S), below a URL prefix.
#[derive(Clone)]
pub struct HttpTiles {
    prefix: String,
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpTiles {
    /// Tiles below `prefix`, e.g. `http://127.0.0.1:7401` or
    /// `https://cdn.example.com/log`.
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn new(prefix: &str) -> Result<Self, TileError> {
        Self::with_ca(prefix, None)
    }

    /// Tiles below `prefix`, trusting the PEM CA certificate(s) `ca_pem`
    /// (besides the usual roots) for an `https://` prefix.
    ///
    /// # Errors
    /// If the CA is not PEM or the HTTP client cannot be built.
    pub fn with_ca(prefix: &str, ca_pem: Option<&[u8]>) -> Result<Self, TileError> {
        let error = |message: String| TileError::Http {
            url: prefix.to_owned(),
            message,
        };
        let mut builder = reqwest::Client::builder().gzip(true).tcp_nodelay(true);
        if let Some(pem) = ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| error(format!("--tls-ca: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| error(e.to_string()))?;
        Ok(HttpTiles {
            prefix: prefix.trim_end_matches('/').to_owned(),
            client,
            timeout: DEFAULT_HTTP_TIMEOUT,
        })
    }

    /// The same source with another time limit per request (connecting,
    /// headers and the whole body; default [`DEFAULT_HTTP_TIMEOUT`]).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// One request, without the time limit.
    async fn get_unbounded(&self, url: &str, limit: &SizeLimit) -> Result<Vec<u8>, TileError> {
        let http = |e: reqwest::Error| TileError::Http {
            url: url.to_owned(),
            message: e.to_string(),
        };
        let mut resp = self.client.get(url).send().await.map_err(http)?;
        let status = resp.status();
        if !status.is_success() {
            // Only the start of an error body is wanted for the message.
            let mut body = Vec::new();
            while body.len() < ERROR_BODY_LIMIT
                && let Some(chunk) = resp.chunk().await.map_err(http)?
            {
                let room = ERROR_BODY_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            let body = String::from_utf8_lossy(&body)
                .trim()
                .chars()
                .take(300)
                .collect();
            return Err(TileError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                body,
            });
        }
        let too_large = || TileError::TooLarge {
            url: url.to_owned(),
            limit: limit.bytes,
            what: limit.what.clone(),
        };
        // With gzip on, reqwest drops Content-Length and this is None: the
        // chunks below are the inflated stream, counted as they arrive.
        let expected = resp.content_length();
        if expected.is_some_and(|n| n > limit.bytes as u64) {
            return Err(too_large());
        }
        let mut body = LimitedBody::new(limit.bytes, expected);
        while let Some(chunk) = resp.chunk().await.map_err(http)? {
            body.push(&chunk).map_err(|OverLimit| too_large())?;
        }
        Ok(body.into_bytes())
    }
}

impl TileSource for HttpTiles {
    async fn get(&self, path: &str, limit: &SizeLimit) -> Result<Vec<u8>, TileError> {
        let url = format!("{}/{path}", self.prefix);
        // One deadline over connecting, headers and the whole body: a
        // per-read timeout would let a server that drips a byte at a time
        // go on for ever.
        match tokio::time::timeout(self.timeout, self.get_unbounded(&url, limit)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(TileError::Timeout {
                url,
                timeout: self.timeout,
            }),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_tlog::tiles::push_bundle_entry;

    #[test]
    fn tile_limits_follow_the_spec() {
        assert_eq!(SizeLimit::tile(&TileId::hashes(0, 5, 256)).bytes, 256 * 32);
        assert_eq!(SizeLimit::tile(&TileId::hashes(3, 0, 7)).bytes, 7 * 32);
        assert_eq!(
            SizeLimit::tile(&TileId::entries(0, 256)).bytes,
            256 * (2 + 65_535)
        );
        assert_eq!(SizeLimit::tile(&TileId::entries(9, 1)).bytes, 2 + 65_535);
        assert_eq!(SizeLimit::checkpoint().bytes, Note::MAX_SIZE);
    }

    #[test]
    fn the_largest_valid_tiles_fit_their_limits_exactly() {
        // A hash tile is exactly its limit, which split_hashes accepts.
        let tile = TileId::hashes(0, 0, 256);
        let bytes = vec![7u8; SizeLimit::tile(&tile).bytes];
        assert_eq!(split_hashes(&tile, &bytes).unwrap().len(), 256);
        // An entry bundle of 256 maximal entries is exactly its limit.
        let mut bundle = Vec::new();
        for _ in 0..256 {
            push_bundle_entry(&mut bundle, &[1u8; causeway_tlog::tiles::MAX_ENTRY_SIZE]).unwrap();
        }
        assert_eq!(
            bundle.len(),
            SizeLimit::tile(&TileId::entries(0, 256)).bytes
        );
    }

    #[test]
    fn a_body_stops_at_its_limit() {
        let mut body = LimitedBody::new(10, None);
        body.push(b"12345").unwrap();
        body.push(b"67890").unwrap();
        assert_eq!(body.push(b"x"), Err(OverLimit));
        assert_eq!(body.push(b""), Ok(()));
        assert_eq!(body.into_bytes(), b"1234567890");

        let mut body = LimitedBody::new(4, None);
        assert_eq!(body.push(b"12345"), Err(OverLimit));
        assert!(body.into_bytes().is_empty(), "a refused chunk is not kept");
    }

    #[test]
    fn a_claimed_length_reserves_no_more_than_the_limit() {
        let body = LimitedBody::new(1024, Some(u64::MAX));
        assert!(body.bytes.capacity() < 4096);
        let body = LimitedBody::new(1024, Some(100));
        assert!(body.bytes.capacity() >= 100);
    }

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
