#!/usr/bin/env bash
# Data-plane benchmark of a Ringside worker, each measurement side by side
# with its local-disk baseline in the same run. See bench/README.md.
#
#   bench/data-plane.sh                      # build release, run everything
#   RINGSIDE_BIN=/path/to/ringside bench/data-plane.sh
#
# Environment (all optional):
#   RINGSIDE_BIN   release `ringside` binary; default: build it with
#                  cargo build --release -j1 -p ringside-cli into
#                  ${CARGO_TARGET_DIR:-/tmp/target-bench}
#   SIZE_MIB       size of the test file in MiB (default 1024)
#   REPS           repetitions of each measurement (default 3)
#   DURATION       seconds of each concurrent-load run (default 10)
#   CLIENTS        concurrent clients of the random-read test (default 64)
#   BENCH_DIR      parent of the temporary directory (default /var/tmp); it
#                  must be on a real disk, not tmpfs: it holds the UFS and
#                  the page store, both on the same disk
#   KEEP=1         keep the temporary directory (logs, raw results)
#
# Needs root (to drop the OS page cache), curl, wrk, fio, fincore
# (util-linux) and python3; missing wrk/fio are installed from Debian.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-64}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
PAGE=1048576
SIZE=$((SIZE_MIB * 1048576))
PAGES=$(((SIZE + PAGE - 1) / PAGE))
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- prerequisites ---------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root: dropping the OS page cache needs it"
for tool in curl fincore python3 awk; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v fio >/dev/null || missing+=(fio)
if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
        die "cannot install ${missing[*]} (run apt-get update first?)"
fi

if [[ -z ${RINGSIDE_BIN:-} ]]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/target-bench}
    log "building the release binary into $CARGO_TARGET_DIR"
    (cd "$ROOT" && cargo build --release -j1 -p ringside-cli) >&2
    RINGSIDE_BIN=$CARGO_TARGET_DIR/release/ringside
fi
[[ -x $RINGSIDE_BIN ]] || die "no binary at $RINGSIDE_BIN"

# --- workspace and cleanup -------------------------------------------------
WORK=$(mktemp -d "$BENCH_DIR/ringside-bench.XXXXXX")
UFS=$WORK/ufs
PS=$WORK/pagestore
FILE=$UFS/bench/data.bin
RAW=$WORK/results.tsv
mkdir -p "$UFS/bench" "$WORK/meta" "$WORK/logs"
fstype=$(stat -f -c %T "$WORK")
[[ $fstype != tmpfs ]] || die "$WORK is on tmpfs; set BENCH_DIR to a directory on a disk"

PIDS=()
WORKER_PID=
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP:-0} == 1 || $status != 0 ]]; then
        log "kept $WORK (logs in $WORK/logs)"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
CPORT=$(free_port)
WPORT=$(free_port)
SPORT=$(free_port)
while [[ $WPORT == "$CPORT" ]]; do WPORT=$(free_port); done
while [[ $SPORT == "$CPORT" || $SPORT == "$WPORT" ]]; do SPORT=$(free_port); done
COORD=http://127.0.0.1:$CPORT
WORKER=http://127.0.0.1:$WPORT
URL=$WORKER/api/v1/files/bench/data.bin
COMMON=(--set "ringside.ufs.root=$UFS" --set "ringside.coordinator.address=$COORD")

wait_http() { # URL PID NAME
    for _ in $(seq 300); do
        curl -sf -o /dev/null "$1" && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited; see $WORK/logs/$3.log"
        sleep 0.1
    done
    die "$3 did not answer $1 in 30 s"
}

start_coordinator() {
    "$RINGSIDE_BIN" "${COMMON[@]}" --set "ringside.coordinator.port=$CPORT" \
        --set ringside.coordinator.bind.host=127.0.0.1 \
        --set "ringside.coordinator.metastore.dir=$WORK/meta" \
        process start coordinator >"$WORK/logs/coordinator.log" 2>&1 &
    PIDS+=($!)
    wait_http "$COORD/healthz" "$!" coordinator
}

# A worker on an empty page store.
start_fresh_worker() {
    stop_worker
    rm -rf "$PS"
    "$RINGSIDE_BIN" "${COMMON[@]}" --set ringside.worker.bind.host=127.0.0.1 \
        --set "ringside.worker.port=$WPORT" --set "ringside.worker.s3.port=$SPORT" \
        --set "ringside.worker.pagestore.dir=$PS" \
        --set ringside.worker.pagestore.size=$((SIZE_MIB * 2))MiB \
        --set ringside.worker.pagestore.reserved.size=256MiB \
        --set "ringside.worker.identity.uuid.file.path=$WORK/worker-id" \
        process start worker >>"$WORK/logs/worker.log" 2>&1 &
    WORKER_PID=$!
    PIDS+=("$WORKER_PID")
    wait_http "$WORKER/healthz" "$WORKER_PID" worker
}

stop_worker() {
    [[ -n $WORKER_PID ]] || return 0
    kill -TERM "$WORKER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$WORKER_PID" 2>/dev/null || true
    wait "$WORKER_PID" 2>/dev/null || true
    local keep=()
    for pid in "${PIDS[@]}"; do [[ $pid == "$WORKER_PID" ]] || keep+=("$pid"); done
    PIDS=("${keep[@]}")
    WORKER_PID=
}

status_field() { curl -sf "$WORKER/api/v1/status" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
metric() { curl -sf "$WORKER/metrics" | awk -v m="$1" '$1 == m { printf "%d\n", $2 }'; }
worker_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$WORKER_PID/stat"; }
TICKS=$(getconf CLK_TCK)
cpu_secs() { awk -v a="$1" -v b="$2" -v t="$TICKS" 'BEGIN { printf "%.2f\n", (b - a) / t }'; }

# Waits until the page store holds every page of the file (background
# caching done); prints the seconds it waited.
wait_all_cached() {
    local t0=$EPOCHREALTIME pages
    for _ in $(seq 3000); do
        pages=$(status_field pages)
        [[ $pages == "$PAGES" ]] && { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }'; return 0; }
        sleep 0.1
    done
    die "page store holds $pages of $PAGES pages after 300 s"
}

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
resident() { # bytes of the given files in the OS page cache
    fincore -b -n -o RES "$@" | awk '{ s += $1 } END { printf "%d\n", s }'
}
resident_ufs() { resident "$FILE"; }
resident_ps() { find "$PS/pages" -type f -print0 | xargs -0r fincore -b -n -o RES | awk '{ s += $1 } END { printf "%d\n", s }'; }

# Checks that both sides are in the OS page cache state asked for.
expect_os_cache() { # cold|warm what bytes
    case $1 in
    cold) (($3 <= SIZE / 100)) || die "$2 should be cold but has $3 bytes in the OS page cache" ;;
    warm) (($3 >= SIZE * 99 / 100)) || die "$2 should be warm but has only $3 bytes in the OS page cache" ;;
    esac
}

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RAW"; } # test variant side rep value extra

# Times one command that reads the whole file; prints MiB/s.
mibps() { awk -v s="$SIZE" -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", s / 1048576 / (b - a) }'; }

read_worker() { # prints MiB/s and checks the answer
    local t0 t1 out
    t0=$EPOCHREALTIME
    out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "$URL")
    t1=$EPOCHREALTIME
    [[ $out == "200 $SIZE" ]] || die "worker read answered '$out', expected '200 $SIZE'"
    mibps "$t0" "$t1"
}

read_local() {
    local t0 t1
    t0=$EPOCHREALTIME
    cat "$FILE" >/dev/null
    t1=$EPOCHREALTIME
    mibps "$t0" "$t1"
}

# --- setup -----------------------------------------------------------------
log "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $WORK on $(df --output=source "$WORK" | tail -1) ($fstype)"
log "writing a ${SIZE_MIB} MiB file of random bytes to $FILE"
head -c "$SIZE" /dev/urandom >"$FILE"
sync

# Does dropping the OS page cache work here?
cat "$FILE" >/dev/null
before=$(resident_ufs)
drop_caches
after=$(resident_ufs)
if ((before >= SIZE * 99 / 100 && after <= SIZE / 100)); then
    COLD=1
    log "drop_caches works: the file went from $before to $after bytes in the OS page cache"
else
    COLD=0
    log "drop_caches did not empty the OS page cache ($before -> $after bytes): cold runs skipped, warm runs only"
fi
VARIANTS=(warm)
((COLD)) && VARIANTS=(cold warm)

start_coordinator

# --- 2. cold read through the worker (fresh page store) vs cat of the UFS file
# Every repetition starts a worker on an empty page store; the sides run in
# alternating order.
for variant in "${VARIANTS[@]}"; do
    for rep in $(seq "$REPS"); do
        ours() {
            start_fresh_worker
            if [[ $variant == cold ]]; then drop_caches; else cat "$FILE" >/dev/null; fi
            expect_os_cache "$variant" "UFS file" "$(resident_ufs)"
            local ufs0 cpu0 v cpu1 ufs1 settle
            ufs0=$(metric ringside_worker_bytes_read_ufs_total)
            cpu0=$(worker_cpu_ticks)
            v=$(read_worker)
            cpu1=$(worker_cpu_ticks)
            ufs1=$(metric ringside_worker_bytes_read_ufs_total)
            ((ufs1 - ufs0 == SIZE)) || die "cold read took $((ufs1 - ufs0)) bytes from the UFS, expected $SIZE"
            settle=$(wait_all_cached)
            sync
            record cold-read "$variant" worker "$rep" "$v" "worker_cpu_s=$(cpu_secs "$cpu0" "$cpu1") all_cached_after_s=$settle"
            log "cold-read/$variant rep $rep: worker $v MiB/s (all pages cached $settle s after the read)"
        }
        base() {
            if [[ $variant == cold ]]; then drop_caches; else cat "$FILE" >/dev/null; fi
            expect_os_cache "$variant" "UFS file" "$(resident_ufs)"
            local v
            v=$(read_local)
            record cold-read "$variant" local "$rep" "$v" ""
            log "cold-read/$variant rep $rep: cat $v MiB/s"
        }
        if ((rep % 2)); then ours; base; else base; ours; fi
    done
done

# The worker now holds every page (the last repetition waited for it).
[[ -n $WORKER_PID ]] || start_fresh_worker
if [[ $(status_field pages) != "$PAGES" ]]; then
    read_worker >/dev/null
    wait_all_cached >/dev/null
fi
sync

# --- 1. cache-hit sequential read vs cat of the same bytes ------------------
for variant in "${VARIANTS[@]}"; do
    if [[ $variant == warm ]]; then
        read_worker >/dev/null
        cat "$FILE" >/dev/null
    fi
    for rep in $(seq "$REPS"); do
        ours() {
            [[ $variant == cold ]] && drop_caches
            expect_os_cache "$variant" "page store" "$(resident_ps)"
            local hit0 ufs0 cpu0 v cpu1 hit1 ufs1
            hit0=$(metric ringside_worker_bytes_read_cache_total)
            ufs0=$(metric ringside_worker_bytes_read_ufs_total)
            cpu0=$(worker_cpu_ticks)
            v=$(read_worker)
            cpu1=$(worker_cpu_ticks)
            hit1=$(metric ringside_worker_bytes_read_cache_total)
            ufs1=$(metric ringside_worker_bytes_read_ufs_total)
            ((hit1 - hit0 == SIZE && ufs1 == ufs0)) ||
                die "hit read: $((hit1 - hit0)) bytes from cache and $((ufs1 - ufs0)) from the UFS, expected $SIZE and 0"
            record cache-hit "$variant" worker "$rep" "$v" "worker_cpu_s=$(cpu_secs "$cpu0" "$cpu1")"
            log "cache-hit/$variant rep $rep: worker $v MiB/s"
        }
        base() {
            [[ $variant == cold ]] && drop_caches
            expect_os_cache "$variant" "UFS file" "$(resident_ufs)"
            local v
            v=$(read_local)
            record cache-hit "$variant" local "$rep" "$v" ""
            log "cache-hit/$variant rep $rep: cat $v MiB/s"
        }
        if ((rep % 2)); then ours; base; else base; ours; fi
    done
done

# --- 3. concurrent random 1 MiB ranged reads of cached data -----------------
# Both sides warm in the OS page cache: this measures the serving path, not
# the disk. Ours: wrk with $CLIENTS connections; baseline: fio with $CLIENTS
# threads doing pread(2) of the same sizes at the same kind of offsets.
read_worker >/dev/null
cat "$FILE" >/dev/null
expect_os_cache warm "page store" "$(resident_ps)"
expect_os_cache warm "UFS file" "$(resident_ufs)"
for align in aligned unaligned; do
    for rep in $(seq "$REPS"); do
        ours() {
            local hit0 ufs0 cpu0 out cpu1 ufs1
            ufs0=$(metric ringside_worker_bytes_read_ufs_total)
            cpu0=$(worker_cpu_ticks)
            out=$(wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --timeout 30s -s "$HERE/random-range.lua" "$URL" -- "$SIZE" "$align" "$PAGE" | tail -1)
            cpu1=$(worker_cpu_ticks)
            ufs1=$(metric ringside_worker_bytes_read_ufs_total)
            ((ufs1 == ufs0)) || die "random reads took $((ufs1 - ufs0)) bytes from the UFS; expected all hits"
            python3 - "$out" "$rep" "$align" "$PAGE" "$(cpu_secs "$cpu0" "$cpu1")" >>"$RAW" <<'EOF'
import json, sys
r = json.loads(sys.argv[1]); rep, align, block, cpu = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
if r["errors"]:
    sys.exit(f"wrk counted {r['errors']} errors")
secs = r["duration_us"] / 1e6
mib_s = r["requests"] * block / 1048576 / secs
print(f"random-1MiB\t{align}\tworker\t{rep}\t{mib_s:.1f}\tp50_ms={r['p50_us']/1000:.2f} p99_ms={r['p99_us']/1000:.2f} requests={r['requests']} worker_cpu_s={cpu:.2f} secs={secs:.2f}")
EOF
            log "random/$align rep $rep (wrk): $(tail -1 "$RAW" | cut -f5-)"
        }
        base() {
            local extra=()
            [[ $align == unaligned ]] && extra=(--blockalign=1)
            fio --name=baseline --filename="$FILE" --rw=randread --bs="$PAGE" "${extra[@]}" \
                --numjobs="$CLIENTS" --thread --ioengine=psync --invalidate=0 --norandommap \
                --randrepeat=0 --time_based --runtime="$DURATION" --group_reporting \
                --output-format=json >"$WORK/fio.json" 2>"$WORK/logs/fio.err"
            python3 - "$WORK/fio.json" "$rep" "$align" >>"$RAW" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
job = json.loads(text[text.index("{"):])["jobs"][0]["read"]
p = job["clat_ns"]["percentile"]
print(f"random-1MiB\t{sys.argv[3]}\tlocal\t{sys.argv[2]}\t{job['bw_bytes'] / 1048576:.1f}\tp50_ms={p['50.000000']/1e6:.2f} p99_ms={p['99.000000']/1e6:.2f} requests={job['total_ios']}")
EOF
            log "random/$align rep $rep (fio): $(tail -1 "$RAW" | cut -f5-)"
        }
        if ((rep % 2)); then ours; base; else base; ours; fi
    done
done
expect_os_cache warm "page store" "$(resident_ps)"

# --- results -----------------------------------------------------------------
python3 - "$RAW" "$COLD" "$SIZE_MIB" "$REPS" "$CLIENTS" "$DURATION" <<'EOF'
import statistics, sys
from collections import defaultdict
raw, cold, size_mib, reps, clients, duration = sys.argv[1], sys.argv[2] == "1", *sys.argv[3:]
rows = defaultdict(list)
for line in open(raw):
    test, variant, side, rep, value, extra = line.rstrip("\n").split("\t")
    kv = dict(x.split("=") for x in extra.split())
    rows[(test, variant, side)].append((int(rep), float(value), kv))

def med(xs):
    return f"{statistics.median(xs):.0f} ({min(xs):.0f}-{max(xs):.0f})"
def medf(xs, digits=2):
    return f"{statistics.median(xs):.{digits}f} ({min(xs):.{digits}f}-{max(xs):.{digits}f})"

targets = {"cache-hit": 0.6, "cold-read": 0.8, "random-1MiB": None}
names = {
    "cache-hit": "1. cache-hit sequential read, curl vs cat",
    "cold-read": "2. cold read (empty page store), curl vs cat",
    "random-1MiB": f"3. {clients} clients random 1 MiB ranged reads, {duration} s, wrk vs fio pread",
}
print()
print(f"Results: {size_mib} MiB file, {reps} repetitions, median (min-max); throughput in MiB/s.")
print("OS page cache: 'cold' = dropped before each side, 'warm' = file (and page store) resident for both sides.")
print()
print("| measurement | OS cache | ours (worker) | baseline (local) | ratio | target | met? |")
print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
for test in ["cache-hit", "cold-read", "random-1MiB"]:
    variants = sorted({v for (t, v, s) in rows if t == test}, key=lambda v: ["cold", "warm", "aligned", "unaligned"].index(v))
    for variant in variants:
        ours = {r: v for r, v, _ in rows[(test, variant, "worker")]}
        base = {r: v for r, v, _ in rows[(test, variant, "local")]}
        ratios = [ours[r] / base[r] for r in sorted(ours) if r in base]
        ratio = statistics.median(ratios)
        target = targets[test]
        cache = "warm" if test == "random-1MiB" else variant
        label = names[test] + (f", {variant}" if test == "random-1MiB" else "")
        met = "-" if target is None else ("yes" if ratio >= target else "**no**")
        tgt = "-" if target is None else f">= {target}"
        print(f"| {label} | {cache} | {med(list(ours.values()))} | {med(list(base.values()))} | {ratio:.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | {tgt} | {met} |")
print()
print("Latency of the random reads (ms), median (min-max) over the repetitions:")
print()
print("| reads | side | p50 | p99 | requests per run |")
print("| --- | --- | ---: | ---: | ---: |")
for variant in ["aligned", "unaligned"]:
    for side, tool in [("worker", "worker via wrk"), ("local", "local pread via fio")]:
        runs = rows.get(("random-1MiB", variant, side), [])
        if not runs:
            continue
        p50 = [float(kv["p50_ms"]) for _, _, kv in runs]
        p99 = [float(kv["p99_ms"]) for _, _, kv in runs]
        req = [float(kv["requests"]) for _, _, kv in runs]
        print(f"| {variant} | {tool} | {medf(p50)} | {medf(p99)} | {med(req)} |")
print()
print("Worker CPU seconds per run (user+system), median (min-max):")
print()
for (test, variant, side), runs in sorted(rows.items()):
    if side == "worker":
        cpu = [float(kv["worker_cpu_s"]) for _, _, kv in runs if "worker_cpu_s" in kv]
        extra = ""
        settle = [float(kv["all_cached_after_s"]) for _, _, kv in runs if "all_cached_after_s" in kv]
        if settle:
            extra = f"; all pages cached {medf(settle)} s after the read ended"
        print(f"- {test} {variant}: {medf(cpu)} s{extra}")
EOF
log "raw results: $RAW"
