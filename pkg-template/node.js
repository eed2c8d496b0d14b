// Entry point for Node: the module's bytes are read from next to this file
// and compiled synchronously, so the first store needs no fetch.
import { readFileSync } from "node:fs";
import { initSync } from "./wasm/hindcast.js";
import { setLoader } from "./loader.js";

setLoader(() => initSync({ module: readFileSync(new URL("./wasm/hindcast_bg.wasm", import.meta.url)) }));

export * from "./hindcast.js";
