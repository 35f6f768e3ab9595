//! Reading a log through its C2SP tlog-tiles, so an auditor never has to
//! trust the server's proof endpoints: roots, inclusion and consistency
//! proofs are computed here from the tiles, and a whole tree can be checked
//! tile by tile (and entry by entry) against a signed checkpoint.
//!
//! A [`TileSource`] fetches tiles: [`HttpTiles`] from a tile server, CDN or
//! bucket, [`DirTiles`] from a directory written by [`mirror`].
//!
//! The module is split one idea per file, so each can be read alone:
//! [`SizeLimit`] and [`LimitedBody`] bound every read; [`HttpTiles`] and
//! [`DirTiles`] are the two sources; [`TileTree`] and [`fetch_entries`]
//! read one tree; [`verify_tree`] checks a whole tree against its
//! checkpoint; [`mirror`] copies one. The error type and the
//! [`TileSource`] trait they share stay here. Everything is re-exported,
//! so the public paths are `causeway_client::tiles::…` whatever file an
//! item lives in.

mod dir;
mod http;
mod limits;
mod mirror;
mod tree;
mod verify_tree;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use causeway_tlog::tiles::TileId;

use crate::verify::VerificationError;

pub use dir::DirTiles;
pub use http::{DEFAULT_HTTP_TIMEOUT, HttpTiles};
pub use limits::{LimitedBody, OverLimit, SizeLimit};
pub use mirror::{MirrorReport, mirror};
pub use tree::{TileTree, checked_checkpoint, fetch_entries};
pub use verify_tree::{TreeReport, verify_tree};

/// The default tile endpoint of a local log.
pub const DEFAULT_TILES_URL: &str = "http://127.0.0.1:7401";

/// How many tiles are fetched at once.
const PARALLEL: usize = 16;

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
