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

import random
import statistics
import time
import uuid
from datetime import datetime

import orjson

from bench.common import bench_redis, cleanup, dash_refresh, healthz_ms, pct, print_table
from tests.auth_helpers import signed_in
from feeds.adapters.emergency import EmergencyAdapter
from feeds.config import SAMPLE_CITY, FeedSource, Settings, parse_city
from feeds.framework import BatchResult, Runner, trim_args
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.schema import READINGS_RETENTION, Keys
from feeds.timeparse import zone

N_ACTIVE, N_CLOSED, N_STATIONS, UNITS_PER_STATION = 500, 1500, 30, 10


def big_city():
    raw = orjson.loads(SAMPLE_CITY.read_bytes())
    lons = [p[0] for d in raw["districts"] for p in d["polygon"]]
    lats = [p[1] for d in raw["districts"] for p in d["polygon"]]
    rnd = random.Random(2)
    stations = []
    for s in range(N_STATIONS):
        stations.append({"id": f"S{s + 1}", "name": f"Station {s + 1}", "lon": rnd.uniform(min(lons), max(lons)),
                         "lat": rnd.uniform(min(lats), max(lats)),
                         "units": [{"id": f"U{s + 1}-{u + 1}", "type": "medic" if u % 2 else "engine"}
                                   for u in range(UNITS_PER_STATION)]})
    raw["emergency"] = {"stations": stations}
    raw["feeds"] = {"emergency": {"interval_s": 10}}
    return parse_city(raw), (min(lons), max(lons), min(lats), max(lats))


def sf_rows(city, bounds, now: float, seed: int) -> list[dict]:
    """SF Fire SODA rows (floating local times, numbers as strings) for active and closed calls."""
    rnd = random.Random(seed)
    tz = zone(city.timezone)
    units = [u["id"] for s in city.emergency["stations"] for u in s["units"]]

    def ts(t):
        return datetime.fromtimestamp(t, tz).replace(tzinfo=None).isoformat(timespec="milliseconds")

    rows = []
    for n in range(N_ACTIVE + N_CLOSED):
        active = n < N_ACTIVE
        received = now - (rnd.uniform(60, 3 * 3600) if active else rnd.uniform(3 * 3600, 20 * 3600))
        lon, lat = rnd.uniform(bounds[0], bounds[1]), rnd.uniform(bounds[2], bounds[3])
        dispatch = received + rnd.lognormvariate(3.8, 0.4)
        for k in range(rnd.choice([1, 2, 2, 3])):
            row = {"call_number": f"{seed}{n:07d}", "incident_number": f"B{seed}-{n:07d}",
                   "unit_id": units[(n * 3 + k) % len(units)], "call_type": rnd.choice(["Medical Incident", "Alarms"]),
                   "priority": rnd.choice(["2", "3"]), "received_dttm": ts(received), "entry_dttm": ts(received + 20),
                   "dispatch_dttm": ts(dispatch + k * 5), "address": f"{n} Block of MAIN ST", "unit_type": "ENGINE",
                   "location": {"type": "Point", "coordinates": [lon, lat]}}
            en_route = dispatch + k * 5 + rnd.lognormvariate(3.9, 0.3)
            on_scene = en_route + rnd.lognormvariate(5.3, 0.35)
            if min(en_route, on_scene) < now:
                row["response_dttm"] = ts(en_route)
            if on_scene < now:
                row["on_scene_dttm"] = ts(on_scene)
            if not active:
                row["available_dttm"] = ts(on_scene + rnd.uniform(600, 2400))
            rows.append(row)
    return rows


def run(url: str, repeat: int) -> None:
    r = connect(url)
    city, bounds = big_city()
    now = time.time()
    results = []
    base_prefix = f"bench-emg-{uuid.uuid4().hex[:8]}"
    used = [Keys(f"{base_prefix}-{i}") for i in range(repeat)]
    keys = used[-1]  # the last run's data feeds the KPI and page figures
    try:
        ingest, floor = [], []
        for i in range(repeat):
            rows = sf_rows(city, bounds, now, seed=i)
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
        # "new data": the queue changed, 10 of the 300 units changed status, new KPIs (map Patch)
        changed = {**lists, "queue": "older",
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
