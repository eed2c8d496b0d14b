#!/usr/bin/env bash
# A/B of server builds on one throwaway durable PostgreSQL (as run.sh):
#   SERVERS="base=/tmp/a,new=target/release/hindcast-server" ROUNDS=6 bench/server/ab.sh
# Builds nothing; see ab.mjs.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"
PG="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
D="$(mktemp -d)"
chown postgres "$D"
stop() {
  runuser -u postgres -- "$PG/pg_ctl" -D "$D/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap stop EXIT
runuser -u postgres -- "$PG/initdb" -D "$D/data" -A trust -U hindcast >/dev/null
runuser -u postgres -- "$PG/pg_ctl" -D "$D/data" -l "$D/log" -w \
  -o "-k $D -c listen_addresses=127.0.0.1 -p 55433 -c fsync=on -c synchronous_commit=on -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
(cd bench/server && npm install --no-audit --no-fund --loglevel=error >/dev/null)
PGURL="postgres://hindcast@127.0.0.1:55433/postgres" PGPID="$(head -n 1 "$D/data/postmaster.pid")" \
  node bench/server/ab.mjs "$@"
