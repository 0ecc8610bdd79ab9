#!/usr/bin/env bash
# Local test/dev infrastructure: a real PostgreSQL and a real Kafka (KRaft)
# broker, both on 127.0.0.1 only. Thin wrapper around
# deploy/postgres/postgres.sh and deploy/kafka/kafka.sh (see them for the
# environment variables: PG_PORT, KAFKA_PORT, KAFKA_CONTROLLER_PORT, ...).
#
# Usage: deploy/infra.sh {up|down|status|reset}
#   up      postgres first, then kafka; prints the env lines for the tests.
#   down    stops both; never fails because one of them is already down.
#   status  exit 0 only if both are running, and are the ones this checkout
#           started (state under CAPAFLOW_INFRA_DIR, default var/infra) on
#           PG_PORT and KAFKA_PORT, not another checkout's answering there.
#   reset   down + delete all state under var/infra (new empty clusters).
set -euo pipefail

# Locate the sibling scripts from this script's own path, not the cwd.
DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
PG_SH="$DEPLOY_DIR/postgres/postgres.sh"
KAFKA_SH="$DEPLOY_DIR/kafka/kafka.sh"

# Same defaults as the two scripts, for the summary lines.
PG_PORT="${PG_PORT:-15432}"
KAFKA_PORT="${KAFKA_PORT:-19092}"

cmd_up() {
  local started=$SECONDS
  # Postgres first: it is quick, and services need it before they consume.
  "$PG_SH" up
  "$KAFKA_SH" up
  echo "[infra] up in $((SECONDS - started))s; for the tests:"
  echo "CAPAFLOW_TEST_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
  echo "CAPAFLOW_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/postgres"
}

cmd_down() {
  # Stop both even if the first one fails; report failure only at the end.
  local rc=0
  "$KAFKA_SH" down || rc=1
  "$PG_SH" down || rc=1
  return "$rc"
}

cmd_status() {
  local rc=0
  "$PG_SH" status || rc=1
  "$KAFKA_SH" status || rc=1
  return "$rc"
}

cmd_reset() {
  local rc=0
  "$KAFKA_SH" reset || rc=1
  "$PG_SH" reset || rc=1
  return "$rc"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  *) echo "usage: $0 {up|down|status|reset}" >&2; exit 2 ;;
esac
