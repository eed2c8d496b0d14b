#!/usr/bin/env bash
# hindcast/react's tests (react.test.mjs): the built package (pkg/) packed
# and unpacked once, as it ships, then the pages built with Vite for React 19
# and 18 and run in headless Chromium, renderToString in Node, the
# examples/react app, and a strict TypeScript check of the hooks' types, of
# react.js against them and of the READMEs' tsx examples. Needs the server's
# debug build (target/debug/hindcast-server).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$ROOT/pkg" && npm pack --silent --pack-destination "$tmp" >/dev/null)
tar -xzf "$tmp"/hindcast-*.tgz -C "$tmp"
ensure_npm_deps "$ROOT/tests/react"
ensure_chromium
log="$ROOT/target/react-tests.log"
mkdir -p "$ROOT/target"
HINDCAST_PKG="$tmp/package" node --test --test-reporter=spec "$ROOT/tests/react/react.test.mjs" >"$log" 2>&1 || { cat "$log"; exit 1; }
grep -E '^(✔|ℹ (tests|pass|fail|duration))' "$log"
