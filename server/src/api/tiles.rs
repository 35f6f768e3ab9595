//! The C2SP tlog-tiles read API over HTTP (<https://c2sp.org/tlog-tiles>):
//!
//! * `GET /checkpoint`: the latest signed checkpoint, cacheable for a
//!   couple of seconds.
//! * `GET /tile/<L>/<N>[.p/<W>]`: Merkle hash tiles.
//! * `GET /tile/entries/<N>[.p/<W>]`: entry bundles, gzip-compressed when
//!   the client accepts it.
//!
//! Tiles are built from the stored nodes (no separate tile store), so they
//! always agree with the gRPC proofs. Full and partial tiles never change
//! once they exist, so both are served with a one-year immutable cache
//! lifetime; any HTTP cache or CDN in front scales reads out. Paths are
//! parsed strictly by [`TileId::parse`]; nothing here ever touches the file
//! system, so there is nothing to traverse.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use causeway_tlog::tiles::{self, TileId, TileKind};

use crate::reader::{ReadError, Reader};

/// `Cache-Control` for tiles and bundles.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` for the checkpoint: the spec asks for a few seconds at most.
pub const CHECKPOINT_CACHE: &str = "public, max-age=2";

/// The tile API's routes over a reader.
pub fn router(reader: Reader) -> Router {
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/anchor/{size}", get(anchor))
        .fallback(not_found)
        .with_state(reader)
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .compress_when(
                    |_status, _version, _headers: &_, ext: &axum::http::Extensions| {
                        ext.get::<Compressible>().is_some()
                    },
                ),
        )
}

/// Marks a response worth compressing. Hash tiles are random bytes that
/// gzip cannot shrink, so only entry bundles carry this.
#[derive(Clone, Copy)]
struct Compressible;

fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message + "\n",
    )
        .into_response()
}

async fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "not found: this server serves /checkpoint, /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>] (c2sp.org/tlog-tiles), and /anchor/<size> (RFC 3161)".into(),
    )
}

async fn checkpoint(State(reader): State<Reader>) -> Response {
    let latest = match reader.latest() {
        Ok(latest) => latest,
        Err(e) => {
            let mut response = text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}; retry later"));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(CHECKPOINT_CACHE),
            ),
        ],
        latest.note.clone(),
    )
        .into_response()
}

/// `GET /anchor/<size>`: the DER RFC 3161 TimeStampResp of the checkpoint
/// at that size. Immutable once stored.
async fn anchor(State(reader): State<Reader>, Path(size): Path<String>) -> Response {
    let parsed = match size.parse::<u64>() {
        Ok(n) if n.to_string() == size => n,
        _ => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("{size:?} is not a tree size (a decimal number without leading zeros)"),
            );
        }
    };
    match reader.off_worker(move |r| r.anchor(Some(parsed))).await {
        Ok((anchor, _)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/timestamp-reply"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
            ],
            anchor.der,
        )
            .into_response(),
        Err(ReadError::NotFound(m)) => text(StatusCode::NOT_FOUND, m),
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}; retry later")),
    }
}

async fn tile(State(reader): State<Reader>, Path(path): Path<String>) -> Response {
    let tile = match TileId::parse(&format!("tile/{path}")) {
        Ok(t) => t,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let size = reader.published_size();
    if !tiles::exists_at(&tile, size) {
        let hint = match tiles::width_at(tile.kind(), tile.index(), size) {
            Some(w) if w < 256 => format!("; the tree has it at partial width {w} (.p/{w})"),
            _ => String::new(),
        };
        return text(
            StatusCode::NOT_FOUND,
            format!("{tile} does not exist at tree size {size}{hint}"),
        );
    }
    // Up to 256 storage reads: off the async workers, as every gRPC read.
    let id = tile;
    let body = match reader.off_worker(move |r| Ok(tile_bytes(r, &id)?)).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, %tile, "reading a tile failed");
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("reading {tile} failed: {e}; retry later"),
            );
        }
    };
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        ],
        body,
    )
        .into_response();
    if tile.kind() == TileKind::Entries {
        response.extensions_mut().insert(Compressible);
    }
    response
}

/// The bytes of a tile known to exist in the published tree.
fn tile_bytes(reader: &Reader, tile: &TileId) -> Result<Vec<u8>, crate::storage::StorageError> {
    use crate::storage::StorageError;
    let (height, range) = tile
        .nodes()
        .ok_or_else(|| StorageError::Corrupt(format!("{tile} cannot exist")))?;
    let width = usize::from(tile.width());
    match tile.kind() {
        TileKind::Hashes { .. } => {
            let hashes = reader.storage().node_range(height, range.start, width)?;
            if hashes.len() != width {
                return Err(StorageError::Corrupt(format!(
                    "{tile}: only {} hashes stored",
                    hashes.len()
                )));
            }
            Ok(hashes.iter().flat_map(|h| *h.as_bytes()).collect())
        }
        TileKind::Entries => {
            let entries = reader
                .storage()
                .entries(range.start, range.end, width, usize::MAX)?;
            if entries.len() != width {
                return Err(StorageError::Corrupt(format!(
                    "{tile}: only {} entries stored",
                    entries.len()
                )));
            }
            let mut bundle = Vec::with_capacity(entries.iter().map(|e| e.len() + 2).sum());
            for e in &entries {
                tiles::push_bundle_entry(&mut bundle, e)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
            }
            Ok(bundle)
        }
    }
}
