// Loads the WebAssembly module on the first call that needs it. Each entry
// point says where the module comes from (`setSource`): the default entry
// (index.js, and hindcast.cjs built from it) carries its bytes inline,
// `hindcast/slim` fetches it from next to itself.
// `initWasm` lets the application say instead (a URL, bytes, a Response, a
// compiled `WebAssembly.Module`).
//
// A load that fails is forgotten, so the next call that needs the module
// tries again: an offline first visit recovers once the network is back,
// without a reload. Failures keep their class (TypeError, CompileError) and
// get a message that names the fix; the original is the `cause`.

import init from "./wasm/hindcast.js";

/**
 * @import { InitOutput } from "./wasm/hindcast.js"
 * @import { WasmSource } from "./index.js"
 */

/**
 * () => what to load: URL | string | Response | Promise<Response> | BufferSource | WebAssembly.Module.
 * @type {(() => WasmSource | Promise<WasmSource>) | null}
 */
let source = null;
/**
 * The one load in flight or done; null when none ran or the last one failed.
 * @type {Promise<void> | null}
 */
let ready = null;
/** @type {InitOutput | null} */
let exports = null;

/**
 * Sets where the module comes from (each entry point, when it is evaluated).
 * @param {() => WasmSource | Promise<WasmSource>} fn
 */
export function setSource(fn) {
  source = fn;
}

/** Resolves once the module is loaded; a failed load is retried by the next call. */
export function loadWasm() {
  if (exports !== null) return Promise.resolve();
  ready ??= load().then(
    (e) => {
      exports = e;
    },
    (error) => {
      ready = null;
      throw error;
    },
  );
  return ready;
}

/**
 * Loads the module from `input` (a URL, bytes, a Response or a promise of
 * one, a compiled WebAssembly.Module) instead of the entry point's default.
 * Call it before the first store is made; once the module is loaded it does
 * nothing.
 * @param {WasmSource} input
 * @returns {Promise<void>}
 */
export function initWasm(input) {
  if (exports !== null) return Promise.resolve();
  if (input === undefined || input === null) {
    return Promise.reject(new TypeError("initWasm(source): give a URL, bytes, a Response or a WebAssembly.Module"));
  }
  source = () => input;
  return ready ?? loadWasm();
}

async function load() {
  if (source === null) throw new Error("hindcast: no WebAssembly module to load; call initWasm(url or bytes) first");
  let input;
  try {
    input = await source();
  } catch (e) {
    throw explain(e, null);
  }
  let url = null;
  if (typeof input === "string" || input instanceof URL) {
    url = String(input);
    // Node's fetch does not read files; its fs does (hindcast/slim in Node).
    const fs = url.startsWith("file:") ? /** @type {any} */ (globalThis).process?.getBuiltinModule?.("node:fs") : undefined;
    try {
      input = fs ? fs.readFileSync(new URL(url)) : await fetch(input);
    } catch (e) {
      throw explain(e, url);
    }
  }
  if (typeof Response === "function" && input instanceof Response) {
    url ??= input.url;
    if (!input.ok) throw notServed(url, `answered ${input.status}`);
    const type = input.headers.get("content-type") ?? "";
    if (type.startsWith("text/html")) throw notServed(url, "answered an HTML page");
  }
  try {
    return await init({ module_or_path: input });
  } catch (e) {
    throw explain(e, url);
  }
}

const SETUP = "see the Setup section of hindcast's README";

/**
 * The module's URL was not served: the bundler did not emit the file, or moved the code away from it.
 * @param {string} url
 * @param {string} what
 */
function notServed(url, what) {
  return new Error(
    `hindcast: fetching its WebAssembly module from ${url} ${what}, not the module. ` +
      `The bundler did not emit the file next to the code: import "hindcast" (the module inlined) instead of "hindcast/slim", ` +
      `or call initWasm() with the URL of "hindcast/wasm"; under Vite's dev server, set optimizeDeps: { exclude: ["hindcast"] }; ${SETUP}`,
  );
}

/**
 * `WebAssembly.CompileError`, which takes `{ cause }` as every Error does
 * (the DOM's types leave the options out).
 * @typedef {new (message: string, options?: ErrorOptions) => WebAssembly.CompileError} CompileErrorWithCause
 */

/**
 * @param {any} e what was thrown
 * @param {string | null} url
 */
function explain(e, url) {
  const text = String(e?.message ?? e);
  if (typeof WebAssembly !== "undefined" && e instanceof WebAssembly.CompileError && /Content.Security.Policy|\bCSP\b|unsafe-eval|wasm-eval/i.test(text)) {
    return new (/** @type {CompileErrorWithCause} */ (WebAssembly.CompileError))(
      `hindcast: the page's Content Security Policy forbids compiling WebAssembly. ` +
        `Allow it with 'wasm-unsafe-eval' in script-src (e.g. script-src 'self' 'wasm-unsafe-eval'); 'unsafe-eval' is not needed. ` +
        `The browser said: ${text}`,
      { cause: e },
    );
  }
  if (e instanceof WebAssembly.CompileError && /magic word|expected magic/i.test(text)) {
    return new (/** @type {CompileErrorWithCause} */ (WebAssembly.CompileError))(
      `hindcast: ${url ?? "the input"} is not its WebAssembly module (an HTML page?). ` +
        `Under Vite's dev server, set optimizeDeps: { exclude: ["hindcast"] }; or import "hindcast" (the module inlined); ${SETUP}. ` +
        `The browser said: ${text}`,
      { cause: e },
    );
  }
  if (e instanceof TypeError && /Invalid URL|import\.meta/i.test(text)) {
    return new TypeError(
      `hindcast: this bundle cannot locate the WebAssembly module (it has no import.meta.url): ` +
        `import "hindcast" (the module inlined), or call initWasm() with the module's URL or bytes; ${SETUP}`,
      { cause: e },
    );
  }
  if (url !== null && e instanceof TypeError) {
    return new TypeError(
      `hindcast: could not fetch its WebAssembly module from ${url} (${text}); the next call that needs it tries again. ` +
        `To work offline, precache that file in a service worker; ${SETUP}`,
      { cause: e },
    );
  }
  return e;
}

/** @type {Float64Array | null} */
let f64 = null;
/** @type {Uint8Array | null} */
let u8 = null;

/** A Float64Array over the module's memory (a new one after memory grows). */
export function memoryF64() {
  const buffer = /** @type {InitOutput} loaded: a store exists */ (exports).memory.buffer;
  if (f64 === null || f64.buffer !== buffer) f64 = new Float64Array(buffer);
  return f64;
}

const decoder = new TextDecoder();

/**
 * The ASCII text at `ptr..ptr + len` of the module's memory.
 * @param {number} ptr
 * @param {number} len
 */
export function memoryText(ptr, len) {
  const buffer = /** @type {InitOutput} loaded: a store exists */ (exports).memory.buffer;
  if (u8 === null || u8.buffer !== buffer) u8 = new Uint8Array(buffer);
  return decoder.decode(u8.subarray(ptr, ptr + len));
}

/** Bytes of WebAssembly linear memory in use (grows, never shrinks); 0 before loading. */
export function wasmMemoryBytes() {
  return exports ? exports.memory.buffer.byteLength : 0;
}
