//! References between records: the RFC 6962 leaf hashes of earlier
//! entries, where the entry is the encoded [`Envelope`](super::Envelope).
//!
//! In JSON a reference is exactly 64 lowercase hex digits (uppercase is
//! rejected so the text form is unique); on the wire it is 32 bytes.
//!
//! | kind | field | may reference |
//! |---|---|---|
//! | preflight | `subject` | authorization, credential |
//! | credential | `authorization` | authorization |
//! | credential | `preflight` (optional) | preflight |
//! | credential | `parent` (optional) | credential |
//! | action | `credential` | credential |
//! | exception | `credential` | credential |
//! | exception | `action` (optional) | action |
//! | closure | `credential` | credential |
//! | review | `subject` | authorization, credential, closure |

use super::kinds::{Kind, Record};
use causeway_tlog::merkle::Hash;

/// One reference a record makes: the field, the leaf hash it names, and
/// the kinds of record it may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The referencing field's JSON name, like `parent` (the record's kind
    /// qualifies it).
    pub field: &'static str,
    /// The leaf hash of the entry referenced.
    pub hash: Hash,
    /// The kinds the referenced record may have.
    pub allowed: &'static [Kind],
}

const AUTHORIZATION: &[Kind] = &[Kind::Authorization];
const PREFLIGHT: &[Kind] = &[Kind::Preflight];
const CREDENTIAL: &[Kind] = &[Kind::Credential];
const ACTION: &[Kind] = &[Kind::Action];
const PREFLIGHT_SUBJECT: &[Kind] = &[Kind::Authorization, Kind::Credential];
const REVIEW_SUBJECT: &[Kind] = &[Kind::Authorization, Kind::Credential, Kind::Closure];

impl Record {
    /// Every reference the record makes (optional ones only when set), in
    /// field order.
    pub fn references(&self) -> Vec<Reference> {
        let r = |field, hash, allowed| Reference {
            field,
            hash,
            allowed,
        };
        match self {
            Record::Authorization(_) => Vec::new(),
            Record::Preflight(p) => vec![r("subject", p.subject, PREFLIGHT_SUBJECT)],
            Record::Credential(c) => {
                let mut refs = vec![r("authorization", c.authorization, AUTHORIZATION)];
                if let Some(h) = c.preflight {
                    refs.push(r("preflight", h, PREFLIGHT));
                }
                if let Some(h) = c.parent {
                    refs.push(r("parent", h, CREDENTIAL));
                }
                refs
            }
            Record::Action(a) => vec![r("credential", a.credential, CREDENTIAL)],
            Record::Exception(e) => {
                let mut refs = vec![r("credential", e.credential, CREDENTIAL)];
                if let Some(h) = e.action {
                    refs.push(r("action", h, ACTION));
                }
                refs
            }
            Record::Closure(c) => vec![r("credential", c.credential, CREDENTIAL)],
            Record::Review(v) => vec![r("subject", v.subject, REVIEW_SUBJECT)],
        }
    }
}

/// Lists kinds for messages: `credential`, `authorization or credential`,
/// `authorization, credential or closure`.
pub(crate) fn kinds_phrase(kinds: &[Kind]) -> String {
    match kinds {
        [] => String::from("nothing"),
        [one] => one.as_str().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(|k| k.as_str()).collect();
            format!("{} or {last}", init.join(", "))
        }
    }
}

/// Parses a reference: exactly 64 lowercase hex digits.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_ref(text: &str) -> Result<Hash, String> {
    if text.len() != 64 {
        return Err(format!(
            "a reference must be 64 lowercase hex digits (a leaf hash), got {} characters",
            text.chars().count()
        ));
    }
    if !text.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(String::from(
            "a reference must be 64 lowercase hex digits (a leaf hash); \
             uppercase and other characters are not accepted",
        ));
    }
    Hash::from_hex(text).map_err(|e| e.to_string())
}

/// Serde for a required reference field.
pub(crate) mod hex_ref {
    use serde::{Deserialize, Deserializer, Serializer};

    use causeway_tlog::merkle::Hash;

    pub(crate) fn serialize<S: Serializer>(hash: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hash.to_hex())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_ref(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde for an optional reference field (absent or `null` when unset).
pub(crate) mod opt_hex_ref {
    use serde::{Deserialize, Deserializer, Serializer};

    use causeway_tlog::merkle::Hash;

    pub(crate) fn serialize<S: Serializer>(hash: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
        match hash {
            Some(h) => s.serialize_str(&h.to_hex()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
        match <Option<std::borrow::Cow<'de, str>>>::deserialize(d)? {
            Some(text) => super::parse_ref(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
