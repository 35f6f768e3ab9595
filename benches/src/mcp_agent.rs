//! The fast agent of `causeway-gate-bench`: an `rmcp` Streamable HTTP
//! client making a fixed number of tool calls from S concurrent sessions,
//! and reporting what `tests/mcp/agent.mjs --bench` reports (calls,
//! seconds, p50/p99 latency, calls/s, errors), so the tables stay the same
//! whichever agent ran.
//!
//! Each session is its own MCP session over its own HTTP client, so its
//! own keep-alive connection (rmcp's default client opens a connection
//! per request, which would be measured as the gate's cost and the
//! upstream's alike). The closed loop: each session makes its next call as
//! soon as the last one answered, until `calls` were made in all. Paced:
//! call k starts no earlier than k/rate seconds after the start.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

/// How long one call may take before the run is given up, as in
/// `agent.mjs`: a hung server must not hang the bench.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting and the MCP handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Clone, Debug)]
pub struct Load {
    /// Calls in all, across the sessions.
    pub calls: usize,
    /// Concurrent sessions.
    pub sessions: usize,
    /// Calls per second from the start (pacing), or `None`: closed loop.
    pub rate: Option<f64>,
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Calls answered (errors included).
    pub calls: u64,
    /// Calls answered with a JSON-RPC error or `isError`.
    pub errors: u64,
    /// From the first call to the last answer.
    pub seconds: f64,
    /// Median latency per call, ms (nearest rank).
    pub p50_ms: f64,
    /// 99th percentile latency per call, ms (nearest rank).
    pub p99_ms: f64,
    /// Calls per second.
    pub calls_per_s: f64,
}

type Session = RunningService<RoleClient, ()>;

async fn connect(url: &str) -> anyhow::Result<Session> {
    // A client of its own per session: its own connection, as a Node
    // SDK transport has.
    let http = reqwest013::Client::builder()
        .build()
        .context("building an HTTP client")?;
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url),
    );
    tokio::time::timeout(CONNECT_TIMEOUT, ().serve(transport))
        .await
        .with_context(|| format!("no MCP handshake with {url} in {CONNECT_TIMEOUT:?}"))?
        .with_context(|| format!("the MCP handshake with {url} failed"))
}

/// One session's share of the calls: its latencies (ms) and errors.
async fn drive(
    session: &Session,
    params: &CallToolRequestParams,
    load: &Load,
    issued: &AtomicUsize,
    start: Instant,
) -> anyhow::Result<(Vec<f64>, u64)> {
    let mut latencies = Vec::new();
    let mut errors = 0;
    loop {
        let k = issued.fetch_add(1, Ordering::Relaxed);
        if k >= load.calls {
            return Ok((latencies, errors));
        }
        if let Some(rate) = load.rate {
            let due = start + Duration::from_secs_f64(k as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let t0 = Instant::now();
        let answer = tokio::time::timeout(CALL_TIMEOUT, session.call_tool(params.clone()))
            .await
            .with_context(|| format!("call {k} had no answer in {CALL_TIMEOUT:?}"))?;
        latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
        match answer {
            Ok(result) if result.is_error != Some(true) => {}
            Ok(_) | Err(ServiceError::McpError(_)) => errors += 1,
            Err(e) => bail!("the connection broke: {e}"),
        }
    }
}

/// Nearest-rank percentile of an ascending list (as `agent.mjs`).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Connects `load.sessions` sessions to `url` and makes `load.calls` calls
/// of `tool` with `arguments`.
///
/// # Errors
/// A session that cannot connect, a call with no answer in 30 s, or a
/// broken connection (an error the server sent is counted, not raised).
pub async fn run(
    url: &str,
    tool: &str,
    arguments: JsonObject,
    load: &Load,
) -> anyhow::Result<Figures> {
    let sessions =
        futures::future::try_join_all((0..load.sessions.max(1)).map(|_| connect(url))).await?;
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
    let issued = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let shares = futures::future::try_join_all(
        sessions
            .iter()
            .map(|s| drive(s, &params, load, &issued, start)),
    )
    .await;
    let seconds = start.elapsed().as_secs_f64();
    for s in sessions {
        // Ends the MCP session (DELETE); a failure here says nothing about
        // the calls.
        let _ = s.cancel().await;
    }
    let mut latencies = Vec::with_capacity(load.calls);
    let mut errors = 0;
    for (l, e) in shares? {
        latencies.extend(l);
        errors += e;
    }
    latencies.sort_by(f64::total_cmp);
    let calls = latencies.len() as u64;
    Ok(Figures {
        calls,
        errors,
        seconds,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        calls_per_s: if seconds > 0.0 {
            calls as f64 / seconds
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
