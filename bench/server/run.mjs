// Server benchmarks (run through bench/server/run.sh, which starts a durable
// PostgreSQL and builds the server). Peers on the same database: Emmett's
// PostgreSQL event store (appendToStream with expectedStreamVersion), a
// minimal raw conditional append (FOR UPDATE + INSERT per transaction, npm
// pg) and raw INSERT-only per transaction (the limit for durable commits).
// Figures are medians of ROUNDS rounds (5) in which the stores take turns,
// after an untimed warm-up round of each; each store's clients run in a
// worker thread of their own (stores.mjs, store-worker.mjs). With
// SERVER_BEFORE (another build of the server) every workload runs that
// build too, as the store "hindcast-before": in the same rounds for the
// appends, the race and the catch-up, one after the other for the rest.
// The servers log at RUST_LOG=warn unless RUST_LOG says otherwise.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
import { Worker } from "node:worker_threads";
import { SECRET, TOKEN, connect, pushWith } from "./client.mjs";
import { CLIENTS, EACH, STORES, rawSchema } from "./stores.mjs";

const PGURL = process.env.PGURL;
const SERVER = process.env.SERVER;
const SERVER_BEFORE = process.env.SERVER_BEFORE;
/** The builds measured: name → binary. */
const BUILDS = { hindcast: SERVER, ...(SERVER_BEFORE ? { "hindcast-before": SERVER_BEFORE } : {}) };
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const only = process.argv.slice(2);
const want = (name) => only.length === 0 || only.includes(name);

/**
 * The stores' turns: an untimed warm-up round (round -1: connections,
 * prepared statements, the JIT, a new log's first pages), then ROUNDS
 * rounds, the order reversed every other round so that no store always
 * runs first or right after the same one.
 */
function* rounds(stores) {
  const entries = Object.entries(stores);
  for (let round = -1; round < ROUNDS; round++) {
    for (const [name, run] of round % 2 === 0 ? [...entries].reverse() : entries) yield [name, run, round];
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const fmt = (n) => Math.round(n).toLocaleString("en-US");


async function startServer(bin = SERVER) {
  const child = spawn(bin, ["--listen", "127.0.0.1:0", "--database-url", PGURL, "--jwt-secret", SECRET], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  const started = performance.now();
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  return { child, url: line.split(" ").pop(), started };
}

const pools = new Map();

/** The pool of connections to the server at `url` (client.mjs), one per server. */
function poolFor(url) {
  let pool = pools.get(url);
  if (!pool) {
    pool = connect(url);
    pools.set(url, pool);
  }
  return pool;
}
const push = (url, log, client, batches) => pushWith(poolFor(url), log, client, batches);

/**
 * Runs the stores of an interleaved workload, each by a worker thread of
 * its own (store-worker.mjs): its rounds as rounds() orders them; returns
 * each store's rounds, as what `each(seconds, result)` makes of them.
 */
async function interleaved(workload, urls, each) {
  const workers = {};
  const names = [...STORES[workload], ...Object.keys(urls).filter((n) => n !== "hindcast")];
  for (const store of names) {
    // Another build of the server is the hindcast store at its own URL.
    const impl = store.startsWith("hindcast") ? "hindcast" : store;
    const url = urls[store] ?? urls.hindcast;
    const worker = new Worker(new URL("./store-worker.mjs", import.meta.url), { workerData: { workload, store: impl, url, pgurl: PGURL } });
    worker.on("error", (e) => { console.error(e); process.exit(1); });
    await new Promise((resolve) => worker.once("message", resolve));
    workers[store] = (tag) => new Promise((resolve) => { worker.once("message", resolve); worker.postMessage(tag); });
    workers[store].worker = worker;
  }
  const out = Object.fromEntries(names.map((k) => [k, []]));
  for (const [name, run, round] of rounds(workers)) {
    const { seconds, ...result } = await run(randomUUID().slice(0, 8));
    if (round >= 0) out[name].push(each(seconds, result));
  }
  for (const run of Object.values(workers)) {
    run.worker.postMessage(null);
    await new Promise((resolve) => run.worker.once("exit", resolve));
  }
  return out;
}

await rawSchema(PGURL);

const results = {};

/** A server of each build: name → { child, url, started }. */
async function startAll() {
  const out = {};
  for (const [name, bin] of Object.entries(BUILDS)) out[name] = await startServer(bin);
  return out;
}
const urlsOf = (servers) => Object.fromEntries(Object.entries(servers).map(([k, s]) => [k, s.url]));
const killAll = (servers) => Object.values(servers).forEach((s) => s.child.kill("SIGKILL"));

// ------------------------------------ 1: 16 clients × 500 conditional appends
if (want("appends")) {
  const servers = await startAll();
  const rates = await interleaved("appends", urlsOf(servers), (seconds) => (CLIENTS * EACH) / seconds);
  console.log("   each round:", Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, v.map(Math.round).join(" ")])));
  results.appends = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
  console.log("1. 16 clients × 500 single-event conditional appends (appends/s):", results.appends);
  killAll(servers);
}

// ------------------------------------ 2: 16 clients racing on one stream
if (want("race")) {
  const servers = await startAll();
  const runs = await interleaved("race", urlsOf(servers), (seconds, { wins, attempts }) => ({ rate: wins / seconds, tries: attempts / wins }));
  console.log("   each round:", Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((r) => Math.round(r.rate)).join(" ")])));
  results.race = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, {
    commitsPerSecond: median(v.map((r) => r.rate)), attemptsPerCommit: median(v.map((r) => r.tries)),
  }]));
  console.log("2. 16 clients racing on one stream (successful commits/s):", results.race);
  killAll(servers);
}

// ------------------------------------ 3: catch-up of 200,000 events over HTTP
if (want("catchup")) {
  const servers = await startAll();
  const server = servers.hindcast;
  const log = `catchup-${randomUUID().slice(0, 8)}`;
  const payload = { amount: 10, note: "a deposit" };
  await Promise.all(Array.from({ length: 4 }, async (_, w) => {
    const client = randomUUID();
    for (let b = 0; b < 50; b++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({ stream: `acc-${w}-${i % 100}`, type: "deposited", data: payload }));
      await push(server.url, log, client, [{ seq: b + 1, id: randomUUID(), events, view: { base: 0, own: [] } }]);
    }
  }));
  const rates = Object.fromEntries(Object.keys(servers).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) for (const [name, { url }] of round % 2 ? Object.entries(servers).reverse() : Object.entries(servers)) {
    let after = 0, n = 0;
    const t0 = performance.now();
    for (;;) {
      const res = await fetch(`${url}/v1/logs/${log}/events?after=${after}&limit=10000`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const page = await res.json();
      if (page.events.length === 0) break;
      n += page.events.length;
      after = page.events[page.events.length - 1].revision;
    }
    if (n !== 200000) throw new Error(`caught up ${n}`);
    rates[name].push(n / ((performance.now() - t0) / 1000));
  }
  results.catchup = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
  console.log("3. catch-up of 200,000 events over HTTP (events/s, parsed):", results.catchup);
  killAll(servers);
}

// ------------------------------------ 4: 50 SSE readers, commit to delivery
if (want("live")) for (const [build, bin] of Object.entries(BUILDS)) {
  const READERS = 50, PUSHES = 300;
  const server = await startServer(bin);
  const log = `live-${randomUUID().slice(0, 8)}`;
  const sent = new Map();
  const latencies = [];
  const connected = [];
  const readers = Array.from({ length: READERS }, (_, r) => {
    let ready;
    connected.push(new Promise((resolve) => (ready = resolve)));
    return (async () => {
      const res = await fetch(`${server.url}/v1/logs/${log}/events?after=0`, { headers: { authorization: `Bearer ${TOKEN}`, accept: "text/event-stream" } });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "", seen = 0;
      while (seen < PUSHES) {
        const { value, done: end } = await reader.read();
        if (end) throw new Error("stream ended");
        // The server's first bytes (a comment) say the stream is live.
        ready();
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = message.split("\n").find((l) => l.startsWith("data: "));
          if (!data) continue;
          const now = performance.now();
          for (const e of JSON.parse(data.slice(6)).events) {
            latencies.push(now - sent.get(e.data.k));
            seen++;
          }
        }
      }
      reader.cancel();
    })();
  });
  await Promise.all(connected);
  const client = randomUUID();
  for (let k = 0; k < PUSHES; k++) {
    sent.set(k, performance.now());
    await push(server.url, log, client, [{ seq: k + 1, id: randomUUID(), events: [{ stream: "s", type: "e", data: { k } }], view: { base: 0, own: [] } }]);
  }
  await Promise.all(readers);
  (results.live ??= {})[build] = { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), deliveries: latencies.length };
  console.log(`4. 50 SSE readers, push sent → delivered (ms), ${build}:`, results.live[build]);
  server.child.kill("SIGKILL");
}

// ------------------------------------ 5: a log of 1M events: memory, start
if (want("million")) {
  let server = await startServer();
  const log = `million-${randomUUID().slice(0, 8)}`;
  await Promise.all(Array.from({ length: 4 }, async (_, w) => {
    const client = randomUUID();
    for (let b = 0; b < 250; b++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({ stream: `acc-${w}-${(b * 1000 + i) % 5000}`, type: "deposited", data: { amount: i } }));
      await push(server.url, log, client, [{ seq: b + 1, id: randomUUID(), events, view: { base: 0, own: [] } }]);
    }
  }));
  server.child.kill("SIGKILL");
  await new Promise((r) => server.child.once("exit", r));
  // Each build's fresh process: its first push catches the engine up.
  let head = 1000000;
  for (const [build, bin] of Object.entries(BUILDS)) {
    server = await startServer(bin);
    const out = await push(server.url, log, randomUUID(), [{ seq: 1, id: randomUUID(), events: [{ stream: "acc-0-1", type: "deposited" }], view: { base: head, own: [] } }]);
    const firstPush = performance.now() - server.started;
    if (out.results[0].status !== "committed" || out.head !== ++head) throw new Error(JSON.stringify(out));
    const status = readFileSync(`/proc/${server.child.pid}/status`, "utf8");
    const kb = (key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))[1]);
    (results.million ??= {})[build] = { startToFirstPushMs: firstPush, rssMB: kb("VmRSS") / 1024, peakRssMB: kb("VmHWM") / 1024 };
    console.log(`5. log of ${head} events, fresh process, ${build}:`, results.million[build]);
    server.child.kill("SIGKILL");
    await new Promise((r) => server.child.once("exit", r));
  }
}

console.log(JSON.stringify(results));
await Promise.all([...pools.values()].map((p) => p.destroy()));
