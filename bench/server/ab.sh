#!/usr/bin/env bash
# A/B of server builds on one throwaway durable PostgreSQL (as run.sh):
#   SERVERS="base=/tmp/a,new=target/release/hindcast-server" ROUNDS=6 bench/server/ab.sh
# Builds nothing; see ab.mjs.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"
source "$ROOT/bench/server/cluster.sh"
durable_cluster 55433
(cd bench/server && npm install --no-audit --no-fund --loglevel=error >/dev/null)
node bench/server/ab.mjs "$@"
