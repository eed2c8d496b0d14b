// Packaging smoke tests: the packed tarball (the only argument) is installed
// into a fresh project, as a user installs it; each bundler pinned in
// package.json builds (or serves) the pages in app/, which headless Chromium
// loads: a memory store and an IndexedDB store (EventStore.open) must work.
// Also Node (ESM, CommonJS, an esbuild bundle for Node) and a strict
// TypeScript compile of the READMEs' examples (the package's, and the project's
// tour) under three module settings.
//
// Every server and the browser are started here and stopped in `after`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import * as vite8 from "vite";
import * as vite6 from "vite6";
import * as vite7 from "vite7";
import webpack from "webpack";
import * as esbuild from "esbuild";
import { rollup } from "rollup";
import { nodeResolve } from "@rollup/plugin-node-resolve";
import { CHROMIUM, serve } from "./serve.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const tarball = process.argv[2];
if (!tarball) throw new Error("usage: node run.mjs <hindcast-x.y.z.tgz>");

/** What check() in app/check.js returns when the package works. */
const EXPECTED = {
  memory: [[1, "account_opened", { owner: "Ann" }]],
  refused: "CONSTRAINT_VIOLATION",
  reopened: [[1, "money_deposited", { amount: 100 }]],
};
/** The error hindcast/slim gives when its module's URL answers something else. */
const notServed = (url, what) =>
  `Error: hindcast: fetching its WebAssembly module from ${url} ${what}, not the module. ` +
  'The bundler did not emit the file next to the code: import "hindcast" (the module inlined) instead of "hindcast/slim", ' +
  'or call initWasm() with the URL of "hindcast/wasm"; under Vite\'s dev server, set optimizeDeps: { exclude: ["hindcast"] }; ' +
  "see the Setup section of hindcast's README";
/** What the Node checks print: the memory part of check(). */
const EXPECTED_NODE = `${JSON.stringify({ memory: EXPECTED.memory, refused: EXPECTED.refused })}\n`;

let work;
let project;
let browser;
const closers = [];

before(async () => {
  work = mkdtempSync(join(tmpdir(), "hindcast-bundlers-"));
  project = join(work, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball], { cwd: project, stdio: "inherit" });
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh folder in the project holding app/'s files; `slim` imports hindcast/slim instead. */
function appDir(name, { slim = false } = {}) {
  const dir = join(project, name);
  cpSync(join(HERE, "app"), dir, { recursive: true });
  if (slim) {
    const file = join(dir, "check.js");
    writeFileSync(file, readFileSync(file, "utf8").replace('from "hindcast"', 'from "hindcast/slim"'));
  }
  return dir;
}

/** Files under `dir`, relative, sorted. */
function files(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

async function served(root, options) {
  const server = await serve(root, options);
  closers.push(server.close);
  return server.url;
}

/**
 * Loads `url` in a fresh browser context (its own IndexedDB); resolves to
 * the page's result and the wasm URLs it requested. `route` may intercept.
 */
async function load(url, { route } = {}) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const wasm = [];
    const errors = [];
    page.on("request", (r) => r.url().endsWith(".wasm") && wasm.push(r.url()));
    page.on("pageerror", (e) => errors.push(e.message));
    if (route) await page.route("**/*.wasm", route);
    await page.goto(url);
    await page.waitForFunction(() => globalThis.__result !== undefined, null, { timeout: 30_000 });
    const result = await page.evaluate(() => globalThis.__result);
    assert.deepEqual(errors, []);
    return { result, wasm };
  } finally {
    await context.close();
  }
}

async function viteDev(vite, dir, config = {}) {
  const server = await vite.createServer({
    root: dir,
    configFile: false,
    logLevel: "error",
    server: { host: "127.0.0.1", port: 0 },
    ...config,
  });
  closers.push(() => server.close());
  await server.listen();
  return server.resolvedUrls.local[0];
}

async function viteBuild(dir, input = { main: join(dir, "index.html") }, vite = vite8) {
  await vite.build({
    root: dir,
    configFile: false,
    logLevel: "error",
    build: { outDir: join(dir, "dist"), emptyOutDir: true, rollupOptions: { input } },
  });
  return join(dir, "dist");
}

/** A page loading dist/main.js as a module or a classic script. */
function page(dist, type) {
  writeFileSync(join(dist, "index.html"), `<!doctype html>\n<meta charset="utf-8" />\n<script ${type === "module" ? 'type="module" ' : ""}src="./main.js"></script>\n`);
}

test("the tarball: the entries, both wasm builds, types for import and require, licenses, the size budget", () => {
  const listed = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
  for (const file of ["index.js", "slim.js", "hindcast.cjs", "index.d.ts", "index.d.cts", "slim.d.ts", "react.js", "react.d.ts", "wasm/inline.js", "wasm/hindcast_bg.wasm", "wasm/hindcast_bg.debug.wasm", "LICENSE-MIT", "LICENSE-APACHE", "README.md"]) {
    assert.ok(listed.includes(`package/${file}`), `${file} ships`);
  }
  const manifest = JSON.parse(readFileSync(join(project, "node_modules/hindcast/package.json"), "utf8"));
  assert.equal(manifest.license, "MIT OR Apache-2.0");
  assert.equal(typeof manifest.repository.url, "string");
  assert.deepEqual(Object.keys(manifest.exports), [".", "./slim", "./react", "./wasm", "./wasm-debug", "./package.json"]);
  // The size budget: the default module at most 150 KB gzipped, without its name section.
  const wasm = readFileSync(join(project, "node_modules/hindcast/wasm/hindcast_bg.wasm"));
  assert.ok(gzipSync(wasm, { level: 9 }).length <= 150_000, "hindcast_bg.wasm ≤ 150 KB gzip");
  assert.equal(WebAssembly.Module.customSections(new WebAssembly.Module(wasm), "name").length, 0);
});

test("Vite 8 dev server", async () => {
  const url = await viteDev(vite8, appDir("vite8-dev"));
  const { result, wasm } = await load(url);
  assert.deepEqual(result, EXPECTED);
  assert.deepEqual(wasm, []);
});

test("Vite 8 build: a page and a module worker; no wasm file is emitted", async () => {
  const dir = appDir("vite8-build");
  const dist = await viteBuild(dir, { main: join(dir, "index.html"), worker: join(dir, "worker.html") });
  assert.deepEqual(files(dist).filter((f) => f.endsWith(".wasm")), []);
  const url = await served(dist);
  assert.deepEqual((await load(`${url}/index.html`)).result, EXPECTED);
  assert.deepEqual((await load(`${url}/worker.html`)).result, EXPECTED);
});

test("Vite 6 dev server (dependency pre-bundling) and build", async () => {
  const url = await viteDev(vite6, appDir("vite6-dev"));
  assert.deepEqual((await load(url)).result, EXPECTED);
  const dist = await viteBuild(appDir("vite6-build"), undefined, vite6);
  assert.deepEqual(files(dist).filter((f) => f.endsWith(".wasm")), []);
  assert.deepEqual((await load(`${await served(dist)}/index.html`)).result, EXPECTED);
});

test("Vite 7 dev server (dependency pre-bundling)", async () => {
  const url = await viteDev(vite7, appDir("vite7-dev"));
  assert.deepEqual((await load(url)).result, EXPECTED);
});

test("webpack 5, production mode", async () => {
  const dir = appDir("webpack");
  const dist = join(dir, "dist");
  const stats = await new Promise((resolve, reject) =>
    webpack({
      mode: "production",
      context: dir,
      entry: "./main.js",
      output: { path: dist, filename: "main.js" },
      performance: { hints: false },
    }).run((err, stats) => (err ? reject(err) : resolve(stats))),
  );
  assert.deepEqual(stats.toJson({ all: false, errors: true, warnings: true }).errors, []);
  assert.deepEqual(files(dist), ["main.js"]);
  page(dist, "classic");
  assert.deepEqual((await load(`${await served(dist)}/index.html`)).result, EXPECTED);
});

async function esbuildBrowser(name, format) {
  const dir = appDir(name);
  const dist = join(dir, "dist");
  const out = await esbuild.build({
    entryPoints: [join(dir, "main.js")],
    bundle: true,
    ...(format && { format }),
    outfile: join(dist, "main.js"),
    logLevel: "silent",
  });
  assert.deepEqual(out.warnings, []);
  assert.deepEqual(files(dist), ["main.js"]);
  page(dist, format === "esm" ? "module" : "classic");
  return dist;
}

test("esbuild, --format=esm", async () => {
  const dist = await esbuildBrowser("esbuild-esm", "esm");
  assert.deepEqual((await load(`${await served(dist)}/index.html`)).result, EXPECTED);
});

test("esbuild, default format (IIFE), under a CSP with 'wasm-unsafe-eval'", async () => {
  const dist = await esbuildBrowser("esbuild-iife");
  const url = await served(dist, { headers: { "content-security-policy": "script-src 'self' 'wasm-unsafe-eval'" } });
  assert.deepEqual((await load(`${url}/index.html`)).result, EXPECTED);
});

test("a CSP without 'wasm-unsafe-eval': the CompileError names it", async () => {
  const dist = await esbuildBrowser("csp");
  const url = await served(dist, { headers: { "content-security-policy": "script-src 'self'" } });
  const { result } = await load(`${url}/index.html`);
  const [said, browserText] = result.error.split(" The browser said: ");
  assert.equal(
    said,
    "CompileError: hindcast: the page's Content Security Policy forbids compiling WebAssembly. " +
      "Allow it with 'wasm-unsafe-eval' in script-src (e.g. script-src 'self' 'wasm-unsafe-eval'); 'unsafe-eval' is not needed.",
  );
  assert.match(browserText, /Content Security Policy/);
});

test("Rollup with node-resolve", async () => {
  const dir = appDir("rollup");
  const dist = join(dir, "dist");
  const warnings = [];
  const bundle = await rollup({ input: join(dir, "main.js"), plugins: [nodeResolve({ browser: true })], onwarn: (w) => warnings.push(w.message) });
  await bundle.write({ file: join(dist, "main.js"), format: "es" });
  await bundle.close();
  assert.deepEqual(warnings, []);
  assert.deepEqual(files(dist), ["main.js"]);
  page(dist, "module");
  assert.deepEqual((await load(`${await served(dist)}/index.html`)).result, EXPECTED);
});

test("hindcast/slim, Vite 8 build: the wasm is emitted as an asset and fetched", async () => {
  const dist = await viteBuild(appDir("slim-vite8", { slim: true }));
  const emitted = files(dist).filter((f) => f.endsWith(".wasm"));
  assert.equal(emitted.length, 1);
  const url = await served(dist);
  const { result, wasm } = await load(`${url}/index.html`);
  assert.deepEqual(result, EXPECTED);
  assert.deepEqual(wasm, [`${url}/${emitted[0]}`]);
});

test("hindcast/slim, Vite 8 build: initWasm with the URL of hindcast/wasm-debug (the name section)", async () => {
  const dir = appDir("slim-debug", { slim: true });
  writeFileSync(
    join(dir, "main.js"),
    `import { initWasm } from "hindcast/slim";
import debugWasm from "hindcast/wasm-debug?url";
import { check, report } from "./check.js";
report(async () => {
  await initWasm(debugWasm);
  return check();
});
`,
  );
  const dist = await viteBuild(dir);
  // Both files are emitted (slim.js names the default one); only the debug one is fetched.
  const emitted = files(dist).filter((f) => f.endsWith(".wasm"));
  assert.equal(emitted.length, 2);
  assert.match(emitted[0], /^assets\/hindcast_bg-[\w-]+\.wasm$/);
  assert.match(emitted[1], /^assets\/hindcast_bg\.debug-[\w-]+\.wasm$/);
  const names = (file) => WebAssembly.Module.customSections(new WebAssembly.Module(readFileSync(join(dist, file))), "name").length;
  assert.deepEqual(emitted.map(names), [0, 1]);
  const url = await served(dist);
  const { result, wasm } = await load(`${url}/index.html`);
  assert.deepEqual(result, EXPECTED);
  assert.deepEqual(wasm, [`${url}/${emitted[1]}`]);
});

test("hindcast/slim, Vite 6 dev server: the error names optimizeDeps.exclude, which fixes it", async () => {
  const url = await viteDev(vite6, appDir("slim-vite6-dev", { slim: true }));
  const { result } = await load(url);
  assert.deepEqual(result, { error: notServed(`${url}@fs${project}/node_modules/.vite/deps/wasm/hindcast_bg.wasm`, "answered an HTML page") });
  const fixed = await viteDev(vite6, appDir("slim-vite6-dev-excluded", { slim: true }), { optimizeDeps: { exclude: ["hindcast"] } });
  assert.deepEqual((await load(fixed)).result, EXPECTED);
});

test("hindcast/slim, esbuild: the 404 names the fix; initWasm with the copied file works", async () => {
  const dir = appDir("slim-esbuild", { slim: true });
  writeFileSync(
    join(dir, "main.js"),
    `import { initWasm } from "hindcast/slim";
import { check, report } from "./check.js";
report(async () => {
  const first = await check().catch((e) => e.constructor.name + ": " + e.message);
  await initWasm(new URL("/hindcast_bg.wasm", location.href));
  return { first, ...(await check()) };
});
`,
  );
  const dist = join(dir, "dist");
  await esbuild.build({ entryPoints: [join(dir, "main.js")], bundle: true, format: "esm", outfile: join(dist, "main.js"), logLevel: "error" });
  page(dist, "module");
  cpSync(join(project, "node_modules/hindcast/wasm/hindcast_bg.wasm"), join(dist, "hindcast_bg.wasm"));
  const url = await served(dist);
  const { result, wasm } = await load(`${url}/index.html`);
  assert.deepEqual(wasm, [`${url}/wasm/hindcast_bg.wasm`, `${url}/hindcast_bg.wasm`]);
  assert.deepEqual(result, { first: notServed(`${url}/wasm/hindcast_bg.wasm`, "answered 404"), ...EXPECTED });
});

test("hindcast/slim without a bundler: a first wasm request that fails is retried by the next call", async () => {
  const dir = appDir("retry", { slim: true });
  writeFileSync(
    join(dir, "index.html"),
    `<!doctype html>
<meta charset="utf-8" />
<script type="importmap">{ "imports": { "hindcast/slim": "/node_modules/hindcast/slim.js" } }</script>
<script type="module">
  import { EventStore } from "hindcast/slim";
  import { check, report } from "./check.js";
  report(async () => {
    const first = await EventStore.memory().then(() => "loaded", (e) => e.constructor.name + ": " + e.message);
    return { first, ...(await check()) };
  });
</script>
`,
  );
  const url = await served(project);
  let failed = 0;
  const { result, wasm } = await load(`${url}/retry/index.html`, {
    route: (route) => (failed++ === 0 ? route.abort("internetdisconnected") : route.continue()),
  });
  const wasmUrl = `${url}/node_modules/hindcast/wasm/hindcast_bg.wasm`;
  assert.deepEqual(result, {
    first:
      `TypeError: hindcast: could not fetch its WebAssembly module from ${wasmUrl} (Failed to fetch); the next call that needs it tries again. ` +
      "To work offline, precache that file in a service worker; see the Setup section of hindcast's README",
    ...EXPECTED,
  });
  assert.deepEqual(wasm, [wasmUrl, wasmUrl]);
});

const NODE_CHECK = `
const memory = await EventStore.memory();
await memory.transact({ events: [{ stream: "acc-1", type: "account_opened", data: { owner: "Ann" } }], expect: { "acc-1": "no_stream" } });
const refused = await memory.transact({ events: [{ stream: "acc-1", type: "x" }], expect: { "acc-1": "no_stream" } }).then(() => "written", (e) => e.code);
process.stdout.write(JSON.stringify({ memory: memory.read().map((e) => [e.revision, e.type, e.data]), refused }) + "\\n");
`;

function node(args, cwd = project) {
  return execFileSync(process.execPath, args, { cwd, encoding: "utf8" });
}

test("Node, ESM import", () => {
  assert.equal(node(["--input-type=module", "-e", `import { EventStore } from "hindcast";\n${NODE_CHECK}`]), EXPECTED_NODE);
});

test("Node, hindcast/slim: the module is read from next to it", () => {
  assert.equal(node(["--input-type=module", "-e", `import { EventStore } from "hindcast/slim";\n${NODE_CHECK}`]), EXPECTED_NODE);
});

test("Node, CommonJS require (without require(esm))", () => {
  const source = `const { EventStore } = require("hindcast");\n(async () => {${NODE_CHECK}})();`;
  assert.equal(node(["--no-experimental-require-module", "--input-type=commonjs", "-e", source]), EXPECTED_NODE);
});

test("esbuild --platform=node bundle, run from elsewhere", async () => {
  const dir = join(project, "esbuild-node");
  mkdirSync(dir);
  writeFileSync(join(dir, "main.js"), `import { EventStore } from "hindcast";\n(async () => {${NODE_CHECK}})();`);
  const outfile = join(work, "elsewhere", "app.cjs");
  await esbuild.build({ entryPoints: [join(dir, "main.js")], bundle: true, platform: "node", outfile, logLevel: "error" });
  assert.deepEqual(files(dirname(outfile)), ["app.cjs"]);
  assert.equal(node([outfile], work), EXPECTED_NODE);
});

test("TypeScript --strict: the READMEs' examples and what a typed store refuses (bundler, nodenext), a CommonJS consumer (node16)", () => {
  const tsBlocks = (text) => [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const packageExamples = tsBlocks(readFileSync(join(project, "node_modules/hindcast/README.md"), "utf8"));
  assert.ok(packageExamples.length >= 3, `the package README has ${packageExamples.length} ts examples`);
  // The project README's tour too: what a newcomer copies first.
  const tourExamples = tsBlocks(readFileSync(join(HERE, "../../README.md"), "utf8"));
  assert.ok(tourExamples.length >= 6, `README.md has ${tourExamples.length} ts examples`);
  const examples = [...packageExamples, ...tourExamples];
  const tsc = join(HERE, "node_modules/typescript/bin/tsc");
  const compile = (name, type, compilerOptions, sources) => {
    const dir = join(project, `ts-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, type }));
    const options = { strict: true, noEmit: true, target: "es2022", lib: ["es2022", "dom", "dom.iterable"], types: [], ...compilerOptions };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: options, include: ["*.ts"] }));
    sources.forEach((source, i) => writeFileSync(join(dir, `example${i + 1}.ts`), `${source}\nexport {};\n`));
    execFileSync(process.execPath, [tsc, "-p", dir], { cwd: dir, stdio: "inherit" });
  };
  // What a typed store refuses (each line marked must fail to compile).
  const typed = `import { EventStore, type Recorded } from "hindcast";
type BankEvent = { type: "opened"; data: { owner: string } } | { type: "deposited"; data: { amount: number } } | { type: "closed" };
const store = await EventStore.memory<BankEvent>();
// @ts-expect-error: data of another type
await store.transact({ events: [{ stream: "a", type: "deposited", data: { owner: "Ann" } }] });
// @ts-expect-error: a type not in the union
await store.transact({ events: [{ stream: "a", type: "renamed" }] });
// @ts-expect-error: "closed" has no data
await store.transact({ events: [{ stream: "a", type: "closed", data: 1 }] });
store.project({ initial: 0, on: { deposited: (n, e) => n + e.data.amount, opened: (n, e) => n + e.data.owner.length } });
// @ts-expect-error: no fold for a type not in the union
store.project({ initial: 0, on: { renamed: (n: number) => n } });
store.subscribe({ closed: (e) => { const nothing: null = e.data; return void nothing; } });
const [e]: Recorded<BankEvent>[] = store.read();
if (e?.type === "deposited") e.data.amount satisfies number;
// @ts-expect-error: data is narrowed by type
if (e?.type === "opened") e.data.amount;
`;
  compile("bundler", "module", { module: "esnext", moduleResolution: "bundler" }, [...examples, typed]);
  compile("nodenext", "module", { module: "nodenext", moduleResolution: "nodenext" }, examples);
  // A Node project: @types/node, no DOM types.
  const node = { lib: ["es2022"], types: ["node"], typeRoots: [join(HERE, "node_modules/@types")] };
  compile("node16-cjs", "commonjs", { module: "node16", moduleResolution: "node16", ...node }, [
    `import { readFileSync } from "node:fs";
import { EventStore, initWasm, type RecordedEvent } from "hindcast";
export async function main(): Promise<number> {
  await initWasm(readFileSync(require.resolve("hindcast/wasm")));
  const store = await EventStore.memory();
  const events: RecordedEvent[] = store.read();
  return events.length + store.revision;
}`,
  ]);
});
