// Event schemas (SPEC §9): what upcasting costs a read and a projection.
//
//   cd bench && npm install && node --expose-gc schemas.mjs [--runs N]
//
// 100,000 money_deposited events ({ amount, note }, 1,000 streams) recorded
// at version 1, imported into a store without schemas and into one
// declaring the type at version 3 with two trivial steps. Per round, on
// fresh stores:
//   first read   read() of all, the first time (every event upcast once)
//   second read  the same read again (upcast events kept)
//   fold         a projection summing amounts over all, on a fresh store
//                (upcasting each event), and on the store read before
//   steps        the two steps alone over the same data (their own time)
// and, for "no measurable change", the same reads on a store whose schemas
// declare only another type.
// Medians of the rounds; the stores alternate their order each round.

import { performance } from "node:perf_hooks";
import { EventStore } from "hindcast";

const N = 100_000;
const runs = Number(process.argv.find((a) => a.startsWith("--runs="))?.slice(7) ?? 7);

const STEPS = {
  1: (d) => ({ amount: d.amount, note: d.note, currency: "EUR" }),
  2: (d) => ({ ...d, channel: "unknown" }),
};
const V3 = { money_deposited: { version: 3, upcast: STEPS } };
const OTHER = { account_opened: { version: 2, upcast: { 1: (d) => d } } };

/** The log as NDJSON: N events at version 1, batches of 1,000. */
async function makeLog() {
  const store = await EventStore.memory();
  for (let b = 0; b < N / 1000; b++) {
    const events = [];
    for (let i = 0; i < 1000; i++) {
      const n = b * 1000 + i;
      events.push({ stream: `acc-${n % 1000}`, type: "money_deposited", data: { amount: n % 97, note: `deposit ${n}` } });
    }
    await store.transact({ events });
  }
  let text = "";
  for await (const chunk of store.export()) text += chunk;
  return text;
}

async function storeOf(log, schemas) {
  const store = await EventStore.memory(schemas === undefined ? undefined : { schemas });
  await EventStore.import(store, log);
  return store;
}

const time = (fn) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};

async function fold(store) {
  const t = performance.now();
  const p = store.project({ initial: 0, on: { money_deposited: (s, e) => s + e.data.amount } });
  await p.ready;
  const ms = performance.now() - t;
  p.close();
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const log = await makeLog();
const rows = { plain: [], other: [], first: [], second: [], steps: [], made: [], frozen: [], foldPlain: [], foldV3: [], foldRead: [] };
for (let r = 0; r < runs + 1; r++) {
  globalThis.gc?.();
  const plain = await storeOf(log);
  const other = await storeOf(log, OTHER);
  const v3 = await storeOf(log, V3);
  const round = {};
  const order = r % 2 === 0 ? ["plain", "other", "v3"] : ["v3", "other", "plain"];
  for (const which of order) {
    if (which === "plain") round.plain = time(() => plain.read());
    if (which === "other") round.other = time(() => other.read());
    if (which === "v3") {
      round.first = time(() => v3.read());
      round.second = time(() => v3.read());
    }
  }
  const data = plain.read().map((e) => e.data);
  round.steps = time(() => {
    for (const d of data) STEPS[2](STEPS[1](d));
  });
  // The floor under an upcast: three new objects per event (two steps' data
  // and the event), made, then made and frozen as SPEC §9 keeps them.
  const recorded = plain.read();
  // Kept, as a store keeps them (so they survive the young generation).
  const make = (freeze) => {
    const f = freeze ? Object.freeze : (x) => x;
    const kept = [];
    for (const e of recorded) {
      const d = f(STEPS[2](f(STEPS[1](e.data))));
      kept.push(f({ revision: e.revision, stream: e.stream, version: e.version, id: e.id, type: e.type, data: d, schemaVersion: 3, batchId: e.batchId, recordedAt: e.recordedAt }));
    }
    return kept;
  };
  round.made = time(() => make(false));
  globalThis.gc?.();
  round.frozen = time(() => make(true));
  const f1 = await storeOf(log);
  const f3 = await storeOf(log, V3);
  if (r % 2 === 0) {
    round.foldPlain = await fold(f1);
    round.foldV3 = await fold(f3);
    round.foldRead = await fold(v3); // its events already upcast by the reads
  } else {
    round.foldRead = await fold(v3);
    round.foldV3 = await fold(f3);
    round.foldPlain = await fold(f1);
  }
  if (r === 0) continue; // warm-up
  for (const k of Object.keys(rows)) rows[k].push(round[k]);
}

const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
const ratio = (a, b) => (a / b).toFixed(2);
console.log(`Event schemas: ${N.toLocaleString("en")} events recorded at version 1, median of ${runs} rounds (ms)`);
console.log(`  read, no schemas            ${m.plain.toFixed(1)}`);
console.log(`  read, schemas of another type ${m.other.toFixed(1)}   (${ratio(m.other, m.plain)}x)`);
console.log(`  first read, version 3       ${m.first.toFixed(1)}   (${ratio(m.first, m.plain)}x; ${ratio(m.first, m.plain + m.steps)}x of read + steps)`);
console.log(`  second read, version 3      ${m.second.toFixed(1)}   (${ratio(m.second, m.plain)}x)`);
console.log(`  the two steps alone         ${m.steps.toFixed(1)}`);
console.log(`  steps + the event, made and kept ${m.made.toFixed(1)}`);
console.log(`  the same, each frozen       ${m.frozen.toFixed(1)}   (the floor of a first read: ${ratio(m.frozen, m.plain + m.steps)}x of read + steps)`);
console.log(`  fold, no schemas            ${m.foldPlain.toFixed(1)}`);
console.log(`  fold, version 3             ${m.foldV3.toFixed(1)}   (${ratio(m.foldV3, m.foldPlain)}x; ${ratio(m.foldV3, m.foldPlain + m.steps)}x of fold + steps)`);
console.log(`  fold, version 3, read before ${m.foldRead.toFixed(1)}   (${ratio(m.foldRead, m.foldPlain)}x)`);
console.log("Goals: first read ≤ 1.5x (read + steps), second read ≤ 1.1x, fold ≤ 1.3x");
