//! Printing shared by the commands: the verdict line and JSON pieces.

use causeway_client::verify::Cosigned;
use causeway_tlog::merkle::Hash;
use serde_json::json;

/// The cosignatures that counted, as JSON.
pub(crate) fn cosigned_json(cosigned: &[Cosigned]) -> serde_json::Value {
    cosigned
        .iter()
        .map(|w| json!({"witness": w.witness, "time": w.time}))
        .collect()
}

/// The last line of a command's text output: whether the log's
/// signatures were verified.
pub(crate) fn verdict(verified: bool) -> &'static str {
    if verified {
        "signature verified with the given --vkey keys"
    } else {
        "NOT VERIFIED: no --vkey given (signatures unchecked)"
    }
}

/// Hashes as hex strings, for JSON.
pub(crate) fn hex_list(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(Hash::to_hex).collect()
}
