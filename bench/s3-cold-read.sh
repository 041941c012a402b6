#!/usr/bin/env bash
# Cold read of one object through a worker whose UFS is S3 (a local
# moto_server), next to a plain GET of the same object from the same server
# and to the worker's own access pattern (8 MiB ranged GETs, four in flight)
# done directly. See bench/README.md.
#
#   RINGSIDE_BIN=/path/to/release/ringside bench/s3-cold-read.sh
#
# Environment (all optional): SIZE_MIB (default 1024), REPS (default 3),
# BENCH_DIR (default /var/tmp), KEEP=1 to keep the temporary directory.
# Needs moto_server (pip install "moto[server]"), python3 with boto3, curl.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
REPS=${REPS:-3}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
SIZE=$((SIZE_MIB * 1048576))
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in moto_server curl python3; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
python3 -c 'import boto3' 2>/dev/null || die "python3 cannot import boto3"
[[ -x ${RINGSIDE_BIN:-} ]] || die "set RINGSIDE_BIN to a release ringside binary"

WORK=$(mktemp -d "$BENCH_DIR/ringside-s3-bench.XXXXXX")
mkdir -p "$WORK/logs" "$WORK/meta"
PIDS=()
WORKER_PID=
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP:-0} == 1 || $status != 0 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r MPORT CPORT WPORT SPORT <<<"$(python3 "$HERE/ports.py" 4)"
MOTO=http://127.0.0.1:$MPORT
COORD=http://127.0.0.1:$CPORT
WORKER=http://127.0.0.1:$WPORT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
COMMON=(--set ringside.ufs.root=s3://bench --set "ringside.ufs.s3.endpoint=$MOTO"
    --set "ringside.coordinator.address=$COORD" --set "ringside.security.cluster.token.file=$WORK/cluster.token")

wait_http() { # URL PID NAME
    for _ in $(seq 300); do
        curl -sf -o /dev/null "$1" && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited; see $WORK/logs/$3.log"
        sleep 0.1
    done
    die "$3 did not answer $1 in 30 s"
}
metric() { curl -sf "$WORKER/metrics" | awk -v m="$1" '$1 == m { printf "%d\n", $2 }'; }
mibps() { awk -v s="$SIZE" -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", s / 1048576 / (b - a) }'; }
read_http() { # URL; prints MiB/s
    local t0 t1 out
    t0=$EPOCHREALTIME
    out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "$1")
    t1=$EPOCHREALTIME
    [[ $out == "200 $SIZE" ]] || die "GET $1 answered '$out', expected '200 $SIZE'"
    mibps "$t0" "$t1"
}

log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); moto $(python3 -c 'import moto; print(moto.__version__)')"
moto_server -p "$MPORT" >"$WORK/logs/moto.log" 2>&1 &
PIDS+=($!)
wait_http "$MOTO/" "$!" moto
log "uploading a ${SIZE_MIB} MiB object of random bytes"
head -c "$SIZE" /dev/urandom >"$WORK/data.bin"
python3 - "$MOTO" "$WORK/data.bin" <<'EOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
s3.create_bucket(Bucket="bench")
s3.upload_file(sys.argv[2], "bench", "bench/data.bin")
EOF
rm "$WORK/data.bin"

"$RINGSIDE_BIN" "${COMMON[@]}" --set "ringside.coordinator.port=$CPORT" \
    --set ringside.coordinator.bind.host=127.0.0.1 \
    --set "ringside.coordinator.metastore.dir=$WORK/meta" \
    process start coordinator >"$WORK/logs/coordinator.log" 2>&1 &
PIDS+=($!)
wait_http "$COORD/healthz" "$!" coordinator

start_fresh_worker() {
    if [[ -n $WORKER_PID ]]; then
        kill -TERM "$WORKER_PID"
        wait "$WORKER_PID" 2>/dev/null || true
        local keep=() pid
        for pid in "${PIDS[@]}"; do [[ $pid == "$WORKER_PID" ]] || keep+=("$pid"); done
        PIDS=("${keep[@]}")
    fi
    rm -rf "$WORK/pagestore"
    "$RINGSIDE_BIN" "${COMMON[@]}" --set ringside.worker.bind.host=127.0.0.1 \
        --set "ringside.worker.port=$WPORT" --set "ringside.worker.s3.port=$SPORT" \
        --set "ringside.worker.pagestore.dir=$WORK/pagestore" \
        --set ringside.worker.pagestore.size=$((SIZE_MIB * 2))MiB \
        --set ringside.worker.pagestore.reserved.size=256MiB \
        --set "ringside.worker.identity.uuid.file.path=$WORK/worker-id" \
        process start worker >>"$WORK/logs/worker.log" 2>&1 &
    WORKER_PID=$!
    PIDS+=("$WORKER_PID")
    wait_http "$WORKER/healthz" "$WORKER_PID" worker
}

# The worker reads a run of missed pages with 8 MiB ranged GETs, four in
# flight; this does the same from Python, to tell the server's cost per
# ranged GET from the worker's own.
ranged_gets() { # URL; prints MiB/s
    python3 - "$1" "$SIZE" <<'EOF'
import concurrent.futures, sys, time, urllib.request
url, size, page = sys.argv[1], int(sys.argv[2]), 8 << 20
def get(start):
    req = urllib.request.Request(url, headers={"Range": f"bytes={start}-{min(start + page, size) - 1}"})
    with urllib.request.urlopen(req) as r:
        return len(r.read())
t0 = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    got = sum(pool.map(get, range(0, size, page)))
assert got == size, got
print(f"{size / 1048576 / (time.monotonic() - t0):.1f}")
EOF
}

ours=()
direct=()
ranged=()
for rep in $(seq "$REPS"); do
    start_fresh_worker
    ufs0=$(metric ringside_worker_bytes_read_ufs_total)
    w=$(read_http "$WORKER/api/v1/files/bench/data.bin")
    ufs1=$(metric ringside_worker_bytes_read_ufs_total)
    ((ufs1 - ufs0 == SIZE)) || die "the worker read $((ufs1 - ufs0)) bytes from S3, expected $SIZE"
    rejected=$(metric ringside_worker_cache_puts_rejected_total)
    d=$(read_http "$MOTO/bench/bench/data.bin")
    r=$(ranged_gets "$MOTO/bench/bench/data.bin")
    log "rep $rep: worker (all misses) $w MiB/s, $rejected pages not cached; one GET from moto $d MiB/s; 8 MiB ranged GETs, 4 in flight, $r MiB/s"
    ours+=("$w")
    direct+=("$d")
    ranged+=("$r")
done
python3 - "${ours[*]}" "${direct[*]}" "${ranged[*]}" <<'EOF'
import statistics, sys
ours, direct, ranged = ([float(x) for x in a.split()] for a in sys.argv[1:4])
cell = lambda xs, d=0: f"{statistics.median(xs):.{d}f} ({min(xs):.{d}f}-{max(xs):.{d}f})"
ratio = lambda a, b: cell([x / y for x, y in zip(a, b)], 2)
print("| side | MiB/s | worker / side |")
print("| --- | ---: | ---: |")
print(f"| worker, empty page store (curl) | {cell(ours)} | - |")
print(f"| one GET of the object from moto (curl) | {cell(direct)} | {ratio(ours, direct)} |")
print(f"| 8 MiB ranged GETs from moto, 4 in flight (Python) | {cell(ranged)} | {ratio(ours, ranged)} |")
EOF
