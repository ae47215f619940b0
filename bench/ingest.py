"""Ingest bench: validated records/s one adapter process stores in Redis, at the large city.

    .venv/bin/python -m bench.ingest [--quick] [--repeat 7]        (python -m bench.run runs figures())

Each feed of the large city (bench/city.py) goes through the real Runner and adapter, as
``python -m feeds run`` drives it: payload (the simulator's real format) -> parse -> validate ->
de-duplicate against what is stored -> publish on pipelines (latest state, readings stream, seen
versions) -> feed health. No KPI engine: the KPI recompute is bench/kpi.py's figure. The figure is
records stored / wall seconds of ``run_once``, the median of ``repeat`` batches at successive feed
times after one batch that warms up (the transit schedule is read once, the air stations' first
payload carries 12 h of history).

Baseline, measured in the same run against the same Redis: ``redis-benchmark -P 64`` of an XADD of a
reading (``link <id> v <speed> t <time>``, MAXLEN ~), the rate Redis itself takes stream entries at
on this machine from a C client. The ratio says how much of that one Python adapter process reaches
while also parsing, validating, de-duplicating and keeping the latest state.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import time
import uuid
from urllib.parse import urlparse

from bench.city import INTERVALS, N_OPEN_REQUESTS, LargeCityFeeds, large_city, morning, open311_payload
from bench.common import BenchContext, Figure, bench_redis, cleanup, pct, print_figures, target_met
from feeds.framework import Runner
from feeds.redis_conn import connect
from feeds.schema import READINGS_RETENTION, Keys

TARGET = ">= 50,000"
# Feeds whose later payloads are a few changes (an Open311 poll): measured as a full first load (the
# week's 25,000 requests) into empty keys each run.
FRESH_KEYS = {"requests": lambda city, now: open311_payload(city, N_OPEN_REQUESTS, N_OPEN_REQUESTS // 4, now)}
# Why a feed stores fewer records per second than the traffic adapter (the figures' notes).
WHY = {
    "transit": "protobuf decode of every entity, delay rules against the schedule, 2 records per bus",
    "air": "each reading also folds into hourly means, NowCast and AQI per station",
    "noise": "each reading also folds into hourly Leq per sensor",
    "water": "50 points: a batch is too small to amortise its fixed cost",
    "emergency": "each row updates incident, unit status, audit stream and timing sets",
    "services": "each snapshot row updates wait slots and queue state",
    "queue-events": "each event step updates a ticket's visit and the queue",
    "requests": "each request updates its type, district and SLA indexes",
    "road-incidents": "a handful of incidents: a batch is too small to amortise its fixed cost",
}


def redis_cli_args(url: str) -> list[str]:
    """redis-benchmark's connection flags for a redis:// or unix:// URL."""
    u = urlparse(url)
    if u.scheme == "unix":
        args = ["-s", u.path]
    else:
        args = ["-h", u.hostname or "127.0.0.1", "-p", str(u.port or 6379)]
    if u.password:
        args += ["-a", u.password]
        if u.username:
            args += ["--user", u.username]
    if u.scheme == "rediss":
        args.append("--tls")
    return args


def redis_benchmark_xadd(url: str, n: int, pipeline: int = 64) -> float:
    """Requests/s of ``redis-benchmark -P pipeline`` XADDs of a reading to a bench key (deleted after)."""
    exe = shutil.which("redis-benchmark")
    if exe is None:
        raise RuntimeError("redis-benchmark not on PATH (Debian: apt-get install redis-tools)")
    key = f"bench-xadd-{uuid.uuid4().hex[:8]}"
    try:
        out = subprocess.run([exe, *redis_cli_args(url), "-n", str(n), "-P", str(pipeline), "-c", "1", "--csv",
                              "XADD", key, "MAXLEN", "~", str(READINGS_RETENTION[0]), "*",
                              "link", "100000", "v", "42.17", "t", "1795525200.0"],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    finally:
        connect(url).delete(key)
    m = re.search(r'^"XADD[^"]*","([\d.]+)"', out, re.M)
    if not m:
        raise RuntimeError(f"redis-benchmark: no rate in {out[-300:]!r}")
    return float(m.group(1))


def measure_feed(r, city, feeds: LargeCityFeeds, name: str, now: float,
                 repeat: int) -> tuple[list[float], list[float], int]:
    """(records/s of each timed batch, records per CPU-second of this process in each batch, records
    stored in a batch) of feed ``name``. The CPU rate leaves out waiting for the CPU and for Redis: on a
    busy machine it is the steadier figure of what the Python side costs."""
    adapter, interval = feeds.adapter(name), INTERVALS[name]
    keys = Keys(f"bench-ingest-{uuid.uuid4().hex[:8]}")
    runner = Runner(r, keys, city)
    rates, cpu, stored = [], [], 0
    try:
        runner.run_once(adapter, feeds.payload(name, now - interval), now=now - interval)  # warm-up batch
        make = FRESH_KEYS.get(name)
        payloads = [make(city, now + interval * i) if make else feeds.payload(name, now + interval * i)
                    for i in range(repeat)]
        for i, payload in enumerate(payloads):
            if name in FRESH_KEYS:
                cleanup(r, keys)
            start, start_cpu = time.perf_counter(), time.process_time()
            res = runner.run_once(adapter, payload, now=now + interval * i)
            rates.append(res.stored / (time.perf_counter() - start))
            cpu.append(res.stored / max(time.process_time() - start_cpu, 1e-6))
            stored = res.stored
    finally:
        cleanup(r, keys)
    return rates, cpu, stored


def figures(ctx: BenchContext) -> list[Figure]:
    r = connect(ctx.url)
    city = large_city()
    feeds = LargeCityFeeds(city)
    now = morning(city)
    n_bench = 100_000 if ctx.quick else 300_000
    names = ["traffic", "transit", "air", "emergency", "requests"] if ctx.quick else \
        [n for n in feeds.feeds if n != "road-incidents"]  # a handful of incidents: no rate to speak of
    # The baseline before and after the adapters: the figure is the median of both, so a load change
    # during the run shows as two different baselines in the note.
    base = [redis_benchmark_xadd(ctx.url, n_bench)]
    measured = {name: measure_feed(r, city, feeds, name, now, ctx.repeat) for name in names}
    base.append(redis_benchmark_xadd(ctx.url, n_bench))
    baseline = statistics.median(base)
    base_note = f"redis-benchmark {', '.join(f'{b:,.0f}' for b in base)}/s before and after"
    figs = []
    for name, (rates, cpu, stored) in measured.items():
        value = statistics.median(rates)
        headline = name == "traffic"
        note = (f"{stored:,} records a batch, p5 {pct(rates, 5):,.0f}/s, "
                f"{statistics.median(cpu):,.0f} per CPU-second of the process")
        if headline:
            note += f"; {base_note}"
        elif value < 50_000:
            note += f"; under 50k: {WHY.get(name, '')}"
        figs.append(Figure(f"ingest, {name} adapter{' (one process, 10,000 links)' if headline else ''}",
                           "records/s", value, TARGET if headline else "",
                           target_met(value, TARGET) if headline else None,
                           "redis-benchmark XADD -P 64", baseline, note))
    return figs


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ingest")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()
    with bench_redis() as url:
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
        print_figures(figures(BenchContext(url, a.repeat, a.quick)))


if __name__ == "__main__":
    main()
