//! RFC 3161 time stamps (<https://www.rfc-editor.org/rfc/rfc3161>): the
//! request a client sends to a Time-Stamp Authority (TSA) and a complete,
//! offline verification of the reply it gets back.
//!
//! A TSA signs a `TSTInfo` (the message imprint, its clock's `genTime`, a
//! policy, the request's nonce) inside a CMS `SignedData`. The reply is
//! worth something only if *everything* about it is checked, so
//! [`verify_response`] accepts a reply only when all of these hold:
//!
//! 1. the `PKIStatus` is granted or grantedWithMods;
//! 2. the token is CMS `SignedData` over an `id-ct-TSTInfo` with exactly
//!    one `SignerInfo`;
//! 3. the `TSTInfo` is version 1 and its message imprint is the expected
//!    one (algorithm and digest);
//! 4. its nonce equals the request's, when one is expected;
//! 5. its policy equals the required one, when one is required;
//! 6. its `genTime` parses (fractional seconds included) and is not
//!    earlier than a given lower bound;
//! 7. the signer certificate is the one the `SignerInfo` names (never just
//!    the first certificate of the bag), from the reply or the trusted
//!    roots;
//! 8. the signed attributes carry the `id-ct-TSTInfo` content type, the
//!    digest of the `TSTInfo`, and an ESS signing-certificate (v1 or v2)
//!    whose first entry identifies the signer certificate;
//! 9. the signature over the signed attributes verifies (RSA PKCS #1 v1.5,
//!    ECDSA P-256 or P-384; SHA-256/384/512);
//! 10. the signer certificate has a critical extendedKeyUsage of exactly
//!     `id-kp-timeStamping` and is not a CA;
//! 11. it chains to a trusted root through CA certificates, every one of
//!     them (root included) valid at `genTime`;
//! 12. its common name is the pinned one, when one is pinned.
//!
//! Besides those, the `TSTInfo`'s `tsa` name, when it is a directory name,
//! must be the signer certificate's subject (RFC 3161 §2.4.2).
//!
//! Validity is checked at `genTime`, not at the verifier's clock: a time
//! stamp stays verifiable after the TSA certificate expires, which is what
//! anchoring a log in time needs. There is no revocation checking (no CRL
//! or OCSP: this crate does no I/O).
//!
//! The module is pure: no I/O, no clocks. The server sends
//! [`TimestampRequest::to_der`] with [`QUERY_CONTENT_TYPE`] and verifies
//! the answer; clients verify stored answers the same way.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod asn1;
mod cert;
mod chain;
mod cms;
mod error;
mod oid;
mod request;
mod response;
mod signature;
mod time;
mod tstinfo;
mod verify;

#[cfg(test)]
mod tests;

use der::asn1::ObjectIdentifier;
use sha2::Digest as _;

pub use cert::TrustedRoots;
pub use error::TimestampError;
pub use request::{TimestampRequest, validate_policy};
pub use response::response_status;
pub use verify::{Expectations, VerifiedTimestamp, verify_response};

/// The media type of a DER `TimeStampReq` (RFC 3161 §3.4).
pub const QUERY_CONTENT_TYPE: &str = "application/timestamp-query";

/// The media type of a DER `TimeStampResp` (RFC 3161 §3.4).
pub const REPLY_CONTENT_TYPE: &str = "application/timestamp-reply";

/// A hash algorithm for message imprints and signatures.
///
/// SHA-1 is deliberately absent: a TSA signature or imprint over SHA-1 no
/// longer proves anything. (SHA-1 still identifies certificates in ESS
/// signing-certificate v1 attributes, where it only names a certificate
/// that the signature check then has to accept.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256 (2.16.840.1.101.3.4.2.1).
    Sha256,
    /// SHA-384 (2.16.840.1.101.3.4.2.2).
    Sha384,
    /// SHA-512 (2.16.840.1.101.3.4.2.3).
    Sha512,
}

impl HashAlg {
    /// The algorithm's object identifier (NIST, RFC 5754).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            HashAlg::Sha256 => oid::SHA256,
            HashAlg::Sha384 => oid::SHA384,
            HashAlg::Sha512 => oid::SHA512,
        }
    }

    /// The lower-case name OpenSSL uses: `sha256`, `sha384` or `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// The algorithm an OID names, if it is one of ours.
    pub(crate) fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512]
            .into_iter()
            .find(|alg| alg.oid() == *oid)
    }

    /// The digest of `data`.
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// What a time stamp is over: a hash algorithm and the digest of the
/// message (RFC 3161 `MessageImprint`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageImprint {
    /// The hash algorithm.
    pub alg: HashAlg,
    /// The digest of the message with `alg`.
    pub digest: Vec<u8>,
}

impl MessageImprint {
    /// The imprint of `data` with `alg`.
    pub fn of(alg: HashAlg, data: &[u8]) -> Self {
        MessageImprint {
            alg,
            digest: alg.digest(data),
        }
    }

    /// The SHA-256 imprint of `data`.
    pub fn sha256(data: &[u8]) -> Self {
        Self::of(HashAlg::Sha256, data)
    }
}
