//! RFC 3161 replies: `response_status` and `verify_response` against the
//! fixtures' and vectors' trust roots, for every message imprint they are
//! over; and `TrustedRoots::from_pem_or_der` on the same bytes.
//!
//! Invariants: nothing panics; a reply that verifies has a granted status
//! and a signer chain of at least the signer and a root, and verifies the
//! same way a second time; a reply verifies for at most one imprint.

#![no_main]

use causeway_fuzz::{IMPRINTS, TSA_ROOTS};
use causeway_rfc3161::{Expectations, TrustedRoots, response_status, verify_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let status = response_status(data);
    let mut verified = 0;
    for imprint in IMPRINTS.iter() {
        let expect = Expectations {
            imprint,
            nonce: None,
            policy: None,
            not_before: None,
            signer_common_name: None,
        };
        let Ok(stamp) = verify_response(data, &TSA_ROOTS, &expect) else {
            continue;
        };
        verified += 1;
        let (code, _) = status.as_ref().expect("a verified reply has a status");
        assert!(*code <= 1, "a verified reply was granted");
        assert!(stamp.chain_len >= 1);
        assert_eq!(stamp.imprint_alg, imprint.alg);
        assert!(!stamp.gen_time_rfc3339.is_empty());
        assert_eq!(
            verify_response(data, &TSA_ROOTS, &expect),
            Ok(stamp.clone())
        );
        // Pinning what the reply says it is keeps it valid.
        let pinned = Expectations {
            policy: Some(&stamp.policy),
            not_before: Some(stamp.gen_time),
            ..expect
        };
        assert_eq!(verify_response(data, &TSA_ROOTS, &pinned), Ok(stamp));
    }
    assert!(verified <= 1);

    if let Ok(roots) = TrustedRoots::from_pem_or_der(data) {
        assert!(!roots.is_empty());
    }
});
