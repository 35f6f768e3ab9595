//! C2SP checkpoints (<https://c2sp.org/tlog-checkpoint>): the body of a
//! signed tree head.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <root hash, standard padded base64>\n
//! [<extension line>\n]...
//! ```
//!
//! The parser is stricter than transparency-dev/formats on purpose: the
//! root must be exactly 32 bytes, the size must be canonical decimal (no
//! sign, no leading zeros), the base64 canonical, and extension lines
//! non-empty, as the spec requires.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::merkle::Hash;

/// Why checkpoint text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The text does not end with a newline.
    #[error("checkpoint must end with a newline")]
    NotTerminated,
    /// Fewer than three lines.
    #[error("checkpoint needs at least three lines (origin, size, root)")]
    TooFewLines,
    /// The origin line is empty or contains a control character.
    #[error("checkpoint origin must be a non-empty line without control characters")]
    BadOrigin,
    /// The size line is not canonical decimal or does not fit in 64 bits.
    #[error("checkpoint size {0:?} is not a canonical decimal 64-bit number")]
    BadSize(String),
    /// The root line is not canonical standard base64.
    #[error("checkpoint root {0:?} is not canonical base64")]
    BadRootEncoding(String),
    /// The root is not 32 bytes.
    #[error("checkpoint root must be 32 bytes, got {0}")]
    BadRootLength(usize),
    /// An extension line is empty.
    #[error("checkpoint extension lines must not be empty")]
    EmptyExtensionLine,
}

/// A checkpoint body: origin, tree size, root hash and extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    ///
    /// # Errors
    /// [`CheckpointError::BadOrigin`] for an empty origin or one with
    /// control characters.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        let origin = origin.into();
        check_line(&origin).ok_or(CheckpointError::BadOrigin)?;
        Ok(Checkpoint {
            origin,
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Parses a checkpoint body (the text of a signed note).
    ///
    /// # Errors
    /// Any [`CheckpointError`].
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::NotTerminated)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::TooFewLines);
        };
        check_line(origin).ok_or(CheckpointError::BadOrigin)?;
        let size = parse_size(size)?;
        let root = parse_root(root)?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::EmptyExtensionLine);
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// Extension lines, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The body text, exactly as it is signed.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root.as_bytes())
        )?;
        for line in &self.extensions {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

fn check_line(line: &str) -> Option<()> {
    (!line.is_empty() && !line.chars().any(char::is_control)).then_some(())
}

fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    parse_decimal(line).ok_or_else(|| CheckpointError::BadSize(line.to_owned()))
}

/// Parses a canonical ASCII decimal u64: digits only, no leading zeros
/// except for `0` itself. C2SP formats all write sizes this way.
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return None;
    }
    text.parse().ok()
}

fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    let bytes = BASE64
        .decode(line)
        .map_err(|_| CheckpointError::BadRootEncoding(line.to_owned()))?;
    Hash::try_from(bytes.as_slice()).map_err(|e| CheckpointError::BadRootLength(e.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::EMPTY_ROOT;

    const ROOT_B64: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    #[test]
    fn round_trip() {
        let text = format!("example.com/log\n42\n{ROOT_B64}\nextra one\nextra two\n");
        let cp = Checkpoint::parse(&text).unwrap();
        assert_eq!(cp.origin(), "example.com/log");
        assert_eq!(cp.size(), 42);
        assert_eq!(*cp.root(), EMPTY_ROOT);
        assert_eq!(cp.extensions(), ["extra one", "extra two"]);
        assert_eq!(cp.to_text(), text);
        let cp = Checkpoint::new("o", 0, EMPTY_ROOT).unwrap();
        assert_eq!(cp.to_text(), format!("o\n0\n{ROOT_B64}\n"));
    }

    #[test]
    fn strictness() {
        let ok = |size: &str, root: &str| Checkpoint::parse(&format!("o\n{size}\n{root}\n"));
        assert!(ok("0", ROOT_B64).is_ok());
        assert!(ok("18446744073709551615", ROOT_B64).is_ok());
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "18446744073709551616",
            "0x10",
            "１",
        ] {
            assert_eq!(
                ok(bad, ROOT_B64),
                Err(CheckpointError::BadSize(bad.into())),
                "{bad:?}"
            );
        }
        assert!(matches!(
            ok("1", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"),
            Err(CheckpointError::BadRootEncoding(_))
        ));
        assert!(matches!(
            ok("1", "47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
            Err(CheckpointError::BadRootEncoding(_))
        ));
        // Non-canonical trailing bits.
        assert!(matches!(
            ok("1", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV="),
            Err(CheckpointError::BadRootEncoding(_))
        ));
        assert_eq!(
            ok("1", "YmFuYW5hcw=="),
            Err(CheckpointError::BadRootLength(7))
        );
        assert_eq!(
            Checkpoint::parse(&format!("o\n1\n{ROOT_B64}\n\n")),
            Err(CheckpointError::EmptyExtensionLine)
        );
        assert_eq!(
            Checkpoint::parse(&format!("o\n1\n{ROOT_B64}")),
            Err(CheckpointError::NotTerminated)
        );
        assert_eq!(
            Checkpoint::parse("o\n1\n"),
            Err(CheckpointError::TooFewLines)
        );
        assert_eq!(
            Checkpoint::parse(&format!("\n1\n{ROOT_B64}\n")),
            Err(CheckpointError::BadOrigin)
        );
        assert!(Checkpoint::new("a\nb", 1, EMPTY_ROOT).is_err());
    }
}
