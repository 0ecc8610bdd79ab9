# Sourced by the deploy scripts: where each service keeps its data and which
# bus it uses. BUS=sql (default): SQLite files under var/ and the SQL event
# log. BUS=kafka: the PostgreSQL and Kafka of `make infra-up`.
# Anything already set in the environment wins.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="${CAPAFLOW_VAR:-$ROOT/var}"
BUS="${BUS:-sql}"
PG_PORT="${PG_PORT:-15432}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
export NONCONFORMITY_PORT="${NONCONFORMITY_PORT:-8001}"
export CAPA_PORT="${CAPA_PORT:-8002}"
export NOTIFICATIONS_PORT="${NOTIFICATIONS_PORT:-8003}"
export WEB_PORT="${WEB_PORT:-8000}"

# Hashed API keys every service reads; `make run` provisions development keys.
export CAPAFLOW_CREDENTIALS_FILE="${CAPAFLOW_CREDENTIALS_FILE:-$VAR/api-keys.json}"

# Loopback-only development: webhook subscriptions may target this machine.
# (Production keeps the SSRF guard's default: no private or loopback targets.)
# Links in e-mails and feeds: the pages of this run's UI and services.
export NOTIFICATIONS_UI_BASE_URL="${NOTIFICATIONS_UI_BASE_URL:-http://127.0.0.1:$WEB_PORT}"
export CAPA_UI_BASE_URL="${CAPA_UI_BASE_URL:-http://127.0.0.1:$WEB_PORT}"
export NOTIFICATIONS_PUBLIC_BASE_URL="${NOTIFICATIONS_PUBLIC_BASE_URL:-http://127.0.0.1:$CAPA_PORT}"
export NOTIFICATIONS_NONCONFORMITY_BASE_URL="${NOTIFICATIONS_NONCONFORMITY_BASE_URL:-http://127.0.0.1:$NONCONFORMITY_PORT}"
export NOTIFICATIONS_FEED_BASE_URL="${NOTIFICATIONS_FEED_BASE_URL:-http://127.0.0.1:$NOTIFICATIONS_PORT}"
export NOTIFICATIONS_ALLOWED_NETWORKS="${NOTIFICATIONS_ALLOWED_NETWORKS:-[\"127.0.0.0/8\"]}"

for svc in nonconformity capa notifications; do
  prefix="$(echo "$svc" | tr a-z A-Z)_"
  if [ "$BUS" = kafka ]; then
    url="postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/capaflow_$svc"
  else
    url="sqlite+aiosqlite:///$VAR/$svc.sqlite"
  fi
  eval "export ${prefix}DATABASE_URL=\"\${${prefix}DATABASE_URL:-$url}\""
  eval "export ${prefix}BUS=\"\${${prefix}BUS:-$BUS}\""
  eval "export ${prefix}BUS_DATABASE_URL=\"\${${prefix}BUS_DATABASE_URL:-sqlite+aiosqlite:///$VAR/events.sqlite}\""
  eval "export ${prefix}CREDENTIALS_FILE=\"\${${prefix}CREDENTIALS_FILE:-$CAPAFLOW_CREDENTIALS_FILE}\""
  eval "export ${prefix}KAFKA_BOOTSTRAP_SERVERS=\"\${${prefix}KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}\""
done

# The web UI's own database (sign-in sessions only): a SQLite file for one UI
# process; with BUS=kafka the PostgreSQL database capaflow_web, which any number
# of UI replicas share.
if [ "$BUS" = kafka ]; then
  export WEB_DATABASE_URL="${WEB_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/capaflow_web}"
else
  export WEB_DATABASE_URL="${WEB_DATABASE_URL:-sqlite+aiosqlite:///$VAR/web.sqlite}"
fi
