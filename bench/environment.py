"""Environment benchmarks: ``run(url, repeat)`` prints a table (``python -m bench.run`` calls it).

    .venv/bin/python -c "import bench.environment as b; b.run('redis://127.0.0.1:6379/0', 7)"

For the sample city (12 air, 10 noise, 6 water) and a large city (1,000 air stations, 100 noise
sensors, 50 water points):
- adapter: the simulator's OpenAQ v3 payload (locations' /latest, 4 sensors per station) parsed,
  validated, de-duplicated, stored and folded into hourly means, NowCast and AQI (records/s), beside
  a bare pipelined HSET + XADD of the same readings measured in the same run;
- KPI recompute of the four environment KPIs + city.score (ms);
- the /environment refresh callback through Flask's test client: first paint, new data (Patch),
  nothing new, and a station drill-down's first paint (ms, bytes), beside GET /healthz.
"""
from __future__ import annotations

import resource
import statistics
import time
import uuid

import orjson

from bench.city import sample_raw, with_environment
from bench.common import bench_redis, cleanup, dash_refresh, healthz_ms, pct, print_table
from tests.auth_helpers import signed_in
from feeds.config import SAMPLE_CITY, FeedSource, Settings, load_city, parse_city
from feeds.framework import Runner, trim_args
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.schema import READINGS_RETENTION, Keys
from feeds.simulate.environment import AirSimulator, NoiseSimulator, WaterSimulator


def big_city(n_air: int = 1000, n_noise: int = 100, n_water: int = 50):
    """The sample city's districts with ``n_air`` + ``n_noise`` + ``n_water`` stations spread over them."""
    raw = with_environment(sample_raw(), n_air, n_noise, n_water)
    raw["name"] = f"Riverton with {n_air} air stations"
    return parse_city(raw)


def bench_city(r, url: str, city, repeat: int) -> list[tuple]:
    from app import create_app
    from feeds.adapters.environment import EnvironmentAdapter

    rows = []
    n_air = len(city.environment["air_stations"])
    n_all = n_air + len(city.environment["noise_sensors"]) + len(city.environment["water_points"])
    label = f"{n_air} air / {n_all} stations"
    keys = Keys(f"bench-env-{uuid.uuid4().hex[:8]}")
    engine = KpiEngine(r, keys, city)
    runner = Runner(r, keys, city)  # no engine: the ingest figure alone
    air = AirSimulator(city, 7)
    adapter = EnvironmentAdapter(city, FeedSource(interval_s=60, options={"format": "openaq"}))
    t0 = time.time() - (repeat + 2) * 60
    try:
        start = time.perf_counter()
        first = air.payload(t0)  # locations + 12 h of /hours + latest
        res = runner.run_once(adapter, first, now=t0)
        backfill_s = time.perf_counter() - start
        rows.append((f"adapter first payload (12 h backfill), {label}", "records/s", res.stored / backfill_s, None,
                     None, f"{res.stored:,} records, {len(first) / 1024:,.0f} KiB, {backfill_s * 1000:,.0f} ms"))
        ingest, floor, sizes = [], [], []
        for i in range(1, repeat + 1):
            now = t0 + 60 * i
            payload = air.payload(now)
            sizes.append(len(payload))
            start = time.perf_counter()
            res = runner.run_once(adapter, payload, now=now)
            ingest.append(res.stored / (time.perf_counter() - start))
            readings = [(rec["response"]["results"]) for rec in orjson.loads(payload)
                        if rec["_request_uri"].endswith("/latest")]
            flat = [row for rs in readings for row in rs]
            start = time.perf_counter()
            pipe = r.pipeline(transaction=False)
            for k, row in enumerate(flat):
                pipe.hset(keys.env_state() + ":floor", str(row["sensorsId"]), orjson.dumps({"v": row["value"]}))
                pipe.xadd(keys.readings("environment") + ":floor", {"s": row["sensorsId"], "v": row["value"]},
                          **trim_args(READINGS_RETENTION))
                if k % 2000 == 1999:
                    pipe.execute()
            pipe.execute()
            floor.append(len(flat) / (time.perf_counter() - start))
        rows.append((f"adapter, OpenAQ latest, {label}", "records/s", statistics.median(ingest), pct(ingest, 5),
                     statistics.median(floor), f"{statistics.median(sizes) / 1024:,.0f} KiB payload"))
        now = t0 + 60 * repeat
        for fmt, gen in (("noise", NoiseSimulator(city, 7, malformed_rate=0)), ("water", WaterSimulator(city, 7))):
            runner.run_once(EnvironmentAdapter(city, FeedSource(interval_s=60, options={"format": fmt})),
                            gen.payload(now), now=now)

        times = []
        for i in range(repeat):
            start = time.perf_counter()
            engine.recompute(("environment",), now=now)
            times.append((time.perf_counter() - start) * 1000)
        rows.append((f"KPI recompute, {label}", "ms", statistics.median(times), pct(times, 95), None, ""))

        settings = Settings(url, 8050, None, keys.prefix, 5, None)
        client = signed_in(create_app(settings, city), r, keys, "viewer")
        client.get("/_dash-layout")
        version = int(r.get(keys.kpi_version("environment")) or 0)

        def call(shown_version, station=None):
            outs = [("environment-banner", "children"), ("environment-cards", "children"),
                    ("environment-map", "figure"), ("environment-side", "children"),
                    ("environment-station", "children"), ("environment-version", "data")]
            took, size, _ = dash_refresh(client, outs, [
                ("environment-focus", "data", {"district": None, "station": station}),
                ("environment-version", "data", shown_version)])
            return took, size

        base = healthz_ms(client, repeat * 3)
        city_view = "None|None"
        for what, shown, station in (("first paint", None, None),
                                     ("new data (Patch)", {"v": version - 1, "view": city_view, "t": 4e9}, None),
                                     ("nothing new", {"v": version, "view": city_view, "t": 4e9}, None),
                                     ("station drill-down, first paint", None, "AQ-1")):
            samples = [call(shown, station) for _ in range(repeat * 3)]
            ms = [t for t, _ in samples]
            size = statistics.median(b for _, b in samples)
            rows.append((f"page callback, {what}, {label}", "ms", statistics.median(ms), pct(ms, 95), base,
                         f"{size / 1024:,.1f} KiB/response"))
        rows.append((f"process max RSS after {label}", "MiB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                     None, None, "bench process"))
    finally:
        cleanup(r, keys)
    return rows


def run(url: str, repeat: int = 7) -> None:
    r = connect(url)
    rows = []
    for city in (load_city(SAMPLE_CITY), big_city()):
        rows.extend(bench_city(r, url, city, repeat))
    print_table(rows, 62)
    print("\nrecords/s: p5 is the slow tail; ms: p95. Baselines: adapter -> bare pipelined HSET+XADD of the same"
          " readings; callback -> GET /healthz through the same client.")


if __name__ == "__main__":
    with bench_redis() as url:
        run(url)
