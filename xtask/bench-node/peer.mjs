// The Node peer of `cargo xtask bench`: the same workloads as the Rust
// client process (xtask/src/bench/client.rs), done the way the TypeScript SDK
// and the OpenClaw plugin do them: `ws` + JSON.parse for the realtime socket,
// global `fetch` + `res.json()` for REST.
//
// Usage: node --expose-gc peer.mjs SPEC.json
// Prints one JSON line: {"passes":[{"items","wall_ns","cpu_ns"}], ...} for
// replay and send, {"n","before_kib","after_kib","connect_secs"} for idle.

import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import WebSocket from "ws";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const wsBase = spec.base_url.replace(/^http/, "ws");

function socketUrl(after) {
  const q = new URLSearchParams({ workspace_id: spec.workspace, after_cursor: after });
  return `${wsBase}/api/realtime/ws?${q}`;
}

function open(token, after, onEvent) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(socketUrl(after), {
      headers: { Authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    ws.on("error", reject);
    ws.on("close", (code) => reject(new Error(`socket closed with ${code}`)));
    if (onEvent) {
      ws.on("message", (data) => onEvent(ws, JSON.parse(data)));
    }
    ws.on("open", () => resolve(ws));
  });
}

function switches() {
  const u = process.resourceUsage();
  return u.voluntaryContextSwitches + u.involuntaryContextSwitches;
}

async function timed(work) {
  const cpu = process.cpuUsage();
  const sw = switches();
  const t = process.hrtime.bigint();
  const items = await work();
  const wall = process.hrtime.bigint() - t;
  const used = process.cpuUsage(cpu);
  return {
    items,
    wall_ns: Number(wall),
    cpu_ns: (used.user + used.system) * 1000,
    switches: switches() - sw,
  };
}

// Reads one page: connect after `after`, JSON.parse every event until `count`.
function readPage(page) {
  return new Promise((resolve, reject) => {
    let got = 0;
    let last = null;
    open(spec.token, page.after, (ws, event) => {
      got += 1;
      last = event.cursor;
      if (got === page.count) {
        ws.removeAllListeners("close");
        ws.terminate();
        if (last !== page.last) {
          reject(new Error(`page ended on ${last}, expected ${page.last}`));
        } else {
          resolve(got);
        }
      }
    }).catch(reject);
  });
}

async function replay() {
  const passes = [];
  for (let i = 0; i < (spec.passes ?? 2); i++) {
    passes.push(
      await timed(async () => {
        let total = 0;
        for (const page of spec.pages) total += await readPage(page);
        return total;
      }),
    );
  }
  return { passes, max_rss_kib: Math.round(process.resourceUsage().maxRSS) };
}

function nonce() {
  return `node-${randomBytes(16).toString("hex")}`;
}

async function sendOne(url, headers) {
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ body: spec.body, nonce: nonce() }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

async function send() {
  const url = `${spec.base_url}/api/channels/${spec.channel}/messages`;
  const headers = {
    authorization: `Bearer ${spec.token}`,
    "content-type": "application/json",
    accept: "application/json",
  };
  const senders = spec.concurrency ?? 1;
  // Warm-up: one send per sender opens the keep-alive connections.
  await Promise.all(Array.from({ length: senders }, () => sendOne(url, headers)));
  const latencies = [];
  const pass = await timed(async () => {
    const deadline = performance.now() + spec.seconds * 1000;
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          await sendOne(url, headers);
          latencies.push(performance.now() - t);
        }
      }),
    );
    return latencies.length;
  });
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.round((p / 100) * (latencies.length - 1)))] ?? 0;
  return {
    passes: [pass],
    p50_ms: pct(50),
    p99_ms: pct(99),
    max_rss_kib: Math.round(process.resourceUsage().maxRSS),
  };
}

function rssKib() {
  if (globalThis.gc) globalThis.gc();
  return Math.round(process.memoryUsage.rss() / 1024);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function idle() {
  // Warm the runtime and the connection path with one socket.
  const warm = await open(spec.tokens[0], spec.tail);
  warm.removeAllListeners("close");
  warm.terminate();
  await sleep(100);
  const before = rssKib();
  const t = performance.now();
  const sockets = [];
  for (const token of spec.tokens) {
    const ws = await open(token, spec.tail, () => {});
    sockets.push(ws);
  }
  const connect_secs = (performance.now() - t) / 1000;
  await sleep(300);
  const after = rssKib();
  for (const ws of sockets) {
    ws.removeAllListeners("close");
    ws.terminate();
  }
  return { n: spec.tokens.length, before_kib: before, after_kib: after, connect_secs };
}

const workloads = { replay, send, idle };
const run = workloads[spec.workload];
if (!run) {
  console.error(`unknown workload ${spec.workload}`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await run()));
  process.exit(0);
} catch (e) {
  console.error(`node peer ${spec.workload}: ${e.message}`);
  process.exit(1);
}
