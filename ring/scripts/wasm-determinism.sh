#!/usr/bin/env bash
# Builds the placement checksum for wasm32-unknown-unknown (what the browser
# console runs), executes it in Node and compares it with the value the native
# test `placement_checksum_is_pinned` asserts. Same number = same owners.
set -euo pipefail
ring_dir=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-/tmp/target-ring-wasm}
cargo build --quiet --release -j1 \
  --manifest-path "$ring_dir/wasm-check/Cargo.toml" \
  --target wasm32-unknown-unknown --target-dir "$target_dir"
wasm="$target_dir/wasm32-unknown-unknown/release/ringside_ring_wasm_check.wasm"
expected=$(grep -oE 'PINNED_CHECKSUM: u64 = [0-9_]+' "$ring_dir/tests/targets.rs" | grep -oE '[0-9_]+$' | tr -d _)
node -e '
const fs = require("fs");
const [wasm, expected] = process.argv.slice(1);
WebAssembly.instantiate(fs.readFileSync(wasm), {}).then(({ instance }) => {
  const got = BigInt.asUintN(64, instance.exports.placement_checksum()).toString();
  if (got !== expected) {
    console.error(`wasm32 checksum ${got} != native ${expected}`);
    process.exit(1);
  }
  console.log(`wasm32 placement checksum ${got} matches native`);
});
' "$wasm" "$expected"
