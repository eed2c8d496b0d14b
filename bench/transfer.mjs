// Export and import in Node (not tests): a memory store of 1,000,000
// events exported as NDJSON, against plain JavaScript writing the same
// lines from an array (the floor); and that export imported into a fresh
// memory store. Medians of repeated runs, one process.
//
//   cd bench && npm install && node transfer.mjs [--runs N]
//
// HINDCAST_BENCH_MODULE=<entry module> measures another build instead of the
// installed package.
import path from "node:path";
import { pathToFileURL } from "node:url";

const entry = process.env.HINDCAST_BENCH_MODULE;
const { EventStore } = await import(entry ? pathToFileURL(path.resolve(entry)).href : "hindcast");

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1]) || 5;
const N = 1_000_000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const event = (i) => ({ stream: `acc-${i % 1000}`, type: "money_deposited", data: { amount: i % 1000, note: "coffee" } });

const store = await EventStore.memory();
for (let i = 0; i < N; i += 1000) {
  await store.transact({ events: Array.from({ length: 1000 }, (_, j) => event(i + j)) });
}
const events = store.read();

const exportMs = [];
const floorMs = [];
const importMs = [];
let text = "";
for (let run = -1; run < RUNS; run++) {
  let t = performance.now();
  let chars = 0;
  const chunks = [];
  for await (const chunk of store.export()) {
    chars += chunk.length;
    chunks.push(chunk);
  }
  const e = performance.now() - t;
  t = performance.now();
  // The floor: the same lines, kept the same way, with no store around them.
  let floor = "";
  let floorChars = 0;
  const floorChunks = [];
  for (const ev of events) {
    floor += JSON.stringify(ev) + "\n";
    if (floor.length >= 1 << 16) {
      floorChars += floor.length;
      floorChunks.push(floor);
      floor = "";
    }
  }
  floorChars += floor.length;
  floorChunks.push(floor);
  const f = performance.now() - t;
  if (floorChars !== chars) throw new Error(`export wrote ${chars} characters, the floor ${floorChars}`);
  text = chunks.join("");
  t = performance.now();
  const copy = await EventStore.memory();
  await EventStore.import(copy, chunks);
  const i = performance.now() - t;
  if (copy.revision !== N) throw new Error(`imported ${copy.revision}`);
  if (run < 0) continue;
  exportMs.push(e);
  floorMs.push(f);
  importMs.push(i);
  console.log(`  run ${run + 1}: export ${fmt(e)} ms, plain JS ${fmt(f)} ms, import ${fmt(i)} ms`);
}
const rate = (ms) => N / (median(ms) / 1000);
console.log(`\nmedian of ${RUNS} runs, node ${process.version}, ${fmt(N)} events, ${fmt(text.length / 1e6)} MB of NDJSON`);
console.log("| Workload | hindcast | baseline | ratio | goal |\n|---|---:|---|---:|---|");
console.log(`| export of 1,000,000 events from memory | ${fmt(rate(exportMs))} events/s | plain JS writing the same lines: ${fmt(rate(floorMs))}/s | ${(rate(exportMs) / rate(floorMs)).toFixed(2)}× | ≥ 1,000,000/s ${rate(exportMs) >= 1e6 ? "✅" : "❌"} |`);
console.log(`| import of that export into a memory store | ${fmt(rate(importMs))} events/s | — | — | — |`);
