//! C2SP signed notes: `Note::parse`, then verification against every key
//! the vectors name.
//!
//! Invariants: parsing is exact (printing a parsed note gives back the
//! input byte for byte, and parsing that gives the same note); verification
//! never panics, and when it succeeds every verified signature is by a
//! known key and the verified text is the note's text; a checkpoint body
//! round-trips too.

#![no_main]

use causeway_fuzz::verifiers;
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::note::Note;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(note) = Note::parse(data) else {
        return;
    };
    let printed = note.to_bytes();
    assert_eq!(printed, data, "a parsed note prints back exactly");
    assert_eq!(Note::parse(&printed).as_ref(), Ok(&note));
    assert!(!note.signatures().is_empty());
    assert!(note.text().ends_with('\n'));

    let known = verifiers();
    if let Ok(verified) = note.verify(&known) {
        assert_eq!(verified.text, note.text());
        assert!(!verified.verified.is_empty());
        assert_eq!(
            verified.verified.len() + verified.unverified.len(),
            note.signatures().len()
        );
        for sig in &verified.verified {
            assert!(
                known
                    .iter()
                    .any(|k| k.name() == sig.name() && k.key_id() == sig.key_id())
            );
        }
    }

    if let Ok(cp) = Checkpoint::parse(note.text()) {
        assert_eq!(cp.to_text(), note.text());
    }
});
