"""Traffic bench: prints a table. Not a test; the figures go to docs/traffic.md and the README.

    .venv/bin/python -m bench.traffic [--links 238,10000] [--repeat 7]   (python -m bench.run --detail calls run())

For the sample city (238 links) and a large grid city (10,000 links over the sample city's districts):
- traffic adapter: NYC DOT JSON payload -> parsed, validated, de-duplicated, stored (records/s),
  beside the baseline of writing the same readings with one pipelined HSET + XADD per record and
  nothing else (the Redis floor for this data on this machine, measured in the same run);
- KPI engine: recompute of all traffic KPIs + city.score after one batch (p50/p95 ms);
- traffic page: the refresh callback through Flask's test client (p50/p95 ms, response bytes),
  beside the baseline of GET /healthz through the same client.
Uses its own key prefix and deletes only its own keys.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time
import uuid

import orjson

from bench.city import sample_raw, with_links
from bench.common import bench_redis, cleanup, dash_refresh, healthz_ms, pct, print_table
from tests.auth_helpers import signed_in
from feeds.adapters.nyc_traffic import NycTrafficAdapter
from feeds.config import SAMPLE_CITY, City, FeedSource, Settings, load_city, parse_city
from feeds.framework import Runner, trim_args
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.schema import READINGS_RETENTION, Keys
from feeds.simulate.traffic import TrafficSimulator


def grid_city(n_links: int) -> City:
    """The sample city's districts with ``n_links`` one-block links on a grid over them."""
    raw = with_links(sample_raw(), n_links)
    raw["name"] = f"grid {n_links}"
    return parse_city(raw)


def bench_city(r, url: str, city, repeat: int) -> list[tuple]:
    rows = []
    n = len(city.traffic.links)
    sim = TrafficSimulator(city, 7, no_data_rate=0, malformed_rate=0)
    t0 = time.time()
    payloads = [sim.payload(t0 + 10 * i) for i in range(repeat)]
    size = statistics.median(len(p) for p in payloads)

    # Traffic adapter end to end, and the Redis floor for the same readings.
    keys = Keys(f"bench-{uuid.uuid4().hex[:8]}")
    runner = Runner(r, keys, city)  # no engine: the ingest figure alone
    adapter = NycTrafficAdapter(city, FeedSource(interval_s=10))
    ingest, floor = [], []
    try:
        for i, payload in enumerate(payloads):
            start = time.perf_counter()
            res = runner.run_once(adapter, payload, now=t0 + 10 * i)
            ingest.append(res.stored / (time.perf_counter() - start))
            readings = orjson.loads(payload)
            start = time.perf_counter()
            pipe = r.pipeline(transaction=False)
            for k, row in enumerate(readings):
                pipe.hset(keys.link_latest() + ":floor", row["link_id"], orjson.dumps({"v": row["speed"]}))
                pipe.xadd(keys.readings("traffic") + ":floor", {"link": row["link_id"], "v": row["speed"]},
                          **trim_args(READINGS_RETENTION))
                if k % 2000 == 1999:
                    pipe.execute()
            pipe.execute()
            floor.append(len(readings) / (time.perf_counter() - start))
        rows.append((f"traffic adapter, {n} links", "records/s", statistics.median(ingest), pct(ingest, 5),
                     statistics.median(floor), f"{size / 1024:.0f} KiB payload"))

        # KPI engine after one batch.
        engine = KpiEngine(r, keys, city)
        times = []
        for i in range(repeat):
            start = time.perf_counter()
            engine.recompute(("traffic",), now=t0 + 10 * i)
            times.append((time.perf_counter() - start) * 1000)
        rows.append((f"KPI recompute, {n} links", "ms", statistics.median(times), pct(times, 95), None, ""))

        # Traffic page refresh callback through the Flask test client.
        from app import create_app

        settings = Settings(url, 8050, None, keys.prefix, 5, None)
        app = create_app(settings, city)
        client = signed_in(app, r, keys, "viewer")
        client.get("/_dash-layout")
        version = int(r.get(keys.kpi_version("traffic")) or 0)

        def call(shown_version):
            took, size, _ = dash_refresh(
                client, [("traffic-cards", "children"), ("traffic-map", "figure"), ("traffic-side", "children"),
                         ("traffic-version", "data")],
                [("traffic-focus", "data", None), ("traffic-version", "data", shown_version)])
            return took, size

        base = healthz_ms(client, repeat * 3)
        view = [None, "dark"]
        for label, shown in (("first paint", None), ("new data (Patch)", {"version": version - 1, "view": view}),
                             ("no new data", {"version": version, "view": view})):
            samples = [call(shown) for _ in range(repeat * 3)]
            ms = [t for t, _ in samples]
            size = statistics.median(b for _, b in samples)
            rows.append((f"traffic callback, {label}, {n} links", "ms", statistics.median(ms), pct(ms, 95), base,
                         f"{size / 1024:.1f} KiB/response"))
        rows.append((f"process max RSS after {n} links", "MiB",
                     resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, None, None, "bench process"))
    finally:
        cleanup(r, keys)
    return rows


def run(url: str, repeat: int = 7, links: tuple[int, ...] = (238, 10_000)) -> None:
    r = connect(url)
    rows = []
    for n in links:
        city = load_city(SAMPLE_CITY) if n == 238 else grid_city(n)
        rows.extend(bench_city(r, url, city, repeat))
    print_table(rows, 50)
    print("\nrecords/s: p5 is the slow tail; ms: p95. Baselines: adapter -> bare pipelined HSET+XADD of the same"
          " readings; callback -> GET /healthz through the same client.")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--links", default="238,10000", help="comma-separated city sizes; 238 = the sample city")
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()
    with bench_redis() as url:
        run(url, a.repeat, tuple(int(x) for x in a.links.split(",")))
