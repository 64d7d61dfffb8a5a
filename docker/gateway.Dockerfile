# authflow-gateway: a small runtime image, running as a non-root user, configured by environment.
#   docker build -f docker/gateway.Dockerfile -t authflow-gateway .

FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/install-deps \
 && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j2 --target authflow-gateway

FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libssl3 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home authflow
COPY --from=build /src/build/gateway/authflow-gateway /usr/local/bin/authflow-gateway
USER authflow
# Pool and IO threads default to the CPUs the container may run on.
ENV AUTHFLOW_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s CMD ["curl", "-fsS", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/authflow-gateway"]
