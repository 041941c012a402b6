#!/usr/bin/env python3
"""Baseline of the random-read test in bench/data-plane.sh: CLIENTS threads
each doing pread(2) of BLOCK bytes at random offsets of a local file for
DURATION seconds, the same sizes and offsets as bench/random-range.lua sends
to the worker. The read releases the GIL, so the threads copy in parallel.

    pread-load.py FILE CLIENTS DURATION aligned|unaligned [BLOCK]

Prints one line of JSON: requests, bytes, duration_us, p50_us, p99_us, max_us.
"""

import json
import mmap
import os
import random
import sys
import threading
import time

path, clients, duration, mode = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
block = int(sys.argv[5]) if len(sys.argv) > 5 else 1 << 20
fd = os.open(path, os.O_RDONLY)
size = os.fstat(fd).st_size
blocks = size // block
start_gate = threading.Barrier(clients + 1)
latencies = [[] for _ in range(clients)]
deadline = 0.0


def client(i):
    rng = random.Random()
    buf = memoryview(mmap.mmap(-1, block))  # page-aligned, like a client's buffer
    out = latencies[i]
    start_gate.wait()
    clock = time.perf_counter
    while True:
        if mode == "aligned":
            offset = rng.randrange(blocks) * block
        else:
            offset = rng.randrange(size - block + 1)
        t0 = clock()
        n = os.preadv(fd, [buf], offset)
        t1 = clock()
        if n != block:
            raise SystemExit(f"short read: {n} bytes at {offset}")
        out.append(t1 - t0)
        if t1 >= deadline:
            break


threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads:
    t.start()
began = time.perf_counter()
deadline = began + duration
start_gate.wait()
for t in threads:
    t.join()
elapsed = time.perf_counter() - began
all_lat = sorted(x for per in latencies for x in per)


def pct(p):
    return all_lat[min(len(all_lat) - 1, int(p / 100 * len(all_lat)))] * 1e6


print(json.dumps({
    "requests": len(all_lat),
    "bytes": len(all_lat) * block,
    "duration_us": int(elapsed * 1e6),
    "p50_us": int(pct(50)),
    "p99_us": int(pct(99)),
    "max_us": int(all_lat[-1] * 1e6),
    "errors": 0,
}))
