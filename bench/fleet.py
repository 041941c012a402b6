#!/usr/bin/env python3
"""The console at fleet scale: N simulated clusters (real coordinators, one
process, `ringside process start fleet-simulator`), registered with a real
console. Measures, side by side in the same run:

- a poll round over every cluster (from the console's own log) against the
  same requests made straight from this script with the same concurrency:
  the physical limit of these coordinators on this machine;
- the fleet page's server-side rendering, p99 under wrk, against the same
  console's bare /healthz route and its /api/v1/auth/me (the gateway's
  credential check and nothing else);
- the console's RSS after the rounds, and its peak over the whole run
  (with `--soak SECONDS` of further rounds: memory that grows round after
  round shows only after minutes).

Usage: bench/fleet.py [--clusters 1000] [--bin-dir target/release]
"""

import argparse
import concurrent.futures
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from jobs import rss_mib  # bench/jobs.py, beside this script

# Clusters polled at once, by the console and by the direct fetch alike.
POLL_CONCURRENCY = 256

PATHS = ["/api/v1/info", "/api/v1/workers", "/api/v1/ring", "/api/v1/jobs", "/api/v1/license", "/api/v1/lifecycle", "/metrics"]


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {timeout}s")


def start_simulator(bin_dir, count, base_port, work, latency_ms=0):
    """The fleet simulator with `count` clusters; answers (process, [(name, url)])."""
    sim = subprocess.Popen(
        [f"{bin_dir}/ringside", "process", "start", "fleet-simulator", "--clusters", str(count),
         "--base-port", str(base_port), "--dir", work, "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE, stderr=open(f"{work}/sim.log", "w"), text=True,
    )
    clusters = [sim.stdout.readline().split() for _ in range(count)]
    if not all(len(c) == 2 for c in clusters):
        sim.terminate()
        sys.exit(f"the fleet simulator did not start; see {work}/sim.log")
    print(f"{len(clusters)} simulated clusters up", file=sys.stderr)
    return sim, clusters


def fleet_token(work):
    """The cluster token the simulated clusters share (the simulator writes it)."""
    with open(f"{work}/cluster.token") as f:
        return f.read().strip()


def stop(procs):
    for p in reversed(procs):
        p.terminate()
        p.wait(timeout=30)


def fetch_all(urls, concurrency):
    """Every poll request, `concurrency` clusters at a time; seconds taken."""

    def one(base):
        for path in PATHS:
            with urllib.request.urlopen(base + path, timeout=10) as r:
                r.read()

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, urls))
    return time.perf_counter() - start


# The console's API token for the benchmark's own calls, set by start_console.
TOKEN = None


def auth_headers():
    return {"authorization": f"Bearer {TOKEN}"} if TOKEN else {}


def start_console(bin_dir, port, work, log, env, poll_interval="10s"):
    """Starts the console, logs in as its bootstrap admin and keeps an API
    token in TOKEN for the calls (and wrk's page views) that follow."""
    global TOKEN
    password_file = f"{work}/console/bootstrap-password"
    proc = subprocess.Popen(
        [f"{bin_dir}/ringside-console", "--listen", f"127.0.0.1:{port}",
         "--data-dir", f"{work}/console", "--poll-interval", poll_interval,
         "--poll-concurrency", str(POLL_CONCURRENCY),
         "--bootstrap-password-file", password_file],
        stdout=log, stderr=log, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz")
    password = open(password_file).read().strip()
    login = urllib.request.urlopen(urllib.request.Request(
        url + "/api/v1/auth/login", method="POST",
        data=json.dumps({"username": "admin", "password": password}).encode(),
        headers={"content-type": "application/json"}))
    me = json.loads(login.read())
    cookie = login.headers["set-cookie"].split(";")[0]
    issued = urllib.request.urlopen(urllib.request.Request(
        url + "/api/v1/tokens", method="POST",
        data=json.dumps({"name": "bench", "scopes": ["read", "write"]}).encode(),
        headers={"content-type": "application/json", "cookie": cookie, "x-csrf-token": me["csrf_token"]}))
    TOKEN = json.loads(issued.read())["token"]
    return proc


def wrk_p99(url, seconds, connections=16):
    header = ["-H", f"Authorization: Bearer {TOKEN}"] if TOKEN and "/healthz" not in url else []
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *header, url],
        capture_output=True, text=True, check=True,
    ).stdout
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


class PeakRss(threading.Thread):
    """Samples a process's RSS every second until it exits; `peak` is the
    largest seen."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak = pid, 0.0

    def run(self):
        while True:
            try:
                self.peak = max(self.peak, rss_mib(self.pid))
            except OSError:
                return
            time.sleep(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--bin-dir", default=os.environ.get("RINGSIDE_BIN_DIR", "target/release"))
    # Below the ephemeral range (32768 and up), where other processes'
    # outgoing connections would take ports from the simulator.
    ap.add_argument("--base-port", type=int, default=21000)
    ap.add_argument("--console-port", type=int, default=3900)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--wrk-seconds", type=int, default=15)
    # Rounds keep coming while wrk runs; `--rounds 0 --poll-interval 1h`
    # measures the pages without them.
    ap.add_argument("--poll-interval", default="10s")
    # Each simulated coordinator's answer delay, as a WAN would add.
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--soak", type=int, default=0, help="seconds of further rounds before the RSS is read")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ringside-fleet-bench-")
    procs = []
    try:
        sim, clusters = start_simulator(args.bin_dir, args.clusters, args.base_port, work, args.latency_ms)
        procs.append(sim)

        console_url = f"http://127.0.0.1:{args.console_port}"
        env = dict(os.environ, RUST_LOG="info,sqlx=warn,ringside_console::poller=debug")
        log = open(f"{work}/console.log", "w")
        console = start_console(args.bin_dir, args.console_port, work, log, env, args.poll_interval)
        procs.append(console)
        peak = PeakRss(console.pid)
        peak.start()
        for name, url in clusters:
            req = urllib.request.Request(
                console_url + "/api/v1/clusters", method="POST",
                data=json.dumps({"name": name, "coordinator_url": url,
                                 "access_token": fleet_token(work)}).encode(),
                headers={"content-type": "application/json", **auth_headers()},
            )
            urllib.request.urlopen(req).read()

        # Registering a cluster polls it at once; `--rounds 0` measures the
        # pages with no full round before or during them.
        rounds = []
        while args.rounds and len(rounds) < args.rounds + 1:
            time.sleep(2)
            text = re.sub(r"\x1b\[[0-9;]*m", "", open(f"{work}/console.log").read())
            rounds = [int(m) for m in re.findall(rf"clusters={args.clusters} answered={args.clusters} elapsed_ms=(\d+)", text)]
        console_round = statistics.median(rounds[1:]) / 1000 if rounds else None
        direct = statistics.median(fetch_all([u for _, u in clusters], POLL_CONCURRENCY) for _ in range(max(args.rounds, 1)))

        page = wrk_p99(console_url + "/", args.wrk_seconds)
        bare = wrk_p99(console_url + "/healthz", args.wrk_seconds)
        credential = wrk_p99(console_url + "/api/v1/auth/me", args.wrk_seconds)
        time.sleep(args.soak)
        rss = rss_mib(console.pid)
        result = {
            "clusters": args.clusters,
            "poll_round_s": console_round and round(console_round, 3),
            "direct_fetch_s": round(direct, 3),
            "poll_round_over_direct": console_round and round(console_round / direct, 2),
            "fleet_page_p99_ms": round(page, 1),
            "healthz_p99_ms": round(bare, 2),
            "credential_check_p99_ms": round(credential, 2),
            "console_rss_mib": round(rss, 1),
            "console_rss_peak_mib": round(max(peak.peak, rss), 1),
            "soak_s": args.soak,
        }
        print(json.dumps(result, indent=2))
    finally:
        stop(procs)


if __name__ == "__main__":
    main()
