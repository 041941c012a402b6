#!/usr/bin/env python3
"""Job-service benchmark: LOAD, a 100,000-file load, a 1,000,000-file listing
and REBALANCE on a real three-worker cluster, each next to its baseline in
the same run. See bench/README.md; results go to docs/benchmarks.md.

    sudo RINGSIDE_BIN=/path/to/release/ringside bench/jobs.py

Environment (all optional):
    RINGSIDE_BIN  release `ringside` binary (required)
    BENCH_DIR     parent of the temporary directory (default /var/tmp; a disk)
    REPS          repetitions of the 2 GiB load (default 3)
    BIG_FILES     files of the load test (default 1000, 2 MiB each)
    SMALL_FILES   4 KiB files of the many-files load (default 100000)
    EMPTY_FILES   files of the listing test (default 1000000)
    EXTRA_SET     more properties for every process, space-separated k=v
                  (e.g. ringside.worker.pagestore.sync.writes=true)
    KEEP=1        keep the temporary directory
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.environ.get("RINGSIDE_BIN")
REPS = int(os.environ.get("REPS", "3"))
BIG_FILES = int(os.environ.get("BIG_FILES", "1000"))
BIG_SIZE = 2 << 20
SMALL_FILES = int(os.environ.get("SMALL_FILES", "100000"))
SMALL_SIZE = 4096
EMPTY_FILES = int(os.environ.get("EMPTY_FILES", "1000000"))


def log(*args):
    print(time.strftime("[%H:%M:%S]"), *args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Cluster:
    def __init__(self, work):
        self.work = work
        self.ufs = os.path.join(work, "ufs")
        os.makedirs(self.ufs, exist_ok=True)
        self.procs = {}
        self.coord_port = free_port()
        self.coordinator = f"http://127.0.0.1:{self.coord_port}"
        self.common = [
            "--set", f"ringside.ufs.root={self.ufs}",
            "--set", f"ringside.coordinator.address={self.coordinator}",
            # The coordinator writes it; the workers and the CLI read it.
            "--set", f"ringside.security.cluster.token.file={work}/cluster.token",
            "--set", "ringside.worker.pagestore.size=3GiB",
            "--set", "ringside.worker.pagestore.reserved.size=256MiB",
            "--set", "ringside.worker.heartbeat.interval=500ms",
            "--set", "ringside.worker.failure.detection.timeout=5s",
        ]
        for prop in os.environ.get("EXTRA_SET", "").split():
            self.common += ["--set", prop]

    def start(self, name, args, url):
        logf = open(os.path.join(self.work, f"{name}.log"), "w")
        proc = subprocess.Popen([BIN, *self.common, *args], stdout=logf, stderr=logf)
        self.procs[name] = proc
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                return proc
            except OSError:
                if proc.poll() is not None:
                    sys.exit(f"{name} exited; see {logf.name}")
                time.sleep(0.1)
        sys.exit(f"{name} did not answer in 30 s")

    def start_coordinator(self):
        return self.start("coordinator", [
            "--set", "ringside.coordinator.bind.host=127.0.0.1",
            "--set", f"ringside.coordinator.port={self.coord_port}",
            "--set", f"ringside.coordinator.metastore.dir={self.work}/meta",
            "process", "start", "coordinator"], self.coordinator)

    def start_worker(self, name):
        port = free_port()
        self.start(name, [
            "--set", "ringside.worker.bind.host=127.0.0.1",
            "--set", f"ringside.worker.port={port}",
            "--set", f"ringside.worker.s3.port={free_port()}",
            "--set", f"ringside.worker.pagestore.dir={self.work}/{name}/pages",
            "--set", f"ringside.worker.identity.uuid.file.path={self.work}/{name}/id",
            "process", "start", "worker"], f"http://127.0.0.1:{port}")

    def online(self):
        return [w for w in get(self.coordinator + "/api/v1/workers") if w["state"] == "ONLINE"]

    def wait_online(self, n):
        for _ in range(200):
            if len(self.online()) == n:
                return
            time.sleep(0.1)
        sys.exit(f"{n} workers never came ONLINE")

    def cli(self, *args):
        out = subprocess.run([BIN, *self.common, *args], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"ringside {' '.join(args)} failed: {out.stderr}")
        return out.stdout

    def run_job(self, kind, key, value, *options):
        """Submits a job, waits for its end; returns (job, wall seconds)."""
        start = time.monotonic()
        self.cli("job", kind, key, value, "--submit", *options)
        while True:
            job = json.loads(self.cli("job", kind, key, value, "--progress", "--format", "JSON"))
            if job["state"] not in ("WAITING", "RUNNING", "VERIFYING"):
                break
            time.sleep(0.1)
        took = time.monotonic() - start
        if job["state"] != "SUCCEEDED":
            sys.exit(f"{kind} {value} ended {job['state']}: {job.get('error')}")
        return job, took

    def stop(self):
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def write_files(root, count, size, per_dir=1000, random=True):
    for i in range(count):
        d = os.path.join(root, f"d{i // per_dir:04d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:07d}"), "wb") as f:
            if size:
                f.write(os.urandom(size) if random else b"x" * size)


def cat_all(root):
    """`cat` of every file under root: returns seconds."""
    start = time.monotonic()
    subprocess.run(
        f"find {root} -type f -print0 | xargs -0 -P1 -n 1000 cat > /dev/null",
        shell=True, check=True)
    return time.monotonic() - start


def median_range(values, fmt="{:.0f}"):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        sys.exit("set RINGSIDE_BIN to a release ringside binary")
    if os.geteuid() != 0:
        sys.exit("run as root: dropping the OS page cache needs it")
    work = tempfile.mkdtemp(prefix="ringside-jobs.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    cluster = Cluster(work)
    rows = []
    try:
        log("writing datasets in", cluster.ufs)
        write_files(os.path.join(cluster.ufs, "big"), BIG_FILES, BIG_SIZE)
        write_files(os.path.join(cluster.ufs, "small"), SMALL_FILES, SMALL_SIZE)
        write_files(os.path.join(cluster.ufs, "empty"), EMPTY_FILES, 0, random=False)
        coordinator = cluster.start_coordinator()
        for name in ("w1", "w2", "w3"):
            cluster.start_worker(name)
        cluster.wait_online(3)

        # 1. LOAD of 2 GiB in 1,000 files vs cat of the same files, both cold.
        big_bytes = BIG_FILES * BIG_SIZE
        ours, base, ratios = [], [], []
        for rep in range(REPS):
            cluster.run_job("free", "--path", "/big")
            drop_caches()
            _, t_load = cluster.run_job("load", "--path", "/big")
            drop_caches()
            t_cat = cat_all(os.path.join(cluster.ufs, "big"))
            mib = big_bytes / (1 << 20)
            ours.append(mib / t_load)
            base.append(mib / t_cat)
            ratios.append(t_cat / t_load)
            log(f"load rep {rep}: ours {mib / t_load:.0f} MiB/s, cat {mib / t_cat:.0f} MiB/s")
        rows.append(("1. LOAD 2 GiB in 1,000 files (MiB/s), OS cache cold",
                     median_range(ours), median_range(base),
                     f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})", ">= 0.7"))
        cluster.run_job("free", "--path", "/big")

        # 2. 100,000 files of 4 KiB.
        drop_caches()
        job, t_small = cluster.run_job("load", "--path", "/small")
        drop_caches()
        t_cat = cat_all(os.path.join(cluster.ufs, "small"))
        rows.append((f"2. LOAD {SMALL_FILES:,} files of 4 KiB (files/s), OS cache cold",
                     f"{SMALL_FILES / t_small:.0f} ({t_small:.1f} s)",
                     f"{SMALL_FILES / t_cat:.0f} ({t_cat:.1f} s)",
                     f"{t_cat / t_small:.2f}", "recorded"))

        # 3. A 1,000,000-file listing: the coordinator's peak memory.
        before = rss_mib(coordinator.pid)
        job, t_empty = cluster.run_job("load", "--path", "/empty")
        peak = peak_rss_mib(coordinator.pid)
        rows.append((f"3. LOAD of {EMPTY_FILES:,} empty files: coordinator peak RSS (MiB)",
                     f"{peak:.0f} (before: {before:.0f}; {EMPTY_FILES / t_empty:.0f} files/s)",
                     "-", "-", "<= 150 MiB"))

        # 4. REBALANCE after a fourth worker joins three: the bytes it
        # copies against the newcomer's share of the key space times the
        # bytes cached (the 100,000 small files).
        before_ids = {w["id"] for w in cluster.online()}
        cached = sum(w["used_bytes"] for w in cluster.online())
        epoch = get(cluster.coordinator + "/api/v1/ring")["epoch"]
        cluster.start_worker("w4")
        cluster.wait_online(4)
        while get(cluster.coordinator + "/api/v1/ring")["epoch"] == epoch:
            time.sleep(0.1)
        ring = json.loads(cluster.cli("info", "ring", "--format", "JSON"))
        share = sum(m["share"] for m in ring["members"] if m["id"] not in before_ids)
        predicted = share * cached
        job, t_rebalance = cluster.run_job("rebalance", "--target", "ALL")
        moved = job["progress"]["bytes_loaded"]
        rows.append(("4. REBALANCE 3 -> 4 workers: bytes copied vs the ring's prediction",
                     f"{moved / (1 << 20):.1f} MiB in {t_rebalance:.1f} s "
                     f"({job['progress']['bytes_pruned'] / (1 << 20):.1f} MiB pruned)",
                     f"{predicted / (1 << 20):.1f} MiB ({share:.2%} of {cached / (1 << 20):.1f} MiB)",
                     f"{moved / predicted:.3f}" if predicted else "-", "within 5%"))
    finally:
        cluster.stop()
        if os.environ.get("KEEP") == "1":
            log("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("| measurement | ours | baseline | ours / baseline | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
