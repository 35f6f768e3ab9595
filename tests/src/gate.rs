//! A deployment for `causeway-gate`'s tests: a log whose policy trusts a
//! gate key, an issuer the gate reaches over mutual TLS, an approved and
//! pre-flighted change, and gate configs for it.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use causeway_client::LogClient;
use causeway_records::{Envelope, Kind, ProducerKey, Record};
use causeway_tlog::merkle::Hash;
use serde_json::Value;

use crate::issuer::{Caller, Issuer, write_config};
use crate::{Pki, Producers, Server};

/// The agent id the gate's credentials are for.
pub const AGENT: &str = "agent://acme/coder";

/// A log, its producers and a gate principal, a PKI, an issuer.
pub struct GateDeployment {
    /// Everything lives here.
    pub dir: tempfile::TempDir,
    /// The producers' keys.
    pub producers: Producers,
    /// The producer policy (with a `gate` principal).
    pub policy: PathBuf,
    /// The log.
    pub server: Server,
    /// The PKI of the issuer's mutual TLS.
    pub pki: Pki,
    /// The issuer.
    pub issuer: Issuer,
    /// The gate's key (PKCS#8 PEM file).
    pub gate_key: PathBuf,
    /// The gate's client certificate and key for the issuer.
    pub gate_cert: (PathBuf, PathBuf),
}

impl GateDeployment {
    /// Starts the log and the issuer.
    pub fn start() -> GateDeployment {
        let dir = tempfile::tempdir().expect("tempdir");
        let producers = Producers::new();
        let policy = producers.write(&dir.path().join("producers"));
        let gate = ProducerKey::generate(&mut rand::rngs::OsRng);
        let gate_key = dir.path().join("producers/gate.pem");
        std::fs::write(&gate_key, gate.to_pkcs8_pem().expect("pem")).expect("gate key");
        let mut text = std::fs::read_to_string(&policy).expect("policy");
        // Before the [audit] table, which ends the principals.
        let at = text.find("\n[audit]").unwrap_or(text.len());
        text.insert_str(
            at,
            &format!(
                "\n[[principal]]\nname = \"causeway-gate\"\nrole = \"gate\"\nkeys = [\"{}\"]\n",
                base64::engine::general_purpose::STANDARD.encode(gate.public_spki_der())
            ),
        );
        std::fs::write(&policy, text).expect("policy");
        let server = Server::with_policy(&dir.path().join("log"), &policy);
        let pki = Pki::new(dir.path(), "issuer-ca");
        let (cert, key) = pki.issue("issuer", true);
        let gate_cert = pki.issue("gate", false);
        let config = dir.path().join("issuer.toml");
        write_config(
            &config,
            &server,
            &policy,
            &dir.path().join("producers/issuer.pem"),
            (&cert, &key, &pki.ca()),
            &[Caller {
                subject: "gate",
                agents: &["agent://acme/*"],
            }],
            "",
        );
        let issuer = Issuer::start(&config, false);
        GateDeployment {
            dir,
            producers,
            policy,
            server,
            pki,
            issuer,
            gate_key,
            gate_cert,
        }
    }

    /// A client of the log.
    pub async fn log(&self) -> LogClient {
        LogClient::connect(&self.server.url).await.expect("log")
    }

    /// alice's authorization of `ticket` with this scope, and a passing
    /// pre-flight of it: their leaf hashes.
    pub async fn approved(&self, ticket: &str, targets: &[&str], actions: &[&str]) -> (Hash, Hash) {
        crate::fixtures::approved(&mut self.log().await, &self.producers, ticket, |a| {
            a["scope"]["targets"] = targets.into();
            a["scope"]["actions"] = actions.into();
        })
        .await
    }

    /// Writes a gate config named `name`: the log, the gate key, the
    /// issuer, a `[session]` asking for a credential of `(auth, pre)` with
    /// this scope and `ttl`, then `rest` (upstreams, tools, delegates,
    /// `on_violation`…, which must come first: pass it as `top`).
    #[allow(clippy::too_many_arguments)]
    pub fn config(
        &self,
        name: &str,
        top: &str,
        (auth, pre): (Hash, Hash),
        targets: &[&str],
        actions: &[&str],
        ttl: &str,
        rest: &str,
    ) -> PathBuf {
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let text = format!(
            "gate_key = {:?}\n{top}\n\n[log]\nurl = {:?}\n\n[issuer]\nurl = {:?}\nca = {:?}\n\
             cert = {:?}\nkey = {:?}\n\n[session]\nauthorization = \"{auth}\"\n\
             preflight = \"{pre}\"\nagent = \"{AGENT}\"\nmodel = \"claude\"\nversion = \"1\"\n\
             change_class = \"standard\"\ntargets = [{}]\nactions = [{}]\nttl = {ttl:?}\n\n{rest}\n",
            self.gate_key,
            self.server.url,
            self.issuer.url,
            self.pki.ca(),
            self.gate_cert.0,
            self.gate_cert.1,
            list(targets),
            list(actions),
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("gate config");
        path
    }

    /// Every record in the log, with its index and leaf hash.
    pub async fn records(&self) -> Vec<(u64, Hash, Record)> {
        let mut log = self.log().await;
        let entries = log.entries(0, 100_000).await.expect("entries");
        entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let r = Envelope::decode(e).and_then(|env| env.record()).ok()?;
                Some((i as u64, causeway_tlog::merkle::leaf_hash(e), r))
            })
            .collect()
    }

    /// The records of one kind, as JSON, with their index and leaf hash.
    pub async fn of_kind(&self, kind: Kind) -> Vec<(u64, Hash, Value)> {
        self.records()
            .await
            .into_iter()
            .filter(|(_, _, r)| r.kind() == kind)
            .map(|(i, h, r)| (i, h, r.to_json()))
            .collect()
    }
}

/// The `sha256:` digest of the JCS form of `value`, computed here
/// independently of the gate: sorted keys, no spaces (enough for the
/// string, integer and object arguments the tests send).
pub fn jcs_digest(value: &Value) -> String {
    use sha2::Digest as _;
    fn canonical(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let parts: Vec<String> = keys
                    .iter()
                    .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            Value::Array(a) => format!(
                "[{}]",
                a.iter().map(canonical).collect::<Vec<_>>().join(",")
            ),
            other => other.to_string(),
        }
    }
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(canonical(value).as_bytes()))
    )
}

/// The path of a file under the deployment's directory.
pub fn under(d: &GateDeployment, name: &str) -> PathBuf {
    d.dir.path().join(name)
}

/// Whether `path` exists and is not empty.
pub fn nonempty(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

impl GateDeployment {
    /// `causeway audit --json` of the whole log: its summary.
    pub fn audit(&self) -> Value {
        let out = self.dir.path().join("audit");
        let args = crate::audit::with_vkeys(
            crate::audit::audit_args(
                &self.server.url,
                &self.server.tiles_url,
                &self.policy,
                &out,
                &["--json"],
            ),
            &self.server.vkeys,
        );
        let (ok, stdout, stderr) = crate::cli(&args);
        assert!(ok, "causeway audit failed: {stderr}");
        serde_json::from_str(stdout.trim()).expect("the --json summary")
    }

    /// The red flags of [`GateDeployment::audit`], by kind, sorted.
    pub fn flag_kinds(summary: &Value) -> Vec<String> {
        let mut kinds: Vec<String> = summary["red_flags"]
            .as_array()
            .expect("red_flags")
            .iter()
            .map(|f| f["kind"].as_str().unwrap_or_default().to_owned())
            .collect();
        kinds.sort();
        kinds
    }
}

/// A `causeway-gate --http` process; killed when dropped.
pub struct GateProcess {
    child: std::process::Child,
    /// The root session's MCP URL, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    stderr: PathBuf,
}

impl GateProcess {
    /// Starts `causeway-gate --config config --http 127.0.0.1:0` and waits
    /// until it listens.
    pub fn start_http(config: &Path) -> GateProcess {
        let stderr = config.with_extension("stderr");
        let file = std::fs::File::create(&stderr).expect("stderr file");
        let child = std::process::Command::new(crate::binary("causeway-gate"))
            .arg("--config")
            .arg(config)
            .args(["--http", "127.0.0.1:0"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawning causeway-gate");
        let mut gate = GateProcess {
            child,
            url: String::new(),
            stderr,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let text = gate.stderr();
            if let Some(url) = text
                .lines()
                .find_map(|l| l.strip_prefix("causeway-gate: listening on "))
            {
                gate.url = url.trim().to_owned();
                return gate;
            }
            if let Ok(Some(status)) = gate.child.try_wait() {
                panic!("causeway-gate exited ({status}):\n{text}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "causeway-gate did not listen:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, then waits: the gate closes its sessions and exits.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("waiting for causeway-gate");
        // Drop would kill it again; it is gone.
        status
    }
}

impl Drop for GateProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
