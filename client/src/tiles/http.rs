//! Tiles over HTTP(S): one request per tile, bounded in time (one
//! deadline over the whole response) and in size ([`SizeLimit`]), with only
//! the start of an error body read for the message.

use std::time::Duration;

use super::{LimitedBody, OverLimit, SizeLimit, TileError, TileSource};

/// How long one tile request may take, from connecting to the last byte of
/// the body, unless the caller says otherwise ([`HttpTiles::timeout`]). The
/// largest resource, a full entry bundle of 256 maximal entries (16 MiB),
/// arrives in well under this at 1 MB/s, while a server that stalls or
/// drips bytes cannot hold an audit hostage for longer.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an error response's body is read for the message: enough for
/// any real error text, and a hostile server cannot make it more.
const ERROR_BODY_LIMIT: usize = 4096;

/// Tiles over HTTP(S), below a URL prefix.
#[derive(Clone)]
pub struct HttpTiles {
    prefix: String,
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpTiles {
    /// Tiles below `prefix`, e.g. `http://127.0.0.1:7401` or
    /// `https://cdn.example.com/log`.
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn new(prefix: &str) -> Result<Self, TileError> {
        Self::with_ca(prefix, None)
    }

    /// Tiles below `prefix`, trusting the PEM CA certificate(s) `ca_pem`
    /// (besides the usual roots) for an `https://` prefix.
    ///
    /// # Errors
    /// If the CA is not PEM or the HTTP client cannot be built.
    pub fn with_ca(prefix: &str, ca_pem: Option<&[u8]>) -> Result<Self, TileError> {
        let error = |message: String| TileError::Http {
            url: prefix.to_owned(),
            message,
        };
        let mut builder = reqwest::Client::builder().gzip(true).tcp_nodelay(true);
        if let Some(pem) = ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| error(format!("--tls-ca: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| error(e.to_string()))?;
        Ok(HttpTiles {
            prefix: prefix.trim_end_matches('/').to_owned(),
            client,
            timeout: DEFAULT_HTTP_TIMEOUT,
        })
    }

    /// The same source with another time limit per request (connecting,
    /// headers and the whole body; default [`DEFAULT_HTTP_TIMEOUT`]).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// One request, without the time limit.
    async fn get_unbounded(&self, url: &str, limit: &SizeLimit) -> Result<Vec<u8>, TileError> {
        let http = |e: reqwest::Error| TileError::Http {
            url: url.to_owned(),
            message: e.to_string(),
        };
        let mut resp = self.client.get(url).send().await.map_err(http)?;
        let status = resp.status();
        if !status.is_success() {
            // Only the start of an error body is wanted for the message.
            let mut body = Vec::new();
            while body.len() < ERROR_BODY_LIMIT
                && let Some(chunk) = resp.chunk().await.map_err(http)?
            {
                let room = ERROR_BODY_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            let body = String::from_utf8_lossy(&body)
                .trim()
                .chars()
                .take(300)
                .collect();
            return Err(TileError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                body,
            });
        }
        let too_large = || TileError::TooLarge {
            url: url.to_owned(),
            limit: limit.bytes,
            what: limit.what.clone(),
        };
        // With gzip on, reqwest drops Content-Length and this is None: the
        // chunks below are the inflated stream, counted as they arrive.
        let expected = resp.content_length();
        if expected.is_some_and(|n| n > limit.bytes as u64) {
            return Err(too_large());
        }
        let mut body = LimitedBody::new(limit.bytes, expected);
        while let Some(chunk) = resp.chunk().await.map_err(http)? {
            body.push(&chunk).map_err(|OverLimit| too_large())?;
        }
        Ok(body.into_bytes())
    }
}

impl TileSource for HttpTiles {
    async fn get(&self, path: &str, limit: &SizeLimit) -> Result<Vec<u8>, TileError> {
        let url = format!("{}/{path}", self.prefix);
        // One deadline over connecting, headers and the whole body: a
        // per-read timeout would let a server that drips a byte at a time
        // go on for ever.
        match tokio::time::timeout(self.timeout, self.get_unbounded(&url, limit)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(TileError::Timeout {
                url,
                timeout: self.timeout,
            }),
        }
    }
}
