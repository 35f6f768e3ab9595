//! Log entries: `Envelope::decode` (the protobuf DSSE envelope), the
//! record in it (`Envelope::record`, i.e. `Record::from_protobuf`), its
//! signature check, and the log's whole admission check
//! (`validate_entry`) against a fixed policy and a log that resolves every
//! reference.
//!
//! Invariants: decoding is exact (a decoded envelope encodes back to the
//! input); the record re-encodes to the payload and survives the JSON and
//! DSSE JSON forms; an admitted entry is exactly the record in it, signed
//! by one signature.

#![no_main]

use causeway_fuzz::{ISSUER, NOW, POLICY, PRODUCER, lookup};
use causeway_records::{Envelope, Record, validate_entry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let admitted = validate_entry(data, &POLICY, NOW, &mut lookup);

    let Ok(envelope) = Envelope::decode(data) else {
        assert!(admitted.is_err());
        return;
    };
    assert_eq!(
        envelope.encode(),
        data,
        "a decoded envelope encodes back exactly"
    );
    let json = envelope.to_dsse_json().to_string();
    assert_eq!(Envelope::from_dsse_json(&json).as_ref(), Ok(&envelope));

    let verified = [&*PRODUCER, &*ISSUER]
        .iter()
        .any(|k| envelope.verify(&k.public_spki_der()).is_ok());
    if verified {
        assert_eq!(envelope.signatures.len(), 1);
    }

    let record = envelope.record();
    if let Ok(record) = &record {
        assert_eq!(record.to_protobuf(), envelope.payload);
        let json = record.to_json().to_string();
        assert_eq!(Record::from_json(record.kind(), &json).as_ref(), Ok(record));
        let _ = record.references();
    }
    if let Ok(admitted) = admitted {
        assert_eq!(record.as_ref(), Ok(&admitted.record));
        assert!(envelope.signer().is_ok());
    }
});
