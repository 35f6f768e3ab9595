//! The OpenID Connect login of `causeway approve`: authorization code with
//! PKCE, the browser sent back to a one-shot listener on 127.0.0.1 (RFC
//! 8252 §7.3, as `gcloud auth login` does). The arithmetic is in
//! `causeway_oidc::login`; this module does the HTTP.

use std::time::Duration;

use causeway_oidc::{Discovery, IdentityProvider, IdpSettings, LoginRequest, TokenResponse};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

/// How a login failed, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoginFailed {
    /// An HTTP request to the provider failed.
    #[error("{what}: {source}; check --oidc-issuer and that the provider is reachable")]
    Http {
        /// Which request.
        what: String,
        /// The client's error.
        source: reqwest::Error,
    },
    /// The provider answered something unusable.
    #[error(transparent)]
    Protocol(#[from] causeway_oidc::LoginError),
    /// The provider's JWKS or token did not verify.
    #[error("the identity provider's answer does not verify: {0}")]
    Token(String),
    /// The loopback listener failed.
    #[error("the login's loopback listener on 127.0.0.1: {0}")]
    Listener(std::io::Error),
    /// Nobody came back in time.
    #[error(
        "no login came back within {0:?}; run the command again and finish the login in the browser"
    )]
    Timeout(Duration),
}

/// What the login returns: the ID token, already checked against the
/// provider's current keys, audience and this plan's nonce.
#[derive(Debug)]
pub struct LoggedIn {
    /// The compact JWS.
    pub id_token: String,
    /// What it says.
    pub claims: causeway_oidc::verify::StatedClaims,
}

/// One login: where, as whom, and how long to wait.
pub struct Login<'a> {
    /// The provider's issuer URL.
    pub issuer: &'a str,
    /// The OAuth client ID (a public client).
    pub client_id: &'a str,
    /// The plan digest.
    pub nonce: &'a str,
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
}

async fn get_text(http: &reqwest::Client, url: &str, what: &str) -> Result<String, LoginFailed> {
    let failed = |source| LoginFailed::Http {
        what: format!("{what} ({url})"),
        source,
    };
    http.get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(failed)?
        .text()
        .await
        .map_err(failed)
}

impl Login<'_> {
    /// Runs the login. `show_url` is called with the URL the person must
    /// open (to print it, and to start a browser).
    ///
    /// # Errors
    /// [`LoginFailed`].
    pub async fn run(&self, show_url: impl FnOnce(&str)) -> Result<LoggedIn, LoginFailed> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|source| LoginFailed::Http {
                what: String::from("starting the HTTP client"),
                source,
            })?;
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let doc = get_text(&http, &discovery_url, "the discovery document").await?;
        let discovery = Discovery::parse(&doc, self.issuer)?;

        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(LoginFailed::Listener)?;
        let port = listener.local_addr().map_err(LoginFailed::Listener)?.port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        let request = LoginRequest::new(
            &discovery.authorization_endpoint,
            self.client_id,
            &redirect_uri,
            self.nonce,
        )?;
        show_url(request.url.as_str());

        let query = tokio::time::timeout(self.timeout, wait_for_callback(&listener))
            .await
            .map_err(|_| LoginFailed::Timeout(self.timeout))?
            .map_err(LoginFailed::Listener)?;
        let code = request.code_from_redirect(&query)?;

        let answer = http
            .post(&discovery.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(request.token_request_body(self.client_id, &code))
            .send()
            .await
            .map_err(|source| LoginFailed::Http {
                what: String::from("the code exchange"),
                source,
            })?
            .text()
            .await
            .map_err(|source| LoginFailed::Http {
                what: String::from("the code exchange"),
                source,
            })?;
        let id_token = TokenResponse::parse(&answer)?.id_token;

        // Checked here against the provider's current keys so that a
        // failure shows before anything is signed; the log checks it
        // again against the keys its policy pins.
        let jwks = get_text(&http, &discovery.jwks_uri, "the provider's JWKS").await?;
        let provider = IdentityProvider::new(&IdpSettings {
            name: self.issuer,
            issuer: self.issuer,
            audience: self.client_id,
            jwks: &jwks,
            retired: &[],
            max_auth_age_secs: i64::MAX / 2,
        })
        .map_err(|e| LoginFailed::Token(e.to_string()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let verified = provider
            .verify(
                &id_token,
                &causeway_oidc::Expected {
                    nonce: self.nonce,
                    at: now,
                    skew_secs: 300,
                },
            )
            .map_err(|e| LoginFailed::Token(e.to_string()))?;
        let claims = verified.stated(self.nonce);
        Ok(LoggedIn { id_token, claims })
    }
}

/// Answers requests on the listener until one is for `/callback`, and
/// returns its query string. Other paths (a browser's favicon) get 404.
async fn wait_for_callback(listener: &TcpListener) -> std::io::Result<String> {
    loop {
        let (stream, _) = listener.accept().await?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        // A request line is short; a peer that sends more is not a
        // browser coming back from a login.
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            let mut limited = (&mut reader).take(8192);
            limited.read_line(&mut line).await
        })
        .await;
        if !matches!(read, Ok(Ok(n)) if n > 0) {
            continue;
        }
        let target = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        let mut stream = reader.into_inner();
        if path != "/callback" {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            continue;
        }
        let body = "<!doctype html><title>Causeway</title><p>Login finished. Return to the \
                    terminal: causeway approve signs the approval there.</p>";
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        return Ok(query.to_owned());
    }
}
