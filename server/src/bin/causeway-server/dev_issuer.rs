//! The development issuer of `causeway-server --dev`: a `causeway-issuer`
//! child process (found next to this binary, or on `PATH`) with the demo
//! issuer key, trusting this log, behind mutual TLS with a development
//! PKI made by `openssl` in `<dev-dir>/issuer/`: a CA, the issuer's
//! certificate for 127.0.0.1, and one caller certificate
//! (`dev-agent-runtime`, allowed every agent id). Not for production: the
//! CA key sits next to the certificates.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};

use crate::dev_tsa::openssl;

/// The issuer of a dev deployment; stopped (SIGTERM) when dropped.
pub struct DevIssuer {
    child: Child,
    /// Its gRPC URL.
    pub url: String,
    /// Where its PKI lives: `ca.pem`, `caller.pem`, `caller.key`.
    pub dir: PathBuf,
}

impl Drop for DevIssuer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A P-256 key and a certificate for it signed by the dev CA.
fn leaf(dir: &Path, stem: &str, subject: &str, ext: &str) -> anyhow::Result<()> {
    let p = |name: &str| dir.join(name).display().to_string();
    let ext_file = dir.join(format!("{stem}.ext"));
    std::fs::write(&ext_file, ext)?;
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &p(&format!("{stem}.key")),
        "-subj",
        subject,
        "-out",
        &p(&format!("{stem}.csr")),
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p(&format!("{stem}.csr")),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        &ext_file.display().to_string(),
        "-out",
        &p(&format!("{stem}.pem")),
    ])
}

/// Creates (once) the CA, the issuer's and the caller's certificates.
fn pki(dir: &Path) -> anyhow::Result<()> {
    if dir.join("caller.pem").exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let p = |name: &str| dir.join(name).display().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &p("ca.key"),
        "-subj",
        "/O=Causeway development/CN=Causeway DEVELOPMENT issuer CA (not trusted)",
        "-days",
        "3650",
        "-out",
        &p("ca.pem"),
    ])?;
    leaf(
        dir,
        "issuer",
        "/CN=127.0.0.1",
        "subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n",
    )?;
    leaf(
        dir,
        "caller",
        "/CN=dev-agent-runtime",
        "subjectAltName = DNS:dev-agent-runtime\nextendedKeyUsage = clientAuth\n",
    )
}

fn issuer_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating causeway-server")?;
    let beside = exe.with_file_name("causeway-issuer");
    if beside.exists() {
        return Ok(beside);
    }
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("causeway-issuer"))
                .find(|p| p.exists())
        })
        .with_context(|| {
            format!(
                "--dev needs the causeway-issuer binary next to {} or on PATH; build it with \
                 `cargo build --release --bins`",
                exe.display()
            )
        })
}

/// Starts the dev issuer for the log at `log_url` with `log_vkeys`, the
/// dev producers' policy and issuer key; returns once it is ready.
pub fn start(dev_dir: &Path, log_url: &str, log_vkeys: &[String]) -> anyhow::Result<DevIssuer> {
    // The issuer reads paths relative to its config, which lives deeper:
    // every path written into it is absolute.
    let dev_dir = &std::fs::canonicalize(dev_dir)
        .with_context(|| format!("locating {}", dev_dir.display()))?;
    let dir = dev_dir.join("issuer");
    pki(&dir).context("making the development issuer's certificates")?;
    let producers = dev_dir.join("producers");
    let quoted: Vec<String> = log_vkeys.iter().map(|v| format!("{v:?}")).collect();
    let config = format!(
        "# Written by `causeway-server --dev` at every start.\n\
         listen = \"127.0.0.1:0\"\n\
         log_url = {log_url:?}\n\
         log_vkeys = [{}]\n\
         policy = {:?}\n\
         issuer_key = {:?}\n\
         max_ttl = \"1h\"\n\
         state_dir = \"state\"\n\
         [tls]\n\
         cert = \"issuer.pem\"\n\
         key = \"issuer.key\"\n\
         client_ca = \"ca.pem\"\n\
         [[caller]]\n\
         subject = \"dev-agent-runtime\"\n\
         agents = [\"*\"]\n",
        quoted.join(", "),
        producers.join("policy.toml").display().to_string(),
        producers.join("issuer.pem").display().to_string(),
    );
    let config_path = dir.join("issuer.toml");
    std::fs::write(&config_path, config)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let log = std::fs::File::create(dev_dir.join("issuer.log"))?;
    let mut child = Command::new(issuer_binary()?)
        .arg("--config")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("starting causeway-issuer")?;
    let stdout = child.stdout.take().context("issuer stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.by_ref().map_while(Result::ok).find_map(|l| {
        l.strip_prefix("causeway-issuer ready grpc=")
            .map(str::to_owned)
    });
    // Whatever it prints later is drained, so it never writes to a
    // closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let Some(addr) = ready else {
        let _ = child.kill();
        bail!(
            "the development issuer did not start; see {}",
            dev_dir.join("issuer.log").display()
        );
    };
    let addr = addr
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok(DevIssuer {
        child,
        url: format!("https://{addr}"),
        dir,
    })
}
