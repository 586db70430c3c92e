#!/usr/bin/env bash
# A shared MLflow tracking server on this machine: PostgreSQL as the backend store (runs,
# params, metrics, tags, the model registry) and a folder as the artifact store, both on
# 127.0.0.1 only. Many writers at once (Tune trials, Ray Train ranks, several pipelines) are
# what a database server is for; the project's default SQLite file is for one writer.
#
#   cluster/mlflow_server.sh up       initialise (once) and start PostgreSQL, then `mlflow server`;
#                                     prints the MLFLOW_TRACKING_URI to export
#   cluster/mlflow_server.sh status   what runs (exit 0 when both answer, 3 otherwise)
#   cluster/mlflow_server.sh down     stop both (the data stay: `up` again finds every run)
#
# Environment (read by `up`; `status` and `down` use what `up` recorded):
#   GENMODELS_PG_DIR          where everything lives (default /tmp/gm-pg): pg/data (the database
#                             cluster), pg/postgres.log, pgpass, artifacts/, mlflow.log
#   GENMODELS_PG_PORT         PostgreSQL's TCP port on 127.0.0.1 (default 5433)
#   GENMODELS_MLFLOW_PORT     the tracking server's port on 127.0.0.1 (default 5000)
#   GENMODELS_MLFLOW_ARTIFACTS  artifact store (default $GENMODELS_PG_DIR/artifacts)
#   GENMODELS_MLFLOW_WORKERS  server worker processes (default 2)
#   GENMODELS_PG_BIN          folder holding initdb and pg_ctl (default: found on PATH, else
#                             the newest /usr/lib/postgresql/*/bin)
#   GENMODELS_PG_USER         the account PostgreSQL runs as when this script runs as root
#                             (PostgreSQL refuses root; default: postgres if it exists, else nobody)
#
# The database role `genmodels` has a random password (kept in $GENMODELS_PG_DIR/pgpass, mode
# 600, read through PGPASSFILE, so it never appears on a command line). To reach the database:
#   PGPASSFILE=$GENMODELS_PG_DIR/pgpass psql -h 127.0.0.1 -p 5433 -U genmodels mlflow
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${GENMODELS_PG_DIR:-/tmp/gm-pg}"
state="$dir/server.env"
role=genmodels
database=mlflow

die() { echo "error: $*" >&2; exit "${2:-1}"; }

find_pg_bin() {
  local d
  if [ -n "${GENMODELS_PG_BIN:-}" ]; then d="$GENMODELS_PG_BIN"
  elif command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then d="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
  else d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
  [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] ||
    die "PostgreSQL's initdb, pg_ctl and postgres were not found (install Debian's postgresql package, or set GENMODELS_PG_BIN)" 2
  echo "$d"
}

find_mlflow() {
  local m="$here/.venv/bin/mlflow"
  [ -x "$m" ] || m="$(command -v mlflow || true)"
  [ -n "$m" ] || die "mlflow not found (run make install)" 2
  echo "$m"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Run a PostgreSQL program as the unprivileged account (as ourselves when not root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd "$dir/pg" && runuser -u "$pg_user" -- "$@"); else (cd "$dir/pg" && "$@"); fi
}

pg_running() { [ -f "$dir/pg/data/postmaster.pid" ] && as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1; }

mlflow_healthy() {
  curl -fsS --max-time 2 "http://127.0.0.1:$mlflow_port/health" >/dev/null 2>&1
}

mlflow_pid() { [ -f "$dir/mlflow.pid" ] && cat "$dir/mlflow.pid" || true; }

psql_q() {  # one query on the maintenance database, as the genmodels role
  PGPASSFILE="$dir/pgpass" PGCONNECT_TIMEOUT=10 "$psql" -X -q -t -A -h 127.0.0.1 -p "$pg_port" -U "$role" -d postgres -v ON_ERROR_STOP=1 -c "$1"
}

load_state() {
  [ -f "$state" ] || return 1
  # shellcheck disable=SC1090
  . "$state"
}

up() {
  pg_bin="$(find_pg_bin)"
  local mlflow; mlflow="$(find_mlflow)"
  psql="$pg_bin/psql"; [ -x "$psql" ] || psql="$(command -v psql || true)"
  [ -n "$psql" ] || die "psql not found beside $pg_bin/pg_ctl nor on PATH" 2
  pg_port="${GENMODELS_PG_PORT:-5433}"
  mlflow_port="${GENMODELS_MLFLOW_PORT:-5000}"
  local artifacts="${GENMODELS_MLFLOW_ARTIFACTS:-$dir/artifacts}" workers="${GENMODELS_MLFLOW_WORKERS:-2}"
  local timeout="${GENMODELS_MLFLOW_TIMEOUT:-180}"
  [[ "$pg_port" =~ ^[0-9]+$ && "$mlflow_port" =~ ^[0-9]+$ && "$workers" =~ ^[0-9]+$ ]] || die "ports and workers must be numbers" 2
  [[ "$dir" != *[[:space:]]* ]] || die "GENMODELS_PG_DIR must not contain spaces: $dir" 2
  if [ -f "$state" ]; then  # an earlier `up`: what still runs keeps its ports
    local want_pg="$pg_port" want_mlflow="$mlflow_port"
    load_state
    if pg_running && mlflow_healthy; then
      echo "export MLFLOW_TRACKING_URI=http://127.0.0.1:$mlflow_port   # already running (backend postgresql://$role@127.0.0.1:$pg_port/$database)"
      return 0
    fi
    stop_mlflow  # a server left without its database
    pg_running || pg_port="$want_pg"
    mlflow_port="$want_mlflow"
    pg_bin="$(find_pg_bin)"
  fi
  mkdir -p "$dir/pg" "$artifacts"
  chmod 755 "$dir"  # the PostgreSQL account must reach pg/ inside it
  pg_user="$(id -un)"
  if [ "$(id -u)" = 0 ]; then
    pg_user="${GENMODELS_PG_USER:-}"
    if [ -z "$pg_user" ]; then id postgres >/dev/null 2>&1 && pg_user=postgres || pg_user=nobody; fi
    command -v runuser >/dev/null || die "runuser (util-linux) is needed to run PostgreSQL as $pg_user" 2
    chown "$pg_user" "$dir/pg"; chmod 700 "$dir/pg"
    runuser -u "$pg_user" -- test -w "$dir/pg" ||
      die "the account $pg_user cannot write $dir/pg (a parent folder is closed to it?); choose GENMODELS_PG_DIR under /tmp" 2
  fi
  cat >"$state" <<EOF
pg_bin=$pg_bin
psql=$psql
pg_user=$pg_user
pg_port=$pg_port
mlflow_port=$mlflow_port
EOF

  # 1. PostgreSQL: a database cluster of its own (initialised once), on 127.0.0.1 only
  if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
    local password; password="$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
    (umask 077; printf '%s\n' "$password" >"$dir/pg/pwfile")
    [ "$(id -u)" != 0 ] || chown "$pg_user" "$dir/pg/pwfile"
    as_pg "$pg_bin/initdb" -D "$dir/pg/data" -U "$role" --pwfile="$dir/pg/pwfile" -A scram-sha-256 -E UTF8 --no-locale \
      >"$dir/pg/initdb.log" 2>&1 || { rm -f "$dir/pg/pwfile"; die "initdb failed (see $dir/pg/initdb.log)"; }
    rm -f "$dir/pg/pwfile"
    (umask 077; printf '127.0.0.1:*:*:%s:%s\n' "$role" "$password" >"$dir/pgpass")
    as_pg sh -c "cat >>'$dir/pg/data/postgresql.conf'" <<EOF

# cluster/mlflow_server.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/pg'
EOF
  fi
  if ! pg_running; then
    port_taken "$pg_port" && die "port $pg_port is taken (another PostgreSQL? set GENMODELS_PG_PORT)"
    as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -o "-p $pg_port" -w -t 60 start >/dev/null ||
      die "PostgreSQL did not start (see $dir/pg/postgres.log)"
  fi
  if [ "$(psql_q "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
    psql_q "CREATE DATABASE $database" >/dev/null || die "could not create the database $database"
  fi

  # 2. The tracking server over it (its own process group, so `down` stops every worker)
  port_taken "$mlflow_port" && die "port $mlflow_port is taken (an MLflow server is up? run '$0 down', or set GENMODELS_MLFLOW_PORT)"
  # MLflow's server-side jobs (GenAI evaluation, trace roll-ups) start a queue consumer per job
  # kind; genmodels uses none of them, so they are off unless asked for.
  PGPASSFILE="$dir/pgpass" MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}" setsid "$mlflow" server \
    --backend-store-uri "postgresql://$role@127.0.0.1:$pg_port/$database" \
    --artifacts-destination "$(cd "$artifacts" && pwd)" \
    --host 127.0.0.1 --port "$mlflow_port" --workers "$workers" \
    >"$dir/mlflow.log" 2>&1 </dev/null &
  echo $! >"$dir/mlflow.pid"
  local waited=0
  until mlflow_healthy; do
    kill -0 "$(mlflow_pid)" 2>/dev/null || { tail -n 20 "$dir/mlflow.log" >&2; die "mlflow server exited (see $dir/mlflow.log)"; }
    [ "$waited" -lt "$timeout" ] || { stop_mlflow; die "mlflow server did not answer within ${timeout}s (see $dir/mlflow.log)"; }
    sleep 1; waited=$((waited + 1))
  done
  echo "export MLFLOW_TRACKING_URI=http://127.0.0.1:$mlflow_port   # backend postgresql://$role@127.0.0.1:$pg_port/$database, artifacts in $(cd "$artifacts" && pwd)"
}

stop_mlflow() {
  local pid; pid="$(mlflow_pid)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$dir/mlflow.pid"
}

down() {
  load_state || { echo "nothing to stop in $dir"; return 0; }
  stop_mlflow
  if pg_running; then
    as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 60 stop >/dev/null || die "PostgreSQL did not stop (see $dir/pg/postgres.log)"
  fi
  echo "stopped the MLflow server (127.0.0.1:$mlflow_port) and PostgreSQL (127.0.0.1:$pg_port); data kept in $dir"
}

status() {
  load_state || { echo "not set up in $dir (run '$0 up')"; return 3; }
  local rc=0
  if pg_running; then echo "postgresql: running on 127.0.0.1:$pg_port (database $database, role $role, data $dir/pg/data)"
  else echo "postgresql: stopped"; rc=3; fi
  if mlflow_healthy; then echo "mlflow: running; export MLFLOW_TRACKING_URI=http://127.0.0.1:$mlflow_port"
  else echo "mlflow: not answering on 127.0.0.1:$mlflow_port"; rc=3; fi
  return "$rc"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "error: usage: $0 up | status | down" >&2; exit 2 ;;
esac
