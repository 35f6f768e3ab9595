//! Protobuf and gRPC by hand: the hostile cases need encodings prost would
//! never write, sent with any body and headers through a tonic channel.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

pub(crate) fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

pub(crate) fn pb_key(field: u64, wire: u64) -> Vec<u8> {
    varint((field << 3) | wire)
}

pub(crate) fn pb_varint(field: u64, v: u64) -> Vec<u8> {
    let mut out = pb_key(field, 0);
    out.extend(varint(v));
    out
}

pub(crate) fn pb_bytes(field: u64, b: &[u8]) -> Vec<u8> {
    let mut out = pb_key(field, 2);
    out.extend(varint(b.len() as u64));
    out.extend_from_slice(b);
    out
}

/// A decoded protobuf field value (varint or length-delimited only).
#[derive(Debug, Clone)]
pub(crate) enum Pb {
    Varint(u64),
    Bytes(Vec<u8>),
}

/// Decodes the top-level fields of a message (varint and bytes only).
pub(crate) fn pb_fields(mut buf: &[u8]) -> Vec<(u64, Pb)> {
    pub(crate) fn read_varint(buf: &mut &[u8]) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = buf[0];
            *buf = &buf[1..];
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
        }
        v
    }
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = read_varint(&mut buf);
        match key & 7 {
            0 => out.push((key >> 3, Pb::Varint(read_varint(&mut buf)))),
            2 => {
                let len = read_varint(&mut buf) as usize;
                out.push((key >> 3, Pb::Bytes(buf[..len].to_vec())));
                buf = &buf[len..];
            }
            1 => buf = &buf[8..],
            5 => buf = &buf[4..],
            w => panic!("unexpected wire type {w}"),
        }
    }
    out
}

/// (index, duplicate) of each entry of an encoded `AddEntriesResponse`.
pub(crate) fn added_entries(response: &[u8]) -> Vec<(u64, bool)> {
    pb_fields(response)
        .into_iter()
        .filter(|(f, _)| *f == 1)
        .map(|(_, v)| {
            let Pb::Bytes(b) = v else { panic!("entry") };
            let mut index = 0;
            let mut dup = false;
            for (f, v) in pb_fields(&b) {
                match (f, v) {
                    (1, Pb::Varint(i)) => index = i,
                    (3, Pb::Varint(d)) => dup = d != 0,
                    _ => {}
                }
            }
            (index, dup)
        })
        .collect()
}

/// One gRPC length-prefixed message: flag, big-endian u32 length, bytes.
pub(crate) fn grpc_frame(flag: u8, declared: u32, message: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&declared.to_be_bytes());
    out.extend_from_slice(message);
    out
}

pub(crate) fn frame(message: &[u8]) -> Vec<u8> {
    grpc_frame(0, message.len() as u32, message)
}

// ---------------------------------------------------------------------------
// Raw gRPC over HTTP/2: any body, any headers, through a tonic channel.

/// What a raw gRPC call got back.
#[derive(Debug)]
pub(crate) struct GrpcReply {
    pub(crate) http: u16,
    pub(crate) status: tonic::Status,
    pub(crate) messages: Vec<Vec<u8>>,
}

pub(crate) async fn channel(url: &str) -> Channel {
    Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

pub(crate) async fn raw_grpc(
    ch: &Channel,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> GrpcReply {
    use tonic::codegen::{Body as _, Service as _, http};
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(tonic::body::Body::new(reqwest::Body::from(body)))
        .unwrap();
    let mut ch = ch.clone();
    std::future::poll_fn(|cx| ch.poll_ready(cx))
        .await
        .expect("channel ready");
    let response = tokio::time::timeout(Duration::from_secs(30), ch.call(request))
        .await
        .unwrap_or_else(|_| panic!("{path}: no answer within 30 s"))
        .unwrap_or_else(|e| panic!("{path}: transport error {e}"));
    let (parts, body) = response.into_parts();
    let mut body = std::pin::pin!(body);
    let mut data = Vec::new();
    let mut trailers = None;
    let mut stream_error = None;
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        match frame {
            Ok(frame) => match frame.into_data() {
                Ok(d) => data.extend_from_slice(&d),
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers = Some(t);
                    }
                }
            },
            Err(status) => {
                stream_error = Some(status);
                break;
            }
        }
    }
    let status = tonic::Status::from_header_map(&parts.headers)
        .or_else(|| trailers.as_ref().and_then(tonic::Status::from_header_map))
        .or(stream_error)
        .unwrap_or_else(|| tonic::Status::unknown("no grpc-status in the answer"));
    let mut messages = Vec::new();
    let mut rest = data.as_slice();
    while rest.len() >= 5 {
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        messages.push(rest[5..5 + len].to_vec());
        rest = &rest[5 + len..];
    }
    GrpcReply {
        http: parts.status.as_u16(),
        status,
        messages,
    }
}

pub(crate) const ADD: &str = "/causeway.v1.Log/AddEntries";
pub(crate) const GET_ENTRIES: &str = "/causeway.v1.Log/GetEntries";
pub(crate) const INCLUSION: &str = "/causeway.v1.Log/GetInclusionProof";
pub(crate) const HEALTH: &str = "/grpc.health.v1.Health/Check";
