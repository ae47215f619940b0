"""GET /healthz and /api/v1 against a real Redis, shapes as in architecture.md and the OpenAPI document."""
from __future__ import annotations

import re

import pytest

from app import create_app
from feeds.adapters.nyc_traffic import NycTrafficAdapter
from feeds.config import FeedSource, Settings
from feeds.framework import Runner
from feeds.kpi.catalogue import CATALOGUE
from feeds.kpi.engine import KpiEngine
from tests.auth_helpers import signed_in
from tests.conftest import NYC_SNAPSHOT

AS_OF = 1508810905.0


def settings_for(redis_url, keys):
    return Settings(redis_url, 8050, None, keys.prefix, 5, None)


@pytest.fixture
def client(r, keys, redis_url, nyc_city):
    Runner(r, keys, nyc_city, KpiEngine(r, keys, nyc_city)).run_once(
        NycTrafficAdapter(nyc_city, FeedSource(interval_s=60)), NYC_SNAPSHOT.read_bytes())
    return signed_in(create_app(settings_for(redis_url, keys), nyc_city), r, keys, "viewer")


def test_healthz_is_200_when_redis_answers_and_503_when_not(client, keys, nyc_city):
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.json["redis"] == "up"
    down = create_app(settings_for("redis://127.0.0.1:1/0", keys), nyc_city).server.test_client().get("/healthz")
    assert down.status_code == 503 and down.json == {**down.json, "status": "unavailable", "redis": "down"}


def test_kpis_have_the_contract_fields_and_every_catalogued_id(client):
    body = client.get("/api/v1/kpis").json
    spec = client.get("/api/v1/openapi.json").json
    required = spec["components"]["schemas"]["Kpi"]["required"]
    assert set(required) >= {"id", "domain", "name", "value", "unit", "target", "direction", "status", "as_of",
                             "window", "standard", "by_district"}
    assert [k["id"] for k in body["kpis"]] == list(CATALOGUE)
    for k in body["kpis"]:
        assert set(required) <= set(k)
        assert k["status"] in ("ok", "warn", "breach", "stale", "no_data")
    tti = next(k for k in body["kpis"] if k["id"] == "traffic.travel_time_index")
    assert tti["value"] == pytest.approx(4.1687, abs=1e-4)
    assert tti["status"] == "stale"  # the 2017 snapshot is long past its 180 s freshness limit
    assert tti["as_of"] == "2017-10-24T02:08:25Z"
    assert tti["by_district"]["bronx"] == {"value": pytest.approx(1.0604, abs=1e-4), "status": "stale"}
    transit = next(k for k in body["kpis"] if k["id"] == "transit.on_time_pct")
    assert transit["status"] == "no_data" and transit["value"] is None


def test_one_kpi_carries_its_history_and_unknown_ids_are_404(client):
    one = client.get("/api/v1/kpis/traffic.travel_time_index").json
    assert one["history"] == [{"t": "2017-10-24T02:08:25Z", "value": pytest.approx(4.1687, abs=1e-4),
                               "status": "breach"}]
    assert client.get("/api/v1/kpis/traffic.travel_time_index?since=2030-01-01T00:00:00Z").json["history"] == []
    assert client.get("/api/v1/kpis/traffic.nope").status_code == 404
    assert client.get("/api/v1/kpis/traffic.travel_time_index?since=soon").status_code == 400


def test_feeds_report_health(client):
    (feed,) = client.get("/api/v1/feeds").json["feeds"]
    assert feed["name"] == "traffic"
    assert (feed["records"], feed["rejected"], feed["skipped"], feed["warnings"]) == (92, 0, 61, 2)
    assert feed["last_success"] is not None and feed["last_error"] is None  # the poll itself worked ...
    assert feed["lag_s"] > 9 * 365 * 86400  # ... but its newest reading is from 2017
    assert feed["status"] == "stale"  # a speeds feed whose data is older than 3 intervals is stale


def test_links_deadletters_and_bad_parameters(client):
    links = client.get("/api/v1/links?district=bronx").json["links"]
    assert {link["district"] for link in links} == {"bronx"}
    configured = next(link for link in links if link["id"] == "4616247")
    assert configured["speed_ratio"] == pytest.approx(82.99 / 88, abs=1e-3)
    assert client.get("/api/v1/links?district=atlantis").status_code == 400
    letters = client.get("/api/v1/deadletters?count=5").json["deadletters"]
    assert len(letters) == 2 and all(d["adapter"] == "traffic" for d in letters)
    assert client.get("/api/v1/deadletters?count=0").status_code == 400
    assert client.get("/api/v1/kpis?domain=weather").status_code == 400


def test_the_api_answers_503_not_500_when_redis_is_down(r, keys, nyc_city):
    client = signed_in(create_app(settings_for("redis://127.0.0.1:1/0", keys), nyc_city), r, keys, "viewer")
    for path in ("/api/v1/kpis", "/api/v1/feeds", "/api/v1/links", "/api/v1/kpis/city.score",
                 "/api/v1/road-incidents", "/api/v1/deadletters"):
        res = client.get(path)
        assert res.status_code == 503, path
        assert res.json["error"].startswith("store unavailable")


def test_an_unexpected_error_is_a_json_500_without_a_traceback(client, r, keys):
    r.hset(keys.kpi_values(), "traffic.coverage_pct", b"{not json")
    res = client.get("/api/v1/kpis")
    assert res.status_code == 500 and res.json == {"error": "internal error"}
    missing = client.get("/api/v1/nowhere")
    assert missing.status_code == 404 and missing.json["error"].startswith("no API route /api/v1/nowhere")


def test_since_without_an_offset_is_utc(client):
    # The only history point is at 2017-10-24T02:08:25Z: one second later excludes it, UTC or not.
    assert client.get("/api/v1/kpis/traffic.travel_time_index?since=2017-10-24T02:08:26").json["history"] == []
    assert len(client.get("/api/v1/kpis/traffic.travel_time_index?since=2017-10-24T02:08:25").json["history"]) == 1


def test_districts_are_a_geojson_feature_collection_with_closed_rings(client, nyc_city):
    doc = client.get("/api/v1/districts").json
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == ["manhattan", "bronx", "staten"]
    ring = doc["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    assert doc["features"][2]["properties"] == {"id": "staten", "name": "Staten Island"}


def test_every_documented_path_is_served(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in spec["paths"]:
        if "{" in path and not path.startswith("/api/v1/kpis/"):
            # another entity's path: an unknown id is its documented 404 with a JSON error
            res = client.get(re.sub(r"\{[^}]+\}", "no-such-id", path))
            assert res.status_code == 404 and "error" in res.json, path
            continue
        concrete = path.replace("{id}", "city.score")
        assert client.get(concrete).status_code == 200, path


def test_links_learnt_from_the_feed_are_listed_and_hoverable_without_a_ratio(client, r, keys, nyc_city):
    from dashboard.maps import link_hover_trace
    from dashboard.store import Store

    learnt = next(link for link in client.get("/api/v1/links").json["links"] if link["id"] == "4616323")
    assert learnt["district"] == "manhattan" and learnt["speed_ratio"] is None  # free flow unknown
    assert learnt["speed_kmh"] == pytest.approx(21.12 * 1.609344, abs=0.01)
    links = Store(r, keys, nyc_city).links()
    hover = link_hover_trace(links)
    i = hover["customdata"].index("4616323")
    assert hover["text"][i].endswith("km/h (free flow unknown)")
    assert len(hover["customdata"]) == len(links)  # configured and learnt alike
