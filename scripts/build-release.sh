#!/usr/bin/env bash
# Builds `ringside` as release VERSION (what `ringside info version` and
# every daemon report) into $CARGO_TARGET_DIR/releases/VERSION/ringside, the
# layout a cluster spec's `spec.releases` directory names. The lifecycle
# test upgrades a cluster to such a build; operators can stage releases the
# same way. Its own target directory keeps the everyday build untouched.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 1 ] || [[ ! "$1" =~ ^[A-Za-z0-9._+-]+$ ]]; then
  echo "usage: $0 VERSION (letters, digits, '.', '_', '+', '-')" >&2
  exit 2
fi
version=$1
target=${CARGO_TARGET_DIR:-$PWD/target}
out="$target/releases/$version"

RINGSIDE_RELEASE="$version" cargo build -p ringside-cli --bin ringside \
  --target-dir "$target/release-builds"
mkdir -p "$out"
cp "$target/release-builds/debug/ringside" "$out/ringside.tmp"
mv "$out/ringside.tmp" "$out/ringside"
reported=$("$out/ringside" info version)
if [ "$reported" != "$version" ]; then
  echo "built $out/ringside reports $reported, not $version" >&2
  exit 1
fi
echo "release $version: $out/ringside"
