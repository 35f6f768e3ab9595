//! The C2SP tlog-tiles spec examples in `tlog_tiles_paths.json`.

use causeway_tlog::tiles::{TileId, TileKind, encode_index, entry_bundles, hash_tiles, width_at};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vectors/tlog_tiles_paths.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn index_encoding_examples() {
    for case in vectors()["index_encoding"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap();
        let path = case["path"].as_str().unwrap();
        assert_eq!(encode_index(n), path);
        let tile = TileId::parse(&format!("tile/0/{path}")).unwrap();
        assert_eq!(tile.index(), n);
    }
}

/// Checks the spec's description of a tree against `hash_tiles`.
fn check_tree(size: u64, levels: &Value) {
    let tiles: Vec<TileId> = hash_tiles(size).collect();
    let levels = levels.as_array().unwrap();
    for (level, case) in levels.iter().enumerate() {
        assert_eq!(case["level"].as_u64(), Some(level as u64));
        let at_level: Vec<&TileId> = tiles
            .iter()
            .filter(|t| t.kind() == TileKind::Hashes { level: level as u8 })
            .collect();
        let full: Vec<&&TileId> = at_level.iter().filter(|t| t.is_full()).collect();
        assert_eq!(
            full.len() as u64,
            case["full_tiles"].as_u64().unwrap(),
            "size {size} level {level}"
        );
        assert_eq!(
            full.last().map(|t| t.path()),
            case["last_full"].as_str().map(str::to_owned)
        );
        let partial: Vec<String> = at_level
            .iter()
            .filter(|t| !t.is_full())
            .map(|t| t.path())
            .collect();
        assert_eq!(
            partial.first().cloned(),
            case["partial"].as_str().map(str::to_owned)
        );
        assert!(partial.len() <= 1);
        for p in &partial {
            let t = TileId::parse(p).unwrap();
            assert_eq!(width_at(t.kind(), t.index(), size), Some(t.width()));
        }
    }
    // No tiles beyond the levels the spec lists.
    assert!(tiles.iter().all(
        |t| matches!(t.kind(), TileKind::Hashes { level } if (level as usize) < levels.len())
    ));
}

#[test]
fn tree_of_70000() {
    let v = vectors();
    check_tree(70_000, &v["tree_size_70000"]);
    let last_bundle = entry_bundles(70_000).last().unwrap();
    assert_eq!(
        last_bundle.path(),
        v["tree_size_70000_entries_partial"].as_str().unwrap()
    );
    assert_eq!(entry_bundles(70_000).count(), 274);
}

#[test]
fn tree_of_256() {
    check_tree(256, &vectors()["tree_size_256"]);
}

#[test]
fn limits() {
    let v = vectors();
    assert_eq!(
        v["tile_width"].as_u64(),
        Some(causeway_tlog::tiles::TILE_WIDTH)
    );
    assert_eq!(
        v["full_tile_bytes"].as_u64(),
        Some(causeway_tlog::tiles::TILE_WIDTH * 32)
    );
    let max = v["max_level"].as_u64().unwrap();
    assert!(TileId::parse(&format!("tile/{max}/000")).is_ok());
    assert!(TileId::parse(&format!("tile/{}/000", max + 1)).is_err());
}
