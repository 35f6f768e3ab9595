//! `causeway verify-evidence`: split-view evidence kept by a witness,
//! checked against the log's keys.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use causeway_client::evidence::check_evidence;
use causeway_tlog::witness::EvidenceRecord;
use serde_json::json;

use crate::args::{Common, keys};

/// `causeway verify-evidence`.
pub(crate) async fn verify_evidence(
    common: &Common,
    witness: Option<&str>,
    files: &[PathBuf],
) -> anyhow::Result<()> {
    let keys = keys(common)?;
    let mut records: Vec<EvidenceRecord> = Vec::new();
    let mut load = |text: &str, from: &str| -> anyhow::Result<()> {
        let value: serde_json::Value =
            serde_json::from_str(text).with_context(|| format!("{from} is not JSON"))?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        for item in items {
            records.push(
                serde_json::from_value(item)
                    .with_context(|| format!("{from}: not an evidence record"))?,
            );
        }
        Ok(())
    };
    if let Some(url) = witness {
        let url = format!("{}/evidence", url.trim_end_matches('/'));
        let response = reqwest::get(&url)
            .await
            .with_context(|| format!("fetching {url}"))?;
        if !response.status().is_success() {
            bail!("{url} answered {}", response.status());
        }
        load(&response.text().await?, &url)?;
    }
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        load(&text, &f.display().to_string())?;
    }
    let mut failures = 0;
    for record in &records {
        match check_evidence(record, &keys) {
            Ok(finding) => {
                if common.json {
                    println!(
                        "{}",
                        json!({
                            "id": record.id,
                            "kind": record.kind.as_str(),
                            "origin": record.origin,
                            "detected_at": record.detected_at,
                            "cosigned_size": finding.cosigned.size(),
                            "cosigned_root": finding.cosigned.root().to_hex(),
                            "presented_size": finding.presented.size(),
                            "presented_root": finding.presented.root().to_hex(),
                            "conclusive": finding.conclusive,
                            "explanation": finding.explanation,
                            "verified": true,
                        })
                    );
                } else {
                    let verdict = if finding.conclusive {
                        "PROOF OF A SPLIT VIEW"
                    } else {
                        "SUSPICIOUS"
                    };
                    println!("{} {verdict}: {}", record.id, finding.explanation);
                }
            }
            Err(e) => {
                failures += 1;
                if common.json {
                    println!(
                        "{}",
                        json!({"id": record.id, "kind": record.kind.as_str(), "verified": false, "error": e.to_string()})
                    );
                } else {
                    println!("{} DOES NOT VERIFY: {e}", record.id);
                }
            }
        }
    }
    if records.is_empty() && !common.json {
        println!("no evidence records");
    }
    if failures > 0 {
        bail!(
            "{failures} of {} evidence records do not verify",
            records.len()
        );
    }
    Ok(())
}
