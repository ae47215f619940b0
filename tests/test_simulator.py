"""The simulated city: deterministic, real format, time-of-day profile."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from feeds.adapters.nyc_traffic import NycTrafficAdapter
from feeds.config import FeedSource
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.traffic import IncidentSimulator, TrafficSimulator

NY = ZoneInfo("America/New_York")
RUSH = datetime(2026, 11, 18, 8, 0, tzinfo=NY).timestamp()  # a Wednesday, 08:00
NIGHT = datetime(2026, 11, 18, 3, 0, tzinfo=NY).timestamp()


def test_same_seed_same_time_same_payload(sample_city):
    a = TrafficSimulator(sample_city, 7).payload(RUSH)
    assert a == TrafficSimulator(sample_city, 7).payload(RUSH)
    assert a != TrafficSimulator(sample_city, 8).payload(RUSH)


def test_rush_hour_is_slower_than_night_through_the_real_adapter(r, keys, sample_city):
    engine = KpiEngine(r, keys, sample_city)
    runner = Runner(r, keys, sample_city, engine)
    adapter = NycTrafficAdapter(sample_city, FeedSource(interval_s=10))
    sim = TrafficSimulator(sample_city, 7)
    runner.run_once(adapter, sim.payload(NIGHT), now=NIGHT)
    night = engine.recompute(("traffic",), now=NIGHT)["traffic.travel_time_index"]["value"]
    runner.run_once(adapter, sim.payload(RUSH), now=RUSH)
    rush = engine.recompute(("traffic",), now=RUSH)["traffic.travel_time_index"]["value"]
    assert night < 1.15 < rush


def test_simulated_rows_are_real_socrata_rows(sample_city):
    rows = orjson.loads(TrafficSimulator(sample_city, 7, no_data_rate=0, malformed_rate=0).payload(RUSH))
    assert len(rows) == len(sample_city.traffic.links)
    assert set(rows[0]) >= {"id", "speed", "travel_time", "status", "data_as_of", "link_id", "link_points", "link_name"}
    assert rows[0]["data_as_of"] == "2026-11-18T08:00:00.000"
    adapter = NycTrafficAdapter(sample_city, FeedSource())
    assert all(adapter.validate(row).data["v"] > 0 for row in rows)


def test_incidents_open_and_clear(sample_city):
    sim = IncidentSimulator(sample_city, 7)
    first = orjson.loads(sim.payload(RUSH))
    assert len(first) == 2 and all(i["status"] == "open" for i in first)
    later = orjson.loads(sim.payload(RUSH + 4000))  # every first incident clears within an hour
    closed = {i["id"] for i in later if i["status"] == "closed"}
    assert {i["id"] for i in first} <= closed


@pytest.mark.parametrize("field, value, reason", [
    ("status", "maybe", "status 'maybe' is not open or closed"),
    ("lat", 95, "lat/lon out of range"),
    ("opened", "last tuesday", "opened: unreadable time"),
    ("severity", "apocalyptic", "severity 'apocalyptic'"),
])
def test_bad_road_incidents_go_to_dead_letters(r, keys, sample_city, field, value, reason):
    from feeds.adapters.road_incidents import RoadIncidentsAdapter

    good = {"id": "RI-1", "status": "open", "lat": 40.0, "lon": -75.0, "opened": "2026-11-18T08:00:00-05:00"}
    bad = {**good, "id": "RI-2", field: value}
    res = Runner(r, keys, sample_city).run_once(RoadIncidentsAdapter(sample_city, FeedSource()), orjson.dumps([good, bad]))
    assert (res.stored, res.rejected) == (1, 1)
    (_, letter), = r.xrange(keys.deadletter())
    assert reason in letter["reason"]
    assert r.smembers(keys.road_incidents_open()) == {"RI-1"}


def test_closed_road_incidents_are_forgotten_after_a_week_open_ones_never(r, keys, sample_city):
    from feeds.adapters.road_incidents import RoadIncidentsAdapter

    adapter = RoadIncidentsAdapter(sample_city, FeedSource())
    runner = Runner(r, keys, sample_city)
    t0 = 1_800_000_000.0
    rows = [{"id": "old", "status": "closed", "lat": 40, "lon": -75, "opened": t0 - 9 * 86400, "closed": t0 - 8 * 86400},
            {"id": "recent", "status": "closed", "lat": 40, "lon": -75, "opened": t0 - 86400, "closed": t0 - 3600},
            {"id": "ongoing", "status": "open", "lat": 40, "lon": -75, "opened": t0 - 30 * 86400}]
    runner.run_once(adapter, orjson.dumps(rows), now=t0)
    assert set(r.hkeys(keys.road_incidents())) == {"recent", "ongoing"}
    assert set(r.hkeys(keys.seen("traffic", "road-incidents"))) == {"recent", "ongoing"}
    assert r.zrange(keys.road_incidents_closed(), 0, -1) == ["recent"]
    runner.run_once(adapter, b"[]", now=t0 + 7 * 86400)  # a week later "recent" goes too
    assert set(r.hkeys(keys.road_incidents())) == {"ongoing"}
