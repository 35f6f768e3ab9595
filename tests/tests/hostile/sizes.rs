//! Sizes and indices at the edges of u64.

use causeway_api::v1;
use causeway_api::v1::log_client::LogClient as Raw;
use causeway_client::LogClient;
use causeway_client::verify::verify_checkpoint;
use causeway_tlog::merkle::{EMPTY_ROOT, leaf_hash};
use tonic::Code;

use crate::{Deployment, Ledger, Tally, expect_status};

/// Success, or the status code and a message fragment.
type Want = Result<(), (Code, &'static str)>;

pub(crate) enum Call {
    Inclusion(Option<u64>, Option<Vec<u8>>, Option<u64>),
    Consistency(u64, Option<u64>),
    Checkpoint(Option<u64>),
    Anchor(Option<u64>),
    ListAnchors(u64, u32),
}

pub(crate) async fn size_cases(d: &Deployment, tally: &mut Tally, ledger: &mut Ledger) {
    use v1::get_inclusion_proof_request::Leaf;
    let mut c = Raw::connect(d.log.url.clone())
        .await
        .unwrap()
        .max_decoding_message_size(64 << 20);
    let max = u64::MAX;
    let hex_text = leaf_hash(b"seed 1").to_hex().into_bytes();
    let cases: Vec<(&str, Call, Want)> = vec![
        (
            "inclusion: tree size u64::MAX",
            Call::Inclusion(Some(0), None, Some(max)),
            Err((Code::OutOfRange, "tree size 18446744073709551615 is beyond")),
        ),
        (
            "inclusion: tree size 0",
            Call::Inclusion(Some(0), None, Some(0)),
            Err((Code::InvalidArgument, "size 0")),
        ),
        (
            "inclusion: index equal to the tree size",
            Call::Inclusion(Some(200), None, Some(200)),
            Err((Code::InvalidArgument, "not in a tree of size 200")),
        ),
        (
            "inclusion: empty leaf hash",
            Call::Inclusion(None, Some(vec![]), None),
            Err((Code::InvalidArgument, "32 bytes")),
        ),
        (
            "inclusion: hex text sent as the leaf hash bytes",
            Call::Inclusion(None, Some(hex_text), None),
            Err((Code::InvalidArgument, "32 bytes")),
        ),
        (
            "consistency: old size u64::MAX",
            Call::Consistency(max, None),
            Err((Code::OutOfRange, "old size 18446744073709551615 is beyond")),
        ),
        (
            "consistency: new size u64::MAX",
            Call::Consistency(1, Some(max)),
            Err((Code::OutOfRange, "tree size 18446744073709551615 is beyond")),
        ),
        (
            "consistency: both sizes u64::MAX",
            Call::Consistency(max, Some(max)),
            Err((Code::OutOfRange, "18446744073709551615 is beyond")),
        ),
        (
            "consistency: both sizes 0",
            Call::Consistency(0, Some(0)),
            Err((Code::InvalidArgument, "at least 1")),
        ),
        (
            "consistency: equal sizes give an empty proof",
            Call::Consistency(300, Some(300)),
            Ok(()),
        ),
        (
            "checkpoint: tree size u64::MAX",
            Call::Checkpoint(Some(max)),
            Err((Code::OutOfRange, "tree size 18446744073709551615 is beyond")),
        ),
        (
            "checkpoint: tree size 0 is the cosigned empty tree",
            Call::Checkpoint(Some(0)),
            Ok(()),
        ),
        (
            "anchor: tree size u64::MAX without a TSA",
            Call::Anchor(Some(max)),
            Err((Code::NotFound, "no anchor at size 18446744073709551615")),
        ),
        (
            "anchors: list from u64::MAX, limit u32::MAX",
            Call::ListAnchors(max, u32::MAX),
            Ok(()),
        ),
    ];
    for (name, call, want) in cases {
        let got: Result<(), tonic::Status> = match call {
            Call::Inclusion(index, hash, size) => {
                let leaf = match (index, hash) {
                    (Some(i), _) => Leaf::LeafIndex(i),
                    (None, Some(h)) => Leaf::LeafHash(h),
                    (None, None) => unreachable!(),
                };
                c.get_inclusion_proof(v1::GetInclusionProofRequest {
                    leaf: Some(leaf),
                    tree_size: size,
                })
                .await
                .map(drop)
            }
            Call::Consistency(old, new) => c
                .get_consistency_proof(v1::GetConsistencyProofRequest {
                    old_size: old,
                    new_size: new,
                })
                .await
                .map(|r| assert!(r.into_inner().hashes.is_empty(), "{name}")),
            Call::Checkpoint(size) => c
                .get_checkpoint(v1::GetCheckpointRequest { tree_size: size })
                .await
                .map(|r| {
                    let r = r.into_inner();
                    assert_eq!(Some(r.tree_size), size, "{name}");
                    let cp = verify_checkpoint(&r.note, &d.log.keys())
                        .unwrap()
                        .into_checkpoint();
                    assert_eq!((cp.size(), cp.root()), (0, &EMPTY_ROOT), "{name}");
                }),
            Call::Anchor(size) => c
                .get_anchor(v1::GetAnchorRequest { tree_size: size })
                .await
                .map(drop),
            Call::ListAnchors(start, limit) => c
                .list_anchors(v1::ListAnchorsRequest {
                    start_size: start,
                    limit,
                })
                .await
                .map(|r| assert!(r.into_inner().anchors.is_empty(), "{name}")),
        };
        match (got, want) {
            (Ok(()), Ok(())) => {}
            (Err(s), Err((code, needle))) => expect_status(name, &s, code, needle),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
        tally.pass(name);
    }

    // A page of u64::MAX maximum-size entries stops at the byte bound.
    let mut client = LogClient::connect(&d.log.url).await.unwrap();
    let mut first = None;
    for chunk in 0..5u8 {
        let entries: Vec<Vec<u8>> = (0..14u8)
            .map(|i| {
                let mut e = vec![b'z'; 65_535];
                e[..8].copy_from_slice(&rand::random::<u64>().to_be_bytes());
                e[8] = chunk;
                e[9] = i;
                e
            })
            .collect();
        let r = client.add_entries(entries.clone()).await.unwrap();
        ledger.ack_all(&entries, &r);
        first.get_or_insert(r.entries[0].index);
    }
    let first = first.unwrap();
    let page = c
        .get_entries(v1::GetEntriesRequest {
            start: first,
            count: max,
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let bytes: usize = page.iter().map(|e| e.data.len()).sum();
    assert!(
        !page.is_empty() && page.len() < 70 && bytes <= (4 << 20) + 65_535,
        "a page of {} entries, {bytes} bytes",
        page.len()
    );
    assert_eq!(page[0].index, first);
    tally.pass("entries: a page of 64 KiB entries stops at 4 MiB");
}
