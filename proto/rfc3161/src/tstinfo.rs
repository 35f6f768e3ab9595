//! The signed `TSTInfo` (RFC 3161 §2.4.2).

use der::Tag;
use der::asn1::ObjectIdentifier;
use spki::AlgorithmIdentifierRef;
use x509_cert::name::Name;

use super::TimestampError;
use super::asn1::{Cursor, context};
use super::time::{GenTime, parse_generalized_time};

/// A TSTInfo, read but not checked.
pub(crate) struct TstInfo<'a> {
    /// The version's INTEGER contents.
    pub version: &'a [u8],
    pub policy: ObjectIdentifier,
    pub imprint_algorithm: AlgorithmIdentifierRef<'a>,
    pub imprint_digest: &'a [u8],
    /// The serialNumber's INTEGER contents.
    pub serial: &'a [u8],
    pub gen_time: GenTime,
    /// The nonce's INTEGER contents.
    pub nonce: Option<&'a [u8]>,
    /// The `tsa` field when it is a directoryName; other GeneralName
    /// forms are only hints and are not compared.
    pub tsa_directory_name: Option<Name>,
}

/// Reads a DER TSTInfo.
pub(crate) fn parse(der: &[u8]) -> Result<TstInfo<'_>, TimestampError> {
    let mut tst = Cursor::open(der, Tag::Sequence, "TSTInfo")?;
    let version = tst.next_integer()?;
    let policy = tst.next_oid()?;

    let mut imprint = tst.next_sequence()?;
    let imprint_algorithm = imprint.decode::<AlgorithmIdentifierRef<'_>>()?;
    let imprint_digest = imprint.next_octets()?;
    imprint.finish()?;

    let serial = tst.next_integer()?;
    let raw_time = tst.next_tagged(Tag::GeneralizedTime)?.value();
    let gen_time =
        parse_generalized_time(raw_time).map_err(|reason| TimestampError::BadGenTime {
            raw: String::from_utf8_lossy(raw_time).into_owned(),
            reason,
        })?;

    tst.optional(Tag::Sequence)?; // accuracy: informational
    tst.optional(Tag::Boolean)?; // ordering: informational
    let nonce = tst.optional(Tag::Integer)?;
    let nonce = nonce
        .map(|n| super::asn1::integer_bytes(n.value()))
        .transpose()
        .map_err(|e| TimestampError::malformed("TSTInfo nonce", e))?;

    let mut tsa_directory_name = None;
    if let Some(explicit) = tst.optional(context(0, true))? {
        let mut general_name = Cursor::new(explicit.value(), "TSTInfo tsa")?;
        // directoryName is [4], EXPLICIT because Name is a CHOICE.
        if let Some(directory) = general_name.optional(context(4, true))? {
            let mut name = Cursor::new(directory.value(), "TSTInfo tsa")?;
            tsa_directory_name = Some(name.decode::<Name>()?);
            name.finish()?;
        } else {
            general_name.next_any()?;
        }
        general_name.finish()?;
    }
    tst.optional(context(1, true))?; // extensions: none is defined by RFC 3161
    tst.finish()?;

    Ok(TstInfo {
        version,
        policy,
        imprint_algorithm,
        imprint_digest,
        serial,
        gen_time,
        nonce,
        tsa_directory_name,
    })
}
