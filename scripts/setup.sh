#!/usr/bin/env bash
# Installs what building and testing Ringside needs on a fresh machine, from
# the package registries only, and skips whatever is already there: a second
# run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

CARGO_LEPTOS_VERSION=0.3.6 # 0.3.7 and later need a newer rustc than 1.95

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 25 minutes on 2 cores, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

# cargo-leptos runs whatever wasm-bindgen is on PATH, and it must match the
# wasm-bindgen crate exactly, so the version comes from Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lockfile names a webpki-roots release the registry no longer has.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v etcd >/dev/null || missing+=(etcd-server)
command -v promtool >/dev/null || missing+=(prometheus)
command -v curl >/dev/null || missing+=(curl)
command -v wrk >/dev/null || missing+=(wrk) # the console's page benchmark (bench/fleet.py)
command -v protoc >/dev/null || missing+=(protobuf-compiler) # etcd-client compiles etcd's protos
command -v kubectl >/dev/null || missing+=(kubernetes-client) # renders deploy/ (deploy/test.sh)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# A real S3 server for the UFS tests, and a stock S3 SDK to read through
# the workers' S3 API.
if ! python3 -c 'import moto.server, boto3' 2>/dev/null; then
  step "installing moto[server] and boto3 from PyPI"
  python3 -m pip install --quiet "moto[server]" boto3
fi

# Kubernetes API schemas and YAML for deploy/test.sh.
if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  step "installing kubernetes-validate and PyYAML from PyPI"
  python3 -m pip install --quiet "kubernetes-validate==1.37.0" pyyaml
fi

# npm ci only when the lockfile changed since the last install.
npm_ci() {
  local dir=$1 stamp="$1/node_modules/.ringside-lock-sha256" sum
  sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    step "npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund
    echo "$sum" > "$stamp"
  fi
}
npm_ci .
npm_ci end2end

step "setup complete"
