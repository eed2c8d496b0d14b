# Sourced by run.sh and ab.sh: `durable_cluster PORT` starts a throwaway
# PostgreSQL cluster with durable settings (fsync=on, synchronous_commit=on)
# on loopback TCP port PORT, installing PostgreSQL if need be, and sets
# PGURL and PGPID (its postmaster). A trap stops it whatever happens.
durable_cluster() {
  local port="$1"
  PG="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$PG" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PG="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  CLUSTER="$(mktemp -d)"
  chown postgres "$CLUSTER"
  trap stop_cluster EXIT
  runuser -u postgres -- "$PG/initdb" -D "$CLUSTER/data" -A trust -U hindcast >/dev/null
  runuser -u postgres -- "$PG/pg_ctl" -D "$CLUSTER/data" -l "$CLUSTER/log" -w \
    -o "-k $CLUSTER -c listen_addresses=127.0.0.1 -p $port -c fsync=on -c synchronous_commit=on -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
  PGURL="postgres://hindcast@127.0.0.1:$port/postgres"
  PGPID="$(head -n 1 "$CLUSTER/data/postmaster.pid")"
  export PGURL PGPID
}

stop_cluster() {
  runuser -u postgres -- "$PG/pg_ctl" -D "$CLUSTER/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$CLUSTER"
}
