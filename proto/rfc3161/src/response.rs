//! The outer `TimeStampResp` (RFC 3161 §2.4.2): the TSA's status and, when
//! granted, the token.

use der::Tag;
use der::asn1::{BitStringRef, Utf8StringRef};

use super::TimestampError;
use super::asn1::{Cursor, is_negative, strip_zeros};

/// A `TimeStampResp`, read but not verified.
pub(crate) struct Response<'a> {
    /// The PKIStatus.
    pub status: u8,
    /// statusString and failInfo as text.
    pub text: Option<String>,
    /// The complete encoding of the timeStampToken (a CMS ContentInfo).
    pub token: Option<&'a [u8]>,
}

impl Response<'_> {
    /// Rule 1: the TSA granted the time stamp (possibly with changes).
    pub(crate) fn require_granted(&self) -> Result<(), TimestampError> {
        if self.status <= 1 {
            return Ok(());
        }
        Err(TimestampError::NotGranted {
            status: self.status,
            name: status_name(self.status),
            text: self.text.clone(),
        })
    }
}

/// The PKIStatus of a DER `TimeStampResp` and the TSA's explanation
/// (statusString and failInfo, as text), without verifying anything else:
/// for reporting why a TSA refused.
///
/// PKIStatus values: 0 granted, 1 grantedWithMods, 2 rejection, 3 waiting,
/// 4 revocationWarning, 5 revocationNotification.
///
/// # Errors
/// [`TimestampError::Malformed`] if `der` is not a `TimeStampResp`.
pub fn response_status(der: &[u8]) -> Result<(u8, Option<String>), TimestampError> {
    let response = parse(der)?;
    Ok((response.status, response.text))
}

/// Reads a DER `TimeStampResp`.
pub(crate) fn parse(der: &[u8]) -> Result<Response<'_>, TimestampError> {
    let mut resp = Cursor::open(der, Tag::Sequence, "TimeStampResp")?;

    let mut info = resp.next_sequence()?;
    let status = info.next_integer()?;
    let status = match strip_zeros(status) {
        _ if is_negative(status) => None,
        [] => Some(0),
        [n] => Some(*n),
        _ => None,
    }
    .ok_or_else(|| TimestampError::malformed("PKIStatusInfo", "PKIStatus is out of range"))?;
    let mut text = Vec::new();
    if info.peek_tag() == Some(Tag::Sequence) {
        let mut strings = info.next_sequence()?;
        while !strings.is_empty() {
            text.push(strings.decode::<Utf8StringRef<'_>>()?.as_str().to_owned());
        }
    }
    if info.peek_tag() == Some(Tag::BitString) {
        let bits = info.decode::<BitStringRef<'_>>()?;
        let failures: Vec<String> = bits
            .bits()
            .enumerate()
            .filter(|(_, set)| *set)
            .map(|(bit, _)| fail_info(bit))
            .collect();
        if !failures.is_empty() {
            text.push(format!("failInfo {}", failures.join(", ")));
        }
    }
    info.finish()?;

    let token = if resp.is_empty() {
        None
    } else {
        Some(resp.next_raw()?)
    };
    resp.finish()?;
    Ok(Response {
        status,
        text: (!text.is_empty()).then(|| text.join("; ")),
        token,
    })
}

/// RFC 3161's name of a PKIStatus.
pub(crate) fn status_name(status: u8) -> &'static str {
    match status {
        0 => "granted",
        1 => "grantedWithMods",
        2 => "rejection",
        3 => "waiting",
        4 => "revocationWarning",
        5 => "revocationNotification",
        _ => "unknown status",
    }
}

/// A PKIFailureInfo bit, named and explained as RFC 3161 does.
fn fail_info(bit: usize) -> String {
    let (name, meaning) = match bit {
        0 => ("badAlg", "unrecognized or unsupported algorithm"),
        2 => ("badRequest", "transaction not permitted or supported"),
        5 => ("badDataFormat", "the data submitted has the wrong format"),
        14 => ("timeNotAvailable", "the TSA's time source is not available"),
        15 => (
            "unacceptedPolicy",
            "the requested TSA policy is not supported by the TSA",
        ),
        16 => (
            "unacceptedExtension",
            "the requested extension is not supported by the TSA",
        ),
        17 => (
            "addInfoNotAvailable",
            "the additional information requested could not be understood or is not available",
        ),
        25 => (
            "systemFailure",
            "the request cannot be handled due to system failure",
        ),
        _ => return format!("bit {bit}"),
    };
    format!("{name} ({meaning})")
}
