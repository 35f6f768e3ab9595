//! A small DER cursor over borrowed bytes.
//!
//! CMS structures are walked element by element instead of being decoded
//! into `der` types, because verification needs the *exact* bytes that
//! were signed or hashed: `der`'s `SetOfVec` re-sorts what it decodes, so
//! re-encoding signed attributes or a certificate could silently change
//! them. Every error names the structure being read.

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged as _};

use super::TimestampError;

/// The elements of one constructed value, in order.
pub(crate) struct Cursor<'a> {
    reader: SliceReader<'a>,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `bytes`, which must hold whole DER elements.
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Result<Self, TimestampError> {
        let reader = SliceReader::new(bytes).map_err(|e| TimestampError::malformed(what, e))?;
        Ok(Cursor { reader, what })
    }

    /// The contents of `bytes`, which must be exactly one element with
    /// `tag` and nothing after it.
    pub(crate) fn open(
        bytes: &'a [u8],
        tag: Tag,
        what: &'static str,
    ) -> Result<Self, TimestampError> {
        let mut outer = Cursor::new(bytes, what)?;
        let element = outer.next_tagged(tag)?;
        outer.finish()?;
        Cursor::new(element.value(), what)
    }

    fn err(&self, detail: impl ToString) -> TimestampError {
        TimestampError::malformed(self.what, detail)
    }

    /// Whether every element has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.reader.is_finished()
    }

    /// The tag of the next element, or `None` at the end (or if the next
    /// byte is not a tag `der` supports, which the next read reports).
    pub(crate) fn peek_tag(&self) -> Option<Tag> {
        if self.is_empty() {
            None
        } else {
            self.reader.peek_tag().ok()
        }
    }

    /// The next element, whatever its tag.
    pub(crate) fn next_any(&mut self) -> Result<AnyRef<'a>, TimestampError> {
        self.reader.decode::<AnyRef<'a>>().map_err(|e| self.err(e))
    }

    /// The next element's complete encoding (tag, length and contents).
    pub(crate) fn next_raw(&mut self) -> Result<&'a [u8], TimestampError> {
        self.reader.tlv_bytes().map_err(|e| self.err(e))
    }

    /// The next element, which must have `tag`.
    pub(crate) fn next_tagged(&mut self, tag: Tag) -> Result<AnyRef<'a>, TimestampError> {
        let any = self.next_any()?;
        if any.tag() != tag {
            return Err(self.err(format!("expected {tag}, found {}", any.tag())));
        }
        Ok(any)
    }

    /// The next element if it has `tag`; nothing is consumed otherwise.
    pub(crate) fn optional(&mut self, tag: Tag) -> Result<Option<AnyRef<'a>>, TimestampError> {
        if self.peek_tag() == Some(tag) {
            self.next_any().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The contents of the next element, which must be a SEQUENCE.
    pub(crate) fn next_sequence(&mut self) -> Result<Cursor<'a>, TimestampError> {
        let any = self.next_tagged(Tag::Sequence)?;
        Cursor::new(any.value(), self.what)
    }

    /// The next element decoded as a `der` type.
    pub(crate) fn decode<T: Decode<'a>>(&mut self) -> Result<T, TimestampError> {
        self.reader.decode::<T>().map_err(|e| self.err(e))
    }

    /// The next element, an OBJECT IDENTIFIER.
    pub(crate) fn next_oid(&mut self) -> Result<ObjectIdentifier, TimestampError> {
        self.decode::<ObjectIdentifier>()
    }

    /// The contents of the next element, an INTEGER, as minimal
    /// two's-complement bytes (checked: DER forbids redundant leading
    /// bytes, and an empty INTEGER).
    pub(crate) fn next_integer(&mut self) -> Result<&'a [u8], TimestampError> {
        let any = self.next_tagged(Tag::Integer)?;
        integer_bytes(any.value()).map_err(|e| self.err(e))
    }

    /// The contents of the next element, an OCTET STRING.
    pub(crate) fn next_octets(&mut self) -> Result<&'a [u8], TimestampError> {
        Ok(self.next_tagged(Tag::OctetString)?.value())
    }

    /// Fails if anything is left.
    pub(crate) fn finish(self) -> Result<(), TimestampError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err("unexpected data after the last field"))
        }
    }
}

/// A context-specific tag: `[number]`, constructed or primitive.
pub(crate) fn context(number: u8, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber::new(number),
    }
}

/// Checks DER INTEGER contents and returns them.
pub(crate) fn integer_bytes(bytes: &[u8]) -> Result<&[u8], &'static str> {
    match bytes {
        [] => Err("an INTEGER has no content bytes"),
        [0x00, next, ..] if *next < 0x80 => Err("an INTEGER has a redundant leading 0x00"),
        [0xFF, next, ..] if *next >= 0x80 => Err("an INTEGER has a redundant leading 0xFF"),
        _ => Ok(bytes),
    }
}

/// Whether minimal two's-complement INTEGER contents are negative.
pub(crate) fn is_negative(integer: &[u8]) -> bool {
    integer.first().is_some_and(|b| b & 0x80 != 0)
}

/// The big-endian magnitude of minimal two's-complement INTEGER contents,
/// without leading zero bytes (empty for zero), and whether it is negative.
pub(crate) fn magnitude(integer: &[u8]) -> (Vec<u8>, bool) {
    if !is_negative(integer) {
        return (strip_zeros(integer).to_vec(), false);
    }
    // Negate: invert every bit, then add one from the least significant end.
    let mut out: Vec<u8> = integer.iter().map(|b| !b).collect();
    for byte in out.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    (strip_zeros(&out).to_vec(), true)
}

/// `bytes` without leading zero bytes.
pub(crate) fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Lower-case hex of INTEGER contents: the magnitude, `-` first when
/// negative, `00` for zero.
pub(crate) fn integer_hex(integer: &[u8]) -> String {
    let (magnitude, negative) = magnitude(integer);
    let digits = if magnitude.is_empty() {
        "00".to_owned()
    } else {
        hex(&magnitude)
    };
    if negative {
        format!("-{digits}")
    } else {
        digits
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `contents` re-tagged as a universal SET OF: the bytes a CMS signature
/// over signed attributes covers (RFC 5652 §5.4), although they travel
/// with an `[0] IMPLICIT` tag.
pub(crate) fn as_set_of(contents: &[u8]) -> Result<Vec<u8>, TimestampError> {
    AnyRef::new(Tag::Set, contents)
        .and_then(|any| any.to_der())
        .map_err(|e| TimestampError::malformed("signed attributes", e))
}
