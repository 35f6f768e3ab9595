//! RFC 6962 vectors from transparency-dev/merkle: the classic tables in
//! `rfc6962_merkle.json` and every positive and negative probe file under
//! `transparency-dev-merkle-testdata/{inclusion,consistency}`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use causeway_tlog::merkle::{
    CompactRange, Hash, NodeId, ProofPlan, leaf_hash, node_hash, root_of, verify_consistency,
    verify_inclusion, verify_subtree_inclusion,
};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn hex_hash(v: &Value) -> Hash {
    Hash::from_hex(v.as_str().unwrap()).unwrap()
}

fn hex_hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .map(|a| a.iter().map(hex_hash).collect())
        .unwrap_or_default()
}

#[test]
fn leaves_roots_and_nodes() {
    let v = json(&vectors().join("rfc6962_merkle.json"));
    let leaves: Vec<Vec<u8>> = v["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| hex::decode(l.as_str().unwrap()).unwrap())
        .collect();
    let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
    assert_eq!(hashes, hex_hashes(&v["leaf_hashes"]));
    let roots: Vec<Hash> = v["roots"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            assert_eq!(r["size"].as_u64(), Some(i as u64));
            hex_hash(&r["root_hex"])
        })
        .collect();
    assert_eq!(roots.len(), 9);
    let mut range = CompactRange::new();
    let mut stored = std::collections::HashMap::new();
    for (size, root) in roots.iter().enumerate() {
        assert_eq!(
            root_of(&hashes[..size]),
            *root,
            "reference root of size {size}"
        );
        if size > 0 {
            range.append(hashes[size - 1], |id, h| {
                stored.insert(id, h);
            });
        }
        assert_eq!(range.root(), *root, "compact range root of size {size}");
    }
    for (level, row) in v["node_hashes_by_level"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (index, h) in hex_hashes(row).iter().enumerate() {
            assert_eq!(stored[&NodeId::new(level as u8, index as u64)], *h);
        }
    }
    assert_eq!(
        node_hash(&hashes[0], &hashes[1]),
        stored[&NodeId::new(1, 0)]
    );
}

#[test]
fn classic_tables_verify_and_are_regenerated() {
    let v = json(&vectors().join("rfc6962_merkle.json"));
    let leaves: Vec<Hash> = hex_hashes(&v["leaf_hashes"]);
    let mut stored = std::collections::HashMap::new();
    let mut range = CompactRange::new();
    for l in &leaves {
        range.append(*l, |id, h| {
            stored.insert(id, h);
        });
    }
    let fetch = |plan: ProofPlan| {
        let hashes: Vec<Hash> = plan.node_ids().iter().map(|id| stored[id]).collect();
        plan.assemble(&hashes).unwrap()
    };
    for case in v["inclusion"].as_array().unwrap() {
        let (i, n) = (
            case["leaf_index"].as_u64().unwrap(),
            case["tree_size"].as_u64().unwrap(),
        );
        let proof = hex_hashes(&case["proof"]);
        verify_inclusion(
            i,
            n,
            &hex_hash(&case["leaf_hash"]),
            &proof,
            &hex_hash(&case["root"]),
        )
        .unwrap();
        assert_eq!(
            fetch(ProofPlan::inclusion(i, n).unwrap()),
            proof,
            "inclusion {i}/{n}"
        );
    }
    for case in v["consistency"].as_array().unwrap() {
        let (m, n) = (
            case["size1"].as_u64().unwrap(),
            case["size2"].as_u64().unwrap(),
        );
        let proof = hex_hashes(&case["proof"]);
        verify_consistency(
            m,
            n,
            &hex_hash(&case["root1"]),
            &hex_hash(&case["root2"]),
            &proof,
        )
        .unwrap();
        assert_eq!(
            fetch(ProofPlan::consistency(m, n).unwrap()),
            proof,
            "consistency {m}->{n}"
        );
    }
}

/// A transparency-dev probe: `Ok(())` if our verifier accepts it.
/// Hash fields that are not 32 bytes cannot become a [`Hash`]; Causeway
/// rejects those at the type boundary, so they count as rejections.
fn run_probe(v: &Value, is_inclusion: bool) -> Result<(), String> {
    let b64 = |f: &str| -> Result<Hash, String> {
        let s = v[f].as_str().unwrap_or("");
        let bytes = BASE64.decode(s).map_err(|e| e.to_string())?;
        Hash::try_from(bytes.as_slice()).map_err(|e| format!("{f}: {e}"))
    };
    let proof: Vec<Hash> = match v["proof"].as_array() {
        None => vec![],
        Some(a) => a
            .iter()
            .map(|p| {
                let bytes = BASE64
                    .decode(p.as_str().unwrap())
                    .map_err(|e| e.to_string())?;
                Hash::try_from(bytes.as_slice()).map_err(|e| format!("proof: {e}"))
            })
            .collect::<Result<_, _>>()?,
    };
    if is_inclusion && v.get("start").is_some() {
        let field = |f: &str| v[f].as_u64().unwrap();
        let (i, start, end) = (field("leafIdx"), field("start"), field("end"));
        verify_subtree_inclusion(i, start, end, &b64("leafHash")?, &proof, &b64("root")?)
            .map_err(|e| e.to_string())
    } else if is_inclusion {
        let (i, n) = (
            v["leafIdx"].as_u64().unwrap(),
            v["treeSize"].as_u64().unwrap(),
        );
        verify_inclusion(i, n, &b64("leafHash")?, &proof, &b64("root")?).map_err(|e| e.to_string())
    } else {
        let (m, n) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
        verify_consistency(m, n, &b64("root1")?, &b64("root2")?, &proof).map_err(|e| e.to_string())
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_transparency_dev_probe() {
    let root = vectors().join("transparency-dev-merkle-testdata");
    let mut checked = 0;
    let mut stricter = Vec::new();
    // subtreeconsistency/ (the MTC draft's subtree consistency proofs) is not
    // covered: Causeway has no use for them yet.
    for kind in ["inclusion", "consistency", "subtreeinclusion"] {
        let mut files = Vec::new();
        json_files(&root.join(kind), &mut files);
        files.sort();
        for file in files {
            let v = json(&file);
            let want_err = v["wantErr"].as_bool().unwrap();
            let got = run_probe(&v, kind != "consistency");
            let name = file.strip_prefix(&root).unwrap().display().to_string();
            match (want_err, got) {
                (true, Ok(())) => panic!("{name}: accepted, want error ({})", v["desc"]),
                (false, Err(e)) => stricter.push((name, e)),
                _ => {}
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 400, "probe files found");
    // The one probe the Go library accepts and Causeway rejects: equal sizes
    // with equal but 12-byte "roots". A root is 32 bytes or it is not a root.
    assert_eq!(stricter.len(), 1, "{stricter:?}");
    assert_eq!(
        stricter[0].0,
        "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"
    );
    assert!(stricter[0].1.contains("32 bytes"));
}

#[test]
fn rfc6962_json_probes_agree() {
    let v = json(&vectors().join("rfc6962_merkle.json"));
    for (kind, is_inclusion) in [("inclusion", true), ("consistency", false)] {
        let probes = v["probes"][kind].as_array().unwrap();
        assert_eq!(probes.len(), 98);
        for p in probes {
            let want_err = p["want_err"].as_bool().unwrap();
            let h = |f: &str| Hash::from_hex(p[f].as_str().unwrap_or(""));
            let proof: Result<Vec<Hash>, _> = p["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| Hash::from_hex(x.as_str().unwrap()))
                .collect();
            let got = match (is_inclusion, proof) {
                (_, Err(_)) => Err(()),
                (true, Ok(proof)) => match (h("leaf_hash"), h("root")) {
                    (Ok(l), Ok(r)) => verify_inclusion(
                        p["leaf_index"].as_u64().unwrap(),
                        p["tree_size"].as_u64().unwrap(),
                        &l,
                        &proof,
                        &r,
                    )
                    .map_err(|_| ()),
                    _ => Err(()),
                },
                (false, Ok(proof)) => match (h("root1"), h("root2")) {
                    (Ok(a), Ok(b)) => verify_consistency(
                        p["size1"].as_u64().unwrap(),
                        p["size2"].as_u64().unwrap(),
                        &a,
                        &b,
                        &proof,
                    )
                    .map_err(|_| ()),
                    _ => Err(()),
                },
            };
            let file = p["file"].as_str().unwrap();
            if file.ends_with("sizes-are-equal-one-and-proof-is-empty.json") {
                assert!(got.is_err(), "non-32-byte roots must be rejected");
                continue;
            }
            assert_eq!(got.is_err(), want_err, "{file}: {}", p["desc"]);
        }
    }
}

/// Systematic negatives on our own proofs: every single-bit flip of a proof
/// hash, the leaf or the root, every truncation and extension, and every
/// wrong index or size must be rejected.
#[test]
fn single_bit_flips_and_shape_changes_are_rejected() {
    let leaves: Vec<Hash> = (0..37u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut stored = std::collections::HashMap::new();
    let mut range = CompactRange::new();
    for l in &leaves {
        range.append(*l, |id, h| {
            stored.insert(id, h);
        });
    }
    let flip = |h: &Hash, bit: usize| {
        let mut b = *h.as_bytes();
        b[bit / 8] ^= 1 << (bit % 8);
        Hash::from_bytes(b)
    };
    let n = 37u64;
    let root = root_of(&leaves);
    for i in [0u64, 1, 17, 31, 32, 36] {
        let plan = ProofPlan::inclusion(i, n).unwrap();
        let hashes: Vec<Hash> = plan.node_ids().iter().map(|id| stored[id]).collect();
        let proof = plan.assemble(&hashes).unwrap();
        let leaf = leaves[i as usize];
        verify_inclusion(i, n, &leaf, &proof, &root).unwrap();
        for bit in (0..256).step_by(7) {
            assert!(verify_inclusion(i, n, &flip(&leaf, bit), &proof, &root).is_err());
            assert!(verify_inclusion(i, n, &leaf, &proof, &flip(&root, bit)).is_err());
            for k in 0..proof.len() {
                let mut p = proof.clone();
                p[k] = flip(&p[k], bit);
                assert!(verify_inclusion(i, n, &leaf, &p, &root).is_err());
            }
        }
        assert!(verify_inclusion(i, n, &leaf, &proof[..proof.len() - 1], &root).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        assert!(verify_inclusion(i, n, &leaf, &longer, &root).is_err());
        // (A wrong tree size alone may still verify: the signed checkpoint
        // binds size and root together, so the root is what must differ.)
        assert!(verify_inclusion(i ^ 1, n, &leaf, &proof, &root).is_err());
        assert!(verify_inclusion(n, n, &leaf, &proof, &root).is_err());
    }
    for m in [1u64, 2, 3, 7, 8, 20, 36] {
        let plan = ProofPlan::consistency(m, n).unwrap();
        let hashes: Vec<Hash> = plan.node_ids().iter().map(|id| stored[id]).collect();
        let proof = plan.assemble(&hashes).unwrap();
        let old_root = root_of(&leaves[..m as usize]);
        verify_consistency(m, n, &old_root, &root, &proof).unwrap();
        for bit in (0..256).step_by(5) {
            assert!(verify_consistency(m, n, &flip(&old_root, bit), &root, &proof).is_err());
            assert!(verify_consistency(m, n, &old_root, &flip(&root, bit), &proof).is_err());
            for k in 0..proof.len() {
                let mut p = proof.clone();
                p[k] = flip(&p[k], bit);
                assert!(
                    verify_consistency(m, n, &old_root, &root, &p).is_err(),
                    "{m}: bit {bit} of {k}"
                );
            }
        }
        assert!(verify_consistency(m, n, &old_root, &root, &proof[1..]).is_err());
        assert!(verify_consistency(m, n, &root, &old_root, &proof).is_err());
    }
}
