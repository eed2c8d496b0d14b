// Loads the WebAssembly module once. Each entry point (node.js, browser.js)
// says how; the first store to be made waits for it.

let load = null;
let ready = null;
let exports = null;

/** Registers how to load the module: a function returning its exports. */
export function setLoader(fn) {
  load = fn;
}

/** Resolves once the module is loaded. */
export function loadWasm() {
  ready ??= Promise.resolve()
    .then(() => load())
    .then((e) => {
      exports = e;
    });
  return ready;
}

let f64 = null;
let u8 = null;

/** A Float64Array over the module's memory (a new one after memory grows). */
export function memoryF64() {
  const buffer = exports.memory.buffer;
  if (f64 === null || f64.buffer !== buffer) f64 = new Float64Array(buffer);
  return f64;
}

const decoder = new TextDecoder();

/** The ASCII text at `ptr..ptr + len` of the module's memory. */
export function memoryText(ptr, len) {
  const buffer = exports.memory.buffer;
  if (u8 === null || u8.buffer !== buffer) u8 = new Uint8Array(buffer);
  return decoder.decode(u8.subarray(ptr, ptr + len));
}

/** Bytes of WebAssembly linear memory in use (grows, never shrinks); 0 before loading. */
export function wasmMemoryBytes() {
  return exports ? exports.memory.buffer.byteLength : 0;
}
