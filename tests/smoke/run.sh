#!/usr/bin/env bash
# Packaging smoke test: `npm pack` the built package, install the tarball into
# a fresh project, import it as a user does, and run a transact.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$ROOT/pkg" && npm pack --silent --pack-destination "$tmp" >/dev/null)
cd "$tmp"
echo '{ "name": "smoke", "private": true, "type": "module" }' > package.json
npm install --no-audit --no-fund --loglevel=error ./hindcast-*.tgz >/dev/null
cat > smoke.mjs <<'JS'
import { EventStore, ConstraintViolationError } from "hindcast";
const store = await EventStore.memory();
const commit = await store.transact({
  events: [{ stream: "acc-1", type: "account_opened", data: { owner: "Ann" } }],
  expect: { "acc-1": "no_stream" },
});
if (commit.revision !== 1 || commit.streams["acc-1"].version !== 0) throw new Error(`bad commit ${JSON.stringify(commit)}`);
const again = await store
  .transact({ events: [{ stream: "acc-1", type: "x" }], expect: { "acc-1": "no_stream" } })
  .then(() => "written", (e) => e instanceof ConstraintViolationError ? "refused" : e);
if (again !== "refused") throw new Error(`expected a refusal, got ${again}`);
const [e] = store.read();
if (e.data.owner !== "Ann") throw new Error("bad read");
console.log("smoke: installed from the tarball, imported, transacted: ok");
JS
node smoke.mjs
# Only the package's listed files ship.
tar -tzf hindcast-*.tgz | sort | sed 's/^/  /'
