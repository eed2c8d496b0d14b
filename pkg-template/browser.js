// Entry point for browsers and bundlers: the module is fetched from next to
// the glue (`new URL(..., import.meta.url)`, which bundlers rewrite) when the
// first store is made.
import init from "./wasm/hindcast.js";
import { setLoader } from "./loader.js";

setLoader(() => init());

export * from "./hindcast.js";
