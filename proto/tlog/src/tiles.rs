//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): tile coordinates, their
//! paths, and which tiles a tree of a given size has.
//!
//! A hash tile at level `L`, index `N` holds up to 256 consecutive Merkle
//! hashes at tree height `8·L`: entry `i` is the root of the perfect
//! subtree of `256^L` leaves starting at leaf `(N·256 + i)·256^L`, i.e. the
//! stored node `(8·L, N·256 + i)`. An entry bundle `N` holds the entries of
//! level-0 tile `N`, each prefixed with its big-endian u16 length.
//!
//! Trees have fewer than 2^64 leaves, so only levels 0..=7 can hold tiles;
//! paths up to level 63 parse (the spec allows them) but never exist.

use std::fmt;

use crate::merkle::{Hash, NodeId, node_hash};

/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree height covered by one tile level.
pub const TILE_HEIGHT: u8 = 8;
/// The highest level a tile path may name.
pub const MAX_PATH_LEVEL: u8 = 63;

/// The largest entry the log accepts. C2SP tlog-tiles entry bundles prefix
/// each entry with a big-endian u16 length.
pub const MAX_ENTRY_SIZE: usize = 65_535;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Merkle hashes at tree height `8 · level`.
    Hashes {
        /// The tile level, 0..=63.
        level: u8,
    },
    /// The entries of level-0 tile `index`.
    Entries,
}

/// One tile resource: kind, index within its level, and width (256 for a
/// full tile, 1..=255 for a partial one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    kind: TileKind,
    index: u64,
    width: u16,
}

/// A tile path that does not follow the spec's grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tile path {path:?}: {reason}")]
pub struct TilePathError {
    /// The path given.
    pub path: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl TileId {
    /// A tile of hashes.
    ///
    /// # Panics
    /// If `level > 63` or `width` is not 1..=256.
    pub fn hashes(level: u8, index: u64, width: u16) -> Self {
        assert!(level <= MAX_PATH_LEVEL && (1..=256).contains(&width));
        TileId {
            kind: TileKind::Hashes { level },
            index,
            width,
        }
    }

    /// An entry bundle.
    ///
    /// # Panics
    /// If `width` is not 1..=256.
    pub fn entries(index: u64, width: u16) -> Self {
        assert!((1..=256).contains(&width));
        TileId {
            kind: TileKind::Entries,
            index,
            width,
        }
    }

    /// What the tile holds.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The tile's index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes or entries, 1..=256.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        self.width == 256
    }

    /// The same tile at full width.
    pub fn full(&self) -> Self {
        TileId {
            width: 256,
            ..*self
        }
    }

    /// For a hash tile, the stored nodes it is made of, in order; for an
    /// entry bundle, the leaves it covers. `None` for levels that cannot
    /// exist in a tree (8 and up).
    pub fn nodes(&self) -> Option<(u8, std::ops::Range<u64>)> {
        let height = match self.kind {
            TileKind::Hashes { level } if level < 8 => level * TILE_HEIGHT,
            TileKind::Hashes { .. } => return None,
            TileKind::Entries => 0,
        };
        let start = self.index.checked_mul(TILE_WIDTH)?;
        let end = start.checked_add(u64::from(self.width))?;
        Some((height, start..end))
    }

    /// The stored node holding hash `i` of this tile.
    pub fn node(&self, i: u64) -> Option<NodeId> {
        let (height, range) = self.nodes()?;
        let index = range.start.checked_add(i)?;
        (index < range.end).then_some(NodeId::new(height, index))
    }

    /// The path of the tile below a log prefix, e.g. `tile/0/x001/234.p/5`.
    pub fn path(&self) -> String {
        self.to_string()
    }

    /// Parses a tile path (`tile/...`, with no leading slash) strictly:
    /// canonical numbers only, level at most 63, width 1..=255.
    ///
    /// # Errors
    /// [`TilePathError`] naming the rule broken.
    pub fn parse(path: &str) -> Result<Self, TilePathError> {
        let err = |reason| TilePathError {
            path: path.to_owned(),
            reason,
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| err("must start with tile/"))?;
        let (kind, rest) = match rest.split_once('/') {
            Some(("entries", rest)) => (TileKind::Entries, rest),
            Some((level, rest)) => {
                let level = canonical_decimal(level, 2)
                    .ok_or_else(|| err("level must be 0 to 63 without leading zeros"))?;
                if level > u64::from(MAX_PATH_LEVEL) {
                    return Err(err("level must be 0 to 63 without leading zeros"));
                }
                (TileKind::Hashes { level: level as u8 }, rest)
            }
            None => return Err(err("missing tile index")),
        };
        let (digits, width) = match rest.split_once(".p/") {
            Some((digits, w)) => {
                let w = canonical_decimal(w, 3)
                    .ok_or_else(|| err("partial width must be 1 to 255 without leading zeros"))?;
                if !(1..=255).contains(&w) {
                    return Err(err("partial width must be 1 to 255 without leading zeros"));
                }
                (digits, w as u16)
            }
            None => (rest, 256),
        };
        let index = parse_index(digits)
            .ok_or_else(|| err("index must be 3-digit groups, all but the last prefixed with x"))?;
        Ok(TileId { kind, index, width })
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes { level } => write!(f, "tile/{level}/{}", encode_index(self.index))?,
            TileKind::Entries => write!(f, "tile/entries/{}", encode_index(self.index))?,
        }
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// Writes a tile index as 3-digit groups, all but the last prefixed with
/// `x`: 1234067 → `x001/x234/067`.
pub fn encode_index(n: u64) -> String {
    let mut groups = vec![n % 1000];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let mut out = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{g:03}/"));
        } else {
            out.push_str(&format!("{g:03}"));
        }
    }
    out
}

/// Parses the canonical index encoding; rejects leading `x000` groups,
/// wrong group sizes, and values beyond u64.
fn parse_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    if groups.len() > 7 {
        return None;
    }
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last { *g } else { g.strip_prefix('x')? };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if i == 0 && !last && digits == "000" {
            return None; // non-canonical leading zero group
        }
        let v: u64 = digits.parse().ok()?;
        n = n.checked_mul(1000)?.checked_add(v)?;
    }
    Some(n)
}

/// Decimal with no sign and no leading zeros, at most `max_len` digits.
fn canonical_decimal(text: &str, max_len: usize) -> Option<u64> {
    let ok = !text.is_empty()
        && text.len() <= max_len
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    ok.then(|| text.parse().ok()).flatten()
}

/// The width tile `(level, index)` has in a tree of `size` leaves: 256 if
/// full, 1..=255 if partial, `None` if it does not exist (empty tiles are
/// never served). Entry bundles follow level 0.
pub fn width_at(kind: TileKind, index: u64, size: u64) -> Option<u16> {
    let level = match kind {
        TileKind::Hashes { level } => level,
        TileKind::Entries => 0,
    };
    if level >= 8 {
        return None;
    }
    // Hashes available at this level: floor(size / 256^level).
    let available = size >> (u32::from(level) * 8);
    let start = index.checked_mul(TILE_WIDTH)?;
    let have = available.checked_sub(start)?;
    match have {
        0 => None,
        n if n >= TILE_WIDTH => Some(256),
        n => Some(n as u16),
    }
}

/// Whether `tile` (at its width) is part of the tree of `size` leaves:
/// full tiles once complete, partial tiles up to the current width.
pub fn exists_at(tile: &TileId, size: u64) -> bool {
    width_at(tile.kind, tile.index, size).is_some_and(|w| tile.width <= w)
}

/// Every hash tile of the tree of `size` leaves, level by level, each at
/// its width in that tree (full tiles, then at most one partial per level).
pub fn hash_tiles(size: u64) -> impl Iterator<Item = TileId> {
    (0u8..8).flat_map(move |level| {
        let available = size >> (u32::from(level) * 8);
        let count = available.div_ceil(TILE_WIDTH);
        (0..count).map(move |index| {
            let width = width_at(TileKind::Hashes { level }, index, size).unwrap_or(256);
            TileId::hashes(level, index, width)
        })
    })
}

/// Every entry bundle of the tree of `size` leaves.
pub fn entry_bundles(size: u64) -> impl Iterator<Item = TileId> {
    (0..size.div_ceil(TILE_WIDTH)).map(move |index| {
        let width = width_at(TileKind::Entries, index, size).unwrap_or(256);
        TileId::entries(index, width)
    })
}

/// Where the hash of stored node `id` can be computed from in a tree of
/// `size` leaves: the hash tile at level `id.level / 8` (at its width in
/// that tree) and the slice of its hashes whose perfect fold is the node.
/// `None` if the node is not complete in that tree.
pub fn tile_for_node(id: NodeId, size: u64) -> Option<(TileId, std::ops::Range<usize>)> {
    if id.coverage().end > size || id.level >= 64 {
        return None;
    }
    let level = id.level / TILE_HEIGHT;
    let sub = u32::from(id.level % TILE_HEIGHT);
    let first = id.index.checked_shl(sub)?;
    let count = 1u64 << sub;
    let index = first / TILE_WIDTH;
    let offset = (first % TILE_WIDTH) as usize;
    let width = width_at(TileKind::Hashes { level }, index, size)?;
    let range = offset..offset + count as usize;
    (range.end <= usize::from(width)).then(|| (TileId::hashes(level, index, width), range))
}

/// Folds `2^k` consecutive hashes of one level into the root of the
/// perfect subtree above them. A full tile folds into the hash one tile
/// level up.
///
/// # Panics
/// If the number of hashes is not a power of two.
pub fn fold_perfect(hashes: &[Hash]) -> Hash {
    assert!(
        hashes.len().is_power_of_two(),
        "a perfect subtree has 2^k leaves"
    );
    let mut row = hashes.to_vec();
    while row.len() > 1 {
        row = row
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    row[0]
}

/// Splits a hash tile's bytes into hashes.
///
/// # Errors
/// If the length is not `32 × width`.
pub fn split_hashes(tile: &TileId, bytes: &[u8]) -> Result<Vec<Hash>, BundleError> {
    if bytes.len() != usize::from(tile.width()) * 32 {
        return Err(BundleError::WrongTileSize {
            expected: usize::from(tile.width()) * 32,
            got: bytes.len(),
        });
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| Hash::try_from(c).expect("32-byte chunks"))
        .collect())
}

/// Splits an entry bundle into its entries.
///
/// # Errors
/// If a length prefix runs past the end.
pub fn split_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let mut out = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(2).ok_or(BundleError::Truncated)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (entry, tail) = tail.split_at_checked(len).ok_or(BundleError::Truncated)?;
        out.push(entry);
        rest = tail;
    }
    Ok(out)
}

/// Appends one entry to a bundle.
///
/// # Errors
/// If the entry is longer than 65,535 bytes.
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), BundleError> {
    let len = u16::try_from(entry.len()).map_err(|_| BundleError::EntryTooLong(entry.len()))?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// A malformed entry bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// A length prefix runs past the end of the bundle.
    #[error("entry bundle is truncated")]
    Truncated,
    /// An entry does not fit a u16 length.
    #[error("entry of {0} bytes does not fit an entry bundle (max 65,535)")]
    EntryTooLong(usize),
    /// A hash tile of the wrong length.
    #[error("hash tile is {got} bytes, expected {expected}")]
    WrongTileSize {
        /// 32 × width.
        expected: usize,
        /// What arrived.
        got: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding_round_trips() {
        for n in [
            0u64,
            1,
            999,
            1000,
            1001,
            999_999,
            1_000_000,
            1_234_067,
            u64::MAX,
        ] {
            assert_eq!(parse_index(&encode_index(n)), Some(n), "{n}");
        }
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
    }

    #[test]
    fn strict_parsing() {
        let ok = [
            "tile/0/000",
            "tile/63/000",
            "tile/entries/x001/000.p/255",
            "tile/7/123.p/1",
        ];
        for p in ok {
            assert_eq!(TileId::parse(p).unwrap().path(), p);
        }
        let bad = [
            "tile/64/000",
            "tile/00/000",
            "tile/01/000",
            "tile/-1/000",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/1",
            "tile/0/x000/001",
            "tile/0/x001",
            "tile/0/001/002",
            "tile/0/x001x/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/0/000.p/",
            "tile/0/000.p",
            "tile/0/../000",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x001/x001/x001/x001/x001/x001/x001/000",
            "tile/entries/",
            "tile/0/",
            "tiles/0/000",
            "tile/0/000/",
            "tile/0/+12",
        ];
        for p in bad {
            assert!(TileId::parse(p).is_err(), "{p} must be rejected");
        }
    }

    #[test]
    fn widths_and_existence() {
        let h = |level| TileKind::Hashes { level };
        assert_eq!(width_at(h(0), 0, 0), None);
        assert_eq!(width_at(h(0), 0, 1), Some(1));
        assert_eq!(width_at(h(0), 0, 256), Some(256));
        assert_eq!(width_at(h(0), 1, 256), None);
        assert_eq!(width_at(h(1), 0, 255), None);
        assert_eq!(width_at(h(1), 0, 256), Some(1));
        assert_eq!(width_at(h(7), 0, u64::MAX), Some(255));
        assert_eq!(width_at(h(8), 0, u64::MAX), None);
        assert!(exists_at(&TileId::hashes(0, 0, 5), 7));
        assert!(!exists_at(&TileId::hashes(0, 0, 8), 7));
        assert!(
            exists_at(&TileId::hashes(0, 0, 5), 1000),
            "partials stay servable"
        );
    }

    #[test]
    fn nodes_are_found_in_the_right_tile() {
        use crate::merkle::{CompactRange, leaf_hash};
        use std::collections::HashMap;
        // A tree of 70,000 leaves: every stored node must be computable
        // from the tiles of that tree.
        let size = 70_000u64;
        let mut range = CompactRange::new();
        let mut nodes: HashMap<NodeId, Hash> = HashMap::new();
        for i in 0..size {
            range.append(leaf_hash(&i.to_le_bytes()), |id, h| {
                nodes.insert(id, h);
            });
        }
        let tile_hashes = |t: &TileId| -> Vec<Hash> {
            let (height, r) = t.nodes().unwrap();
            r.map(|i| nodes[&NodeId::new(height, i)]).collect()
        };
        for (id, want) in nodes
            .iter()
            .filter(|(id, _)| id.index % 97 == 3 || id.level > 9)
        {
            let (tile, r) = tile_for_node(*id, size).unwrap_or_else(|| panic!("{id:?}"));
            assert_eq!(
                fold_perfect(&tile_hashes(&tile)[r]),
                *want,
                "{id:?} via {tile}"
            );
        }
        assert_eq!(
            tile_for_node(NodeId::new(17, 0), size),
            None,
            "incomplete node"
        );
        // Every full tile folds into its hash one level up.
        for t in hash_tiles(size).filter(|t| t.is_full()) {
            let TileKind::Hashes { level } = t.kind() else {
                unreachable!()
            };
            let parent = NodeId::new((level + 1) * TILE_HEIGHT, t.index());
            assert_eq!(fold_perfect(&tile_hashes(&t)), nodes[&parent]);
        }
    }

    #[test]
    fn bundles_round_trip() {
        let mut b = Vec::new();
        for e in [&b"a"[..], b"", &[7u8; 300]] {
            push_bundle_entry(&mut b, e).unwrap();
        }
        let parts = split_bundle(&b).unwrap();
        assert_eq!(parts, vec![&b"a"[..], b"", &[7u8; 300]]);
        assert_eq!(split_bundle(&b[..b.len() - 1]), Err(BundleError::Truncated));
        assert_eq!(split_bundle(&[0]), Err(BundleError::Truncated));
        assert!(push_bundle_entry(&mut b, &vec![0; 65_536]).is_err());
    }
}
