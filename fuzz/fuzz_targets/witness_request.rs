//! C2SP tlog-witness bodies: `AddCheckpointRequest::parse` (the
//! `add-checkpoint` request) and `parse_size_body` (the 409 answer).
//!
//! Invariants: both parse exactly (print back as the input); a request
//! holds at most 63 proof hashes and a non-empty checkpoint.

#![no_main]

use causeway_tlog::note::Note;
use causeway_tlog::witness::{AddCheckpointRequest, MAX_PROOF_LINES, parse_size_body, size_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(size) = parse_size_body(data) {
        assert_eq!(size_body(size).as_bytes(), data);
    }
    let Ok(request) = AddCheckpointRequest::parse(data) else {
        return;
    };
    assert_eq!(
        request.to_bytes(),
        data,
        "a parsed request prints back exactly"
    );
    assert_eq!(
        AddCheckpointRequest::parse(&request.to_bytes()).as_ref(),
        Ok(&request)
    );
    assert!(request.proof.len() <= MAX_PROOF_LINES);
    assert!(!request.checkpoint.is_empty());
    // What a witness does next with the checkpoint.
    if let Ok(note) = Note::parse(&request.checkpoint) {
        assert_eq!(note.to_bytes(), request.checkpoint);
    }
});
