//! `causeway prove inclusion` and `prove consistency`: proofs from the
//! log's API or computed from its tiles (`--from-tiles`), verified against
//! the signed checkpoints before anything is printed.

use anyhow::{Context as _, bail};
use causeway_client::LeafRef;
use causeway_client::tiles::{DEFAULT_HTTP_TIMEOUT, TileTree};
use causeway_client::verify::{MaybeVerified, check_consistency, check_inclusion};
use causeway_tlog::merkle::Hash;
use serde_json::json;

use crate::args::{Common, connect, log_keys};
use crate::checkpoint::fetch_checkpoint;
use crate::output::{cosigned_json, hex_list, verdict};
use crate::tiles::open_tiles;

pub(crate) async fn prove_inclusion(
    common: &Common,
    index: Option<u64>,
    leaf: LeafRef,
    size: Option<u64>,
    wait: std::time::Duration,
) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
    let mut client = connect(common).await?;
    let deadline = std::time::Instant::now() + wait;
    let (c, p) = loop {
        let c = fetch_checkpoint(&mut client, size, &keys, common).await?;
        match client
            .inclusion_proof(leaf, Some(c.checkpoint().size()))
            .await
        {
            Ok(p) => break (c, p),
            // The leaf is beyond the latest published checkpoint: it may
            // be waiting for witness cosignatures.
            Err(e)
                if size.is_none()
                    && matches!(
                        e.code(),
                        Some(tonic::Code::InvalidArgument | tonic::Code::OutOfRange)
                    ) =>
            {
                if std::time::Instant::now() >= deadline {
                    bail!(
                        "{e}\nthe leaf is not in the latest published checkpoint (size {}); with witnesses, entries are published once a quorum cosigns a checkpoint that includes them: retry, or wait longer with --wait",
                        c.checkpoint().size()
                    );
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    if let LeafRef::Hash(h) = leaf
        && p.leaf_hash != h
    {
        bail!("asked about leaf {h}, the log proved {}", p.leaf_hash);
    }
    if let Some(i) = index
        && p.leaf_index != i
    {
        bail!("that leaf is at index {}, not {i}", p.leaf_index);
    }
    if p.tree_size != c.checkpoint().size() {
        bail!(
            "asked for a proof at size {}, got one at {}",
            c.checkpoint().size(),
            p.tree_size
        );
    }
    check_inclusion(c.checkpoint(), p.leaf_index, &p.leaf_hash, &p.proof)
        .context("the inclusion proof does not lead to the checkpoint's root")?;
    print_inclusion(common, p.leaf_index, &p.leaf_hash, &p.proof, &c);
    Ok(())
}

fn print_inclusion(common: &Common, index: u64, leaf: &Hash, proof: &[Hash], c: &MaybeVerified) {
    let size = c.checkpoint().size();
    if common.json {
        println!(
            "{}",
            json!({
                "leaf_index": index,
                "tree_size": size,
                "leaf_hash": leaf.to_hex(),
                "root": c.checkpoint().root().to_hex(),
                "proof": hex_list(proof),
                "note": c.note(),
                "verified": c.is_verified(),
                "cosignatures": cosigned_json(c.cosigned()),
            })
        );
    } else {
        println!("leaf {index} ({leaf}) is in the tree of size {size}");
        println!("root {}", c.checkpoint().root());
        println!("proof checked: {} hashes", proof.len());
        println!("{}", verdict(c.is_verified()));
    }
}

pub(crate) async fn prove_consistency(
    common: &Common,
    old: u64,
    new: Option<u64>,
) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
    let mut client = connect(common).await?;
    let new_c = fetch_checkpoint(&mut client, new, &keys, common).await?;
    let old_c = fetch_checkpoint(&mut client, Some(old), &keys, common).await?;
    let (new_size, proof) = client
        .consistency_proof(old, Some(new_c.checkpoint().size()))
        .await?;
    if new_size != new_c.checkpoint().size() {
        bail!(
            "asked for a proof to size {}, got one to {new_size}",
            new_c.checkpoint().size()
        );
    }
    check_consistency(old_c.checkpoint(), new_c.checkpoint(), &proof)
        .context("the consistency proof does not link the two checkpoints")?;
    print_consistency(common, &old_c, &new_c, &proof);
    Ok(())
}

fn print_consistency(
    common: &Common,
    old_c: &MaybeVerified,
    new_c: &MaybeVerified,
    proof: &[Hash],
) {
    let verified = old_c.is_verified() && new_c.is_verified();
    let (old, new) = (old_c.checkpoint().size(), new_c.checkpoint().size());
    if common.json {
        println!(
            "{}",
            json!({
                "old_size": old,
                "new_size": new,
                "old_root": old_c.checkpoint().root().to_hex(),
                "new_root": new_c.checkpoint().root().to_hex(),
                "proof": hex_list(proof),
                "verified": verified,
            })
        );
    } else {
        println!(
            "tree {old} ({}) is a prefix of tree {new} ({})",
            old_c.checkpoint().root(),
            new_c.checkpoint().root()
        );
        println!("proof checked: {} hashes", proof.len());
        println!("{}", verdict(verified));
    }
}

pub(crate) async fn prove_inclusion_from_tiles(
    common: &Common,
    url: &str,
    index: Option<u64>,
    leaf: LeafRef,
) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
    let Some(index) = index else {
        bail!("--from-tiles needs --index: tiles cannot look a leaf up by hash");
    };
    let (source, c) = open_tiles(url, DEFAULT_HTTP_TIMEOUT, &keys, common).await?;
    let tree = TileTree::new(&source, c.checkpoint().size());
    let leaf_hash = tree.leaf_hash(index).await?;
    if let LeafRef::Hash(h) = leaf
        && h != leaf_hash
    {
        bail!("leaf {index} in the tiles is {leaf_hash}, not {h}");
    }
    let proof = tree.inclusion_proof(index).await?;
    check_inclusion(c.checkpoint(), index, &leaf_hash, &proof)
        .context("the proof computed from the tiles does not lead to the checkpoint's root")?;
    print_inclusion(common, index, &leaf_hash, &proof, &c);
    Ok(())
}

pub(crate) async fn prove_consistency_from_tiles(
    common: &Common,
    url: &str,
    old: u64,
) -> anyhow::Result<()> {
    let keys = log_keys(common)?;
    let (source, new_c) = open_tiles(url, DEFAULT_HTTP_TIMEOUT, &keys, common).await?;
    // The old root must come from somewhere other than these tiles, or
    // the check would be circular: the log's signed checkpoint at `old`.
    let mut client = connect(common).await?;
    let old_c = fetch_checkpoint(&mut client, Some(old), &keys, common).await?;
    let proof = TileTree::new(&source, new_c.checkpoint().size())
        .consistency_proof(old)
        .await?;
    check_consistency(old_c.checkpoint(), new_c.checkpoint(), &proof)
        .context("the proof computed from the tiles does not link the two checkpoints")?;
    print_consistency(common, &old_c, &new_c, &proof);
    Ok(())
}
