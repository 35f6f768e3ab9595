//! RFC 6962 §2.1 hashing: `leaf = SHA-256(0x00 ‖ entry)`,
//! `node = SHA-256(0x01 ‖ left ‖ right)`, empty tree = `SHA-256("")`.

use std::fmt;

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf, an interior node or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash([u8; 32]);

/// The root of the empty tree, `SHA-256("")`.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// A byte string that should have been a 32-byte hash but was not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a hash must be 32 bytes, got {0}")]
pub struct HashLengthError(pub usize);

impl Hash {
    /// The number of bytes in a hash.
    pub const LEN: usize = 32;

    /// Wraps 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, as used in every JSON output of Causeway.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        s
    }

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    /// [`ParseHashError`] if the text is not exactly 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, ParseHashError> {
        let text = text.as_bytes();
        if text.len() != 64 {
            return Err(ParseHashError);
        }
        let mut out = [0u8; 32];
        for (i, pair) in text.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16).ok_or(ParseHashError)?;
            let lo = (pair[1] as char).to_digit(16).ok_or(ParseHashError)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Ok(Hash(out))
    }
}

/// Text that is not 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a hash must be 64 hexadecimal digits")]
pub struct ParseHashError;

impl TryFrom<&[u8]> for Hash {
    type Error = HashLengthError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashLengthError(bytes.len()))
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The RFC 6962 leaf hash of an entry: `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// The RFC 6962 hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT.0, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()), Ok(h));
        assert!(Hash::from_hex(&h.to_hex()[1..]).is_err());
        assert!(Hash::from_hex(&format!("{}0", h.to_hex())).is_err());
        assert!(Hash::from_hex(&"g".repeat(64)).is_err());
        assert!(Hash::from_hex(&"é".repeat(32)).is_err());
    }

    #[test]
    fn try_from_checks_length() {
        assert_eq!(Hash::try_from(&[0u8; 31][..]), Err(HashLengthError(31)));
        assert_eq!(Hash::try_from(&[7u8; 32][..]), Ok(Hash([7u8; 32])));
    }
}
