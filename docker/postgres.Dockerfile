# PostgreSQL 15 with pg_cron and authflow. Built with the same steps as `make test`:
#   docker build -f docker/postgres.Dockerfile -t authflow-postgres .
# The check stage runs the whole test suite; the final stage copies from it, so a build whose
# tests fail produces no image.

FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/install-deps && make && make install

FROM build AS check
RUN make test

FROM postgres:15-bookworm AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15-cron \
 && rm -rf /var/lib/apt/lists/*
COPY --from=check /usr/lib/postgresql/15/lib/authflow.so /usr/lib/postgresql/15/lib/
COPY --from=check /usr/share/postgresql/15/extension/authflow.control /usr/share/postgresql/15/extension/
COPY --from=check /usr/share/postgresql/15/extension/authflow--*.sql /usr/share/postgresql/15/extension/
# Every new cluster preloads pg_cron, in the database authflow lives in; jobs run as background
# workers, so they need no password.
RUN printf "%s\n" "shared_preload_libraries = 'pg_cron'" "cron.database_name = 'authflow'" \
      "cron.use_background_workers = on" "max_worker_processes = 16" \
      >> /usr/share/postgresql/postgresql.conf.sample
COPY docker/initdb/10-authflow.sh /docker-entrypoint-initdb.d/
ENV POSTGRES_DB=authflow
