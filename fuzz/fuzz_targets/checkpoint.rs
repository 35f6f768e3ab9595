//! C2SP checkpoint bodies: `Checkpoint::parse`.
//!
//! Invariants: parsing is exact (a parsed checkpoint prints back as the
//! input), and a checkpoint rebuilt from its origin, size and root prints
//! as the input without its extension lines.

#![no_main]

use causeway_tlog::checkpoint::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cp) = Checkpoint::parse(text) else {
        return;
    };
    assert_eq!(
        cp.to_text(),
        text,
        "a parsed checkpoint prints back exactly"
    );
    assert_eq!(Checkpoint::parse(&cp.to_text()).as_ref(), Ok(&cp));

    let bare =
        Checkpoint::new(cp.origin(), cp.size(), *cp.root()).expect("a parsed origin is valid");
    let bare_text = bare.to_text();
    let mut with_extensions = bare_text.clone();
    for line in cp.extensions() {
        assert!(!line.is_empty() && !line.contains('\n'));
        with_extensions.push_str(line);
        with_extensions.push('\n');
    }
    assert_eq!(with_extensions, text);
    assert_eq!(Checkpoint::parse(&bare_text), Ok(bare));
});
