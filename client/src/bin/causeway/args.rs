//! The arguments most commands share: where the log is (`--log`, TLS),
//! what to trust (`--vkey`, `--witness-vkey`, `--quorum`, the cosignature
//! age) and where its tiles are.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use causeway_client::verify::{LogKeys, WitnessPolicy};
use causeway_client::{DEFAULT_LOG_URL, LogClient, LogTarget, TlsSettings};
use causeway_tlog::note::{SignatureType, VerifierKey};
use clap::Args;

use crate::duration::{Age, parse_age, parse_timeout};
use crate::trust::Trust;

#[derive(Args, Debug, Clone)]
pub(crate) struct Common {
    /// The log's gRPC endpoint.
    #[arg(long, env = "CAUSEWAY_LOG", default_value = DEFAULT_LOG_URL, global = true)]
    pub(crate) log: String,
    /// A log verifier key (<name>+<hex id>+<base64>), as printed by
    /// `causeway-server init`. Repeatable; every key given must have signed.
    #[arg(
        long = "vkey",
        env = "CAUSEWAY_VKEYS",
        value_delimiter = ',',
        global = true
    )]
    pub(crate) vkeys: Vec<String>,
    /// A witness's cosignature/v1 verifier key, as printed by
    /// `causeway-witness init`. Repeatable; checkpoints must then carry
    /// valid cosignatures from --quorum of these witnesses.
    #[arg(
        long = "witness-vkey",
        env = "CAUSEWAY_WITNESS_VKEYS",
        value_delimiter = ',',
        global = true
    )]
    pub(crate) witness_vkeys: Vec<String>,
    /// How many of the --witness-vkey witnesses must have cosigned.
    /// [default: all of them]
    #[arg(long, env = "CAUSEWAY_QUORUM", global = true)]
    pub(crate) quorum: Option<usize>,
    /// The oldest acceptable cosignature on the latest checkpoint (e.g.
    /// 90s, 30m, 1h, 2d; "none" for no bound). Checkpoints asked for by
    /// --size are historical and exempt.
    #[arg(long, env = "CAUSEWAY_MAX_COSIGNATURE_AGE", default_value = "1h", value_parser = parse_age, global = true)]
    pub(crate) max_cosignature_age: Age,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
}

/// TLS for an https:// --log.
#[derive(Args, Debug, Clone)]
pub(crate) struct TlsArgs {
    /// PEM CA certificate(s) to trust for the log's TLS certificate
    /// (default: the system's roots).
    #[arg(long, env = "CAUSEWAY_TLS_CA", global = true, value_name = "FILE")]
    pub(crate) tls_ca: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (a producer on a log started
    /// with --tls-client-ca). Needs --tls-key.
    #[arg(
        long,
        env = "CAUSEWAY_TLS_CERT",
        global = true,
        requires = "tls_key",
        value_name = "FILE"
    )]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "CAUSEWAY_TLS_KEY",
        global = true,
        requires = "tls_cert",
        value_name = "FILE"
    )]
    pub(crate) tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The target at `url` with these settings (files read now).
    pub(crate) fn target(&self, url: &str) -> anyhow::Result<LogTarget> {
        Ok(LogTarget {
            url: url.to_owned(),
            tls: tls_settings(
                ("--tls-ca", self.tls_ca.as_ref()),
                ("--tls-cert", self.tls_cert.as_ref()),
                ("--tls-key", self.tls_key.as_ref()),
            )?,
        })
    }
}

/// Reads a CA and a client certificate and key, each given by the flag
/// named with it; a certificate without its key (or the reverse) is none.
pub(crate) fn tls_settings(
    ca: (&str, Option<&PathBuf>),
    cert: (&str, Option<&PathBuf>),
    key: (&str, Option<&PathBuf>),
) -> anyhow::Result<TlsSettings> {
    fn read((flag, path): (&str, Option<&PathBuf>)) -> anyhow::Result<Option<Vec<u8>>> {
        path.map(|p| {
            std::fs::read(p).with_context(|| format!("{flag} {}: cannot read it", p.display()))
        })
        .transpose()
    }
    let ca_pem = read(ca)?;
    let identity_pem = match (read(cert)?, read(key)?) {
        (Some(c), Some(k)) => Some((c, k)),
        _ => None,
    };
    Ok(TlsSettings {
        ca_pem,
        identity_pem,
    })
}

impl Common {
    /// The log this command talks to.
    pub(crate) fn target(&self) -> anyhow::Result<LogTarget> {
        self.tls.target(&self.log)
    }
}

#[derive(Args, Debug, Clone)]
pub(crate) struct TilesArg {
    /// The log's tile URL prefix (c2sp.org/tlog-tiles): the server's
    /// --http-addr, a mirror, a bucket or a CDN.
    #[arg(long = "tiles", env = "CAUSEWAY_TILES", default_value = causeway_client::tiles::DEFAULT_TILES_URL)]
    pub(crate) url: String,
    /// The most time one tile request may take, body included (e.g. 30s,
    /// 2m): a server that stalls or drips bytes fails after this.
    #[arg(long, env = "CAUSEWAY_HTTP_TIMEOUT", default_value = "30s", value_parser = parse_timeout)]
    pub(crate) http_timeout: std::time::Duration,
}

pub(crate) fn keys(common: &Common) -> anyhow::Result<Vec<VerifierKey>> {
    common
        .vkeys
        .iter()
        .filter(|v| !v.trim().is_empty())
        .map(|v| VerifierKey::parse(v).with_context(|| format!("--vkey {v:?}")))
        .collect()
}

/// The witness policy of the command line; `latest` applies the age bound.
pub(crate) fn witness_policy(common: &Common, latest: bool) -> anyhow::Result<WitnessPolicy> {
    let keys: Vec<VerifierKey> = common
        .witness_vkeys
        .iter()
        .filter(|v| !v.trim().is_empty())
        .map(|v| VerifierKey::parse(v).with_context(|| format!("--witness-vkey {v:?}")))
        .collect::<anyhow::Result<_>>()?;
    if let Some(k) = keys.iter().find(|k| k.kind() != SignatureType::Cosignature) {
        bail!("--witness-vkey {k}: not a cosignature/v1 (type 0x04) witness key");
    }
    let quorum = common.quorum.unwrap_or(keys.len());
    if quorum > keys.len() {
        bail!(
            "--quorum {quorum} is more than the {} --witness-vkey keys given",
            keys.len()
        );
    }
    Ok(WitnessPolicy {
        keys,
        quorum,
        max_age_secs: if latest {
            common.max_cosignature_age.secs()
        } else {
            None
        },
    })
}

/// What the auditor's commands trust: the log's keys, the witness policy
/// (`latest` applies the age bound) and the TSA roots.
pub(crate) fn trust(
    common: &Common,
    latest: bool,
    tsa_roots: Option<PathBuf>,
) -> anyhow::Result<Trust> {
    Ok(Trust {
        log: log_keys(common)?,
        witnesses: witness_policy(common, latest)?,
        tsa_roots,
    })
}

/// Connects to `--log`.
pub(crate) async fn connect(common: &Common) -> anyhow::Result<LogClient> {
    Ok(common.target()?.connect().await?)
}

/// The log's keys of the command line: without `--vkey`, commands read
/// checkpoints unverified and say so.
pub(crate) fn log_keys(common: &Common) -> anyhow::Result<LogKeys> {
    Ok(LogKeys::or_unverified(keys(common)?))
}
