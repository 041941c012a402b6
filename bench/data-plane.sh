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
#   TESTS          which measurements to run, space-separated (default
#                  "cold-read cache-hit random": 2, 1 and 3, in that order)
#   DURATION       seconds of each concurrent-load run (default 10)
#   CLIENTS        concurrent clients of the random-read test (default 64)
#   BENCH_DIR      parent of the temporary directory (default /var/tmp); it
#                  must be on a real disk, not tmpfs: it holds the UFS and
#                  the page store, both on the same disk
#   KEEP=1         keep the temporary directory (logs, raw results)
#   WORKER_SET     extra worker properties, space-separated key=value pairs
#                  (e.g. "ringside.worker.pagestore.sync.writes=false")
#   BACK_MEMORY=1  on a VM that reports free memory to its host
#                  (page_reporting), hold the reports back while the script
#                  runs and touch the free memory once first, so that no
#                  side pays the host's page faults (see bench/README.md)
#
# Needs root (to drop the OS page cache), curl, wrk, nginx, fincore
# (util-linux) and python3; a missing wrk or nginx is installed from Debian.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-64}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
PAGE=1048576
SIZE=$((SIZE_MIB * 1048576))
PAGES=$(((SIZE + PAGE - 1) / PAGE))
TESTS=${TESTS:-cold-read cache-hit random}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- prerequisites ---------------------------------------------------------
for test in $TESTS; do
    case $test in
    cold-read | cache-hit | random) ;;
    *) die "unknown measurement '$test' in TESTS; expected cold-read, cache-hit or random" ;;
    esac
done
[[ $(id -u) == 0 ]] || die "run as root: dropping the OS page cache needs it"
for tool in curl fincore findmnt python3 awk; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
for need in wrk:wrk nginx:nginx-light cc:gcc; do # command:Debian package
    pkg=${need#*:}
    command -v "${need%%:*}" >/dev/null && continue
    log "installing $pkg from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null ||
        die "cannot install $pkg (run apt-get update first?)"
done

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
fstype=$(findmnt -n -o FSTYPE -T "$WORK")
[[ $fstype != tmpfs ]] || die "$WORK is on tmpfs; set BENCH_DIR to a directory on a disk"

PIDS=()
WORKER_PID=
REPORTING=/sys/module/page_reporting/parameters/page_reporting_order
REPORTING_ORDER=
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
    if [[ -n $REPORTING_ORDER ]]; then
        echo "$REPORTING_ORDER" >"$REPORTING"
        log "free page reporting back on (order $REPORTING_ORDER)"
    fi
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

read -r CPORT WPORT SPORT RPORT LPORT <<<"$(python3 "$HERE/ports.py" 5)"
COORD=http://127.0.0.1:$CPORT
WORKER=http://127.0.0.1:$WPORT
URL=$WORKER/api/v1/files/bench/data.bin
REF_URL=http://127.0.0.1:$RPORT/bench/data.bin
LIMIT_URL=http://127.0.0.1:$LPORT/bench/data.bin
COMMON=(--set "ringside.ufs.root=$UFS" --set "ringside.coordinator.address=$COORD"
    --set "ringside.security.cluster.token.file=$WORK/cluster.token")
EXTRA=()
for kv in ${WORKER_SET:-}; do EXTRA+=(--set "$kv"); done

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

# The reference: nginx serving the UFS with sendfile(2) straight from the OS
# page cache, with no cache, checksum or copy of its own.
start_reference() {
    local conf=$WORK/nginx
    mkdir -p "$conf"
    cat >"$conf/nginx.conf" <<EOF
user root;
worker_processes auto;
daemon off;
pid $conf/nginx.pid;
events { worker_connections 512; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $conf/body;
    proxy_temp_path $conf/proxy;
    fastcgi_temp_path $conf/fastcgi;
    uwsgi_temp_path $conf/uwsgi;
    scgi_temp_path $conf/scgi;
    server {
        listen 127.0.0.1:$RPORT;
        root $UFS;
    }
}
EOF
    nginx -c "$conf/nginx.conf" -e "$WORK/logs/reference.log" >>"$WORK/logs/reference.log" 2>&1 &
    PIDS+=($!)
    wait_http "$REF_URL" "$!" reference
}

# The limit: the least an HTTP answer can do, read(2) and write(2) of the
# UFS file 1 MiB at a time with the kernel reading ahead
# (bench/loopback-limit.c), about the fastest one TCP stream over loopback
# carries a file here.
start_limit() {
    cc -O2 -o "$WORK/loopback-limit" "$HERE/loopback-limit.c" ||
        die "cannot compile $HERE/loopback-limit.c"
    "$WORK/loopback-limit" "$LPORT" "$FILE" >>"$WORK/logs/limit.log" 2>&1 &
    PIDS+=($!)
    wait_http "$LIMIT_URL" "$!" limit
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
        "${EXTRA[@]}" process start worker >>"$WORK/logs/worker.log" 2>&1 &
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

wants() { [[ " $TESTS " == *" $1 "* ]]; }

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RAW"; } # test variant side rep value extra

# Runs the sides of one repetition, rotating who goes first: REP FN...
rotate() {
    local rep=$1
    shift
    local fns=("$@") n=$# i
    for ((i = 0; i < n; i++)); do "${fns[(i + rep - 1) % n]}"; done
}

# Times one command that reads the whole file; prints MiB/s.
mibps() { awk -v s="$SIZE" -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", s / 1048576 / (b - a) }'; }

read_worker() { read_http "$URL"; }
read_http() { # URL; prints MiB/s and checks the answer
    local t0 t1 out
    t0=$EPOCHREALTIME
    out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "$1")
    t1=$EPOCHREALTIME
    [[ $out == "200 $SIZE" ]] || die "GET $1 answered '$out', expected '200 $SIZE'"
    mibps "$t0" "$t1"
}

# One side of a repetition that reads the UFS file over HTTP, once the
# caller has put the OS page cache in place: TEST SIDE URL NAME.
http_side() {
    local v
    v=$(read_http "$3")
    record "$1" "$variant" "$2" "$rep" "$v" ""
    log "$1/$variant rep $rep: $4 $v MiB/s"
}

read_local() {
    local t0 t1
    t0=$EPOCHREALTIME
    cat "$FILE" >/dev/null
    t1=$EPOCHREALTIME
    mibps "$t0" "$t1"
}

# --- setup -----------------------------------------------------------------
# A guest's memory is backed by its host lazily, and with free page reporting
# the guest hands memory it freed back to the host: the first touch of such a
# page then faults on the host, which makes writing into new OS-cache pages
# (what caching a miss does) several times dearer than on bare metal.
if [[ -r $REPORTING ]]; then
    log "free page reporting: order $(<"$REPORTING"), $(($(</sys/module/page_reporting/parameters/reported_kib) / 1024)) MiB reported since boot"
    if [[ ${BACK_MEMORY:-0} == 1 ]]; then
        REPORTING_ORDER=$(<"$REPORTING")
        # /proc/buddyinfo has a column per block order, 0 up: no free block
        # is of the order one past its last column.
        awk '{ n = NF - 4 } END { print n }' /proc/buddyinfo >"$REPORTING"
        mib=$(($(awk '/MemAvailable/ { print $2 }' /proc/meminfo) / 1024 - 2048))
        ((mib > 0)) || die "BACK_MEMORY=1 needs more than 2 GiB of available memory"
        log "touching $mib MiB of free memory once, with reporting held back (order $(<"$REPORTING"))"
        python3 -c '
import mmap, sys
size = int(sys.argv[1]) << 20
chunk = b"\1" * (64 << 20)
m = mmap.mmap(-1, size)
for _ in range(size // len(chunk)):
    m.write(chunk)
' "$mib"
    fi
elif [[ ${BACK_MEMORY:-0} == 1 ]]; then
    log "BACK_MEMORY=1 does nothing here: no free page reporting ($REPORTING)"
fi
log "machine: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "disk: $WORK on $(findmnt -n -o SOURCE -T "$WORK") ($fstype), binary $RINGSIDE_BIN"
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
start_reference
start_limit

# --- 2. cold read through the worker (fresh page store) vs cat of the UFS file
# Every repetition starts a worker on an empty page store. The sides of a
# repetition run in rotating order; each puts the UFS file in the OS page
# cache state of the variant first.
os_cache_ufs() { # cold|warm
    if [[ $1 == cold ]]; then drop_caches; else cat "$FILE" >/dev/null; fi
    expect_os_cache "$1" "UFS file" "$(resident_ufs)"
}
# Ringside's own client: the route from the coordinator, then the worker.
wait_worker_online() {
    for _ in $(seq 100); do
        "$RINGSIDE_BIN" "${COMMON[@]}" info nodes --format json 2>/dev/null | grep -q '"ONLINE"' && return 0
        sleep 0.1
    done
    die "the worker is not ONLINE at the coordinator after 10 s"
}
wants cold-read && for variant in "${VARIANTS[@]}"; do
    for rep in $(seq "$REPS"); do
        ours() {
            start_fresh_worker
            os_cache_ufs "$variant"
            local ufs0 rej0 cpu0 v cpu1 ufs1 rejected settle cpu2
            ufs0=$(metric ringside_worker_bytes_read_ufs_total)
            rej0=$(metric ringside_worker_cache_puts_rejected_total)
            cpu0=$(worker_cpu_ticks)
            v=$(read_worker)
            cpu1=$(worker_cpu_ticks)
            ufs1=$(metric ringside_worker_bytes_read_ufs_total)
            ((ufs1 - ufs0 == SIZE)) || die "cold read took $((ufs1 - ufs0)) bytes from the UFS, expected $SIZE"
            # Pages are cached behind the read; a full write-behind queue
            # turns pages away, and then the file is not all cached.
            rejected=$(($(metric ringside_worker_cache_puts_rejected_total) - rej0))
            if ((rejected > 0)); then
                record cold-read "$variant" worker "$rep" "$v" "worker_cpu_s=$(cpu_secs "$cpu0" "$cpu1") puts_rejected=$rejected"
                log "cold-read/$variant rep $rep: worker $v MiB/s, but $rejected pages were not cached (write-behind queue full)"
                return
            fi
            settle=$(wait_all_cached)
            cpu2=$(worker_cpu_ticks)
            sync
            record cold-read "$variant" worker "$rep" "$v" "worker_cpu_s=$(cpu_secs "$cpu0" "$cpu1") worker_cpu_until_cached_s=$(cpu_secs "$cpu0" "$cpu2") all_cached_after_s=$settle"
            log "cold-read/$variant rep $rep: worker $v MiB/s (all pages cached $settle s after the read)"
        }
        base() {
            os_cache_ufs "$variant"
            local v
            v=$(read_local)
            record cold-read "$variant" local "$rep" "$v" ""
            log "cold-read/$variant rep $rep: cat $v MiB/s"
        }
        ref() { os_cache_ufs "$variant" && http_side cold-read reference "$REF_URL" "nginx reference"; }
        lim() { os_cache_ufs "$variant" && http_side cold-read limit "$LIMIT_URL" "loopback limit"; }
        cli() {
            start_fresh_worker
            wait_worker_online
            os_cache_ufs "$variant"
            local ufs0 t0 t1 err v
            ufs0=$(metric ringside_worker_bytes_read_ufs_total)
            t0=$EPOCHREALTIME
            err=$("$RINGSIDE_BIN" "${COMMON[@]}" fs cat /bench/data.bin 2>&1 >/dev/null) ||
                die "ringside fs cat failed: $err"
            t1=$EPOCHREALTIME
            # A read that fell back to the UFS says so on stderr.
            [[ -z $err ]] || die "ringside fs cat did not read through the worker: $err"
            (($(metric ringside_worker_bytes_read_ufs_total) - ufs0 == SIZE)) ||
                die "ringside fs cat did not miss every page"
            v=$(mibps "$t0" "$t1")
            record cold-read "$variant" cli "$rep" "$v" ""
            log "cold-read/$variant rep $rep: ringside fs cat $v MiB/s"
        }
        rotate "$rep" ours base ref lim cli
    done
done

# Tests 1 and 3 read cached pages: a worker holding every page.
if wants cache-hit || wants random; then
    [[ -n $WORKER_PID ]] || start_fresh_worker
    if [[ $(status_field pages) != "$PAGES" ]]; then
        read_worker >/dev/null
        wait_all_cached >/dev/null
    fi
    sync
fi

# --- 1. cache-hit sequential read vs cat of the same bytes ------------------
# cold: the OS page cache is dropped before each side; warm: the page store
# files and the UFS file are all resident (checked before every side).
wants cache-hit && for variant in "${VARIANTS[@]}"; do
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
        ufs_side() { # SIDE URL NAME
            [[ $variant == cold ]] && drop_caches
            expect_os_cache "$variant" "UFS file" "$(resident_ufs)"
            http_side cache-hit "$@"
        }
        ref() { ufs_side reference "$REF_URL" "nginx reference"; }
        lim() { ufs_side limit "$LIMIT_URL" "loopback limit"; }
        rotate "$rep" ours base ref lim
    done
done

# --- 3. concurrent random 1 MiB ranged reads of cached data -----------------
# Everything warm in the OS page cache: this measures the serving path, not
# the disk. Ours: wrk with $CLIENTS connections against the worker;
# baseline: $CLIENTS threads doing pread(2) of the same sizes at the same
# kind of offsets (bench/pread-load.py); reference: the same wrk load
# against nginx.
if wants random; then
    read_worker >/dev/null
    cat "$FILE" >/dev/null
    expect_os_cache warm "page store" "$(resident_ps)"
    expect_os_cache warm "UFS file" "$(resident_ufs)"
fi
load_line() { # JSON SIDE REP ALIGN [CPU]: one raw-results line
    python3 - "$@" "$PAGE" >>"$RAW" <<'EOF'
import json, sys
r, side, rep, align, cpu, block = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
if r["errors"]:
    sys.exit(f"{side}: {r['errors']} errors")
secs = r["duration_us"] / 1e6
mib_s = r["requests"] * block / 1048576 / secs
extra = f" worker_cpu_s={cpu}" if cpu != "-" else ""
print(f"random-1MiB\t{align}\t{side}\t{rep}\t{mib_s:.1f}\tp50_ms={r['p50_us']/1000:.3f} p99_ms={r['p99_us']/1000:.3f} requests={r['requests']} secs={secs:.2f}{extra}")
EOF
}
wrk_load() { # URL ALIGN
    wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --timeout 30s -s "$HERE/random-range.lua" "$1" -- "$SIZE" "$2" "$PAGE" | tail -1
}
wants random && for align in aligned unaligned; do
    for rep in $(seq "$REPS"); do
        ours() {
            local ufs0 cpu0 out cpu1 ufs1
            ufs0=$(metric ringside_worker_bytes_read_ufs_total)
            cpu0=$(worker_cpu_ticks)
            out=$(wrk_load "$URL" "$align")
            cpu1=$(worker_cpu_ticks)
            ufs1=$(metric ringside_worker_bytes_read_ufs_total)
            ((ufs1 == ufs0)) || die "random reads took $((ufs1 - ufs0)) bytes from the UFS; expected all hits"
            load_line "$out" worker "$rep" "$align" "$(cpu_secs "$cpu0" "$cpu1")"
            log "random/$align rep $rep, worker (wrk): $(tail -1 "$RAW" | cut -f5-)"
        }
        base() {
            load_line "$(python3 "$HERE/pread-load.py" "$FILE" "$CLIENTS" "$DURATION" "$align" "$PAGE")" local "$rep" "$align" -
            log "random/$align rep $rep, local pread: $(tail -1 "$RAW" | cut -f5-)"
        }
        ref() {
            load_line "$(wrk_load "$REF_URL" "$align")" reference "$rep" "$align" -
            log "random/$align rep $rep, nginx reference (wrk): $(tail -1 "$RAW" | cut -f5-)"
        }
        rotate "$rep" ours base ref
    done
done
wants random && expect_os_cache warm "page store" "$(resident_ps)"

# --- results -----------------------------------------------------------------
python3 "$HERE/report.py" "$RAW" "$SIZE_MIB" "$REPS" "$CLIENTS" "$DURATION"
log "raw results: $RAW"
