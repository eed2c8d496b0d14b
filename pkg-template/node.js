// The path the repository's benchmarks import (pkg/node.js); not part of the
// published package, whose entry is index.js (and hindcast.cjs for require).
export * from "./index.js";
