// Projection snapshots in headless Chromium (a benchmark, not a test,
// SPEC §5): an IndexedDB store of N events (1,000 batches, 1,000 streams,
// `data` like `{ amount, note }`, one tag), a projection folding every
// event (balances by stream) that keeps a snapshot; then the store is
// opened again and the same projection made. Timed: the open, and from the
// open's resolution to `projection.ready` with the snapshot, and without
// one (folded from revision 1) for comparison.
//
//   node bench/browser-snapshots.mjs [--events N] [--runs R]   (N: 1,000,000 by default)
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "../tests/js/browser/static.mjs";

const args = process.argv.slice(2);
const arg = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const EVENTS = arg("--events", 1_000_000);
const RUNS = arg("--runs", 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const pages = await serve(fileURLToPath(new URL("..", import.meta.url)));
const browser = await chromium.launch(CHROMIUM);
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${pages.url}/bench/browser/page.html`);
  const name = `bench-snapshots-${Date.now()}`;
  const written = await page.evaluate(
    async ([name, events]) => {
      const { EventStore } = await import("/pkg/browser.js");
      const store = await EventStore.open(name);
      const t = performance.now();
      const batch = 1_000;
      for (let b = 0; b < events / batch; b++) {
        const list = [];
        for (let i = 0; i < batch; i++) {
          const n = b * batch + i;
          list.push({ stream: `acc-${n % 1000}`, type: "deposited", tags: ["bench"], data: { amount: n % 100, note: "coffee and a croissant" } });
        }
        await store.transact({ events: list });
      }
      const ms = performance.now() - t;
      await store.close();
      return ms;
    },
    [name, EVENTS],
  );
  console.log(`  wrote ${EVENTS.toLocaleString("en-US")} events in ${(written / 1000).toFixed(1)} s`);
  const rows = [];
  for (let run = 0; run < RUNS; run++) {
    for (const withSnapshot of run % 2 === 0 ? [true, false] : [false, true]) {
      const got = await page.evaluate(
        async ([name, withSnapshot]) => {
          const { EventStore } = await import("/pkg/browser.js");
          const spec = (snapshot) => ({
            initial: {},
            on: {
              deposited: (s, e) => {
                s[e.stream] = (s[e.stream] ?? 0) + e.data.amount;
              },
            },
            ...(snapshot ? { snapshot: { key: "balances-v1", every: 100_000 } } : {}),
          });
          const t0 = performance.now();
          const store = await EventStore.open(name);
          const opened = performance.now();
          const p = store.project(spec(withSnapshot));
          await p.ready;
          const ready = performance.now();
          const head = store.revision;
          const total = Object.values(p.state).reduce((a, b) => a + b, 0);
          p.close();
          await store.close(); // keeps the snapshot (at the head) for the next open
          return { open: opened - t0, ready: ready - opened, head, total };
        },
        [name, withSnapshot],
      );
      rows.push({ withSnapshot, ...got });
      console.log(`  run ${run + 1} ${withSnapshot ? "with snapshot   " : "without snapshot"}: open ${got.open.toFixed(0)} ms, ready ${got.ready.toFixed(1)} ms after (head ${got.head}, total ${got.total})`);
    }
  }
  const expected = rows[0].total;
  if (rows.some((r) => r.total !== expected)) throw new Error("the projections disagree");
  // The first run with a snapshot may find none yet (the write run kept none): report from the second on.
  const snap = rows.filter((r) => r.withSnapshot).slice(1);
  const none = rows.filter((r) => !r.withSnapshot);
  console.log(`\nheadless Chromium, ${EVENTS.toLocaleString("en-US")} events, median of runs`);
  console.log("| | open | `ready` after the open resolved |\n|---|---:|---:|");
  console.log(`| with a snapshot at the head | ${median(snap.map((r) => r.open)).toFixed(0)} ms | ${median(snap.map((r) => r.ready)).toFixed(1)} ms (goal ≤ 50 ms ${median(snap.map((r) => r.ready)) <= 50 ? "✅" : "❌"}) |`);
  console.log(`| without (folded from revision 1) | ${median(none.map((r) => r.open)).toFixed(0)} ms | ${median(none.map((r) => r.ready)).toFixed(1)} ms |`);
  await context.close();
} finally {
  await browser.close();
  await pages.close();
}
