//! Floods beyond `--producer-rate-limit`.

use std::time::{Duration, Instant};

use causeway_client::LogClient;
use causeway_records::Kind;
use causeway_tests::fixtures::{now, signed, ticket_authorization};
use causeway_tlog::merkle::leaf_hash;
use tonic::Code;

use crate::records::flood_authorization;
use crate::{Deployment, Ledger, OPAQUE_RATE, RECORDS_RATE, Tally};

pub(crate) async fn flood_cases(
    d: &Deployment,
    tally: &mut Tally,
    records_ledger: &mut Ledger,
    limited_ledger: &mut Ledger,
) {
    // One producer key, 8 concurrent connections, 160 records: at most a
    // second of burst plus the refill gets in, the rest is refused with
    // the wait; another producer is not slowed down meanwhile.
    let t0 = now() - 3000;
    let flood: Vec<Vec<u8>> = (0..160)
        .map(|i| {
            signed(
                Kind::Authorization,
                &flood_authorization(t0 + i, &format!("FLOOD-{i}")),
                &d.flooder,
            )
        })
        .collect();
    let flood_id = d.flooder.key_id();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in flood.chunks(20) {
        let (url, chunk) = (d.records.url.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut c = LogClient::connect(&url).await.unwrap();
            let mut out = Vec::new();
            for e in chunk {
                out.push((e.clone(), c.add_entries(vec![e]).await));
            }
            out
        }));
    }
    let mut other = LogClient::connect(&d.records.url).await.unwrap();
    let bystander = signed(
        Kind::Authorization,
        &ticket_authorization(t0, "BYSTANDER"),
        &d.producers.approver,
    );
    let r = other
        .add_entries(vec![bystander.clone()])
        .await
        .expect("another producer is not limited by the flood");
    records_ledger.ack_all(std::slice::from_ref(&bystander), &r);
    let (mut accepted, mut refused) = (0u32, 0u32);
    for task in tasks {
        for (entry, result) in task.await.unwrap() {
            match result {
                Ok(r) => {
                    records_ledger.ack_all(std::slice::from_ref(&entry), &r);
                    accepted += 1;
                }
                Err(e) => {
                    assert_eq!(e.code(), Some(Code::ResourceExhausted), "{e}");
                    let text = e.to_string();
                    assert!(
                        text.contains(&flood_id) && text.contains("retry in"),
                        "{text}"
                    );
                    refused += 1;
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = f64::from(RECORDS_RATE) * (1.0 + elapsed) + 1.0;
    assert!(accepted >= RECORDS_RATE, "the burst gets in: {accepted}");
    assert!(
        f64::from(accepted) <= allowed,
        "{accepted} accepted in {elapsed:.2} s"
    );
    assert!(refused > 0);
    tally.pass("flood: one producer over --producer-rate-limit from 8 connections");

    // More records in one request than a second's worth: refused whole,
    // nothing of it written, whenever it is sent.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let big: Vec<Vec<u8>> = (0..RECORDS_RATE + 5)
        .map(|i| {
            signed(
                Kind::Authorization,
                &flood_authorization(t0 + 1000 + i64::from(i), &format!("BIG-{i}")),
                &d.flooder,
            )
        })
        .collect();
    let mut c = LogClient::connect(&d.records.url).await.unwrap();
    let err = c.add_entries(big.clone()).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::ResourceExhausted), "{err}");
    assert!(err.to_string().contains("split it"), "{err}");
    for e in &big {
        let gone = c
            .inclusion_proof(causeway_client::LeafRef::Hash(leaf_hash(e)), None)
            .await;
        assert_eq!(gone.unwrap_err().code(), Some(Code::NotFound));
    }
    tally.pass("flood: a request over a second's burst is refused whole");

    // Opaque entries are limited per client address.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..6 {
        let url = d.limited.url.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = LogClient::connect(&url).await.unwrap();
            let mut out = Vec::new();
            for i in 0..20 {
                let e = format!("address flood {w} {i}").into_bytes();
                out.push((e.clone(), c.add_entries(vec![e]).await));
            }
            out
        }));
    }
    let (mut accepted, mut refused) = (0u32, 0u32);
    for task in tasks {
        for (entry, result) in task.await.unwrap() {
            match result {
                Ok(r) => {
                    limited_ledger.ack_all(std::slice::from_ref(&entry), &r);
                    accepted += 1;
                }
                Err(e) => {
                    assert_eq!(e.code(), Some(Code::ResourceExhausted), "{e}");
                    assert!(e.to_string().contains("address 127.0.0.1"), "{e}");
                    refused += 1;
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        accepted >= OPAQUE_RATE && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
    assert!(f64::from(accepted) <= f64::from(OPAQUE_RATE) * (1.0 + elapsed) + 1.0);
    tally.pass("flood: opaque entries over the per-address limit");
}
