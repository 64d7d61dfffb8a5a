#!/bin/sh
# authflow-postgres: the PostgreSQL image's entrypoint; arguments go to postgres.
# On the first start (an empty $PGDATA): initdb, the settings below, the database $POSTGRES_DB,
# and the scripts in /docker-entrypoint-initdb.d, run against a server that listens on its unix
# socket only (so no health check over TCP sees it as ready). Then the server itself, as user
# postgres, on every address: local connections are trusted, TCP ones need a password
# (POSTGRES_PASSWORD for the superuser $POSTGRES_USER).
set -eu
: "${PGDATA:=/var/lib/postgresql/data}" "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=authflow}"
export PGDATA POSTGRES_USER POSTGRES_DB

if [ "$(id -u)" -eq 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  cd /
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

initialized="$PGDATA/authflow-initialized"
if [ -s "$PGDATA/PG_VERSION" ] && [ ! -e "$initialized" ]; then
  echo "authflow-postgres: an earlier first start of $PGDATA failed before its end; remove the volume and start again" >&2
  exit 1
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "authflow-postgres: set POSTGRES_PASSWORD (the superuser's password for connections over TCP)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  # Other containers connect over the network, with a password.
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # As scripts/cluster does: pg_cron preloaded, in the database authflow lives in; its jobs run
  # as background workers, so they need no password.
  cat >>"$PGDATA/postgresql.conf" <<CONF

# authflow-postgres
listen_addresses = '*'
shared_preload_libraries = 'pg_cron'
cron.database_name = '$POSTGRES_DB'
cron.use_background_workers = on
max_worker_processes = 16
CONF
  # The init server: unix socket only.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -t 60 start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -v db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  for script in /docker-entrypoint-initdb.d/*; do
    case "$script" in
      *.sh) echo "authflow-postgres: running $script"; sh "$script" ;;
      *.sql) echo "authflow-postgres: running $script"; psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$script" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
  touch "$initialized"
  echo "authflow-postgres: initialized $PGDATA"
fi

exec postgres -D "$PGDATA" "$@"
