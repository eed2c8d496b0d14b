#!/usr/bin/env bash
# Packaging smoke tests: `npm pack` the built package (pkg/), then
# tests/bundlers/run.mjs installs the tarball into a fresh project as a user
# does and checks it in Node (ESM, CommonJS, an esbuild bundle for Node),
# under strict TypeScript (the README's examples), and in headless Chromium
# as each pinned bundler builds or serves it (Vite 6/7/8, webpack 5,
# esbuild, Rollup; a module worker, CSP pages, a first wasm request that
# fails). The bundlers are installed once from tests/bundlers' lock.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$ROOT/pkg" && npm pack --silent --pack-destination "$tmp" >/dev/null)
ensure_npm_deps "$ROOT/tests/bundlers"
ensure_chromium
log="$ROOT/target/bundlers-tests.log"
mkdir -p "$ROOT/target"
node --test-reporter=spec "$ROOT/tests/bundlers/run.mjs" "$tmp"/hindcast-*.tgz >"$log" 2>&1 || { cat "$log"; exit 1; }
grep -E '^(✔|ℹ (tests|pass|fail|duration))' "$log"
