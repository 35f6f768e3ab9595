//! The C2SP tlog-witness wire format (<https://c2sp.org/tlog-witness>).
//!
//! A log asks a witness to cosign a checkpoint with `POST /add-checkpoint`:
//!
//! ```text
//! old <size the log believes the witness has>\n
//! <base64 consistency proof hash>\n      (0 to 63 lines)
//! \n
//! <signed checkpoint note>
//! ```
//!
//! A witness that has a different size for the log answers 409 with
//! `Content-Type: text/x.tlog.size` and the size in decimal plus a newline.
//! This module parses and prints both bodies, strictly: canonical decimals,
//! canonical base64 of exactly 32 bytes, every line newline-terminated.
//!
//! It also defines [`EvidenceRecord`], the JSON a Causeway witness keeps
//! when a log presents a checkpoint that contradicts one it cosigned, so
//! that the witness that writes it and the auditor's client that checks it
//! share one definition.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use serde::{Deserialize, Serialize};

use crate::checkpoint::parse_decimal;
use crate::merkle::Hash;

/// The most consistency-proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a 409 answer carrying the witness's known size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The path of the submission endpoint, under the witness's prefix.
pub const ADD_CHECKPOINT_PATH: &str = "/add-checkpoint";

/// Why an `add-checkpoint` body or a size body was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessFormatError {
    /// The body is not UTF-8 where text is required.
    #[error("the request body is not valid UTF-8")]
    NotUtf8,
    /// The first line is not `old <canonical decimal>`.
    #[error("the first line must be \"old <size>\" with a canonical decimal size, got {0:?}")]
    BadOldLine(String),
    /// A proof line is not canonical base64 of 32 bytes.
    #[error("proof line {line} is not the canonical base64 of a 32-byte hash: {text:?}")]
    BadProofLine {
        /// 1-based line number in the body.
        line: usize,
        /// The offending text.
        text: String,
    },
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// No empty line separates the proof from the checkpoint.
    #[error("the body must have an empty line between the proof and the checkpoint")]
    MissingSeparator,
    /// Nothing follows the empty line.
    #[error("the body has no checkpoint after the empty line")]
    MissingCheckpoint,
    /// A size body is not `<canonical decimal>\n`.
    #[error("a text/x.tlog.size body must be a canonical decimal and a newline, got {0:?}")]
    BadSizeBody(String),
}

/// The body of an `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    /// The size of the checkpoint the log believes the witness last cosigned.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, byte for byte.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpointRequest {
    /// Parses a request body.
    ///
    /// # Errors
    /// [`WitnessFormatError`] naming the first problem found.
    pub fn parse(body: &[u8]) -> Result<Self, WitnessFormatError> {
        let mut rest = body;
        let mut line_no = 0;
        let next_line = |rest: &mut &[u8]| -> Option<Vec<u8>> {
            let end = rest.iter().position(|&b| b == b'\n')?;
            let line = rest[..end].to_vec();
            *rest = &rest[end + 1..];
            Some(line)
        };
        let old_line =
            next_line(&mut rest).ok_or_else(|| WitnessFormatError::BadOldLine(lossy(body)))?;
        line_no += 1;
        let old_text = std::str::from_utf8(&old_line).map_err(|_| WitnessFormatError::NotUtf8)?;
        let old_size = old_text
            .strip_prefix("old ")
            .and_then(parse_decimal)
            .ok_or_else(|| WitnessFormatError::BadOldLine(old_text.to_owned()))?;
        let mut proof = Vec::new();
        loop {
            let line = next_line(&mut rest).ok_or(WitnessFormatError::MissingSeparator)?;
            line_no += 1;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(WitnessFormatError::TooManyProofLines);
            }
            let bad = || WitnessFormatError::BadProofLine {
                line: line_no,
                text: lossy(&line),
            };
            let bytes = BASE64.decode(&line).map_err(|_| bad())?;
            let hash = Hash::try_from(bytes.as_slice()).map_err(|_| bad())?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(WitnessFormatError::MissingCheckpoint);
        }
        Ok(AddCheckpointRequest {
            old_size,
            proof,
            checkpoint: rest.to_vec(),
        })
    }

    /// The request body, exactly as sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size).into_bytes();
        for hash in &self.proof {
            out.extend_from_slice(BASE64.encode(hash.as_bytes()).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        out
    }
}

/// The body of a 409 answer: the witness's latest size.
pub fn size_body(size: u64) -> String {
    format!("{size}\n")
}

/// Parses the body of a 409 answer.
///
/// # Errors
/// [`WitnessFormatError::BadSizeBody`] unless the body is exactly a
/// canonical decimal followed by one newline.
pub fn parse_size_body(body: &[u8]) -> Result<u64, WitnessFormatError> {
    let bad = || WitnessFormatError::BadSizeBody(lossy(body));
    let text = std::str::from_utf8(body).map_err(|_| bad())?;
    text.strip_suffix('\n')
        .and_then(parse_decimal)
        .ok_or_else(bad)
}

/// The kind of a split-view evidence record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// Two log-signed checkpoints of the same size with different roots:
    /// on its own proof that the log forked.
    SameSizeDifferentRoot,
    /// A log-signed checkpoint whose consistency proof from the cosigned
    /// one failed. Not proof by itself (the proof is unsigned and the log
    /// may have a bug), but an auditor can settle it by asking the log for
    /// a consistency proof between the two signed checkpoints.
    ConsistencyProofFailed,
}

impl EvidenceKind {
    /// The name used in evidence records.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::SameSizeDifferentRoot => "same_size_different_root",
            EvidenceKind::ConsistencyProofFailed => "consistency_proof_failed",
        }
    }
}

impl std::fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A split-view evidence record, as stored in `evidence/<id>.json` and
/// served by `GET /evidence/<id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// Names the conflicting pair: the first 16 hex digits of
    /// SHA-256(len(cosigned text) as 8 bytes big-endian ‖ cosigned text ‖
    /// presented text), over the checkpoint texts without signatures.
    pub id: String,
    /// The log's origin.
    pub origin: String,
    /// What kind of conflict.
    pub kind: EvidenceKind,
    /// When the witness saw it, POSIX seconds.
    pub detected_at: u64,
    /// The note the witness had cosigned: checkpoint, the log signatures
    /// it verified, and its cosignature.
    pub cosigned: String,
    /// The conflicting checkpoint with the log signatures the witness
    /// verified (one per log key); other signature lines are dropped.
    pub presented: String,
    /// The request's `old` size.
    pub old_size: u64,
    /// The request's consistency proof, base64 lines.
    pub proof: Vec<String>,
}

fn lossy(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(80)];
    String::from_utf8_lossy(shown).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example request body of the tlog-witness spec, copied into
    /// `testdata/vectors/notes.txt` (vector V8).
    fn spec_example() -> Vec<u8> {
        let vectors = include_str!("../../../testdata/vectors/notes.txt");
        let start = vectors.find("-----BEGIN BODY-----\n").expect("body vector") + 21;
        let end = vectors.find("-----END BODY-----").expect("body vector end");
        vectors.as_bytes()[start..end].to_vec()
    }

    #[test]
    fn parses_the_spec_example_and_prints_it_back() {
        let body = spec_example();
        let req = AddCheckpointRequest::parse(&body).unwrap();
        assert_eq!(req.old_size, 20_852_014);
        assert_eq!(req.proof.len(), 4);
        assert_eq!(
            BASE64.encode(req.proof[0].as_bytes()),
            "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw="
        );
        assert!(
            req.checkpoint
                .starts_with(b"example.com/behind-the-sofa\n20852163\n")
        );
        assert_eq!(req.to_bytes(), body);
    }

    #[test]
    fn rejects_malformed_bodies() {
        let cp = b"example.com/log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 x AAAA\n";
        let with = |head: &str| {
            let mut b = head.as_bytes().to_vec();
            b.extend_from_slice(cp);
            AddCheckpointRequest::parse(&b)
        };
        assert!(with("old 0\n\n").is_ok());
        for head in [
            "old 01\n\n",
            "old -1\n\n",
            "old\n\n",
            "new 0\n\n",
            "old 0 \n\n",
            "old +1\n\n",
        ] {
            assert!(
                matches!(with(head), Err(WitnessFormatError::BadOldLine(_))),
                "{head:?}"
            );
        }
        // 31-byte hash, non-canonical padding bits, URL-safe alphabet.
        for bad in [
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=",
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=",
        ] {
            let r = with(&format!("old 0\n{bad}\n\n"));
            assert!(
                matches!(r, Err(WitnessFormatError::BadProofLine { line: 2, .. })),
                "{bad}: {r:?}"
            );
        }
        let line = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
        assert!(with(&format!("old 0\n{}\n", line.repeat(63))).is_ok());
        assert_eq!(
            with(&format!("old 0\n{}\n", line.repeat(64))),
            Err(WitnessFormatError::TooManyProofLines)
        );
        assert_eq!(
            AddCheckpointRequest::parse(b"old 0\n"),
            Err(WitnessFormatError::MissingSeparator)
        );
        assert_eq!(
            AddCheckpointRequest::parse(b"old 0\n\n"),
            Err(WitnessFormatError::MissingCheckpoint)
        );
        assert_eq!(
            AddCheckpointRequest::parse(b"old \xff\n\n"),
            Err(WitnessFormatError::NotUtf8)
        );
    }

    #[test]
    fn size_bodies() {
        assert_eq!(parse_size_body(size_body(50).as_bytes()), Ok(50));
        assert_eq!(parse_size_body(b"0\n"), Ok(0));
        // The cases transparency-dev/witness's client rejects, too.
        for bad in [&b"50"[..], b"050\n", b"", b"5 0\n", b"50\n\n"] {
            assert!(parse_size_body(bad).is_err(), "{bad:?}");
        }
    }
}
