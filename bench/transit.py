"""Transit bench: prints a table. Not a test; the figures go to docs/transit.md.

    .venv/bin/python -m bench.transit [--repeat 7] [--buses 2000]     (python -m bench.run calls run())

A city of generated routes over the sample city's districts, with enough routes that ~2,000 buses are
on the road at 08:00, fed by the transit simulator (real GTFS-RT protobuf) through the real adapter:
- adapter ingest: one combined VehiclePositions + TripUpdates payload -> parsed (protobuf), delay rules,
  de-duplicated, stored; vehicles/s and records/s (median, p5), beside the bare baseline of
  pipelined HSETs of the same vehicles and trip updates (the Redis floor, measured in the same run);
- KPI recompute of the six transit KPIs + city.score (median, p95 ms);
- the /transit refresh callback through Flask's test client: first paint, Patch (new data), nothing
  new (median, p95 ms and response bytes), beside GET /healthz through the same client.
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid

import orjson
from google.transit import gtfs_realtime_pb2 as rt

from bench.city import morning, routes_for_buses, sample_raw, with_routes
from bench.common import bench_redis, cleanup, dash_refresh, healthz_ms, pct, print_table
from tests.auth_helpers import signed_in
from feeds.config import FeedSource, Settings, parse_city
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.schema import Keys
from feeds.simulate.transit import TransitSimulator, gtfs_file



def big_city(n_routes: int):
    """The sample city with ``n_routes`` generated straight routes of 15 stops, headway 4 min."""
    raw = with_routes(sample_raw(), n_routes)
    raw["name"] = f"bench city, {n_routes} bus routes"
    return parse_city(raw)


def city_with_buses(target: int):
    t = morning(sample_raw())
    n_routes, buses = routes_for_buses(target, t)
    city = big_city(n_routes)
    return city, TransitSimulator(city, 7, unknown_route_rate=0), t, buses


def run(url: str, repeat: int = 7, target: int = 2000) -> None:
    from feeds.adapters.transit import TransitAdapter

    r = connect(url)
    city, sim, t0, buses = city_with_buses(target)
    keys = Keys(f"bench-transit-{uuid.uuid4().hex[:8]}")
    rows = []
    try:
        source = FeedSource(interval_s=10, options={"gtfs_static": str(gtfs_file(city))})
        adapter = TransitAdapter(city, source)
        engine = KpiEngine(r, keys, city)
        warm = Runner(r, keys, city, engine)
        # Warm up: the schedule is read and stored once per version, and a few minutes of history fill
        # the KPI windows (departures, passages).
        for i in range(-600, 0, 30):
            warm.run_once(adapter, sim.payload(t0 + i), now=t0 + i)
        runner = Runner(r, keys, city)  # no engine: the ingest figure alone
        payloads = [sim.payload(t0 + 10 * i) for i in range(repeat)]
        size = statistics.median(len(p) for p in payloads)
        vps, rps, floor = [], [], []
        for i, payload in enumerate(payloads):
            start = time.perf_counter()
            res = runner.run_once(adapter, payload, now=t0 + 10 * i)
            took = time.perf_counter() - start
            vps.append(buses / took)
            rps.append(res.stored / took)
            msg = rt.FeedMessage()
            msg.ParseFromString(payload)
            start = time.perf_counter()
            pipe = r.pipeline(transaction=False)
            for k, e in enumerate(msg.entity):
                if e.HasField("vehicle"):
                    pipe.hset(keys.transit_vehicles() + ":floor", e.vehicle.vehicle.id,
                              orjson.dumps({"lat": e.vehicle.position.latitude, "lon": e.vehicle.position.longitude,
                                            "t": e.vehicle.timestamp}))
                elif e.HasField("trip_update"):
                    pipe.hset(keys.transit_trip_updates() + ":floor", e.trip_update.trip.trip_id,
                              orjson.dumps({"t": e.trip_update.timestamp}))
                if k % 2000 == 1999:
                    pipe.execute()
            pipe.execute()
            floor.append(len(msg.entity) / (time.perf_counter() - start))
        records = statistics.median(rps)
        rows.append((f"transit adapter, {buses} buses", "vehicles/s", statistics.median(vps), pct(vps, 5), None,
                     f"{size / 1024:.0f} KiB payload (VehiclePositions + TripUpdates)"))
        rows.append((f"transit adapter, {buses} buses", "records/s", records, pct(rps, 5), statistics.median(floor),
                     "records = vehicles + trip updates; baseline: bare pipelined HSETs"))

        times, cpu = [], []
        for i in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            engine.recompute(("transit",), now=t0 + 10 * i)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        rows.append((f"transit KPI recompute, {buses} buses", "ms", statistics.median(times), pct(times, 95), None,
                     f"{r.zcard(keys.transit_departures_by_time())} departures, "
                     f"{r.zcard(keys.transit_passages())} passages in the store"))
        # CPU time of this process alone: what the recompute costs when the shared machine is busy
        # (the wall time above also counts waiting for the CPU and for Redis).
        rows.append((f"transit KPI recompute, {buses} buses, CPU time", "ms", statistics.median(cpu), pct(cpu, 95),
                     None, "process CPU time (excludes Redis's own work)"))

        from app import create_app

        app = create_app(Settings(url, 8050, None, keys.prefix, 5, None), city)
        client = signed_in(app, r, keys, "viewer")
        client.get("/_dash-layout")
        version = int(r.get(keys.kpi_version("transit")) or 0)

        def call(shown_version, focus):
            outs = [(f"transit-{c}", p) for c, p in (("cards", "children"), ("map", "figure"), ("side", "children"),
                                                     ("detail", "children"), ("alerts", "children"),
                                                     ("version", "data"))]
            took, size, _ = dash_refresh(client, outs, [("transit-focus", "data", focus),
                                                        ("transit-version", "data", shown_version)])
            return took, size

        base = healthz_ms(client, repeat * 3)
        city_view = {"route": None, "vehicle": None, "sort": "on_time"}
        route_view = {"route": "B0", "vehicle": None, "sort": "on_time"}
        view = [None, None, "on_time", "dark"]  # what the page shows: (version, view) in its store
        for label, shown, focus in (("first paint", None, city_view),
                                    ("new data (Patch)", {"version": version - 1, "view": view}, city_view),
                                    ("no new data", {"version": version, "view": view}, city_view),
                                    ("route drill-down, first paint", None, route_view)):
            samples = [call(shown, focus) for _ in range(repeat * 3)]
            ms = [t for t, _ in samples]
            size = statistics.median(b for _, b in samples)
            rows.append((f"transit callback, {label}, {buses} buses", "ms", statistics.median(ms), pct(ms, 95), base,
                         f"{size / 1024:.1f} KiB/response"))
    finally:
        cleanup(r, keys)
    print(f"{city.name}: {buses} buses on the road in the measured payloads\n")
    print_table(rows, 58)
    print("\nvehicles/s and records/s: p5 is the slow tail; ms: p95. Baselines: adapter -> bare pipelined HSETs of the"
          " same entities; callback -> GET /healthz through the same client.")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--buses", type=int, default=2000)
    args = p.parse_args()
    with bench_redis() as url:
        run(url, args.repeat, args.buses)


if __name__ == "__main__":
    main()
