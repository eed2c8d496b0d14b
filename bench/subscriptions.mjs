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

import { getInMemoryEventStore, STREAM_DOES_NOT_EXIST } from "@event-driven-io/emmett";
import { EventStore, wasmMemoryBytes } from "hindcast";

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

async function liveHindcast(idle = 0) {
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

async function cycles() {
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
  console.log(`subscription benchmarks, median of ${RUNS} runs`);
  const live = { hindcast: [], emmett: [], idle: [] };
  for (let r = -1; r < RUNS; r++) {
    gc();
    const e = await liveEmmett();
    gc();
    const h = await liveHindcast();
    gc();
    const i = await liveHindcast(1_000);
    if (r < 0) continue; // warm-up
    live.emmett.push(e);
    live.hindcast.push(h);
    live.idle.push(i);
    console.log(`  F/H run ${r + 1}: hindcast ${fmt(h)} ev/s, emmett ${fmt(e)} ev/s, hindcast + 1,000 idle subs ${fmt(i)} ev/s`);
  }
  const store = await EventStore.memory();
  for (let b = 0; b < BATCHES; b++) {
    const stream = `acc-${b % 100}`;
    await store.transact({ events: batchEvents(b, (data) => ({ stream, type: "money_deposited", data })) });
  }
  const events = store.read();
  const g = { hindcast: [], plain: [] };
  for (let r = -1; r < RUNS; r++) {
    gc();
    const h = await catchUp(store);
    const p = plainLoop(events);
    if (r < 0) continue;
    g.hindcast.push(h);
    g.plain.push(p);
    console.log(`  G run ${r + 1}: catch-up ${fmt(h)} ev/s, plain loop ${fmt(p)} ev/s`);
  }
  const c = await cycles();
  const m = (xs) => median(xs);
  const F = m(live.hindcast) / m(live.emmett);
  const H = m(live.hindcast) / m(live.idle);
  console.log("\n| Measure | hindcast | baseline | ratio | goal |");
  console.log("|---|---:|---:|---:|---|");
  console.log(`| F: live delivery, 100,000 events in batches of 100, one subscription | ${fmt(m(live.hindcast))} ev/s | Emmett + onAfterCommit ${fmt(m(live.emmett))} ev/s | ${F.toFixed(1)}× | ≥ 10× ${F >= 10 ? "✅" : "❌"} |`);
  console.log(`| G: catch-up of a new subscription on 100,000 events | ${fmt(m(g.hindcast))} ev/s | plain JS loop ${fmt(m(g.plain))} ev/s | ${(m(g.hindcast) / m(g.plain)).toFixed(3)}× | ≥ 1,000,000 ev/s ${m(g.hindcast) >= 1e6 ? "✅" : "❌"} |`);
  console.log(`| H: F with 1,000 idle subscriptions on other streams | ${fmt(m(live.idle))} ev/s | F without ${fmt(m(live.hindcast))} ev/s | +${((H - 1) * 100).toFixed(1)}% time | ≤ +10% ${H <= 1.1 ? "✅" : "❌"} |`);
  console.log(`| I: ${fmt(c.N)} subscribe/cancel cycles | wasm +${fmt(c.wasmGrowth)} B, heap ${c.heapGrowth >= 0 ? "+" : ""}${fmt(c.heapGrowth)} B, ${c.retained} handlers retained | | | no growth ${c.wasmGrowth === 0 && c.retained === 0 ? "✅" : "❌"} |`);
}

await main();
