#!/usr/bin/env node
// A real MCP agent for the gateway's tests: the official TypeScript SDK's
// Client (over StdioClientTransport or StreamableHTTPClientTransport),
// scripted. The same CLI and output as agent.py:
//
//   node agent.mjs (--stdio CMD [ARG...] -- | --http URL) [--script FILE|-]
//   node agent.mjs (--stdio ... -- | --http URL) --bench N --concurrency C
//                  --call TOOL --arguments JSON [--rate R]
//
// The script (default: stdin) is a JSON list of steps, each answered by
// one JSON line on stdout:
//   {"list": true}                    -> {"tools": [names...]}
//   {"call": TOOL, "arguments": {..}} -> {"ok": true, "isError": B, "content": [..]}
//                                        or, for a JSON-RPC error,
//                                        {"ok": false, "code": N, "message": ".."}
//   {"sleep_ms": N}                   -> {"slept_ms": N}
// A step whose connection broke answers {"ok": false, "code": null,
// "message": "..", "transport": true} and the agent exits 3. Error -32000
// counts as a broken connection: it is what both SDKs' clients make up
// (ConnectionClosed) when the connection went away under a request, so a
// server under test should not send it. It exits 0
// after the script, 2 with a message on stderr if it cannot connect.
//
// Bench mode opens C sessions (each its own connection: its own server
// process over stdio), makes N calls in total across them and prints
// {"calls", "seconds", "p50_ms", "p99_ms", "calls_per_s", "errors",
// "cpu_ms"} (cpu_ms: this agent's own user + system CPU during the calls,
// so a benchmark can tell the client's share of a shared machine). With
// --rate R (bench only) call k starts no earlier than k/R seconds after the
// first, across all sessions: an open-loop pace instead of back to back.
// Latency is timed from each call's actual start.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

const USAGE =
  "usage: node agent.mjs (--stdio CMD [ARG...] -- | --http URL) [--script FILE|-]\n" +
  "       node agent.mjs (--stdio CMD [ARG...] -- | --http URL) --bench N --concurrency C " +
  "--call TOOL --arguments JSON [--rate R]";
const CONNECT_TIMEOUT_MS = 30_000;
// Long enough for the tests' slow calls; the SDK's default is 60 s.
const CALL_TIMEOUT_MS = 300_000;

function die(message, code = 2) {
  process.stderr.write(`agent.mjs: ${message}\n`);
  process.exit(code);
}

/** Parses the CLI by hand: --stdio takes everything up to `--`. */
function parseArgs(argv) {
  const opts = { script: "-", bench: null, concurrency: 1, rate: null };
  for (let i = 0; i < argv.length; ) {
    const a = argv[i];
    if (a === "--stdio") {
      const end = argv.indexOf("--", i + 1);
      if (end < 0) die(`--stdio needs a closing --\n${USAGE}`);
      if (end === i + 1) die(`--stdio needs a command\n${USAGE}`);
      opts.stdio = argv.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (i + 1 >= argv.length) die(`${a} needs a value\n${USAGE}`);
    const value = argv[i + 1];
    switch (a) {
      case "--http":
        opts.http = value;
        break;
      case "--script":
        opts.script = value;
        break;
      case "--bench":
      case "--concurrency": {
        const n = Number.parseInt(value, 10);
        if (!Number.isFinite(n)) die(`${a} needs a number, not ${JSON.stringify(value)}`);
        opts[a.slice(2)] = n;
        break;
      }
      case "--rate": {
        const r = Number.parseFloat(value);
        if (!(r > 0)) die(`--rate needs a positive number of calls per second, not ${JSON.stringify(value)}`);
        opts.rate = r;
        break;
      }
      case "--call":
        opts.call = value;
        break;
      case "--arguments":
        try {
          opts.arguments = JSON.parse(value);
        } catch (e) {
          die(`--arguments is not JSON: ${e.message}`);
        }
        break;
      default:
        die(`unknown option ${a}\n${USAGE}`);
    }
    i += 2;
  }
  if (("stdio" in opts) === ("http" in opts)) die(`give exactly one of --stdio and --http\n${USAGE}`);
  if (opts.bench !== null && !opts.call) die(`--bench needs --call\n${USAGE}`);
  if (opts.rate !== null && opts.bench === null) die(`--rate goes with --bench\n${USAGE}`);
  return opts;
}

/** A connected, initialized Client on the transport of `opts`. */
async function connect(opts) {
  const transport = opts.stdio
    ? new StdioClientTransport({ command: opts.stdio[0], args: opts.stdio.slice(1), stderr: "inherit" })
    : new StreamableHTTPClientTransport(new URL(opts.http));
  const client = new Client({ name: "causeway-test-agent-node", version: "0.0.0" });
  try {
    await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
  } catch (e) {
    await client.close().catch(() => {});
    throw new ConnectError(e?.message ?? String(e));
  }
  // The SDK's Streamable HTTP transport reports a server that died under a
  // request only through onerror, after its reconnection attempts, and
  // leaves the request waiting for its timeout. Closing the client then
  // fails what is pending with ConnectionClosed at once, as over stdio.
  client.onerror = (e) => {
    if (String(e?.message).startsWith("Maximum reconnection attempts")) {
      client.brokenReason = `the server went away (${e.message})`;
      client.close().catch(() => {});
    }
  };
  return client;
}

class ConnectError extends Error {}
class Broken extends Error {}

/** The error's own message, without the SDK's "MCP error N: " prefix. */
function rpcMessage(e) {
  const prefix = `MCP error ${e.code}: `;
  return e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}

/** Errors the SDK raises itself when the connection is gone, not ones a server sent. */
function isTransportError(e) {
  return !(e instanceof McpError) || e.code === ErrorCode.ConnectionClosed;
}

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function listTools(client) {
  const names = [];
  let cursor;
  do {
    const result = await client.listTools(cursor ? { cursor } : undefined);
    for (const t of result.tools) names.push(t.name);
    cursor = result.nextCursor;
  } while (cursor);
  return names;
}

async function call(client, tool, args) {
  try {
    const result = await client.callTool({ name: tool, arguments: args }, undefined, {
      timeout: CALL_TIMEOUT_MS,
    });
    return { ok: true, isError: Boolean(result.isError), content: result.content ?? [] };
  } catch (e) {
    if (isTransportError(e)) throw new Broken(client.brokenReason ?? e?.message ?? String(e));
    return { ok: false, code: e.code, message: rpcMessage(e) };
  }
}

async function runScript(opts, steps) {
  const client = await connect(opts);
  try {
    for (const step of steps) {
      if (step === null || typeof step !== "object") die(`a step is not an object: ${JSON.stringify(step)}`);
      if (step.list) {
        try {
          emit({ tools: await listTools(client) });
        } catch (e) {
          if (isTransportError(e)) throw new Broken(e?.message ?? String(e));
          emit({ ok: false, code: e.code, message: rpcMessage(e) });
        }
      } else if ("call" in step) {
        emit(await call(client, step.call, step.arguments ?? {}));
      } else if ("sleep_ms" in step) {
        await new Promise((r) => setTimeout(r, step.sleep_ms));
        emit({ slept_ms: step.sleep_ms });
      } else {
        die(`unknown step ${JSON.stringify(step)}`);
      }
    }
  } catch (e) {
    if (!(e instanceof Broken)) throw e;
    emit({ ok: false, code: null, message: e.message, transport: true });
    process.stderr.write(`agent.mjs: the connection broke: ${e.message}\n`);
    return 3;
  } finally {
    await client.close().catch(() => {});
  }
  return 0;
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

async function runBench(opts) {
  const concurrency = Math.max(1, opts.concurrency);
  const args = opts.arguments ?? {};
  const clients = await Promise.all(Array.from({ length: concurrency }, () => connect(opts)));
  const latencies = [];
  let errors = 0;
  let remaining = opts.bench;
  let issued = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (remaining > 0) {
        remaining -= 1;
        if (opts.rate !== null) {
          const due = start + (issued * 1000) / opts.rate;
          issued += 1;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const t0 = performance.now();
        const answer = await call(client, opts.call, args);
        latencies.push(performance.now() - t0);
        if (!answer.ok || answer.isError) errors += 1;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  latencies.sort((a, b) => a - b);
  const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;
  emit({
    calls: latencies.length,
    seconds: round(seconds, 6),
    p50_ms: round(percentile(latencies, 50), 3),
    p99_ms: round(percentile(latencies, 99), 3),
    calls_per_s: seconds > 0 ? round(latencies.length / seconds, 1) : null,
    errors,
    cpu_ms: round((cpu.user + cpu.system) / 1000, 1),
  });
  return 0;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let steps = [];
  if (opts.bench === null) {
    let text;
    try {
      text = readFileSync(opts.script === "-" ? 0 : opts.script, "utf8");
    } catch (e) {
      die(`cannot read the script: ${e.message}`);
    }
    try {
      steps = JSON.parse(text);
    } catch (e) {
      die(`the script is not JSON: ${e.message}`);
    }
    if (!Array.isArray(steps)) die("the script must be a JSON list of steps");
  }
  try {
    return opts.bench !== null ? await runBench(opts) : await runScript(opts, steps);
  } catch (e) {
    if (e instanceof ConnectError) die(`cannot connect: ${e.message}`);
    if (e instanceof Broken) die(`the connection broke: ${e.message}`, 3);
    die(`${e?.stack ?? e}`, 1);
  }
}

// Exit explicitly: a closed stdio child or a keep-alive socket must not
// keep the process alive after the script.
main().then(
  (code) => process.exit(code),
  (e) => die(`${e?.stack ?? e}`, 1),
);
