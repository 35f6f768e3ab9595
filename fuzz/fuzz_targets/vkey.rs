//! Signed-note verifier keys: `VerifierKey::parse`.
//!
//! Invariant: a parsed key prints as a vkey that parses back to the same
//! key, and that printed form is a fixed point.

#![no_main]

use causeway_tlog::note::{NoteVerifier as _, VerifierKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(key) = VerifierKey::parse(text) else {
        return;
    };
    let printed = key.to_string();
    let again = VerifierKey::parse(&printed).expect("a printed vkey parses");
    assert_eq!(again, key);
    assert_eq!(again.to_string(), printed);
    assert_eq!(again.key_id(), key.key_id());
    // Verifying garbage is a `false`, never a panic.
    assert!(!key.verify(data, data));
});
