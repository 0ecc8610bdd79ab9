#!/usr/bin/env bash
# Applies every migration history (each service's, the web UI's session store,
# and the SQL bus's event log when BUS=sql): `capaflow migrate all` with the
# settings env.sh derives from BUS. Migrations are their own step, never run by app start.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
PY="${PYTHON_BIN:-$ROOT/.venv/bin/python}"
"$PY" -m services.cli migrate all
echo "migrated (BUS=$BUS)"
