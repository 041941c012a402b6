#!/usr/bin/env python3
"""One operation fanned out to N simulated clusters (real coordinators in
one process, each answering --latency-ms after doing the work), from a
real console. Measures, side by side in the same run:

- the operation, from the POST that starts it to every target final,
  against the same calls (POST /api/v1/jobs with an idempotency key) made
  straight from this script with the same concurrency: the limit of these
  coordinators at this latency on this machine;
- the fleet page's p99 under wrk while operations run, against the same
  page with nothing running.

Usage: bench/operations.py [--clusters 1000] [--latency-ms 50] [--bin-dir target/release]
"""

import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

from fleet import auth_headers, fleet_token, start_console, start_simulator, stop, wrk_p99  # bench/fleet.py, beside this script


def post(url, body):
    req = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", **auth_headers()})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def get(url):
    with urllib.request.urlopen(urllib.request.Request(url, headers=auth_headers()), timeout=30) as r:
        return json.loads(r.read())


def send(url, method, body, key, token):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", "idempotency-key": key,
                                          "authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


def call(action, path):
    """What one target's call is, straight to a coordinator: (method, route, body)."""
    if action == "push":
        return "PATCH", "/api/v1/properties", {"properties": {"ringside.job.retention.time": path}}
    return "POST", "/api/v1/jobs", {"job_type": "FREE", "path": path}


def direct(urls, token, concurrency, action, path, run):
    """The operation's calls made straight to the coordinators (with the
    cluster token, as the console sends it); seconds."""
    method, route, body = call(action, path)

    def one(item):
        i, base = item
        send(base + route, method, body, f"bench-direct-{run}-{i}", token)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, enumerate(urls)))
    return time.perf_counter() - start


def operation(console, concurrency, action, path):
    """One operation on every cluster through the console; seconds."""
    _, _, body = call(action, path)
    op_action = ({"type": "push_properties", **body} if action == "push"
                 else {"type": "free", "path": path})
    start = time.perf_counter()
    op = post(console + "/api/v1/operations", {
        "action": op_action,
        "targets": {"kind": "all"},
        "rollout": {"concurrency": concurrency},
    })
    while True:
        view = get(f"{console}/api/v1/operations/{op['id']}")
        if view["state"] != "RUNNING":
            break
        time.sleep(0.05)
    took = time.perf_counter() - start
    if view["state"] != "SUCCEEDED":
        sys.exit(f"operation ended {view['state']}: {view['counts']}")
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    # push: a property pushed live (PATCH /api/v1/properties), which leaves
    # nothing running; free: a FREE job submitted on each cluster.
    ap.add_argument("--action", choices=["push", "free"], default="push")
    ap.add_argument("--bin-dir", default=os.environ.get("RINGSIDE_BIN_DIR", "target/release"))
    # Below the ephemeral range (32768 and up), where other processes'
    # outgoing connections would take ports from the simulator.
    ap.add_argument("--base-port", type=int, default=21000)
    ap.add_argument("--console-port", type=int, default=3901)
    ap.add_argument("--wrk-connections", type=int, default=4)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ringside-ops-bench-")
    # A fresh value for each measured run: a FREE of a path with a FREE
    # still active would be answered 409 instead of starting a job, and a
    # push of the value already in force changes nothing.
    if args.action == "push":
        paths = [f"{i + 1}h" for i in range(2 * args.runs + 1)]
    else:
        paths = [f"/d{i}" for i in range(2 * args.runs + 1)]
        for path in paths:
            os.makedirs(f"{work}/ufs{path}", exist_ok=True)
            with open(f"{work}/ufs{path}/file", "wb") as f:
                f.write(b"x" * 4096)
    procs = []
    try:
        sim, clusters = start_simulator(args.bin_dir, args.clusters, args.base_port, work,
                                        args.latency_ms)
        procs.append(sim)

        console = f"http://127.0.0.1:{args.console_port}"
        log = open(f"{work}/console.log", "w")
        proc = start_console(args.bin_dir, args.console_port, work, log,
                             dict(os.environ, RUST_LOG="warn"))
        procs.append(proc)
        for name, url in clusters:
            post(console + "/api/v1/clusters",
                 {"name": name, "coordinator_url": url, "access_token": fleet_token(work)})
        time.sleep(12)  # one poll round over the fleet first, as in steady state

        urls = [u for _, u in clusters]
        direct_s = statistics.median(direct(urls, fleet_token(work), args.concurrency, args.action, paths[r], r) for r in range(args.runs))
        op_s = statistics.median(
            operation(console, args.concurrency, args.action, paths[args.runs + r]) for r in range(args.runs))

        idle = wrk_p99(console + "/", 8, args.wrk_connections)
        busy = {}

        def keep_busy(halt):
            while not halt.is_set():
                operation(console, args.concurrency, args.action, paths[-1])
                busy["ops"] = busy.get("ops", 0) + 1

        halt = threading.Event()
        worker = threading.Thread(target=keep_busy, args=(halt,))
        worker.start()
        time.sleep(0.5)
        during = wrk_p99(console + "/", 8, args.wrk_connections)
        halt.set()
        worker.join()
        result = {
            "action": args.action,
            "clusters": args.clusters,
            "latency_ms": args.latency_ms,
            "concurrency": args.concurrency,
            "operation_s": round(op_s, 3),
            "direct_calls_s": round(direct_s, 3),
            "operation_over_direct": round(op_s / direct_s, 2),
            # Every call waits its latency, `concurrency` at a time.
            "latency_bound_s": round(args.clusters / args.concurrency * args.latency_ms / 1000, 3),
            "wrk": f"wrk -t2 -c{args.wrk_connections} -d8s --latency /",
            "fleet_page_p99_idle_ms": round(idle, 1),
            "fleet_page_p99_during_ms": round(during, 1),
            "operations_during_wrk": busy.get("ops", 0),
        }
        print(json.dumps(result, indent=2))
    finally:
        stop(procs)


if __name__ == "__main__":
    main()
