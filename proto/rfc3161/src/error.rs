//! Why a time-stamp request could not be built or a reply was rejected:
//! one variant per verification rule, each saying what to do about it.

/// Why a time-stamp request could not be built, trusted roots could not be
/// read, or a reply was rejected. The numbers in the variant docs are the
/// rules listed in the [module documentation](super).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// A policy to request or to require is not a dotted OID.
    #[error("the TSA policy {0:?} is not a dotted OID such as 1.2.3.4.1")]
    InvalidPolicy(String),
    /// The request could not be DER-encoded.
    #[error("cannot DER-encode the time-stamp request: {0}")]
    Encode(String),

    /// The trusted-roots input holds no certificate.
    #[error(
        "no trusted root certificate found: give one or more PEM \"-----BEGIN CERTIFICATE-----\" blocks, or one DER certificate"
    )]
    NoRoots,
    /// A trusted root is not a readable X.509 certificate.
    #[error("trusted root certificate #{index} is not a readable X.509 certificate: {detail}")]
    BadRoot {
        /// 1-based position in the input.
        index: usize,
        /// What is wrong with it.
        detail: String,
    },

    /// The reply is not the DER structure RFC 3161 and CMS define.
    #[error("the time-stamp reply is malformed: {what}: {detail}")]
    Malformed {
        /// Which structure could not be read.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// A certificate in the reply or the roots cannot be used.
    #[error("certificate {which} cannot be read: {detail}")]
    BadCertificate {
        /// Which certificate (its position or subject).
        which: String,
        /// What is wrong with it.
        detail: String,
    },

    /// Rule 1: the TSA refused (or has not yet produced) the time stamp.
    #[error(
        "the TSA did not grant a time stamp: PKIStatus {status} ({name}){}",
        .text.as_ref().map(|t| format!(": {t}")).unwrap_or_default()
    )]
    NotGranted {
        /// The PKIStatus number.
        status: u8,
        /// Its RFC 3161 name (`rejection`, `waiting`, ...).
        name: &'static str,
        /// The statusString and failInfo, when the TSA sent any.
        text: Option<String>,
    },
    /// Rule 1: a granted status without a token.
    #[error("the TSA's status is granted, but the reply carries no timeStampToken")]
    MissingToken,

    /// Rule 2: the token is not CMS SignedData.
    #[error("the timeStampToken is not CMS SignedData: its contentType is {0}")]
    NotSignedData(String),
    /// Rule 2: the signed content is not a TSTInfo.
    #[error(
        "the token's eContentType is {0}, not id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4): it is not an RFC 3161 time stamp"
    )]
    NotTstInfo(String),
    /// Rule 2: the token does not carry its TSTInfo.
    #[error("the token carries no TSTInfo (its eContent is absent)")]
    MissingTstInfo,
    /// Rule 2: not exactly one SignerInfo.
    #[error("the token has {0} SignerInfos; RFC 3161 requires exactly one")]
    SignerInfoCount(usize),

    /// Rule 3: a TSTInfo version other than 1.
    #[error("the TSTInfo version is {0}; RFC 3161 defines only version 1")]
    UnsupportedVersion(String),
    /// Rule 3: the imprint uses another hash algorithm than expected.
    #[error(
        "the token's message imprint uses {found}, but a {expected} imprint was expected: it is not over this message"
    )]
    ImprintAlgorithmMismatch {
        /// The expected algorithm's name.
        expected: &'static str,
        /// The token's algorithm.
        found: String,
    },
    /// Rule 3: the imprint digest differs: another message was stamped.
    #[error(
        "the token's message imprint {found} differs from the expected {expected}: it timestamps a different message"
    )]
    ImprintMismatch {
        /// The expected digest, hex.
        expected: String,
        /// The token's digest, hex.
        found: String,
    },

    /// Rule 4: a nonce was sent but the token has none.
    #[error(
        "the token carries no nonce, but the request sent nonce {expected}: it may answer another request or be a replay"
    )]
    NonceMissing {
        /// The expected nonce, hex.
        expected: String,
    },
    /// Rule 4: the token's nonce is not the request's.
    #[error(
        "the token's nonce {found} differs from the request's nonce {expected}: it answers another request or is a replay"
    )]
    NonceMismatch {
        /// The expected nonce, hex.
        expected: String,
        /// The token's nonce, hex (negative values prefixed with `-`).
        found: String,
    },

    /// Rule 5: the token's policy is not the required one.
    #[error("the token's TSA policy is {found}, but policy {expected} is required")]
    PolicyMismatch {
        /// The required policy.
        expected: String,
        /// The token's policy.
        found: String,
    },

    /// Rule 6: genTime is not an RFC 3161 GeneralizedTime.
    #[error(
        "the token's genTime {raw:?} is not a DER GeneralizedTime YYYYMMDDhhmmss[.fff]Z: {reason}"
    )]
    BadGenTime {
        /// The genTime text as sent (lossy UTF-8).
        raw: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Rule 6: genTime is earlier than the lower bound.
    #[error(
        "the token's genTime {gen_time} is earlier than {not_before} (the previous anchor): a TSA's time must not go backwards"
    )]
    GenTimeTooEarly {
        /// genTime, RFC 3339.
        gen_time: String,
        /// The lower bound, RFC 3339.
        not_before: String,
    },

    /// Rule 7: no certificate matches the SignerInfo's sid.
    #[error(
        "the response carries no certificate for its signer ({sid}), and none of the trusted roots is it: request the time stamp with certReq=true, or add the TSA certificate to the trusted roots"
    )]
    SignerCertificateMissing {
        /// The signer identifier, as text.
        sid: String,
    },

    /// Rule 8: no signed attributes at all.
    #[error(
        "the SignerInfo has no signed attributes; RFC 3161 requires content-type, message-digest and ESS signing-certificate attributes"
    )]
    MissingSignedAttributes,
    /// Rule 8: a required signed attribute is absent.
    #[error("the signed attributes lack the {0} attribute that RFC 3161 requires")]
    MissingAttribute(&'static str),
    /// Rule 8: a signed attribute is malformed or repeated.
    #[error("the {attribute} signed attribute is unusable: {detail}")]
    BadAttribute {
        /// The attribute's name.
        attribute: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// Rule 8: the content-type attribute is not id-ct-TSTInfo.
    #[error("the signed content-type attribute is {0}, not id-ct-TSTInfo")]
    ContentTypeAttributeMismatch(String),
    /// Rule 8: the message-digest attribute does not match the TSTInfo.
    #[error(
        "the signed message-digest attribute does not match the digest of the TSTInfo: the time stamp was altered after it was signed"
    )]
    MessageDigestMismatch,
    /// Rule 8: the ESS signing-certificate does not name the signer.
    #[error(
        "the ESS signing-certificate attribute does not identify the signer certificate: {0}; the certificate may have been substituted"
    )]
    SigningCertificateMismatch(String),
    /// Rules 3, 8, 9: a hash algorithm this module does not accept.
    #[error(
        "{what} uses the digest algorithm {oid}; only SHA-256, SHA-384 and SHA-512 are accepted"
    )]
    UnsupportedDigest {
        /// Where the algorithm appeared.
        what: &'static str,
        /// The algorithm.
        oid: String,
    },

    /// Rule 9 (and 11): a signature algorithm this module cannot verify.
    #[error(
        "{what} uses the signature algorithm {oid} with the key type {key}; supported are RSA PKCS #1 v1.5 and ECDSA P-256/P-384 with SHA-256/384/512"
    )]
    UnsupportedSignatureAlgorithm {
        /// Which signature.
        what: String,
        /// The signature algorithm.
        oid: String,
        /// The public key's algorithm.
        key: String,
    },
    /// Rule 9 (and 11): a certificate's public key cannot be decoded.
    #[error("the public key of {subject} cannot be used: {detail}")]
    BadPublicKey {
        /// The certificate's subject.
        subject: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Rule 9: the signature over the signed attributes does not verify.
    #[error(
        "the TSA's signature does not verify with the key of {subject}: the time stamp was forged or altered"
    )]
    InvalidSignature {
        /// The signer certificate's subject.
        subject: String,
    },

    /// Rule 10: the signer certificate has no extendedKeyUsage.
    #[error(
        "the TSA's signer certificate ({subject}) has no extendedKeyUsage; a TSA certificate must have a critical extendedKeyUsage of id-kp-timeStamping only"
    )]
    EkuMissing {
        /// The signer certificate's subject.
        subject: String,
    },
    /// Rule 10: the signer's extendedKeyUsage is not critical.
    #[error(
        "the TSA's signer certificate ({subject}) has a non-critical extendedKeyUsage; RFC 3161 requires it to be critical"
    )]
    EkuNotCritical {
        /// The signer certificate's subject.
        subject: String,
    },
    /// Rule 10: the signer's extendedKeyUsage is not timeStamping alone.
    #[error(
        "the TSA's signer certificate ({subject}) has extendedKeyUsage {found}; RFC 3161 requires exactly one purpose, id-kp-timeStamping (1.3.6.1.5.5.7.3.8)"
    )]
    EkuNotTimeStampingOnly {
        /// The signer certificate's subject.
        subject: String,
        /// The purposes it lists.
        found: String,
    },
    /// Rule 10: the signer certificate is a CA.
    #[error(
        "the TSA's signer certificate ({subject}) is a CA (basicConstraints cA=TRUE); a TSA certificate must not be a CA"
    )]
    SignerIsCa {
        /// The signer certificate's subject.
        subject: String,
    },

    /// Rule 11: no path from the signer to a trusted root.
    #[error(
        "the TSA's certificate does not chain to a trusted root: no trusted certificate (or certificate in the reply) named {issuer} signed it{}; add that CA's certificate to the trusted roots if you trust it",
        if *.too_long { " within the search limits (8 certificates deep, 64 signature checks)" } else { "" }
    )]
    NoChain {
        /// The issuer DN that could not be found.
        issuer: String,
        /// Whether a search limit (depth 8, 64 signature checks) was hit.
        too_long: bool,
    },
    /// Rule 11: a certificate of the path was not valid at genTime.
    #[error(
        "certificate {subject} was not valid at the token's genTime {gen_time} (valid from {not_before} to {not_after})"
    )]
    NotValidAtGenTime {
        /// The certificate's subject.
        subject: String,
        /// genTime, RFC 3339.
        gen_time: String,
        /// Its notBefore, RFC 3339.
        not_before: String,
        /// Its notAfter, RFC 3339.
        not_after: String,
    },
    /// Rule 11: an issuer of the path is not a CA.
    #[error(
        "certificate {subject} issued a certificate of the TSA's chain but is not a CA (no basicConstraints cA=TRUE)"
    )]
    IssuerNotCa {
        /// The issuer's subject.
        subject: String,
    },
    /// Rule 11: an issuer's keyUsage forbids signing certificates.
    #[error(
        "certificate {subject} issued a certificate of the TSA's chain but its keyUsage lacks keyCertSign"
    )]
    IssuerWithoutKeyCertSign {
        /// The issuer's subject.
        subject: String,
    },
    /// Rule 11: an issuer's pathLenConstraint is exceeded.
    #[error(
        "certificate {subject} allows at most {max} intermediate CA certificates below it, but the TSA's chain has {found}"
    )]
    PathLengthExceeded {
        /// The issuer's subject.
        subject: String,
        /// Its pathLenConstraint.
        max: u8,
        /// The intermediates below it.
        found: usize,
    },

    /// Rule 12: the signer's common name is not the pinned one.
    #[error("the TSA's signer certificate has common name {found}, but {expected:?} is pinned")]
    SignerNameMismatch {
        /// The pinned common name.
        expected: String,
        /// The certificate's common name(s), quoted, or "none".
        found: String,
    },

    /// The TSTInfo names a TSA that is not the signer.
    #[error(
        "the TSTInfo names the TSA {tsa}, but the signer certificate's subject is {subject} (RFC 3161 §2.4.2 requires them to match)"
    )]
    TsaNameMismatch {
        /// The TSTInfo's tsa directory name.
        tsa: String,
        /// The signer certificate's subject.
        subject: String,
    },
}

impl TimestampError {
    /// A decoding failure of `what`.
    pub(crate) fn malformed(what: &'static str, detail: impl ToString) -> Self {
        TimestampError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}
