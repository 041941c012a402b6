#!/usr/bin/env python3
"""Summarises the raw results of bench/data-plane.sh as Markdown tables.

    report.py RESULTS.tsv SIZE_MIB REPS CLIENTS DURATION

Each raw line: test, variant, side (worker | cli | local | reference | limit), repetition,
MiB/s, then space-separated key=value extras. Every cell is the median over
the repetitions with the range (min-max) in brackets; a ratio is the median
of the per-repetition ratios (each repetition ran its sides back to back).
"""

import statistics
import sys
from collections import defaultdict

raw, size_mib, reps, clients, duration = sys.argv[1:6]
rows = defaultdict(dict)
for line in open(raw):
    test, variant, side, rep, value, extra = line.rstrip("\n").split("\t")
    kv = dict(x.split("=", 1) for x in extra.split())
    kv["value"] = float(value)
    rows[(test, variant, side)][int(rep)] = kv


def cell(xs, digits=0):
    return f"{statistics.median(xs):.{digits}f} ({min(xs):.{digits}f}-{max(xs):.{digits}f})"


def ratio(test, variant, top, bottom):
    a, b = rows.get((test, variant, top), {}), rows.get((test, variant, bottom), {})
    rs = [a[r]["value"] / b[r]["value"] for r in sorted(a) if r in b]
    return (statistics.median(rs), cell(rs, 2)) if rs else (None, "-")


def values(test, variant, side, key="value"):
    return [kv[key] for kv in rows.get((test, variant, side), {}).values() if key in kv]


TESTS = [
    ("cache-hit", "1. Cache-hit sequential read, 1 stream (curl vs cat)", 0.6),
    ("cold-read", "2. Cold read, empty page store, 1 stream (curl vs cat)", 0.8),
    ("random-1MiB", f"3. {clients} clients, random 1 MiB ranged reads, {duration} s (wrk vs pread threads)", None),
]
ORDER = ["cold", "warm", "aligned", "unaligned"]
# Our sides: curl from the worker, and Ringside's own client (test 2).
SIDES = ["worker", "cli"]

print()
print(f"{size_mib} MiB file, {reps} repetitions; throughput in MiB/s, median (min-max).")
print()
print(
    "| measurement | OS page cache | ours: worker | baseline: local file | ours / baseline | target | met? "
    "| reference: nginx (sendfile) | ours / reference | limit: one TCP stream | ours / limit | limit / baseline |"
)
print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for test, label, target in TESTS:
    variants = sorted({v for (t, v, _) in rows if t == test}, key=ORDER.index)
    for variant, side in [(v, s) for v in variants for s in SIDES if rows.get((test, v, s))]:
        cache = variant if variant in ("cold", "warm") else "warm"
        name = label if variant in ("cold", "warm") else f"{label}, {variant}"
        if side == "cli":
            name = name.replace("(curl vs cat)", "(`ringside fs cat` vs cat)")
        med, rcell = ratio(test, variant, side, "local")
        _, refcell = ratio(test, variant, side, "reference")
        _, limcell = ratio(test, variant, side, "limit")
        _, reachcell = ratio(test, variant, "limit", "local")
        if target is None:
            tgt, met = "-", "-"
        else:
            tgt, met = f">= {target}", ("yes" if med >= target else "**no**")
        ref, lim = values(test, variant, "reference"), values(test, variant, "limit")
        print(
            f"| {name} | {cache} | {cell(values(test, variant, side))} | "
            f"{cell(values(test, variant, 'local'))} | {rcell} | {tgt} | {met} | "
            f"{cell(ref) if ref else '-'} | {refcell} | {cell(lim) if lim else '-'} | {limcell} | {reachcell} |"
        )

lat = [(v, s) for v in ("aligned", "unaligned") for s in ("worker", "local", "reference")
       if rows.get(("random-1MiB", v, s))]
if lat:
    print()
    print(f"Latency of the random 1 MiB reads with {clients} concurrent clients, ms, median (min-max) over the repetitions:")
    print()
    print("| offsets | side | p50 | p99 | requests per run |")
    print("| --- | --- | ---: | ---: | ---: |")
    names = {"worker": "worker (wrk)", "local": "local pread (threads)", "reference": "nginx (wrk)"}
    for variant, side in lat:
        p50 = [float(x) for x in values("random-1MiB", variant, side, "p50_ms")]
        p99 = [float(x) for x in values("random-1MiB", variant, side, "p99_ms")]
        req = [float(x) for x in values("random-1MiB", variant, side, "requests")]
        print(f"| {variant} | {names[side]} | {cell(p50, 2)} | {cell(p99, 2)} | {cell(req)} |")

print()
print("Worker CPU time (user + system) per run, seconds, median (min-max):")
print()
for (test, variant, side), runs in sorted(rows.items()):
    if side != "worker":
        continue
    cpu = [float(kv["worker_cpu_s"]) for kv in runs.values() if "worker_cpu_s" in kv]
    settle = [float(kv["all_cached_after_s"]) for kv in runs.values() if "all_cached_after_s" in kv]
    cached_cpu = [float(kv["worker_cpu_until_cached_s"]) for kv in runs.values() if "worker_cpu_until_cached_s" in kv]
    rejected = [int(kv["puts_rejected"]) for kv in runs.values() if "puts_rejected" in kv]
    extra = f"; every page cached {cell(settle, 2)} s after the read ended" if settle else ""
    if cached_cpu:
        extra += f", {cell(cached_cpu, 2)} s of CPU including the caching"
    if rejected:
        extra += f"; {len(rejected)} of {len(runs)} runs left pages uncached (write-behind queue full: {rejected} pages)"
    print(f"- {test}, {variant}: {cell(cpu, 2)}{extra}")
