//! Signature types of C2SP signed notes, and the vkey text format
//! `<name>+<8 hex key ID>+<base64(type ‖ public key)>`.
//!
//! | type | what | key ID | signs |
//! |---|---|---|---|
//! | 0x01 | Ed25519 | `SHA-256(name ‖ \n ‖ 0x01 ‖ key)[:4]` | the note text |
//! | 0x02 | ECDSA P-256, as transparency-dev/formats | `SHA-256(DER SPKI)[:4]` | DER ECDSA over `SHA-256(text)` |
//! | 0x04 | cosignature/v1 (c2sp.org/tlog-cosignature) | like 0x01 | `cosignature/v1\ntime T\n` ‖ text |
//! | 0x05 | RFC 6962 tree head (c2sp.org/static-ct-api), verify only | `SHA-256(name ‖ \n ‖ 0x05 ‖ SHA-256(SPKI))[:4]` | a TLS `TreeHeadSignature` |
//!
//! Causeway logs sign with 0x02 and 0x01; witnesses cosign with 0x04.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _, LineEnding};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::checkpoint::Checkpoint;

/// Why a key could not be parsed, loaded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key name is empty or contains spaces or `+`.
    #[error("invalid key name {0:?}: it must be non-empty, without spaces or '+'")]
    InvalidName(String),
    /// The vkey is not `<name>+<hex id>+<base64>`.
    #[error("malformed verifier key {0:?}: expected <name>+<8 hex digits>+<base64>")]
    MalformedVkey(String),
    /// The vkey names a signature type this code does not know.
    #[error("unsupported signature type {0:#04x}")]
    UnsupportedType(u8),
    /// The public key bytes are not a valid key of the type.
    #[error("invalid {kind} public key")]
    InvalidPublicKey {
        /// The key type.
        kind: &'static str,
    },
    /// The vkey's key ID does not match its name and key.
    #[error("key ID {given:08x} does not match the key (computed {computed:08x})")]
    KeyIdMismatch {
        /// The ID written in the vkey.
        given: u32,
        /// The ID computed from name and key.
        computed: u32,
    },
    /// A private key could not be read or written.
    #[error("private key: {0}")]
    PrivateKey(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// A checked key name: non-empty, no Unicode spaces, no `+`, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    /// Checks and wraps a key name.
    ///
    /// # Errors
    /// [`KeyError::InvalidName`] for an empty name or one containing spaces,
    /// `+` or control characters.
    pub fn new(name: impl Into<String>) -> Result<Self, KeyError> {
        let name = name.into();
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || c == '+' || c.is_control())
        {
            return Err(KeyError::InvalidName(name));
        }
        Ok(KeyName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The signature type byte of a note key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SignatureType {
    /// Ed25519 over the note text.
    Ed25519 = 0x01,
    /// ECDSA P-256 as implemented by transparency-dev.
    Ecdsa = 0x02,
    /// Timestamped Ed25519 witness cosignature (cosignature/v1).
    Cosignature = 0x04,
    /// RFC 6962 `TreeHeadSignature` (static-ct-api).
    Rfc6962 = 0x05,
}

impl TryFrom<u8> for SignatureType {
    type Error = KeyError;

    fn try_from(b: u8) -> Result<Self, KeyError> {
        match b {
            0x01 => Ok(SignatureType::Ed25519),
            0x02 => Ok(SignatureType::Ecdsa),
            0x04 => Ok(SignatureType::Cosignature),
            0x05 => Ok(SignatureType::Rfc6962),
            other => Err(KeyError::UnsupportedType(other)),
        }
    }
}

/// Something that can check a note signature.
pub trait NoteVerifier: Send + Sync {
    /// The key's name.
    fn name(&self) -> &KeyName;
    /// The key's ID.
    fn key_id(&self) -> u32;
    /// Whether `signature` (without the key ID) is valid over the note text.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool;
}

/// Something that can sign a note.
pub trait NoteSigner: Send + Sync {
    /// The key's name.
    fn name(&self) -> &KeyName;
    /// The key's ID.
    fn key_id(&self) -> u32;
    /// Signs the note text; the result excludes the key ID.
    ///
    /// # Errors
    /// If the underlying signature operation fails.
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, KeyError>;
}

/// The recommended key ID: `SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]`.
fn standard_key_id(name: &KeyName, kind: SignatureType, key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_str().as_bytes());
    h.update(b"\n");
    h.update([kind as u8]);
    h.update(key);
    first_four(&h.finalize())
}

fn first_four(digest: &[u8]) -> u32 {
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// A parsed verifier key (vkey) of any supported type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: KeyName,
    key_id: u32,
    kind: SignatureType,
    material: KeyMaterial,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyMaterial {
    Ed25519(ed25519_dalek::VerifyingKey),
    Ecdsa {
        key: p256::ecdsa::VerifyingKey,
        spki: Vec<u8>,
    },
}

impl VerifierKey {
    /// Parses `<name>+<hex key ID>+<base64(type ‖ key)>`, checking that the
    /// key ID matches.
    ///
    /// # Errors
    /// Any [`KeyError`] describing the problem.
    pub fn parse(vkey: &str) -> Result<Self, KeyError> {
        let malformed = || KeyError::MalformedVkey(vkey.to_owned());
        // Names cannot hold '+', but base64 can: split twice only.
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed());
        };
        let name = KeyName::new(name)?;
        if id.len() != 8 {
            return Err(malformed());
        }
        let given = u32::from_str_radix(id, 16).map_err(|_| malformed())?;
        let blob = BASE64.decode(b64).map_err(|_| malformed())?;
        let (&kind, key) = blob.split_first().ok_or_else(malformed)?;
        let kind = SignatureType::try_from(kind)?;
        let (material, computed) = match kind {
            SignatureType::Ed25519 | SignatureType::Cosignature => {
                let bytes: &[u8; 32] = key
                    .try_into()
                    .map_err(|_| KeyError::InvalidPublicKey { kind: "Ed25519" })?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(bytes)
                    .map_err(|_| KeyError::InvalidPublicKey { kind: "Ed25519" })?;
                (KeyMaterial::Ed25519(vk), standard_key_id(&name, kind, key))
            }
            SignatureType::Ecdsa => {
                let vk = ecdsa_from_spki(key)?;
                let id = first_four(&Sha256::digest(key));
                (
                    KeyMaterial::Ecdsa {
                        key: vk,
                        spki: key.to_vec(),
                    },
                    id,
                )
            }
            SignatureType::Rfc6962 => {
                let vk = ecdsa_from_spki(key)?;
                let log_id = Sha256::digest(key);
                let id = standard_key_id(&name, kind, &log_id);
                (
                    KeyMaterial::Ecdsa {
                        key: vk,
                        spki: key.to_vec(),
                    },
                    id,
                )
            }
        };
        if given != computed {
            return Err(KeyError::KeyIdMismatch { given, computed });
        }
        Ok(VerifierKey {
            name,
            key_id: computed,
            kind,
            material,
        })
    }

    /// The signature type.
    pub fn kind(&self) -> SignatureType {
        self.kind
    }

    /// The public key bytes as they appear in the vkey, after the type byte.
    pub fn public_key_bytes(&self) -> Vec<u8> {
        match &self.material {
            KeyMaterial::Ed25519(vk) => vk.to_bytes().to_vec(),
            KeyMaterial::Ecdsa { spki, .. } => spki.clone(),
        }
    }

    /// For a cosignature key, the timestamp carried in a signature.
    pub fn cosignature_time(signature: &[u8]) -> Option<u64> {
        let ts: [u8; 8] = signature.get(..8)?.try_into().ok()?;
        Some(u64::from_be_bytes(ts))
    }
}

fn ecdsa_from_spki(spki: &[u8]) -> Result<p256::ecdsa::VerifyingKey, KeyError> {
    p256::ecdsa::VerifyingKey::from_public_key_der(spki).map_err(|_| KeyError::InvalidPublicKey {
        kind: "ECDSA P-256",
    })
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut blob = vec![self.kind as u8];
        blob.extend(self.public_key_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(blob)
        )
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        VerifierKey::parse(s)
    }
}

impl NoteVerifier for VerifierKey {
    fn name(&self) -> &KeyName {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        match (&self.kind, &self.material) {
            (SignatureType::Ed25519, KeyMaterial::Ed25519(vk)) => {
                verify_ed25519(vk, text, signature)
            }
            (SignatureType::Cosignature, KeyMaterial::Ed25519(vk)) => {
                let Some(time) = Self::cosignature_time(signature) else {
                    return false;
                };
                let Ok(text) = std::str::from_utf8(text) else {
                    return false;
                };
                let message = cosignature_message(time, text);
                verify_ed25519(vk, message.as_bytes(), &signature[8..])
            }
            (SignatureType::Ecdsa, KeyMaterial::Ecdsa { key, .. }) => {
                verify_ecdsa_der(key, text, signature)
            }
            (SignatureType::Rfc6962, KeyMaterial::Ecdsa { key, .. }) => {
                verify_rfc6962_tree_head(key, &self.name, text, signature)
            }
            _ => false,
        }
    }
}

fn verify_ed25519(vk: &ed25519_dalek::VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
        return false;
    };
    vk.verify_strict(msg, &sig).is_ok()
}

fn verify_ecdsa_der(vk: &p256::ecdsa::VerifyingKey, msg: &[u8], der: &[u8]) -> bool {
    let Ok(sig) = p256::ecdsa::Signature::from_der(der) else {
        return false;
    };
    vk.verify(msg, &sig).is_ok()
}

/// The message a cosignature/v1 signature covers:
/// `cosignature/v1\ntime <T>\n` followed by the checkpoint body.
pub fn cosignature_message(time: u64, checkpoint_body: &str) -> String {
    format!("cosignature/v1\ntime {time}\n{checkpoint_body}")
}

/// Verifies a static-ct-api note signature: `u64 timestamp ‖
/// DigitallySigned{sha256, ecdsa, u16 length, DER signature}` over the TLS
/// `TreeHeadSignature` of the checkpoint's size and root. That signature
/// does not cover the origin, so the origin must equal the key name.
fn verify_rfc6962_tree_head(
    vk: &p256::ecdsa::VerifyingKey,
    name: &KeyName,
    text: &[u8],
    sig: &[u8],
) -> bool {
    let Ok(text) = std::str::from_utf8(text) else {
        return false;
    };
    let Ok(checkpoint) = Checkpoint::parse(text) else {
        return false;
    };
    if checkpoint.origin() != name.as_str() {
        return false;
    }
    if sig.len() < 12 || sig[8] != 4 || sig[9] != 3 {
        return false; // hash algorithm must be sha256 (4), signature ecdsa (3)
    }
    let len = usize::from(u16::from_be_bytes([sig[10], sig[11]]));
    if sig.len() != 12 + len {
        return false;
    }
    let mut signed = Vec::with_capacity(50);
    signed.push(0); // version v1
    signed.push(1); // signature type tree_hash
    signed.extend_from_slice(&sig[..8]);
    signed.extend_from_slice(&checkpoint.size().to_be_bytes());
    signed.extend_from_slice(checkpoint.root().as_bytes());
    verify_ecdsa_der(vk, &signed, &sig[12..])
}

fn ed25519_from_pem(pem: &str) -> Result<ed25519_dalek::SigningKey, KeyError> {
    ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
        .map_err(|e| KeyError::PrivateKey(format!("not an Ed25519 PKCS#8 PEM key: {e}")))
}

fn ed25519_to_pem(key: &ed25519_dalek::SigningKey) -> Result<String, KeyError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| KeyError::PrivateKey(e.to_string()))
}

/// An Ed25519 note signer (type 0x01).
pub struct Ed25519Signer {
    name: KeyName,
    key_id: u32,
    key: ed25519_dalek::SigningKey,
}

impl Ed25519Signer {
    /// A new random key.
    pub fn generate(name: KeyName, rng: &mut (impl CryptoRng + RngCore)) -> Self {
        Self::from_key(name, ed25519_dalek::SigningKey::generate(rng))
    }

    fn from_key(name: KeyName, key: ed25519_dalek::SigningKey) -> Self {
        let key_id = standard_key_id(
            &name,
            SignatureType::Ed25519,
            key.verifying_key().as_bytes(),
        );
        Ed25519Signer { name, key_id, key }
    }

    /// Loads a PKCS#8 PEM private key.
    ///
    /// # Errors
    /// If the PEM is not an Ed25519 PKCS#8 key.
    pub fn from_pkcs8_pem(name: KeyName, pem: &str) -> Result<Self, KeyError> {
        Ok(Self::from_key(name, ed25519_from_pem(pem)?))
    }

    /// The private key as PKCS#8 PEM.
    ///
    /// # Errors
    /// If encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        ed25519_to_pem(&self.key)
    }

    /// Parses a Go `sumdb/note` private key,
    /// `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ 32-byte seed)>`.
    ///
    /// # Errors
    /// If the text is not such a key or its ID does not match.
    pub fn from_skey(skey: &str) -> Result<Self, KeyError> {
        let malformed = || KeyError::PrivateKey("malformed PRIVATE+KEY string".into());
        let rest = skey
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(malformed)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed());
        };
        let name = KeyName::new(name)?;
        let given = u32::from_str_radix(id, 16).map_err(|_| malformed())?;
        let blob = BASE64.decode(b64).map_err(|_| malformed())?;
        let (Some(&0x01), Ok(seed)) = (blob.first(), <[u8; 32]>::try_from(&blob[1..])) else {
            return Err(malformed());
        };
        let signer = Self::from_key(name, ed25519_dalek::SigningKey::from_bytes(&seed));
        if signer.key_id != given {
            return Err(KeyError::KeyIdMismatch {
                given,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            kind: SignatureType::Ed25519,
            material: KeyMaterial::Ed25519(self.key.verifying_key()),
        }
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &KeyName {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, KeyError> {
        use ed25519_dalek::Signer as _;
        Ok(self.key.sign(text).to_bytes().to_vec())
    }
}

/// An ECDSA P-256 note signer (type 0x02): DER signatures over SHA-256 of
/// the text, key ID from the DER SPKI, as transparency-dev/formats.
pub struct EcdsaSigner {
    name: KeyName,
    key_id: u32,
    key: p256::ecdsa::SigningKey,
    spki: Vec<u8>,
}

impl EcdsaSigner {
    /// A new random key.
    pub fn generate(name: KeyName, rng: &mut (impl CryptoRng + RngCore)) -> Self {
        Self::from_key(name, p256::ecdsa::SigningKey::random(rng))
    }

    fn from_key(name: KeyName, key: p256::ecdsa::SigningKey) -> Self {
        let spki = key
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        let key_id = first_four(&Sha256::digest(&spki));
        EcdsaSigner {
            name,
            key_id,
            key,
            spki,
        }
    }

    /// Loads a PKCS#8 PEM private key.
    ///
    /// # Errors
    /// If the PEM is not a P-256 PKCS#8 key.
    pub fn from_pkcs8_pem(name: KeyName, pem: &str) -> Result<Self, KeyError> {
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| KeyError::PrivateKey(format!("not an ECDSA P-256 PKCS#8 PEM key: {e}")))?;
        Ok(Self::from_key(name, key))
    }

    /// The private key as PKCS#8 PEM.
    ///
    /// # Errors
    /// If encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        use p256::pkcs8::EncodePrivateKey as _;
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| KeyError::PrivateKey(e.to_string()))
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            kind: SignatureType::Ecdsa,
            material: KeyMaterial::Ecdsa {
                key: *self.key.verifying_key(),
                spki: self.spki.clone(),
            },
        }
    }
}

impl NoteSigner for EcdsaSigner {
    fn name(&self) -> &KeyName {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, KeyError> {
        let sig: p256::ecdsa::Signature = self
            .key
            .try_sign(text)
            .map_err(|e| KeyError::Signing(e.to_string()))?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

/// A witness key: Ed25519 signing C2SP cosignature/v1 (type 0x04).
///
/// A cosignature covers a timestamp as well as the checkpoint, so unlike
/// [`NoteSigner`] the caller passes the time: this crate reads no clocks.
pub struct CosignatureSigner {
    name: KeyName,
    key_id: u32,
    key: ed25519_dalek::SigningKey,
}

impl CosignatureSigner {
    /// A new random key.
    pub fn generate(name: KeyName, rng: &mut (impl CryptoRng + RngCore)) -> Self {
        Self::from_key(name, ed25519_dalek::SigningKey::generate(rng))
    }

    fn from_key(name: KeyName, key: ed25519_dalek::SigningKey) -> Self {
        let key_id = standard_key_id(
            &name,
            SignatureType::Cosignature,
            key.verifying_key().as_bytes(),
        );
        CosignatureSigner { name, key_id, key }
    }

    /// Loads a PKCS#8 PEM Ed25519 private key.
    ///
    /// # Errors
    /// If the PEM is not an Ed25519 PKCS#8 key.
    pub fn from_pkcs8_pem(name: KeyName, pem: &str) -> Result<Self, KeyError> {
        Ok(Self::from_key(name, ed25519_from_pem(pem)?))
    }

    /// The private key as PKCS#8 PEM.
    ///
    /// # Errors
    /// If encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        ed25519_to_pem(&self.key)
    }

    /// The key's name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key's ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier key (type 0x04).
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            kind: SignatureType::Cosignature,
            material: KeyMaterial::Ed25519(self.key.verifying_key()),
        }
    }

    /// Cosigns a checkpoint body at POSIX time `time` (seconds). The result
    /// is the signature payload after the key ID: `u64 time ‖ Ed25519 sig`.
    pub fn cosign(&self, checkpoint_body: &str, time: u64) -> Vec<u8> {
        use ed25519_dalek::Signer as _;
        let message = cosignature_message(time, checkpoint_body);
        let mut out = Vec::with_capacity(72);
        out.extend_from_slice(&time.to_be_bytes());
        out.extend_from_slice(&self.key.sign(message.as_bytes()).to_bytes());
        out
    }
}
