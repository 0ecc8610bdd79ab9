#!/usr/bin/env bash
# Local throwaway PostgreSQL server on loopback, for tests and development.
# Uses the distribution's server binaries (/usr/lib/postgresql/<ver>/bin) with
# a private data directory under <repo>/var/infra/postgres - it does not touch
# any system cluster (pg_ctlcluster / port 5432).
#
# Usage: deploy/postgres/postgres.sh {up|down|status|reset}
#   up      install the server if missing (apt, root only), initdb (first time),
#           start, wait for readiness, create the application databases.
#           Harmless when already running.
#   down    fast shutdown; harmless when not running.
#   status  exit 0 when this checkout's cluster runs on PG_PORT and accepts
#           connections; says so when it runs on another port, or when PG_PORT
#           is answered by another server (another checkout's).
#   reset   down + delete var/infra/postgres (next `up` starts empty).
#
# Environment (defaults in brackets):
#   PG_PORT [15432]            TCP port, 127.0.0.1 only
#   PG_READY_TIMEOUT [60]      seconds `up` waits for readiness
#   PG_BIN [newest /usr/lib/postgresql/*/bin]
#   CAPAFLOW_INFRA_DIR [<repo>/var/infra]  data, socket and logs (postgres/)
#
# Connection: postgresql://postgres@127.0.0.1:$PG_PORT/<db>, no password
# (trust authentication - acceptable only because it listens on loopback and
# holds throwaway test data).
set -euo pipefail

# Locate everything from this script's own path so it works from any cwd.
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"

PG_PORT="${PG_PORT:-15432}"
PG_READY_TIMEOUT="${PG_READY_TIMEOUT:-60}"
PG_USER=postgres   # OS user that owns and runs the cluster, and DB superuser

DATABASES=(capaflow_nonconformity capaflow_capa capaflow_notifications capaflow_events capaflow_web)

STATE_DIR="${CAPAFLOW_INFRA_DIR:-$REPO_ROOT/var/infra}/postgres"
DATA_DIR="$STATE_DIR/data"
SOCKET_DIR="$STATE_DIR/run"
SERVER_LOG="$STATE_DIR/server.log"
LOCK_FILE="$STATE_DIR/.lock"

say() { echo "[postgres] $*"; }
err() { echo "[postgres] ERROR: $*" >&2; }

IS_ROOT=0
[[ "$(id -u)" == 0 ]] && IS_ROOT=1

# initdb and postgres refuse to run as root. As root, run them as the
# `postgres` OS user; as a normal user, run them as that user.
as_pg() {
  if ((IS_ROOT)); then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

find_pg_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    [[ -x "$PG_BIN/initdb" ]] && return 0
    err "PG_BIN=$PG_BIN has no initdb"; exit 1
  fi
  local d
  # Newest installed major version (directory names are version numbers).
  d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  if [[ -n "$d" && -x "$d/initdb" ]]; then
    PG_BIN="$d"; return 0
  fi
  return 1
}

ensure_pg_bin() {
  find_pg_bin && return 0
  if ((!IS_ROOT)); then
    err "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; install the 'postgresql' package (as root) or set PG_BIN"
    exit 1
  fi
  say "PostgreSQL server not installed; installing the 'postgresql' package with apt-get"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
  find_pg_bin || { err "still no initdb in /usr/lib/postgresql/*/bin after install"; exit 1; }
}

# The server runs as `postgres` but the data dir lives inside the repo, which
# may be owned by root. Every ancestor directory must be searchable (x) by
# `postgres`, or initdb/postgres cannot reach their own files.
ensure_traversable() {
  ((IS_ROOT)) || return 0
  local d="$STATE_DIR"
  while [[ "$d" != "/" ]]; do
    d="$(dirname "$d")"
    if ! runuser -u "$PG_USER" -- test -x "$d"; then
      say "chmod o+x $d (so the postgres user can reach $STATE_DIR)"
      chmod o+x "$d"
    fi
  done
}

prepare_dirs() {
  mkdir -p "$STATE_DIR" "$SOCKET_DIR"
  ensure_traversable
  # postgres must write the server log, the socket and the data dir.
  if ((IS_ROOT)); then
    chown "$PG_USER:$PG_USER" "$STATE_DIR" "$SOCKET_DIR"
  fi
  chmod 700 "$SOCKET_DIR"
  # Unix socket paths are limited to ~107 bytes; deep checkouts would make
  # the server fail to start, so fall back to a short per-port dir in /tmp.
  if (( ${#SOCKET_DIR} + 20 > 107 )); then
    SOCKET_DIR="/tmp/capaflow-pg-$PG_PORT"
    mkdir -p "$SOCKET_DIR"
    ((IS_ROOT)) && chown "$PG_USER:$PG_USER" "$SOCKET_DIR"
    chmod 700 "$SOCKET_DIR"
  fi
}

# Serialise up/down/reset between concurrent callers (several test sessions
# may share this checkout). fd 9 is closed for pg_ctl start (see start_server)
# so the long-lived postmaster does not inherit and hold the lock.
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$LOCK_FILE"
  if ! flock -w 300 9; then
    err "could not get $LOCK_FILE within 300 s (another postgres.sh is busy)"
    exit 1
  fi
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# 0 = our cluster is running (per its postmaster.pid), else not.
server_running() {
  [[ -f "$DATA_DIR/PG_VERSION" ]] || return 1
  as_pg "$PG_BIN/pg_ctl" status -D "$DATA_DIR" >/dev/null 2>&1
}

is_ready() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -t 2
}

# initdb only on the first start. It runs into a temporary directory that is
# renamed into place when complete, so an interrupted initdb is retried
# instead of leaving a half-initialised cluster that looks finished.
init_cluster() {
  [[ -f "$DATA_DIR/PG_VERSION" ]] && return 0
  local tmp="$STATE_DIR/data.initdb.tmp"
  rm -rf "$tmp"
  say "initdb $DATA_DIR"
  # -A trust: no passwords, loopback-only throwaway cluster.
  # C.UTF-8: UTF-8 character semantics but byte-order collation, identical on
  # every machine (no dependency on the host's locales).
  if ! as_pg "$PG_BIN/initdb" -D "$tmp" -A trust -U "$PG_USER" -E UTF8 \
        --locale=C.UTF-8 >"$STATE_DIR/initdb.log" 2>&1; then
    err "initdb failed:"; tail -n 30 "$STATE_DIR/initdb.log" >&2; rm -rf "$tmp"; exit 1
  fi
  mv -T "$tmp" "$DATA_DIR"
}

start_server() {
  say "starting on 127.0.0.1:$PG_PORT (log: $SERVER_LOG)"
  # fsync=off: this is a throwaway test/dev cluster; losing data on an OS
  # crash is acceptable and it makes schema setup and commits much faster.
  # listen_addresses=127.0.0.1: loopback only. The unix socket goes to a
  # private dir, not /var/run/postgresql (which may not exist / be ours).
  # The bash wrapper closes every inherited fd above 2 (the lock fd, see
  # take_lock, and any pipe of the caller) so the long-lived postmaster
  # does not hold them open.
  # shellcheck disable=SC2016
  if ! as_pg bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-"; done
        exec "$@"' pg_ctl \
        "$PG_BIN/pg_ctl" start -w -t 60 -D "$DATA_DIR" -l "$SERVER_LOG" \
        -o "-p $PG_PORT -k $SOCKET_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        </dev/null >"$STATE_DIR/pg_ctl.log" 2>&1; then
    err "pg_ctl start failed:"
    cat "$STATE_DIR/pg_ctl.log" >&2
    [[ -f "$SERVER_LOG" ]] && { echo "----- tail of $SERVER_LOG -----" >&2; tail -n 30 "$SERVER_LOG" >&2; }
    exit 1
  fi
}

wait_ready() {
  local deadline=$((SECONDS + PG_READY_TIMEOUT))
  until is_ready; do
    if ((SECONDS >= deadline)); then
      err "not accepting connections on 127.0.0.1:$PG_PORT after ${PG_READY_TIMEOUT}s"
      [[ -f "$SERVER_LOG" ]] && tail -n 30 "$SERVER_LOG" >&2
      exit 1
    fi
    sleep 0.5
  done
}

psql_q() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"
}

create_databases() {
  local db created=()
  for db in "${DATABASES[@]}"; do
    if [[ "$(psql_q -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]]; then
      psql_q -c "CREATE DATABASE \"$db\""
      created+=("$db")
    fi
  done
  if ((${#created[@]})); then
    say "created databases: ${created[*]}"
  fi
}

cmd_up() {
  ensure_pg_bin
  take_lock
  prepare_dirs
  if server_running; then
    # Same data dir but started with another PG_PORT: say so instead of
    # waiting for a port the server will never open.
    local running_port
    running_port="$(sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
    if [[ -n "$running_port" && "$running_port" != "$PG_PORT" ]]; then
      err "this checkout's cluster is already running on port $running_port, not PG_PORT=$PG_PORT; run '$0 down' first"
      exit 1
    fi
    wait_ready
    create_databases
    say "already running on 127.0.0.1:$PG_PORT"
    return 0
  fi
  if port_open "$PG_PORT"; then
    err "port 127.0.0.1:$PG_PORT is already used by another process (not this checkout's cluster); set PG_PORT"
    exit 1
  fi
  init_cluster
  start_server
  wait_ready
  create_databases
  say "ready on 127.0.0.1:$PG_PORT"
}

cmd_down() {
  if ! find_pg_bin; then
    say "not installed, nothing to stop"
    return 0
  fi
  take_lock
  if ! server_running; then
    say "not running"
    return 0
  fi
  # fast = roll back open transactions and disconnect clients, then a clean
  # shutdown checkpoint (no recovery needed on the next start).
  as_pg "$PG_BIN/pg_ctl" stop -m fast -w -t 60 -D "$DATA_DIR" >/dev/null
  say "stopped"
}

cmd_status() {
  if ! find_pg_bin || ! server_running; then
    if port_open "$PG_PORT"; then
      say "not running; 127.0.0.1:$PG_PORT answers, but it is not this checkout's cluster (another checkout's or a system PostgreSQL): do not use it, set PG_PORT or run '$0 up' on a free port"
    else
      say "not running"
    fi
    return 1
  fi
  # postmaster.pid line 4 is the port the running cluster was started with.
  local running_port
  running_port="$(sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
  if [[ "$running_port" != "$PG_PORT" ]]; then
    say "this checkout's cluster runs on 127.0.0.1:${running_port:-?}, not PG_PORT=$PG_PORT; use PG_PORT=${running_port:-?}, or '$0 down' and up again"
    return 1
  fi
  if is_ready; then
    say "running on 127.0.0.1:$PG_PORT"
    return 0
  fi
  say "this checkout's cluster is starting or stuck: 127.0.0.1:$PG_PORT not accepting connections"
  return 1
}

cmd_reset() {
  cmd_down
  rm -rf "$STATE_DIR"
  say "deleted $STATE_DIR"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  *) echo "usage: $0 {up|down|status|reset}" >&2; exit 2 ;;
esac
