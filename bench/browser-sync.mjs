// Sync in headless Chromium (a benchmark, not a test): a syncing IndexedDB
// store on one origin, the release hindcast-server (embedded storage) on
// another, loopback. Per `transact` → `await commit.confirmed`, online:
// the time (median), the IndexedDB transactions begun and the HTTP
// requests made (fetch calls: pushes, pulls, live streams opened).
//
//   cargo build --release -p hindcast-server
//   HINDCAST_SERVER_BIN=target/release/hindcast-server node bench/browser-sync.mjs [--runs N] [--pkg PATH]...
//
// --pkg PATH (repeatable): the served path of a build's browser entry
// (/pkg/browser.js by default); with several, the builds take turns.
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "../tests/js/browser/static.mjs";
import { startServer, token } from "../tests/js/sync-server.mjs";

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1]) || 5;
const PKGS = args.flatMap((a, i) => (a === "--pkg" ? [args[i + 1]] : []));
if (PKGS.length === 0) PKGS.push("/pkg/browser.js");
const TRIPS = 100;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const pages = await serve(fileURLToPath(new URL("..", import.meta.url)));
const server = await startServer();
const browser = await chromium.launch(CHROMIUM);
try {
  const results = new Map(PKGS.map((p) => [p, { ms: [], tx: [], requests: [] }]));
  for (let run = 0; run < RUNS; run++) {
    for (const pkg of run % 2 === 0 ? PKGS : [...PKGS].reverse()) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${pages.url}/bench/browser/page.html?pkg=${encodeURIComponent(pkg)}`);
      const got = await page.evaluate(
        async ([pkg, url, jwt, trips]) => {
          const { EventStore } = await import(pkg);
          let tx = 0;
          let requests = 0;
          const transaction = IDBDatabase.prototype.transaction;
          IDBDatabase.prototype.transaction = function (...a) {
            tx++;
            return transaction.apply(this, a);
          };
          const realFetch = globalThis.fetch;
          globalThis.fetch = (...a) => {
            requests++;
            return realFetch(...a);
          };
          const store = await EventStore.open(`bench-sync-${Math.random()}`, { sync: { url, token: () => jwt } });
          for (let i = 0; i < 20; i++) await (await store.transact({ events: [{ stream: "s", type: "t" }] })).confirmed;
          const times = [];
          const [tx0, requests0] = [tx, requests];
          for (let i = 0; i < trips; i++) {
            const t = performance.now();
            await (await store.transact({ events: [{ stream: "s", type: "t", data: { i } }] })).confirmed;
            times.push(performance.now() - t);
          }
          const out = { times, tx: (tx - tx0) / trips, requests: (requests - requests0) / trips };
          await store.close();
          return out;
        },
        [pkg, `${server.url}/v1/logs/bench-${run}-${Date.now()}`, token("bench"), TRIPS],
      );
      const r = results.get(pkg);
      r.ms.push(median(got.times));
      r.tx.push(got.tx);
      r.requests.push(got.requests);
      console.log(`  run ${run + 1} ${pkg}: ${median(got.times).toFixed(2)} ms median, ${got.tx.toFixed(2)} IndexedDB transactions, ${got.requests.toFixed(2)} requests per transact`);
      await context.close();
    }
  }
  console.log(`\nheadless Chromium, ${TRIPS} transacts per run, median of ${RUNS} runs' medians`);
  console.log("| build | transact → confirmed | IndexedDB transactions | HTTP requests |\n|---|---:|---:|---:|");
  for (const [pkg, r] of results) {
    console.log(`| ${pkg} | ${median(r.ms).toFixed(2)} ms | ${median(r.tx).toFixed(2)} | ${median(r.requests).toFixed(2)} |`);
  }
} finally {
  await browser.close();
  await pages.close();
  await server.stop();
}
