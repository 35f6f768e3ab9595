//! The DSSE JSON form of envelopes: `Envelope::from_dsse_json`.
//!
//! Invariants: a parsed envelope prints (standard base64) as JSON that
//! parses back to the same envelope, and its protobuf form decodes to it.

#![no_main]

use causeway_records::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(envelope) = Envelope::from_dsse_json(text) else {
        return;
    };
    let json = envelope.to_dsse_json().to_string();
    let again = Envelope::from_dsse_json(&json).expect("printed DSSE JSON parses");
    assert_eq!(again, envelope);
    assert_eq!(again.to_dsse_json().to_string(), json);
    assert_eq!(Envelope::decode(&envelope.encode()).as_ref(), Ok(&envelope));
    let _ = envelope.record();
});
