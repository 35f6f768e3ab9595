//! C2SP tlog-tiles paths: `TileId::parse`, and the tile arithmetic on what
//! it returns.
//!
//! Invariants: parsing is exact (a parsed path prints back as the input);
//! a tile whose nodes are in a tree exists first at the size that
//! completes its last node and not one leaf earlier; there, `width_at`
//! gives its width, `tile_for_node` maps each of its nodes back to it, and
//! the tile (or entry bundle) is among those the tree lists.

#![no_main]

use causeway_tlog::merkle::NodeId;
use causeway_tlog::tiles::{
    TILE_WIDTH, TileId, TileKind, entry_bundles, exists_at, hash_tiles, tile_for_node, width_at,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tile) = TileId::parse(path) else {
        return;
    };
    assert_eq!(tile.path(), path, "a parsed tile path prints back exactly");
    assert_eq!(TileId::parse(&tile.path()), Ok(tile));
    assert!((1..=256).contains(&tile.width()));
    assert_eq!(tile.full().width(), 256);
    assert_eq!(tile.full().index(), tile.index());

    let Some((height, nodes)) = tile.nodes() else {
        // Levels 8 to 63 parse but hold no tiles; so do indices whose
        // first node does not fit in 64 bits.
        let end = u128::from(tile.index()) * u128::from(TILE_WIDTH) + u128::from(tile.width());
        assert!(
            matches!(tile.kind(), TileKind::Hashes { level } if level >= 8)
                || end > u128::from(u64::MAX)
        );
        return;
    };
    assert_eq!(nodes.end - nodes.start, u64::from(tile.width()));
    assert_eq!(tile.node(0), Some(NodeId::new(height, nodes.start)));
    assert_eq!(tile.node(u64::from(tile.width())), None);

    // The smallest tree with every node of the tile: its last node's last
    // leaf, plus one.
    let Some(size) = nodes
        .end
        .checked_mul(1u64.checked_shl(u32::from(height)).unwrap_or(0))
        .filter(|s| *s > 0)
    else {
        return;
    };
    assert!(exists_at(&tile, size), "{path} exists at size {size}");
    assert!(
        !exists_at(&tile, size - 1),
        "{path} does not exist at size {}",
        size - 1
    );
    assert_eq!(
        width_at(tile.kind(), tile.index(), size),
        Some(tile.width())
    );
    if let TileKind::Hashes { .. } = tile.kind() {
        for i in [0, u64::from(tile.width()) - 1] {
            let node = tile.node(i).expect("inside the tile");
            let (found, range) = tile_for_node(node, size).expect("a node of an existing tile");
            assert_eq!(found, tile);
            assert_eq!(range, i as usize..i as usize + 1);
        }
    }
    // Listing every tile is linear in the tree size: only for small trees.
    if size <= 1 << 18 {
        match tile.kind() {
            TileKind::Entries => assert!(entry_bundles(size).any(|t| t == tile)),
            TileKind::Hashes { .. } => assert!(hash_tiles(size).any(|t| t == tile)),
        }
    }
});
