//! Test helpers: a naive RFC 6962 consistency proof and log-signed
//! checkpoints.

use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, leaf_hash, root_of};
use causeway_tlog::note::{Ed25519Signer, KeyName, Note};

/// The RFC 6962 §2.1.2 consistency proof from the first `old` leaves to
/// all of `leaves`, computed the obvious recursive way (SUBPROOF).
pub fn consistency_proof(old: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete {
                vec![]
            } else {
                vec![root_of(leaves)]
            };
        }
        let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros()); // largest power of two < n
        if m <= k {
            let mut p = subproof(m, &leaves[..k], complete);
            p.push(root_of(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(root_of(&leaves[..k]));
            p
        }
    }
    assert!(old > 0 && old <= leaves.len());
    subproof(old, leaves, true)
}

/// `n` distinct leaf hashes.
pub fn leaves(n: usize) -> Vec<Hash> {
    (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// A fresh Ed25519 log key named `origin`.
pub fn log_signer(origin: &str) -> Ed25519Signer {
    Ed25519Signer::generate(KeyName::new(origin).unwrap(), &mut rand::thread_rng())
}

/// A checkpoint of `origin` over `leaves`, signed by `signer`, as bytes.
pub fn signed_checkpoint(signer: &Ed25519Signer, origin: &str, leaves: &[Hash]) -> Vec<u8> {
    let cp = Checkpoint::new(origin, leaves.len() as u64, root_of(leaves)).unwrap();
    let mut note = Note::new(cp.to_text()).unwrap();
    note.sign(signer).unwrap();
    note.to_bytes()
}

#[test]
fn naive_proofs_verify() {
    use causeway_tlog::merkle::verify_consistency;
    let l = leaves(40);
    for new in 1..=40 {
        for old in 1..=new {
            let p = consistency_proof(old, &l[..new]);
            verify_consistency(
                old as u64,
                new as u64,
                &root_of(&l[..old]),
                &root_of(&l[..new]),
                &p,
            )
            .unwrap_or_else(|e| panic!("{old} -> {new}: {e}"));
        }
    }
}
