//! Producer keys: ECDSA P-256 signing keys ([`ProducerKey`]), the public
//! keys of producers and sessions ([`PublicKey`]), and key IDs
//! ([`key_id`]: lowercase hex SHA-256 of the DER SubjectPublicKeyInfo).
//!
//! Public keys must be the canonical DER SPKI (`id-ecPublicKey`,
//! `prime256v1`, uncompressed point), the form `openssl pkey -pubout
//! -outform DER` writes, so that one key has one key ID.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
    LineEnding,
};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::RecordError;
use causeway_tlog::merkle::Hash;

/// The key ID of a public key: lowercase hex SHA-256 of its DER
/// SubjectPublicKeyInfo.
pub fn key_id(spki_der: &[u8]) -> String {
    Hash::from_bytes(Sha256::digest(spki_der).into()).to_hex()
}

/// An ECDSA P-256 public key, held as its canonical DER
/// SubjectPublicKeyInfo. Valid once built. JSON: standard base64 of the
/// DER.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    spki: Vec<u8>,
}

impl PublicKey {
    /// Checks and wraps a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// [`RecordError::InvalidKey`] if it is not an ECDSA P-256 key or not
    /// in canonical form (for example a compressed point).
    pub fn from_spki_der(spki: &[u8]) -> Result<Self, RecordError> {
        let key = verifying_key(spki)?;
        let canonical = spki_of(&key);
        if canonical != spki {
            return Err(RecordError::InvalidKey(String::from(
                "an ECDSA P-256 key, but not in canonical DER SubjectPublicKeyInfo form \
                 (uncompressed point, as `openssl pkey -pubout -outform DER` writes)",
            )));
        }
        Ok(PublicKey {
            spki: spki.to_vec(),
        })
    }

    /// Parses standard base64 (with padding) of a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// [`RecordError::InvalidKey`] for invalid base64 or an invalid key.
    pub fn from_base64(text: &str) -> Result<Self, RecordError> {
        let der = BASE64.decode(text).map_err(|e| {
            RecordError::InvalidKey(format!(
                "not standard base64 of a DER SubjectPublicKeyInfo ({e})"
            ))
        })?;
        Self::from_spki_der(&der)
    }

    /// Standard base64 of the DER SubjectPublicKeyInfo.
    pub fn to_base64(&self) -> String {
        BASE64.encode(&self.spki)
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The key ID, [`key_id`] of the SPKI.
    pub fn key_id(&self) -> String {
        key_id(&self.spki)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        PublicKey::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

/// The canonical DER SPKI of a verifying key.
fn spki_of(key: &p256::ecdsa::VerifyingKey) -> Vec<u8> {
    // Encoding a valid P-256 point into an SPKI cannot fail.
    key.to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Parses a DER SPKI as an ECDSA P-256 verifying key (canonical or not).
pub(crate) fn verifying_key(spki: &[u8]) -> Result<p256::ecdsa::VerifyingKey, RecordError> {
    p256::ecdsa::VerifyingKey::from_public_key_der(spki).map_err(|e| {
        RecordError::InvalidKey(format!(
            "not a DER SubjectPublicKeyInfo of an ECDSA P-256 key ({e})"
        ))
    })
}

/// The DER prefix of every canonical P-256 SubjectPublicKeyInfo
/// (id-ecPublicKey, prime256v1, a 66-byte BIT STRING); the uncompressed
/// point `04 ‖ X ‖ Y` follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Verifies a DER ECDSA P-256 signature over SHA-256 of `message` with the
/// key in a canonical SPKI.
///
/// Verification is the log's hot path (every record at admission, every
/// record again in an audit), so it uses `ring`'s assembly-optimised P-256,
/// several times faster than the portable implementation, on the point
/// taken straight from the SPKI (ring checks that it is on the curve).
///
/// # Errors
/// If `spki` is not a canonical P-256 SubjectPublicKeyInfo.
pub(crate) fn verify_p256(
    spki: &[u8],
    message: &[u8],
    der_sig: &[u8],
) -> Result<bool, RecordError> {
    let point = spki
        .strip_prefix(&P256_SPKI_PREFIX[..])
        .filter(|p| p.len() == 65 && p[0] == 0x04)
        .ok_or_else(|| {
            RecordError::InvalidKey(
                "not a canonical DER SubjectPublicKeyInfo of an uncompressed ECDSA P-256 key"
                    .into(),
            )
        })?;
    Ok(
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point)
            .verify(message, der_sig)
            .is_ok(),
    )
}

/// A producer's ECDSA P-256 signing key: a human approver's, an issuer's,
/// a verifier's, a gate's, or a session key.
pub struct ProducerKey {
    key: p256::ecdsa::SigningKey,
    spki: Vec<u8>,
}

impl ProducerKey {
    /// A new random key.
    pub fn generate(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        Self::from_key(p256::ecdsa::SigningKey::random(rng))
    }

    fn from_key(key: p256::ecdsa::SigningKey) -> Self {
        let spki = spki_of(key.verifying_key());
        ProducerKey { key, spki }
    }

    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`), as
    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`
    /// writes.
    ///
    /// # Errors
    /// [`RecordError::PrivateKey`] if the PEM is not a P-256 PKCS#8 key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, RecordError> {
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem).map_err(|e| {
            RecordError::PrivateKey(format!("not an ECDSA P-256 PKCS#8 PEM private key: {e}"))
        })?;
        Ok(Self::from_key(key))
    }

    /// The private key as PKCS#8 PEM.
    ///
    /// # Errors
    /// [`RecordError::PrivateKey`] if encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<String, RecordError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| RecordError::PrivateKey(e.to_string()))
    }

    /// The public key's DER SubjectPublicKeyInfo.
    pub fn public_spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            spki: self.spki.clone(),
        }
    }

    /// The key ID: lowercase hex SHA-256 of the DER SPKI.
    pub fn key_id(&self) -> String {
        key_id(&self.spki)
    }

    /// A DER ECDSA signature over SHA-256 of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        sig.to_der().as_bytes().to_vec()
    }
}

impl fmt::Debug for ProducerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProducerKey({})", self.key_id())
    }
}
