// Browser benchmarks (not tests): hindcast on IndexedDB in headless Chromium
// against raw IndexedDB (and Dexie for the cold open), side by side in one
// page, medians of repeated runs.
//
//   cd bench && npm install && node browser.mjs [--runs N] [--open-only] [--core] [--pkg PATH]...
//
// --pkg PATH (repeatable): the served path of a build's browser entry, e.g.
// /target/bench-before/browser.js (the server's root is the repository);
// /pkg/browser.js by default. With several, each build gets its own page and
// the builds take turns within every round of the first three workloads, so
// that before and after compare within one run; the one-batch and import
// workloads run for the first build only. --core: the first three only.
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "../tests/js/browser/static.mjs";

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1]) || 5;
const PKGS = args.flatMap((a, i) => (a === "--pkg" ? [args[i + 1]] : []));
if (PKGS.length === 0) PKGS.push("/pkg/browser.js");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString("en-US");

const server = await serve(fileURLToPath(new URL("..", import.meta.url)));
const browser = await chromium.launch(CHROMIUM);
try {
  const builds = [];
  for (const pkg of PKGS) {
    const page = await browser.newPage();
    page.on("pageerror", (e) => console.error("page error:", e));
    await page.goto(`${server.url}/bench/browser/page.html?pkg=${encodeURIComponent(pkg)}`);
    await page.waitForFunction(() => window.benchReady === true);
    builds.push({ pkg, page, rows: [] });
  }
  const label = (b) => (builds.length > 1 ? ` [${b.pkg}]` : "");
  // Each round, every build in turn (the first one alternates), on its page brought to the front.
  const rounds = async (fn) => {
    const out = builds.map(() => []);
    for (let i = -1; i < RUNS; i++) {
      const order = builds.map((_, k) => (i % 2 === 0 ? builds.length - 1 - k : k));
      for (const k of order) {
        await builds[k].page.bringToFront();
        const t = await fn(builds[k], i);
        if (i >= 0) out[k].push(t);
      }
    }
    return out;
  };
  const runs = async (name, n, fn) => {
    const got = await rounds(async (b, i) => {
      const t = await fn(b.page);
      if (i >= 0) console.log(`  ${name}${label(b)} run ${i + 1}: hindcast ${fmt(n / (t.hindcast / 1000))}/s, raw ${fmt(n / (t.raw / 1000))}/s`);
      return t;
    });
    return got.map((ts) => ({ h: median(ts.map((t) => n / (t.hindcast / 1000))), r: median(ts.map((t) => n / (t.raw / 1000))) }));
  };
  const only = args.includes("--open-only");
  const none = builds.map(() => ({ h: NaN, r: NaN }));
  const aw = only ? none : await runs("awaited", 2000, (page) => page.evaluate((n) => window.bench.awaited(n), 2000));
  const cc = only ? none : await runs("concurrent", 10000, (page) => page.evaluate((n) => window.bench.concurrent(n), 10000));
  const N = 100_000;
  for (const b of builds) b.name = await b.page.evaluate((n) => window.bench.fill(n), N);
  const opened = await rounds(async (b, i) => {
    const t = await b.page.evaluate(([name, n]) => window.bench.coldOpen(name, n), [b.name, N]);
    if (i >= 0) console.log(`  cold open${label(b)} run ${i + 1}: hindcast ${fmt(t.hindcast)} ms, raw getAll ${fmt(t.raw)} ms, Dexie ${fmt(t.dexie)} ms`);
    return t;
  });
  builds.forEach((b, k) => {
    b.rows.push(`| 2,000 sequential awaited single-event transacts | ${fmt(aw[k].h)} commits/s | raw IndexedDB, one put per awaited readwrite transaction: ${fmt(aw[k].r)}/s | ${(aw[k].h / aw[k].r).toFixed(2)}× | ≥ 0.8× ${aw[k].h / aw[k].r >= 0.8 ? "✅" : "❌"} |`);
    b.rows.push(`| 10,000 concurrent transacts | ${fmt(cc[k].h)} events/s | raw IndexedDB, the same records in one transaction: ${fmt(cc[k].r)}/s | ${(cc[k].h / cc[k].r).toFixed(2)}× | ≥ 0.6× ${cc[k].h / cc[k].r >= 0.6 ? "✅" : "❌"} |`);
    const o = (key) => median(opened[k].map((t) => t[key]));
    const best = Math.min(o("raw"), o("dexie"));
    b.rows.push(`| cold open of 100,000 events (${opened[k].at(-1).reports} progress reports) | ${fmt(o("hindcast"))} ms | raw getAll in chunks + decoding ${fmt(o("raw"))} ms, Dexie toArray ${fmt(o("dexie"))} ms | ${(o("hindcast") / best).toFixed(2)}× the faster | ≤ 1× ${o("hindcast") <= best ? "✅" : "❌"} |`);
  });
  if (!args.includes("--core")) {
    const [{ page, name, rows }] = builds;
    await page.bringToFront();
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
  }
  console.log(`\nmedian of ${RUNS} runs, headless Chromium ${browser.version()}`);
  for (const b of builds) {
    if (builds.length > 1) console.log(`\n${b.pkg}`);
    console.log("| Workload | hindcast | baseline | ratio | goal |\n|---|---:|---|---:|---|");
    for (const r of b.rows) console.log(r);
  }
} finally {
  await browser.close();
  await server.close();
}
