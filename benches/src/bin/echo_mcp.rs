//! `causeway-echo-mcp`: a minimal MCP server with one `echo` tool, the fast
//! upstream of `causeway-gate-bench` (see `causeway_bench::echo_mcp`).
//!
//! ```text
//! causeway-echo-mcp                        # one session on stdio
//! causeway-echo-mcp --http 127.0.0.1:0     # Streamable HTTP; prints its URL on stderr
//! ```

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;

/// A minimal MCP server with one `echo` tool (returns its `message`).
#[derive(Parser, Debug)]
#[command(name = "causeway-echo-mcp", version, about)]
struct Args {
    /// Serve Streamable HTTP at /mcp on this address (port 0 picks one;
    /// the URL is printed on stderr) instead of stdio.
    #[arg(long)]
    http: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let Some(addr) = args.http else {
        return causeway_bench::echo_mcp::serve_stdio().await;
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!(
        "causeway-echo-mcp: listening on http://{}/mcp",
        listener.local_addr()?
    );
    causeway_bench::echo_mcp::serve_http(listener, stopped()).await
}

/// SIGINT or SIGTERM.
async fn stopped() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
