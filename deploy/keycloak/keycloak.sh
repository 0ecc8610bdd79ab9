#!/usr/bin/env bash
# A real OpenID Connect provider for the tests: Keycloak's server distribution
# (from Maven, no container), in dev mode on 127.0.0.1 only, with the test realm
# deploy/keycloak/capaflow-realm.json imported at every start.
#
# Usage: deploy/keycloak/keycloak.sh {up|down|status}
#   up      fetch + unpack the distribution (first time), start it, wait until the
#           realm's discovery document answers. Harmless when already running.
#   down    SIGTERM, SIGKILL after KEYCLOAK_STOP_TIMEOUT s. Harmless when not running.
#   status  exit 0 when this checkout's Keycloak runs and its realm answers.
#
# The database is dev-mem (in memory): every start is a fresh realm imported from
# the file, so tests never see a previous run's sessions or users.
#
# Environment (defaults in brackets):
#   KEYCLOAK_PORT [18080]            HTTP port, 127.0.0.1 only
#   KEYCLOAK_READY_TIMEOUT [240]     seconds `up` waits (the first start builds
#                                    Keycloak's configuration: about 60 s on 2 cores)
#   KEYCLOAK_STOP_TIMEOUT [30]
#   KEYCLOAK_HEAP_OPTS [-Xms128m -Xmx768m]
#   CAPAFLOW_INFRA_DIR [<repo>/var/infra]  state, pid file and log (keycloak/)
#   JAVA [java], MVN [mvn]
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"
KEYCLOAK_VERSION="26.5.6"
ARTIFACT="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip"
REALM_FILE="$SCRIPT_DIR/capaflow-realm.json"

KEYCLOAK_PORT="${KEYCLOAK_PORT:-18080}"
KEYCLOAK_READY_TIMEOUT="${KEYCLOAK_READY_TIMEOUT:-240}"
KEYCLOAK_STOP_TIMEOUT="${KEYCLOAK_STOP_TIMEOUT:-30}"
KEYCLOAK_HEAP_OPTS="${KEYCLOAK_HEAP_OPTS:--Xms128m -Xmx768m}"
MVN="${MVN:-mvn}"
JAVA="${JAVA:-java}"

TOOLS_DIR="$REPO_ROOT/var/tools"
HOME_DIR="$TOOLS_DIR/keycloak-$KEYCLOAK_VERSION"
STATE_DIR="${CAPAFLOW_INFRA_DIR:-$REPO_ROOT/var/infra}/keycloak"
PID_FILE="$STATE_DIR/keycloak.pid"
LOG_FILE="$STATE_DIR/keycloak.log"
MVN_LOG="$STATE_DIR/mvn.log"
LOCK_FILE="$STATE_DIR/.lock"
BASE_URL="http://127.0.0.1:$KEYCLOAK_PORT"
DISCOVERY="$BASE_URL/realms/capaflow/.well-known/openid-configuration"

DAEMON_NAME=keycloak
# shellcheck source=deploy/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/../daemon.sh"

# A 200 from the realm's discovery document: Keycloak is up and the import is done.
realm_answers() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$DISCOVERY" 2>/dev/null)" == 200 ]]
}

# Our Keycloak: a live pid whose command line runs this checkout's distribution.
keycloak_pid() { owned_pid "$HOME_DIR"; }

# Maven keeps the zip in its own repository, so a fresh clone on a machine that
# fetched it before only unpacks. Unpacked into a temp folder renamed into place:
# an interrupted unpack is never taken for a finished one.
ensure_distribution() {
  [[ -x "$HOME_DIR/bin/kc.sh" ]] && return 0
  command -v "$MVN" >/dev/null || { err "mvn not found (needed once to fetch Keycloak)"; exit 1; }
  command -v unzip >/dev/null || { err "unzip not found"; exit 1; }
  mkdir -p "$TOOLS_DIR"
  local tmp
  tmp="$(mktemp -d "$TOOLS_DIR/keycloak.tmp.XXXXXX")"
  say "fetching Keycloak $KEYCLOAK_VERSION with Maven (first run only, log: $MVN_LOG)"
  if ! "$MVN" -q -B dependency:copy -Dartifact="$ARTIFACT" -DoutputDirectory="$tmp" \
        >"$MVN_LOG" 2>&1; then
    rm -rf "$tmp"; err "Maven could not fetch $ARTIFACT:"; tail -n 40 "$MVN_LOG" >&2; exit 1
  fi
  unzip -q "$tmp/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" -d "$tmp"
  if ! mv -T "$tmp/keycloak-$KEYCLOAK_VERSION" "$HOME_DIR" 2>/dev/null; then
    [[ -x "$HOME_DIR/bin/kc.sh" ]] || { rm -rf "$tmp"; err "could not unpack into $HOME_DIR"; exit 1; }
  fi
  rm -rf "$tmp"
  say "unpacked into $HOME_DIR"
}

start_keycloak() {
  # --import-realm reads the distribution's data/import: the committed file is
  # copied there on every start so an edited realm takes effect.
  mkdir -p "$HOME_DIR/data/import"
  rm -f "$HOME_DIR"/data/import/*.json
  cp "$REALM_FILE" "$HOME_DIR/data/import/"
  : >"$LOG_FILE"
  rm -f "$PID_FILE"
  # Own session (survives the caller's Ctrl-C); every inherited fd above 2 closed
  # (the lock, the caller's pipes); the pid file holds the JVM's pid (exec).
  # shellcheck disable=SC2016
  JAVA_OPTS_KC_HEAP="$KEYCLOAK_HEAP_OPTS" \
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
  setsid nohup bash -c 'echo $$ >"$0"
    for fd in /proc/$$/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-"; done
    exec "$@"' "$PID_FILE" \
    "$HOME_DIR/bin/kc.sh" start-dev --http-host 127.0.0.1 --http-port "$KEYCLOAK_PORT" \
    --http-management-port "$((KEYCLOAK_PORT + 1))" --db dev-mem --import-realm \
    </dev/null >>"$LOG_FILE" 2>&1 &
  local _
  for _ in $(seq 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  [[ -s "$PID_FILE" ]] || { err "Keycloak did not start"; show_log; exit 1; }
  say "started pid $(cat "$PID_FILE") (log: $LOG_FILE)"
}

wait_ready() {
  local deadline=$((SECONDS + KEYCLOAK_READY_TIMEOUT))
  until realm_answers; do
    if [[ -z "$(keycloak_pid)" ]]; then
      err "Keycloak exited during startup"; show_log; exit 1
    fi
    if ((SECONDS >= deadline)); then
      err "realm capaflow not answering at $DISCOVERY after ${KEYCLOAK_READY_TIMEOUT}s; left running for inspection, stop it with: $0 down"
      show_log; exit 1
    fi
    sleep 1
  done
}

cmd_up() {
  take_lock 300
  local started=$SECONDS pid
  pid="$(keycloak_pid)"
  if [[ -z "$pid" ]]; then
    if port_open "$KEYCLOAK_PORT"; then
      err "port 127.0.0.1:$KEYCLOAK_PORT is used by another process; set KEYCLOAK_PORT"; exit 1
    fi
    command -v "$JAVA" >/dev/null || { err "java not found (Java 17+ needed)"; exit 1; }
    ensure_distribution
    start_keycloak
  else
    say "pid $pid is running; waiting for its realm"
  fi
  wait_ready
  say "ready after $((SECONDS - started))s; issuer $BASE_URL/realms/capaflow"
}

cmd_down() {
  take_lock 300
  stop_pid "$(keycloak_pid)" "$KEYCLOAK_STOP_TIMEOUT"
}

cmd_status() {
  local pid
  pid="$(keycloak_pid)"
  if [[ -n "$pid" ]] && realm_answers; then
    say "running (pid $pid), issuer $BASE_URL/realms/capaflow"; return 0
  fi
  if [[ -n "$pid" ]]; then say "pid $pid is running but realm capaflow does not answer (yet)"; return 1; fi
  say "not running"; return 1
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
esac
