#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller) on
# loopback, for tests and development. No Docker and no Kafka tarball: the
# broker jars come from Maven (deploy/kafka/pom.xml) and are run with plain
# `java`.
#
# Usage: deploy/kafka/kafka.sh {up|down|status|kill9|reset}
#   up      download jars (first time), write config, format storage (first
#           time), start the broker, wait until it answers metadata requests,
#           create the application topics. Harmless when already running.
#   down    SIGTERM (controlled shutdown), SIGKILL after KAFKA_STOP_TIMEOUT s.
#           Harmless when not running.
#   status  exit 0 when this checkout's broker is alive and listens on
#           KAFKA_PORT itself; says so when it runs on another port, or when
#           the port is answered by another process (another checkout's broker).
#   kill9   SIGKILL the broker (crash simulation for fault tests); `up` recovers.
#   reset   down + delete var/infra/kafka (config, data, logs): a new cluster.
#
# Environment (defaults in brackets):
#   KAFKA_PORT [19092]             PLAINTEXT listener, 127.0.0.1 only
#   KAFKA_CONTROLLER_PORT [19093]  KRaft controller listener, 127.0.0.1 only
#   KAFKA_PARTITIONS [3]           num.partitions and partitions of app topics
#   KAFKA_READY_TIMEOUT [90]       seconds `up` waits for the broker to answer
#   KAFKA_STOP_TIMEOUT [30]        seconds `down` waits before SIGKILL
#   KAFKA_HEAP_OPTS [-Xms256m -Xmx512m]
#   KAFKA_CACHE [<repo>/.cache/kafka-<version>]  where the jars are kept
#   CAPAFLOW_INFRA_DIR [<repo>/var/infra]  state, pid file and logs (kafka/)
#   JAVA [java], MVN [mvn]
set -euo pipefail

# Locate everything from this script's own path so it works from any cwd.
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"
POM="$SCRIPT_DIR/pom.xml"

# The version lives in one place, the pom; it also names the cache folder so
# that bumping it never reuses an old class path.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
[[ -n "$KAFKA_VERSION" ]] || { echo "kafka.sh: cannot read <kafka.version> from $POM" >&2; exit 1; }

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-3}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
CACHE="${KAFKA_CACHE:-$REPO_ROOT/.cache/kafka-$KAFKA_VERSION}"
LIBS="$CACHE/libs"
JAVA="${JAVA:-java}"
MVN="${MVN:-mvn}"

# Topics the services use; DLQ topics are left to auto-creation.
APP_TOPICS=(nonconformity.events capa.events notifications.events)

STATE_DIR="${CAPAFLOW_INFRA_DIR:-$REPO_ROOT/var/infra}/kafka"
DATA_DIR="$STATE_DIR/data"
PROPS="$STATE_DIR/server.properties"
ADMIN_PROPS="$STATE_DIR/admin-client.properties"
PID_FILE="$STATE_DIR/kafka.pid"
STDOUT_LOG="$STATE_DIR/stdout.log"
SERVER_LOG="$STATE_DIR/server.log"
TOOLS_LOG="$STATE_DIR/tools.log"
MVN_LOG="$STATE_DIR/mvn.log"
LOCK_FILE="$STATE_DIR/.lock"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

say() { echo "[kafka] $*"; }
err() { echo "[kafka] ERROR: $*" >&2; }

# Serialise up/down/reset: several test sessions may share this checkout, and
# two concurrent `up`s must not both format storage or start two brokers.
# fd 9 is closed for the broker process (see start_broker),
# otherwise the long-lived JVM would hold the lock forever.
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$LOCK_FILE"
  if ! flock -w 300 9; then
    err "could not get $LOCK_FILE within 300 s (another kafka.sh is busy)"
    exit 1
  fi
}

# TCP connect to 127.0.0.1:$1 (pure bash, no extra tools needed).
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# True if $1 is a live process that is *our* broker (guards against a stale
# pid file whose pid was reused by an unrelated process).
is_our_broker() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "kafka.Kafka $PROPS"
}

# Pid of the running broker, or empty. Falls back to an exact command-line
# match on this checkout's server.properties in case the pid file was lost.
broker_pid() {
  local pid=""
  [[ -f "$PID_FILE" ]] && pid="$(tr -dc '0-9' <"$PID_FILE")"
  if [[ -n "$pid" ]] && is_our_broker "$pid"; then
    echo "$pid"; return 0
  fi
  pid="$(pgrep -f -- "kafka\.Kafka $PROPS" 2>/dev/null | head -n1 || true)"
  if [[ -n "$pid" ]] && is_our_broker "$pid"; then
    echo "$pid"; return 0
  fi
  return 0
}

show_logs() {
  local f
  for f in "$STDOUT_LOG" "$SERVER_LOG" "$TOOLS_LOG"; do
    if [[ -s "$f" ]]; then
      echo "----- tail of $f -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
}

# Download the broker class path once. Maven writes into a temp folder next
# to the final one and the folder is renamed into place only when complete
# (rename is atomic), so an interrupted download is never mistaken for a
# finished one.
ensure_libs() {
  if [[ -d "$LIBS" ]]; then
    return 0
  fi
  command -v "$MVN" >/dev/null || { err "mvn not found (needed once to fetch the Kafka jars)"; exit 1; }
  mkdir -p "$CACHE"
  # Leftovers of interrupted earlier attempts (only old ones: another
  # checkout sharing KAFKA_CACHE may be downloading right now).
  find "$CACHE" -maxdepth 1 -name 'libs.tmp.*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
  local tmp
  tmp="$(mktemp -d "$CACHE/libs.tmp.XXXXXX")"
  say "fetching Kafka $KAFKA_VERSION jars with Maven (first run only, log: $MVN_LOG)"
  if ! "$MVN" -q -B -f "$POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$MVN_LOG" 2>&1; then
    rm -rf "$tmp"
    err "Maven could not resolve the Kafka jars:"
    tail -n 40 "$MVN_LOG" >&2
    exit 1
  fi
  if ! compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null; then
    rm -rf "$tmp"
    err "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing"
    exit 1
  fi
  if ! mv -T "$tmp" "$LIBS" 2>/dev/null; then
    # Someone else completed the download at the same time: use theirs.
    rm -rf "$tmp"
    [[ -d "$LIBS" ]] || { err "could not move jars into $LIBS"; exit 1; }
  fi
  say "jars in $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
}

# Run a Kafka command-line tool, killed after TOOL_TIMEOUT s (default 60) so a
# hung client can never hang `up`. Fast-start JVM flags (these are short-lived
# processes); logging goes to stderr at WARN (tools-log4j2.properties).
kafka_tool() {
  timeout "${TOOL_TIMEOUT:-60}" "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$SCRIPT_DIR/tools-log4j2.properties" \
    -cp "$LIBS/*" "$@"
}

# server.properties is regenerated on every start so that changed ports or
# partition counts take effect; the data itself lives in $DATA_DIR.
write_config() {
  mkdir -p "$DATA_DIR"
  cat >"$PROPS" <<EOF
# Generated by deploy/kafka/kafka.sh on every start - edits are overwritten.
# Single-node KRaft cluster (this node is both broker and controller),
# listening on loopback only. For tests and development, not production.
process.roles=broker,controller
node.id=1
# Static single-voter quorum. Chosen over a dynamic quorum (format --standalone)
# because the voter endpoint then comes from this file and not from the
# formatted metadata, so changing KAFKA_CONTROLLER_PORT keeps working on an
# existing data dir.
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$DATA_DIR
num.partitions=$KAFKA_PARTITIONS
auto.create.topics.enable=true

# One broker: every internal topic must be satisfiable with a single replica,
# otherwise consumer groups / transactions / idempotent producers with
# acks=all would wait forever.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Tests start consumers and expect assignment immediately, not after the
# default 3 s wait for more group members.
group.initial.rebalance.delay.ms=0

# After a crash (kill9) the controller refuses the restarted broker's
# registration until the old broker session expires (DUPLICATE_BROKER_
# REGISTRATION), so this timeout is the bulk of crash-recovery time. Default
# 9 s / 2 s heartbeat; 5 s / 1 s keeps fault tests quick while still
# tolerating multi-second stalls of a busy 2-core machine (a stall longer than
# this only fences the broker briefly; it re-registers by itself).
broker.session.timeout.ms=5000
broker.heartbeat.interval.ms=1000
EOF
  # Client settings for the tools: fail fast while the broker is still
  # starting instead of the default 60 s API timeout, so the readiness loop
  # keeps polling.
  cat >"$ADMIN_PROPS" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

# Format the storage once. meta.properties is written by the format step, so
# its presence means "already formatted"; --ignore-formatted makes a repeated
# format harmless anyway. Never reformat existing data.
format_storage() {
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    return 0
  fi
  local cluster_id
  cluster_id="$(kafka_tool kafka.tools.StorageTool random-uuid 2>>"$TOOLS_LOG" | tail -n1)"
  [[ -n "$cluster_id" ]] || { err "StorageTool random-uuid failed"; show_logs; exit 1; }
  say "formatting storage (cluster id $cluster_id)"
  if ! kafka_tool kafka.tools.StorageTool format --ignore-formatted \
        -t "$cluster_id" -c "$PROPS" >>"$TOOLS_LOG" 2>&1; then
    err "StorageTool format failed"; show_logs; exit 1
  fi
}

start_broker() {
  : >"$STDOUT_LOG"
  rm -f "$PID_FILE"
  # setsid + nohup: the broker gets its own session, so it survives the
  # calling shell / test runner and is not hit by its Ctrl-C. The inner bash
  # writes its own pid and then execs java, so the pid file holds the JVM's
  # pid no matter how setsid forks. Before exec it closes every inherited fd
  # above 2: the lock fd (see take_lock) and any pipe of the caller, which
  # the long-lived JVM would otherwise hold open.
  # shellcheck disable=SC2086,SC2016  # KAFKA_HEAP_OPTS is a list of JVM flags
  setsid nohup bash -c 'echo $$ >"$0"
    for fd in /proc/$$/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-"; done
    exec "$@"' "$PID_FILE" \
    "$JAVA" $KAFKA_HEAP_OPTS \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$STATE_DIR" \
    -Dlog4j2.configurationFile="$SCRIPT_DIR/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$STDOUT_LOG" 2>&1 &
  local _
  for _ in $(seq 50); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.1
  done
  [[ -s "$PID_FILE" ]] || { err "broker did not start"; show_logs; exit 1; }
  say "started broker pid $(cat "$PID_FILE") (log: $SERVER_LOG)"
}

# Ready = a real metadata round trip succeeds (list topics), not just an open
# port: the port opens before the broker has caught up with the metadata log.
wait_ready() {
  local deadline=$((SECONDS + KAFKA_READY_TIMEOUT)) pid
  while :; do
    pid="$(broker_pid)"
    if [[ -z "$pid" ]]; then
      err "broker process exited during startup"; show_logs; exit 1
    fi
    if port_open "$KAFKA_PORT" &&
       TOOL_TIMEOUT=30 kafka_tool org.apache.kafka.tools.TopicCommand \
         --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_PROPS" \
         --list >/dev/null 2>>"$TOOLS_LOG"; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      err "broker (pid $pid) not ready after ${KAFKA_READY_TIMEOUT}s; it is left running for inspection, stop it with: $0 down"
      show_logs; exit 1
    fi
    sleep 1
  done
}

create_topics() {
  local t
  for t in "${APP_TOPICS[@]}"; do
    if ! kafka_tool org.apache.kafka.tools.TopicCommand \
          --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_PROPS" \
          --create --if-not-exists --topic "$t" \
          --partitions "$KAFKA_PARTITIONS" --replication-factor 1 \
          >>"$TOOLS_LOG" 2>&1; then
      err "could not create topic $t"; show_logs; exit 1
    fi
  done
  say "topics ensured: ${APP_TOPICS[*]} (${KAFKA_PARTITIONS} partitions)"
}

# Wait for a pid to disappear, up to $2 seconds. Returns 1 on timeout.
wait_gone() {
  local pid="$1" deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

cmd_up() {
  take_lock
  local pid started=$SECONDS
  pid="$(broker_pid)"
  if [[ -n "$pid" ]] && ! grep -qxF "listeners=PLAINTEXT://$BOOTSTRAP,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT" "$PROPS"; then
    # Running, but started with other ports: say so instead of waiting for a
    # port the broker will never open.
    err "this checkout's broker (pid $pid) is running with $(grep '^listeners=' "$PROPS"), not KAFKA_PORT=$KAFKA_PORT/KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT; run '$0 down' first"
    exit 1
  fi
  if [[ -n "$pid" ]] && port_open "$KAFKA_PORT"; then
    say "already running (pid $pid) on $BOOTSTRAP"
    return 0
  fi
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
      if port_open "$p"; then
        err "port 127.0.0.1:$p is already used by another process (not this checkout's broker); set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
        exit 1
      fi
    done
    command -v "$JAVA" >/dev/null || { err "java not found (Java 17+ needed)"; exit 1; }
    ensure_libs
    write_config
    format_storage
    start_broker
  else
    # Process alive but port not answering yet: a start is in progress
    # (e.g. an earlier `up` was interrupted while waiting). Just wait for it.
    say "broker pid $pid is starting; waiting for it"
  fi
  wait_ready
  create_topics
  say "ready on $BOOTSTRAP after $((SECONDS - started))s"
}

cmd_down() {
  take_lock
  local pid
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  say "stopping pid $pid (SIGTERM, up to ${KAFKA_STOP_TIMEOUT}s)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$KAFKA_STOP_TIMEOUT"; then
    say "still alive after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || { err "pid $pid did not die"; exit 1; }
  fi
  rm -f "$PID_FILE"
  say "stopped"
}

# No lock on purpose: a fault test must be able to crash the broker at any
# moment, even while another kafka.sh holds the lock.
cmd_kill9() {
  local pid
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    say "not running"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || { err "pid $pid did not die"; exit 1; }
  rm -f "$PID_FILE"
  say "killed pid $pid (SIGKILL)"
}

# The PLAINTEXT port this checkout's broker was started with (server.properties
# is written just before the start, and `up` never rewrites it while it runs).
started_port() {
  sed -n 's/^listeners=PLAINTEXT:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$PROPS" 2>/dev/null | head -n1
}

# True if process $1 itself holds a listening TCP socket on 127.0.0.1:$2 (so
# an open port is really its, not another checkout's broker's).
listens_on() {
  local pid="$1" hex inode
  hex="$(printf '%04X' "$2")"
  for inode in $(awk -v port=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == port {print $10}'                    /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
    if find "/proc/$pid/fd" -maxdepth 1 -lname "socket:\[$inode\]" 2>/dev/null | grep -q .; then
      return 0
    fi
  done
  return 1
}

cmd_status() {
  local pid started
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    if port_open "$KAFKA_PORT"; then
      say "not running; $BOOTSTRAP answers, but it is not this checkout's broker (another checkout's or a system Kafka): do not use it, set KAFKA_PORT or run '$0 up' on a free port"
    else
      say "not running"
    fi
    return 1
  fi
  started="$(started_port)"
  if [[ -n "$started" && "$started" != "$KAFKA_PORT" ]]; then
    say "this checkout's broker (pid $pid) runs on 127.0.0.1:$started, not KAFKA_PORT=$KAFKA_PORT; use KAFKA_PORT=$started, or '$0 down' and up again"
    return 1
  fi
  # Looked at a few times: the listening socket is found by scanning the broker's
  # thousands of open files, which a busy broker changes under the scan; one miss
  # once failed a test on a loaded machine with the broker listening all along.
  local try
  for try in 1 2 3; do
    if listens_on "$pid" "$KAFKA_PORT"; then
      say "running (pid $pid) on $BOOTSTRAP"
      return 0
    fi
    [[ "$try" == 3 ]] || sleep 1
  done
  if port_open "$KAFKA_PORT"; then
    say "this checkout's broker (pid $pid) is alive, but $BOOTSTRAP is answered by another process"
  else
    say "process $pid alive but $BOOTSTRAP not answering"
  fi
  return 1
}

cmd_reset() {
  cmd_down
  # The lock file lives inside STATE_DIR; fd 9 stays valid after the unlink.
  rm -rf "$STATE_DIR"
  say "deleted $STATE_DIR (next up formats a new cluster)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kill9) cmd_kill9 ;;
  reset) cmd_reset ;;
  *) echo "usage: $0 {up|down|status|kill9|reset}" >&2; exit 2 ;;
esac
