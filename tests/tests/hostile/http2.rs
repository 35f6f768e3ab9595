//! HTTP/2 itself, on raw TCP.

use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use crate::raw_http::{H2_PREFACE, addr_of, goaway_code, h2_frame, read_until_closed};
use crate::{Deployment, Tally};

pub(crate) fn http2_cases(d: &Deployment, tally: &mut Tally) {
    let addr = addr_of(&d.log.url);
    let settings = h2_frame(4, 0, 0, &[]);

    // HTTP/1.1 on the gRPC port: no HTTP/1 answer, the connection closes.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /causeway.v1.Log/GetCheckpoint HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (got, closed) = read_until_closed(&mut s, Duration::from_secs(10));
    assert!(closed, "HTTP/1.1 on the gRPC port: still open");
    assert!(!got.starts_with(b"HTTP/1"), "{got:?}");
    tally.pass("h2: HTTP/1.1 on the gRPC port is dropped");

    // Binary junk instead of the preface.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(64)).unwrap();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(10));
    assert!(closed, "junk preface: still open");
    tally.pass("h2: junk instead of the preface is dropped");

    // A frame larger than SETTINGS_MAX_FRAME_SIZE: GOAWAY FRAME_SIZE_ERROR (6).
    let mut s = TcpStream::connect(&addr).unwrap();
    let mut bytes = H2_PREFACE.to_vec();
    bytes.extend(&settings);
    bytes.extend([0xff, 0xff, 0xff, 0x01, 0x04, 0, 0, 0, 1]);
    s.write_all(&bytes).unwrap();
    let (got, closed) = read_until_closed(&mut s, Duration::from_secs(10));
    assert_eq!(goaway_code(&got), Some(6), "{got:?}");
    assert!(closed);
    tally.pass("h2: 16 MiB frame header is GOAWAY FRAME_SIZE_ERROR");

    // HEADERS on stream 0: GOAWAY PROTOCOL_ERROR (1).
    let mut s = TcpStream::connect(&addr).unwrap();
    let mut bytes = H2_PREFACE.to_vec();
    bytes.extend(&settings);
    bytes.extend(h2_frame(1, 0x4 | 0x1, 0, &[0x82]));
    s.write_all(&bytes).unwrap();
    let (got, closed) = read_until_closed(&mut s, Duration::from_secs(10));
    assert_eq!(goaway_code(&got), Some(1), "{got:?}");
    assert!(closed);
    tally.pass("h2: HEADERS on stream 0 is GOAWAY PROTOCOL_ERROR");

    // DATA on a stream that was never opened: GOAWAY PROTOCOL_ERROR (1).
    let mut s = TcpStream::connect(&addr).unwrap();
    let mut bytes = H2_PREFACE.to_vec();
    bytes.extend(&settings);
    bytes.extend(h2_frame(0, 0x1, 7, b"hello"));
    s.write_all(&bytes).unwrap();
    let (got, closed) = read_until_closed(&mut s, Duration::from_secs(10));
    assert_eq!(goaway_code(&got), Some(1), "{got:?}");
    assert!(closed);
    tally.pass("h2: DATA on an idle stream is GOAWAY PROTOCOL_ERROR");
}
