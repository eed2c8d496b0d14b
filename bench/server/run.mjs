// Server benchmarks (run through bench/server/run.sh, which starts a durable
// PostgreSQL and builds the server). Peers on the same database: Emmett's
// PostgreSQL event store (appendToStream with expectedStreamVersion), a
// minimal raw conditional append (FOR UPDATE + INSERT per transaction, npm
// pg) and raw INSERT-only per transaction (the limit for durable commits).
// Figures are medians of ROUNDS rounds (5) in which the stores take turns,
// after an untimed warm-up round of each.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
import pg from "pg";
import { SECRET, TOKEN, connect, pushWith, racer } from "./client.mjs";
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql";
import { STREAM_DOES_NOT_EXIST, isExpectedVersionConflictError } from "@event-driven-io/emmett";

const PGURL = process.env.PGURL;
const SERVER = process.env.SERVER;
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


async function startServer() {
  const child = spawn(SERVER, ["--listen", "127.0.0.1:0", "--database-url", PGURL, "--jwt-secret", SECRET], {
    stdio: ["ignore", "pipe", "inherit"],
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

// ---------------------------------------------------------------- raw pg
const pool = new pg.Pool({ connectionString: PGURL, max: 20 });
await pool.query(`CREATE TABLE IF NOT EXISTS raw_streams (id text PRIMARY KEY, version bigint NOT NULL);
  CREATE TABLE IF NOT EXISTS raw_events (stream text NOT NULL, version bigint NOT NULL, data jsonb NOT NULL, PRIMARY KEY (stream, version));
  CREATE TABLE IF NOT EXISTS raw_only (id bigserial PRIMARY KEY, stream text NOT NULL, data jsonb NOT NULL);`);

/** FOR UPDATE + INSERT in one transaction; false when the version differs. */
async function rawConditional(client, stream, expected, data) {
  await client.query("BEGIN");
  try {
    const r = await client.query("SELECT version FROM raw_streams WHERE id = $1 FOR UPDATE", [stream]);
    const current = r.rows.length ? Number(r.rows[0].version) : -1;
    if (current !== expected) {
      await client.query("ROLLBACK");
      return { ok: false, current };
    }
    if (current === -1) await client.query("INSERT INTO raw_streams (id, version) VALUES ($1, 0)", [stream]);
    else await client.query("UPDATE raw_streams SET version = $2 WHERE id = $1", [stream, current + 1]);
    await client.query("INSERT INTO raw_events (stream, version, data) VALUES ($1, $2, $3)", [stream, current + 1, data]);
    await client.query("COMMIT");
    return { ok: true };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    // Two first appends race on the insert of the stream row.
    if (e.code === "23505") return { ok: false, current: 0 };
    throw e;
  }
}

const emmett = getPostgreSQLEventStore(PGURL);
await emmett.appendToStream(`warm-${randomUUID()}`, [{ type: "warm", data: {} }]);

const results = {};

// ------------------------------------ 1: 16 clients × 500 conditional appends
if (want("appends")) {
  const CLIENTS = 16, EACH = 500;
  const server = await startServer();
  const stores = {
    hindcast: async (i, tag) => {
      const log = `appends-${tag}`, client = randomUUID(), stream = `s-${i}`;
      let base = 0;
      for (let k = 0; k < EACH; k++) {
        const out = await push(server.url, log, client, [{
          seq: k + 1, id: randomUUID(), events: [{ stream, type: "e", data: { k } }],
          expect: { [stream]: k === 0 ? "no_stream" : { version: k - 1 } }, view: { base, own: [] },
        }]);
        const r = out.results[0];
        if (r.status !== "committed") throw new Error(JSON.stringify(r));
        base = r.revision;
      }
    },
    emmett: async (i, tag) => {
      const stream = `appends_${tag}-${i}`;
      let version = STREAM_DOES_NOT_EXIST;
      for (let k = 0; k < EACH; k++) {
        const r = await emmett.appendToStream(stream, [{ type: "e", data: { k } }], { expectedStreamVersion: version });
        version = r.nextExpectedStreamVersion;
      }
    },
    "raw FOR UPDATE": async (i, tag) => {
      const c = await pool.connect();
      try {
        for (let k = 0; k < EACH; k++) {
          const r = await rawConditional(c, `appends-${tag}-${i}`, k - 1, { k });
          if (!r.ok) throw new Error("conflict without contention");
        }
      } finally { c.release(); }
    },
    "raw INSERT-only": async (i, tag) => {
      const c = await pool.connect();
      try {
        for (let k = 0; k < EACH; k++) await c.query("INSERT INTO raw_only (stream, data) VALUES ($1, $2)", [`appends-${tag}-${i}`, { k }]);
      } finally { c.release(); }
    },
  };
  const rates = Object.fromEntries(Object.keys(stores).map((k) => [k, []]));
  for (const [name, run, round] of rounds(stores)) {
    const tag = randomUUID().slice(0, 8);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => run(i, tag)));
    if (round >= 0) rates[name].push((CLIENTS * EACH) / ((performance.now() - t0) / 1000));
  }
  console.log("   each round:", Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, v.map(Math.round).join(" ")])));
  results.appends = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
  console.log("1. 16 clients × 500 single-event conditional appends (appends/s):", results.appends);
  server.child.kill("SIGKILL");
}

// ------------------------------------ 2: 16 clients racing on one stream
if (want("race")) {
  const CLIENTS = 16, TARGET = 600;
  const server = await startServer();
  const stores = {
    hindcast: async (tag) => {
      const log = `race-${tag}`, stream = "hot";
      const counts = { wins: 0, attempts: 0 };
      await Promise.all(Array.from({ length: CLIENTS }, () => racer(poolFor(server.url), log, stream, counts, TARGET)));
      const { wins, attempts } = counts;
      // No lost update: the stream's versions are 0 … wins - 1, in order.
      const page = await (await fetch(`${server.url}/v1/logs/${log}/events?after=0&limit=10000`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
      const versions = page.events.filter((e) => e.stream === stream).map((e) => e.version);
      if (versions.length !== wins || versions.some((v, i) => v !== i)) throw new Error("hindcast lost an update");
      return { wins, attempts };
    },
    emmett: async (tag) => {
      const stream = `race_${tag}-hot`;
      let wins = 0, attempts = 0;
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        let version = STREAM_DOES_NOT_EXIST;
        while (wins < TARGET) {
          attempts++;
          try {
            const r = await emmett.appendToStream(stream, [{ type: "e", data: {} }], { expectedStreamVersion: version });
            wins++;
            version = r.nextExpectedStreamVersion;
          } catch (e) {
            if (!isExpectedVersionConflictError(e)) throw e;
            const from = typeof version === "bigint" ? version : 0n;
            version = (await emmett.readStream(stream, { from })).currentStreamVersion;
          }
        }
      }));
      const all = await emmett.readStream(stream);
      if (all.events.length !== wins) throw new Error(`emmett lost an update: ${all.events.length} events, ${wins} wins`);
      return { wins, attempts };
    },
    "raw FOR UPDATE": async (tag) => {
      const stream = `race-${tag}`;
      let wins = 0, attempts = 0;
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        const c = await pool.connect();
        try {
          let expected = -1;
          while (wins < TARGET) {
            attempts++;
            const r = await rawConditional(c, stream, expected, {});
            if (r.ok) { wins++; expected++; } else expected = r.current;
          }
        } finally { c.release(); }
      }));
      const n = Number((await pool.query("SELECT count(*) FROM raw_events WHERE stream = $1", [stream])).rows[0].count);
      if (n !== wins) throw new Error("raw lost an update");
      return { wins, attempts };
    },
  };
  const rates = Object.fromEntries(Object.keys(stores).map((k) => [k, []]));
  const tries = Object.fromEntries(Object.keys(stores).map((k) => [k, []]));
  for (const [name, run, round] of rounds(stores)) {
    const t0 = performance.now();
    const { wins, attempts } = await run(randomUUID().slice(0, 8));
    if (round < 0) continue;
    rates[name].push(wins / ((performance.now() - t0) / 1000));
    tries[name].push(attempts / wins);
  }
  console.log("   each round:", Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, v.map(Math.round).join(" ")])));
  results.race = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, { commitsPerSecond: median(v), attemptsPerCommit: median(tries[k]) }]));
  console.log("2. 16 clients racing on one stream (successful commits/s):", results.race);
  server.child.kill("SIGKILL");
}

// ------------------------------------ 3: catch-up of 200,000 events over HTTP
if (want("catchup")) {
  const server = await startServer();
  const log = `catchup-${randomUUID().slice(0, 8)}`;
  const payload = { amount: 10, note: "a deposit" };
  await Promise.all(Array.from({ length: 4 }, async (_, w) => {
    const client = randomUUID();
    for (let b = 0; b < 50; b++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({ stream: `acc-${w}-${i % 100}`, type: "deposited", data: payload }));
      await push(server.url, log, client, [{ seq: b + 1, id: randomUUID(), events, view: { base: 0, own: [] } }]);
    }
  }));
  const rates = [];
  for (let round = 0; round < ROUNDS; round++) {
    let after = 0, n = 0;
    const t0 = performance.now();
    for (;;) {
      const res = await fetch(`${server.url}/v1/logs/${log}/events?after=${after}&limit=10000`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const page = await res.json();
      if (page.events.length === 0) break;
      n += page.events.length;
      after = page.events[page.events.length - 1].revision;
    }
    if (n !== 200000) throw new Error(`caught up ${n}`);
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  results.catchup = median(rates);
  console.log("3. catch-up of 200,000 events over HTTP (events/s, parsed):", fmt(results.catchup));
  server.child.kill("SIGKILL");
}

// ------------------------------------ 4: 50 SSE readers, commit to delivery
if (want("live")) {
  const READERS = 50, PUSHES = 300;
  const server = await startServer();
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
  results.live = { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), deliveries: latencies.length };
  console.log("4. 50 SSE readers, push sent → delivered (ms):", results.live);
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
  server = await startServer();
  const out = await push(server.url, log, randomUUID(), [{ seq: 1, id: randomUUID(), events: [{ stream: "acc-0-1", type: "deposited" }], view: { base: 1000000, own: [] } }]);
  const firstPush = performance.now() - server.started;
  if (out.results[0].status !== "committed" || out.head !== 1000001) throw new Error(JSON.stringify(out));
  const status = readFileSync(`/proc/${server.child.pid}/status`, "utf8");
  const kb = (key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))[1]);
  results.million = { startToFirstPushMs: firstPush, rssMB: kb("VmRSS") / 1024, peakRssMB: kb("VmHWM") / 1024 };
  console.log("5. log of 1,000,001 events, fresh process:", results.million);
  server.child.kill("SIGKILL");
}

console.log(JSON.stringify(results));
await Promise.all([...pools.values()].map((p) => p.destroy()));
await emmett.close();
await pool.end();
