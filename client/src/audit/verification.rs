//! The `verification` section of `report.json`: what the auditor checked
//! before the analysis (the tree, the log's signatures, the witness
//! quorum, the anchors), and what it did not.
//!
//! The analysis ([`super::analyze`]) is pure and never sees the network,
//! so it cannot fill this in: the CLI does, after fetching and checking,
//! and writes both halves with [`ReportFile`](super::ReportFile). The JSON names are a
//! contract, like the rest of the report.

use serde::Serialize;

/// How an audit ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditStatus {
    /// Everything checked passed, with the log's keys.
    Verified,
    /// Nothing failed, but the log's signatures were not checked
    /// (`--unverified`).
    Unverified,
    /// Some entries are not valid records of this log.
    Failed,
}

impl AuditStatus {
    /// The status as the JSON and the verdict line spell it.
    pub const fn word(self) -> &'static str {
        match self {
            AuditStatus::Verified => "verified",
            AuditStatus::Unverified => "unverified",
            AuditStatus::Failed => "failed",
        }
    }
}

/// One witness cosignature that counted towards the quorum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WitnessCosignature {
    /// The witness's verifier key.
    pub witness: String,
    /// The cosignature's timestamp (POSIX seconds).
    pub time: u64,
}

/// What the audit checked, and what it did not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// How the audit ended.
    pub status: AuditStatus,
    /// The checkpoint's tree size, recomputed from the entries.
    pub tree_size: u64,
    /// The checkpoint's root hash (hex), which the entries recompute to.
    pub root: String,
    /// Whether the checkpoint's log signatures were verified.
    pub log_signature_verified: bool,
    /// How many log keys the signatures were checked with (0: none).
    pub log_keys_checked: usize,
    /// Whether the witness quorum was checked.
    pub witnesses_checked: bool,
    /// How many witnesses had to cosign (0: not checked).
    pub witness_quorum: usize,
    /// The cosignatures that counted.
    pub cosignatures: Vec<WitnessCosignature>,
    /// How many anchored checkpoints of this tree were checked.
    pub anchors_checked: usize,
    /// Whether their TSA signatures were verified too (`--tsa-roots`).
    pub anchors_verified_with_tsa_roots: bool,
    /// What was checked, in words.
    pub checked: Vec<String>,
    /// What was not checked, and why, in words.
    pub not_checked: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Verification {
        Verification {
            status: AuditStatus::Unverified,
            tree_size: 14,
            root: "ee".repeat(32),
            log_signature_verified: false,
            log_keys_checked: 0,
            witnesses_checked: true,
            witness_quorum: 2,
            cosignatures: vec![
                WitnessCosignature {
                    witness: "w1+89abcdef+EfGh".into(),
                    time: 1_795_340_000,
                },
                WitnessCosignature {
                    witness: "w2+0000aaaa+IjKl".into(),
                    time: 1_795_340_001,
                },
            ],
            anchors_checked: 1,
            anchors_verified_with_tsa_roots: false,
            checked: vec!["tree (14 entries recomputed to the checkpoint's root)".into()],
            not_checked: vec!["log signatures (--unverified: no --vkey)".into()],
        }
    }

    /// The section as `causeway audit` wrote it with `json!` before it was
    /// typed, field for field: `report.json` must not change.
    #[test]
    fn serializes_as_the_untyped_section_did() {
        let v = sample();
        let before = json!({
            "status": "unverified",
            "tree_size": 14,
            "root": "ee".repeat(32),
            "log_signature_verified": false,
            "log_keys_checked": 0,
            "witnesses_checked": true,
            "witness_quorum": 2,
            "cosignatures": [
                {"witness": "w1+89abcdef+EfGh", "time": 1_795_340_000},
                {"witness": "w2+0000aaaa+IjKl", "time": 1_795_340_001},
            ],
            "anchors_checked": 1,
            "anchors_verified_with_tsa_roots": false,
            "checked": ["tree (14 entries recomputed to the checkpoint's root)"],
            "not_checked": ["log signatures (--unverified: no --vkey)"],
        });
        assert_eq!(serde_json::to_value(&v).unwrap(), before);
        for (status, word) in [
            (AuditStatus::Verified, "verified"),
            (AuditStatus::Unverified, "unverified"),
            (AuditStatus::Failed, "failed"),
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), json!(word));
            assert_eq!(status.word(), word);
        }
    }
}
