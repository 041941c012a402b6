# syntax=docker/dockerfile:1
#
# The Ringside image: `ringside` (CLI, coordinator, worker) and
# `ringside-console` with the console's site (WASM, JS, CSS), on Debian 12.
# The Kubernetes manifests in deploy/ run it; deploy/README.md shows how to
# build and push it:
#
#   docker build -t <REGISTRY>/ringside:<TAG> --build-arg RINGSIDE_RELEASE=<TAG> .
#
# The build stage installs what `make setup` installs (scripts/setup.sh) and
# builds what `make build` builds, in release mode. Its toolchain layers
# (cargo-leptos alone is ~25 minutes on 2 cores) stay cached until the
# versions change.

# ---------------------------------------------------------------- build
FROM rust:1.95-bookworm AS build

# etcd-client compiles etcd's protos with protoc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*

# Node 20 for Tailwind and npm's binaryen (wasm-opt): Debian 12's Node is 18,
# and a WASM optimised by its binaryen 108 never hydrates in the browser.
COPY --from=node:20-bookworm-slim /usr/local/bin/node /usr/local/bin/node
COPY --from=node:20-bookworm-slim /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version

RUN rustup target add wasm32-unknown-unknown

# 0.3.7 and later need a newer rustc than 1.95 (as in scripts/setup.sh).
ARG CARGO_LEPTOS_VERSION=0.3.6
RUN cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked

WORKDIR /src

# cargo-leptos runs whatever wasm-bindgen is on PATH, and it must match the
# wasm-bindgen crate exactly, so the version comes from Cargo.lock. Not
# --locked: its lockfile names a webpki-roots release the registry no
# longer has.
COPY Cargo.lock ./
RUN version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock) \
 && test -n "$version" \
 && cargo install wasm-bindgen-cli --version "$version"

COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY . .

# The name `ringside info version` and every daemon report; the crate's
# version when not given.
ARG RINGSIDE_RELEASE=
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    if [ -n "$RINGSIDE_RELEASE" ]; then export RINGSIDE_RELEASE; else unset RINGSIDE_RELEASE; fi \
 && cargo leptos build --release \
 && cargo build --release --locked -p ringside-cli --bin ringside \
 && mkdir -p /out \
 && cp target/release/ringside target/release/ringside-console /out/ \
 && cp -r target/site /out/site \
 && /out/ringside info version

# -------------------------------------------------------------- runtime
FROM debian:bookworm-slim AS runtime

# CA certificates for S3 over HTTPS and https:// coordinators.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# The user every Ringside container runs as (uid 10001 in deploy/base).
RUN groupadd --system --gid 10001 ringside \
 && useradd --system --uid 10001 --gid ringside --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin ringside \
 && install -d -o ringside -g ringside /var/lib/ringside-console

COPY --from=build /out/ringside /out/ringside-console /usr/local/bin/
COPY --from=build /out/site /usr/share/ringside/site

# Where the console finds its site and keeps its database; it listens on
# all interfaces in a container. Daemons read their configuration from
# RINGSIDE_CONF_DIR, which the manifests set to the mounted ConfigMap.
ENV LEPTOS_SITE_ROOT=/usr/share/ringside/site \
    RINGSIDE_CONSOLE_LISTEN=0.0.0.0:3000 \
    RINGSIDE_CONSOLE_DATA_DIR=/var/lib/ringside-console

USER 10001:10001
# coordinator, worker HTTP, worker S3, console
EXPOSE 19999 29999 29998 3000
CMD ["ringside", "--help"]
