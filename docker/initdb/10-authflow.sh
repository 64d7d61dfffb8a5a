#!/bin/sh
# First start of the container: the extension, its purge job, and the gateway's role, which may
# call authflow.http and nothing else.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS authflow;
SELECT authflow.schedule_purge();
SQL
if [ -n "${AUTHFLOW_GATEWAY_PASSWORD:-}" ]; then
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
       -v password="$AUTHFLOW_GATEWAY_PASSWORD" <<'SQL'
CREATE ROLE authflow_gateway LOGIN PASSWORD :'password';
SELECT authflow.grant_http('authflow_gateway');
SQL
fi
