//! Records in their JSON form: `Record::from_json`, for every kind.
//!
//! Invariants: a parsed record prints (canonically) as JSON that parses
//! back to the same record, and that printed form is a fixed point; the
//! record survives its protobuf form unchanged.

#![no_main]

use causeway_records::{Kind, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in Kind::ALL {
        let Ok(record) = Record::from_json(kind, text) else {
            continue;
        };
        assert_eq!(record.kind(), kind);
        let json = record.to_json().to_string();
        let again = Record::from_json(kind, &json).expect("printed JSON parses");
        assert_eq!(again, record);
        assert_eq!(again.to_json().to_string(), json);
        let bytes = record.to_protobuf();
        assert_eq!(Record::from_protobuf(&bytes).as_ref(), Ok(&record));
        let _ = record.references();
    }
});
