# Build stage: compile vigil in release mode.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked --bin vigil

# Final stage: a small image with CA certificates and a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin vigil
COPY --from=build /src/target/release/vigil /usr/local/bin/vigil
USER 10001:10001
ENTRYPOINT ["vigil"]
CMD ["run", "/desired-state"]
