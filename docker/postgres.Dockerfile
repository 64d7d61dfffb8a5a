# PostgreSQL 15 with pg_cron and authflow, shipped as tested: the build, the test suite and the
# runtime are all Debian 12 with Debian's postgresql-15 and postgresql-15-cron (the packages
# scripts/install-deps installs for make run and CI), and the runtime installs exactly the package
# versions the tests ran against.
#   docker build -f docker/postgres.Dockerfile -t authflow-postgres .
# The check stage runs the whole test suite; the final stage copies from it, so a build whose
# tests fail produces no image.

FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/install-deps && make && make install

# The test cluster takes a port nobody listens on (AUTHFLOW_PGPORT), not a fixed one. The versions
# of what the tests ran on are recorded for the runtime stage.
FROM build AS check
RUN AUTHFLOW_PGPORT=$(scripts/ports free 54329) make test \
 && dpkg-query -W -f='${Package}=${Version}\n' postgresql-15 postgresql-client-15 postgresql-15-cron \
      postgresql-common postgresql-client-common libpq5 libssl3 >/tested-packages

FROM debian:12 AS runtime
COPY --from=check /tested-packages /usr/share/authflow/tested-packages
# No 'main' cluster from the package (as in scripts/install-deps): the entrypoint makes its own.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/authflow.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(cat /usr/share/authflow/tested-packages) \
 && rm -rf /var/lib/apt/lists/*
COPY --from=check /usr/lib/postgresql/15/lib/authflow.so /usr/lib/postgresql/15/lib/
COPY --from=check /usr/share/postgresql/15/extension/authflow.control /usr/share/postgresql/15/extension/
COPY --from=check /usr/share/postgresql/15/extension/authflow--*.sql /usr/share/postgresql/15/extension/
COPY docker/entrypoint.sh /usr/local/bin/authflow-postgres
COPY docker/initdb/10-authflow.sh /docker-entrypoint-initdb.d/
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    POSTGRES_USER=postgres \
    POSTGRES_DB=authflow
RUN mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s CMD ["pg_isready", "-h", "127.0.0.1", "-U", "postgres", "-d", "authflow"]
ENTRYPOINT ["/usr/local/bin/authflow-postgres"]
