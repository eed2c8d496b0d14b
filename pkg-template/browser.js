// The path the repository's own pages and benchmarks import (/pkg/browser.js);
// not part of the published package, whose entry is index.js.
export * from "./index.js";
