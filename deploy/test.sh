#!/usr/bin/env bash
# `make test`: start the real Kafka broker and PostgreSQL (unless already up),
# run every test, and stop again whatever this script started.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PG_PORT="${PG_PORT:-15432}"
KAFKA_PORT="${KAFKA_PORT:-19092}"

started=no
if ! deploy/infra.sh status >/dev/null 2>&1; then
  started=yes
  trap 'deploy/infra.sh down || true' EXIT
  deploy/infra.sh up
fi

# A real Alertmanager for the end-to-end intake test.
deploy/alertmanager/ensure.sh || echo "warning: no Alertmanager; its e2e test will not pass" >&2

# Debian's Chromium for the web UI's browser test (Playwright drives it).
deploy/browser/ensure.sh || echo "warning: no Chromium; the browser test will not pass" >&2

# A pinned helm, built from its Go module into var/tools/bin, for the Helm chart test.
deploy/helm.sh >/dev/null || echo "warning: no helm; the Helm chart test will not pass" >&2

export CAPAFLOW_TEST_KAFKA_BOOTSTRAP="${CAPAFLOW_TEST_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}"
export CAPAFLOW_TEST_POSTGRES_URL="${CAPAFLOW_TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/postgres}"
echo "infrastructure started by this run: $started"
.venv/bin/pytest -ra "$@"
