//! [`RecordRef`]: how one record names an earlier entry of the log.
//!
//! A reference is the RFC 6962 leaf hash of the entry referenced (the
//! encoded [`Envelope`](crate::Envelope)). In JSON it is exactly 64
//! lowercase hex digits (uppercase is rejected so that the text form is
//! unique); on the wire it is 32 bytes. Which fields may reference which
//! kinds is in [`refs`](crate::refs).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use causeway_tlog::merkle::Hash;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A reference from a record to an earlier entry: that entry's leaf hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordRef(Hash);

impl RecordRef {
    /// The reference to the entry with leaf hash `hash`.
    pub const fn new(hash: Hash) -> Self {
        RecordRef(hash)
    }

    /// The leaf hash of the entry referenced.
    pub const fn hash(&self) -> Hash {
        self.0
    }
}

impl From<Hash> for RecordRef {
    fn from(hash: Hash) -> Self {
        RecordRef(hash)
    }
}

impl From<RecordRef> for Hash {
    fn from(reference: RecordRef) -> Self {
        reference.0
    }
}

impl PartialEq<Hash> for RecordRef {
    fn eq(&self, other: &Hash) -> bool {
        self.0 == *other
    }
}

/// A reference that is not 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseRefError {
    /// Not 64 characters long.
    #[error("a reference must be 64 lowercase hex digits (a leaf hash), got {0} characters")]
    Length(usize),
    /// 64 characters, but not all of them `0-9` or `a-f`.
    #[error(
        "a reference must be 64 lowercase hex digits (a leaf hash); \
         uppercase and other characters are not accepted"
    )]
    NotLowercaseHex,
}

impl FromStr for RecordRef {
    type Err = ParseRefError;

    /// Parses exactly 64 lowercase hex digits.
    fn from_str(text: &str) -> Result<Self, ParseRefError> {
        if text.len() != 64 {
            return Err(ParseRefError::Length(text.chars().count()));
        }
        if !text.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ParseRefError::NotLowercaseHex);
        }
        Hash::from_hex(text)
            .map(RecordRef)
            .map_err(|_| ParseRefError::NotLowercaseHex)
    }
}

impl fmt::Display for RecordRef {
    /// The JSON form: 64 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex())
    }
}

impl Serialize for RecordRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_hex())
    }
}

impl<'de> Deserialize<'de> for RecordRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "8f2b6c0e4d1a9f3b7e5c2a8d0f6b4e1c3a9d7f5b2e8c0a6d4f1b9e3c7a5d2f80";

    #[test]
    fn text_form_is_64_lowercase_hex_digits() {
        let r: RecordRef = HEX.parse().unwrap();
        assert_eq!(r.to_string(), HEX);
        assert_eq!(r.hash(), Hash::from_hex(HEX).unwrap());
        assert_eq!(RecordRef::from(r.hash()), r);
        assert_eq!(
            HEX.to_uppercase().parse::<RecordRef>(),
            Err(ParseRefError::NotLowercaseHex)
        );
        assert_eq!(
            HEX[1..].parse::<RecordRef>(),
            Err(ParseRefError::Length(63))
        );
        let multibyte = format!("{}é", &HEX[2..]);
        assert_eq!(multibyte.len(), 64);
        assert_eq!(
            multibyte.parse::<RecordRef>(),
            Err(ParseRefError::NotLowercaseHex)
        );
    }

    #[test]
    fn serde_is_the_text_form() {
        let r: RecordRef = HEX.parse().unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, format!("\"{HEX}\""));
        assert_eq!(serde_json::from_str::<RecordRef>(&json).unwrap(), r);
        let err = serde_json::from_str::<RecordRef>("\"ab\"").unwrap_err();
        assert!(err.to_string().contains("got 2 characters"), "{err}");
        let none: Option<RecordRef> = serde_json::from_str("null").unwrap();
        assert_eq!(none, None);
    }
}
