#!/usr/bin/env bash
# `make test`: start the real Kafka broker, PostgreSQL, Keycloak and the
# S3-compatible store (unless already up), run every test, and stop again
# whatever this script started.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PG_PORT="${PG_PORT:-15432}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KEYCLOAK_PORT="${KEYCLOAK_PORT:-18080}"

started=no
keycloak_started=no
keycloak_job=""
s3_started=no
s3_job=""
cleanup() {
  if [ -n "$keycloak_job" ]; then wait "$keycloak_job" 2>/dev/null || true; fi
  if [ -n "$s3_job" ]; then wait "$s3_job" 2>/dev/null || true; fi
  if [ "$keycloak_started" = yes ]; then deploy/keycloak/keycloak.sh down || true; fi
  if [ "$s3_started" = yes ]; then deploy/s3/s3.sh down || true; fi
  if [ "$started" = yes ]; then deploy/infra.sh down || true; fi
}
trap cleanup EXIT

# Keycloak (the OpenID Connect provider of the sign-in tests) starts in the
# background first: its first start takes about a minute, spent while the rest
# is prepared. Its readiness is awaited below, before any test runs.
mkdir -p var/infra
if ! deploy/keycloak/keycloak.sh status >/dev/null 2>&1; then
  keycloak_started=yes
  deploy/keycloak/keycloak.sh up >var/infra/keycloak-up.log 2>&1 &
  keycloak_job=$!
fi

# The S3-compatible store of the evidence-store tests (SeaweedFS) starts in the
# background too: the first run builds it from its Go module (several minutes,
# once per machine); later starts take a few seconds.
if ! deploy/s3/s3.sh status >/dev/null 2>&1; then
  s3_started=yes
  deploy/s3/s3.sh up >var/infra/s3-up.log 2>&1 &
  s3_job=$!
fi

if ! deploy/infra.sh status >/dev/null 2>&1; then
  started=yes
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
if [ -n "$keycloak_job" ]; then
  if wait "$keycloak_job"; then
    cat var/infra/keycloak-up.log
  else
    cat var/infra/keycloak-up.log >&2
    echo "warning: no Keycloak; the sign-in (OIDC) tests will not pass" >&2
  fi
  keycloak_job=""
fi
if deploy/keycloak/keycloak.sh status >/dev/null 2>&1; then
  export CAPAFLOW_TEST_OIDC_ISSUER="${CAPAFLOW_TEST_OIDC_ISSUER:-http://127.0.0.1:$KEYCLOAK_PORT/realms/capaflow}"
fi
if [ -n "$s3_job" ]; then
  if wait "$s3_job"; then
    cat var/infra/s3-up.log
  else
    cat var/infra/s3-up.log >&2
    echo "warning: no S3-compatible store; the S3 evidence-store tests will not pass" >&2
  fi
  s3_job=""
fi
if [ -z "${CAPAFLOW_TEST_S3_ENDPOINT:-}" ] && deploy/s3/s3.sh status >/dev/null 2>&1; then
  eval "$(deploy/s3/s3.sh env)"
fi
echo "infrastructure started by this run: $started (Keycloak: $keycloak_started, S3: $s3_started)"
.venv/bin/pytest -ra "$@"
