//! X.509 certificates as verification uses them, and the trusted roots.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Tag, Tagged as _};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};
use x509_cert::name::Name;

use super::TimestampError;
use super::asn1::Cursor;
use super::oid;

/// A decoded certificate with the exact bytes it was sent as.
#[derive(Clone)]
pub(crate) struct Cert {
    /// The complete DER, as received: what ESS hashes and roots compare.
    pub der: Vec<u8>,
    /// The tbsCertificate as received: what the issuer signed (not
    /// re-encoded, which could reorder its name sets).
    pub tbs: Vec<u8>,
    pub inner: Certificate,
}

impl Cert {
    /// Decodes one DER certificate (nothing may follow it).
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, String> {
        let inner = Certificate::from_der(der).map_err(|e| e.to_string())?;
        let mut outer =
            Cursor::open(der, Tag::Sequence, "Certificate").map_err(|e| e.to_string())?;
        let tbs = outer.next_raw().map_err(|e| e.to_string())?.to_vec();
        Ok(Cert {
            der: der.to_vec(),
            tbs,
            inner,
        })
    }

    pub(crate) fn subject(&self) -> &Name {
        &self.inner.tbs_certificate.subject
    }

    pub(crate) fn issuer(&self) -> &Name {
        &self.inner.tbs_certificate.issuer
    }

    /// The subject as RFC 4514 text (`CN=...,O=...`).
    pub(crate) fn subject_text(&self) -> String {
        name_text(self.subject())
    }

    /// The serial number's INTEGER contents.
    pub(crate) fn serial(&self) -> &[u8] {
        self.inner.tbs_certificate.serial_number.as_bytes()
    }

    /// Whether subject and issuer are the same name (RFC 5280's
    /// "self-issued"; such certificates do not count against path lengths).
    pub(crate) fn is_self_issued(&self) -> bool {
        self.subject() == self.issuer()
    }

    /// notBefore and notAfter as Unix seconds.
    pub(crate) fn validity(&self) -> (i64, i64) {
        let validity = &self.inner.tbs_certificate.validity;
        let secs = |t: &x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        (secs(&validity.not_before), secs(&validity.not_after))
    }

    fn bad(&self, detail: impl ToString) -> TimestampError {
        TimestampError::BadCertificate {
            which: self.subject_text(),
            detail: detail.to_string(),
        }
    }

    /// The extension `oid`, refusing duplicates (RFC 5280 §4.2: a
    /// certificate must not include an extension twice, and a verifier
    /// must not choose between two answers).
    fn extension(&self, id: ObjectIdentifier) -> Result<Option<&Extension>, TimestampError> {
        let mut found = self
            .inner
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == id);
        let first = found.next();
        if found.next().is_some() {
            return Err(self.bad(format!("extension {} appears twice", oid::describe(&id))));
        }
        Ok(first)
    }

    fn decode_extension<'a, T: Decode<'a>>(
        &'a self,
        id: ObjectIdentifier,
    ) -> Result<Option<(bool, T)>, TimestampError> {
        let Some(ext) = self.extension(id)? else {
            return Ok(None);
        };
        let value = T::from_der(ext.extn_value.as_bytes())
            .map_err(|e| self.bad(format!("extension {}: {e}", oid::describe(&id))))?;
        Ok(Some((ext.critical, value)))
    }

    /// Whether basicConstraints says cA=TRUE.
    pub(crate) fn is_ca(&self) -> Result<bool, TimestampError> {
        Ok(self
            .decode_extension::<BasicConstraints>(oid::CE_BASIC_CONSTRAINTS)?
            .is_some_and(|(_, bc)| bc.ca))
    }

    /// basicConstraints' pathLenConstraint, when cA=TRUE and it is set.
    pub(crate) fn path_len_constraint(&self) -> Result<Option<u8>, TimestampError> {
        Ok(self
            .decode_extension::<BasicConstraints>(oid::CE_BASIC_CONSTRAINTS)?
            .and_then(|(_, bc)| if bc.ca { bc.path_len_constraint } else { None }))
    }

    /// keyUsage, when present.
    pub(crate) fn key_usage(&self) -> Result<Option<KeyUsage>, TimestampError> {
        Ok(self
            .decode_extension::<KeyUsage>(oid::CE_KEY_USAGE)?
            .map(|(_, ku)| ku))
    }

    /// extendedKeyUsage and its criticality, when present.
    pub(crate) fn extended_key_usage(
        &self,
    ) -> Result<Option<(bool, Vec<ObjectIdentifier>)>, TimestampError> {
        Ok(self
            .decode_extension::<ExtendedKeyUsage>(oid::CE_EXT_KEY_USAGE)?
            .map(|(critical, eku)| (critical, eku.0)))
    }

    /// subjectKeyIdentifier, when present.
    pub(crate) fn subject_key_id(&self) -> Result<Option<Vec<u8>>, TimestampError> {
        Ok(self
            .decode_extension::<SubjectKeyIdentifier>(oid::CE_SUBJECT_KEY_IDENTIFIER)?
            .map(|(_, ski)| ski.0.as_bytes().to_vec()))
    }

    /// Every commonName of the subject, decoded from the string types
    /// certificates use.
    pub(crate) fn common_names(&self) -> Vec<String> {
        self.subject()
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .filter(|atv| atv.oid == oid::AT_COMMON_NAME)
            .filter_map(|atv| directory_string(AnyRef::from(&atv.value)))
            .collect()
    }
}

/// RFC 4514 text of a name (most specific attribute first).
pub(crate) fn name_text(name: &Name) -> String {
    let text = name.to_string();
    if text.is_empty() {
        "(empty name)".to_owned()
    } else {
        text
    }
}

/// A DirectoryString's text, if it is one of the string types in use.
fn directory_string(value: AnyRef<'_>) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        // T.61 in practice carries Latin-1.
        Tag::TeletexString => Some(bytes.iter().map(|b| char::from(*b)).collect()),
        Tag::BmpString => {
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// The certificates a verifier trusts as the ends of TSA chains.
///
/// Every certificate here is a trust anchor: a chain may stop at any of
/// them (so an intermediate given here is trusted as such). A TSA's own
/// certificate may be given too, so that replies that do not embed it
/// can be verified; it still has to chain to a CA here.
#[derive(Clone)]
pub struct TrustedRoots {
    certs: Vec<Cert>,
}

impl std::fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.certs.iter().map(Cert::subject_text))
            .finish()
    }
}

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

impl TrustedRoots {
    /// Reads one or more PEM `CERTIFICATE` blocks (other PEM blocks and
    /// text around them are ignored), or a single DER certificate.
    ///
    /// # Errors
    /// [`TimestampError::NoRoots`] when there is no certificate;
    /// [`TimestampError::BadRoot`] when one cannot be decoded.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self, TimestampError> {
        // A DER certificate starts with a SEQUENCE tag; PEM with text.
        if bytes.first() == Some(&0x30) {
            let cert = Cert::from_der(bytes)
                .map_err(|detail| TimestampError::BadRoot { index: 1, detail })?;
            return Ok(TrustedRoots { certs: vec![cert] });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| TimestampError::NoRoots)?;
        let mut certs = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(PEM_BEGIN) {
            let body = &rest[start + PEM_BEGIN.len()..];
            let index = certs.len() + 1;
            let end = body.find(PEM_END).ok_or_else(|| TimestampError::BadRoot {
                index,
                detail: format!("the PEM block has no {PEM_END} line"),
            })?;
            let base64: String = body[..end]
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let der = BASE64.decode(base64).map_err(|e| TimestampError::BadRoot {
                index,
                detail: format!("the PEM block is not base64: {e}"),
            })?;
            let cert =
                Cert::from_der(&der).map_err(|detail| TimestampError::BadRoot { index, detail })?;
            certs.push(cert);
            rest = &body[end + PEM_END.len()..];
        }
        if certs.is_empty() {
            return Err(TimestampError::NoRoots);
        }
        Ok(TrustedRoots { certs })
    }

    /// How many certificates are trusted.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether no certificate is trusted (never true for a value built by
    /// [`TrustedRoots::from_pem_or_der`]).
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    pub(crate) fn certs(&self) -> &[Cert] {
        &self.certs
    }

    /// Whether `cert` is one of the trusted certificates, byte for byte.
    pub(crate) fn contains(&self, cert: &Cert) -> bool {
        self.certs.iter().any(|c| c.der == cert.der)
    }
}
