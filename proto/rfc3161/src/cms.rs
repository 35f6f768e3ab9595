//! The timeStampToken: a CMS `ContentInfo` holding `SignedData`
//! (RFC 5652 §5), read down to the bytes verification needs.

use der::Tag;
use der::asn1::{AnyRef, ObjectIdentifier};
use spki::AlgorithmIdentifierRef;
use x509_cert::name::Name;

use super::TimestampError;
use super::asn1::{Cursor, context, hex, integer_hex};
use super::oid;

/// A timeStampToken, read but not verified.
pub(crate) struct SignedToken<'a> {
    /// The eContent: the DER TSTInfo, as signed.
    pub tst_info: &'a [u8],
    /// Complete encodings of the X.509 certificates of the `certificates`
    /// set, in the order sent (other certificate choices are skipped).
    pub certificates: Vec<&'a [u8]>,
    /// The only SignerInfo.
    pub signer: SignerInfo<'a>,
}

/// How a SignerInfo names its certificate.
pub(crate) enum SignerId<'a> {
    /// `issuerAndSerialNumber`.
    IssuerSerial {
        /// The certificate's issuer.
        issuer: Name,
        /// Its serial number's INTEGER contents.
        serial: &'a [u8],
    },
    /// `subjectKeyIdentifier`.
    KeyId(&'a [u8]),
}

impl std::fmt::Display for SignerId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignerId::IssuerSerial { issuer, serial } => {
                write!(f, "issuer {issuer}, serial {}", integer_hex(serial))
            }
            SignerId::KeyId(id) => write!(f, "subject key identifier {}", hex(id)),
        }
    }
}

/// A SignerInfo.
pub(crate) struct SignerInfo<'a> {
    pub sid: SignerId<'a>,
    pub digest_algorithm: AlgorithmIdentifierRef<'a>,
    /// The contents of the `[0] IMPLICIT` signed attributes, as sent.
    pub signed_attrs: Option<&'a [u8]>,
    pub signature_algorithm: AlgorithmIdentifierRef<'a>,
    pub signature: &'a [u8],
}

/// One attribute: its type and values.
pub(crate) struct Attribute<'a> {
    pub oid: ObjectIdentifier,
    pub values: Vec<AnyRef<'a>>,
}

/// Reads a timeStampToken (rule 2: SignedData over id-ct-TSTInfo with
/// exactly one SignerInfo).
pub(crate) fn parse_token(token: &[u8]) -> Result<SignedToken<'_>, TimestampError> {
    let mut content_info = Cursor::open(token, Tag::Sequence, "timeStampToken ContentInfo")?;
    let content_type = content_info.next_oid()?;
    if content_type != oid::SIGNED_DATA {
        return Err(TimestampError::NotSignedData(oid::describe(&content_type)));
    }
    let explicit = content_info.next_tagged(context(0, true))?;
    content_info.finish()?;

    let mut signed_data = Cursor::open(explicit.value(), Tag::Sequence, "SignedData")?;
    signed_data.next_integer()?; // version: not checked, as RFC 5652 verifiers do not
    signed_data.next_tagged(Tag::Set)?; // digestAlgorithms: the SignerInfo's counts

    let mut encap = signed_data.next_sequence()?;
    let e_content_type = encap.next_oid()?;
    if e_content_type != oid::TST_INFO {
        return Err(TimestampError::NotTstInfo(oid::describe(&e_content_type)));
    }
    let tst_info = match encap.optional(context(0, true))? {
        Some(explicit) => {
            let mut inner = Cursor::new(explicit.value(), "eContent")?;
            let octets = inner.next_octets()?;
            inner.finish()?;
            octets
        }
        None => return Err(TimestampError::MissingTstInfo),
    };
    encap.finish()?;

    let mut certificates = Vec::new();
    if let Some(set) = signed_data.optional(context(0, true))? {
        let mut choices = Cursor::new(set.value(), "SignedData certificates")?;
        while !choices.is_empty() {
            // Only plain X.509 certificates (SEQUENCE); attribute and
            // other certificates ([0]..[3]) cannot sign a time stamp.
            let is_certificate = choices.peek_tag() == Some(Tag::Sequence);
            let raw = choices.next_raw()?;
            if is_certificate {
                certificates.push(raw);
            }
        }
    }
    signed_data.optional(context(1, true))?; // crls: revocation is not checked

    let signer_infos = signed_data.next_tagged(Tag::Set)?;
    signed_data.finish()?;
    let mut infos = Cursor::new(signer_infos.value(), "SignerInfos")?;
    let mut signers = Vec::new();
    while !infos.is_empty() {
        signers.push(infos.next_raw()?);
    }
    let [signer] = signers[..] else {
        return Err(TimestampError::SignerInfoCount(signers.len()));
    };

    Ok(SignedToken {
        tst_info,
        certificates,
        signer: parse_signer_info(signer)?,
    })
}

fn parse_signer_info(bytes: &[u8]) -> Result<SignerInfo<'_>, TimestampError> {
    let mut info = Cursor::open(bytes, Tag::Sequence, "SignerInfo")?;
    info.next_integer()?; // version follows from the sid form
    let sid = match info.peek_tag() {
        Some(Tag::Sequence) => {
            let mut issuer_serial = info.next_sequence()?;
            let issuer = issuer_serial.decode::<Name>()?;
            let serial = issuer_serial.next_integer()?;
            issuer_serial.finish()?;
            SignerId::IssuerSerial { issuer, serial }
        }
        _ => SignerId::KeyId(info.next_tagged(context(0, false))?.value()),
    };
    let digest_algorithm = info.decode::<AlgorithmIdentifierRef<'_>>()?;
    let signed_attrs = info.optional(context(0, true))?.map(|a| a.value());
    let signature_algorithm = info.decode::<AlgorithmIdentifierRef<'_>>()?;
    let signature = info.next_octets()?;
    info.optional(context(1, true))?; // unsigned attributes: not covered by the signature
    info.finish()?;
    Ok(SignerInfo {
        sid,
        digest_algorithm,
        signed_attrs,
        signature_algorithm,
        signature,
    })
}

/// Reads the contents of a SET OF Attribute.
pub(crate) fn parse_attributes(contents: &[u8]) -> Result<Vec<Attribute<'_>>, TimestampError> {
    let mut set = Cursor::new(contents, "signed attributes")?;
    let mut out = Vec::new();
    while !set.is_empty() {
        let mut attribute = set.next_sequence()?;
        let oid = attribute.next_oid()?;
        let values_set = attribute.next_tagged(Tag::Set)?;
        attribute.finish()?;
        let mut values_cursor = Cursor::new(values_set.value(), "attribute values")?;
        let mut values = Vec::new();
        while !values_cursor.is_empty() {
            values.push(values_cursor.next_any()?);
        }
        out.push(Attribute { oid, values });
    }
    Ok(out)
}

/// The only value of the only attribute of type `oid`; `None` if absent.
/// Several attributes of one type, or several values, are refused
/// (RFC 5652 §11.1, §11.2): a verifier must not pick one.
pub(crate) fn single_value<'a>(
    attributes: &[Attribute<'a>],
    oid: ObjectIdentifier,
    name: &'static str,
) -> Result<Option<AnyRef<'a>>, TimestampError> {
    let mut found = attributes.iter().filter(|a| a.oid == oid);
    let Some(attribute) = found.next() else {
        return Ok(None);
    };
    let bad = |detail: &str| TimestampError::BadAttribute {
        attribute: name,
        detail: detail.to_owned(),
    };
    if found.next().is_some() {
        return Err(bad("it appears more than once"));
    }
    match attribute.values[..] {
        [value] => Ok(Some(value)),
        _ => Err(bad("it must have exactly one value")),
    }
}
