#!/usr/bin/env bash
# `make run`: migrate, then the three services on 127.0.0.1 (8001-8003) and the
# web UI (8000) until Ctrl-C, which stops them all.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
BIN="$ROOT/.venv/bin"
mkdir -p "$VAR"

# Status checks the broker and cluster this checkout started, on KAFKA_PORT and
# PG_PORT: never another checkout's that happens to answer there.
# CAPAFLOW_INFRA=external: the Kafka and PostgreSQL named by the *_KAFKA_* and
# *_DATABASE_URL variables are someone's own on purpose (a shared cluster, another
# checkout's broker in a test run): skip the check.
if [ "$BUS" = kafka ] && [ "${CAPAFLOW_INFRA:-}" != external ] && ! infra_status="$(PG_PORT="$PG_PORT" KAFKA_PORT="$KAFKA_PORT" \
                                          "$ROOT/deploy/infra.sh" status 2>&1)"; then
  echo "$infra_status" >&2
  echo "BUS=kafka needs this checkout's Kafka and PostgreSQL on KAFKA_PORT=$KAFKA_PORT and PG_PORT=$PG_PORT: run 'make infra-up' first (with the same ports)." >&2
  exit 1
fi
# Development keys, one per role and per monitoring source (loopback use only).
"$BIN/python" -m shared.credentials dev
# The CAPA audit trail's HMAC key, made once by `credentials dev` and kept.
if [ -z "${CAPA_AUDIT_KEY:-}" ]; then
  CAPA_AUDIT_KEY="$(cat "$(dirname "$CAPAFLOW_CREDENTIALS_FILE")/capa-audit.key")"
  export CAPA_AUDIT_KEY
fi
# After the audit key: the CAPA migration keys audit chains written before it.
PYTHON_BIN="$BIN/python" "$ROOT/deploy/migrate.sh"
# The generic signed-webhook source "generic" uses the development secret.
if [ -z "${NONCONFORMITY_WEBHOOK_SOURCES:-}" ]; then
  NONCONFORMITY_WEBHOOK_SOURCES="$("$BIN/python" -c 'import json, sys
creds = json.load(open(sys.argv[1]))
print(json.dumps({name: {"secret": secret} for name, secret in creds["webhook_secrets"].items()}))' \
    "$(dirname "$CAPAFLOW_CREDENTIALS_FILE")/dev-credentials.json")"
  export NONCONFORMITY_WEBHOOK_SOURCES
fi

pids=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "stopped"
  # Exit here: after a trap handler bash would resume where it was interrupted.
  exit 0
}
trap stop INT TERM EXIT

for svc in nonconformity capa notifications; do
  port_var="$(echo "$svc" | tr a-z A-Z)_PORT"
  "$BIN/uvicorn" "services.$svc.app:create_app" --factory --host 127.0.0.1 \
    --port "${!port_var}" --no-access-log &
  pids+=($!)
done

# The web UI: it calls the three services' public APIs; its own database
# (WEB_DATABASE_URL, from env.sh) holds only sign-in sessions.
WEB_NONCONFORMITY_URL="${WEB_NONCONFORMITY_URL:-http://127.0.0.1:$NONCONFORMITY_PORT}" \
WEB_CAPA_URL="${WEB_CAPA_URL:-http://127.0.0.1:$CAPA_PORT}" \
WEB_NOTIFICATIONS_URL="${WEB_NOTIFICATIONS_URL:-http://127.0.0.1:$NOTIFICATIONS_PORT}" \
WEB_CREDENTIALS_FILE="${WEB_CREDENTIALS_FILE:-$CAPAFLOW_CREDENTIALS_FILE}" \
  "$BIN/uvicorn" services.web.app:create_app --factory --host 127.0.0.1 --port "$WEB_PORT" \
  --no-access-log &
pids+=($!)

# Say when all three answer /readyz, so a newcomer knows when to start curling.
for svc in nonconformity capa notifications; do
  port_var="$(echo "$svc" | tr a-z A-Z)_PORT"
  for _ in $(seq 1 150); do
    if "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:${!port_var}/readyz').status_code != 200)" 2>/dev/null; then
      echo "$svc ready on http://127.0.0.1:${!port_var}  (docs: /docs)"
      break
    fi
    sleep 0.2
  done
done
for _ in $(seq 1 150); do
  if "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$WEB_PORT/healthz').status_code != 200)" 2>/dev/null; then
    echo "web UI ready on http://127.0.0.1:$WEB_PORT  (sign in with a key from var/dev-credentials.json)"
    break
  fi
  sleep 0.2
done
echo "CAPAflow is running (BUS=$BUS). Ctrl-C stops the services and the UI."
# Any one service dying stops the others: a half-running loop misleads.
wait -n "${pids[@]}" || true
