//! The real `causeway-server` binary on loopback: many concurrent writers,
//! proofs against signed checkpoints, clean restarts and `kill -9`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causeway_client::verify::{check_consistency, check_inclusion, verify_checkpoint};
use causeway_client::{LeafRef, LogClient};
use causeway_tests::Server;
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, leaf_hash};
use causeway_tlog::note::VerifierKey;
use rand::Rng as _;

async fn latest(client: &mut LogClient, keys: &[VerifierKey]) -> Checkpoint {
    let note = client.checkpoint(None).await.unwrap();
    verify_checkpoint(&note, keys).unwrap().into_checkpoint()
}

/// Verifies every listed entry's inclusion in `cp`, with a few concurrent clients.
async fn prove_all(url: &str, cp: &Checkpoint, entries: &[(u64, Hash)]) {
    let chunks: Vec<Vec<(u64, Hash)>> = entries
        .chunks(entries.len().div_ceil(8).max(1))
        .map(<[_]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (url, cp) = (url.to_owned(), cp.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = LogClient::connect(&url).await.unwrap();
            for (index, hash) in chunk {
                let p = c
                    .inclusion_proof(LeafRef::Index(index), Some(cp.size()))
                    .await
                    .unwrap();
                assert_eq!(p.leaf_hash, hash, "leaf {index}");
                check_inclusion(&cp, index, &hash, &p.proof)
                    .unwrap_or_else(|e| panic!("leaf {index}: {e}"));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_entries_from_concurrent_clients_prove_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let server = Server::start(&data, &[]);
    let keys = server.keys();
    const CLIENTS: usize = 16;
    const PER_CLIENT: usize = 625; // 16 × 625 = 10,000

    // Half the clients send batches of 25, half send one entry per call.
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let url = server.url.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = LogClient::connect(&url).await.unwrap();
            let entries: Vec<Vec<u8>> = (0..PER_CLIENT)
                .map(|k| format!("client {c} entry {k}").into_bytes())
                .collect();
            let batch = if c % 2 == 0 { 25 } else { 1 };
            let mut added = Vec::new();
            let mut notes = Vec::new();
            for chunk in entries.chunks(batch) {
                let r = client.add_entries(chunk.to_vec()).await.unwrap();
                for (e, a) in chunk.iter().zip(&r.entries) {
                    assert_eq!(a.leaf_hash, leaf_hash(e));
                    assert!(!a.duplicate);
                    added.push((a.index, a.leaf_hash, e.clone()));
                }
                notes.push(r.checkpoint_note);
            }
            (added, notes)
        }));
    }
    let mut by_index: BTreeMap<u64, (Hash, Vec<u8>)> = BTreeMap::new();
    let mut notes: BTreeMap<u64, Checkpoint> = BTreeMap::new();
    for t in tasks {
        let (added, ns) = t.await.unwrap();
        for (i, h, e) in added {
            assert!(
                by_index.insert(i, (h, e)).is_none(),
                "index {i} handed out twice"
            );
        }
        for n in ns {
            // Every checkpoint handed back with an acknowledgement verifies.
            let cp = verify_checkpoint(&n, &keys).unwrap().into_checkpoint();
            if let Some(prev) = notes.insert(cp.size(), cp.clone()) {
                assert_eq!(prev, cp, "two different checkpoints at size {}", cp.size());
            }
        }
    }
    assert_eq!(by_index.len(), CLIENTS * PER_CLIENT);
    assert_eq!(
        by_index.keys().copied().collect::<Vec<_>>(),
        (0..10_000u64).collect::<Vec<_>>()
    );
    assert!(
        notes.len() > 10,
        "batching should still publish many checkpoints, got {}",
        notes.len()
    );

    let mut client = LogClient::connect(&server.url).await.unwrap();
    let head = latest(&mut client, &keys).await;
    assert_eq!(head.size(), 10_000);

    // Every entry's inclusion proof verifies against the signed head.
    let leaves: Vec<(u64, Hash)> = by_index.iter().map(|(i, (h, _))| (*i, *h)).collect();
    prove_all(&server.url, &head, &leaves).await;

    // The entries read back are the ones written, in order.
    let mut at = 0u64;
    while at < 10_000 {
        let page = client.entries(at, 10_000).await.unwrap();
        assert!(!page.is_empty());
        for e in page {
            assert_eq!(e, by_index[&at].1, "entry {at}");
            at += 1;
        }
    }

    // Consistency between many pairs of published checkpoints, and each to the head.
    let published: Vec<&Checkpoint> = notes.values().collect();
    let mut rng = rand::thread_rng();
    for _ in 0..60 {
        let a = rng.gen_range(0..published.len());
        let b = rng.gen_range(a..published.len());
        let (old, new) = (published[a], published[b]);
        let (size, proof) = client
            .consistency_proof(old.size(), Some(new.size()))
            .await
            .unwrap();
        assert_eq!(size, new.size());
        check_consistency(old, new, &proof).unwrap();
    }
    for old in &published {
        let (_, proof) = client
            .consistency_proof(old.size(), Some(head.size()))
            .await
            .unwrap();
        check_consistency(old, &head, &proof).unwrap();
    }
    // A historical checkpoint is served by size, byte for byte the same.
    let mid = published[published.len() / 2];
    let again =
        verify_checkpoint(&client.checkpoint(Some(mid.size())).await.unwrap(), &keys).unwrap();
    assert_eq!(again.checkpoint(), mid);

    // A clean stop exits 0, and a restart serves the same tree.
    let head_note = client.checkpoint(None).await.unwrap();
    drop(client);
    let status = server.terminate();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    let server = Server::start(&data, &[]);
    assert_eq!(server.start_size, 10_000);
    assert_eq!(
        server.vkeys,
        keys.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    let mut client = LogClient::connect(&server.url).await.unwrap();
    assert_eq!(client.checkpoint(None).await.unwrap(), head_note);
    prove_all(&server.url, &head, &leaves[..200]).await;
    // Duplicates after restart still get their original index.
    let (_, (_, e)) = by_index.iter().nth(1234).unwrap();
    let r = client
        .add_entries(vec![e.clone(), b"new after restart".to_vec()])
        .await
        .unwrap();
    assert_eq!((r.entries[0].index, r.entries[0].duplicate), (1234, true));
    assert_eq!(
        (r.entries[1].index, r.entries[1].duplicate),
        (10_000, false)
    );
    let next = verify_checkpoint(&r.checkpoint_note, &keys)
        .unwrap()
        .into_checkpoint();
    let (_, proof) = client
        .consistency_proof(10_000, Some(next.size()))
        .await
        .unwrap();
    check_consistency(&head, &next, &proof).unwrap();
}

#[derive(Default)]
struct Observed {
    acked: HashMap<u64, (Hash, Vec<u8>)>,
    checkpoints: BTreeMap<u64, Checkpoint>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_in_a_write_storm_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let mut server = Server::start(&data, &[]);
    let keys = server.keys();
    let observed = Arc::new(Mutex::new(Observed::default()));

    for cycle in 0..3u32 {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..8u32 {
            let (url, observed, stop, keys) = (
                server.url.clone(),
                observed.clone(),
                stop.clone(),
                keys.clone(),
            );
            writers.push(tokio::spawn(async move {
                let Ok(mut client) = LogClient::connect(&url).await else {
                    return;
                };
                let mut k = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let n = 1 + (k % 17) as usize;
                    let batch: Vec<Vec<u8>> = (0..n)
                        .map(|i| format!("cycle {cycle} writer {w} call {k} item {i}").into_bytes())
                        .collect();
                    k += 1;
                    match client.add_entries(batch.clone()).await {
                        Ok(r) => {
                            let cp = verify_checkpoint(&r.checkpoint_note, &keys)
                                .unwrap()
                                .into_checkpoint();
                            let mut o = observed.lock().unwrap();
                            for (e, a) in batch.into_iter().zip(r.entries) {
                                assert!(a.index < cp.size());
                                o.acked.insert(a.index, (a.leaf_hash, e));
                            }
                            o.checkpoints.insert(cp.size(), cp);
                        }
                        Err(_) => return, // the server died under us
                    }
                }
            }));
        }
        // Let the storm run, then pull the plug mid-write.
        let before = observed.lock().unwrap().acked.len();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        while observed.lock().unwrap().acked.len() < before + 500 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::task::spawn_blocking(move || server.kill9())
            .await
            .unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }

        server = Server::start(&data, &[]);
        let mut client = LogClient::connect(&server.url).await.unwrap();
        let head = latest(&mut client, &keys).await;
        assert_eq!(head.size(), server.start_size);
        let (acked, checkpoints) = {
            let o = observed.lock().unwrap();
            (o.acked.clone(), o.checkpoints.clone())
        };
        let max = acked.keys().max().copied().unwrap();
        assert!(
            head.size() > max,
            "cycle {cycle}: recovered size {} but index {max} was acknowledged",
            head.size()
        );
        // Every acknowledged entry is there, at its index, and provably included.
        for (index, (_, entry)) in &acked {
            let got = client.entries(*index, 1).await.unwrap();
            assert_eq!(&got[0], entry, "cycle {cycle}: entry {index} changed");
        }
        let leaves: Vec<(u64, Hash)> = acked.iter().map(|(i, (h, _))| (*i, *h)).collect();
        prove_all(&server.url, &head, &leaves).await;
        // Every checkpoint published before the kill is a prefix of the recovered tree.
        for old in checkpoints.values().filter(|c| c.size() > 0) {
            let (_, proof) = client
                .consistency_proof(old.size(), Some(head.size()))
                .await
                .unwrap();
            check_consistency(old, &head, &proof).unwrap_or_else(|e| {
                panic!("cycle {cycle}: checkpoint {} inconsistent: {e}", old.size())
            });
        }
    }
    let _ = server.terminate();
}
