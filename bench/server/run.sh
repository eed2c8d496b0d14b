#!/usr/bin/env bash
# Server benchmarks: hindcast-server (release build) against Emmett's
# PostgreSQL event store and raw `pg` appends, all on one throwaway
# PostgreSQL cluster with durable settings (fsync=on, synchronous_commit=on),
# on loopback TCP. The cluster is stopped by the trap whatever happens.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

source "$ROOT/bench/server/cluster.sh"
durable_cluster 55432

cargo build --quiet --release -p hindcast-server
(cd bench/server && npm install --no-audit --no-fund --loglevel=error >/dev/null)
SERVER="$ROOT/target/release/hindcast-server" \
  node bench/server/run.mjs "$@"
