//! The anchorer: has published checkpoints timestamped by an RFC 3161
//! time-stamp authority, so that nobody (the operator included) can later
//! claim a tree existed earlier or later than it did.
//!
//! It follows the published checkpoint. When a newer one appears, and at
//! most once per `interval`, it sends a `TimeStampReq` for SHA-256 of the
//! checkpoint body with a fresh random nonce, verifies the answer
//! completely ([`causeway_rfc3161::verify_response`]: status,
//! imprint, nonce, policy, CMS signature, ESS binding, the signer's EKU,
//! the chain to `--tsa-roots` at genTime) and that genTime does not go
//! backwards, and only then stores the DER `TimeStampResp` under the tree
//! size. Anything else is logged and retried with backoff; the sequencer
//! and the publisher never wait for the TSA.

use std::sync::Arc;
use std::time::{Duration, Instant};

use causeway_rfc3161::{
    Expectations, MessageImprint, QUERY_CONTENT_TYPE, TimestampRequest, TrustedRoots,
    verify_response,
};
use rand::Rng as _;

use crate::head::{PublishedView, TreeHead};
use crate::storage::Storage;
use crate::telemetry::{error_chain, metrics, reason};
use tracing::Instrument as _;

/// Where and how to anchor.
#[derive(Clone, Debug)]
pub struct AnchorConfig {
    /// The TSA's URL (HTTP POST of `application/timestamp-query`).
    pub url: String,
    /// The TSA's trusted root certificates.
    pub roots: Arc<TrustedRoots>,
    /// At most one request per interval.
    pub interval: Duration,
    /// The TSA policy OID to ask for and require, if any.
    pub policy: Option<String>,
    /// One request's time limit.
    pub timeout: Duration,
}

/// The pause after a failed attempt: doubling from the first to the second.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(10));
/// How often an unchanged failure is logged again.
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(60);

/// Timestamps published checkpoints; see the module docs.
pub struct Anchorer {
    storage: Arc<dyn Storage>,
    published: PublishedView,
    config: AnchorConfig,
    http: reqwest::Client,
}

/// Why one anchoring attempt failed. Nothing is stored after any of these.
#[derive(Debug, thiserror::Error)]
enum AnchorError {
    #[error("cannot reach the TSA at {url}: {error}")]
    Unreachable { url: String, error: String },
    #[error("the TSA at {url} answered HTTP {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("the TSA's answer does not verify: {0}")]
    Invalid(String),
    #[error("{0}")]
    Local(String),
}

impl AnchorError {
    /// A short name for metrics (`causeway.tsa.failures`).
    fn reason(&self) -> &'static str {
        match self {
            AnchorError::Unreachable { .. } => "unreachable",
            AnchorError::Http { .. } => "http",
            AnchorError::Invalid(_) => "invalid",
            AnchorError::Local(_) => "local",
        }
    }
}

impl Anchorer {
    /// An anchorer following `published`.
    pub fn new(
        storage: Arc<dyn Storage>,
        published: PublishedView,
        config: AnchorConfig,
        http: reqwest::Client,
    ) -> Self {
        Anchorer {
            storage,
            published,
            config,
            http,
        }
    }

    /// Anchors until `stop` resolves.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut last_attempt: Option<Instant> = None;
        let mut backoff = BACKOFF.0;
        let mut last_failure: Option<(String, Instant)> = None;
        loop {
            let latest_anchor = match self.storage.latest_anchor() {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the latest anchor");
                    None
                }
            };
            let anchored = latest_anchor.as_ref().map(|a| a.size);
            if let Some(published) = self.published.current() {
                let lag = published.size.saturating_sub(anchored.unwrap_or(0));
                metrics().anchor_lag.record(lag, &[]);
            }
            let due = self
                .published
                .current()
                .filter(|cp| anchored.is_none_or(|a| cp.size > a));
            let Some(_) = due else {
                tokio::select! {
                    _ = &mut stop => return,
                    changed = self.published.changed() => if !changed { return },
                }
                continue;
            };
            // At most one request per interval.
            if let Some(at) = last_attempt {
                let next = at + self.config.interval;
                if Instant::now() < next {
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep_until(next.into()) => {}
                    }
                }
            }
            // Always the latest published checkpoint at the time of asking.
            let Some(checkpoint) = self.published.current() else {
                continue;
            };
            last_attempt = Some(Instant::now());
            let not_before = latest_anchor.as_ref().map(|a| a.gen_time);
            let span = tracing::debug_span!("anchor", size = checkpoint.size);
            checkpoint.trace.parent_of(&span);
            let attempt = tokio::select! {
                _ = &mut stop => return,
                r = self.anchor(&checkpoint, not_before).instrument(span) => r,
            };
            match attempt {
                Ok(gen_time) => {
                    if last_failure.take().is_some() {
                        tracing::info!(size = checkpoint.size, "anchoring resumed");
                    }
                    tracing::debug!(size = checkpoint.size, gen_time, "checkpoint anchored");
                    let lag = self
                        .published
                        .current()
                        .map_or(0, |p| p.size.saturating_sub(checkpoint.size));
                    metrics().anchor_lag.record(lag, &[]);
                    backoff = BACKOFF.0;
                }
                Err(e) => {
                    metrics().tsa_failures.add(1, &reason(e.reason()));
                    let message = e.to_string();
                    let repeat = last_failure
                        .as_ref()
                        .is_some_and(|(m, at)| *m == message && at.elapsed() < REPEAT_LOG_EVERY);
                    if !repeat {
                        tracing::warn!(
                            size = checkpoint.size,
                            last_anchored = ?anchored,
                            "anchoring is behind: checkpoint {} is not timestamped (last anchor: {}): {message}; retrying in {backoff:?}",
                            checkpoint.size,
                            anchored.map_or("none".into(), |a| format!("size {a}")),
                        );
                        last_failure = Some((message, Instant::now()));
                    }
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF.1);
                }
            }
        }
    }

    /// One request: ask, verify, store. Returns the genTime stored.
    async fn anchor(
        &self,
        checkpoint: &TreeHead,
        not_before: Option<i64>,
    ) -> Result<i64, AnchorError> {
        let body = checkpoint
            .body()
            .ok_or_else(|| AnchorError::Local("the published note has no body".into()))?;
        let imprint = MessageImprint::sha256(body.as_bytes());
        let nonce: u64 = rand::thread_rng().r#gen();
        let request = TimestampRequest {
            imprint: imprint.clone(),
            nonce,
            policy: self.config.policy.clone(),
            cert_req: true,
        }
        .to_der()
        .map_err(|e| AnchorError::Local(e.to_string()))?;
        let url = &self.config.url;
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, QUERY_CONTENT_TYPE)
            .timeout(self.config.timeout)
            .body(request)
            .send()
            .await
            .map_err(|e| AnchorError::Unreachable {
                url: url.clone(),
                error: error_chain(&e),
            })?;
        let status = response.status();
        let der = response
            .bytes()
            .await
            .map_err(|e| AnchorError::Unreachable {
                url: url.clone(),
                error: error_chain(&e),
            })?;
        if !status.is_success() {
            return Err(AnchorError::Http {
                url: url.clone(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&der[..der.len().min(200)])
                    .trim()
                    .to_owned(),
            });
        }
        let nonce_bytes = nonce.to_be_bytes();
        let verified = verify_response(
            &der,
            &self.config.roots,
            &Expectations {
                imprint: &imprint,
                nonce: Some(&nonce_bytes),
                policy: self.config.policy.as_deref(),
                not_before,
                signer_common_name: None,
            },
        )
        .map_err(|e| AnchorError::Invalid(e.to_string()))?;
        let storage = self.storage.clone();
        let (size, gen_time) = (checkpoint.size, verified.gen_time);
        tokio::task::spawn_blocking(move || storage.put_anchor(size, gen_time, &der))
            .await
            .map_err(|e| AnchorError::Local(e.to_string()))?
            .map_err(|e| AnchorError::Local(format!("cannot store the anchor: {e}")))?;
        Ok(gen_time)
    }
}
