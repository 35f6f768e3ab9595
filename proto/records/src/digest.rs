//! The text forms an `outcome` and an `exception` carry about a tool call
//! without logging it: a SHA-256 digest (`sha256:` and 64 lowercase hex
//! digits, one spelling per digest) and a short error class.
//!
//! Both are checked when a record is parsed from JSON or decoded from
//! protobuf, so a [`Record`](crate::Record) never holds a malformed one.

/// The prefix of a digest.
pub const SHA256_PREFIX: &str = "sha256:";

/// The most bytes an outcome's `error` class may have.
pub const MAX_ERROR_CLASS_LEN: usize = 64;

/// The digest text of `bytes`: `sha256:` and the lowercase hex SHA-256.
/// A producer passes the JCS-canonical (RFC 8785) JSON of a result or a
/// refused call; canonicalizing it is the producer's part.
pub fn sha256_of(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(bytes);
    let mut text = String::with_capacity(SHA256_PREFIX.len() + 64);
    text.push_str(SHA256_PREFIX);
    for b in hash {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

/// Checks that `value` is `sha256:` followed by 64 lowercase hex digits.
///
/// # Errors
/// What is wrong with it, for the field's message.
pub fn check_sha256(value: &str) -> Result<(), String> {
    let Some(hex) = value.strip_prefix(SHA256_PREFIX) else {
        return Err(format!(
            "{value:?} is not a digest: expected \"sha256:\" and 64 lowercase hex digits"
        ));
    };
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "{value:?} is not a digest: after \"sha256:\" come exactly 64 lowercase hex digits \
             (the SHA-256 of the JCS-canonical JSON), got {} characters",
            hex.len()
        ));
    }
    Ok(())
}

/// Checks that `value` is a short error class or code (`timeout`,
/// `-32602`, `tool.error`): 1 to [`MAX_ERROR_CLASS_LEN`] characters of
/// `A-Z a-z 0-9 . _ : -`. The limit keeps an error's text and data, which
/// may hold what the call read, out of the log.
///
/// # Errors
/// What is wrong with it, for the field's message.
pub fn check_error_class(value: &str) -> Result<(), String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
    if value.is_empty() || value.len() > MAX_ERROR_CLASS_LEN || !value.bytes().all(ok) {
        return Err(format!(
            "{value:?} is not an error class: give 1 to {MAX_ERROR_CLASS_LEN} characters of \
             A-Z a-z 0-9 . _ : - (a class or code such as \"timeout\" or \"-32602\", never the \
             error's text or data)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_have_one_spelling() {
        let hex = "0123456789abcdef".repeat(4);
        assert!(check_sha256(&format!("sha256:{hex}")).is_ok());
        assert!(check_sha256(&format!("sha256:{}", hex.to_uppercase())).is_err());
        assert!(check_sha256(&format!("SHA256:{hex}")).is_err());
        assert!(check_sha256(&format!("sha256:{}", &hex[1..])).is_err());
        assert!(check_sha256(&hex).is_err());
        let of = sha256_of(b"{}");
        assert_eq!(
            of,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert!(check_sha256(&of).is_ok());
    }

    #[test]
    fn error_classes_are_short_codes() {
        for good in ["timeout", "-32602", "tool.error", "mcp:isError"] {
            assert!(check_error_class(good).is_ok(), "{good}");
        }
        for bad in ["", "file not found", "x".repeat(65).as_str(), "é"] {
            assert!(check_error_class(bad).is_err(), "{bad}");
        }
    }
}
