// Browser benchmarks (not tests): hindcast on IndexedDB in headless Chromium
// against raw IndexedDB (and Dexie for the cold open), side by side in one
// page, medians of repeated runs.
//
//   cd bench && npm install && node browser.mjs [--runs N] [--open-only]
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "../tests/js/browser/static.mjs";

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1]) || 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString("en-US");

const server = await serve(fileURLToPath(new URL("..", import.meta.url)));
const browser = await chromium.launch(CHROMIUM);
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(`${server.url}/bench/browser/page.html`);
  await page.waitForFunction(() => window.benchReady === true);
  const rows = [];
  const runs = async (label, n, fn) => {
    const h = [];
    const r = [];
    for (let i = -1; i < RUNS; i++) {
      const t = await fn();
      if (i < 0) continue;
      h.push(n / (t.hindcast / 1000));
      r.push(n / (t.raw / 1000));
      console.log(`  ${label} run ${i + 1}: hindcast ${fmt(h.at(-1))}/s, raw ${fmt(r.at(-1))}/s`);
    }
    return { h: median(h), r: median(r) };
  };
  const only = args.includes("--open-only");
  const aw = only ? { h: NaN, r: NaN } : await runs("awaited", 2000, () => page.evaluate((n) => window.bench.awaited(n), 2000));
  rows.push(`| 2,000 sequential awaited single-event transacts | ${fmt(aw.h)} commits/s | raw IndexedDB, one put per awaited readwrite transaction: ${fmt(aw.r)}/s | ${(aw.h / aw.r).toFixed(2)}× | ≥ 0.8× ${aw.h / aw.r >= 0.8 ? "✅" : "❌"} |`);
  const cc = only ? { h: NaN, r: NaN } : await runs("concurrent", 10000, () => page.evaluate((n) => window.bench.concurrent(n), 10000));
  rows.push(`| 10,000 concurrent transacts | ${fmt(cc.h)} events/s | raw IndexedDB, the same records in one transaction: ${fmt(cc.r)}/s | ${(cc.h / cc.r).toFixed(2)}× | ≥ 0.6× ${cc.h / cc.r >= 0.6 ? "✅" : "❌"} |`);
  const N = 100_000;
  const name = await page.evaluate((n) => window.bench.fill(n), N);
  const opens = { hindcast: [], raw: [], dexie: [], reports: 0 };
  for (let i = -1; i < RUNS; i++) {
    const t = await page.evaluate(([name, n]) => window.bench.coldOpen(name, n), [name, N]);
    if (i < 0) continue;
    for (const k of ["hindcast", "raw", "dexie"]) opens[k].push(t[k]);
    opens.reports = t.reports;
    console.log(`  cold open run ${i + 1}: hindcast ${fmt(t.hindcast)} ms, raw getAll ${fmt(t.raw)} ms, Dexie ${fmt(t.dexie)} ms`);
  }
  const best = Math.min(median(opens.raw), median(opens.dexie));
  rows.push(`| cold open of 100,000 events (${opens.reports} progress reports) | ${fmt(median(opens.hindcast))} ms | raw getAll in chunks + decoding ${fmt(median(opens.raw))} ms, Dexie toArray ${fmt(median(opens.dexie))} ms | ${(median(opens.hindcast) / best).toFixed(2)}× the faster | ≤ 1× ${median(opens.hindcast) <= best ? "✅" : "❌"} |`);
  const big = { oneWrite: [], oneOpen: [], hundredsWrite: [], hundredsOpen: [] };
  const imports = { imported: [], open: [] };
  for (let i = -1; i < RUNS; i++) {
    const b = await page.evaluate((n) => window.bench.bigBatch(n), N);
    const t = await page.evaluate(([name, n]) => window.bench.importVsOpen(name, n), [name, N]);
    if (i < 0) continue;
    for (const k of Object.keys(big)) big[k].push(b[k]);
    for (const k of Object.keys(imports)) imports[k].push(t[k]);
    console.log(`  one batch run ${i + 1}: write ${fmt(b.oneWrite)} ms, reopen ${fmt(b.oneOpen)} ms; 100-event batches: write ${fmt(b.hundredsWrite)} ms, reopen ${fmt(b.hundredsOpen)} ms; import ${fmt(t.imported)} ms, open ${fmt(t.open)} ms`);
  }
  const ratio = (a, b) => median(a) / median(b);
  const one = median(big.oneWrite) + median(big.oneOpen);
  const hundreds = median(big.hundredsWrite) + median(big.hundredsOpen);
  rows.push(`| one 100,000-event batch: write + reopen | ${fmt(median(big.oneWrite))} + ${fmt(median(big.oneOpen))} ms | the same events in 100-event batches: ${fmt(median(big.hundredsWrite))} + ${fmt(median(big.hundredsOpen))} ms | ${(one / hundreds).toFixed(2)}× | ≤ 2× ${one <= 2 * hundreds ? "✅" : "❌"} |`);
  const imp = ratio(imports.imported, imports.open);
  rows.push(`| import of 100,000 events (NDJSON) into IndexedDB | ${fmt(median(imports.imported))} ms | cold open of the same events: ${fmt(median(imports.open))} ms | ${imp.toFixed(2)}× | ≤ 2× ${imp <= 2 ? "✅" : "❌"} |`);
  console.log(`\nmedian of ${RUNS} runs, headless Chromium ${browser.version()}`);
  console.log("| Workload | hindcast | baseline | ratio | goal |\n|---|---:|---|---:|---|");
  for (const r of rows) console.log(r);
} finally {
  await browser.close();
  await server.close();
}
