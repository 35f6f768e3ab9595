//! C2SP signed notes (<https://c2sp.org/signed-note>).
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one or more
//! signature lines `— <key name> <base64(key ID ‖ signature)>`. This module
//! parses and prints notes exactly; [`keys`] holds the signature types.
//!
//! Verification follows the spec's rules: signatures from unknown
//! (name, key ID) pairs are ignored, a known key's failing signature
//! rejects the whole note, and a note with no verified signature from a
//! known key is rejected.

pub mod keys;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub use keys::{
    CosignatureSigner, EcdsaSigner, Ed25519Signer, KeyError, KeyName, NoteSigner, NoteVerifier,
    SignatureType, VerifierKey,
};

/// The em dash (U+2014) and space that start every signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a note was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than [`Note::MAX_SIZE`].
    #[error("note is {0} bytes, more than the {max} allowed", max = Note::MAX_SIZE)]
    TooLarge(usize),
    /// The note has more than [`Note::MAX_SIGNATURES`] signatures.
    #[error("note has more than {max} signatures", max = Note::MAX_SIGNATURES)]
    TooManySignatures,
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8")]
    NotUtf8,
    /// The note contains a control character other than newline.
    #[error("note contains the control character {0:#04x}")]
    ControlCharacter(u8),
    /// The note text is empty or does not end in a newline.
    #[error("note text must be non-empty and end with a newline")]
    TextNotTerminated,
    /// There is no blank line followed by signature lines.
    #[error("note has no signatures (expected a blank line, then lines starting with \"— \")")]
    NoSignatures,
    /// A signature line is not `— <name> <base64>`.
    #[error("malformed signature line {0:?}")]
    MalformedSignature(String),
    /// A known key's signature did not verify.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key's ID.
        key_id: u32,
    },
    /// None of the signatures is from a known key.
    #[error("no signature from a known key (the note is signed by: {0})")]
    NoKnownSignature(String),
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    name: KeyName,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature by the key `(name, key_id)`. `signature` excludes the key ID.
    pub fn new(name: KeyName, key_id: u32, signature: Vec<u8>) -> Self {
        NoteSignature {
            name,
            key_id,
            signature,
        }
    }

    /// The signing key's name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The signing key's ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The signature line, `— <name> <base64(key ID ‖ signature)>\n`.
    pub fn to_line(&self) -> String {
        let mut blob = Vec::with_capacity(4 + self.signature.len());
        blob.extend_from_slice(&self.key_id.to_be_bytes());
        blob.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, BASE64.encode(blob))
    }

    fn parse_line(line: &str) -> Result<Self, NoteError> {
        let malformed = || NoteError::MalformedSignature(line.to_owned());
        let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(malformed)?;
        let (name, b64) = rest.split_once(' ').ok_or_else(malformed)?;
        let name = KeyName::new(name).map_err(|_| malformed())?;
        let blob = BASE64.decode(b64).map_err(|_| malformed())?;
        if blob.len() < 5 {
            return Err(malformed());
        }
        let key_id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        Ok(NoteSignature {
            name,
            key_id,
            signature: blob[4..].to_vec(),
        })
    }
}

/// A signed note: text plus signatures, well-formed by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// The outcome of [`Note::verify`]: which signatures verified.
#[derive(Debug)]
pub struct VerifiedNote<'a> {
    /// The verified text.
    pub text: &'a str,
    /// Signatures from known keys, all verified.
    pub verified: Vec<&'a NoteSignature>,
    /// Signatures from keys the caller did not know, ignored.
    pub unverified: Vec<&'a NoteSignature>,
}

impl Note {
    /// The largest note accepted, signatures included. Generous enough for
    /// 16 post-quantum signatures, small enough to parse without worry.
    pub const MAX_SIZE: usize = 1 << 20;
    /// The most signatures accepted (the spec requires at least 16).
    pub const MAX_SIGNATURES: usize = 256;

    /// An unsigned note with the given text.
    ///
    /// # Errors
    /// If the text is empty, does not end in a newline, or contains control
    /// characters other than newline.
    pub fn new(text: impl Into<String>) -> Result<Self, NoteError> {
        let text = text.into();
        check_text(&text)?;
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note.
    ///
    /// # Errors
    /// Any structural problem: size, encoding, control characters, missing
    /// or malformed signature lines.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > Self::MAX_SIZE {
            return Err(NoteError::TooLarge(bytes.len()));
        }
        let all = std::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
        check_characters(all)?;
        // The text ends at the last blank line; it keeps its final newline.
        let split = all.rfind("\n\n").ok_or(NoteError::NoSignatures)?;
        let (text, sigs) = (&all[..split + 1], &all[split + 2..]);
        check_text(text)?;
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if !sigs.ends_with('\n') {
            return Err(NoteError::MalformedSignature(
                sigs.rsplit('\n').next().unwrap_or_default().to_owned(),
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() == Self::MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line.
    pub fn push_signature(&mut self, signature: NoteSignature) {
        self.signatures.push(signature);
    }

    /// Signs the text with `signer` and appends the signature.
    ///
    /// # Errors
    /// If the signer fails.
    pub fn sign(&mut self, signer: &dyn NoteSigner) -> Result<(), KeyError> {
        let sig = signer.sign(self.text.as_bytes())?;
        self.signatures.push(NoteSignature::new(
            signer.name().clone(),
            signer.key_id(),
            sig,
        ));
        Ok(())
    }

    /// Verifies the note against the keys the caller knows.
    ///
    /// # Errors
    /// [`NoteError::InvalidSignature`] if a known key's signature fails;
    /// [`NoteError::NoKnownSignature`] if no known key signed.
    pub fn verify<'a>(
        &'a self,
        known: &[&dyn NoteVerifier],
    ) -> Result<VerifiedNote<'a>, NoteError> {
        let mut verified = Vec::new();
        let mut unverified = Vec::new();
        for sig in &self.signatures {
            let key = known
                .iter()
                .find(|k| k.name() == sig.name() && k.key_id() == sig.key_id());
            match key {
                None => unverified.push(sig),
                Some(k) if k.verify(self.text.as_bytes(), sig.signature()) => verified.push(sig),
                Some(_) => {
                    return Err(NoteError::InvalidSignature {
                        name: sig.name().to_string(),
                        key_id: sig.key_id(),
                    });
                }
            }
        }
        if verified.is_empty() {
            let signers: Vec<String> = self
                .signatures
                .iter()
                .map(|s| format!("{}+{:08x}", s.name(), s.key_id()))
                .collect();
            return Err(NoteError::NoKnownSignature(signers.join(", ")));
        }
        Ok(VerifiedNote {
            text: &self.text,
            verified,
            unverified,
        })
    }

    /// The note as bytes, exactly as it travels.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            f.write_str(&sig.to_line())?;
        }
        Ok(())
    }
}

fn check_characters(s: &str) -> Result<(), NoteError> {
    match s.bytes().find(|&b| b < 0x20 && b != b'\n') {
        Some(b) => Err(NoteError::ControlCharacter(b)),
        None => Ok(()),
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    check_characters(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotTerminated);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
