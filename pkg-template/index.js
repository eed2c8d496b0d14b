// The package's entry point everywhere (browsers, bundlers, workers, Node):
// the WebAssembly module is inlined (base64, in wasm/inline.js), so there is
// no file for a bundler to emit or a server to serve, and nothing to set up.
// Its bytes are decoded and compiled when the first store is made.
// `hindcast/slim` is the same API fetching the module as a separate file.
import { setSource } from "./loader.js";
import { wasmBytes } from "./wasm/inline.js";

setSource(wasmBytes);

export * from "./hindcast.js";
export { initWasm } from "./loader.js";
