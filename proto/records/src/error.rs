//! [`RecordError`]: why a record, an envelope or a producer key was
//! rejected. Policy files have their own [`PolicyError`](super::PolicyError)
//! and log admission its own [`Rejection`](super::Rejection).

use super::PAYLOAD_TYPE;
use super::kinds::{Kind, ParseKindError};
use super::time::TimeError;

/// Why a record, an envelope or a key could not be parsed, decoded, signed
/// or verified. Every variant names the field, the key or the count that
/// was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A record kind name that is not one of [`Kind::ALL`](super::Kind::ALL).
    #[error(transparent)]
    UnknownKind(#[from] ParseKindError),
    /// The JSON form of a record is malformed: not JSON, an unknown or
    /// missing field, or a field with an invalid value.
    #[error("invalid {kind} record JSON: {message}")]
    Json {
        /// The record kind that was being parsed.
        kind: Kind,
        /// What is wrong, starting with the field's path when known.
        message: String,
    },
    /// The bytes are not a protobuf message of the expected type.
    #[error("{what} is not valid protobuf: {message}")]
    Protobuf {
        /// What was being decoded ("envelope", "record payload").
        what: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The bytes decode, but are not the canonical encoding of what they
    /// decode to, so the same content could be logged under several leaf
    /// hashes.
    #[error(
        "{what} is not canonical protobuf: re-encoding it gives different bytes \
         (unknown or repeated fields, fields out of field-number order, \
         explicitly encoded defaults or non-minimal varints)"
    )]
    NonCanonical {
        /// What was being decoded ("envelope", "record payload").
        what: &'static str,
    },
    /// A protobuf record sets none of the record kinds.
    #[error("the record payload sets no record kind (exactly one of the `kind` oneof is required)")]
    NoKind,
    /// A required field of a protobuf record is absent.
    #[error("{field} is missing")]
    MissingField {
        /// The field's path, like `credential.issued_at`.
        field: String,
    },
    /// A field of a protobuf record has an invalid value.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field's path, like `preflight.stage`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A time that is not representable.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The envelope's payload type is not [`PAYLOAD_TYPE`].
    #[error("the envelope's payload type is {found:?}; expected {PAYLOAD_TYPE:?}")]
    PayloadType {
        /// The payload type found.
        found: String,
    },
    /// The envelope does not carry exactly one signature.
    #[error("the envelope has {0} signatures; exactly one signature is required")]
    SignatureCount(usize),
    /// The signature's key ID is not the ID of the key it was checked
    /// against.
    #[error("the signature's key id {found:?} is not the key id of the verifying key ({expected})")]
    KeyIdMismatch {
        /// The key ID in the envelope.
        found: String,
        /// The key ID of the key given to verify with.
        expected: String,
    },
    /// A public key that is not a canonical ECDSA P-256 DER
    /// SubjectPublicKeyInfo.
    #[error("invalid public key: {0}")]
    InvalidKey(String),
    /// The signature does not verify.
    #[error("signature by key {keyid} does not verify over the envelope's DSSE PAE")]
    BadSignature {
        /// The signer's key ID.
        keyid: String,
    },
    /// The signature is 64 bytes that are not DER: most likely the raw
    /// `r ‖ s` form WebCrypto and KMS APIs return.
    #[error(
        "the signature by key {keyid} is not DER: encode r and s as an ASN.1 SEQUENCE of two \
         INTEGERs (raw 64-byte r||s is not accepted; see docs/producers.md)"
    )]
    NotDerSignature {
        /// The signer's key ID.
        keyid: String,
    },
    /// A private key could not be read or written.
    #[error("private key: {0}")]
    PrivateKey(String),
    /// The DSSE JSON form of an envelope is malformed.
    #[error("invalid DSSE JSON envelope: {0}")]
    DsseJson(String),
}
