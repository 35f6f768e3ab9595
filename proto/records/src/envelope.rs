//! The signed envelope of a log entry, after DSSE (in-toto's Dead Simple
//! Signing Envelope, <https://github.com/secure-systems-lab/dsse>,
//! protocol v1).
//!
//! A signature covers the pre-authentication encoding
//!
//! ```text
//! PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body
//! ```
//!
//! with lengths in ASCII decimal and SP = 0x20. Causeway signatures are DER
//! ECDSA P-256 over SHA-256 of the PAE; `keyid` is the signer's
//! [`key_id`]. The log entry is the protobuf
//! `causeway.v1.Envelope` ([`Envelope::encode`]); [`Envelope::to_dsse_json`]
//! gives the standard DSSE JSON form for other DSSE tools.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as BASE64};
use prost::Message as _;
use serde::Deserialize;

use super::keys::{ProducerKey, key_id, verify_p256};
use super::kinds::Record;
use super::{PAYLOAD_TYPE, RecordError};
use crate::v1 as pb;

/// What a strict decoder expected, for [`json_hint`].
#[derive(Clone, Copy)]
pub(crate) enum Expected {
    /// The log entry: a protobuf `Envelope`.
    Envelope,
    /// The envelope's payload: a protobuf `Record`.
    Record,
}

/// A hint for bytes that failed to decode as protobuf but are JSON: the
/// most common mistake of a new producer (sending the CLI's JSON form, or
/// DSSE JSON, where the protobuf encoding belongs). Empty otherwise.
pub(crate) fn json_hint(bytes: &[u8], expected: Expected) -> &'static str {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return "";
    };
    let dsse = value.get("payloadType").is_some() && value.get("signatures").is_some();
    match (expected, dsse) {
        (Expected::Envelope, true) => {
            "; the entry looks like DSSE JSON: send the protobuf `Envelope` encoding instead \
             (`causeway submit` converts DSSE JSON files; see docs/producers.md)"
        }
        (Expected::Envelope, false) => {
            "; this looks like JSON: the entry must be the protobuf `Envelope` encoding \
             (see docs/producers.md)"
        }
        (Expected::Record, _) => {
            "; this looks like JSON: the payload must be the protobuf `Record` encoding, \
             not the JSON form (see docs/producers.md)"
        }
    }
}

/// DSSE's pre-authentication encoding of a payload type and payload.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// A signed envelope: one log entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// The payload type; [`PAYLOAD_TYPE`] for Causeway records.
    pub payload_type: String,
    /// The payload: an encoded [`Record`].
    pub payload: Vec<u8>,
    /// The signatures; the log requires exactly one.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an [`Envelope`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnvelopeSignature {
    /// The signer's key ID: lowercase hex SHA-256 of its DER SPKI.
    pub keyid: String,
    /// The DER ECDSA P-256 signature over SHA-256 of the PAE.
    pub sig: Vec<u8>,
}

/// DSSE JSON (`payloadType`, `payload`, `signatures[{keyid, sig}]`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DsseJson {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<DsseJsonSignature>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DsseJsonSignature {
    /// Optional in DSSE; Causeway always writes it.
    #[serde(default)]
    keyid: String,
    sig: String,
}

const INDIFFERENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_ANY_PADDING: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, INDIFFERENT);
const URL_SAFE_ANY_PADDING: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::URL_SAFE, INDIFFERENT);

/// DSSE allows standard or URL-safe base64; accept either, padded or not.
fn dsse_base64(text: &str, field: &str) -> Result<Vec<u8>, RecordError> {
    STANDARD_ANY_PADDING
        .decode(text)
        .or_else(|_| URL_SAFE_ANY_PADDING.decode(text))
        .map_err(|e| RecordError::DsseJson(format!("{field}: invalid base64: {e}")))
}

impl Envelope {
    /// Signs a record with a producer key: payload type [`PAYLOAD_TYPE`],
    /// payload the record's protobuf encoding, one signature.
    pub fn sign(record: &Record, key: &ProducerKey) -> Envelope {
        let payload = record.to_protobuf();
        let sig = key.sign(&pae(PAYLOAD_TYPE, &payload));
        Envelope {
            payload_type: PAYLOAD_TYPE.to_owned(),
            payload,
            signatures: vec![EnvelopeSignature {
                keyid: key.key_id(),
                sig,
            }],
        }
    }

    /// The protobuf encoding: the log entry's bytes.
    pub fn encode(&self) -> Vec<u8> {
        pb::Envelope {
            payload_type: self.payload_type.clone(),
            payload: self.payload.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| pb::EnvelopeSignature {
                    keyid: s.keyid.clone(),
                    sig: s.sig.clone(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    /// Decodes a log entry, strictly: it must be the canonical protobuf
    /// encoding of an `Envelope`. Does not look at the payload.
    ///
    /// # Errors
    /// [`RecordError::Protobuf`] or [`RecordError::NonCanonical`].
    pub fn decode(bytes: &[u8]) -> Result<Envelope, RecordError> {
        let what = "envelope";
        let hint = json_hint(bytes, Expected::Envelope);
        if !hint.is_empty() {
            return Err(RecordError::Protobuf {
                what,
                message: format!("it is JSON{hint}"),
            });
        }
        let msg = pb::Envelope::decode(bytes).map_err(|e| RecordError::Protobuf {
            what,
            message: e.to_string(),
        })?;
        if msg.encode_to_vec() != bytes {
            return Err(RecordError::NonCanonical { what });
        }
        Ok(Envelope {
            payload_type: msg.payload_type,
            payload: msg.payload,
            signatures: msg
                .signatures
                .into_iter()
                .map(|s| EnvelopeSignature {
                    keyid: s.keyid,
                    sig: s.sig,
                })
                .collect(),
        })
    }

    /// The record in the payload, after checking the payload type.
    ///
    /// # Errors
    /// [`RecordError::PayloadType`], or any error of
    /// [`Record::from_protobuf`].
    pub fn record(&self) -> Result<Record, RecordError> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(RecordError::PayloadType {
                found: self.payload_type.clone(),
            });
        }
        Record::from_protobuf(&self.payload)
    }

    /// The envelope's only signature.
    ///
    /// # Errors
    /// [`RecordError::SignatureCount`] unless there is exactly one.
    pub fn signer(&self) -> Result<&EnvelopeSignature, RecordError> {
        match self.signatures.as_slice() {
            [one] => Ok(one),
            many => Err(RecordError::SignatureCount(many.len())),
        }
    }

    /// What makes two envelopes the same submission: the signer and the
    /// signed bytes, not the signature. ECDSA signatures are malleable
    /// (`(r, s)` and `(r, n − s)` both verify) and most signers randomize
    /// them (a record signed twice gets two signatures; [`ProducerKey`]
    /// signs deterministically), so the log deduplicates records by
    /// this, not by the entry's bytes: SHA-256 of a domain separator, the
    /// signer's key ID and the DSSE PAE.
    ///
    /// # Errors
    /// [`RecordError::SignatureCount`] unless there is exactly one signature.
    pub fn submission_id(&self) -> Result<causeway_tlog::merkle::Hash, RecordError> {
        use sha2::Digest as _;
        let signer = self.signer()?;
        let mut h = sha2::Sha256::new();
        h.update(b"causeway submission id v1\0");
        h.update(signer.keyid.as_bytes());
        h.update(b"\0");
        h.update(pae(&self.payload_type, &self.payload));
        Ok(causeway_tlog::merkle::Hash::from_bytes(h.finalize().into()))
    }

    /// Verifies the envelope's single signature with an ECDSA P-256 key
    /// given as DER SPKI; the signature's key ID must be that key's ID.
    ///
    /// # Errors
    /// [`RecordError::SignatureCount`], [`RecordError::KeyIdMismatch`],
    /// [`RecordError::InvalidKey`] or [`RecordError::BadSignature`].
    pub fn verify(&self, spki_der: &[u8]) -> Result<(), RecordError> {
        let signature = self.signer()?;
        let expected = key_id(spki_der);
        if signature.keyid != expected {
            return Err(RecordError::KeyIdMismatch {
                found: signature.keyid.clone(),
                expected,
            });
        }
        if verify_p256(
            spki_der,
            &pae(&self.payload_type, &self.payload),
            &signature.sig,
        )? {
            Ok(())
        } else if signature.sig.len() == 64 && signature.sig[0] != 0x30 {
            Err(RecordError::NotDerSignature {
                keyid: signature.keyid.clone(),
            })
        } else {
            Err(RecordError::BadSignature {
                keyid: signature.keyid.clone(),
            })
        }
    }

    /// The standard DSSE JSON form: `{"payloadType", "payload" (base64),
    /// "signatures": [{"keyid", "sig" (base64)}]}`, standard base64 with
    /// padding.
    pub fn to_dsse_json(&self) -> serde_json::Value {
        serde_json::json!({
            "payloadType": self.payload_type,
            "payload": BASE64.encode(&self.payload),
            "signatures": self
                .signatures
                .iter()
                .map(|s| serde_json::json!({"keyid": s.keyid, "sig": BASE64.encode(&s.sig)}))
                .collect::<Vec<_>>(),
        })
    }

    /// Parses the DSSE JSON form. Base64 may be standard or URL-safe,
    /// padded or not, as DSSE allows; `keyid` may be absent (empty).
    ///
    /// # Errors
    /// [`RecordError::DsseJson`] naming the field that is wrong.
    pub fn from_dsse_json(json: &str) -> Result<Envelope, RecordError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let parsed: DsseJson = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            RecordError::DsseJson(if path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            })
        })?;
        de.end().map_err(|e| RecordError::DsseJson(e.to_string()))?;
        let payload = dsse_base64(&parsed.payload, "payload")?;
        let signatures = parsed
            .signatures
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(EnvelopeSignature {
                    keyid: s.keyid,
                    sig: dsse_base64(&s.sig, &format!("signatures[{i}].sig"))?,
                })
            })
            .collect::<Result<Vec<_>, RecordError>>()?;
        Ok(Envelope {
            payload_type: parsed.payload_type,
            payload,
            signatures,
        })
    }
}
