//! `causeway-server --dev`: a complete local deployment in one directory.
//!
//! The log's data lives in `<dev-dir>/log`; two `causeway-witness` child
//! processes (found next to this binary, or on `PATH`) keep their own keys
//! and state in `<dev-dir>/witness-1` and `<dev-dir>/witness-2`, listen on
//! free loopback ports, and trust the log's keys. The log publishes with
//! a quorum of both. Everything persists across restarts; delete the
//! directory to start over.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};
use causeway_server::keys::LogKeys;
use causeway_server::pipeline::witnesses::WitnessEndpoint;

/// The witnesses of a dev deployment; stopped (SIGTERM) when dropped.
pub struct DevWitnesses {
    children: Vec<Child>,
    /// `(url, vkey)` of each witness.
    pub endpoints: Vec<(String, String)>,
}

impl Drop for DevWitnesses {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

fn witness_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating causeway-server")?;
    let beside = exe.with_file_name("causeway-witness");
    if beside.exists() {
        return Ok(beside);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("causeway-witness"))
                .find(|p| p.exists())
        })
        .unwrap_or_default();
    on_path.with_context(|| {
        format!(
            "--dev needs the causeway-witness binary next to {} or on PATH; build both with `cargo build --release --bins`",
            exe.display()
        )
    })
}

/// Creates (or reuses) the log's keys under `dev_dir/log` and starts two
/// witnesses that trust them. Returns the log's data dir and the witnesses.
pub fn start(dev_dir: &Path, origin: Option<&str>) -> anyhow::Result<(PathBuf, DevWitnesses)> {
    let log_dir = dev_dir.join("log");
    let keys = LogKeys::load_or_create(&log_dir, origin, "localhost/causeway-dev")
        .with_context(|| format!("preparing the log keys in {}", log_dir.display()))?;
    let log_vkeys: Vec<String> = keys.vkeys().iter().map(ToString::to_string).collect();
    // For producers that verify what the log returns (the Python SDK's
    // README example reads it), one verifier key per line.
    let vkeys_file = dev_dir.join("vkeys.txt");
    std::fs::write(&vkeys_file, log_vkeys.join("\n") + "\n")
        .with_context(|| format!("writing {}", vkeys_file.display()))?;
    let binary = witness_binary()?;
    let mut witnesses = DevWitnesses {
        children: Vec::new(),
        endpoints: Vec::new(),
    };
    for i in 1..=2 {
        let dir = dev_dir.join(format!("witness-{i}"));
        let stderr = std::fs::File::create(dev_dir.join(format!("witness-{i}.log")))
            .with_context(|| format!("creating {}", dev_dir.display()))?;
        let mut cmd = Command::new(&binary);
        cmd.arg("--data-dir")
            .arg(&dir)
            .args(["--name", &format!("localhost/causeway-dev-witness-{i}")])
            .args(["--addr", "127.0.0.1:0"]);
        for v in &log_vkeys {
            cmd.args(["--log", v]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("witness stdout")?;
        witnesses.children.push(child);
        let mut lines = BufReader::new(stdout).lines();
        let Some(ready) = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("causeway-witness ready ").map(str::to_owned))
        else {
            bail!(
                "witness {i} did not start; see {}",
                dev_dir.join(format!("witness-{i}.log")).display()
            );
        };
        std::thread::spawn(move || lines.for_each(drop));
        let field = |name: &str| {
            ready
                .split(' ')
                .find_map(|f| f.strip_prefix(name))
                .map(str::to_owned)
                .with_context(|| format!("witness ready line without {name}: {ready}"))
        };
        witnesses
            .endpoints
            .push((format!("http://{}", field("addr=")?), field("vkey=")?));
    }
    Ok((log_dir, witnesses))
}

/// The demo producers `--dev` trusts: file stem, principal name, role.
/// `causeway demo` signs with these keys.
const DEV_PRODUCERS: [(&str, &str, &str); 5] = [
    ("approver", "alice@example.com", "human"),
    ("reviewer", "bob@example.com", "human"),
    ("issuer", "jit-issuer.example.com", "issuer"),
    ("verifier", "preflight.example.com", "verifier"),
    ("gate", "change-gate.example.com", "gate"),
];

/// Makes sure `<dev-dir>/producers/` holds the demo producers' keys (PKCS#8
/// PEM, 0600) and a `policy.toml` trusting them; returns the policy path.
pub fn producers_policy(dev_dir: &Path) -> anyhow::Result<PathBuf> {
    use causeway_records::ProducerKey;
    let dir = dev_dir.join("producers");
    let policy = dir.join("policy.toml");
    if policy.exists() {
        return Ok(policy);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut toml = String::from(
        "# Development producer policy written by `causeway-server --dev`.\n\
         # The keys next to this file sign the records of `causeway demo`.\n\
         max_future_skew = \"5m\"\n",
    );
    for (stem, name, role) in DEV_PRODUCERS {
        let key = ProducerKey::generate(&mut rand::rngs::OsRng);
        let pem = key.to_pkcs8_pem().map_err(|e| anyhow::anyhow!("{e}"))?;
        let path = dir.join(format!("{stem}.pem"));
        causeway_io::files::create_private(&path, pem.as_bytes())
            .with_context(|| format!("creating {}", path.display()))?;
        use base64::Engine as _;
        let spki = base64::engine::general_purpose::STANDARD.encode(key.public_spki_der());
        // The humans work in different zones; the auditor judges their
        // hours there.
        let tz = match stem {
            "approver" => "tz = \"America/Los_Angeles\"\n",
            "reviewer" => "tz = \"Europe/Berlin\"\n",
            _ => "",
        };
        toml.push_str(&format!(
            "\n[[principal]]\nname = \"{name}\"\nrole = \"{role}\"\n{tz}keys = [\"{spki}\"]\n"
        ));
    }
    // `causeway demo` may run at any hour of any day, and its chain is
    // dated then: judged by office hours it would be flagged at night.
    toml.push_str(
        "\n# The demo runs at any hour; a real policy narrows these to office hours.\n\
         [audit]\nworking_hours = \"00:00-24:00\"\n\
         working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n",
    );
    // Written last: its presence means the directory is complete.
    // Written last and atomically: its presence means the keys are there.
    causeway_io::files::write_atomic(&policy, toml.as_bytes())
        .with_context(|| format!("writing {}", policy.display()))?;
    Ok(policy)
}

/// The `--witness` values for the log.
pub fn endpoints(witnesses: &DevWitnesses) -> anyhow::Result<Vec<WitnessEndpoint>> {
    witnesses
        .endpoints
        .iter()
        .map(|(url, vkey)| {
            format!("{vkey}@{url}").parse().map_err(
                |e: causeway_server::pipeline::witnesses::EndpointError| anyhow::anyhow!(e),
            )
        })
        .collect()
}

/// What a newcomer should see: where everything is and what to run next.
pub fn banner(
    dev_dir: &Path,
    grpc: &str,
    http: &str,
    log_vkeys: &[String],
    witnesses: &DevWitnesses,
    tsa: Option<(&str, &Path)>,
    issuer: Option<&crate::dev_issuer::DevIssuer>,
) -> String {
    let witness_vkeys: Vec<&str> = witnesses
        .endpoints
        .iter()
        .map(|(_, v)| v.as_str())
        .collect();
    let mut out = format!(
        "Causeway development deployment in {} (local keys, local witnesses: not for production)\n\
         \x20 log gRPC     http://{grpc}\n\
         \x20 tiles (HTTP) http://{http}\n",
        dev_dir.display()
    );
    for (i, (url, vkey)) in witnesses.endpoints.iter().enumerate() {
        out.push_str(&format!("  witness {}    {url}  {vkey}\n", i + 1));
    }
    let mut tsa_env = String::new();
    if let Some((url, roots)) = tsa {
        out.push_str(&format!(
            "  TSA          {url}  roots {} (a DEVELOPMENT TSA run by openssl: not a trusted time source)\n",
            roots.display()
        ));
        tsa_env = format!(" CAUSEWAY_TSA_ROOTS={}", roots.display());
    }
    out.push_str(&format!(
        "Try, in another shell (the variables give every command the log, its keys and the witness policy):\n\
         \x20 export CAUSEWAY_LOG=http://{grpc} CAUSEWAY_TILES=http://{http}{tsa_env} \\\n\
         \x20   CAUSEWAY_VKEYS={} \\\n\
         \x20   CAUSEWAY_WITNESS_VKEYS={}\n\
         \x20 causeway demo --producers {}      # a complete, signed causal chain\n\
         \x20 causeway checkpoint\n\
         \x20 causeway record show --index 0\n\
         \x20 causeway prove inclusion --index 0\n\
         \x20 causeway verify-tiles --entries\n\
         \x20 causeway verify-anchor                # the latest RFC 3161 anchor, if a TSA runs\n\
         \x20 causeway audit --policy {}/producers/policy.toml --out audit/\n",
        log_vkeys.join(","),
        witness_vkeys.join(","),
        dev_dir.join("producers").display(),
        dev_dir.display()
    ));
    if let Some(issuer) = issuer {
        let pki = |f: &str| issuer.dir.join(f).display().to_string();
        let producers = |f: &str| dev_dir.join("producers").join(f).display().to_string();
        let lines = [
            format!(
                "The real flow, step by step (a development issuer runs at {}):",
                issuer.url
            ),
            format!(
                "  export CAUSEWAY_ISSUER={} CAUSEWAY_ISSUER_CA={} \\",
                issuer.url,
                pki("ca.pem")
            ),
            format!(
                "    CAUSEWAY_ISSUER_CERT={} CAUSEWAY_ISSUER_KEY={}",
                pki("caller.pem"),
                pki("caller.key")
            ),
            String::from(
                "  # 1. alice approves a plan file (README, \"Approvals bound to a login\")",
            ),
            format!(
                "  causeway approve --plan change.toml --key {} --approver alice@example.com",
                producers("approver.pem")
            ),
            String::from("  # 2. the pre-flight scanner checks the change: exit 0 pass, 3 block"),
            format!(
                "  causeway preflight --subject <authorization leaf> --key {} --osv testdata/osv --lockfile Cargo.lock",
                producers("verifier.pem")
            ),
            String::from(
                "  # 3. the agent runtime gets a credential bound to both (the session key stays with it)",
            ),
            String::from(
                "  causeway credential issue --authorization <authorization leaf> --preflight <preflight leaf> \\",
            ),
            String::from(
                "    --agent-id agent://demo/coder --target <a target> --action <an action> --ttl 30m --key-out session.pem",
            ),
            String::from(
                "  # 4. the agent acts under its own key; 5. revoked, the log refuses what follows",
            ),
            String::from("  causeway submit --key session.pem --kind action action.json"),
            String::from(
                "  causeway credential revoke --credential <credential leaf> --reason \"done\"",
            ),
        ];
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
