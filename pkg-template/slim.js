// `hindcast/slim`: the package without the module inlined. The module is
// fetched from next to this file (`new URL(..., import.meta.url)`, which
// Vite and webpack rewrite to the emitted file) when the first store is
// made, or from wherever `initWasm(url | bytes | Response | Module)` says.
// A quarter smaller to download than the default entry, compiled while it
// downloads, cacheable and precacheable as its own file; see README, Setup.
import { setSource } from "./loader.js";

setSource(() => new URL("./wasm/hindcast_bg.wasm", import.meta.url));

export * from "./hindcast.js";
export { initWasm } from "./loader.js";
