//! How many bytes a response may have. Every fetched resource has a
//! size the format bounds (c2sp.org/tlog-tiles for tiles and bundles, the
//! note parser for the checkpoint), and every source reads at most that
//! much, so a hostile or broken server cannot make the client buffer more.
//! Kept apart from the sources because both the HTTP and the directory
//! source apply the same limits.

use causeway_tlog::merkle::Hash;
use causeway_tlog::note::Note;
use causeway_tlog::tiles::{TileId, TileKind};

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

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_tlog::tiles::{push_bundle_entry, split_hashes};

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
}
