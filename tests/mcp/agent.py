#!/usr/bin/env python3
"""A real MCP agent for the gateway's tests: the Python `mcp` SDK's client
(ClientSession over stdio_client or streamable_http_client), scripted.

    agent.py (--stdio CMD [ARG...] -- | --http URL) [--script FILE|-]
    agent.py (--stdio ... -- | --http URL) --bench N --concurrency C
             --call TOOL --arguments JSON

The script (default: stdin) is a JSON list of steps, each answered by one
JSON line on stdout:
    {"list": true}                    -> {"tools": [names...]}
    {"call": TOOL, "arguments": {..}} -> {"ok": true, "isError": B, "content": [..]}
                                         or, for a JSON-RPC error,
                                         {"ok": false, "code": N, "message": ".."}
    {"sleep_ms": N}                   -> {"slept_ms": N}
A step whose connection broke answers {"ok": false, "code": null,
"message": "..", "transport": true} and the agent exits 3. Error -32000
counts as a broken connection: it is what both SDKs' clients make up
(CONNECTION_CLOSED) when the connection went away under a request, so a
server under test should not send it. It exits 0 after
the script, 2 with a message on stderr if it cannot connect.

Bench mode opens C sessions (each its own connection: its own server
process over stdio), makes N calls in total across them and prints
{"calls", "seconds", "p50_ms", "p99_ms", "calls_per_s", "errors"}.
"""

import asyncio
import contextlib
import json
import math
import sys
import time
from typing import Any

import anyio
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import PaginatedRequestParams

# What the SDK's client answers a request with when its connection is gone.
CONNECTION_CLOSED = -32000

CONNECT_TIMEOUT_S = 30
USAGE = (
    "usage: agent.py (--stdio CMD [ARG...] -- | --http URL) [--script FILE|-]\n"
    "       agent.py (--stdio CMD [ARG...] -- | --http URL) --bench N --concurrency C "
    "--call TOOL --arguments JSON"
)


class ConnectError(Exception):
    """The agent could not connect to (or initialize with) the server."""


def parse_args(argv: list[str]) -> dict[str, Any]:
    """Parses the CLI by hand: --stdio takes everything up to `--`."""
    opts: dict[str, Any] = {"script": "-", "bench": None, "concurrency": 1}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--stdio":
            try:
                end = argv.index("--", i + 1)
            except ValueError:
                raise SystemExit(f"agent.py: --stdio needs a closing --\n{USAGE}")
            if end == i + 1:
                raise SystemExit(f"agent.py: --stdio needs a command\n{USAGE}")
            opts["stdio"] = argv[i + 1 : end]
            i = end + 1
            continue
        if i + 1 >= len(argv):
            raise SystemExit(f"agent.py: {a} needs a value\n{USAGE}")
        value = argv[i + 1]
        if a == "--http":
            opts["http"] = value
        elif a == "--script":
            opts["script"] = value
        elif a in ("--bench", "--concurrency"):
            try:
                opts[a[2:]] = int(value)
            except ValueError:
                raise SystemExit(f"agent.py: {a} needs a number, not {value!r}")
        elif a == "--call":
            opts["call"] = value
        elif a == "--arguments":
            try:
                opts["arguments"] = json.loads(value)
            except json.JSONDecodeError as e:
                raise SystemExit(f"agent.py: --arguments is not JSON: {e}")
        else:
            raise SystemExit(f"agent.py: unknown option {a}\n{USAGE}")
        i += 2
    if ("stdio" in opts) == ("http" in opts):
        raise SystemExit(f"agent.py: give exactly one of --stdio and --http\n{USAGE}")
    if opts["bench"] is not None and "call" not in opts:
        raise SystemExit(f"agent.py: --bench needs --call\n{USAGE}")
    return opts


@contextlib.asynccontextmanager
async def connect(opts: dict[str, Any]):
    """Yields an initialized ClientSession on the transport of `opts`."""
    if "stdio" in opts:
        cmd = opts["stdio"]
        transport = stdio_client(StdioServerParameters(command=cmd[0], args=cmd[1:]))
    else:
        transport = streamable_http_client(opts["http"])
    try:
        async with transport as (read, write):
            async with ClientSession(read, write) as session:
                try:
                    with anyio.fail_after(CONNECT_TIMEOUT_S):
                        await session.initialize()
                except Exception as e:
                    raise ConnectError(describe(e)) from e
                yield session
    except ConnectError:
        raise
    except OSError as e:
        # Spawning the stdio command or reaching the URL failed.
        raise ConnectError(describe(e)) from e


def describe(e: BaseException) -> str:
    """A one-line description, looking inside exception groups (the SDK's
    task groups wrap what actually failed)."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}"


def emit(obj: Any) -> None:
    print(json.dumps(obj, separators=(",", ":")), flush=True)


async def list_tools(session: ClientSession) -> list[str]:
    names: list[str] = []
    cursor = None
    while True:
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        result = await session.list_tools(params=params)
        names.extend(t.name for t in result.tools)
        cursor = result.next_cursor
        if not cursor:
            return names


class Broken(Exception):
    """The connection broke mid-script."""


def rpc_error(e: Exception) -> dict[str, Any]:
    """The answer line for a JSON-RPC error; raises Broken for one that
    means the connection is gone (or for any other failure to talk)."""
    if isinstance(e, MCPError) and e.code != CONNECTION_CLOSED:
        return {"ok": False, "code": e.code, "message": e.message}
    raise Broken(describe(e)) from e


async def call(session: ClientSession, tool: str, arguments: Any) -> dict[str, Any]:
    try:
        result = await session.call_tool(tool, arguments)
    except Exception as e:
        return rpc_error(e)
    return {
        "ok": True,
        "isError": bool(result.is_error),
        "content": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in result.content],
    }


# Set once the session is initialized, and while a step waits for its
# answer: if the SDK's task group then fails (a transport task died), main
# reports a broken connection for that step rather than a failure to connect.
STATE = {"connected": False, "in_step": False}


def broken(message: str) -> int:
    """Answers the step in flight (if any) with a transport error; exit 3."""
    if STATE["in_step"]:
        emit({"ok": False, "code": None, "message": message, "transport": True})
        STATE["in_step"] = False
    print(f"agent.py: the connection broke: {message}", file=sys.stderr)
    return 3


async def run_script(opts: dict[str, Any], steps: list[Any]) -> int:
    async with connect(opts) as session:
        STATE["connected"] = True
        for step in steps:
            if not isinstance(step, dict):
                raise SystemExit(f"agent.py: a step is not an object: {step!r}")
            STATE["in_step"] = True
            try:
                if step.get("list"):
                    try:
                        answer: dict[str, Any] = {"tools": await list_tools(session)}
                    except Exception as e:
                        answer = rpc_error(e)
                    emit(answer)
                elif "call" in step:
                    emit(await call(session, step["call"], step.get("arguments") or {}))
            except Broken as e:
                return broken(str(e))
            STATE["in_step"] = False
            if "sleep_ms" in step:
                await asyncio.sleep(step["sleep_ms"] / 1000)
                emit({"slept_ms": step["sleep_ms"]})
            elif not step.get("list") and "call" not in step:
                raise SystemExit(f"agent.py: unknown step {step!r}")
    return 0


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ms:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[min(rank, len(sorted_ms)) - 1]


async def run_bench(opts: dict[str, Any]) -> int:
    total = opts["bench"]
    concurrency = max(1, opts["concurrency"])
    tool, arguments = opts["call"], opts.get("arguments") or {}
    latencies: list[float] = []
    errors = 0
    remaining = total
    ready = 0
    all_ready = asyncio.Event()
    start_at = 0.0

    async def worker() -> None:
        nonlocal remaining, ready, errors, start_at
        async with connect(opts) as session:
            ready += 1
            if ready == concurrency:
                start_at = time.perf_counter()
                all_ready.set()
            await all_ready.wait()
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                answer = await call(session, tool, arguments)
                latencies.append((time.perf_counter() - t0) * 1000)
                if not answer["ok"] or answer["isError"]:
                    errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start_at
    latencies.sort()
    emit(
        {
            "calls": len(latencies),
            "seconds": round(seconds, 6),
            "p50_ms": round(percentile(latencies, 50), 3),
            "p99_ms": round(percentile(latencies, 99), 3),
            "calls_per_s": round(len(latencies) / seconds, 1) if seconds > 0 else None,
            "errors": errors,
        }
    )
    return 0


def main() -> int:
    opts = parse_args(sys.argv[1:])
    steps: list[Any] = []
    if opts["bench"] is None:
        text = sys.stdin.read() if opts["script"] == "-" else open(opts["script"]).read()
        try:
            steps = json.loads(text)
        except json.JSONDecodeError as e:
            raise SystemExit(f"agent.py: the script is not JSON: {e}")
        if not isinstance(steps, list):
            raise SystemExit("agent.py: the script must be a JSON list of steps")
    try:
        if opts["bench"] is not None:
            return asyncio.run(run_bench(opts))
        return asyncio.run(run_script(opts, steps))
    except BaseException as e:  # noqa: BLE001 - anything left is a failure to connect or talk
        inner = e
        while isinstance(inner, BaseExceptionGroup) and inner.exceptions:
            inner = inner.exceptions[0]
        if isinstance(inner, SystemExit):
            raise inner
        if isinstance(inner, KeyboardInterrupt):
            return 130
        if STATE["connected"]:
            return broken(describe(inner))
        print(f"agent.py: cannot connect: {describe(inner)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
