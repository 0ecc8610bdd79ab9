#!/usr/bin/env bash
# `make bench`: make sure Kafka + PostgreSQL are up (like deploy/test.sh), run
# the benchmarks, and stop the infrastructure again only if this script started it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

started=no
if ! deploy/infra.sh status >/dev/null 2>&1; then
  started=yes
  trap 'deploy/infra.sh down || true' EXIT
  deploy/infra.sh up
fi
echo "infrastructure started by this run: $started"
.venv/bin/python -m bench.run "$@"
