//! The gate's config file (TOML), parsed into a checked [`Config`] at
//! start: a config that loads is one the gate can run with.
//!
//! ```toml
//! gate_key = "gate.pem"            # PKCS#8 PEM of a principal with role "gate": signs exceptions
//! on_violation = "deny"            # "deny": refuse the call; "revoke": also revoke the credential
//!                                  # through the issuer and end the session
//!
//! [log]
//! url = "http://127.0.0.1:7400"    # the log's gRPC URL
//! ca = "log-ca.pem"                # optional, for an https:// URL
//! cert = "gate-client.pem"         # optional client certificate, when the log wants one
//! key = "gate-client.key"
//!
//! [issuer]                         # mutual TLS to causeway-issuer (needed for [session] from
//! url = "https://127.0.0.1:7420"   # the issuer, for delegation and for on_violation = "revoke")
//! ca = "issuer-ca.pem"
//! cert = "gate-cert.pem"
//! key = "gate-cert.key"
//!
//! [session]                        # the agent's credential: asked of the issuer ...
//! authorization = "3f9c…"          # leaf hash (hex) of the human's authorization
//! preflight = "a41d…"              # leaf hash of its passing pre-flight
//! agent = "agent://acme/coder"     # the agent id the credential is for
//! model = "claude"                 # optional
//! version = "1"                    # optional
//! change_class = "standard"
//! targets = ["repo:acme/api"]
//! actions = ["git.*", "fs.read_file"]
//! ttl = "30m"
//! # ... or pre-issued: credential = "leaf hash hex" and session_key = "session.pem"
//!
//! [[upstream]]                     # a real MCP server the agent's calls go to
//! name = "git"
//! command = ["python3", "git_server.py"]   # stdio; or url = "http://127.0.0.1:8000/mcp"
//!
//! [[tool]]                         # optional, per upstream tool
//! upstream = "git"
//! name = "git_commit"
//! action = "git.commit"            # matched against scope.actions; default "<upstream>.<tool>"
//! target = "repo:{arguments.repo}" # template over the call's arguments; default the upstream's name
//! summary = ["repo", "message"]    # the only argument fields the record's summary shows
//! redact = ["message"]             # of those, shown as [redacted]
//!
//! [[delegate]]                     # a sub-agent, served over HTTP at /mcp/<name>
//! name = "reviewer"
//! agent = "agent://acme/reviewer"
//! targets = ["repo:acme/api"]      # must be within the session's scope
//! actions = ["git.status"]
//! ttl = "10m"
//! ```
//!
//! Relative paths are relative to the config file's directory.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use causeway_client::TlsSettings;
use causeway_records::{ProducerKey, Scope};
use causeway_tlog::merkle::Hash;
use serde::Deserialize;

use crate::mapping::{TargetRule, ToolMap};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    gate_key: PathBuf,
    #[serde(default)]
    on_violation: OnViolation,
    log: Endpoint,
    issuer: Option<Endpoint>,
    session: SessionFile,
    #[serde(default)]
    upstream: Vec<UpstreamFile>,
    #[serde(default)]
    tool: Vec<ToolFile>,
    #[serde(default)]
    delegate: Vec<DelegateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoint {
    url: String,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionFile {
    authorization: Option<String>,
    preflight: Option<String>,
    agent: Option<String>,
    model: Option<String>,
    version: Option<String>,
    change_class: Option<String>,
    targets: Option<Vec<String>>,
    actions: Option<Vec<String>>,
    ttl: Option<String>,
    credential: Option<String>,
    session_key: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamFile {
    name: String,
    command: Option<Vec<String>>,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolFile {
    upstream: String,
    name: String,
    action: Option<String>,
    target: Option<String>,
    #[serde(default)]
    summary: Vec<String>,
    #[serde(default)]
    redact: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DelegateFile {
    name: String,
    agent: String,
    targets: Vec<String>,
    actions: Vec<String>,
    ttl: String,
}

/// What the gate does when an agent's call is refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnViolation {
    /// Refuse the call and record an exception.
    #[default]
    Deny,
    /// Also revoke the credential through the issuer and end the session.
    Revoke,
}

/// How the gate reaches a gRPC service.
#[derive(Clone, Debug)]
pub struct Service {
    /// Its URL.
    pub url: String,
    /// TLS settings for an `https://` URL.
    pub tls: TlsSettings,
}

/// Where the session's credential comes from.
pub enum SessionSource {
    /// Asked of the issuer at start.
    Issue(IssueRequest),
    /// Issued earlier; the gate reads the credential from the log.
    PreIssued {
        /// The credential's leaf hash.
        credential: Hash,
        /// Its session key.
        key: ProducerKey,
    },
}

/// A credential the gate asks the issuer for.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    /// The authorization it is bound to.
    pub authorization: Hash,
    /// Its pre-flight.
    pub preflight: Hash,
    /// The agent: id, model, version.
    pub agent: (String, String, String),
    /// The scope asked for.
    pub scope: Scope,
    /// Its lifetime, seconds.
    pub ttl_seconds: u64,
}

/// An upstream MCP server.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// Its name: the first part of its tools' default action names.
    pub name: String,
    /// How to reach it.
    pub transport: UpstreamTransport,
}

/// How the gate reaches an upstream.
#[derive(Clone, Debug)]
pub enum UpstreamTransport {
    /// A command the gate starts, speaking MCP on its stdin and stdout.
    Stdio {
        /// The program.
        program: PathBuf,
        /// Its arguments.
        args: Vec<String>,
    },
    /// A Streamable HTTP endpoint.
    Http(String),
}

/// A sub-agent's delegated session.
#[derive(Clone, Debug)]
pub struct Delegate {
    /// Its name, the HTTP path it is served at (`/mcp/<name>`).
    pub name: String,
    /// The sub-agent's id.
    pub agent: String,
    /// Its narrower scope.
    pub scope: Scope,
    /// The delegated credential's lifetime, seconds.
    pub ttl_seconds: u64,
}

/// The checked config.
pub struct Config {
    /// The gate's own key, which signs exceptions.
    pub gate_key: ProducerKey,
    /// What a refused call does.
    pub on_violation: OnViolation,
    /// The log.
    pub log: Service,
    /// The issuer, when configured.
    pub issuer: Option<Service>,
    /// The session's credential.
    pub session: SessionSource,
    /// The upstream servers.
    pub upstreams: Vec<Upstream>,
    /// Per-tool mappings, by (upstream, tool).
    pub tools: Vec<ToolMap>,
    /// Sub-agent sessions.
    pub delegates: Vec<Delegate>,
}

fn read(base: &Path, path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let full = base.join(path);
    std::fs::read(&full).with_context(|| format!("cannot read {what} {}", full.display()))
}

fn key(base: &Path, path: &Path, what: &str) -> anyhow::Result<ProducerKey> {
    let bytes = read(base, path, what)?;
    let pem = std::str::from_utf8(&bytes)
        .with_context(|| format!("{what} {} is not PEM text", path.display()))?;
    ProducerKey::from_pkcs8_pem(pem)
        .with_context(|| format!("{what} {} is not a PKCS#8 ECDSA P-256 key", path.display()))
}

fn hash(field: &str, hex: &str) -> anyhow::Result<Hash> {
    Hash::from_hex(hex).with_context(|| {
        format!("{field} = {hex:?} is not a leaf hash (64 hex digits, as `causeway submit` prints)")
    })
}

fn seconds(field: &str, text: &str) -> anyhow::Result<u64> {
    let d = humantime::parse_duration(text)
        .with_context(|| format!("{field} = {text:?}, expected a duration like \"30m\""))?;
    if d.as_secs() == 0 {
        bail!("{field} = {text:?} must be at least 1s");
    }
    Ok(d.as_secs())
}

fn service(base: &Path, e: &Endpoint, table: &str) -> anyhow::Result<Service> {
    if !e.url.starts_with("http://") && !e.url.starts_with("https://") {
        bail!(
            "[{table}] url = {:?} must be an http:// or https:// URL",
            e.url
        );
    }
    let ca_pem =
        e.ca.as_ref()
            .map(|p| read(base, p, &format!("[{table}] ca")))
            .transpose()?;
    let identity_pem = match (&e.cert, &e.key) {
        (Some(c), Some(k)) => Some((
            read(base, c, &format!("[{table}] cert"))?,
            read(base, k, &format!("[{table}] key"))?,
        )),
        (None, None) => None,
        _ => bail!("[{table}] cert and key go together: give both or neither"),
    };
    Ok(Service {
        url: e.url.clone(),
        tls: TlsSettings {
            ca_pem,
            identity_pem,
        },
    })
}

impl Config {
    /// Loads and checks `path`.
    ///
    /// # Errors
    /// Naming the setting that is wrong and what to do.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the gate config {}", path.display()))?;
        let file: File = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid gate config", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::check(file, base)
    }

    fn check(file: File, base: &Path) -> anyhow::Result<Config> {
        let gate_key = key(base, &file.gate_key, "gate_key")?;
        let log = service(base, &file.log, "log")?;
        let issuer = file
            .issuer
            .as_ref()
            .map(|e| service(base, e, "issuer"))
            .transpose()?;
        let session = session(base, file.session)?;
        if matches!(session, SessionSource::Issue(_)) && issuer.is_none() {
            bail!(
                "[session] asks the issuer for a credential but there is no [issuer]; add one, or \
                 give a pre-issued credential and session_key"
            );
        }
        if file.on_violation == OnViolation::Revoke && issuer.is_none() {
            bail!("on_violation = \"revoke\" revokes through the issuer: add an [issuer] table");
        }
        if !file.delegate.is_empty() && issuer.is_none() {
            bail!("[[delegate]] credentials come from the issuer: add an [issuer] table");
        }
        if file.upstream.is_empty() {
            bail!("no [[upstream]]: name at least one MCP server the agent's calls go to");
        }
        let mut upstreams: Vec<Upstream> = Vec::new();
        for u in file.upstream {
            if u.name.is_empty() || u.name.contains(['.', '/', ' ']) {
                bail!(
                    "[[upstream]] name = {:?}: use a short name without dots, slashes or spaces \
                     (it starts its tools' action names, e.g. \"git\" for git.commit)",
                    u.name
                );
            }
            if upstreams.iter().any(|o| o.name == u.name) {
                bail!("two [[upstream]] tables are named {:?}", u.name);
            }
            let transport = match (u.command, u.url) {
                (Some(command), None) => {
                    let mut parts = command.into_iter();
                    let Some(program) = parts.next() else {
                        bail!("[[upstream]] {:?}: command is empty", u.name);
                    };
                    UpstreamTransport::Stdio {
                        program: program.into(),
                        args: parts.collect(),
                    }
                }
                (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
                    UpstreamTransport::Http(url)
                }
                (None, Some(url)) => {
                    bail!("[[upstream]] {:?}: url = {url:?} is not http(s)://", u.name)
                }
                _ => bail!(
                    "[[upstream]] {:?}: give exactly one of command = [...] (stdio) or url = \
                     \"http://…\" (Streamable HTTP)",
                    u.name
                ),
            };
            upstreams.push(Upstream {
                name: u.name,
                transport,
            });
        }
        let mut tools: Vec<ToolMap> = Vec::new();
        for t in file.tool {
            if !upstreams.iter().any(|u| u.name == t.upstream) {
                bail!(
                    "[[tool]] {:?} names upstream {:?}, which no [[upstream]] defines",
                    t.name,
                    t.upstream
                );
            }
            if tools
                .iter()
                .any(|o| o.upstream == t.upstream && o.tool == t.name)
            {
                bail!("two [[tool]] tables map {}.{}", t.upstream, t.name);
            }
            let target = match &t.target {
                Some(template) => TargetRule::parse(template)
                    .with_context(|| format!("[[tool]] {}.{} target", t.upstream, t.name))?,
                None => TargetRule::literal(&t.upstream),
            };
            for r in &t.redact {
                if !t.summary.contains(r) {
                    bail!(
                        "[[tool]] {}.{}: redact names {r:?}, which summary does not list",
                        t.upstream,
                        t.name
                    );
                }
            }
            tools.push(ToolMap {
                action: t
                    .action
                    .unwrap_or_else(|| format!("{}.{}", t.upstream, t.name)),
                upstream: t.upstream,
                tool: t.name,
                target,
                summary: t.summary,
                redact: t.redact,
            });
        }
        let mut delegates: Vec<Delegate> = Vec::new();
        for d in file.delegate {
            if d.name.is_empty()
                || !d
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                bail!(
                    "[[delegate]] name = {:?}: use letters, digits and '-' (it is the URL path \
                     /mcp/<name>)",
                    d.name
                );
            }
            if delegates.iter().any(|o| o.name == d.name) {
                bail!("two [[delegate]] tables are named {:?}", d.name);
            }
            delegates.push(Delegate {
                ttl_seconds: seconds(&format!("[[delegate]] {} ttl", d.name), &d.ttl)?,
                name: d.name,
                agent: d.agent,
                scope: Scope {
                    change_class: String::new(),
                    targets: d.targets,
                    actions: d.actions,
                },
            });
        }
        Ok(Config {
            gate_key,
            on_violation: file.on_violation,
            log,
            issuer,
            session,
            upstreams,
            tools,
            delegates,
        })
    }
}

fn session(base: &Path, s: SessionFile) -> anyhow::Result<SessionSource> {
    if let (Some(credential), Some(session_key)) = (&s.credential, &s.session_key) {
        if s.authorization.is_some() || s.agent.is_some() || s.ttl.is_some() {
            bail!(
                "[session] gives a pre-issued credential and also what to ask the issuer for; \
                 keep one of the two"
            );
        }
        return Ok(SessionSource::PreIssued {
            credential: hash("[session] credential", credential)?,
            key: key(base, session_key, "[session] session_key")?,
        });
    }
    if s.credential.is_some() || s.session_key.is_some() {
        bail!("[session] credential and session_key go together: give both or neither");
    }
    let need = |v: Option<String>, name: &str| {
        v.with_context(|| {
            format!(
                "[session] has no {name}: give authorization, preflight, agent, change_class, \
                 targets, actions and ttl (asked of the issuer), or credential and session_key"
            )
        })
    };
    let authorization = hash(
        "[session] authorization",
        &need(s.authorization, "authorization")?,
    )?;
    let preflight = hash("[session] preflight", &need(s.preflight, "preflight")?)?;
    let agent = need(s.agent, "agent")?;
    let ttl_seconds = seconds("[session] ttl", &need(s.ttl, "ttl")?)?;
    let scope = Scope {
        change_class: need(s.change_class, "change_class")?,
        targets: s.targets.context("[session] has no targets")?,
        actions: s.actions.context("[session] has no actions")?,
    };
    Ok(SessionSource::Issue(IssueRequest {
        authorization,
        preflight,
        agent: (
            agent,
            s.model.unwrap_or_default(),
            s.version.unwrap_or_default(),
        ),
        scope,
        ttl_seconds,
    }))
}
