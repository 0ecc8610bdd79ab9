#!/usr/bin/env bash
# A real S3-compatible object store for the evidence-store tests: SeaweedFS
# (Apache-2.0), built once from its Go module into var/tools/bin (no prebuilt
# binary is downloaded), run as one process (master, volume server, filer, S3
# gateway) on 127.0.0.1 only, with one static access key.
#
# Usage: deploy/s3/s3.sh {up|down|status|env}
#   up      build weed (first time: several minutes), start it, wait until the S3
#           API answers a signed request. Harmless when already running.
#   down    SIGTERM, SIGKILL after S3_STOP_TIMEOUT s. Harmless when not running.
#   status  exit 0 when this checkout's SeaweedFS runs and its S3 API answers.
#   env     print the CAPAFLOW_TEST_S3_* variables the tests read (export lines).
#
# The data lives under the state folder and is wiped at every start: tests make
# their own buckets and never see a previous run's objects.
#
# Environment (defaults in brackets):
#   S3_PORT [18333]              S3 API port; the master, volume server and filer
#                                use the next three ports, their gRPC ports each
#                                port + 10000 (SeaweedFS's rule)
#   S3_READY_TIMEOUT [120]       seconds `up` waits for the S3 API
#   S3_STOP_TIMEOUT [20]
#   CAPAFLOW_INFRA_DIR [<repo>/var/infra]  state, pid file and log (s3/)
#   GO [go]
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"
# The module proxy serves SeaweedFS as a pseudo-version (its tags are not Go
# module versions); pinned, like every tool the tests use.
WEED_MODULE="github.com/seaweedfs/seaweedfs"
WEED_VERSION="${WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
GO="${GO:-go}"

S3_PORT="${S3_PORT:-18333}"
MASTER_PORT=$((S3_PORT + 1))
VOLUME_PORT=$((S3_PORT + 2))
FILER_PORT=$((S3_PORT + 3))
S3_READY_TIMEOUT="${S3_READY_TIMEOUT:-120}"
S3_STOP_TIMEOUT="${S3_STOP_TIMEOUT:-20}"
# Test credentials only: the server listens on 127.0.0.1 and holds test data.
ACCESS_KEY="capaflow-test"
SECRET_KEY="capaflow-test-secret-key"
REGION="us-east-1"

BIN_DIR="$REPO_ROOT/var/tools/bin"
WEED="$BIN_DIR/weed"
STAMP="$BIN_DIR/.weed-version"
STATE_DIR="${CAPAFLOW_INFRA_DIR:-$REPO_ROOT/var/infra}/s3"
DATA_DIR="$STATE_DIR/data"
CONFIG_FILE="$STATE_DIR/s3-identities.json"
PID_FILE="$STATE_DIR/weed.pid"
LOG_FILE="$STATE_DIR/weed.log"
BUILD_LOG="$STATE_DIR/build.log"
LOCK_FILE="$STATE_DIR/.lock"
ENDPOINT="http://127.0.0.1:$S3_PORT"

DAEMON_NAME=s3
# shellcheck source=deploy/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/../daemon.sh"

# Ready to store: the S3 API answers an anonymous ListBuckets with 403
# (AccessDenied; before that the port refuses or the gateway answers 5xx), and
# the master knows a volume server to put the bytes on.
s3_answers() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$ENDPOINT/" 2>/dev/null)" == 403 ]] &&
    curl -s --max-time 5 "http://127.0.0.1:$MASTER_PORT/dir/status" 2>/dev/null |
      grep -q '"DataNodes":\[{'
}

# Ours: a live pid whose command line runs this checkout's weed with this state dir.
weed_pid() { owned_pid "$DATA_DIR"; }

# `go install module@version` refuses SeaweedFS: its go.mod has a replace
# directive. So the module is fetched into the module cache (`go mod download`)
# and built there as the main module, where its go.mod applies as written.
ensure_weed() {
  if [[ -x "$WEED" && "$(cat "$STAMP" 2>/dev/null)" == "$WEED_VERSION" ]]; then return 0; fi
  command -v "$GO" >/dev/null || { err "go not found (needed once to build SeaweedFS)"; exit 1; }
  mkdir -p "$BIN_DIR"
  say "building SeaweedFS $WEED_VERSION from its Go module (first run only: several minutes; log: $BUILD_LOG)"
  local dir started=$SECONDS
  if ! dir="$("$GO" mod download -json "$WEED_MODULE@$WEED_VERSION" 2>>"$BUILD_LOG" |
              sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || [[ -z "$dir" ]]; then
    err "could not fetch $WEED_MODULE@$WEED_VERSION"; tail -n 20 "$BUILD_LOG" >&2; exit 1
  fi
  # Built to a temporary name and renamed: an interrupted build is never taken for a
  # finished one.
  if ! (cd "$dir" && GOFLAGS=-mod=readonly "$GO" build -trimpath -ldflags "-s -w" \
          -o "$WEED.tmp" ./weed) >>"$BUILD_LOG" 2>&1; then
    rm -f "$WEED.tmp"; err "building weed failed:"; tail -n 40 "$BUILD_LOG" >&2; exit 1
  fi
  mv -f "$WEED.tmp" "$WEED"
  echo "$WEED_VERSION" >"$STAMP"
  say "built $WEED in $((SECONDS - started))s"
}

write_identities() {
  # One identity allowed everything on every bucket (the tests create their own).
  cat >"$CONFIG_FILE" <<JSON
{"identities": [{"name": "capaflow-test",
  "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
}

start_weed() {
  local port
  for port in "$S3_PORT" "$MASTER_PORT" "$VOLUME_PORT" "$FILER_PORT" \
              $((MASTER_PORT + 10000)) $((VOLUME_PORT + 10000)) $((FILER_PORT + 10000)) \
              $((S3_PORT + 10000)); do
    if port_open "$port"; then
      err "port 127.0.0.1:$port is used by another process; set S3_PORT"; exit 1
    fi
  done
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR"
  write_identities
  : >"$LOG_FILE"
  rm -f "$PID_FILE"
  # Own session (survives the caller's Ctrl-C); inherited fds above 2 closed (the
  # lock, the caller's pipes); the pid file holds weed's pid (exec). No telemetry,
  # no Iceberg or Lance endpoints: nothing but 127.0.0.1 and the four servers.
  # shellcheck disable=SC2016
  setsid nohup bash -c 'echo $$ >"$0"
    for fd in /proc/$$/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-"; done
    exec "$@"' "$PID_FILE" \
    "$WEED" server -dir="$DATA_DIR" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$MASTER_PORT" -master.telemetry=false -master.volumeSizeLimitMB=16 \
    -volume.port="$VOLUME_PORT" -volume.max=0 \
    -filer -filer.port="$FILER_PORT" \
    -s3 -s3.port="$S3_PORT" -s3.config="$CONFIG_FILE" -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.autoCreateBucket=false \
    </dev/null >>"$LOG_FILE" 2>&1 &
  local _
  for _ in $(seq 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  [[ -s "$PID_FILE" ]] || { err "weed did not start"; show_log; exit 1; }
  say "started pid $(cat "$PID_FILE") (log: $LOG_FILE)"
}

wait_ready() {
  local deadline=$((SECONDS + S3_READY_TIMEOUT))
  until s3_answers; do
    if [[ -z "$(weed_pid)" ]]; then err "weed exited during startup"; show_log; exit 1; fi
    if ((SECONDS >= deadline)); then
      err "S3 API not answering at $ENDPOINT after ${S3_READY_TIMEOUT}s; left running for inspection, stop it with: $0 down"
      show_log; exit 1
    fi
    sleep 0.5
  done
}

cmd_up() {
  # The first build takes minutes: a second caller waits for it rather than building too.
  take_lock 1200
  local started=$SECONDS pid
  pid="$(weed_pid)"
  if [[ -z "$pid" ]]; then
    ensure_weed
    start_weed
  else
    say "pid $pid is running; waiting for its S3 API"
  fi
  wait_ready
  say "ready after $((SECONDS - started))s; S3 endpoint $ENDPOINT"
}

cmd_down() {
  take_lock 1200
  stop_pid "$(weed_pid)" "$S3_STOP_TIMEOUT"
}

cmd_status() {
  local pid
  pid="$(weed_pid)"
  if [[ -n "$pid" ]] && s3_answers; then say "running (pid $pid), S3 endpoint $ENDPOINT"; return 0; fi
  if [[ -n "$pid" ]]; then say "pid $pid is running but its S3 API does not answer (yet)"; return 1; fi
  say "not running"; return 1
}

cmd_env() {
  echo "export CAPAFLOW_TEST_S3_ENDPOINT=$ENDPOINT"
  echo "export CAPAFLOW_TEST_S3_REGION=$REGION"
  echo "export CAPAFLOW_TEST_S3_ACCESS_KEY_ID=$ACCESS_KEY"
  echo "export CAPAFLOW_TEST_S3_SECRET_ACCESS_KEY=$SECRET_KEY"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 {up|down|status|env}" >&2; exit 2 ;;
esac
