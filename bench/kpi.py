"""KPI engine bench: time to recompute all KPIs after one batch, at the large city.

    .venv/bin/python -m bench.kpi [--quick] [--repeat 7]        (python -m bench.run runs figures())

The large city's full state is loaded once through the real adapters (bench/city.py). Then, for
each domain, ``repeat`` times: one new batch of the domain's feed is stored (Runner without an
engine, not timed), and the time of ``KpiEngine.recompute`` of the KPIs that batch touches (+
city.score, alert rules) is taken, as the runner does after every batch (compute on write). Also:
every feed's batch, then one recompute of every domain together; and the first recompute of a
freshly started engine (a new process: nothing cached), every domain. Figures: p95 over the runs
(the note has the median and the CPU time of this process: on a busy machine the wall time also
counts waiting for the CPU and for Redis).

Baseline, in the same run: the time of reading the ``kpi_values`` hash the recompute writes (one
HGETALL): the floor of any recompute that stores its results.
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid

from bench.city import LargeCityFeeds, large_city, load_state, morning
from bench.common import BenchContext, Figure, bench_redis, cleanup, pct, print_figures, target_met
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.schema import Keys

TARGET = "<= 200"
# The batch that leads to each domain's recompute (the feed with the most records of that domain).
DOMAIN_FEEDS = {"traffic": ["traffic"], "transit": ["transit"], "environment": ["air", "noise"],
                "emergency": ["emergency"], "services": ["queue-events", "requests"]}
ALL = tuple(DOMAIN_FEEDS)


def timed(fn) -> tuple[float, float]:
    """(wall ms, CPU ms of this process) of ``fn()``."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000


def figure(label: str, walls: list[float], cpus: list[float], base: float, note: str = "") -> Figure:
    p95 = pct(walls, 95)
    return Figure(f"KPI recompute p95, {label}", "ms", p95, TARGET, target_met(p95, TARGET), "HGETALL kpi_values",
                  base, f"median {statistics.median(walls):,.0f} ms, CPU {statistics.median(cpus):,.0f} ms; {note}".rstrip("; "))


def reset_caches() -> None:
    """What a fresh process has: no KPI module-level caches (as after a restart of the feeds process)."""
    from feeds.kpi import services

    services._MEMO.clear()


def figures(ctx: BenchContext) -> list[Figure]:
    r = connect(ctx.url)
    city = large_city()
    feeds = LargeCityFeeds(city)
    keys = Keys(f"bench-kpi-{uuid.uuid4().hex[:8]}")
    now = morning(city)
    figs = []
    try:
        load_state(r, keys, city, now, feeds=feeds)  # no engine: the KPIs are the timed part
        runner = Runner(r, keys, city)
        engine = KpiEngine(r, keys, city)
        engine.recompute(ALL, now=now)
        base_samples = [timed(lambda: r.hgetall(keys.kpi_values()))[0] for _ in range(ctx.repeat * 3)]
        base = statistics.median(base_samples)
        step = [0]

        def batch(names: list[str]) -> float:
            step[0] += 1
            t = now + 5 * step[0]  # every feed moves on; the KPI windows stay put around "now"
            for name in names:
                runner.run_once(feeds.adapter(name), feeds.payload(name, t), now=t)
            return t

        for domain, names in DOMAIN_FEEDS.items():
            walls, cpus = [], []
            for _ in range(ctx.repeat):
                t = batch(names)
                wall, cpu = timed(lambda: engine.recompute((domain,), now=t))
                walls.append(wall)
                cpus.append(cpu)
            figs.append(figure(f"after a {domain} batch", walls, cpus, base, f"batch: {', '.join(names)}"))

        walls, cpus = [], []
        for _ in range(max(3, ctx.repeat // 2) if ctx.quick else ctx.repeat):
            t = batch([n for ns in DOMAIN_FEEDS.values() for n in ns])
            wall, cpu = timed(lambda: engine.recompute(ALL, now=t))
            walls.append(wall)
            cpus.append(cpu)
        figs.append(figure("all domains after a batch of every feed", walls, cpus, base))

        for label, domains in (("services", ("services",)), ("all domains", ALL)):
            walls, cpus = [], []
            for _ in range(ctx.repeat):
                reset_caches()
                fresh = KpiEngine(r, keys, city)
                t = now + 5 * step[0]
                wall, cpu = timed(lambda: fresh.recompute(domains, now=t))
                walls.append(wall)
                cpus.append(cpu)
            figs.append(figure(f"first after a start, {label}", walls, cpus, base, "a new engine, no caches"))
    finally:
        cleanup(r, keys)
    return figs


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.kpi")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()
    with bench_redis() as url:
        print_figures(figures(BenchContext(url, a.repeat, a.quick)))


if __name__ == "__main__":
    main()
