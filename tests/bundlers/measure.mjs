// Measures the two ways the package carries its WebAssembly module, for
// BENCHMARKS.md ("Packaging"): `hindcast` (inlined, base64) and
// `hindcast/slim` (a separate file, fetched and compiled while it streams).
//
//   node measure.mjs [pkg dir, default ../../pkg] [runs, default 15]
//
// Each is bundled by esbuild (ESM) into a page served with gzip from
// 127.0.0.1; headless Chromium loads it in a fresh context (cold: empty
// caches) and then twice more in that context (warm: HTTP cache, and for
// slim the compiled-code cache). Reported: bytes over the wire, time from
// navigation to the first store (`EventStore.memory()` resolved), and the
// time of that call alone; unthrottled and on a 10 Mbit/s, 40 ms link.
// Node: time to the first store in a fresh process, per entry. Medians.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";
import { chromium } from "playwright-core";
import * as esbuild from "esbuild";
import { CHROMIUM, serve } from "./serve.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(process.argv[2] ?? join(HERE, "../../pkg"));
const RUNS = Number(process.argv[3] ?? 15);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

const work = mkdtempSync(join(tmpdir(), "hindcast-measure-"));
const servers = [];
let browser;
try {
  // Sizes of the module itself.
  const wasm = readFileSync(join(pkg, "wasm/hindcast_bg.wasm"));
  const inline = readFileSync(join(pkg, "wasm/inline.js"));
  const debug = readFileSync(join(pkg, "wasm/hindcast_bg.debug.wasm"));
  console.log("| file | raw | gzip -9 | brotli 11 |\n|---|---|---|---|");
  for (const [name, b] of [["hindcast_bg.wasm", wasm], ["inline.js (base64)", inline], ["hindcast_bg.debug.wasm", debug]]) {
    console.log(`| ${name} | ${kb(b.length)} | ${kb(gz(b))} | ${kb(br(b))} |`);
  }

  // One page per entry, bundled by esbuild.
  const project = join(work, "project");
  mkdirSync(join(project, "node_modules"), { recursive: true });
  cpSync(pkg, join(project, "node_modules/hindcast"), { recursive: true, dereference: true });
  const pages = {};
  for (const entry of ["hindcast", "hindcast/slim"]) {
    const name = entry === "hindcast" ? "inline" : "slim";
    const dist = join(project, name);
    mkdirSync(dist);
    writeFileSync(
      join(project, `${name}.js`),
      `import { EventStore } from "${entry}";
const t0 = performance.now();
EventStore.memory().then(() => { globalThis.__result = { ready: performance.now(), call: performance.now() - t0 }; });
`,
    );
    await esbuild.build({ entryPoints: [join(project, `${name}.js`)], bundle: true, format: "esm", outfile: join(dist, "main.js"), logLevel: "error" });
    if (name === "slim") cpSync(join(pkg, "wasm/hindcast_bg.wasm"), join(dist, "wasm/hindcast_bg.wasm"));
    writeFileSync(join(dist, "index.html"), '<!doctype html>\n<meta charset="utf-8" />\n<script type="module" src="./main.js"></script>\n');
    const server = await serve(dist, { gzip: true, cache: true });
    servers.push(server);
    const bundle = readFileSync(join(dist, "main.js"));
    pages[name] = { url: `${server.url}/index.html`, wire: gz(bundle) + (name === "slim" ? gz(wasm) : 0), js: bundle.length };
  }

  browser = await chromium.launch(CHROMIUM);
  const visit = async (page, url) => {
    await page.goto(url);
    await page.waitForFunction(() => globalThis.__result !== undefined);
    return page.evaluate(() => globalThis.__result);
  };
  const LINKS = { local: null, "10 Mbit/s, 40 ms": { offline: false, latency: 40, downloadThroughput: 1.25e6, uploadThroughput: 1.25e6 } };
  console.log("\n| entry | link | over the wire | cold: to first store | cold: memory() | warm: to first store | warm: memory() |\n|---|---|---|---|---|---|---|");
  for (const [link, conditions] of Object.entries(LINKS)) {
    for (const [name, { url, wire }] of Object.entries(pages)) {
      const cold = [];
      const warm = [];
      for (let i = 0; i < RUNS; i++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        if (conditions) {
          const cdp = await context.newCDPSession(page);
          await cdp.send("Network.enable");
          await cdp.send("Network.emulateNetworkConditions", conditions);
        }
        cold.push(await visit(page, url));
        await visit(page, url);
        warm.push(await visit(page, url));
        await context.close();
      }
      const ms = (xs, k) => `${median(xs.map((x) => x[k])).toFixed(1)} ms`;
      console.log(`| ${name} | ${link} | ${kb(wire)} | ${ms(cold, "ready")} | ${ms(cold, "call")} | ${ms(warm, "ready")} | ${ms(warm, "call")} |`);
    }
  }

  // Node: a fresh process per run; time from the process's start to the first store.
  const script = {
    "hindcast (inline)": `import { EventStore } from "hindcast";`,
    "hindcast/slim + initWasm(readFileSync(…))": `import { EventStore, initWasm } from "hindcast/slim"; import { readFileSync } from "node:fs"; import { createRequire } from "node:module";
initWasm(readFileSync(createRequire(import.meta.url).resolve("hindcast/wasm")));`,
    "require (hindcast.cjs)": `const { EventStore } = require("hindcast");`,
  };
  console.log("\n| Node entry | to first store | memory() |\n|---|---|---|");
  for (const [name, head] of Object.entries(script)) {
    const cjs = name.startsWith("require");
    const body = `${head}\nconst t0 = performance.now();\n${cjs ? "(async () => {" : ""}await EventStore.memory(); console.log(JSON.stringify({ ready: performance.now(), call: performance.now() - t0 }));${cjs ? "})();" : ""}`;
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      runs.push(JSON.parse(execFileSync(process.execPath, [`--input-type=${cjs ? "commonjs" : "module"}`, "-e", body], { cwd: project, encoding: "utf8" })));
    }
    console.log(`| ${name} | ${median(runs.map((r) => r.ready)).toFixed(1)} ms | ${median(runs.map((r) => r.call)).toFixed(1)} ms |`);
  }
} finally {
  await browser?.close();
  for (const s of servers) await s.close();
  rmSync(work, { recursive: true, force: true });
}
