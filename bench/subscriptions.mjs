// Subscription benchmarks (not tests): live delivery, catch-up, idle
// subscriptions, and subscribe/cancel cycles. Prints medians of repeated
// runs, side by side with the named baselines, in one process run.
//
//   cd bench && npm install && node --expose-gc subscriptions.mjs [--runs N]
//
// F  live: commit 100,000 events in batches of 100 (100 streams) while one
//    subscription receives them; hindcast vs Emmett's in-memory store with
//    its onAfterCommit hook doing the same work (a running sum).
// G  catch-up: a new subscription on 100,000 stored events, events/s to the
//    handler; vs a plain JS loop over an array of the same events.
// H  idle subscriptions: F for hindcast with 1,000 idle subscriptions on
//    other streams, ÷ F without them.
// I  10,000 subscribe/cancel cycles: growth of wasm memory and JS heap, and
//    handler closures still retained after GC.
//
// HINDCAST_BENCH_MODULE=<entry module> measures another build instead of the
// installed package; HINDCAST_BENCH_BEFORE=<entry module> adds a second
// build, measured in the same rounds (F, G, H alternate the two builds) and
// printed as its own rows, so that before and after compare within one run.

import { getInMemoryEventStore, STREAM_DOES_NOT_EXIST } from "@event-driven-io/emmett";
import path from "node:path";
import { pathToFileURL } from "node:url";

const load = (entry) => import(entry ? pathToFileURL(path.resolve(entry)).href : "hindcast");
const builds = [{ name: "hindcast", ...(await load(process.env.HINDCAST_BENCH_MODULE)) }];
if (process.env.HINDCAST_BENCH_BEFORE) builds.push({ name: "hindcast before", ...(await load(process.env.HINDCAST_BENCH_BEFORE)) });

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1]) || 5;
const gc = globalThis.gc ?? (() => {});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const NOTE = "coffee and a croissant at the station";
const BATCHES = 1_000;
const BATCH = 100;
const TOTAL = BATCHES * BATCH;

function batchEvents(b, make) {
  const events = new Array(BATCH);
  for (let j = 0; j < BATCH; j++) events[j] = make({ amount: (b * BATCH + j) % 1000, note: NOTE });
  return events;
}

async function liveHindcast({ EventStore }, idle = 0) {
  const store = await EventStore.memory();
  for (let i = 0; i < idle; i++) store.subscribe(() => {}, { selector: { stream: `idle-${i}` } });
  let sum = 0;
  const sub = store.subscribe((e) => {
    sum += e.data.amount;
  });
  const t = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const stream = `acc-${b % 100}`;
    await store.transact({ events: batchEvents(b, (data) => ({ stream, type: "money_deposited", data })) });
  }
  await sub.waitFor(TOTAL);
  const rate = TOTAL / ((performance.now() - t) / 1000);
  if (sum !== expectedSum()) throw new Error(`hindcast delivered a sum of ${sum}`);
  return rate;
}

async function liveEmmett() {
  let sum = 0;
  let seen = 0;
  const store = getInMemoryEventStore({
    hooks: {
      onAfterCommit: (messages) => {
        for (const m of messages) {
          sum += m.data.amount;
          seen++;
        }
      },
    },
  });
  const versions = new Map();
  const t = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const stream = `acc-${b % 100}`;
    const v = versions.get(stream) ?? 0n;
    const r = await store.appendToStream(stream, batchEvents(b, (data) => ({ type: "money_deposited", data })), {
      expectedStreamVersion: v === 0n ? STREAM_DOES_NOT_EXIST : v,
    });
    versions.set(stream, r.nextExpectedStreamVersion);
  }
  const rate = TOTAL / ((performance.now() - t) / 1000);
  if (seen !== TOTAL || sum !== expectedSum()) throw new Error(`emmett delivered ${seen} events, sum ${sum}`);
  return rate;
}

function expectedSum() {
  let s = 0;
  for (let i = 0; i < TOTAL; i++) s += i % 1000;
  return s;
}

async function catchUp(store) {
  let sum = 0;
  const t = performance.now();
  const sub = store.subscribe((e) => {
    sum += e.data.amount;
  });
  await sub.waitFor(TOTAL);
  const rate = TOTAL / ((performance.now() - t) / 1000);
  sub.cancel();
  if (sum !== expectedSum()) throw new Error(`catch-up sum ${sum}`);
  return rate;
}

function plainLoop(events) {
  let sum = 0;
  const handler = (e) => {
    sum += e.data.amount;
  };
  const t = performance.now();
  for (let i = 0; i < events.length; i++) handler(events[i]);
  const rate = events.length / ((performance.now() - t) / 1000);
  if (sum !== expectedSum()) throw new Error("plain sum");
  return rate;
}

/** Subscribes and cancels `n` times; every other subscription catches up first. */
async function subscribeCancel(store, registry, n) {
  for (let i = 0; i < n; i++) {
    const handler = () => {};
    registry.register(handler, i);
    const sub = store.subscribe(handler, { selector: { stream: `s-${i}` } });
    if (i % 2 === 0) await sub.waitFor(1);
    sub.cancel();
  }
}

async function cycles({ EventStore, wasmMemoryBytes }) {
  const store = await EventStore.memory();
  await store.transact({ events: [{ stream: "a", type: "x" }] });
  let finalized = 0;
  const registry = new FinalizationRegistry(() => finalized++);
  await subscribeCancel(store, registry, 100); // warm-up: first-use allocations
  const N = 10_000;
  gc();
  const wasm0 = wasmMemoryBytes();
  const heap0 = process.memoryUsage().heapUsed;
  await subscribeCancel(store, registry, N);
  // Finalizers run in tasks after a collection: give them turns.
  for (let i = 0; i < 50 && finalized < N + 100; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  gc();
  return {
    wasmGrowth: wasmMemoryBytes() - wasm0,
    heapGrowth: process.memoryUsage().heapUsed - heap0,
    retained: N + 100 - finalized,
    N,
  };
}

async function main() {
  console.log(`subscription benchmarks, median of ${RUNS} runs; builds: ${builds.map((b) => b.name).join(", ")}`);
  const live = { emmett: [] };
  for (const b of builds) live[b.name] = { plain: [], idle: [] };
  for (let r = -1; r < RUNS; r++) {
    gc();
    const e = await liveEmmett();
    const line = [];
    // The builds take turns; the first one alternates every round.
    const order = r % 2 === 0 ? [...builds].reverse() : builds;
    const got = {};
    for (const b of order) {
      gc();
      const h = await liveHindcast(b);
      gc();
      const i = await liveHindcast(b, 1_000);
      got[b.name] = { h, i };
    }
    if (r < 0) continue; // warm-up
    live.emmett.push(e);
    for (const b of builds) {
      live[b.name].plain.push(got[b.name].h);
      live[b.name].idle.push(got[b.name].i);
      line.push(`${b.name} ${fmt(got[b.name].h)} ev/s, ${b.name} + 1,000 idle subs ${fmt(got[b.name].i)} ev/s`);
    }
    console.log(`  F/H run ${r + 1}: emmett ${fmt(e)} ev/s, ${line.join(", ")}`);
  }
  const stores = {};
  for (const b of builds) {
    const store = await b.EventStore.memory();
    for (let k = 0; k < BATCHES; k++) {
      const stream = `acc-${k % 100}`;
      await store.transact({ events: batchEvents(k, (data) => ({ stream, type: "money_deposited", data })) });
    }
    stores[b.name] = store;
  }
  const events = stores.hindcast.read();
  const g = { plain: [] };
  for (const b of builds) g[b.name] = [];
  for (let r = -1; r < RUNS; r++) {
    const line = [];
    const order = r % 2 === 0 ? [...builds].reverse() : builds;
    const got = {};
    for (const b of order) {
      gc();
      got[b.name] = await catchUp(stores[b.name]);
    }
    const p = plainLoop(events);
    if (r < 0) continue;
    for (const b of builds) {
      g[b.name].push(got[b.name]);
      line.push(`${b.name} catch-up ${fmt(got[b.name])} ev/s`);
    }
    g.plain.push(p);
    console.log(`  G run ${r + 1}: ${line.join(", ")}, plain loop ${fmt(p)} ev/s`);
  }
  const c = {};
  for (const b of builds) c[b.name] = await cycles(b);
  const m = (xs) => median(xs);
  console.log("\n| Measure | hindcast | baseline | ratio | goal |");
  console.log("|---|---:|---:|---:|---|");
  for (const b of builds) {
    const name = b.name === "hindcast" ? "" : ` (${b.name.replace("hindcast ", "")})`;
    const L = live[b.name];
    const F = m(L.plain) / m(live.emmett);
    const H = m(L.plain) / m(L.idle);
    const G = m(g[b.name]);
    const C = c[b.name];
    console.log(`| F${name}: live delivery, 100,000 events in batches of 100, one subscription | ${fmt(m(L.plain))} ev/s | Emmett + onAfterCommit ${fmt(m(live.emmett))} ev/s | ${F.toFixed(1)}× | ≥ 10× ${F >= 10 ? "✅" : "❌"} |`);
    console.log(`| G${name}: catch-up of a new subscription on 100,000 events | ${fmt(G)} ev/s | plain JS loop ${fmt(m(g.plain))} ev/s | ${(G / m(g.plain)).toFixed(3)}× | ≥ 1,000,000 ev/s ${G >= 1e6 ? "✅" : "❌"} |`);
    console.log(`| H${name}: F with 1,000 idle subscriptions on other streams | ${fmt(m(L.idle))} ev/s | F without ${fmt(m(L.plain))} ev/s | +${((H - 1) * 100).toFixed(1)}% time | ≤ +10% ${H <= 1.1 ? "✅" : "❌"} |`);
    console.log(`| I${name}: ${fmt(C.N)} subscribe/cancel cycles | wasm +${fmt(C.wasmGrowth)} B, heap ${C.heapGrowth >= 0 ? "+" : ""}${fmt(C.heapGrowth)} B, ${C.retained} handlers retained | | | no growth ${C.wasmGrowth === 0 && C.retained === 0 ? "✅" : "❌"} |`);
  }
  if (builds.length > 1) {
    const [a, b] = builds.map((x) => x.name);
    console.log(`\nafter ÷ before: F ${(m(live[a].plain) / m(live[b].plain)).toFixed(2)}×, H-run ${(m(live[a].idle) / m(live[b].idle)).toFixed(2)}×, G ${(m(g[a]) / m(g[b])).toFixed(2)}×`);
  }
}

await main();
