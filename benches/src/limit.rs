//! The ceiling of record verification on this machine: ECDSA P-256
//! verifications per second on every core, with the implementation
//! `causeway-records` verifies envelopes with (`ring`'s assembly P-256, on
//! the point from the key's SPKI; see `verify_p256` there). Both the audit
//! and records admission verify one such signature per record, so neither
//! can beat it. The portable `p256` crate, which `causeway-records` signs
//! with, can be measured too, for comparison.

use std::time::{Duration, Instant};

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};

/// About the size of a signed action envelope's payload.
pub const MESSAGE_BYTES: usize = 300;

/// Distinct messages each thread cycles through, so no verification is a
/// repeat of the one before it.
const MESSAGES: usize = 64;

/// Which P-256 implementation verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// `ring` 0.17, as `causeway-records` verifies: the limit.
    Ring,
    /// The RustCrypto `p256` crate's portable arithmetic.
    P256Crate,
}

impl Implementation {
    fn label(self) -> &'static str {
        match self {
            Implementation::Ring => "ring, as causeway-records verifies: the limit",
            Implementation::P256Crate => "p256 crate, portable (for comparison)",
        }
    }
}

/// What [`verify_limit`] measured.
#[derive(Clone, Copy, Debug)]
pub struct VerifyLimit {
    /// The implementation measured.
    pub implementation: Implementation,
    /// Verifications per second, all threads together.
    pub per_second: f64,
    /// Threads run: one per core.
    pub threads: usize,
}

impl VerifyLimit {
    /// The markdown row of the figure, for the benchmarks' tables.
    pub fn row(&self) -> String {
        format!(
            "| ECDSA P-256 verifications/s, {} threads ({}, {MESSAGE_BYTES}-byte messages) | {:.0} |",
            self.threads,
            self.implementation.label(),
            self.per_second
        )
    }
}

/// Verifies real DER signatures over [`MESSAGE_BYTES`]-byte messages on
/// one thread per core for `window`, and counts.
///
/// # Errors
/// If the core count is unknown, or a signature made here does not verify
/// (which would make the figure meaningless).
pub fn verify_limit(
    implementation: Implementation,
    window: Duration,
) -> anyhow::Result<VerifyLimit> {
    let threads = std::thread::available_parallelism()?.get();
    let counts = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || verify_for(implementation, t, window)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a verifier thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<(u64, Duration)>>>()
    })?;
    let per_second = counts
        .iter()
        .map(|(n, took)| *n as f64 / took.as_secs_f64())
        .sum();
    Ok(VerifyLimit {
        implementation,
        per_second,
        threads,
    })
}

/// One thread's count: its own key and messages, verified until `window`
/// has passed.
fn verify_for(
    implementation: Implementation,
    thread: usize,
    window: Duration,
) -> anyhow::Result<(u64, Duration)> {
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let verifying = VerifyingKey::from(&key);
    // The uncompressed point, as causeway-records hands it to ring.
    let point = verifying.to_encoded_point(false);
    let ring_key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        point.as_bytes(),
    );
    let signed: Vec<(Vec<u8>, DerSignature)> = (0..MESSAGES)
        .map(|i| {
            let message: Vec<u8> = (0..MESSAGE_BYTES).map(|b| (b ^ i ^ thread) as u8).collect();
            let signature: DerSignature = key.sign(&message);
            (message, signature)
        })
        .collect();
    let verify = |message: &[u8], signature: &DerSignature| -> bool {
        match implementation {
            Implementation::Ring => ring_key.verify(message, signature.as_bytes()).is_ok(),
            Implementation::P256Crate => {
                use p256::ecdsa::signature::Verifier as _;
                verifying.verify(message, signature).is_ok()
            }
        }
    };
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < window {
        for (message, signature) in &signed {
            if !verify(message, signature) {
                anyhow::bail!("a signature made here did not verify");
            }
        }
        n += signed.len() as u64;
    }
    Ok((n, started.elapsed()))
}
