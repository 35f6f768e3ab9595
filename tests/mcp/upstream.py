#!/usr/bin/env python3
"""A real upstream MCP tool server for the gateway's tests, written with the
Python `mcp` SDK (MCPServer, v1's FastMCP).

Tools: git_commit(repo, message), deploy(service, env), echo(text),
fail(reason) (answers with a tool error), slow(ms).

Before any tool runs, every `tools/call` the server receives is appended as
one JSON line {"tool":..,"arguments":..,"received_at_ns":..} to the file
named by --journal PATH or else $UPSTREAM_JOURNAL (when set) and fsynced
(MCP stdio clients pass servers only a few safe environment variables, so
the flag is what reaches a server spawned by a client): the tests compare it with
the log to prove no call reached the upstream unrecorded, even after the
gate was killed with SIGKILL mid-call.

    upstream.py [--journal PATH]             serve over stdio
    upstream.py [--journal PATH] --http PORT  serve Streamable HTTP on 127.0.0.1:PORT/mcp
                             (0 for any free port); prints one line
                             `upstream ready url=http://127.0.0.1:P/mcp`
                             on stdout once it accepts connections
"""

import argparse
import asyncio
import json
import os
import socket
import sys
import threading
import time
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

JOURNAL = os.environ.get("UPSTREAM_JOURNAL")
# With --log-checkpoint URL (a log's tlog-tiles checkpoint), each journal
# line also records the log's tree size when the call arrived: the gate's
# tests check that the call's action was already in the log by then.
LOG_CHECKPOINT = None
# Concurrent sessions (HTTP) call tools from one event loop, but a lock
# keeps each line whole even if the SDK ever runs handlers in threads.
_journal_lock = threading.Lock()


def journal(tool: Any, arguments: Any) -> None:
    """Appends the received call to the journal and fsyncs it, so the line
    is on disk before the tool does anything."""
    if not JOURNAL:
        return
    entry = {"tool": tool, "arguments": arguments, "received_at_ns": time.time_ns()}
    if LOG_CHECKPOINT:
        import urllib.request

        with urllib.request.urlopen(LOG_CHECKPOINT, timeout=10) as r:
            # A checkpoint note: origin, tree size, root hash, signatures.
            entry["log_size"] = int(r.read().decode().split("\n")[1])
    line = json.dumps(entry, separators=(",", ":"))
    with _journal_lock:
        fd = os.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)


async def journal_middleware(ctx: Any, call_next: Any) -> Any:
    """Journals every tools/call as received (raw params, before the SDK
    validates them or looks the tool up), then lets the call proceed."""
    if ctx.method == "tools/call" and ctx.request_id is not None:
        params = ctx.params if isinstance(ctx.params, dict) else {}
        journal(params.get("name"), params.get("arguments"))
    return await call_next(ctx)


server = MCPServer("causeway-test-upstream", middleware=[journal_middleware])


@server.tool()
def git_commit(repo: str, message: str) -> str:
    """Pretends to commit to a repository; answers with what it committed."""
    return f"committed to {repo}: {message}"


@server.tool()
def deploy(service: str, env: str) -> str:
    """Pretends to deploy a service to an environment."""
    return f"deployed {service} to {env}"


@server.tool()
def echo(text: str) -> str:
    """Answers with the text it was given."""
    return text


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with a tool error (isError) carrying the reason."""
    raise ToolError(f"failed: {reason}")


@server.tool()
async def slow(ms: int) -> str:
    """Sleeps ms milliseconds, then answers: a call in flight to kill the
    gate during."""
    await asyncio.sleep(ms / 1000)
    return f"slept {ms} ms"


async def serve_http(port: int) -> None:
    """Serves Streamable HTTP on 127.0.0.1:port and announces readiness on
    stdout once uvicorn accepts connections."""
    import uvicorn

    # Bind first, so port 0 gets a free port whose number we can print.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    bound = sock.getsockname()[1]
    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    config = uvicorn.Config(app, log_level="warning")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    while not uv.started:
        if task.done():
            await task  # raises what stopped it
            sys.exit("upstream: the HTTP server stopped before it started")
        await asyncio.sleep(0.01)
    print(f"upstream ready url=http://127.0.0.1:{bound}/mcp", flush=True)
    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", type=int, metavar="PORT", help="serve Streamable HTTP")
    parser.add_argument("--journal", metavar="PATH", help="journal file (default $UPSTREAM_JOURNAL)")
    parser.add_argument(
        "--log-checkpoint", metavar="URL", help="record the log's size at each call (a tiles checkpoint URL)"
    )
    args = parser.parse_args()
    if args.log_checkpoint:
        global LOG_CHECKPOINT
        LOG_CHECKPOINT = args.log_checkpoint
    if args.journal:
        global JOURNAL
        JOURNAL = args.journal
    if args.http is None:
        server.run("stdio")
    else:
        asyncio.run(serve_http(args.http))


if __name__ == "__main__":
    main()
