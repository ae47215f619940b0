"""The simulated buses speak real GTFS and GTFS-RT, go through the real adapter, and are deterministic."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
from google.transit import gtfs_realtime_pb2 as rt

from feeds.adapters.transit_gtfs import load_gtfs
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.transit import TransitSimulator, build_gtfs, simulators


def morning(city):
    return datetime(2026, 11, 18, 8, 0, tzinfo=ZoneInfo(city.timezone)).timestamp()


def test_the_sample_schedule_is_a_real_gtfs_zip_running_past_midnight(sample_city):
    data = build_gtfs(sample_city)
    assert data == build_gtfs(sample_city)  # same bytes, same feed version
    gtfs = load_gtfs(data)
    assert set(gtfs.routes) == {"R1", "R2", "R3", "R4", "R5", "R6"}
    assert max(t.end for t in gtfs.trips.values()) > 24 * 3600  # stop_times past 24:00:00
    r1 = [t for t in gtfs.trips.values() if t.route_id == "R1" and t.direction_id == 0]
    starts = sorted(t.start for t in r1 if 5 * 3600 <= t.start < 24 * 3600)
    assert {b - a for a, b in zip(starts, starts[1:])} == {600}  # headway_s of R1 by day


def test_payload_is_a_real_feed_message_and_deterministic(sample_city):
    t = morning(sample_city)
    a, b = TransitSimulator(sample_city, 7), TransitSimulator(sample_city, 7)
    assert a.payload(t) == b.payload(t)
    msg = rt.FeedMessage()
    msg.ParseFromString(a.payload(t))
    vehicles = [e for e in msg.entity if e.HasField("vehicle")]
    updates = [e for e in msg.entity if e.HasField("trip_update")]
    assert len(vehicles) > 20 and len(updates) == len([v for v in vehicles if v.vehicle.trip.trip_id])
    assert len({e.vehicle.vehicle.id for e in vehicles}) == len(vehicles)  # no bus on two trips at once


def test_an_hour_of_simulated_buses_fills_every_kpi(r, keys, sample_city):
    (adapter, gen, interval), = simulators(sample_city)
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    t0 = morning(sample_city)
    for i in range(0, 3600, 30):
        runner.run_once(adapter, gen.payload(t0 + i), now=t0 + i)
    values = {k: orjson.loads(v) for k, v in r.hgetall(keys.kpi_values()).items()}
    for kid in ("transit.on_time_pct", "transit.mean_delay_s", "transit.headway_cv", "transit.bunched_pct",
                "transit.service_delivered_pct", "transit.vehicles_in_service"):
        assert values[kid]["value"] is not None, kid
    assert 40 < values["transit.on_time_pct"]["value"] < 100  # realistic, not perfect
    assert values["transit.bunched_pct"]["value"] > 0  # the held-up trips bunch
    assert values["transit.vehicles_in_service"]["value"] > 20
