//! The issuer's config file (TOML), parsed into a checked [`Config`] at
//! start: a config that loads is one the issuer can run with.
//!
//! ```toml
//! listen = "127.0.0.1:7420"
//! log_url = "http://127.0.0.1:7400"
//! log_vkeys = ["test.causeway/log+…", "…"]   # as `causeway --vkey` takes them
//! policy = "policy.toml"           # the log's producer policy
//! issuer_key = "issuer.pem"        # PKCS#8 PEM of a principal with role "issuer"
//! max_ttl = "1h"                   # humantime: the longest credential issued
//! state_dir = "issuer-state"       # idempotence records and the derivation secret
//!
//! [tls]                            # mutual TLS, required
//! cert = "issuer-cert.pem"
//! key = "issuer-cert.key"
//! client_ca = "clients-ca.pem"
//!
//! [log_tls]                        # optional, for an https:// log_url
//! ca = "log-ca.pem"
//! cert = "issuer-client.pem"       # when the log requires client certificates
//! key = "issuer-client.key"
//!
//! [[caller]]
//! subject = "deploy-bot"           # client certificate CN or DNS SAN
//! agents = ["agent://deploy/*"]    # globs of agent ids it may request
//! ```
//!
//! Relative paths are relative to the config file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use causeway_records::{ProducerKey, ProducerPolicy, Role};
use causeway_tlog::note::VerifierKey;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: String,
    log_url: String,
    log_vkeys: Vec<String>,
    policy: PathBuf,
    issuer_key: PathBuf,
    max_ttl: String,
    state_dir: PathBuf,
    tls: TlsFile,
    log_tls: Option<LogTlsFile>,
    #[serde(default)]
    caller: Vec<Caller>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogTlsFile {
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: PathBuf,
    key: PathBuf,
    client_ca: PathBuf,
}

/// A `[[caller]]` table: a client certificate and the agent ids it may
/// request credentials for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caller {
    /// The certificate's subject CN or one of its DNS SANs.
    pub subject: String,
    /// Globs (`*` matches any run of characters) of agent ids.
    pub agents: Vec<String>,
}

/// The checked config.
pub struct Config {
    /// Where the gRPC service listens.
    pub listen: SocketAddr,
    /// The log's gRPC URL.
    pub log_url: String,
    /// How to reach an `https://` log (its CA, the issuer's client
    /// certificate when the log requires one for writes).
    pub log_tls: causeway_client::TlsSettings,
    /// The log's verifier keys; every checkpoint must verify with them.
    pub log_vkeys: Vec<VerifierKey>,
    /// The producer policy the log admits records under.
    pub policy: ProducerPolicy,
    /// The issuer's signing key.
    pub issuer_key: ProducerKey,
    /// The longest lifetime of a credential, seconds.
    pub max_ttl: u64,
    /// The state directory.
    pub state_dir: PathBuf,
    /// Server certificate chain (PEM).
    pub tls_cert: Vec<u8>,
    /// Server private key (PEM).
    pub tls_key: Vec<u8>,
    /// CA(s) of client certificates (PEM).
    pub client_ca: Vec<u8>,
    /// Who may ask for which agent ids.
    pub callers: Vec<Caller>,
}

fn read(base: &Path, path: &Path, what: &str) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let full = base.join(path);
    let bytes =
        std::fs::read(&full).with_context(|| format!("cannot read {what} {}", full.display()))?;
    Ok((full, bytes))
}

impl Config {
    /// Loads and checks `path`.
    ///
    /// # Errors
    /// Naming the setting that is wrong and what to do.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let file: File = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid issuer config", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let listen = file.listen.parse().with_context(|| {
            format!(
                "listen = {:?} is not an address like 127.0.0.1:7420",
                file.listen
            )
        })?;
        if !file.log_url.starts_with("http://") && !file.log_url.starts_with("https://") {
            bail!(
                "log_url = {:?} must be an http:// or https:// gRPC URL",
                file.log_url
            );
        }
        if file.log_vkeys.is_empty() {
            bail!(
                "log_vkeys is empty: give the log's verifier keys (what causeway-server prints \
                 as `vkey …`), so that the issuer believes only checkpoints the log signed"
            );
        }
        let log_vkeys = file
            .log_vkeys
            .iter()
            .map(|v| VerifierKey::parse(v).with_context(|| format!("log_vkeys entry {v:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (policy_path, policy_bytes) = read(base, &file.policy, "the producer policy")?;
        let policy_text = String::from_utf8(policy_bytes)
            .with_context(|| format!("{} is not UTF-8", policy_path.display()))?;
        let policy_dir = policy_path.parent().unwrap_or(Path::new(".")).to_owned();
        let policy = ProducerPolicy::parse_with_files(&policy_text, &mut |name| {
            std::fs::read_to_string(policy_dir.join(name)).map_err(|e| e.to_string())
        })
        .with_context(|| format!("the producer policy {}", policy_path.display()))?;
        let (key_path, key_bytes) = read(base, &file.issuer_key, "the issuer key")?;
        let issuer_key = std::str::from_utf8(&key_bytes)
            .map_err(anyhow::Error::from)
            .and_then(|pem| Ok(ProducerKey::from_pkcs8_pem(pem)?))
            .with_context(|| format!("issuer_key {}", key_path.display()))?;
        match policy.principal(&issuer_key.key_id()) {
            Some(p) if p.role == Role::Issuer => {}
            Some(p) => bail!(
                "issuer_key {} belongs to principal {:?} of role {}; the issuer signs with a key \
                 of a principal with role \"issuer\"",
                key_path.display(),
                p.name,
                p.role
            ),
            None => bail!(
                "issuer_key {} (key ID {}) is not in the producer policy; add it to a principal \
                 with role \"issuer\"",
                key_path.display(),
                issuer_key.key_id()
            ),
        }
        let max_ttl = humantime::parse_duration(&file.max_ttl)
            .with_context(|| format!("max_ttl = {:?}, expected e.g. \"1h\"", file.max_ttl))?
            .as_secs();
        if max_ttl == 0 {
            bail!("max_ttl must be at least 1s");
        }
        let mut log_tls = causeway_client::TlsSettings::default();
        if let Some(t) = &file.log_tls {
            if !file.log_url.starts_with("https://") {
                bail!("[log_tls] needs an https:// log_url");
            }
            if let Some(ca) = &t.ca {
                log_tls.ca_pem = Some(read(base, ca, "log_tls.ca")?.1);
            }
            match (&t.cert, &t.key) {
                (Some(c), Some(k)) => {
                    log_tls.identity_pem = Some((
                        read(base, c, "log_tls.cert")?.1,
                        read(base, k, "log_tls.key")?.1,
                    ));
                }
                (None, None) => {}
                _ => bail!("log_tls.cert and log_tls.key go together"),
            }
        }
        let (_, tls_cert) = read(base, &file.tls.cert, "tls.cert")?;
        let (_, tls_key) = read(base, &file.tls.key, "tls.key")?;
        let (_, client_ca) = read(base, &file.tls.client_ca, "tls.client_ca")?;
        if file.caller.is_empty() {
            bail!("no [[caller]] table: name the client certificates that may request credentials");
        }
        for c in &file.caller {
            if c.subject.is_empty() || c.agents.is_empty() {
                bail!("every [[caller]] needs a subject and at least one agents glob");
            }
        }
        let state_dir = base.join(&file.state_dir);
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("cannot create state_dir {}", state_dir.display()))?;
        Ok(Config {
            listen,
            log_url: file.log_url,
            log_tls,
            log_vkeys,
            policy,
            issuer_key,
            max_ttl,
            state_dir,
            tls_cert,
            tls_key,
            client_ca,
            callers: file.caller,
        })
    }
}

/// Whether `text` matches `glob`, where `*` matches any run of characters
/// (none included) and every other character itself.
pub fn glob_match(glob: &str, text: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return glob == text;
    };
    if parts.len() == 1 {
        return glob == text;
    }
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("agent://deploy/*", "agent://deploy/a"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "aXbY"));
        assert!(!glob_match("agent://x", "agent://xy"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}
