//! What the auditor's commands (`audit`, `verify`, `monitor`) trust, and
//! the files and clock they read it with.

use std::path::Path;

use anyhow::Context as _;
use causeway_client::verify::{LogKeys, WitnessPolicy};
use causeway_records::ProducerPolicy;
use causeway_rfc3161::TrustedRoots;

/// The current Unix time in seconds.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Reads and checks the producer policy at `--policy`.
pub(crate) fn load_policy(path: &Path) -> anyhow::Result<ProducerPolicy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--policy {}: cannot read it", path.display()))?;
    // JWKS files an [[idp]] names are relative to the policy file.
    let dir = path.parent().unwrap_or(Path::new("."));
    ProducerPolicy::parse_with_files(&text, &mut |name| {
        std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string())
    })
    .with_context(|| format!("--policy {}", path.display()))
}

/// Reads the TSA roots at `--tsa-roots`.
pub(crate) fn load_roots(path: &Path) -> anyhow::Result<TrustedRoots> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("--tsa-roots {}: cannot read it", path.display()))?;
    TrustedRoots::from_pem_or_der(&bytes).with_context(|| format!("--tsa-roots {}", path.display()))
}

/// What the auditor's commands were told to trust.
pub(crate) struct Trust {
    /// The log's verifier keys (`--vkey`), or none: unverified.
    pub(crate) log: LogKeys,
    /// The witness policy (`--witness-vkey`, `--quorum`, age bound).
    pub(crate) witnesses: WitnessPolicy,
    /// The TSA roots (`--tsa-roots`), if anchors are to be checked.
    pub(crate) tsa_roots: Option<std::path::PathBuf>,
}
