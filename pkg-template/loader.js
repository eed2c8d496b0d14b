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

/** Bytes of WebAssembly linear memory in use (grows, never shrinks); 0 before loading. */
export function wasmMemoryBytes() {
  return exports ? exports.memory.buffer.byteLength : 0;
}
