"""GET /api/v1/incidents, /api/v1/incidents/{id} and /api/v1/units on the real SF call."""
from __future__ import annotations

import orjson
import pytest

from app import create_app
from feeds.adapters.emergency import EmergencyAdapter
from feeds.config import Settings
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from tests.auth_helpers import signed_in
from tests.emergency_helpers import SF_FILE, pdt, source, west_coast_city

T0 = pdt(2026, 11, 20, 10, 0)


@pytest.fixture
def city():
    return west_coast_city()


@pytest.fixture
def client(r, keys, redis_url, city):
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    runner.run_once(EmergencyAdapter(city, source("sf-fire")), SF_FILE.read_bytes(), now=pdt(2017, 6, 23, 21, 0))
    events = [
        {"kind": "incident", "incident": "I-1", "time": T0, "type": "Medical", "category": "ems", "priority": 1,
         "lat": 37.771, "lon": -122.43},
        {"kind": "incident", "incident": "I-2", "time": T0 + 60, "type": "Fire", "category": "fire", "priority": 2,
         "lat": 47.6, "lon": -122.33},
        {"unit": "M1", "status": "dispatched", "incident": "I-1", "time": T0 + 40},
        {"unit": "M1", "status": "en_route", "incident": "I-1", "time": T0 + 85},
        {"unit": "E2", "status": "out_of_service", "time": T0 + 10},
    ]
    runner.run_once(EmergencyAdapter(city, source("unit-events")), orjson.dumps(events), now=T0 + 100)
    return signed_in(create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), city), r, keys, "viewer")


def schema(client, name):
    return client.get("/api/v1/openapi.json").json["components"]["schemas"][name]


def test_active_incidents_in_queue_order_with_the_documented_fields(client):
    body = client.get("/api/v1/incidents?status=active").json
    assert [i["id"] for i in body["incidents"]] == ["I-1", "I-2"]  # P1 before P2
    required = schema(client, "Incident")["required"]
    for row in body["incidents"]:
        assert set(required) <= set(row)
    assert body["incidents"][0]["opened"] == "2026-11-20T17:00:00Z"  # T0 = 10:00 at UTC-7
    assert body["incidents"][0]["units"] == ["M1"]
    # active is the default (ages are worked out per request, so compare without them)
    without_age = lambda b: [{k: v for k, v in i.items() if k != "age_s"}  # noqa: E731
                             for i in b["incidents"]]
    assert without_age(client.get("/api/v1/incidents").json) == without_age(body)
    assert [i["id"] for i in client.get("/api/v1/incidents?district=sea-s").json["incidents"]] == ["I-2"]


def test_closed_incidents_and_bad_queries(client):
    closed = client.get("/api/v1/incidents?status=closed").json["incidents"]
    assert [i["id"] for i in closed] == ["17073664"]
    assert closed[0]["closed"] == "2017-06-24T03:53:27Z"  # 20:53:27 PDT
    assert (closed[0]["travel_s"], closed[0]["first_arriving"]) == (219, "E05")
    bad = client.get("/api/v1/incidents?status=open")
    assert bad.status_code == 400 and "status must be active or closed" in bad.json["error"]
    assert client.get("/api/v1/incidents?district=atlantis").status_code == 400


def test_incident_timeline_has_each_units_times(client):
    one = client.get("/api/v1/incidents/17073664").json
    tl = one["timeline"]
    assert tl["received"] == "2017-06-24T03:30:09Z" and tl["first_on_scene"] == "2017-06-24T03:41:38Z"
    units = {u["unit"]: u for u in tl["units"]}
    assert units["E05"]["first_arriving"] and units["E05"]["travel_s"] == 219
    assert units["E06"]["cancelled"] and units["E06"]["turnout_s"] == 122 and units["E06"]["on_scene"] is None
    assert len(tl["events"]) == 13 and tl["events"][0] == {"time": "2017-06-24T03:30:09Z", "unit": None,
                                                          "status": "received"}
    assert set(schema(client, "IncidentWithTimeline")["allOf"][1]["required"]) <= set(one)
    missing = client.get("/api/v1/incidents/nope")
    assert missing.status_code == 404 and missing.json["error"] == "no incident 'nope'"


def test_units_board_with_time_in_status_and_filters(client):
    units = {u["id"]: u for u in client.get("/api/v1/units").json["units"]}
    # configured units of the city plus the SF units the feed named
    assert {"E1", "M1", "E2", "M2", "B05", "E05", "E06", "T06"} <= set(units)
    assert units["M1"]["status"] == "en_route" and units["M1"]["incident"] == "I-1"
    assert units["M1"]["since"] == "2026-11-20T17:01:25Z" and units["M1"]["in_status_s"] > 0
    assert units["E1"]["status"] is None  # configured, never reported
    oos = client.get("/api/v1/units?status=out_of_service").json["units"]
    assert [u["id"] for u in oos] == ["E2"]
    assert [u["id"] for u in client.get("/api/v1/units?station=S1").json["units"]] == ["E1", "M1"]
    assert client.get("/api/v1/units?status=sleeping").status_code == 400
    assert set(schema(client, "Unit")["required"]) <= set(units["M1"])


def test_unreachable_redis_is_503(r, keys, city):
    down = signed_in(create_app(Settings("redis://127.0.0.1:1/0", 8050, None, keys.prefix, 5, None), city), r, keys,
                     "viewer")
    assert down.get("/api/v1/incidents").status_code == 503
    assert down.get("/api/v1/units").status_code == 503
