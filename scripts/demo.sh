#!/usr/bin/env bash
# `make run`: starts the console and three local demo clusters (a
# coordinator and three workers each, caching a sample dataset from a local
# directory), registers the clusters in the console, and prints its URL. Ctrl-C stops every
# process this script started. State lives under .run/demo, so a second run
# finds the same clusters (same ids) and the same console database.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN_DIR=${RINGSIDE_BIN_DIR:-${CARGO_TARGET_DIR:-target}/debug}
STATE=${RINGSIDE_DEMO_DIR:-.run/demo}
mkdir -p "$STATE"
# Absolute, for the properties files: RINGSIDE_DEMO_DIR may be either.
STATE_DIR=$(cd "$STATE" && pwd)
CONSOLE_PORT=${RINGSIDE_DEMO_CONSOLE_PORT:-3000}
CLUSTERS=("eu-west:20001:eu-west-1" "us-east:20002:us-east-1" "ap-south:20003:ap-south-1")
WORKERS=3

pids=()
stop_all() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo
    echo "stopping ${#pids[@]} processes"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all INT TERM EXIT

wait_healthy() {
  local url=$1 name=$2
  for _ in $(seq 1 100); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$name did not become ready; see $STATE/logs" >&2
  exit 1
}

# A small sample dataset: what the demo clusters cache.
UFS="$STATE_DIR/ufs"
if [ ! -f "$UFS/README.txt" ]; then
  mkdir -p "$UFS/datasets/images-mini" "$UFS/models"
  for i in $(seq -w 0 23); do
    head -c $((256 * 1024 + 10#$i * 4096)) /dev/urandom > "$UFS/datasets/images-mini/part-00$i.bin"
  done
  head -c $((3 * 1024 * 1024)) /dev/urandom > "$UFS/models/checkpoint.bin"
  # Written last: its presence means the dataset is complete.
  echo "Sample data for the Ringside demo clusters." > "$UFS/README.txt"
fi

mkdir -p "$STATE/logs"
# A demo vendor key and one deployment license for the three clusters, made
# once: the coordinators verify it and the console's license page shows it.
if [ ! -f "$STATE/demo.license" ]; then
  "$BIN_DIR/ringside" license keygen --out "$STATE/vendor.key" --force > /dev/null
  names=()
  for spec in "${CLUSTERS[@]}"; do names+=(--cluster "${spec%%:*}"); done
  "$BIN_DIR/ringside" license issue --key "$STATE/vendor.key" --customer "Ringside demo" \
    --kind deployment "${names[@]}" --days 365 --max-workers 10 --max-capacity 1GiB \
    --id L-DEMO --out "$STATE/demo.license.tmp" > /dev/null
  mv "$STATE/demo.license.tmp" "$STATE/demo.license"
fi
VENDOR_PUB=$(cat "$STATE/vendor.pub")
LICENSE=$(cat "$STATE/demo.license")
for spec in "${CLUSTERS[@]}"; do
  IFS=: read -r name port _labels <<<"$spec"
  conf="$STATE/$name/conf"
  mkdir -p "$conf"
  cat > "$conf/ringside-site.properties" <<PROPS
# Demo cluster $name, written by scripts/demo.sh
ringside.cluster.name=$name
ringside.ufs.root=$UFS
ringside.coordinator.bind.host=127.0.0.1
ringside.coordinator.port=$port
ringside.coordinator.address=http://127.0.0.1:$port
ringside.coordinator.metastore.dir=$STATE_DIR/$name/metastore
ringside.worker.bind.host=127.0.0.1
ringside.worker.pagestore.size=64MiB
ringside.worker.pagestore.reserved.size=8MiB
ringside.license.verification.key=$VENDOR_PUB
ringside.license=$LICENSE
ringside.security.cluster.token.file=$conf/cluster.token
ringside.coordinator.security.console.jwks.url=http://127.0.0.1:$CONSOLE_PORT/api/v1/jwks.json
PROPS
  # The coordinator writes the cluster token at its first start; the
  # workers read it, and control calls without it (or the console's
  # signature) are refused.
  "$BIN_DIR/ringside" --conf "$conf" process start coordinator > "$STATE/logs/$name.log" 2>&1 &
  pids+=($!)
  wait_healthy "http://127.0.0.1:$port" "coordinator $name"
  for w in $(seq 1 $WORKERS); do
    wdir="$STATE_DIR/$name/worker-$w"
    "$BIN_DIR/ringside" --conf "$conf" \
      --set "ringside.worker.port=$((port + 100 * w))" \
      --set "ringside.worker.s3.port=$((port + 100 * w + 50))" \
      --set "ringside.worker.pagestore.dir=$wdir/pages" \
      --set "ringside.worker.identity.uuid.file.path=$wdir/identity" \
      process start worker > "$STATE/logs/$name-worker-$w.log" 2>&1 &
    pids+=($!)
  done
done

# The bootstrap admin's password goes to a file (mode 0600) that this
# script reads to log in and register the clusters, and shows below.
PASSWORD_FILE="$STATE/console/bootstrap-password"
"$BIN_DIR/ringside-console" --listen "127.0.0.1:$CONSOLE_PORT" --data-dir "$STATE/console" \
  --bootstrap-password-file "$PASSWORD_FILE" \
  > "$STATE/logs/console.log" 2>&1 &
pids+=($!)
CONSOLE="http://127.0.0.1:$CONSOLE_PORT"
wait_healthy "$CONSOLE" console
PASSWORD=$(cat "$PASSWORD_FILE")
COOKIES="$STATE/console/demo-cookies"
CSRF=$(curl -sS -c "$COOKIES" -X POST "$CONSOLE/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p')
[ -n "$CSRF" ] || { echo "cannot log in to the console as admin" >&2; exit 1; }

for spec in "${CLUSTERS[@]}"; do
  IFS=: read -r name port region <<<"$spec"
  wait_healthy "http://127.0.0.1:$port" "coordinator $name"
  status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$CONSOLE/api/v1/clusters" \
    -b "$COOKIES" -H "x-csrf-token: $CSRF" -H 'content-type: application/json' \
    -d "{\"name\":\"$name\",\"coordinator_url\":\"http://127.0.0.1:$port\",\"region\":\"$region\",\"labels\":{\"env\":\"demo\"}}")
  case $status in
    201) echo "registered $name (http://127.0.0.1:$port)" ;;
    409) echo "$name already registered (http://127.0.0.1:$port)" ;;
    *) echo "registering $name failed with HTTP $status" >&2; exit 1 ;;
  esac
done

echo
echo "Ringside console: $CONSOLE"
echo "log in as admin with password $PASSWORD (kept in $PASSWORD_FILE)"
echo "three demo clusters are up, $WORKERS workers each; logs in $STATE/logs; Ctrl-C stops everything"
echo "try: $BIN_DIR/ringside --conf $STATE/eu-west/conf info nodes"
echo "     $BIN_DIR/ringside --conf $STATE/eu-west/conf fs ls /datasets/images-mini"
wait -n "${pids[@]}"
echo "a process exited on its own; see $STATE/logs" >&2
