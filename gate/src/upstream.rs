//! The real MCP servers behind the gate: connected at start over stdio or
//! Streamable HTTP, their tools listed once and mapped to scope terms.

use std::collections::HashMap;

use anyhow::{Context as _, bail};
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ErrorData, ServiceExt as _};

use crate::config::{Upstream, UpstreamTransport};
use crate::mapping::ToolMap;

/// A connected upstream.
pub struct Connected {
    /// Its name.
    pub name: String,
    client: RunningService<RoleClient, ()>,
}

/// A tool the gate offers: where it goes and how it maps.
pub struct Offered {
    /// The upstream's index in [`Upstreams::servers`].
    pub upstream: usize,
    /// The tool as the upstream describes it (the agent sees this).
    pub tool: Tool,
    /// Its mapping to scope terms.
    pub map: ToolMap,
}

/// All upstreams and the tools they offer, by the name the agent calls.
pub struct Upstreams {
    /// The servers.
    pub servers: Vec<Connected>,
    /// The tools, by name.
    pub tools: HashMap<String, Offered>,
    /// Tool names in the order listed.
    pub order: Vec<String>,
}

/// How an upstream call ended.
pub enum Returned {
    /// A result (which may say `isError`).
    Result(CallToolResult),
    /// A JSON-RPC error from the upstream.
    Error(ErrorData),
}

impl Upstreams {
    /// Connects to every upstream and lists its tools.
    ///
    /// # Errors
    /// An upstream that does not start or answer, a `[[tool]]` table naming
    /// a tool its upstream does not have, or two upstreams offering a tool
    /// of the same name.
    pub async fn connect(upstreams: &[Upstream], maps: &[ToolMap]) -> anyhow::Result<Upstreams> {
        let mut servers = Vec::new();
        let mut tools: HashMap<String, Offered> = HashMap::new();
        let mut order = Vec::new();
        for (i, u) in upstreams.iter().enumerate() {
            let client = match &u.transport {
                UpstreamTransport::Stdio { program, args } => {
                    let mut cmd = tokio::process::Command::new(program);
                    cmd.args(args);
                    let transport = TokioChildProcess::new(cmd).with_context(|| {
                        format!("upstream {:?}: cannot start {}", u.name, program.display())
                    })?;
                    ().serve(transport).await.with_context(|| {
                        format!(
                            "upstream {:?}: {} did not complete the MCP handshake",
                            u.name,
                            program.display()
                        )
                    })?
                }
                UpstreamTransport::Http(url) => {
                    let transport = StreamableHttpClientTransport::from_uri(url.as_str());
                    ().serve(transport).await.with_context(|| {
                        format!("upstream {:?}: no MCP server answered at {url}", u.name)
                    })?
                }
            };
            let listed = client
                .list_all_tools()
                .await
                .with_context(|| format!("upstream {:?}: tools/list failed", u.name))?;
            for tool in listed {
                let name = tool.name.to_string();
                if let Some(other) = tools.get(&name) {
                    bail!(
                        "upstreams {:?} and {:?} both offer a tool named {name:?}; the agent \
                         could not tell them apart: put them behind two gates",
                        upstreams[other.upstream].name,
                        u.name
                    );
                }
                let map = maps
                    .iter()
                    .find(|m| m.upstream == u.name && m.tool == name)
                    .cloned()
                    .unwrap_or_else(|| ToolMap::default_for(&u.name, &name));
                order.push(name.clone());
                tools.insert(
                    name,
                    Offered {
                        upstream: i,
                        tool,
                        map,
                    },
                );
            }
            servers.push(Connected {
                name: u.name.clone(),
                client,
            });
        }
        for m in maps {
            if tools
                .get(&m.tool)
                .is_none_or(|o| servers[o.upstream].name != m.upstream)
            {
                bail!(
                    "[[tool]] {}.{}: upstream {:?} offers no tool {:?} (it offers: {})",
                    m.upstream,
                    m.tool,
                    m.upstream,
                    m.tool,
                    order.join(", ")
                );
            }
        }
        Ok(Upstreams {
            servers,
            tools,
            order,
        })
    }

    /// Forwards a call to its upstream.
    ///
    /// # Errors
    /// When the upstream is gone (its own errors are [`Returned::Error`]).
    pub async fn call(
        &self,
        offered: &Offered,
        params: CallToolRequestParams,
    ) -> Result<Returned, ServiceError> {
        let server = &self.servers[offered.upstream];
        match server.client.call_tool(params).await {
            Ok(result) => Ok(Returned::Result(result)),
            Err(ServiceError::McpError(e)) => Ok(Returned::Error(e)),
            Err(other) => Err(other),
        }
    }
}
