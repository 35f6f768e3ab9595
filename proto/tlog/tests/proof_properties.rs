//! Property tests of proof and signature verification.
//!
//! * Inclusion and consistency: honest proofs, made by a naive RFC 6962
//!   §2.1 tree written here (recursive MTH, PATH and PROOF over SHA-256,
//!   nothing from `causeway_tlog::merkle` but the verifiers under test),
//!   verify; flipping any single bit of any proof hash, of the root(s) or
//!   of the leaf hash makes them fail; so do a dropped or an extra hash.
//! * A wrong position (index and/or size, or old and/or new size) is
//!   accepted exactly when it describes the same hash computation as the
//!   true one, which the naive tree's *shape* (the sides of the siblings)
//!   decides. A different index in the same tree always has a different
//!   shape, so it is always rejected; a different size sometimes has the
//!   same shape (leaf 0 of a tree of 3 and of 4 leaves: both hash
//!   `((leaf, p0), p1)`), and then the proof is accepted: an inclusion or
//!   consistency proof binds the size only through the signed root.
//! * Signed checkpoints: any single-bit flip anywhere in a note signed by
//!   one key (Ed25519, ECDSA P-256 or a cosignature/v1) makes parsing or
//!   verification fail; in a note signed by all three, any flip in the
//!   text fails, and a flip in one signature line never lets that
//!   signature verify (the others still may, as C2SP signed-note wants for
//!   signatures by unknown keys).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{
    Hash, root_from_inclusion_proof, verify_consistency, verify_inclusion,
};
use causeway_tlog::note::{
    CosignatureSigner, EcdsaSigner, Ed25519Signer, KeyName, Note, NoteError, NoteSignature,
    NoteVerifier, VerifierKey,
};
use proptest::prelude::*;
use rand::SeedableRng as _;
use sha2::{Digest as _, Sha256};

// ---------------------------------------------------------------------
// The naive RFC 6962 tree (§2.1), independent of causeway_tlog::merkle.
// ---------------------------------------------------------------------

type H = [u8; 32];

fn sha256(parts: &[&[u8]]) -> H {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    let mut k: u64 = 1;
    while k < n - k {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over leaf *entries*.
fn mth(d: &[Vec<u8>]) -> H {
    match d.len() {
        0 => sha256(&[]),
        1 => sha256(&[&[0], &d[0]]),
        n => {
            let k = split(n as u64) as usize;
            sha256(&[&[1], &mth(&d[..k]), &mth(&d[k..])])
        }
    }
}

/// Which side of the running hash a proof element goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// `node(element, running)`.
    Left,
    /// `node(running, element)`.
    Right,
}

/// PATH(m, D[n]), leaf to root.
fn path(m: usize, d: &[Vec<u8>]) -> Vec<H> {
    let n = d.len();
    if n == 1 {
        return Vec::new();
    }
    let k = split(n as u64) as usize;
    let (mut p, sibling) = if m < k {
        (path(m, &d[..k]), mth(&d[k..]))
    } else {
        (path(m - k, &d[k..]), mth(&d[..k]))
    };
    p.push(sibling);
    p
}

/// The sides of PATH(m, D[n]) (no hashing, so any u64 sizes).
fn path_shape(m: u64, n: u64) -> Vec<Side> {
    if n == 1 {
        return Vec::new();
    }
    let k = split(n);
    let (mut s, side) = if m < k {
        (path_shape(m, k), Side::Right)
    } else {
        (path_shape(m - k, n - k), Side::Left)
    };
    s.push(side);
    s
}

/// SUBPROOF(m, D[n], b).
fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<H> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = split(n as u64) as usize;
    let (mut p, extra) = if m <= k {
        (subproof(m, &d[..k], b), mth(&d[k..]))
    } else {
        (subproof(m - k, &d[k..], false), mth(&d[..k]))
    };
    p.push(extra);
    p
}

/// PROOF(m, D[n]).
fn consistency(m: usize, d: &[Vec<u8>]) -> Vec<H> {
    subproof(m, d, true)
}

/// The shape of SUBPROOF(m, D[n], b): whether it starts with MTH(D[m])
/// itself, then the side of every later element (`Left` elements go into
/// both the old and the new root, `Right` ones only into the new).
fn subproof_shape(m: u64, n: u64, b: bool) -> (bool, Vec<Side>) {
    if m == n {
        return (!b, Vec::new());
    }
    let k = split(n);
    let ((start, mut sides), side) = if m <= k {
        (subproof_shape(m, k, b), Side::Right)
    } else {
        (subproof_shape(m - k, n - k, false), Side::Left)
    };
    sides.push(side);
    (start, sides)
}

/// Whether `verify_inclusion(i, s, ..)` with the proof of (`index`, `size`)
/// performs exactly the true computation.
fn same_inclusion_shape(index: u64, size: u64, i: u64, s: u64) -> bool {
    i < s && path_shape(i, s) == path_shape(index, size)
}

fn same_consistency_shape(old: u64, new: u64, m: u64, n: u64) -> bool {
    m >= 1 && m <= n && subproof_shape(m, n, true) == subproof_shape(old, new, true)
}

fn hash(h: &H) -> Hash {
    Hash::from_bytes(*h)
}

fn hashes(hs: &[H]) -> Vec<Hash> {
    hs.iter().map(hash).collect()
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = *h.as_bytes();
    b[bit / 8] ^= 1 << (bit % 8);
    Hash::from_bytes(b)
}

/// `n` distinct entries derived from `seed`, of varying lengths (empty
/// entries included).
fn entries(seed: u64, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut e = sha256(&[&seed.to_le_bytes(), &(i as u64).to_le_bytes()]).to_vec();
            e.truncate(i % 33);
            if e.is_empty() && i > 0 {
                // Keep entries distinct: only entry 0 may be empty.
                e.push(i as u8);
                e.extend_from_slice(&(i as u64).to_be_bytes());
            }
            e
        })
        .collect()
}

/// Tree sizes: all small ones are likely, a few large ones too.
fn tree_and_index() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![1usize..=17, 1usize..=1100].prop_flat_map(|n| (Just(n), 0..n))
}

/// Other positions to try a proof at: neighbours, halves and doubles, the
/// extremes and a few random ones.
fn other_sizes(size: u64, random: &[u64]) -> Vec<u64> {
    let mut v = vec![
        0,
        1,
        2,
        size.wrapping_sub(1),
        size + 1,
        size * 2,
        size / 2,
        size.next_power_of_two(),
        size.next_power_of_two() + 1,
        u64::MAX,
        u64::MAX - 1,
        1 << 63,
    ];
    v.extend(random.iter().map(|r| r % (size * 4 + 2)));
    v.extend(random.iter().copied());
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn inclusion_proofs(
        (n, index) in tree_and_index(),
        seed in any::<u64>(),
        random in prop::collection::vec(any::<u64>(), 8),
    ) {
        let d = entries(seed, n);
        let size = n as u64;
        let index_u = index as u64;
        let root = hash(&mth(&d));
        let leaf = hash(&mth(&d[index..=index]));
        let proof = hashes(&path(index, &d));

        // Honest.
        prop_assert_eq!(verify_inclusion(index_u, size, &leaf, &proof, &root), Ok(()));
        prop_assert_eq!(root_from_inclusion_proof(index_u, size, &leaf, &proof), Ok(root));

        // Any single-bit change of a proof hash, the root or the leaf.
        for j in 0..proof.len() {
            for bit in 0..256 {
                let mut bad = proof.clone();
                bad[j] = flip(&bad[j], bit);
                prop_assert!(verify_inclusion(index_u, size, &leaf, &bad, &root).is_err());
            }
        }
        for bit in 0..256 {
            prop_assert!(verify_inclusion(index_u, size, &leaf, &proof, &flip(&root, bit)).is_err());
            prop_assert!(verify_inclusion(index_u, size, &flip(&leaf, bit), &proof, &root).is_err());
        }

        // A hash too few or too many.
        if let Some((_, shorter)) = proof.split_last() {
            prop_assert!(verify_inclusion(index_u, size, &leaf, shorter, &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(leaf);
        prop_assert!(verify_inclusion(index_u, size, &leaf, &longer, &root).is_err());

        // Every other index of the same tree.
        for i in 0..size {
            if i != index_u {
                prop_assert_ne!(path_shape(i, size), path_shape(index_u, size));
                prop_assert!(verify_inclusion(i, size, &leaf, &proof, &root).is_err());
            }
        }
        // Other sizes, and other (index, size) pairs: accepted exactly when
        // the hash computation is the true one.
        let sizes = other_sizes(size, &random);
        let indices = [0, index_u.wrapping_sub(1), index_u + 1, index_u ^ 2, random[0] % (size + 2), u64::MAX];
        for &s in &sizes {
            for &i in indices.iter().chain([index_u].iter()) {
                if (i, s) == (index_u, size) {
                    continue;
                }
                let accepted = verify_inclusion(i, s, &leaf, &proof, &root).is_ok();
                prop_assert_eq!(
                    accepted,
                    same_inclusion_shape(index_u, size, i, s),
                    "index {} size {} verified as index {} size {}", index_u, size, i, s
                );
            }
        }
    }

    #[test]
    fn consistency_proofs(
        (n, m0) in tree_and_index(),
        seed in any::<u64>(),
        random in prop::collection::vec(any::<u64>(), 8),
    ) {
        let d = entries(seed, n);
        let (m, new) = (m0 + 1, n as u64);
        let old = m as u64;
        let old_root = hash(&mth(&d[..m]));
        let new_root = hash(&mth(&d));
        let proof = hashes(&consistency(m, &d));

        // Honest.
        prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));

        // Any single-bit change of a proof hash or either root.
        for j in 0..proof.len() {
            for bit in 0..256 {
                let mut bad = proof.clone();
                bad[j] = flip(&bad[j], bit);
                prop_assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
            }
        }
        for bit in 0..256 {
            prop_assert!(verify_consistency(old, new, &flip(&old_root, bit), &new_root, &proof).is_err());
            prop_assert!(verify_consistency(old, new, &old_root, &flip(&new_root, bit), &proof).is_err());
        }

        // A hash too few or too many.
        if let Some((_, shorter)) = proof.split_last() {
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, shorter).is_err());
        }
        let mut longer = proof.clone();
        longer.push(old_root);
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &longer).is_err());

        // Swapped roots (a proof does not work backwards) when they differ.
        if old != new {
            prop_assert!(verify_consistency(old, new, &new_root, &old_root, &proof).is_err());
        }

        // Other (old, new) pairs: accepted exactly when the hash
        // computation is the true one; every other old size of the same new
        // tree is rejected unless old == new (then nothing is computed).
        for o in 0..=new + 1 {
            if o == old {
                continue;
            }
            let accepted = verify_consistency(o, new, &old_root, &new_root, &proof).is_ok();
            prop_assert_eq!(accepted, same_consistency_shape(old, new, o, new));
            prop_assert!(!accepted || old == new, "old {} accepted as {} (new {})", old, o, new);
        }
        let sizes = other_sizes(new, &random);
        let olds = other_sizes(old, &random);
        for &s in &sizes {
            for &o in olds.iter().chain([old].iter()) {
                if (o, s) == (old, new) {
                    continue;
                }
                let accepted = verify_consistency(o, s, &old_root, &new_root, &proof).is_ok();
                prop_assert_eq!(
                    accepted,
                    same_consistency_shape(old, new, o, s),
                    "{} -> {} verified as {} -> {}", old, new, o, s
                );
            }
        }
    }
}

// ---------------------------------------------------------------------
// Signed checkpoints.
// ---------------------------------------------------------------------

/// The three kinds of signature a Causeway checkpoint carries.
struct Signers {
    ecdsa: EcdsaSigner,
    ed25519: Ed25519Signer,
    witness: CosignatureSigner,
}

impl Signers {
    fn new(seed: u64, origin: &str) -> Self {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let name = KeyName::new(origin).expect("origin is a valid key name");
        Signers {
            ecdsa: EcdsaSigner::generate(name.clone(), &mut rng),
            ed25519: Ed25519Signer::generate(name, &mut rng),
            witness: CosignatureSigner::generate(
                KeyName::new("witness.example/w1").expect("name"),
                &mut rng,
            ),
        }
    }

    fn verifiers(&self) -> [VerifierKey; 3] {
        [
            self.ecdsa.verifier(),
            self.ed25519.verifier(),
            self.witness.verifier(),
        ]
    }

    /// The note of `body` signed by the signers `which` selects (0 ECDSA,
    /// 1 Ed25519, 2 cosignature).
    fn sign(&self, body: &str, which: &[usize], time: u64) -> Note {
        let mut note = Note::new(body).expect("checkpoint text is a valid note text");
        for &w in which {
            match w {
                0 => note.sign(&self.ecdsa).expect("sign"),
                1 => note.sign(&self.ed25519).expect("sign"),
                _ => note.push_signature(NoteSignature::new(
                    self.witness.name().clone(),
                    self.witness.key_id(),
                    self.witness.cosign(body, time),
                )),
            }
        }
        note
    }
}

fn verify_bytes(
    bytes: &[u8],
    known: &[&dyn NoteVerifier],
) -> Result<Vec<NoteSignature>, NoteError> {
    let note = Note::parse(bytes)?;
    let verified = note.verify(known)?;
    // A note that verifies is a checkpoint here; its body must parse.
    Checkpoint::parse(verified.text).expect("verified text is the signed checkpoint");
    Ok(verified.verified.into_iter().cloned().collect())
}

fn checkpoint() -> impl Strategy<Value = Checkpoint> {
    (
        "[a-z0-9]{1,12}\\.[a-z]{2,5}(/[a-z0-9_-]{1,10}){0,2}",
        any::<u64>(),
        any::<[u8; 32]>(),
        prop::collection::vec("[^\\p{Cc}\\p{Zl}\\p{Zp}]{1,24}", 0..3),
    )
        .prop_map(|(origin, size, root, ext)| {
            let mut text = Checkpoint::new(origin, size, Hash::from_bytes(root))
                .expect("origin")
                .to_text();
            for line in ext {
                text.push_str(&line);
                text.push('\n');
            }
            Checkpoint::parse(&text).expect("generated checkpoint parses")
        })
}

fn flip_byte(bytes: &[u8], at: usize, bit: u8) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 1 << bit;
    b
}

// Every case checks every bit of three or four notes, each flip costing a
// signature verification: a few cases suffice.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(5))]

    #[test]
    fn one_signature_notes_reject_every_bit_flip(
        cp in checkpoint(),
        seed in any::<u64>(),
        time in any::<u64>(),
    ) {
        let body = cp.to_text();
        let signers = Signers::new(seed, cp.origin());
        let verifiers = signers.verifiers();
        for which in 0..3 {
            let note = signers.sign(&body, &[which], time);
            let bytes = note.to_bytes();
            let known: [&dyn NoteVerifier; 1] = [&verifiers[which]];
            let all: Vec<&dyn NoteVerifier> = verifiers.iter().map(|v| v as &dyn NoteVerifier).collect();
            prop_assert_eq!(verify_bytes(&bytes, &known).map(|v| v.len()), Ok(1));
            for at in 0..bytes.len() {
                for bit in 0..8 {
                    let bad = flip_byte(&bytes, at, bit);
                    prop_assert!(verify_bytes(&bad, &known).is_err(), "signer {} byte {} bit {}", which, at, bit);
                    // With every key known, a changed name or key ID in the
                    // signature line must not select another key.
                    if at > body.len() {
                        prop_assert!(verify_bytes(&bad, &all).is_err(), "signer {} byte {} bit {}", which, at, bit);
                    }
                }
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]

    #[test]
    fn three_signature_notes_never_verify_a_flipped_signature(
        cp in checkpoint(),
        seed in any::<u64>(),
        time in any::<u64>(),
    ) {
        let body = cp.to_text();
        let signers = Signers::new(seed, cp.origin());
        let verifiers = signers.verifiers();
        let known: Vec<&dyn NoteVerifier> = verifiers.iter().map(|v| v as &dyn NoteVerifier).collect();
        let note = signers.sign(&body, &[0, 1, 2], time);
        let bytes = note.to_bytes();
        prop_assert_eq!(verify_bytes(&bytes, &known).map(|v| v.len()), Ok(3));

        // Byte level: a flip in the text (or the blank line after it)
        // always fails; a flip in a signature line leaves at most the other
        // two signatures verified, never a changed one.
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let bad = flip_byte(&bytes, at, bit);
                match verify_bytes(&bad, &known) {
                    Err(_) => {}
                    Ok(verified) => {
                        prop_assert!(at > body.len(), "text flip at byte {} bit {} verified", at, bit);
                        prop_assert!(verified.len() < 3);
                        for sig in &verified {
                            prop_assert!(note.signatures().contains(sig));
                        }
                    }
                }
            }
        }

        // Signature level: any bit of any signature's bytes (key ID
        // excluded) fails the whole note; any bit of a key ID makes that
        // signature one by an unknown key, so the note no longer verifies
        // with that key alone.
        for (k, sig) in note.signatures().iter().enumerate() {
            for bit in 0..sig.signature().len() * 8 {
                let mut s = sig.signature().to_vec();
                s[bit / 8] ^= 1 << (bit % 8);
                let mut bad = Note::new(body.clone()).expect("text");
                for (j, other) in note.signatures().iter().enumerate() {
                    bad.push_signature(if j == k {
                        NoteSignature::new(sig.name().clone(), sig.key_id(), s.clone())
                    } else {
                        other.clone()
                    });
                }
                let result = bad.verify(&known).map(|v| v.verified.len());
                let is_invalid_signature = matches!(result, Err(NoteError::InvalidSignature { .. }));
                prop_assert!(is_invalid_signature, "signature {} bit {}: {:?}", k, bit, result);
                // And it survives printing and parsing unchanged.
                prop_assert_eq!(Note::parse(&bad.to_bytes()), Ok(bad));
            }
            for bit in 0..32 {
                let mut bad = Note::new(body.clone()).expect("text");
                bad.push_signature(NoteSignature::new(
                    sig.name().clone(),
                    sig.key_id() ^ (1 << bit),
                    sig.signature().to_vec(),
                ));
                let only: [&dyn NoteVerifier; 1] = [&verifiers[k]];
                let result = bad.verify(&only).map(|v| v.verified.len());
                let no_known = matches!(result, Err(NoteError::NoKnownSignature(_)));
                prop_assert!(no_known, "signature {} key ID bit {}: {:?}", k, bit, result);
            }
        }

        // The base64 of a signature line never decodes two ways: the
        // printed note is canonical.
        for sig in note.signatures() {
            let line = sig.to_line();
            let b64 = line.trim_end().rsplit(' ').next().expect("base64");
            prop_assert_eq!(BASE64.encode(BASE64.decode(b64).expect("base64")), b64);
        }
    }
}
