# Shared by the scripts that run one test server in the background from this
# checkout (deploy/keycloak/keycloak.sh, deploy/s3/s3.sh). Sourced, not run.
# The caller sets DAEMON_NAME, STATE_DIR, PID_FILE, LOG_FILE and LOCK_FILE.

say() { echo "[$DAEMON_NAME] $*"; }
err() { echo "[$DAEMON_NAME] ERROR: $*" >&2; }

# One caller at a time per state dir (a second one waits up to $1 seconds).
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$LOCK_FILE"
  flock -w "$1" 9 || { err "could not get $LOCK_FILE within $1 s"; exit 1; }
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# The pid in PID_FILE if it is alive and its command line contains $1 (this
# checkout's binary or state dir): never another checkout's server, nor a
# process that reused the pid.
owned_pid() {
  local pid=""
  [[ -f "$PID_FILE" ]] && pid="$(tr -dc '0-9' <"$PID_FILE")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
     tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1"; then
    echo "$pid"
  fi
}

show_log() {
  [[ -s "$LOG_FILE" ]] && { echo "----- tail of $LOG_FILE -----" >&2; tail -n 40 "$LOG_FILE" >&2; }
  return 0
}

# SIGTERM pid $1, SIGKILL after $2 seconds; the pid file goes either way.
stop_pid() {
  local pid="$1" deadline
  if [[ -z "$pid" ]]; then rm -f "$PID_FILE"; say "not running"; return 0; fi
  say "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; sleep 1; break; fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  say "stopped"
}
