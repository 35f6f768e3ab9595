//! The `TimeStampReq` a client POSTs to a TSA (RFC 3161 §2.4.1).

use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Encode, Sequence};
use spki::AlgorithmIdentifierOwned;

use super::{MessageImprint, TimestampError};

/// A time-stamp request: what to stamp, a fresh nonce, and options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampRequest {
    /// The imprint of the message to stamp.
    pub imprint: MessageImprint,
    /// A random number the TSA must echo, so that an old or someone else's
    /// reply cannot be passed off as the answer to this request.
    pub nonce: u64,
    /// The TSA policy to ask for, a dotted OID; `None` lets the TSA choose.
    pub policy: Option<String>,
    /// Whether the TSA should include its certificate in the reply
    /// (`certReq`); without it, the verifier must already hold it.
    pub cert_req: bool,
}

impl TimestampRequest {
    /// The DER `TimeStampReq`, version 1, to send with
    /// [`QUERY_CONTENT_TYPE`](super::QUERY_CONTENT_TYPE).
    ///
    /// # Errors
    /// [`TimestampError::InvalidPolicy`] if `policy` is not a dotted OID.
    pub fn to_der(&self) -> Result<Vec<u8>, TimestampError> {
        let req_policy = self.policy.as_deref().map(parse_policy).transpose()?;
        let encode = |e: der::Error| TimestampError::Encode(e.to_string());
        TimeStampReq {
            version: 1,
            message_imprint: MessageImprintDer {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: self.imprint.alg.oid(),
                    // NULL parameters, as OpenSSL writes them: RFC 5754 lets
                    // verifiers accept both forms, and some older TSAs
                    // reject the absent form.
                    parameters: Some(Any::null()),
                },
                hashed_message: OctetString::new(self.imprint.digest.clone()).map_err(encode)?,
            },
            req_policy,
            nonce: Some(self.nonce),
            cert_req: self.cert_req,
        }
        .to_der()
        .map_err(encode)
    }
}

/// Checks a TSA policy given as text (e.g. on a command line) before any
/// request is built with it.
///
/// # Errors
/// [`TimestampError::InvalidPolicy`] if it is not a dotted OID.
pub fn validate_policy(text: &str) -> Result<(), TimestampError> {
    parse_policy(text).map(|_| ())
}

/// A dotted OID given as a policy.
pub(crate) fn parse_policy(text: &str) -> Result<ObjectIdentifier, TimestampError> {
    ObjectIdentifier::new(text).map_err(|_| TimestampError::InvalidPolicy(text.to_owned()))
}

/// RFC 3161 `TimeStampReq` (extensions are never sent).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct TimeStampReq {
    pub version: u8,
    pub message_imprint: MessageImprintDer,
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    pub nonce: Option<u64>,
    // DER omits a BOOLEAN equal to its DEFAULT FALSE.
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
}

/// RFC 3161 `MessageImprint`.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct MessageImprintDer {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub hashed_message: OctetString,
}
