"""Emergency bench: 500 active incidents and 300 units (the issue's "done when" figures).

    .venv/bin/python -c "import bench.emergency as b; b.run('redis://127.0.0.1:6379/0', 7)"

- CAD adapter: an SF Fire JSON payload (one row per unit per call, the real format) of 500 active
  and 1,500 closed incidents (4,600 rows) -> parsed, validated, de-duplicated, stored, summarised,
  audited (records/s), beside the baseline of a bare pipelined ZADD + HSET + XADD per row (the
  Redis floor for this data, measured in the same run);
- KPI compute of the emergency domain (+ city.score) after the batch (ms);
- the /emergency refresh callback through Flask's test client: first paint, Patch (new data), no
  new data (ms, bytes), beside GET /healthz through the same client.
Uses its own key prefix and deletes only its own keys.
"""
from __future__ import annotations

import statistics
import time
import uuid

import orjson

from bench.city import sample_raw, sf_rows, with_stations
from bench.common import bench_redis, cleanup, dash_refresh, healthz_ms, pct, print_table
from tests.auth_helpers import signed_in
from feeds.adapters.emergency import EmergencyAdapter
from feeds.config import FeedSource, Settings, parse_city
from feeds.framework import BatchResult, Runner, trim_args
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.schema import READINGS_RETENTION, Keys



def big_city():
    """The sample city with 30 stations of 10 units (300 units)."""
    return parse_city(with_stations(sample_raw()))


def run(url: str, repeat: int) -> None:
    r = connect(url)
    city = big_city()
    now = time.time()
    results = []
    base_prefix = f"bench-emg-{uuid.uuid4().hex[:8]}"
    used = [Keys(f"{base_prefix}-{i}") for i in range(repeat)]
    keys = used[-1]  # the last run's data feeds the KPI and page figures
    try:
        ingest, floor = [], []
        for i in range(repeat):
            rows = sf_rows(city, now, seed=i)
            payload = orjson.dumps(rows)
            run_keys = used[i]
            start = time.perf_counter()
            res = Runner(r, run_keys, city).run_once(EmergencyAdapter(city, FeedSource(options={"format": "sf-fire"})),
                                                     payload, now=now)
            ingest.append(res.stored / (time.perf_counter() - start))
            start = time.perf_counter()
            pipe = r.pipeline(transaction=False)
            for k, row in enumerate(orjson.loads(payload)):
                pipe.zadd(run_keys.emergency_incident_times(row["incident_number"]) + ":floor", {row["unit_id"]: k})
                pipe.hset(run_keys.emergency_incident_meta() + ":floor", row["incident_number"], orjson.dumps(row))
                pipe.xadd(run_keys.readings("emergency") + ":floor", {"i": row["incident_number"]},
                          **trim_args(READINGS_RETENTION))
                if k % 2000 == 1999:
                    pipe.execute()
            pipe.execute()
            floor.append(len(rows) / (time.perf_counter() - start))
            if i < repeat - 1:
                cleanup(r, run_keys)
        results.append((f"CAD adapter (SF Fire JSON), {len(rows)} rows", "records/s", statistics.median(ingest),
                        pct(ingest, 5), statistics.median(floor), f"{len(payload) / 1024:.0f} KiB payload"))
        active = r.scard(keys.emergency_incidents_active())
        n_units = r.hlen(keys.emergency_units())

        engine = KpiEngine(r, keys, city)
        Runner(r, keys, city)._health(EmergencyAdapter(city, FeedSource(interval_s=10)), BatchResult("emergency"), now)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            engine.recompute(("emergency",), now=now)
            times.append((time.perf_counter() - start) * 1000)
        results.append((f"KPI recompute, {active} active incidents", "ms", statistics.median(times), pct(times, 95),
                        None, ""))

        from app import create_app

        app = create_app(Settings(url, 8050, None, keys.prefix, 5, None), city)
        client = signed_in(app, r, keys, "viewer")
        client.get("/_dash-layout")
        version = int(r.get(keys.kpi_version("emergency")) or 0)

        def call(shown_version, shown_digest):
            outputs = [(f"emergency-{c}", p) for c, p in (
                ("cards", "children"), ("asof", "children"), ("detail", "children"), ("queue", "children"),
                ("board", "children"), ("districts", "children"), ("map", "figure"), ("version", "data"),
                ("digest", "data"))]
            took, size, response = dash_refresh(client, outputs, [
                ("emergency-focus", "data", {"district": None, "incident": None}),
                ("emergency-version", "data", shown_version), ("emergency-digest", "data", shown_digest)])
            return took, size, response.get("emergency-digest", {}).get("data")

        base = healthz_ms(client, repeat * 3)
        lists = call(None, None)[2]
        # "new data": the queue changed, 10 of the 300 units changed status, new KPIs (the map shows these
        # arrays already: not sent)
        changed = {**lists, "parts": {**lists["parts"], "queue": "older"},
                   "board": {**lists["board"], "tiles": ["older"] * 10 + lists["board"]["tiles"][10:]}}
        view = [None, None, "dark"]  # what the panel shows: (version, view) in its store
        for label, shown, seen in (("first paint", None, None),
                                   ("new data (Patch)", {"version": version - 1, "view": view}, changed),
                                   ("no new data", {"version": version, "view": view}, lists)):
            samples = [call(shown, seen) for _ in range(repeat * 3)]
            ms = [t for t, _, _ in samples]
            size = statistics.median(b for _, b, _ in samples)
            results.append((f"/emergency callback, {label}", "ms", statistics.median(ms), pct(ms, 95), base,
                            f"{size / 1024:.1f} KiB/response, {active} active, {n_units} units"))
    finally:
        for k in used:
            cleanup(r, k)
    print_table(results, 50)
    print("\nrecords/s: p5 is the slow tail; ms: p95. Baselines: adapter -> bare pipelined ZADD+HSET+XADD of the same"
          " rows; callback -> GET /healthz through the same client.")


if __name__ == "__main__":
    with bench_redis() as url:
        run(url, 7)
