//! Why `causeway-rfc3161` verifies time stamps with its own code rather
//! than the RustCrypto `cms` types: `der` 0.7 sorts a SET OF on decode, so
//! `cms` re-encodes signed attributes that a TSA wrote out of DER order as
//! different bytes, and the TSA's signature does not verify over those.
//!
//! The vector, `testdata/tsa/unsorted-attrs/reply.tsr`, is a real
//! `openssl ts -reply` whose signed attributes were put out of order and
//! signed again (its README.md and make.sh say how); `openssl ts -verify`
//! accepts it.

use causeway_rfc3161::{
    Expectations, MessageImprint, TimestampError, TrustedRoots, verify_response,
};
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::{Decode as _, Encode as _};

macro_rules! testdata {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/tsa/",
            $path
        ))
        .as_slice()
    };
}

const REPLY: &[u8] = testdata!("unsorted-attrs/reply.tsr");
const ROOT: &[u8] = testdata!("unsorted-attrs/root-ca.pem");
const MESSAGE: &[u8] = testdata!("message.txt");
const NONCE: [u8; 8] = [0x8B, 0xAD, 0xF0, 0x0D, 0xDE, 0xAD, 0xBE, 0xEF];

/// A DER element: its tag and where it and its contents are in the buffer.
#[derive(Clone, Copy, Debug)]
struct Element {
    tag: u8,
    start: usize,
    contents: usize,
    end: usize,
}

/// The element at `start` (short or long definite lengths, one-byte tags:
/// all this vector has).
fn element(buf: &[u8], start: usize) -> Element {
    let tag = buf[start];
    let first = buf[start + 1];
    let (contents, len) = if first < 0x80 {
        (start + 2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7F);
        let len = buf[start + 2..start + 2 + n]
            .iter()
            .fold(0, |len, &b| len << 8 | usize::from(b));
        (start + 2 + n, len)
    };
    Element {
        tag,
        start,
        contents,
        end: contents + len,
    }
}

fn children(buf: &[u8], parent: Element) -> Vec<Element> {
    let mut out = Vec::new();
    let mut at = parent.contents;
    while at < parent.end {
        let e = element(buf, at);
        at = e.end;
        out.push(e);
    }
    out
}

/// The timeStampToken of a TimeStampResp and the `[0] IMPLICIT` signed
/// attributes of its only SignerInfo, found without decoding anything.
fn token_and_signed_attrs(reply: &[u8]) -> (Element, Element) {
    let token = children(reply, element(reply, 0))[1];
    let explicit = children(reply, token)[1];
    let signed_data = children(reply, explicit)[0];
    let signer_infos = *children(reply, signed_data).last().unwrap();
    let signer_info = children(reply, signer_infos)[0];
    let attrs = children(reply, signer_info)
        .into_iter()
        .find(|e| e.tag == 0xA0)
        .expect("signed attributes");
    (token, attrs)
}

/// X.690 §11.6: the elements of a DER SET OF in ascending order of their
/// encodings.
fn der_sorted(mut elements: Vec<&[u8]>) -> Vec<&[u8]> {
    elements.sort();
    elements
}

fn verify(reply: &[u8]) -> Result<(), TimestampError> {
    let imprint = MessageImprint::sha256(MESSAGE);
    let roots = TrustedRoots::from_pem_or_der(ROOT).expect("root");
    verify_response(
        reply,
        &roots,
        &Expectations {
            imprint: &imprint,
            nonce: Some(&NONCE),
            policy: Some("1.2.3.4.1"),
            not_before: None,
            signer_common_name: Some("Causeway Test TSA Unsorted"),
        },
    )
    .map(|_| ())
}

#[test]
fn the_vector_signs_attributes_out_of_der_order() {
    let (_, attrs) = token_and_signed_attrs(REPLY);
    let elements: Vec<&[u8]> = children(REPLY, attrs)
        .iter()
        .map(|e| &REPLY[e.start..e.end])
        .collect();
    assert_eq!(elements.len(), 4);
    assert_ne!(elements, der_sorted(elements.clone()));
}

#[test]
fn our_verifier_accepts_the_reply() {
    verify(REPLY).expect("a valid reply, as OpenSSL also says");
}

#[test]
fn cms_types_re_encode_the_signed_attributes_sorted_and_break_the_signature() {
    let (token, attrs) = token_and_signed_attrs(REPLY);

    // The `cms` types decode the token without complaint...
    let content_info = ContentInfo::from_der(&REPLY[token.start..token.end]).expect("cms");
    let signed_data: SignedData = content_info.content.decode_as().expect("SignedData");
    let signer = signed_data
        .signer_infos
        .0
        .iter()
        .next()
        .expect("a SignerInfo");
    let decoded = signer.signed_attrs.as_ref().expect("signed attributes");
    let re_encoded = decoded.to_der().expect("encodable");

    // ...but what they encode again is not what the TSA signed: the same
    // attributes, sorted. (The signature is over the SET OF, tag 0x31
    // instead of the [0] IMPLICIT tag 0xA0, RFC 5652 §5.4.)
    let mut signed = REPLY[attrs.start..attrs.end].to_vec();
    signed[0] = 0x31;
    assert_eq!(re_encoded.len(), signed.len());
    assert_ne!(re_encoded, signed);
    let header = attrs.contents - attrs.start;
    let sorted = Element {
        tag: 0x31,
        start: 0,
        contents: header,
        end: re_encoded.len(),
    };
    let originals: Vec<&[u8]> = children(REPLY, attrs)
        .iter()
        .map(|e| &REPLY[e.start..e.end])
        .collect();
    let re_encoded_elements: Vec<&[u8]> = children(&re_encoded, sorted)
        .iter()
        .map(|e| &re_encoded[e.start..e.end])
        .collect();
    assert_eq!(re_encoded_elements, der_sorted(originals));

    // Verifying over the re-encoded attributes, as a verifier built on
    // the `cms` types would, fails: put them into the reply in place of
    // the ones sent and everything else stays the same.
    let mut as_cms_sees_it = REPLY.to_vec();
    as_cms_sees_it[attrs.contents..attrs.end].copy_from_slice(&re_encoded[header..]);
    match verify(&as_cms_sees_it) {
        Err(TimestampError::InvalidSignature { .. }) => {}
        other => panic!("expected the TSA's signature to fail, got {other:?}"),
    }
}
