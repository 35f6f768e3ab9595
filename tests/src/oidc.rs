//! A real OpenID Provider for the approval tests: panva's certified
//! `oidc-provider` (npm) run by `tests/oidc/provider.mjs` on loopback, with
//! two public native clients (`causeway-approve`, `other-app`) and two users
//! (`alice@example.com` logs in with MFA: amr `["pwd","otp"]`, acr `aal2`;
//! `bob@example.com` without: amr `["pwd"]`, acr `aal1`).
//!
//! [`Provider::login`] plays the user's browser for a CLI that printed an
//! authorization URL and waits on its loopback redirect; [`Provider::token_for`]
//! runs a whole code + PKCE flow itself, for tokens the CLI would not make.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;

/// How long the provider may take to print its ready line (Node starts in
/// well under a second; a cold disk and a busy machine get a margin).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The fixture's scripts and their npm packages.
fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

/// Fails with what to do when `npm ci` has not been run for the fixture.
fn check_installed() -> anyhow::Result<PathBuf> {
    let dir = fixture_dir();
    if !dir.join("node_modules/oidc-provider/package.json").exists() {
        bail!(
            "{} has no node_modules/oidc-provider: run `./run deps` \
             (or `npm ci --prefix tests/oidc`)",
            dir.display()
        );
    }
    Ok(dir)
}

/// Runs `node SCRIPT ARGS...` from the fixture directory and returns its
/// stdout, or an error carrying its stderr.
fn node(script: &str, args: &[&str]) -> anyhow::Result<String> {
    let dir = check_installed()?;
    let out = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .context("running node (./run deps installs it)")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "node {script} {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            stdout
        );
    }
    Ok(stdout)
}

/// A running test OpenID Provider. Killed when dropped (and it exits by
/// itself when this process dies, as its stdin closes).
pub struct Provider {
    child: Child,
    /// Held open: the provider exits when it closes.
    _stdin: Option<ChildStdin>,
    issuer: String,
    jwks_path: PathBuf,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Provider {
    /// Starts a provider with a fresh RSA-2048 signing key on a free
    /// loopback port and waits until it is ready.
    pub fn start() -> anyhow::Result<Provider> {
        let fixture = check_installed()?;
        let dir = tempfile::tempdir().context("temp dir")?;
        let jwks_path = dir.path().join("jwks.json");
        let stderr_path = dir.path().join("provider.stderr");
        let stderr = std::fs::File::create(&stderr_path).context("stderr file")?;
        let mut child = Command::new("node")
            .arg(fixture.join("provider.mjs"))
            .arg("--jwks-out")
            .arg(&jwks_path)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting node (./run deps installs it)")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("provider stdout")?;
        // A thread reads the ready line so that waiting for it can time out;
        // it then drains stdout so the provider never blocks on a full pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let mut provider = Provider {
            child,
            _stdin: stdin,
            issuer: String::new(),
            jwks_path: jwks_path.clone(),
            stderr_path,
            _dir: dir,
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = provider.child.wait();
                bail!("the OpenID provider exited: {}", provider.stderr());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!(
                    "the OpenID provider did not start in {READY_TIMEOUT:?}: {}",
                    provider.stderr()
                );
            }
        };
        let ready: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("the provider's ready line {line:?}"))?;
        provider.issuer = ready["issuer"]
            .as_str()
            .with_context(|| format!("no issuer in {line:?}"))?
            .to_owned();
        if ready["jwks"].as_str() != jwks_path.to_str() {
            bail!("the provider wrote its JWKS elsewhere: {line:?}");
        }
        Ok(provider)
    }

    /// Its issuer, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The file holding its public JWKS (`{"keys":[...]}`, one RS256 key).
    pub fn jwks_path(&self) -> &Path {
        &self.jwks_path
    }

    /// What it wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Plays the browser for `auth_url` (printed by `causeway approve
    /// --no-browser`): logs in as `user`, follows the redirects to the
    /// CLI's loopback `redirect_uri` and requests it, so the CLI gets its
    /// code. Fails if any step answers unexpectedly, the IdP redirects with
    /// an OAuth error, or the redirect_uri does not answer 2xx.
    pub fn login(&self, auth_url: &str, user: &str) -> anyhow::Result<()> {
        node("login.mjs", &[auth_url, user])
            .map(drop)
            .with_context(|| format!("provider stderr: {}", self.stderr()))
    }

    /// A real ID token for `client_id` (`causeway-approve` or `other-app`)
    /// and `user`, with `nonce`, from a whole authorization-code + PKCE
    /// flow and token exchange (no CLI involved).
    pub fn token_for(&self, client_id: &str, user: &str, nonce: &str) -> anyhow::Result<String> {
        let out = node("token.mjs", &[&self.issuer, client_id, user, nonce])
            .with_context(|| format!("provider stderr: {}", self.stderr()))?;
        Ok(out.trim().to_owned())
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The decoded payload of a compact JWS, unverified: for tests that check
/// what a token says, not whether to trust it.
pub fn claims(jws: &str) -> anyhow::Result<serde_json::Value> {
    let part = jws
        .split('.')
        .nth(1)
        .with_context(|| format!("not a compact JWS: {jws:?}"))?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .context("JWS payload base64url")?;
    serde_json::from_slice(&json).context("JWS payload JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};

    /// The decoded protected header of a compact JWS.
    fn header(jws: &str) -> serde_json::Value {
        let part = jws.split('.').next().expect("header");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("header base64url");
        serde_json::from_slice(&json).expect("header JSON")
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64
    }

    #[test]
    fn tokens_for_both_users_and_both_clients() {
        let idp = Provider::start().expect("provider");
        let jwks: serde_json::Value =
            serde_json::from_slice(&std::fs::read(idp.jwks_path()).expect("jwks")).expect("json");
        let keys = jwks["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 1, "{jwks}");
        assert_eq!(keys[0]["kty"], "RSA");
        assert_eq!(keys[0]["alg"], "RS256");
        assert!(keys[0].get("d").is_none(), "the JWKS is public: {jwks}");
        let kid = keys[0]["kid"].as_str().expect("kid");

        for client in ["causeway-approve", "other-app"] {
            for (user, amr, acr) in [
                ("alice@example.com", vec!["pwd", "otp"], "aal2"),
                ("bob@example.com", vec!["pwd"], "aal1"),
            ] {
                let nonce = format!("nonce-{client}-{}", rand::random::<u32>());
                let token = idp.token_for(client, user, &nonce).expect("token_for");
                let h = header(&token);
                assert_eq!(h["alg"], "RS256", "{h}");
                assert_eq!(h["kid"], kid, "{h}");
                let c = claims(&token).expect("claims");
                eprintln!("{client} {user}: {h} {c}");
                assert_eq!(c["iss"], idp.issuer(), "{c}");
                assert_eq!(c["aud"], client, "{c}");
                assert_eq!(c["nonce"], nonce.as_str(), "{c}");
                assert_eq!(c["email"], user, "{c}");
                assert_eq!(c["amr"], serde_json::json!(amr), "{c}");
                assert_eq!(c["acr"], acr, "{c}");
                let auth_time = c["auth_time"].as_i64().expect("auth_time");
                assert!((auth_time - now()).abs() < 120, "{c}");
                assert!(c["exp"].as_i64().expect("exp") > now(), "{c}");
            }
        }
    }

    /// What `causeway approve` will do, done here by hand: listen on a
    /// loopback port, send the user to the IdP, receive the code, exchange
    /// it with the PKCE verifier.
    #[test]
    fn login_delivers_the_code_to_a_loopback_redirect() {
        let idp = Provider::start().expect("provider");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        let callback = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .expect("timeout");
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).expect("request head");
                head.push(byte[0]);
            }
            let body = "logged in, you can close this window";
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .expect("answer");
            String::from_utf8(head).expect("UTF-8 request")
        });

        let verifier = "a-code-verifier-of-at-least-43-characters-0123456789";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(causeway_rfc3161::MessageImprint::sha256(verifier.as_bytes()).digest);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let http = reqwest::Client::new();
        let discovery: serde_json::Value = rt.block_on(async {
            let text = http
                .get(format!("{}/.well-known/openid-configuration", idp.issuer()))
                .send()
                .await
                .expect("discovery")
                .text()
                .await
                .expect("discovery body");
            serde_json::from_str(&text).expect("discovery JSON")
        });
        let auth_url = reqwest::Url::parse_with_params(
            discovery["authorization_endpoint"]
                .as_str()
                .expect("endpoint"),
            &[
                ("response_type", "code"),
                ("client_id", "causeway-approve"),
                ("redirect_uri", redirect_uri.as_str()),
                ("scope", "openid email"),
                ("state", "the-state"),
                ("nonce", "digest-of-the-plan"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .expect("auth URL");

        idp.login(auth_url.as_str(), "alice@example.com")
            .expect("login");
        let request = callback.join().expect("callback thread");
        let target = request
            .strip_prefix("GET ")
            .and_then(|r| r.split(' ').next())
            .expect("a GET request line");
        let url = reqwest::Url::parse(&format!("http://127.0.0.1:{port}{target}")).expect("url");
        assert_eq!(url.path(), "/callback");
        let param = |k: &str| {
            url.query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some("the-state"), "{url}");
        assert_eq!(param("iss").as_deref(), Some(idp.issuer()), "{url}");
        let code = param("code").expect("code");

        let tokens: serde_json::Value = rt.block_on(async {
            let response = http
                .post(
                    discovery["token_endpoint"]
                        .as_str()
                        .expect("token endpoint"),
                )
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", redirect_uri.as_str()),
                    ("client_id", "causeway-approve"),
                    ("code_verifier", verifier),
                ])
                .send()
                .await
                .expect("token request");
            assert_eq!(response.status(), 200);
            serde_json::from_str(&response.text().await.expect("body")).expect("JSON")
        });
        let c = claims(tokens["id_token"].as_str().expect("id_token")).expect("claims");
        assert_eq!(c["nonce"], "digest-of-the-plan", "{c}");
        assert_eq!(c["aud"], "causeway-approve", "{c}");
        assert_eq!(c["acr"], "aal2", "{c}");

        // A second login with a wrong verifier would be the CLI's bug, not
        // the fixture's; but a user the IdP does not know must fail loudly.
        let err = idp
            .login(auth_url.as_str(), "mallory@example.com")
            .expect_err("unknown user");
        assert!(format!("{err:#}").contains("unknown user"), "{err:#}");
    }
}
