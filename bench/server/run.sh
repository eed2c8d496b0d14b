#!/usr/bin/env bash
# Server benchmarks: hindcast-server (release build) against Emmett's
# PostgreSQL event store and raw `pg` appends, all on one throwaway
# PostgreSQL cluster with durable settings (fsync=on, synchronous_commit=on),
# on loopback TCP. The cluster is stopped by the trap whatever happens.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

PG="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$PG" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PG="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
fi
D="$(mktemp -d)"
chown postgres "$D"
stop() {
  runuser -u postgres -- "$PG/pg_ctl" -D "$D/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap stop EXIT
runuser -u postgres -- "$PG/initdb" -D "$D/data" -A trust -U hindcast >/dev/null
runuser -u postgres -- "$PG/pg_ctl" -D "$D/data" -l "$D/log" -w \
  -o "-k $D -c listen_addresses=127.0.0.1 -p 55432 -c fsync=on -c synchronous_commit=on -c max_connections=200 -c shared_buffers=256MB" start >/dev/null

cargo build --quiet --release -p hindcast-server
(cd bench/server && npm install --no-audit --no-fund --loglevel=error >/dev/null)
PGURL="postgres://hindcast@127.0.0.1:55432/postgres" SERVER="$ROOT/target/release/hindcast-server" \
  node bench/server/run.mjs "$@"
