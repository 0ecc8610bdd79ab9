#!/usr/bin/env bash
# Applies every migration history (each service's, the web UI's session store,
# and the SQL bus's event log when BUS=sql). Migrations are their own step, never run by app start.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
PY="${PYTHON_BIN:-$ROOT/.venv/bin/python}"
for svc in nonconformity capa notifications; do
  "$PY" -m "services.$svc.migrate"
done
"$PY" -m services.web.migrate
if [ "$BUS" = sql ]; then
  "$PY" -m shared.bus.migrate "$NONCONFORMITY_BUS_DATABASE_URL"
fi
echo "migrated (BUS=$BUS)"
