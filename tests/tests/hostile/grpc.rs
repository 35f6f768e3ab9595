//! gRPC framing and protobuf, raw.

use causeway_client::LogClient;
use causeway_tests::Server;
use causeway_tlog::merkle::leaf_hash;
use tonic::Code;

use crate::raw_grpc::{
    ADD, GET_ENTRIES, HEALTH, INCLUSION, Pb, added_entries, channel, frame, grpc_frame, pb_bytes,
    pb_fields, pb_key, pb_varint, raw_grpc,
};
use crate::{Deployment, Ledger, MAX_REQUEST_BYTES, MAX_REQUEST_ENTRIES, Tally, expect_status};

/// (name, method path, extra headers, body, code, message fragment)
type RawCase = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
    Code,
    &'static str,
);

pub(crate) async fn grpc_frame_cases(d: &Deployment, tally: &mut Tally, ledger: &mut Ledger) {
    let ch = channel(&d.log.url).await;
    let entry = |tag: &str| pb_bytes(1, format!("raw {tag} {}", rand::random::<u64>()).as_bytes());

    // (name, method, extra headers, body, code, fragment)
    let mut nested_group = Vec::new();
    for _ in 0..200 {
        nested_group.extend(pb_key(9, 3));
    }
    for _ in 0..200 {
        nested_group.extend(pb_key(9, 4));
    }
    let mut one_byte_entries = Vec::new();
    for i in 0..200_000u32 {
        one_byte_entries.extend(pb_bytes(1, &[(i % 251) as u8 + 1]));
    }
    let over_limit = vec![0x0au8; MAX_REQUEST_BYTES + 1];
    let cases: Vec<RawCase> = vec![
        (
            "grpc: frame declares 100 bytes, carries 10",
            ADD,
            vec![],
            grpc_frame(0, 100, &[0x0a, 8, 1, 2, 3, 4, 5, 6, 7, 8]),
            Code::Internal,
            "Unexpected EOF",
        ),
        (
            "grpc: frame header cut after 3 bytes",
            ADD,
            vec![],
            vec![0, 0, 0],
            Code::Internal,
            "Unexpected EOF",
        ),
        (
            "grpc: length prefix 4294967295 on a 5-byte body",
            ADD,
            vec![],
            grpc_frame(0, u32::MAX, b"hello"),
            Code::ResourceExhausted,
            "4294967295 bytes, over the server's limit of 1048576 bytes (--max-request-bytes)",
        ),
        (
            "grpc: message one byte over --max-request-bytes",
            ADD,
            vec![],
            frame(&over_limit),
            Code::ResourceExhausted,
            "1048577 bytes, over the server's limit of 1048576 bytes",
        ),
        (
            "grpc: compressed flag without grpc-encoding",
            ADD,
            vec![],
            grpc_frame(1, 3, &[0x0a, 1, 7]),
            Code::Internal,
            "compressed-flag but no grpc-encoding",
        ),
        (
            "grpc: compression flag 7",
            ADD,
            vec![],
            grpc_frame(7, 3, &[0x0a, 1, 7]),
            Code::Internal,
            "invalid compression flag: 7",
        ),
        (
            "grpc: grpc-encoding gzip (not enabled)",
            ADD,
            vec![("grpc-encoding", "gzip")],
            grpc_frame(1, 3, &[0x0a, 1, 7]),
            Code::Unimplemented,
            "gzip",
        ),
        (
            "grpc: grpc-encoding snappy (unknown)",
            ADD,
            vec![("grpc-encoding", "snappy")],
            grpc_frame(1, 3, &[0x0a, 1, 7]),
            Code::Unimplemented,
            "snappy",
        ),
        (
            "protobuf: entries field declares 10 bytes, 3 follow",
            ADD,
            vec![],
            frame(&[0x0a, 10, 1, 2, 3]),
            Code::Internal,
            "failed to decode Protobuf message",
        ),
        (
            "protobuf: entries sent with the varint wire type",
            ADD,
            vec![],
            frame(&pb_varint(1, 7)),
            Code::Internal,
            "invalid wire type",
        ),
        (
            "protobuf: 11-byte varint",
            GET_ENTRIES,
            vec![],
            frame(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ]),
            Code::Internal,
            "invalid varint",
        ),
        (
            "protobuf: field number 0",
            GET_ENTRIES,
            vec![],
            frame(&[0x00, 0x01]),
            Code::Internal,
            "invalid tag value: 0",
        ),
        (
            "protobuf: unknown group nested 200 deep",
            ADD,
            vec![],
            frame(&[entry("nested").as_slice(), &nested_group].concat()),
            Code::Internal,
            "recursion limit reached",
        ),
        (
            "protobuf: end-group without start-group",
            ADD,
            vec![],
            frame(&pb_key(9, 4)),
            Code::Internal,
            "failed to decode Protobuf message",
        ),
        (
            "protobuf: invalid UTF-8 in a string field (health check service)",
            HEALTH,
            vec![],
            frame(&pb_bytes(1, b"causeway.v1.\xff\xfeLog")),
            Code::Internal,
            "invalid string value: data is not UTF-8 encoded",
        ),
        (
            "health: unknown service name",
            HEALTH,
            vec![],
            frame(&pb_bytes(1, b"causeway.v1.Nope")),
            Code::NotFound,
            "service not registered",
        ),
        (
            "grpc: unknown method",
            "/causeway.v1.Log/DeleteEntries",
            vec![],
            frame(&[]),
            Code::Unimplemented,
            "",
        ),
        (
            "grpc: unknown service",
            "/causeway.v0.Admin/Truncate",
            vec![],
            frame(&[]),
            Code::Unimplemented,
            "",
        ),
        (
            "protobuf: 200,000 one-byte entries (over --max-request-entries)",
            ADD,
            vec![],
            frame(&one_byte_entries),
            Code::ResourceExhausted,
            "the request has 200000 entries; the limit is 100 per request (--max-request-entries)",
        ),
        (
            "protobuf: negative leaf index (-1 as a 10-byte varint)",
            INCLUSION,
            vec![],
            frame(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ]),
            Code::OutOfRange,
            "leaf index 18446744073709551615 is beyond the current tree size",
        ),
    ];
    for (name, path, headers, body, code, needle) in cases {
        let reply = raw_grpc(&ch, path, &headers, body).await;
        assert_eq!(reply.http, 200, "{name}: {reply:?}");
        expect_status(name, &reply.status, code, needle);
        tally.pass(name);
    }

    // Unknown fields are ignored (proto3), also around and inside nesting;
    // the entry is logged.
    let mut deep = Vec::new();
    for _ in 0..10_000 {
        deep = pb_bytes(1, &deep);
    }
    let unknown: Vec<(&str, Vec<u8>)> = vec![
        (
            "protobuf: unknown fields around an entry are ignored",
            [
                pb_varint(15, 99),
                pb_bytes(1000, b"junk"),
                pb_bytes(1, b"entry between unknown fields"),
                pb_key(536_870_911, 5),
                vec![1, 2, 3, 4],
            ]
            .concat(),
        ),
        (
            "protobuf: 10,000-deep nesting inside an unknown field is skipped",
            [
                pb_bytes(1, b"entry next to deep nesting"),
                pb_bytes(7, &deep),
            ]
            .concat(),
        ),
    ];
    for (name, body) in unknown {
        let entry = pb_fields(&body)
            .into_iter()
            .find_map(|(f, v)| match (f, v) {
                (1, Pb::Bytes(b)) => Some(b),
                _ => None,
            })
            .unwrap();
        let reply = raw_grpc(&ch, ADD, &[], frame(&body)).await;
        expect_status(name, &reply.status, Code::Ok, "");
        let added = added_entries(&reply.messages[0]);
        assert_eq!(added.len(), 1, "{name}");
        ledger.ack(added[0].0, &entry);
        tally.pass(name);
    }

    // A message of exactly --max-request-bytes is accepted.
    let mut exact = Vec::new();
    let mut exact_entries = Vec::new();
    for i in 0..16 {
        let len = if i < 15 { 65_535 } else { 65_487 };
        let mut e = vec![b'a' + i as u8; len];
        e[..8].copy_from_slice(&rand::random::<u64>().to_be_bytes());
        exact.extend(pb_bytes(1, &e));
        exact_entries.push(e);
    }
    assert_eq!(exact.len(), MAX_REQUEST_BYTES);
    let reply = raw_grpc(&ch, ADD, &[], frame(&exact)).await;
    expect_status("exact limit", &reply.status, Code::Ok, "");
    for ((index, dup), e) in added_entries(&reply.messages[0])
        .into_iter()
        .zip(&exact_entries)
    {
        assert!(!dup);
        ledger.ack(index, e);
    }
    tally.pass("grpc: message of exactly --max-request-bytes is accepted");

    // Exactly --max-request-entries entries are accepted.
    let batch: Vec<Vec<u8>> = (0..MAX_REQUEST_ENTRIES)
        .map(|i| format!("limit batch {i} {}", rand::random::<u64>()).into_bytes())
        .collect();
    let mut client = LogClient::connect(&d.log.url).await.unwrap();
    let r = client.add_entries(batch.clone()).await.unwrap();
    ledger.ack_all(&batch, &r);
    tally.pass("grpc: exactly --max-request-entries entries are accepted");

    // A repeated scalar: the last value wins.
    let mut body = Vec::new();
    for start in (0..1000u64).rev() {
        body.extend(pb_varint(1, start % 300));
    }
    body.extend(pb_varint(2, 1));
    let reply = raw_grpc(&ch, GET_ENTRIES, &[], frame(&body)).await;
    expect_status("repeated", &reply.status, Code::Ok, "");
    let entries = pb_fields(&reply.messages[0]);
    assert_eq!(entries.len(), 1);
    let Pb::Bytes(e) = &entries[0].1 else {
        panic!()
    };
    let fields = pb_fields(e);
    assert!(
        fields.iter().all(|(f, v)| match (f, v) {
            (1, Pb::Varint(i)) => *i == 0,
            (2, Pb::Bytes(data)) => data == b"seed 0",
            _ => false,
        }),
        "the last start (0) wins: {fields:?}"
    );
    tally.pass("protobuf: a scalar repeated 1000 times, the last wins");

    // Both members of the oneof: the last one on the wire wins.
    let hash_of_7 = leaf_hash(b"seed 7");
    for (order, want) in [("index last", 3u64), ("hash last", 7u64)] {
        let body = if want == 3 {
            [pb_bytes(2, hash_of_7.as_bytes()), pb_varint(1, 3)].concat()
        } else {
            [pb_varint(1, 3), pb_bytes(2, hash_of_7.as_bytes())].concat()
        };
        let reply = raw_grpc(&ch, INCLUSION, &[], frame(&body)).await;
        expect_status(order, &reply.status, Code::Ok, "");
        let index = pb_fields(&reply.messages[0])
            .into_iter()
            .find_map(|(f, v)| match (f, v) {
                (1, Pb::Varint(i)) => Some(i),
                _ => None,
            })
            .unwrap_or(0);
        assert_eq!(index, want, "{order}");
    }
    tally.pass("protobuf: both oneof members set, the last wins");

    // The same entry twice in one request: one entry, the second points
    // to the first.
    let twice = format!("twice {}", rand::random::<u64>()).into_bytes();
    let r = client
        .add_entries(vec![twice.clone(), twice.clone()])
        .await
        .unwrap();
    assert_eq!(r.entries[0].index, r.entries[1].index);
    assert_eq!(
        (r.entries[0].duplicate, r.entries[1].duplicate),
        (false, true)
    );
    ledger.ack(r.entries[0].index, &twice);
    tally.pass("grpc: an entry repeated in one request is deduplicated");
}

// ---------------------------------------------------------------------------
// Bugs found by this suite. Each test asserts the correct behaviour and
// fails until the bug is fixed; then drop its #[ignore] (and fold it into
// the suite above).

/// A gRPC unary call carrying two request messages is a request
/// cardinality violation, which gRPC answers with UNIMPLEMENTED
/// (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). tonic
/// decodes the first message, silently drops the second and the call
/// succeeds: the client is told its call worked while half of what it sent
/// was never logged. No message at all gets INTERNAL "Missing request
/// message." instead of UNIMPLEMENTED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "bug: tonic accepts unary calls with two messages and drops the second"]
async fn bug_unary_call_with_two_messages_drops_the_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("log"), &[]);
    let ch = channel(&server.url).await;
    let first = format!("first {}", rand::random::<u64>()).into_bytes();
    let second = format!("second {}", rand::random::<u64>()).into_bytes();
    let body = [frame(&pb_bytes(1, &first)), frame(&pb_bytes(1, &second))].concat();
    let reply = raw_grpc(&ch, ADD, &[], body).await;
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let second_logged = c
        .inclusion_proof(causeway_client::LeafRef::Hash(leaf_hash(&second)), None)
        .await
        .is_ok();
    assert!(
        reply.status.code() == Code::Unimplemented,
        "two messages in a unary call: {:?}, the second entry {}",
        reply.status,
        if second_logged {
            "logged"
        } else {
            "silently dropped"
        }
    );
    let reply = raw_grpc(&ch, ADD, &[], vec![]).await;
    assert_eq!(
        reply.status.code(),
        Code::Unimplemented,
        "no message: {:?}",
        reply.status
    );
}
