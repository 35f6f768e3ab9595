//! [`verify_response`]: every rule of the [module documentation](super),
//! in order, on one DER `TimeStampResp`.
//!
//! # Why this verifier is our own
//!
//! The RustCrypto `cms` crate has the types, but not the bytes: `der` 0.7
//! sorts every SET OF when it decodes one (`SetOfVec`), so a `SignerInfo`'s
//! signed attributes come back in DER order, and encoding them again gives
//! the bytes of the sorted set. A TSA signs the set in the order it wrote
//! it, and RFC 5652 §5.4 has the verifier check the encoding it received;
//! not every TSA sorts, so a reply that is valid (OpenSSL accepts it) would
//! fail its signature check over the re-encoded set.
//! `tests/unsorted_signed_attrs.rs` shows this with such a reply. So
//! [`parse_token`] keeps the signed attributes as the bytes received, and
//! the signature is checked over exactly those ([`as_set_of`] only changes
//! the `[0]` tag to SET's, as §5.4 says).

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Tag, Tagged as _};
use sha1::Digest as _;
use spki::AlgorithmIdentifierRef;
use x509_cert::name::Name;

use super::asn1::{Cursor, as_set_of, context, hex, integer_hex, is_negative, strip_zeros};
use super::cert::{Cert, TrustedRoots, name_text};
use super::cms::{Attribute, SignerId, SignerInfo, parse_attributes, parse_token, single_value};
use super::request::parse_policy;
use super::time::rfc3339;
use super::tstinfo::TstInfo;
use super::{HashAlg, MessageImprint, TimestampError, chain, oid, response, signature, tstinfo};

/// What the caller requires of a time stamp, beyond a valid signature
/// chaining to a trusted root.
#[derive(Clone, Copy, Debug)]
pub struct Expectations<'a> {
    /// The imprint of the message the token must be over.
    pub imprint: &'a MessageImprint,
    /// The request's nonce, big-endian unsigned (leading zero bytes are
    /// ignored). When `Some`, the token must carry an equal nonce; a
    /// token without one is rejected.
    pub nonce: Option<&'a [u8]>,
    /// A dotted OID the token's policy must equal.
    pub policy: Option<&'a str>,
    /// Unix seconds genTime must not be earlier than (e.g. the previous
    /// anchor's genTime: a TSA's time must not go backwards).
    pub not_before: Option<i64>,
    /// A pin: the signer certificate (the one the SignerInfo names) must
    /// have exactly this commonName.
    pub signer_common_name: Option<&'a str>,
}

/// What a verified time stamp says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// genTime, whole Unix seconds (fractions are dropped).
    pub gen_time: i64,
    /// genTime as RFC 3339, with any fractional seconds the TSA sent.
    pub gen_time_rfc3339: String,
    /// The token's serialNumber, lower-case hex of its magnitude (`-`
    /// first for the negative serials some TSAs send).
    pub serial_hex: String,
    /// The TSA policy, a dotted OID.
    pub policy: String,
    /// The token's nonce, lower-case hex of its magnitude, if it has one.
    pub nonce_hex: Option<String>,
    /// The imprint's hash algorithm.
    pub imprint_alg: HashAlg,
    /// The signer certificate's subject, RFC 4514 text (`CN=...,O=...`).
    pub signer_subject: String,
    /// Certificates in the verified path, signer and trusted root included.
    pub chain_len: usize,
}

/// Verifies a DER `TimeStampResp` completely, offline: status, token
/// structure, the TSTInfo against `expect`, signed attributes, the
/// signature, the signer certificate's purpose, and its chain to `roots`
/// at genTime (see the [module documentation](super) for every rule).
///
/// # Errors
/// The first rule that does not hold, as a [`TimestampError`].
pub fn verify_response(
    der: &[u8],
    roots: &TrustedRoots,
    expect: &Expectations<'_>,
) -> Result<VerifiedTimestamp, TimestampError> {
    // Rule 1.
    let response = response::parse(der)?;
    response.require_granted()?;
    let token = response.token.ok_or(TimestampError::MissingToken)?;

    // Rule 2.
    let token = parse_token(token)?;

    // Rules 3 to 6.
    let tst = tstinfo::parse(token.tst_info)?;
    check_tst_info(&tst, expect)?;

    // Rule 8, the attributes about the content.
    let signer_info = &token.signer;
    let digest_alg = digest_algorithm(&signer_info.digest_algorithm, "the SignerInfo")?;
    let attrs_contents = signer_info
        .signed_attrs
        .ok_or(TimestampError::MissingSignedAttributes)?;
    let attributes = parse_attributes(attrs_contents)?;
    check_content_attributes(&attributes, digest_alg, token.tst_info)?;

    // Rule 7 and the ESS part of rule 8: the signer certificate.
    // A certificate this module cannot read is skipped rather than fatal
    // (a TSA may add certificates nobody needs), but if the signer is then
    // missing, that certificate is the likelier culprit and is reported.
    let mut bag = Vec::new();
    let mut unreadable = None;
    for (i, der) in token.certificates.iter().enumerate() {
        match Cert::from_der(der) {
            Ok(cert) => bag.push(cert),
            Err(detail) => {
                unreadable.get_or_insert(TimestampError::BadCertificate {
                    which: format!("#{} of the reply", i + 1),
                    detail,
                });
            }
        }
    }
    let ess = ess_cert_ids(&attributes)?;
    let signer = match (find_signer(signer_info, &bag, roots, &ess), unreadable) {
        (Err(TimestampError::SignerCertificateMissing { .. }), Some(unreadable)) => {
            return Err(unreadable);
        }
        (found, _) => found?,
    };

    // Rule 9, over the signed attributes as received, never re-encoded
    // (see "Why this verifier is our own" above).
    signature::verify(
        signer,
        &signer_info.signature_algorithm,
        Some(digest_alg),
        &as_set_of(attrs_contents)?,
        signer_info.signature,
        "the TSA's signature",
    )?;

    // Rule 10.
    check_signer_purpose(signer)?;

    // Rule 11.
    let mut pool: Vec<&Cert> = Vec::new();
    for cert in bag.iter().chain(roots.certs()) {
        if !pool.iter().any(|c| c.der == cert.der) {
            pool.push(cert);
        }
    }
    let chain_len = chain::build(signer, &pool, roots, &tst.gen_time)?;

    // RFC 3161 §2.4.2: a tsa name must be one of the signer's names.
    if let Some(tsa) = &tst.tsa_directory_name
        && tsa != signer.subject()
    {
        return Err(TimestampError::TsaNameMismatch {
            tsa: name_text(tsa),
            subject: signer.subject_text(),
        });
    }

    // Rule 12.
    if let Some(pin) = expect.signer_common_name {
        let names = signer.common_names();
        if names.len() != 1 || names[0] != pin {
            return Err(TimestampError::SignerNameMismatch {
                expected: pin.to_owned(),
                found: if names.is_empty() {
                    "none".to_owned()
                } else {
                    names
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                },
            });
        }
    }

    Ok(VerifiedTimestamp {
        gen_time: tst.gen_time.unix,
        gen_time_rfc3339: tst.gen_time.rfc3339(),
        serial_hex: integer_hex(tst.serial),
        policy: tst.policy.to_string(),
        nonce_hex: tst.nonce.map(integer_hex),
        imprint_alg: expect.imprint.alg,
        signer_subject: signer.subject_text(),
        chain_len,
    })
}

/// Rules 3 to 6 on the TSTInfo.
fn check_tst_info(tst: &TstInfo<'_>, expect: &Expectations<'_>) -> Result<(), TimestampError> {
    if tst.version != [1] {
        return Err(TimestampError::UnsupportedVersion(integer_hex(tst.version)));
    }

    let imprint_alg = HashAlg::from_oid(&tst.imprint_algorithm.oid);
    if imprint_alg != Some(expect.imprint.alg) {
        return Err(TimestampError::ImprintAlgorithmMismatch {
            expected: expect.imprint.alg.name(),
            found: imprint_alg.map_or_else(
                || oid::describe(&tst.imprint_algorithm.oid),
                |alg| alg.name().to_owned(),
            ),
        });
    }
    check_hash_parameters(&tst.imprint_algorithm, "the TSTInfo messageImprint")?;
    if tst.imprint_digest != expect.imprint.digest.as_slice() {
        return Err(TimestampError::ImprintMismatch {
            expected: hex(&expect.imprint.digest),
            found: hex(tst.imprint_digest),
        });
    }

    if let Some(expected) = expect.nonce {
        let expected_magnitude = strip_zeros(expected);
        let expected_hex = if expected_magnitude.is_empty() {
            "00".to_owned()
        } else {
            hex(expected_magnitude)
        };
        let Some(found) = tst.nonce else {
            return Err(TimestampError::NonceMissing {
                expected: expected_hex,
            });
        };
        // A negative nonce can equal no unsigned one, whatever its bytes.
        if is_negative(found) || strip_zeros(found) != expected_magnitude {
            return Err(TimestampError::NonceMismatch {
                expected: expected_hex,
                found: integer_hex(found),
            });
        }
    }

    if let Some(policy) = expect.policy {
        let expected = parse_policy(policy)?;
        if tst.policy != expected {
            return Err(TimestampError::PolicyMismatch {
                expected: expected.to_string(),
                found: tst.policy.to_string(),
            });
        }
    }

    if let Some(not_before) = expect.not_before
        && tst.gen_time.unix < not_before
    {
        return Err(TimestampError::GenTimeTooEarly {
            gen_time: tst.gen_time.rfc3339(),
            not_before: rfc3339(not_before),
        });
    }
    Ok(())
}

/// SHA-2 AlgorithmIdentifiers come with absent or NULL parameters
/// (RFC 5754 §2: verifiers accept both); anything else is malformed.
fn check_hash_parameters(
    algorithm: &AlgorithmIdentifierRef<'_>,
    what: &'static str,
) -> Result<(), TimestampError> {
    match algorithm.parameters {
        None => Ok(()),
        Some(p) if p.tag() == Tag::Null && p.value().is_empty() => Ok(()),
        Some(_) => Err(TimestampError::malformed(
            what,
            "hash algorithm parameters must be absent or NULL",
        )),
    }
}

/// A SHA-2 algorithm from an AlgorithmIdentifier, or a clear refusal.
fn digest_algorithm(
    algorithm: &AlgorithmIdentifierRef<'_>,
    what: &'static str,
) -> Result<HashAlg, TimestampError> {
    let alg =
        HashAlg::from_oid(&algorithm.oid).ok_or_else(|| TimestampError::UnsupportedDigest {
            what,
            oid: oid::describe(&algorithm.oid),
        })?;
    check_hash_parameters(algorithm, what)?;
    Ok(alg)
}

/// Rule 8: content-type is id-ct-TSTInfo and message-digest is the digest
/// of the TSTInfo, so the signature covers the TSTInfo.
fn check_content_attributes(
    attributes: &[Attribute<'_>],
    digest_alg: HashAlg,
    tst_info: &[u8],
) -> Result<(), TimestampError> {
    const CONTENT_TYPE: &str = "content-type (1.2.840.113549.1.9.3)";
    const MESSAGE_DIGEST: &str = "message-digest (1.2.840.113549.1.9.4)";

    let content_type = single_value(attributes, oid::ATTR_CONTENT_TYPE, CONTENT_TYPE)?
        .ok_or(TimestampError::MissingAttribute(CONTENT_TYPE))?;
    let content_type =
        content_type
            .decode_as::<ObjectIdentifier>()
            .map_err(|e| TimestampError::BadAttribute {
                attribute: CONTENT_TYPE,
                detail: e.to_string(),
            })?;
    if content_type != oid::TST_INFO {
        return Err(TimestampError::ContentTypeAttributeMismatch(oid::describe(
            &content_type,
        )));
    }

    let digest = single_value(attributes, oid::ATTR_MESSAGE_DIGEST, MESSAGE_DIGEST)?
        .ok_or(TimestampError::MissingAttribute(MESSAGE_DIGEST))?;
    if digest.tag() != Tag::OctetString {
        return Err(TimestampError::BadAttribute {
            attribute: MESSAGE_DIGEST,
            detail: format!("its value is a {}, not an OCTET STRING", digest.tag()),
        });
    }
    if digest.value() != digest_alg.digest(tst_info).as_slice() {
        return Err(TimestampError::MessageDigestMismatch);
    }
    Ok(())
}

/// The hash an ESS certificate identifier uses.
#[derive(Clone, Copy)]
enum EssHash {
    /// ESSCertID (v1) is SHA-1 by definition (RFC 2634 §5.4.1).
    Sha1,
    Sha2(HashAlg),
}

impl EssHash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            EssHash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            EssHash::Sha2(alg) => alg.digest(data),
        }
    }
}

/// The first ESSCertID(v2) of one signing-certificate attribute: the
/// certificate it names is the signer's (RFC 5035 §5.4).
struct EssCertId<'a> {
    attribute: &'static str,
    hash: EssHash,
    cert_hash: &'a [u8],
    /// The directory names of issuerSerial.issuer and the serial's
    /// INTEGER contents, when issuerSerial is present.
    issuer_serial: Option<(Vec<Name>, &'a [u8])>,
}

impl EssCertId<'_> {
    /// Why `cert` is not the certificate this identifies, if it is not.
    fn mismatch(&self, cert: &Cert) -> Option<String> {
        if self.hash.digest(&cert.der) != self.cert_hash {
            return Some(format!(
                "the {} certHash is not the hash of {}",
                self.attribute,
                cert.subject_text()
            ));
        }
        if let Some((issuers, serial)) = &self.issuer_serial
            && (*serial != cert.serial() || !issuers.iter().any(|n| n == cert.issuer()))
        {
            return Some(format!(
                "the {} issuerSerial does not name {}",
                self.attribute,
                cert.subject_text()
            ));
        }
        None
    }
}

const SIGNING_CERTIFICATE: &str = "ESS signing-certificate (1.2.840.113549.1.9.16.2.12)";
const SIGNING_CERTIFICATE_V2: &str = "ESS signing-certificate-v2 (1.2.840.113549.1.9.16.2.47)";

/// Rule 8: the signing-certificate attributes present (v1, v2 or both;
/// at least one). Each one present must then identify the signer.
fn ess_cert_ids<'a>(attributes: &[Attribute<'a>]) -> Result<Vec<EssCertId<'a>>, TimestampError> {
    let mut out = Vec::new();
    if let Some(value) = single_value(
        attributes,
        oid::ATTR_SIGNING_CERTIFICATE,
        SIGNING_CERTIFICATE,
    )? {
        out.push(
            parse_ess(value, SIGNING_CERTIFICATE, false)
                .map_err(|e| ess_error(SIGNING_CERTIFICATE, e))?,
        );
    }
    if let Some(value) = single_value(
        attributes,
        oid::ATTR_SIGNING_CERTIFICATE_V2,
        SIGNING_CERTIFICATE_V2,
    )? {
        out.push(
            parse_ess(value, SIGNING_CERTIFICATE_V2, true)
                .map_err(|e| ess_error(SIGNING_CERTIFICATE_V2, e))?,
        );
    }
    if out.is_empty() {
        return Err(TimestampError::MissingAttribute(
            "ESS signing-certificate or signing-certificate-v2",
        ));
    }
    Ok(out)
}

fn ess_error(attribute: &'static str, e: TimestampError) -> TimestampError {
    match e {
        TimestampError::Malformed { detail, .. } => {
            TimestampError::BadAttribute { attribute, detail }
        }
        other => other,
    }
}

/// Reads SigningCertificate(V2) and returns its first certificate id.
fn parse_ess<'a>(
    value: AnyRef<'a>,
    attribute: &'static str,
    v2: bool,
) -> Result<EssCertId<'a>, TimestampError> {
    if value.tag() != Tag::Sequence {
        return Err(TimestampError::malformed(attribute, "not a SEQUENCE"));
    }
    let mut signing_certificate = Cursor::new(value.value(), attribute)?;
    let mut certs = signing_certificate.next_sequence()?;
    // Policies may follow; they restrict use and are not checked here.
    let mut first = certs.next_sequence()?;
    let hash = if v2 && first.peek_tag() == Some(Tag::Sequence) {
        let algorithm = first.decode::<AlgorithmIdentifierRef<'_>>()?;
        if algorithm.oid == oid::SHA1 {
            EssHash::Sha1
        } else {
            EssHash::Sha2(digest_algorithm(&algorithm, attribute)?)
        }
    } else if v2 {
        // DEFAULT {algorithm id-sha256} (RFC 5035 §5.4.1).
        EssHash::Sha2(HashAlg::Sha256)
    } else {
        EssHash::Sha1
    };
    let cert_hash = first.next_octets()?;
    let issuer_serial = if first.is_empty() {
        None
    } else {
        let mut issuer_serial = first.next_sequence()?;
        let mut general_names = issuer_serial.next_sequence()?;
        let mut names = Vec::new();
        while !general_names.is_empty() {
            // directoryName [4] EXPLICIT Name; other forms cannot match a
            // certificate's issuer.
            match general_names.optional(context(4, true))? {
                Some(explicit) => {
                    let mut inner = Cursor::new(explicit.value(), attribute)?;
                    names.push(inner.decode::<Name>()?);
                    inner.finish()?;
                }
                None => {
                    general_names.next_any()?;
                }
            }
        }
        let serial = issuer_serial.next_integer()?;
        Some((names, serial))
    };
    Ok(EssCertId {
        attribute,
        hash,
        cert_hash,
        issuer_serial,
    })
}

/// Rule 7: the certificate the SignerInfo names, from the reply's
/// certificates and then the trusted roots. Several certificates can
/// carry the same issuer and serial (a bag may hold anything); the ESS
/// identifiers then decide, as they bind the signer by hash.
fn find_signer<'c>(
    signer_info: &SignerInfo<'_>,
    bag: &'c [Cert],
    roots: &'c TrustedRoots,
    ess: &[EssCertId<'_>],
) -> Result<&'c Cert, TimestampError> {
    let mut candidates: Vec<&Cert> = Vec::new();
    for cert in bag.iter().chain(roots.certs()) {
        if sid_names(&signer_info.sid, cert) && !candidates.iter().any(|c| c.der == cert.der) {
            candidates.push(cert);
        }
    }
    if candidates.is_empty() {
        return Err(TimestampError::SignerCertificateMissing {
            sid: signer_info.sid.to_string(),
        });
    }
    let mut first_mismatch = None;
    for cert in &candidates {
        match ess.iter().find_map(|id| id.mismatch(cert)) {
            None => return Ok(cert),
            Some(why) => {
                first_mismatch.get_or_insert(why);
            }
        }
    }
    Err(TimestampError::SigningCertificateMismatch(
        first_mismatch.unwrap_or_default(),
    ))
}

/// Whether `sid` names `cert`. An unreadable subjectKeyIdentifier names
/// nothing: it must not let a stray certificate fail the search.
fn sid_names(sid: &SignerId<'_>, cert: &Cert) -> bool {
    match sid {
        SignerId::IssuerSerial { issuer, serial } => {
            *serial == cert.serial() && issuer == cert.issuer()
        }
        SignerId::KeyId(id) => cert
            .subject_key_id()
            .ok()
            .flatten()
            .is_some_and(|ski| ski == *id),
    }
}

/// Rule 10: a critical extendedKeyUsage of exactly id-kp-timeStamping
/// (RFC 3161 §2.3), and not a CA.
fn check_signer_purpose(signer: &Cert) -> Result<(), TimestampError> {
    let subject = signer.subject_text();
    let Some((critical, purposes)) = signer.extended_key_usage()? else {
        return Err(TimestampError::EkuMissing { subject });
    };
    if !critical {
        return Err(TimestampError::EkuNotCritical { subject });
    }
    if purposes != [oid::KP_TIME_STAMPING] {
        return Err(TimestampError::EkuNotTimeStampingOnly {
            subject,
            found: purposes
                .iter()
                .map(oid::describe)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if signer.is_ca()? {
        return Err(TimestampError::SignerIsCa { subject });
    }
    Ok(())
}
