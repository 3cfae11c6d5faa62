# Build stage: compile vigil in release mode.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Cargo.toml names the integration-test target, so its sources must be present.
COPY tests ./tests
RUN cargo build --release --locked --bin vigil

# Final stage: a small image with CA certificates and a non-root user. vigil reads the
# revision from .git itself, so the image needs no git binary.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin vigil \
    && mkdir -p /var/lib/vigil \
    && chown 10001:10001 /var/lib/vigil
COPY --from=build /src/target/release/vigil /usr/local/bin/vigil
# The local fallback inventory and lease; use S3 (Settings.inventory) for anything that matters.
ENV VIGIL_STATE_DIR=/var/lib/vigil
# Probes and scrapers reach the container's address, not its loopback.
ENV VIGIL_LISTEN=0.0.0.0:9464
EXPOSE 9464
WORKDIR /var/lib/vigil
USER 10001:10001
ENTRYPOINT ["vigil"]
CMD ["run", "/desired-state"]
