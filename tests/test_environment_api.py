"""GET /api/v1/stations and /api/v1/stations/{id} against a real Redis."""
from __future__ import annotations

import time

import pytest

from app import create_app
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.environment import simulators
from tests.auth_helpers import signed_in
from tests.test_api import settings_for


@pytest.fixture
def client(r, keys, redis_url, sample_city):
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    now = time.time()
    for adapter, gen, _ in simulators(sample_city):
        runner.run_once(adapter, gen.payload(now), now=now)
    return signed_in(create_app(settings_for(redis_url, keys), sample_city), r, keys, "viewer")


def test_stations_lists_every_station_with_its_state(client, sample_city):
    res = client.get("/api/v1/stations")
    assert res.status_code == 200
    rows = res.json["stations"]
    env = sample_city.environment
    assert len(rows) == len(env["air_stations"]) + len(env["noise_sensors"]) + len(env["water_points"])
    air = [s for s in rows if s["kind"] == "air"]
    assert all(s["aqi"] is not None and s["current"] and s["as_of"].endswith("Z") for s in air)
    kpi = client.get("/api/v1/kpis/environment.aqi").json
    assert max(s["aqi"] for s in air) == kpi["value"]
    worst = max(air, key=lambda s: s["aqi"])
    assert worst["pollutant"] == kpi["detail"]["pollutant"]
    noise = client.get("/api/v1/stations?kind=noise&district=D5").json["stations"]
    assert noise and all(s["kind"] == "noise" and s["district"] == "D5" and s["laeq"] is not None for s in noise)


def test_station_history_and_errors(client):
    res = client.get("/api/v1/stations/AQ-1")
    assert res.status_code == 200
    hist = res.json["history"]
    assert len(hist) == 24
    # The 12-hour backfill plus the current hour: the newest hours have NowCast and an AQI.
    assert hist[-1]["aqi"] == res.json["aqi"] and hist[-1]["nowcast"]["pm25"] is not None
    assert hist[-1]["hour"] == res.json["hour"]
    water = client.get("/api/v1/stations/WQ-1").json
    assert water["history"] and "free_chlorine" in water["history"][0]
    assert client.get("/api/v1/stations/nowhere").status_code == 404
    assert client.get("/api/v1/stations?kind=radio").status_code == 400
    assert client.get("/api/v1/stations?district=D99").status_code == 400


def test_openapi_documents_the_station_routes(client):
    doc = client.get("/api/v1/openapi.json").json
    assert "/api/v1/stations" in doc["paths"] and "/api/v1/stations/{id}" in doc["paths"]
    assert "Station" in doc["components"]["schemas"]


def test_a_bad_environment_section_is_named_on_the_page_not_a_crash(r, keys, sample_city):
    from dashboard.pages.environment import page
    from dashboard.store import Store
    from feeds.config import parse_city

    raw = sample_city.model_dump()
    raw["environment"] = {**raw["environment"], "turbidity_max_ntu": -1}
    city = parse_city(raw)
    out = page(Store(r, keys, city), {})
    assert "environment.turbidity_max_ntu" in str(out)


def _refresh(client, shown_version):
    from bench.common import dash_refresh

    outs = [("environment-banner", "children"), ("environment-cards", "children"), ("environment-map", "figure"),
            ("environment-side", "children"), ("environment-station", "children"), ("environment-version", "data")]
    return dash_refresh(client, outs, [("environment-focus", "data", {"district": None, "station": None}),
                                       ("environment-version", "data", shown_version)])[2]


def test_table_ages_keep_counting_when_no_new_data_arrives(client, r, keys):
    # When every feed stops, the KPI version stands still; the table's "as of" ages (and the map's hover
    # ages) must still move on, not freeze at what they said when the last data arrived.
    version = int(r.get(keys.kpi_version("environment")) or 0)
    view = "None|None"
    fresh = _refresh(client, {"v": version, "view": view, "t": time.time()})
    assert "environment-side" not in fresh  # just shown: nothing to redo
    old = _refresh(client, {"v": version, "view": view, "t": time.time() - 120})
    assert "environment-side" in old and "environment-map" in old
    assert old["environment-version"]["data"]["t"] == pytest.approx(time.time(), abs=30)


def test_station_drill_down_says_how_old_its_reading_is(sample_city):
    # Every figure carries its as-of age: the station head says "as of 5 min ago" (300 s).
    from dashboard.pages.environment import station_view

    st = {"id": "AQ-1", "name": "AQ-1", "kind": "air", "district": "D1", "source": "config", "current": True,
          "as_of": time.time() - 300, "aqi": 60, "beyond": False, "category": "Moderate", "colour": "#FFFF00",
          "pollutant": "pm25", "history": []}
    text = str(station_view(st, "AQ-1", sample_city, "dark"))
    assert "as of 5 min ago" in text
    assert "no reading yet" in str(station_view({**st, "as_of": None}, "AQ-1", sample_city, "dark"))


def test_station_history_of_the_real_openaq_measurements(r, keys, redis_url, sample_city):
    # The 48 real 30-minute PM2.5 values of OpenAQ sensor 3 (tests/fixtures/environment): hourly means
    # 7.00 .. 7.23, the newest hour 2023-03-08T04:00Z. NowCast over the 12 newest hours 7.23 .. 7.12:
    # w = 7.12 / 7.23 = 0.98479; sum(w^i c_i) / sum(w^i) = 79.2686 / 11.0451 = 7.1768 -> 7.1 ->
    # 50 / 9.0 x 7.1 = 39.44 -> AQI 39. The first hour (05:00Z, mean 7.00) has no hour before it.
    from feeds.adapters.environment import EnvironmentAdapter
    from feeds.config import FeedSource
    from tests.test_environment_adapter import recording

    import orjson
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    payload = orjson.dumps([recording("openaq_v3_locations.json"), recording("openaq_v3_sensors_3_measurements.json")])
    res = runner.run_once(EnvironmentAdapter(sample_city, FeedSource(options={"format": "openaq"})), payload)
    assert res.stored == 54
    client = signed_in(create_app(settings_for(redis_url, keys), sample_city), r, keys, "viewer")
    s = client.get("/api/v1/stations/openaq-3").json
    assert (s["aqi"], s["category"], s["pollutant"], s["hour"]) == (39, "Good", "pm25", "2023-03-08T04:00:00Z")
    hist = s["history"]
    assert len(hist) == 24 and hist[-1]["hour"] == "2023-03-08T04:00:00Z"
    assert hist[-1]["means"]["pm25"] == pytest.approx(7.23)
    assert hist[-1]["nowcast"]["pm25"] == pytest.approx(7.1768, abs=1e-4) and hist[-1]["aqi"] == 39
    assert hist[0]["hour"] == "2023-03-07T05:00:00Z" and hist[0]["means"]["pm25"] == pytest.approx(7.00)
    assert hist[0]["aqi"] is None  # the first hour alone: the NowCast needs 2 of the last 3 hours


def test_the_map_says_how_old_its_colours_are(sample_city):
    # The map needs its own as-of age (the wall reads it without hovering), and says STALE when the
    # AQI is: kpis as the store shapes them, age 75 s and 900 s.
    from dashboard.pages.environment import apply_map_data, map_data, map_skeleton

    def kpis(age, status):
        k = {"value": 60.0, "age_s": age, "status": status, "by_district": {}, "detail": {}}
        return {"environment.aqi": k}

    fig = apply_map_data(map_skeleton(sample_city, None, "dark", None), map_data(sample_city, kpis(75, "warn"), []))
    assert fig["layout"]["annotations"][0]["text"] == "air as of 75 s ago"
    fig = apply_map_data(map_skeleton(sample_city, None, "dark", None), map_data(sample_city, kpis(900, "stale"), []))
    assert fig["layout"]["annotations"][0]["text"] == "STALE — air as of 15 min ago"
