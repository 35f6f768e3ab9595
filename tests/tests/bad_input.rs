//! Every bad request gets a precise gRPC status and a message that says
//! what to do, and the server keeps serving afterwards.

use causeway_api::v1;
use causeway_api::v1::log_client::LogClient as Raw;
use causeway_client::{LeafRef, LogClient};
use causeway_tests::Server;
use tonic::Code;

async fn raw(url: &str) -> Raw<tonic::transport::Channel> {
    Raw::connect(url.to_owned())
        .await
        .unwrap()
        .max_encoding_message_size(64 << 20)
}

fn status<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>) -> tonic::Status {
    match r {
        Ok(ok) => panic!("expected an error status, got {ok:?}"),
        Err(s) => s,
    }
}

fn add(entries: Vec<Vec<u8>>) -> v1::AddEntriesRequest {
    v1::AddEntriesRequest { entries }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_precise_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("log"),
        &[
            "--max-request-bytes",
            "1048576",
            "--max-request-entries",
            "100",
        ],
    );
    let mut c = raw(&server.url).await;
    let mut client = LogClient::connect(&server.url).await.unwrap();
    let seeded = client
        .add_entries((0..10).map(|i| format!("seed {i}").into_bytes()).collect())
        .await
        .unwrap();
    assert_eq!(seeded.entries.len(), 10);

    let expect = |s: tonic::Status, code: Code, needle: &str| {
        assert_eq!(s.code(), code, "{s:?}");
        assert!(
            s.message().contains(needle),
            "message {:?} lacks {needle:?}",
            s.message()
        );
    };

    // AddEntries
    expect(
        status(c.add_entries(add(vec![])).await),
        Code::InvalidArgument,
        "no entries",
    );
    expect(
        status(c.add_entries(add(vec![vec![]])).await),
        Code::InvalidArgument,
        "entry 0 is empty",
    );
    expect(
        status(
            c.add_entries(add(vec![b"ok".to_vec(), vec![7; 65_536]]))
                .await,
        ),
        Code::InvalidArgument,
        "entry 1 is 65536 bytes",
    );
    let max = c
        .add_entries(add(vec![vec![7; 65_535]]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(max.entries[0].index, 10, "a 65,535-byte entry is accepted");
    expect(
        status(
            c.add_entries(add((0..101).map(|i| vec![i as u8 + 1]).collect()))
                .await,
        ),
        Code::ResourceExhausted,
        "--max-request-entries",
    );
    expect(
        status(
            c.add_entries(add((0..20).map(|i| vec![i as u8; 60_000]).collect()))
                .await,
        ),
        Code::ResourceExhausted,
        "--max-request-bytes",
    );

    // GetCheckpoint
    let size = 11u64;
    expect(
        status(
            c.get_checkpoint(v1::GetCheckpointRequest {
                tree_size: Some(999),
            })
            .await,
        ),
        Code::OutOfRange,
        "current tree size 11",
    );
    expect(
        status(
            c.get_checkpoint(v1::GetCheckpointRequest { tree_size: Some(5) })
                .await,
        ),
        Code::NotFound,
        "nearest published sizes",
    );

    // GetInclusionProof
    use v1::get_inclusion_proof_request::Leaf;
    let inc = |leaf: Option<Leaf>, tree_size: Option<u64>| v1::GetInclusionProofRequest {
        leaf,
        tree_size,
    };
    expect(
        status(
            c.get_inclusion_proof(inc(Some(Leaf::LeafIndex(size)), None))
                .await,
        ),
        Code::OutOfRange,
        "current tree size 11",
    );
    expect(
        status(
            c.get_inclusion_proof(inc(Some(Leaf::LeafIndex(0)), Some(12)))
                .await,
        ),
        Code::OutOfRange,
        "current tree size 11",
    );
    expect(
        status(
            c.get_inclusion_proof(inc(Some(Leaf::LeafIndex(5)), Some(3)))
                .await,
        ),
        Code::InvalidArgument,
        "not in a tree of size 3",
    );
    expect(
        status(
            c.get_inclusion_proof(inc(Some(Leaf::LeafHash(vec![1; 32])), None))
                .await,
        ),
        Code::NotFound,
        "not in the log",
    );
    expect(
        status(
            c.get_inclusion_proof(inc(Some(Leaf::LeafHash(vec![1; 31])), None))
                .await,
        ),
        Code::InvalidArgument,
        "32 bytes",
    );
    expect(
        status(c.get_inclusion_proof(inc(None, None)).await),
        Code::InvalidArgument,
        "leaf_index or leaf_hash",
    );

    // GetConsistencyProof
    let cons = |old_size, new_size| v1::GetConsistencyProofRequest { old_size, new_size };
    expect(
        status(c.get_consistency_proof(cons(0, None)).await),
        Code::InvalidArgument,
        "at least 1",
    );
    expect(
        status(c.get_consistency_proof(cons(5, Some(3))).await),
        Code::InvalidArgument,
        "larger than",
    );
    expect(
        status(c.get_consistency_proof(cons(1, Some(12))).await),
        Code::OutOfRange,
        "current tree size 11",
    );
    expect(
        status(c.get_consistency_proof(cons(50, None)).await),
        Code::OutOfRange,
        "current tree size 11",
    );

    // GetEntries
    let ent = |start, count| v1::GetEntriesRequest { start, count };
    expect(
        status(c.get_entries(ent(11, 1)).await),
        Code::OutOfRange,
        "current tree size 11",
    );
    expect(
        status(c.get_entries(ent(u64::MAX, u64::MAX)).await),
        Code::OutOfRange,
        "current tree size 11",
    );
    expect(
        status(c.get_entries(ent(0, 0)).await),
        Code::InvalidArgument,
        "at least 1",
    );
    // A huge count is bounded, not an error.
    let page = c.get_entries(ent(9, u64::MAX)).await.unwrap().into_inner();
    assert_eq!(page.entries.len(), 2);

    // After all that, the log still works and nothing was written by the rejects.
    let p = client
        .inclusion_proof(LeafRef::Index(10), None)
        .await
        .unwrap();
    assert_eq!(p.tree_size, 11);
    let r = client.add_entries(vec![b"after".to_vec()]).await.unwrap();
    assert_eq!(r.entries[0].index, 11);
    assert!(
        server.stderr().lines().all(|l| !l.contains("panicked")),
        "{}",
        server.stderr()
    );
}
