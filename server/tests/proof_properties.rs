//! Property test: the proofs the log serves from its real storage equal
//! those of a naive RFC 6962 tree.
//!
//! Each case opens a fresh log (`OpenLog` on a temporary directory: RocksDB,
//! the sequencer thread, the reader), appends a random number of distinct
//! entries in random batches through the sequencer handle, then compares
//! with a naive in-memory tree written here straight from RFC 6962 §2.1
//! (recursive MTH, PATH and PROOF; nothing from `causeway_tlog::merkle`
//! except SHA-256 with the leaf and node prefixes, pinned below to RFC 6962
//! known answers):
//!
//! * the root at every size, and the signed head;
//! * the inclusion proof of every leaf in the full tree, and of random
//!   (index, size) pairs, leaf hash included;
//! * the consistency proof from every old size to the full tree, and for
//!   random (old, new) pairs;
//! * the reader's refusals of impossible requests.

use std::collections::HashSet;

use causeway_server::{Config, OpenLog};
use causeway_tlog::merkle::{Hash, leaf_hash, node_hash};
use proptest::prelude::*;

// ---------------------------------------------------------------------
// The naive RFC 6962 tree (§2.1).
// ---------------------------------------------------------------------

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k < n - k {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over the entries.
fn mth(d: &[Vec<u8>]) -> Hash {
    match d.len() {
        0 => Hash::from_bytes(EMPTY),
        1 => leaf_hash(&d[0]),
        n => {
            let k = split(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]), leaf to root.
fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        return Vec::new();
    }
    let k = split(n);
    let (mut p, sibling) = if m < k {
        (path(m, &d[..k]), mth(&d[k..]))
    } else {
        (path(m - k, &d[k..]), mth(&d[..k]))
    };
    p.push(sibling);
    p
}

/// SUBPROOF(m, D[n], b).
fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = split(n);
    let (mut p, extra) = if m <= k {
        (subproof(m, &d[..k], b), mth(&d[k..]))
    } else {
        (subproof(m - k, &d[k..], false), mth(&d[..k]))
    };
    p.push(extra);
    p
}

/// PROOF(m, D[n]).
fn consistency(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
    subproof(m, d, true)
}

/// SHA-256 of nothing: the root of the empty tree.
const EMPTY: [u8; 32] = hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        }
    }
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// The hash primitives are RFC 6962's: known answers from
/// transparency-dev/merkle's tests.
#[test]
fn hash_primitives_are_rfc6962() {
    assert_eq!(
        leaf_hash(b"").as_bytes(),
        &hex32("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    );
    assert_eq!(
        leaf_hash(b"L123456").as_bytes(),
        &hex32("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    );
    // The tree of transparency-dev/merkle's testonly/constants.go
    // (testdata/vectors/rfc6962_merkle.json): the roots of sizes 2 and 8.
    let leaves: Vec<Vec<u8>> = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| {
        (0..h.len() / 2)
            .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    })
    .collect();
    assert_eq!(
        node_hash(&leaf_hash(&leaves[0]), &leaf_hash(&leaves[1])).as_bytes(),
        &hex32("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")
    );
    assert_eq!(
        mth(&leaves).as_bytes(),
        &hex32("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    );
}

// ---------------------------------------------------------------------
// The property.
// ---------------------------------------------------------------------

/// Batches of entries whose sizes add up to 1..=300 (the last batch is cut
/// short), and entry contents. Entries are made distinct (the sequencer
/// answers a duplicate with its first index instead of appending it).
fn batches() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    (
        prop::collection::vec(1usize..=80, 1..=8),
        1usize..=300,
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..=300),
    )
        .prop_map(|(sizes, cap, contents)| {
            let mut seen = HashSet::new();
            let mut all = Vec::new();
            let mut out = Vec::new();
            for size in sizes {
                let mut batch = Vec::new();
                for _ in 0..size {
                    if all.len() == cap {
                        break;
                    }
                    let mut e = contents[all.len() % contents.len()].clone();
                    // Distinct: repeated contents get the index appended.
                    while !seen.insert(e.clone()) {
                        e.extend_from_slice(&(all.len() as u32).to_be_bytes());
                    }
                    all.push(e.clone());
                    batch.push(e);
                }
                if !batch.is_empty() {
                    out.push(batch);
                }
            }
            out
        })
}

proptest! {
    // Each case opens a RocksDB log and commits a synced, signed batch per
    // submission: a few dozen cases cover sizes 1..=300 well.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn served_proofs_equal_the_naive_tree(
        batches in batches(),
        queries in prop::collection::vec((any::<u64>(), any::<u64>()), 48),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = OpenLog::open(&Config::new(dir.path().join("log"))).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();

        let mut d: Vec<Vec<u8>> = Vec::new();
        for batch in &batches {
            let submission: Vec<(Vec<u8>, Hash)> =
                batch.iter().map(|e| (e.clone(), leaf_hash(e))).collect();
            let sequencer = log.writes.sequencer().unwrap();
            let accepted = runtime.block_on(sequencer.submit(submission)).unwrap();
            for (k, seq) in accepted.entries.iter().enumerate() {
                prop_assert_eq!(seq.index, (d.len() + k) as u64);
                prop_assert!(!seq.duplicate);
            }
            d.extend(batch.iter().cloned());
            prop_assert_eq!(accepted.checkpoint.size, d.len() as u64);
            prop_assert_eq!(accepted.checkpoint.root, mth(&d));
        }
        let n = d.len();
        let size = n as u64;
        prop_assert_eq!(log.reader.head_size(), size);
        prop_assert_eq!(log.reader.latest().unwrap().root, mth(&d));

        // Roots at every size, from stored nodes.
        for m in 0..=n {
            prop_assert_eq!(log.reader.root_at(m as u64).unwrap(), mth(&d[..m]), "size {}", m);
        }

        // Inclusion: every leaf of the full tree, then random (index, size).
        let check_inclusion = |index: usize, s: usize| -> Result<(), TestCaseError> {
            let p = log
                .reader
                .inclusion_proof(index as u64, Some(s as u64))
                .map_err(|e| TestCaseError::fail(format!("inclusion {index} in {s}: {e}")))?;
            prop_assert_eq!(p.leaf_index, index as u64);
            prop_assert_eq!(p.tree_size, s as u64);
            prop_assert_eq!(p.leaf_hash, leaf_hash(&d[index]));
            prop_assert_eq!(&p.hashes, &path(index, &d[..s]), "index {} size {}", index, s);
            Ok(())
        };
        for index in 0..n {
            check_inclusion(index, n)?;
        }
        for &(a, b) in &queries {
            let s = 1 + (a % size) as usize;
            check_inclusion((b % s as u64) as usize, s)?;
        }
        // The latest published size is the default.
        let latest = log.reader.inclusion_proof(0, None).unwrap();
        prop_assert_eq!(latest.tree_size, size);
        prop_assert_eq!(&latest.hashes, &path(0, &d));

        // Consistency: every old size to the full tree, then random pairs.
        let check_consistency = |m: usize, s: usize| -> Result<(), TestCaseError> {
            let (new, p) = log
                .reader
                .consistency_proof(m as u64, Some(s as u64))
                .map_err(|e| TestCaseError::fail(format!("consistency {m} -> {s}: {e}")))?;
            prop_assert_eq!(new, s as u64);
            prop_assert_eq!(&p, &consistency(m, &d[..s]), "{} -> {}", m, s);
            Ok(())
        };
        for m in 1..=n {
            check_consistency(m, n)?;
        }
        for &(a, b) in &queries {
            let m = 1 + (a % size) as usize;
            let s = m + (b % (size - m as u64 + 1)) as usize;
            check_consistency(m, s)?;
        }

        // Impossible requests are refused, not answered.
        prop_assert!(log.reader.inclusion_proof(size, Some(size)).is_err());
        prop_assert!(log.reader.inclusion_proof(size, None).is_err());
        prop_assert!(log.reader.inclusion_proof(0, Some(size + 1)).is_err());
        prop_assert!(log.reader.consistency_proof(0, Some(size)).is_err());
        prop_assert!(log.reader.consistency_proof(size + 1, Some(size)).is_err());
        prop_assert!(log.reader.consistency_proof(1, Some(size + 1)).is_err());
        if n >= 2 {
            let m = 1 + (queries[0].0 % (size - 1));
            prop_assert!(log.reader.inclusion_proof(m, Some(m)).is_err());
            prop_assert!(log.reader.consistency_proof(m + 1, Some(m)).is_err());
        }

        drop(runtime);
        log.close();
    }
}
