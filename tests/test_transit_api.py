"""GET /api/v1/vehicles and /api/v1/routes/{route_id} on the Bull Runner fixture and the simulated city."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from app import create_app
from feeds.adapters.transit import TransitAdapter
from feeds.config import FeedSource, Settings
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.simulate.transit import simulators
from tests.auth_helpers import signed_in

FIX = Path(__file__).parent / "fixtures" / "transit"


def client_for(redis_url, keys, city):
    return signed_in(create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), city), connect(redis_url), keys,
                     "viewer")


def test_vehicles_of_the_bull_runner_fixture(r, keys, redis_url, sample_city):
    source = FeedSource(interval_s=30, options={"gtfs_static": str(FIX / "usf_bullrunner_gtfs.zip")})
    Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city)).run_once(
        TransitAdapter(sample_city, source), (FIX / "usf_bullrunner_vehicle_positions.pb").read_bytes())
    client = client_for(redis_url, keys, sample_city)
    body = client.get("/api/v1/vehicles").json
    assert len(body["vehicles"]) == 10
    bus = next(v for v in body["vehicles"] if v["id"] == "1536")
    assert bus["route_id"] == "F" and bus["as_of"] == "2017-09-13T14:52:55Z" and bus["occupancy"] == "EMPTY"
    assert bus["delay_s"] is None  # frequency-based route: no schedule to be late against
    assert [v["id"] for v in client.get("/api/v1/vehicles?route=C").json["vehicles"]] == ["1538", "2252", "3004"]
    assert client.get("/api/v1/vehicles?district=nowhere").status_code == 400
    one = client.get("/api/v1/routes/C").json
    assert one["route"]["frequency_based"] and one["route"]["headway_s"] == 720
    assert one["kpis"]["in_service"] == 3 and one["kpis"]["scheduled"] == 2
    assert len(one["stops"]) > 5 and all(s["name"] for s in one["stops"])
    assert client.get("/api/v1/routes/ZZ").status_code == 404
    spec = client.get("/api/v1/openapi.json").json
    assert set(spec["components"]["schemas"]["Vehicle"]["required"]) <= set(bus)
    assert set(spec["components"]["schemas"]["RouteDetail"]["required"]) <= set(one)
    assert "/api/v1/routes/{route_id}" in spec["paths"]


def test_route_detail_of_the_simulated_city_has_stop_delays_headways_and_buses(r, keys, redis_url, sample_city):
    (adapter, gen, _), = simulators(sample_city)
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    t0 = datetime(2026, 11, 18, 8, 0, tzinfo=ZoneInfo(sample_city.timezone)).timestamp()
    for i in range(0, 2400, 30):
        runner.run_once(adapter, gen.payload(t0 + i), now=t0 + i)
    client = client_for(redis_url, keys, sample_city)
    one = client.get("/api/v1/routes/R1").json
    assert one["vehicles"] and all(v["route_id"] == "R1" for v in one["vehicles"])
    assert [s["id"] for s in one["stops"]][:3] == ["S100", "S101", "S102"]
    with_delay = [s for s in one["stops"] if s["mean_delay_s"] is not None]
    with_headway = [s for s in one["stops"] if s["scheduled_headway_s"] is not None]
    assert len(with_delay) >= 5 and len(with_headway) >= 5
    assert all(s["scheduled_headway_s"] == pytest.approx(600) for s in with_headway)  # R1 by day
    assert one["kpis"]["on_time_pct"] is not None
    routes = client.get("/api/v1/routes").json["routes"]
    assert {r["id"] for r in routes} == {"R1", "R2", "R3", "R4", "R5", "R6"}


def test_only_alerts_in_force_now_are_listed(r, keys, redis_url, sample_city):
    # GTFS-RT Alert.active_period: "the time when the alert should be shown"; none means as long as it is
    # in the feed. A detour planned for tomorrow or one that ended a minute ago is not in force: the page
    # and the API list only the current one and the one without a period.
    import time

    from google.transit import gtfs_realtime_pb2 as rt

    now = int(time.time())
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = 1505314375
    for eid, period in (("now", (now - 3600, now + 3600)), ("tomorrow", (now + 86400, now + 90000)),
                        ("ended", (now - 7200, now - 60)), ("always", None)):
        a = msg.entity.add(id=eid).alert
        a.informed_entity.add(route_id="A")
        a.header_text.translation.add(text=f"Detour {eid}")
        if period:
            a.active_period.add(start=period[0], end=period[1])
    source = FeedSource(interval_s=30, options={"gtfs_static": str(FIX / "usf_bullrunner_gtfs.zip")})
    res = Runner(r, keys, sample_city).run_once(TransitAdapter(sample_city, source), msg.SerializeToString())
    assert res.stored == 4
    client = client_for(redis_url, keys, sample_city)
    assert sorted(a["id"] for a in client.get("/api/v1/routes/A").json["alerts"]) == ["always", "now"]

    from dashboard.pages.transit import alerts_in_force  # the page filters with the same function

    stored = [orjson.loads(v) for v in r.hvals(keys.transit_alerts())]
    assert sorted(a["id"] for a in alerts_in_force(stored, now)) == ["always", "now"]
