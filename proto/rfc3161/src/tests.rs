//! Tests of RFC 3161 requests and verification.
//!
//! Third-party vectors (testdata/vectors/rfc3161, see its MANIFEST.json)
//! cover real TSAs; OpenSSL-made fixtures (testdata/tsa, see its README.md
//! and make.sh) cover the rules no vector breaks. Each test names the
//! rules it covers.

use der::Decode as _;

use super::asn1::{integer_hex, magnitude};
use super::request::TimeStampReq;
use super::time::{parse_generalized_time, rfc3339};
use super::*;

macro_rules! vector {
    ($path:literal) => {
        include_bytes!(concat!("../../../testdata/vectors/rfc3161/", $path)).as_slice()
    };
}

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../testdata/tsa/", $path)).as_slice()
    };
}

/// The message of every vector except sigstore.mock.
const HELLO: &[u8] = b"hello";

/// The message and nonce of every fixture (testdata/tsa/make.sh).
const FIXTURE_MESSAGE: &[u8] = fixture!("message.txt");
const FIXTURE_NONCE: [u8; 8] = [0x8B, 0xAD, 0xF0, 0x0D, 0xDE, 0xAD, 0xBE, 0xEF];

fn roots(bytes: &[u8]) -> TrustedRoots {
    TrustedRoots::from_pem_or_der(bytes).expect("trusted roots")
}

/// Concatenated PEM files as one roots set.
fn roots_of(files: &[&[u8]]) -> TrustedRoots {
    roots(&files.concat())
}

fn expect(imprint: &MessageImprint) -> Expectations<'_> {
    Expectations {
        imprint,
        nonce: None,
        policy: None,
        not_before: None,
        signer_common_name: None,
    }
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("hex")
}

/// The PEM CERTIFICATE blocks of a file, each with its armour.
fn pem_blocks(text: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(text).expect("PEM is text");
    text.split_inclusive("-----END CERTIFICATE-----\n")
        .filter(|b| b.contains("BEGIN CERTIFICATE"))
        .map(str::to_owned)
        .collect()
}

/// The DER of the PEM blocks of a file.
fn pem_ders(text: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    pem_blocks(text)
        .iter()
        .map(|block| {
            let body: String = block.lines().filter(|l| !l.starts_with("-----")).collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("base64")
        })
        .collect()
}

/// `der` with the low bit of the last byte of the only occurrence of
/// `pattern` flipped.
fn flip_in(der: &[u8], pattern: &[u8]) -> Vec<u8> {
    let positions: Vec<usize> = der
        .windows(pattern.len())
        .enumerate()
        .filter(|(_, w)| *w == pattern)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(positions.len(), 1, "pattern must occur exactly once");
    let mut out = der.to_vec();
    out[positions[0] + pattern.len() - 1] ^= 1;
    out
}

// --- requests -------------------------------------------------------------

#[test]
fn hash_algorithms_have_their_oids_and_names() {
    assert_eq!(HashAlg::Sha256.oid().to_string(), "2.16.840.1.101.3.4.2.1");
    assert_eq!(HashAlg::Sha384.oid().to_string(), "2.16.840.1.101.3.4.2.2");
    assert_eq!(HashAlg::Sha512.oid().to_string(), "2.16.840.1.101.3.4.2.3");
    assert_eq!(
        [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512].map(HashAlg::name),
        ["sha256", "sha384", "sha512"]
    );
    let imprint = MessageImprint::sha256(HELLO);
    assert_eq!(imprint.alg, HashAlg::Sha256);
    assert_eq!(
        hex::encode(&imprint.digest),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(MessageImprint::of(HashAlg::Sha384, HELLO).digest.len(), 48);
    assert_eq!(MessageImprint::of(HashAlg::Sha512, HELLO).digest.len(), 64);
    assert_eq!(QUERY_CONTENT_TYPE, "application/timestamp-query");
    assert_eq!(REPLY_CONTENT_TYPE, "application/timestamp-reply");
}

#[test]
fn request_decodes_back_with_every_field() {
    let request = TimestampRequest {
        imprint: MessageImprint::of(HashAlg::Sha384, HELLO),
        nonce: 0x8BAD_F00D_DEAD_BEEF,
        policy: Some("1.2.3.4.1".into()),
        cert_req: true,
    };
    let der = request.to_der().expect("encodes");
    let decoded = TimeStampReq::from_der(&der).expect("decodes");
    assert_eq!(decoded.version, 1);
    let alg = &decoded.message_imprint.hash_algorithm;
    assert_eq!(alg.oid, HashAlg::Sha384.oid());
    assert_eq!(alg.parameters, Some(der::asn1::Any::null()));
    assert_eq!(
        decoded.message_imprint.hashed_message.as_bytes(),
        request.imprint.digest.as_slice()
    );
    assert_eq!(decoded.nonce, Some(0x8BAD_F00D_DEAD_BEEF));
    assert!(decoded.cert_req);
    assert_eq!(
        decoded.req_policy.map(|p| p.to_string()).as_deref(),
        Some("1.2.3.4.1")
    );
    // The nonce's top bit is set: DER needs a leading zero to keep it
    // positive.
    let nonce_tlv = [
        0x02, 0x09, 0x00, 0x8B, 0xAD, 0xF0, 0x0D, 0xDE, 0xAD, 0xBE, 0xEF,
    ];
    assert!(der.windows(nonce_tlv.len()).any(|w| w == nonce_tlv));
}

#[test]
fn request_omits_defaults() {
    let request = TimestampRequest {
        imprint: MessageImprint::sha256(HELLO),
        nonce: 1,
        policy: None,
        cert_req: false,
    };
    let der = request.to_der().expect("encodes");
    let decoded = TimeStampReq::from_der(&der).expect("decodes");
    assert_eq!(decoded.req_policy, None);
    assert!(!decoded.cert_req);
    assert_eq!(decoded.nonce, Some(1));
    // certReq FALSE is the DEFAULT, so DER leaves it out: the nonce is
    // the last field.
    assert!(der.ends_with(&[0x02, 0x01, 0x01]));
}

#[test]
fn request_with_a_bad_policy_is_refused() {
    let request = TimestampRequest {
        imprint: MessageImprint::sha256(HELLO),
        nonce: 1,
        policy: Some("not an oid".into()),
        cert_req: true,
    };
    assert_eq!(
        request.to_der(),
        Err(TimestampError::InvalidPolicy("not an oid".into()))
    );
}

// --- building blocks ------------------------------------------------------

#[test]
fn generalized_time_parses_fractions_and_refuses_non_der_forms() {
    let t = parse_generalized_time(b"20241008154032Z").expect("whole seconds");
    assert_eq!(t.unix, 1_728_402_032);
    assert_eq!(t.rfc3339(), "2024-10-08T15:40:32Z");
    let t = parse_generalized_time(b"20241008154032.25Z").expect("fraction");
    assert_eq!(t.unix, 1_728_402_032);
    assert!(t.has_fraction());
    assert_eq!(t.rfc3339(), "2024-10-08T15:40:32.25Z");
    let t = parse_generalized_time(b"20000229000000.000001Z").expect("leap day");
    assert_eq!(t.rfc3339(), "2000-02-29T00:00:00.000001Z");
    assert_eq!(
        parse_generalized_time(b"19691231235959Z").map(|t| t.unix),
        Ok(-1)
    );
    for bad in [
        &b"20241008154032"[..], // no Z
        b"202410081540Z",       // no seconds
        b"20241008154032+0100", // offset
        b"20241008154032.Z",    // empty fraction
        b"20241008154032.50Z",  // trailing zero
        b"20241008154032,5Z",   // comma
        b"20241308154032Z",     // month 13
        b"20230229000000Z",     // not a leap year
        b"20241008244032Z",     // hour 24
        b"20241008154060Z",     // leap second
        b"2024100815403Z2",     // junk
        b"\xff0241008154032Z",  // not ASCII
    ] {
        assert!(parse_generalized_time(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn rfc3339_round_trips_across_eras() {
    for (unix, text) in [
        (0, "1970-01-01T00:00:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (-86_400, "1969-12-31T00:00:00Z"),
        (253_402_300_799, "9999-12-31T23:59:59Z"),
    ] {
        assert_eq!(rfc3339(unix), text);
        let compact: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
        let parsed = parse_generalized_time(format!("{compact}Z").as_bytes()).expect("parses");
        assert_eq!(parsed.unix, unix);
    }
}

#[test]
fn integers_render_as_signed_magnitudes() {
    assert_eq!(integer_hex(&[0x00]), "00");
    assert_eq!(integer_hex(&[0x00, 0x8B]), "8b");
    assert_eq!(integer_hex(&[0xDE, 0xAD, 0xBE, 0xEF]), "-21524111");
    assert_eq!(integer_hex(&[0xFF]), "-01");
    assert_eq!(integer_hex(&[0x80]), "-80");
    assert_eq!(magnitude(&[0xFF, 0x00]), (vec![0x01, 0x00], true));
}

#[test]
fn trusted_roots_read_pem_bundles_and_single_der() {
    assert_eq!(roots(vector!("test_tsa/ts_chain.pem")).len(), 3);
    // identrust/ts_chain.pem is DER despite its name.
    let identrust = roots(vector!("identrust/ts_chain.pem"));
    assert_eq!(identrust.len(), 1);
    assert!(!identrust.is_empty());
    assert!(format!("{identrust:?}").contains("IdenTrust Commercial Root CA 1"));
    // Text around the blocks is ignored.
    let mut annotated = b"# the TSA root\n".to_vec();
    annotated.extend_from_slice(fixture!("root-ca.pem"));
    assert_eq!(roots(&annotated).len(), 1);

    assert_eq!(
        TrustedRoots::from_pem_or_der(b"").err(),
        Some(TimestampError::NoRoots)
    );
    assert_eq!(
        TrustedRoots::from_pem_or_der(b"no certificate here").err(),
        Some(TimestampError::NoRoots)
    );
    let bad = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        TrustedRoots::from_pem_or_der(bad),
        Err(TimestampError::BadRoot { index: 1, .. })
    ));
    let truncated = &vector!("identrust/ts_chain.pem")[..100];
    assert!(matches!(
        TrustedRoots::from_pem_or_der(truncated),
        Err(TimestampError::BadRoot { index: 1, .. })
    ));
}

// --- third-party vectors: valid (all rules) --------------------------------

/// Rules 1-12 hold for the local sigstore TSA (ECDSA P-256, ESS v2).
#[test]
fn test_tsa_response_is_valid() {
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let nonce = unhex("36A44F9F4A391FD3");
    let verified = verify_response(
        vector!("test_tsa/response.tsr"),
        &roots(vector!("test_tsa/ts_chain.pem")),
        &Expectations {
            nonce: Some(&nonce),
            policy: Some("1.3.6.1.4.1.57264.2"),
            not_before: Some(1_728_402_032),
            signer_common_name: Some("Test TSA Timestamping"),
            ..expect(&imprint)
        },
    )
    .expect("valid");
    assert_eq!(
        verified,
        VerifiedTimestamp {
            gen_time: 1_728_402_032,
            gen_time_rfc3339: "2024-10-08T15:40:32Z".into(),
            serial_hex: "797035501f358571fed54952bebbd000497461dc".into(),
            policy: "1.3.6.1.4.1.57264.2".into(),
            nonce_hex: Some("36a44f9f4a391fd3".into()),
            imprint_alg: HashAlg::Sha512,
            signer_subject: "CN=Test TSA Timestamping,O=local".into(),
            // The intermediate is one of the trusted certificates.
            chain_len: 2,
        }
    );
}

/// Rules 1-11 for timestamp.sigstage.dev with each imprint algorithm
/// (ECDSA P-384 signer and root).
#[test]
fn sigstage_responses_are_valid() {
    let chain = roots(vector!("sigstage/ts_chain.pem"));
    for (der, alg, nonce, time) in [
        (
            vector!("sigstage/response-sha256.tsr"),
            HashAlg::Sha256,
            "051708B19A1D2E209C2236FFC3238BF24DCECC40",
            "2025-05-09T11:58:55Z",
        ),
        (
            vector!("sigstage/response-sha384.tsr"),
            HashAlg::Sha384,
            "3EC6F8C72259C6B29991B6F0621402BAF94A2518",
            "2025-05-09T11:58:55Z",
        ),
        (
            vector!("sigstage/response-sha512.tsr"),
            HashAlg::Sha512,
            "06D2A9B668AC5B1E887833C6C1E8F1B975AE3D6C",
            "2025-05-09T11:58:56Z",
        ),
    ] {
        let imprint = MessageImprint::of(alg, HELLO);
        let nonce = unhex(nonce);
        let verified = verify_response(
            der,
            &chain,
            &Expectations {
                nonce: Some(&nonce),
                policy: Some("1.3.6.1.4.1.57264.2"),
                signer_common_name: Some("sigstore-tsa"),
                ..expect(&imprint)
            },
        )
        .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(verified.gen_time_rfc3339, time);
        assert_eq!(verified.imprint_alg, alg);
        assert_eq!(verified.signer_subject, "CN=sigstore-tsa,O=sigstore.dev");
        assert_eq!(verified.chain_len, 2);
    }
}

/// Rules 1-11 for a commercial TSA: RSA-4096, sha256WithRSA under a bare
/// rsaEncryption SignerInfo, ESS v1 (SHA-1), an intermediate in the reply
/// and the root given as DER.
#[test]
fn identrust_response_is_valid() {
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let nonce = unhex("75C3B3214AC39FBB");
    let verified = verify_response(
        vector!("identrust/issue-104.tsr"),
        &roots(vector!("identrust/ts_chain.pem")),
        &Expectations {
            nonce: Some(&nonce),
            policy: Some("2.16.840.1.113839.0.6.13.3"),
            signer_common_name: Some("TrustID Timestamp Authority"),
            ..expect(&imprint)
        },
    )
    .expect("valid");
    assert_eq!(verified.gen_time_rfc3339, "2025-03-11T08:52:08Z");
    assert_eq!(
        verified.signer_subject,
        "CN=TrustID Timestamp Authority,O=IdenTrust,C=US"
    );
    assert_eq!(verified.chain_len, 3);
}

/// Rules 7 and 11: the reply embeds no certificate, the signer comes from
/// the trusted set, and every certificate is checked at genTime (they all
/// expired in 2024). The serial number is negative.
#[test]
fn sigstore_mock_response_is_valid_at_gen_time() {
    let imprint = MessageImprint::sha256(vector!("sigstore.mock/payload"));
    let nonce = unhex("499602D2");
    let verified = verify_response(
        vector!("sigstore.mock/response-expired.tsr"),
        &roots(vector!("sigstore.mock/ts_chain.pem")),
        &Expectations {
            nonce: Some(&nonce),
            policy: Some("1.3.6.1.4.1.57264.2"),
            signer_common_name: Some("tsa signing"),
            ..expect(&imprint)
        },
    )
    .expect("valid");
    assert_eq!(verified.gen_time_rfc3339, "2023-02-01T00:00:00Z");
    assert_eq!(verified.serial_hex, "-21524111");
    assert_eq!(verified.chain_len, 2);
}

// --- third-party vectors: rejected -----------------------------------------

/// Rule 7: without certificates in the reply, the signer must be among
/// the trusted certificates; the root alone is not enough.
#[test]
fn reply_without_certificates_needs_the_signer_out_of_band() {
    let der = vector!("sigstage/response-no-embedded-cert.tsr");
    let imprint = MessageImprint::sha256(HELLO);
    let chain = vector!("sigstage/ts_chain.pem");
    let blocks = pem_blocks(chain);
    assert_eq!(blocks.len(), 2);
    let root_only = roots(blocks[1].as_bytes());
    let err = verify_response(der, &root_only, &expect(&imprint)).expect_err("no signer");
    assert!(
        matches!(err, TimestampError::SignerCertificateMissing { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("no certificate for its signer"));

    let verified = verify_response(der, &roots(chain), &expect(&imprint)).expect("valid");
    assert_eq!(verified.gen_time_rfc3339, "2025-06-18T08:13:02Z");
    assert_eq!(verified.chain_len, 2);
}

/// Rule 9: a tampered signature.
#[test]
fn tampered_signature_is_rejected() {
    let imprint = MessageImprint::sha256(HELLO);
    let err = verify_response(
        vector!("sigstage/response-invalid-signature.tsr"),
        &roots(vector!("sigstage/ts_chain.pem")),
        &expect(&imprint),
    )
    .expect_err("invalid");
    assert!(
        matches!(err, TimestampError::InvalidSignature { .. }),
        "{err}"
    );
}

/// Rules 7 and 12: the bag holds a "Spoofed TSA" certificate first and a
/// self-issued look-alike, but the SignerInfo names the real leaf
/// (GHSA-3xxc-pwj6-jgrj).
#[test]
fn injected_certificates_do_not_choose_the_signer() {
    let der = vector!("test_tsa/response-injected-certs.tsr");
    let chain = roots(vector!("test_tsa/ts_chain.pem"));
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let err = verify_response(
        der,
        &chain,
        &Expectations {
            signer_common_name: Some("Spoofed TSA"),
            ..expect(&imprint)
        },
    )
    .expect_err("the spoofed name is not the signer's");
    assert_eq!(
        err,
        TimestampError::SignerNameMismatch {
            expected: "Spoofed TSA".into(),
            found: "\"Test TSA Timestamping\"".into(),
        }
    );
    let verified = verify_response(
        der,
        &chain,
        &Expectations {
            signer_common_name: Some("Test TSA Timestamping"),
            ..expect(&imprint)
        },
    )
    .expect("the real signer");
    assert_eq!(verified.signer_subject, "CN=Test TSA Timestamping,O=local");
}

/// Rule 11: another TSA instance with the same names but other keys.
#[test]
fn other_tsa_instance_does_not_chain() {
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let err = verify_response(
        vector!("test_tsa/other_response.tsr"),
        &roots(vector!("test_tsa/ts_chain.pem")),
        &expect(&imprint),
    )
    .expect_err("no chain");
    assert_eq!(
        err,
        TimestampError::NoChain {
            issuer: "CN=Test TSA Intermediate,O=local".into(),
            too_long: false,
        }
    );
}

/// Rule 11: the reply lacks the intermediate, so the root alone does not
/// reach the signer.
#[test]
fn missing_intermediate_does_not_chain() {
    let chain = vector!("test_tsa/ts_chain.pem");
    let root = roots(pem_blocks(chain)[2].as_bytes());
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let err = verify_response(vector!("test_tsa/response.tsr"), &root, &expect(&imprint))
        .expect_err("no chain");
    assert!(matches!(err, TimestampError::NoChain { .. }), "{err}");
}

// --- mutations of a valid token ---------------------------------------------

/// Rule 3: another message, or the same message under another algorithm.
#[test]
fn wrong_imprint_is_rejected() {
    let der = vector!("test_tsa/response.tsr");
    let chain = roots(vector!("test_tsa/ts_chain.pem"));
    let other = MessageImprint::of(HashAlg::Sha512, b"hellO");
    let err = verify_response(der, &chain, &expect(&other)).expect_err("other message");
    assert!(
        matches!(err, TimestampError::ImprintMismatch { .. }),
        "{err}"
    );
    let sha256 = MessageImprint::sha256(HELLO);
    let err = verify_response(der, &chain, &expect(&sha256)).expect_err("other algorithm");
    assert_eq!(
        err,
        TimestampError::ImprintAlgorithmMismatch {
            expected: "sha256",
            found: "sha512".into(),
        }
    );
}

/// Rule 4: another nonce; leading zeros do not matter.
#[test]
fn nonce_must_match() {
    let der = vector!("test_tsa/response.tsr");
    let chain = roots(vector!("test_tsa/ts_chain.pem"));
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let wrong = unhex("36A44F9F4A391FD4");
    let err = verify_response(
        der,
        &chain,
        &Expectations {
            nonce: Some(&wrong),
            ..expect(&imprint)
        },
    )
    .expect_err("wrong nonce");
    assert_eq!(
        err,
        TimestampError::NonceMismatch {
            expected: "36a44f9f4a391fd4".into(),
            found: "36a44f9f4a391fd3".into(),
        }
    );
    let padded = unhex("000036A44F9F4A391FD3");
    verify_response(
        der,
        &chain,
        &Expectations {
            nonce: Some(&padded),
            ..expect(&imprint)
        },
    )
    .expect("leading zeros are ignored");
}

/// Rule 4: a nonce was expected but the token has none (the fixture
/// answers a query sent without a nonce).
#[test]
fn missing_nonce_is_rejected() {
    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let der = fixture!("reply-no-nonce.tsr");
    let chain = roots(fixture!("root-ca.pem"));
    let err = verify_response(
        der,
        &chain,
        &Expectations {
            nonce: Some(&FIXTURE_NONCE),
            ..expect(&imprint)
        },
    )
    .expect_err("no nonce");
    assert_eq!(
        err,
        TimestampError::NonceMissing {
            expected: "8badf00ddeadbeef".into(),
        }
    );
    let verified = verify_response(der, &chain, &expect(&imprint)).expect("no nonce expected");
    assert_eq!(verified.nonce_hex, None);
}

/// Rule 5.
#[test]
fn policy_must_match() {
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let err = verify_response(
        vector!("test_tsa/response.tsr"),
        &roots(vector!("test_tsa/ts_chain.pem")),
        &Expectations {
            policy: Some("1.3.6.1.4.1.57264.3"),
            ..expect(&imprint)
        },
    )
    .expect_err("wrong policy");
    assert_eq!(
        err,
        TimestampError::PolicyMismatch {
            expected: "1.3.6.1.4.1.57264.3".into(),
            found: "1.3.6.1.4.1.57264.2".into(),
        }
    );
    let err = verify_response(
        vector!("test_tsa/response.tsr"),
        &roots(vector!("test_tsa/ts_chain.pem")),
        &Expectations {
            policy: Some("policy one"),
            ..expect(&imprint)
        },
    )
    .expect_err("not an OID");
    assert_eq!(err, TimestampError::InvalidPolicy("policy one".into()));
}

/// Rule 6: genTime must not be earlier than the previous anchor.
#[test]
fn gen_time_must_not_go_backwards() {
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let err = verify_response(
        vector!("test_tsa/response.tsr"),
        &roots(vector!("test_tsa/ts_chain.pem")),
        &Expectations {
            not_before: Some(1_728_402_033),
            ..expect(&imprint)
        },
    )
    .expect_err("too early");
    assert_eq!(
        err,
        TimestampError::GenTimeTooEarly {
            gen_time: "2024-10-08T15:40:32Z".into(),
            not_before: "2024-10-08T15:40:33Z".into(),
        }
    );
}

/// Rule 2: the token must be SignedData over a TSTInfo.
#[test]
fn token_must_be_signed_data_over_tst_info() {
    let der = vector!("test_tsa/response.tsr");
    let chain = roots(vector!("test_tsa/ts_chain.pem"));
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    // id-signedData -> id-envelopedData (1.2.840.113549.1.7.3).
    let signed_data = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
    ];
    let err = verify_response(&flip_in(der, &signed_data), &chain, &expect(&imprint))
        .expect_err("not SignedData");
    assert!(matches!(err, TimestampError::NotSignedData(_)), "{err}");
    // The first id-ct-TSTInfo is the eContentType (the second is the
    // signed content-type attribute).
    let tst_info = [
        0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x04,
    ];
    let at = der
        .windows(tst_info.len())
        .position(|w| w == tst_info)
        .expect("eContentType");
    let mut other = der.to_vec();
    other[at + tst_info.len() - 1] ^= 1;
    let err = verify_response(&other, &chain, &expect(&imprint)).expect_err("not a TSTInfo");
    assert!(matches!(err, TimestampError::NotTstInfo(_)), "{err}");
}

/// Rule 8: a bit flipped in the TSTInfo (its serial number) no longer
/// matches the signed message-digest.
#[test]
fn altered_tst_info_is_rejected() {
    let serial = unhex("797035501F358571FED54952BEBBD000497461DC");
    let der = flip_in(vector!("test_tsa/response.tsr"), &serial);
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let err = verify_response(
        &der,
        &roots(vector!("test_tsa/ts_chain.pem")),
        &expect(&imprint),
    )
    .expect_err("altered");
    assert_eq!(err, TimestampError::MessageDigestMismatch);
}

/// Rule 8: an ESS certHash that is not the signer certificate's (this
/// TSA's ESSCertIDv2 uses SHA-512 and carries issuerSerial).
#[test]
fn ess_hash_must_name_the_signer() {
    use sha2::Digest as _;
    let leaf = &pem_ders(vector!("test_tsa/ts_chain.pem"))[0];
    let hash = sha2::Sha512::digest(leaf);
    let der = flip_in(vector!("test_tsa/response.tsr"), &hash);
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let err = verify_response(
        &der,
        &roots(vector!("test_tsa/ts_chain.pem")),
        &expect(&imprint),
    )
    .expect_err("ESS mismatch");
    assert!(
        matches!(err, TimestampError::SigningCertificateMismatch(_)),
        "{err}"
    );
}

/// No input makes verification panic: every truncation is an error, and a
/// flipped bit anywhere is either rejected or changes nothing verified
/// (it hit something unsigned and unused, like PKIStatus 0 -> 1).
#[test]
fn truncations_and_bit_flips_never_panic() {
    let der = vector!("test_tsa/response.tsr");
    let chain = roots(vector!("test_tsa/ts_chain.pem"));
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let good = verify_response(der, &chain, &expect(&imprint)).expect("valid");
    for len in 0..der.len() {
        assert!(verify_response(&der[..len], &chain, &expect(&imprint)).is_err());
        assert!(response_status(&der[..len]).is_err());
    }
    for i in 0..der.len() {
        let mut flipped = der.to_vec();
        flipped[i] ^= 0x01;
        if let Ok(verified) = verify_response(&flipped, &chain, &expect(&imprint)) {
            assert_eq!(verified, good, "flip at byte {i}");
        }
    }
    let mut longer = der.to_vec();
    longer.push(0);
    assert!(verify_response(&longer, &chain, &expect(&imprint)).is_err());
}

/// Rule 1: the status of granted and rejected replies.
#[test]
fn status_is_reported() {
    assert_eq!(
        response_status(vector!("test_tsa/response.tsr")),
        Ok((0, None))
    );
    let rejection = fixture!("reply-rejection.tsr");
    let (status, text) = response_status(rejection).expect("parses");
    assert_eq!(status, 2);
    let text = text.expect("a reason");
    assert!(text.contains("unacceptedPolicy"), "{text}");

    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let err = verify_response(
        rejection,
        &roots(fixture!("root-ca.pem")),
        &expect(&imprint),
    )
    .expect_err("rejected");
    assert!(
        matches!(
            &err,
            TimestampError::NotGranted { status: 2, name: "rejection", text: Some(t) }
                if t.contains("unacceptedPolicy")
        ),
        "{err}"
    );
}

// --- OpenSSL fixtures (testdata/tsa) ---------------------------------------

fn fixture_expect(imprint: &MessageImprint) -> Expectations<'_> {
    Expectations {
        nonce: Some(&FIXTURE_NONCE),
        policy: Some("1.2.3.4.1"),
        ..expect(imprint)
    }
}

/// (a) Rules 1-12 with an RSA-2048 TSA directly under the root.
#[test]
fn openssl_rsa_reply_is_valid() {
    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let verified = verify_response(
        fixture!("reply-rsa.tsr"),
        &roots(fixture!("root-ca.pem")),
        &Expectations {
            signer_common_name: Some("Causeway Test TSA RSA"),
            ..fixture_expect(&imprint)
        },
    )
    .expect("valid");
    assert_eq!(
        verified.signer_subject,
        "CN=Causeway Test TSA RSA,O=Causeway Test"
    );
    assert_eq!(verified.nonce_hex.as_deref(), Some("8badf00ddeadbeef"));
    assert_eq!(verified.policy, "1.2.3.4.1");
    assert_eq!(verified.chain_len, 2);
}

/// (b) Rules 1-11 with an ECDSA P-256 TSA under an intermediate that the
/// reply carries; trusting the intermediate itself also works.
#[test]
fn openssl_p256_reply_is_valid() {
    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let verified = verify_response(
        fixture!("reply-p256.tsr"),
        &roots(fixture!("root-ca.pem")),
        &fixture_expect(&imprint),
    )
    .expect("valid");
    assert_eq!(verified.chain_len, 3);
    let verified = verify_response(
        fixture!("reply-p256.tsr"),
        &roots(fixture!("intermediate-ca.pem")),
        &fixture_expect(&imprint),
    )
    .expect("valid");
    assert_eq!(verified.chain_len, 2);
}

/// Rules 3, 5, 6, 8: a P-384 TSA with a SHA-384 signer digest, an ESS v1
/// (SHA-1) attribute, policy 1.2.3.4.2 and fractional seconds.
#[test]
fn openssl_p384_reply_with_fraction_is_valid() {
    let imprint = MessageImprint::of(HashAlg::Sha384, FIXTURE_MESSAGE);
    let verified = verify_response(
        fixture!("reply-p384.tsr"),
        &roots(fixture!("root-ca.pem")),
        &Expectations {
            policy: Some("1.2.3.4.2"),
            ..fixture_expect(&imprint)
        },
    )
    .expect("valid");
    let (_, fraction) = verified
        .gen_time_rfc3339
        .split_once('.')
        .expect("fractional seconds");
    assert!(fraction.ends_with('Z') && fraction.len() >= 2);
    assert_eq!(verified.imprint_alg, HashAlg::Sha384);
}

/// Rules 7-9 stay intact for the reply the bad-certificate fixtures were
/// derived from, so their rejections below are about the certificate.
#[test]
fn openssl_base_reply_is_valid_with_its_certificate() {
    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let der = fixture!("reply-base.tsr");
    let err = verify_response(
        der,
        &roots(fixture!("root-ca.pem")),
        &fixture_expect(&imprint),
    )
    .expect_err("no certificate for the signer");
    assert!(
        matches!(err, TimestampError::SignerCertificateMissing { .. }),
        "{err}"
    );
    verify_response(
        der,
        &roots_of(&[fixture!("root-ca.pem"), fixture!("tsa-base.pem")]),
        &fixture_expect(&imprint),
    )
    .expect("valid");
}

/// (c), (d), (e) Rule 10.
#[test]
fn openssl_signer_purpose_is_enforced() {
    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let check = |reply: &[u8], cert: &[u8]| {
        verify_response(
            reply,
            &roots_of(&[fixture!("root-ca.pem"), cert]),
            &fixture_expect(&imprint),
        )
        .expect_err("bad signer certificate")
    };
    let err = check(
        fixture!("reply-eku-noncritical.tsr"),
        fixture!("tsa-eku-noncritical.pem"),
    );
    assert!(
        matches!(err, TimestampError::EkuNotCritical { .. }),
        "{err}"
    );
    let err = check(fixture!("reply-tsa-is-ca.tsr"), fixture!("tsa-is-ca.pem"));
    assert!(matches!(err, TimestampError::SignerIsCa { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("is a CA (basicConstraints cA=TRUE)")
    );
    let err = check(
        fixture!("reply-eku-multi.tsr"),
        fixture!("tsa-eku-multi.pem"),
    );
    assert!(
        matches!(&err, TimestampError::EkuNotTimeStampingOnly { found, .. } if found.contains("1.3.6.1.5.5.7.3.1")),
        "{err}"
    );
}

/// (f) Rule 11: the TSA certificate expired before genTime.
#[test]
fn openssl_expired_signer_is_rejected() {
    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let err = verify_response(
        fixture!("reply-expired-signer.tsr"),
        &roots(fixture!("root-ca.pem")),
        &fixture_expect(&imprint),
    )
    .expect_err("expired");
    assert!(
        matches!(
            &err,
            TimestampError::NotValidAtGenTime { not_after, .. } if not_after == "2021-01-01T00:00:00Z"
        ),
        "{err}"
    );
}

/// Rule 11: every issuer must be a CA allowed to sign certificates.
#[test]
fn openssl_issuer_constraints_are_enforced() {
    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let chain = roots(fixture!("root-ca.pem"));
    let err = verify_response(
        fixture!("reply-issuer-not-ca.tsr"),
        &chain,
        &fixture_expect(&imprint),
    )
    .expect_err("issuer is not a CA");
    assert_eq!(
        err,
        TimestampError::IssuerNotCa {
            subject: "CN=Causeway Test Not A CA,O=Causeway Test".into(),
        }
    );
    let err = verify_response(
        fixture!("reply-issuer-no-keycertsign.tsr"),
        &chain,
        &fixture_expect(&imprint),
    )
    .expect_err("issuer may not sign certificates");
    assert!(
        matches!(err, TimestampError::IssuerWithoutKeyCertSign { .. }),
        "{err}"
    );
}

/// Rule 11: a reply from an unrelated TSA, judged against these roots,
/// names the missing issuer.
#[test]
fn unrelated_roots_name_the_missing_issuer() {
    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let err = verify_response(
        fixture!("reply-rsa.tsr"),
        &roots(vector!("test_tsa/ts_chain.pem")),
        &fixture_expect(&imprint),
    )
    .expect_err("no chain");
    assert_eq!(
        err,
        TimestampError::NoChain {
            issuer: "CN=Causeway Test Root CA,O=Causeway Test".into(),
            too_long: false,
        }
    );
    assert!(err.to_string().contains("CN=Causeway Test Root CA"));
}

/// Rule 9: a valid signature with a key this module cannot verify is
/// refused with the algorithm named, not reported as a forgery.
#[test]
fn openssl_unsupported_curve_is_named() {
    let imprint = MessageImprint::sha256(FIXTURE_MESSAGE);
    let err = verify_response(
        fixture!("reply-p521.tsr"),
        &roots(fixture!("root-ca.pem")),
        &fixture_expect(&imprint),
    )
    .expect_err("P-521 is not supported");
    assert!(
        matches!(err, TimestampError::UnsupportedSignatureAlgorithm { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("secp521r1") && text.contains("ecdsa-with-SHA256"),
        "{text}"
    );
}

/// Rule 6: an absurd lower bound is an error, not an overflow.
#[test]
fn extreme_not_before_is_reported() {
    let imprint = MessageImprint::of(HashAlg::Sha512, HELLO);
    let err = verify_response(
        vector!("test_tsa/response.tsr"),
        &roots(vector!("test_tsa/ts_chain.pem")),
        &Expectations {
            not_before: Some(i64::MAX),
            ..expect(&imprint)
        },
    )
    .expect_err("too early");
    assert!(
        matches!(err, TimestampError::GenTimeTooEarly { .. }),
        "{err}"
    );
    assert!(rfc3339(i64::MIN).ends_with('Z'));
}
