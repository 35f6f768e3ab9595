//! A running `causeway-issuer` for the whole-system tests: its config
//! (trusting a test log, its policy and the producers' issuer key, behind
//! mutual TLS from a [`Pki`](crate::Pki)), the process, and its URL.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{Server, binary};

/// A `[[caller]]` of the config: a client certificate's subject and the
/// agent-id globs it may request.
pub struct Caller<'a> {
    /// The certificate's CN.
    pub subject: &'a str,
    /// Globs of agent ids.
    pub agents: &'a [&'a str],
}

/// Writes an issuer config to `path` for the log `server` under `policy`,
/// signing with `issuer_key`, serving `tls` (cert, key, client CA), and
/// allowing `callers`; `extra` is appended (e.g. a `[log_tls]` table).
pub fn write_config(
    path: &Path,
    server: &Server,
    policy: &Path,
    issuer_key: &Path,
    tls: (&Path, &Path, &Path),
    callers: &[Caller<'_>],
    extra: &str,
) {
    let vkeys: Vec<String> = server.vkeys.iter().map(|v| format!("{v:?}")).collect();
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\nlog_url = \"{}\"\nlog_vkeys = [{}]\npolicy = {policy:?}\n\
         issuer_key = {issuer_key:?}\nmax_ttl = \"1h\"\nstate_dir = \"issuer-state\"\n\n\
         [tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\n",
        server.url,
        vkeys.join(", "),
        tls.0,
        tls.1,
        tls.2,
    );
    for c in callers {
        let agents: Vec<String> = c.agents.iter().map(|a| format!("{a:?}")).collect();
        text.push_str(&format!(
            "\n[[caller]]\nsubject = {:?}\nagents = [{}]\n",
            c.subject,
            agents.join(", ")
        ));
    }
    text.push_str(extra);
    std::fs::write(path, text).expect("writing the issuer config");
}

/// A running `causeway-issuer`; killed when dropped.
pub struct Issuer {
    child: Child,
    /// Its gRPC URL, `https://127.0.0.1:PORT`.
    pub url: String,
    /// Its config file.
    pub config: PathBuf,
}

impl Issuer {
    /// Starts the issuer on `config`; with `crash`, with the test hook
    /// that aborts it right after its state write.
    pub fn start(config: &Path, crash: bool) -> Issuer {
        let mut cmd = Command::new(binary("causeway-issuer"));
        cmd.arg("--config").arg(config);
        if crash {
            cmd.env("CAUSEWAY_ISSUER_CRASH_AFTER_STATE", "1");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning causeway-issuer");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("causeway-issuer ready grpc=")
            .unwrap_or_else(|| panic!("no ready line: {line:?}"))
            .to_owned();
        Issuer {
            child,
            url: format!("https://{addr}"),
            config: config.to_owned(),
        }
    }
}

impl Issuer {
    /// Waits for the process to exit (it was made to crash).
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("waiting for causeway-issuer")
    }

    /// `kill -9`, then waits.
    pub fn kill9(&mut self) {
        self.child.kill().expect("killing causeway-issuer");
        self.child.wait().expect("waiting for causeway-issuer");
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
