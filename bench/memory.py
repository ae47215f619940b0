"""Redis memory bench: the large city's Redis after 24 h, from a measured stretch of simulated time.

    .venv/bin/python -m bench.memory [--quick] [--minutes 8]      (python -m bench.run runs figures())

A private redis-server (feeds.redis_conn.EmbeddedRedis: nothing else in it, stopped at the end)
takes the large city (bench/city.py) loaded through the real adapters, then every feed at its own
interval (links 10 s, buses 5 s, air and noise 60 s, ...) on a simulated clock, as fast as the
machine goes, with the KPI engine once a simulated minute (the KPI history keeps one point a
minute). ``INFO memory`` and ``MEMORY USAGE`` of every key are read at the middle and the end.

24 h from there: each group of keys (``{tag}:name``) grows at its measured rate only as long as its
retention lets it (``RETENTION`` below: the readings streams' 200,000 entries and 24 h, transit
events 2 h, environment series 26 h, KPI history 8 days, ...); a stream stops at its entry cap.
Groups of current state (latest readings, vehicles, units) stay at their size. A group that grows
with no retention known makes the figure "unbounded" and is named in the note.
Baseline: used_memory right after the large city's first load.
"""
from __future__ import annotations

import argparse
import re
import time
import uuid
from collections import defaultdict

from bench.city import INTERVALS, LargeCityFeeds, large_city, load_state, morning
from bench.common import BenchContext, Figure, print_figures, target_met
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import (ALERT_AUDIT_RETENTION, AUDIT_RETENTION, DEADLETTER_RETENTION, KPI_HISTORY_RETENTION_S,
                          READINGS_RETENTION, ROAD_INCIDENT_RETENTION_S, Keys)

DAY = 24 * 3600
TARGET_MIB = 1024
# {tag}:name group -> (seconds of data it keeps, entries cap of a stream or None). From feeds/schema.py
# and the adapters' retention constants.
RETENTION = {
    r"\{\w+\}:readings": (READINGS_RETENTION[1], READINGS_RETENTION[0]),
    r"\{ops\}:deadletter": (DEADLETTER_RETENTION[1], DEADLETTER_RETENTION[0]),
    r"\{emergency\}:audit": (AUDIT_RETENTION[1], AUDIT_RETENTION[0]),
    r"\{alerts\}:audit": (ALERT_AUDIT_RETENTION[1], ALERT_AUDIT_RETENTION[0]),
    r"\{alerts\}:(all|open|cleared)": (30 * DAY, None),
    r"\{emergency\}:(incident|calls)": (7 * DAY, None),      # closed incidents: 7 days after closing
    r"\{traffic\}:incident": (ROAD_INCIDENT_RETENTION_S, None),
    r"\{transit\}:(departures|passages)": (2 * 3600, None),  # 2 x the 60 min KPI window
    r"\{transit\}:(vehicles|trip_updates)": (3600, None),    # a silent vehicle leaves after 1 h
    r"\{environment\}:(series|obs|hourly|seen-series|air)": (26 * 3600, None),
    r"\{services\}:(visits|visits-log|wait)": (DAY, None),   # one key per day (kept 9 days): a day's worth
    r"\{services\}:request": (8 * DAY, None),                # closed requests: 8 days; changes log 10,000
    r"\{kpi\}:history": (KPI_HISTORY_RETENTION_S, None),
    # de-duplication versions, pruned with what they stand for
    r"\{transit\}:seen": (3600, None),
    r"\{environment\}:seen": (26 * 3600, None),
    r"\{emergency\}:seen": (7 * DAY, None),
    r"\{services\}:seen": (8 * DAY, None),
    r"\{traffic\}:seen": (ROAD_INCIDENT_RETENTION_S, None),
    r"\{transit\}:route_stats": (3600, None),             # per route and stop over the KPI window
    # the web workers' shared cache (dashboard/sharedcache.py): ten minutes, frames and parts also by count
    r"\{cache\}:.*": (600, None),
}


def group_of(key: str, prefix: str) -> str:
    return ":".join(key[len(prefix) + 1:].split(":")[:2])


def retention_of(group: str) -> tuple[float, int | None] | None:
    for pattern, ret in RETENTION.items():
        if re.fullmatch(pattern, group):
            return ret
    return None


def snapshot(r, prefix: str) -> dict[str, list[float]]:
    """{group: [bytes, stream entries]} of every key under ``prefix``."""
    keys = list(r.scan_iter(match=f"{prefix}:*", count=5000))
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        pipe = r.pipeline(transaction=False)
        for k in chunk:
            pipe.memory_usage(k, samples=0)
            pipe.type(k)
        res = pipe.execute()
        streams = []
        for k, size, kind in zip(chunk, res[::2], res[1::2]):
            out[group_of(k, prefix)][0] += size or 0
            if kind == "stream":
                streams.append(k)
        if streams:
            pipe = r.pipeline(transaction=False)
            for k in streams:
                pipe.xlen(k)
            for k, n in zip(streams, pipe.execute()):
                out[group_of(k, prefix)][1] += n
    return out


def project(mid: dict, end: dict, mid_t: float, end_t: float, span: float) -> tuple[float, list[str], list[str]]:
    """(bytes of every group after 24 h, groups that would grow without a known bound, the biggest)."""
    total, unbounded, sizes = 0.0, [], {}
    for group, (size, entries) in end.items():
        size0, entries0 = mid.get(group, (0.0, 0.0))
        rate = max(0.0, (size - size0) / (end_t - mid_t))
        ret = retention_of(group)
        if ret is None:
            projected = size
            if rate > 0 and size - size0 > 0.01 * size:  # grew by more than 1 % in half the span
                unbounded.append(group)
                projected = size + rate * (DAY - span)
        else:
            keep_s, cap = ret
            grow_s = max(0.0, min(keep_s, DAY) - span)
            if cap and entries:
                per_entry = size / entries
                entry_rate = max(0.0, (entries - entries0) / (end_t - mid_t))
                projected = min(cap, entries + entry_rate * grow_s) * per_entry
            else:
                projected = size + rate * grow_s
        sizes[group] = projected
        total += projected
    biggest = [f"{g} {b / 2**20:,.0f}" for g, b in sorted(sizes.items(), key=lambda kv: -kv[1])[:4]]
    return total, unbounded, biggest


def used(r) -> float:
    return float(r.info("memory")["used_memory"])


def figures(ctx: BenchContext) -> list[Figure]:
    minutes = 2 if ctx.quick else 8
    return measure(minutes)


def measure(minutes: int) -> list[Figure]:
    city = large_city()
    feeds = LargeCityFeeds(city)
    server = EmbeddedRedis()
    started = time.monotonic()
    try:
        r = connect(server.url)
        version = r.info("server")["redis_version"]
        keys = Keys(f"bench-mem-{uuid.uuid4().hex[:6]}")
        t0 = morning(city)
        engine = KpiEngine(r, keys, city)
        load_state(r, keys, city, t0, feeds=feeds)
        engine.recompute(tuple(KpiEngine.COMPUTERS), now=t0)
        empty = used(r)
        runner = Runner(r, keys, city)
        span = minutes * 60
        due = {name: t0 + INTERVALS[name] for name in feeds.feeds}
        mid = mid_t = None
        t = t0
        while t < t0 + span:
            t += 5
            for name, when in due.items():
                if when <= t:
                    runner.run_once(feeds.adapter(name), feeds.payload(name, t), now=t)
                    due[name] = when + INTERVALS[name]
            if int(t - t0) % 60 == 0:
                engine.recompute(tuple(KpiEngine.COMPUTERS), now=t)
            if mid is None and t >= t0 + span / 2:
                mid, mid_t = snapshot(r, keys.prefix), t
        end = snapshot(r, keys.prefix)
        after = used(r)
        in_keys = sum(size for size, _ in end.values())
        projected, unbounded, biggest = project(mid, end, mid_t, t, span)
        day = projected + (after - in_keys)  # plus what Redis itself holds beside the keys
        took = time.monotonic() - started
    finally:
        server.stop()
    mib = day / 2**20
    bounded = not unbounded
    note = (f"Redis {version}; {minutes} simulated min in {took:.0f} s: {empty / 2**20:,.0f} -> {after / 2**20:,.0f} MiB; "
            f"largest after 24 h (MiB): {', '.join(biggest)}")
    figs = [Figure("Redis used_memory after 24 h of the large city (projected)", "MiB", mib, f"<= {TARGET_MIB}",
                   target_met(mib, f"<= {TARGET_MIB}") and bounded, "after the first load", empty / 2**20, note),
            Figure("Redis memory bounded (every growing key has a retention)", "groups without one",
                   float(len(unbounded)), "<= 0", bounded, note=", ".join(unbounded) or "all bounded")]
    return figs


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.memory")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--minutes", type=int, default=None, help="simulated minutes to measure (default 8, --quick 2)")
    a = p.parse_args()
    print_figures(measure(a.minutes or (2 if a.quick else 8)))


if __name__ == "__main__":
    main()
