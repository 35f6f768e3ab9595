//! Records in their protobuf form: `Record::from_protobuf`.
//!
//! Invariants: decoding is exact (a decoded record encodes back to the
//! input), and the record survives its JSON form unchanged.

#![no_main]

use causeway_records::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = Record::from_protobuf(data) else {
        return;
    };
    assert_eq!(
        record.to_protobuf(),
        data,
        "a decoded record encodes back exactly"
    );
    let json = record.to_json().to_string();
    assert_eq!(
        Record::from_json(record.kind(), &json).as_ref(),
        Ok(&record)
    );
    let _ = record.references();
    let _ = record.record_time().to_rfc3339();
});
