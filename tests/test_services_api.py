"""/api/v1/centres, /api/v1/centres/{id} and /api/v1/requests on the real fixtures."""
from __future__ import annotations

import pytest

from app import create_app
from feeds.adapters.open311 import Open311Adapter
from feeds.adapters.service_queues import ServiceQueuesAdapter
from feeds.config import FeedSource, Settings
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from tests.auth_helpers import signed_in
from tests.test_services_adapters import SF_XML, WARSAW, warsaw_epoch


@pytest.fixture
def client(r, keys, redis_url, sample_city):
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    runner.run_once(ServiceQueuesAdapter(sample_city, FeedSource(timezone="Europe/Warsaw")), WARSAW.read_bytes(),
                    now=warsaw_epoch("11:00"))
    runner.run_once(Open311Adapter(sample_city, FeedSource(timezone="America/Los_Angeles")), SF_XML.read_bytes(),
                    now=1337760000.0)
    return signed_in(create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), sample_city), r, keys, "viewer")


def test_centres_lists_configured_and_learnt_centres_with_live_figures(client):
    body = client.get("/api/v1/centres").json
    by_id = {c["id"]: c for c in body["centres"]}
    assert list(by_id)[:5] == ["C1", "C2", "C3", "C4", "C5"]
    # The data's "now" is 10:58 Warsaw = 04:58 New York (the city's zone): C1 (Mon-Fri 08:00-18:00)
    # is closed by its hours, and silent: CLOSED, not NO DATA.
    assert by_id["C1"]["status"] == "closed" and by_id["C1"]["people_waiting"] is None
    assert by_id["C1"]["hours"] == "Mon-Fri 08:00-18:00, Sat 09:00-13:00"
    wola = by_id["UD_Wola"]
    # 10:58 snapshot: 63 waiting, 120 queue-counters open, wait 928 / 63 min (see test_services_kpis).
    assert (wola["people_waiting"], wola["open_counters"]) == (63, 120)
    assert wola["wait_min"] == pytest.approx(928 / 63, abs=1e-4)
    assert wola["status"] == "stale"  # 2020 data
    assert wola["as_of"] == "2020-01-02T09:58:00Z"  # 10:58 in Warsaw (UTC+1)
    assert client.get("/api/v1/centres?district=D5").json["centres"][0]["id"] == "C1"
    assert client.get("/api/v1/centres?district=nowhere").status_code == 400


def test_centre_detail_has_its_queues_and_wait_curve(client):
    body = client.get("/api/v1/centres/UD_Wola").json
    assert len(body["queues"]) == 27
    vehicles = next(q for q in body["queues"] if q["id"] == "190")
    assert (vehicles["name"], vehicles["people_waiting"], vehicles["open_counters"], vehicles["wait_min"]) == (
        "Rejestracja pojazdów", 37, 23, 21.0)
    assert body["day"] == "2020-01-02"
    # In the city's hours (New York): 08:03-10:58 Warsaw = 02:03-04:58.
    assert body["wait_today"][0]["slot"] == "02:00" and body["wait_today"][-1]["slot"] == "04:45"
    assert client.get("/api/v1/centres/NOPE").status_code == 404


def test_requests_by_status_newest_first_with_iso_times(client):
    open_ = client.get("/api/v1/requests?status=open").json
    assert open_["total"] == 52 and len(open_["requests"]) == 52
    assert open_["requests"][0]["id"] == "1129806"  # requested 23:57:23, the newest
    closed = client.get("/api/v1/requests?status=closed").json
    assert sorted(r["id"] for r in closed["requests"]) == ["1129684", "1129720", "1129724", "1129755"]
    r1129724 = next(r for r in closed["requests"] if r["id"] == "1129724")
    # 18:48:57.49 Pacific daylight time = 01:48:57 UTC the next day.
    assert r1129724["closed"] == "2012-05-23T01:48:57Z" and r1129724["status"] == "closed"
    assert client.get("/api/v1/requests?status=all&limit=5").json["total"] == 56
    assert len(client.get("/api/v1/requests?status=all&limit=5").json["requests"]) == 5
    assert client.get("/api/v1/requests?status=pending").status_code == 400
    assert client.get("/api/v1/requests?limit=0").status_code == 400


def test_openapi_documents_the_services_routes_and_shapes_match(client):
    spec = client.get("/api/v1/openapi.json").json
    assert {"/api/v1/centres", "/api/v1/centres/{id}", "/api/v1/requests"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    centre = client.get("/api/v1/centres").json["centres"][0]
    assert set(schemas["Centre"]["required"]) <= set(centre)
    req = client.get("/api/v1/requests").json["requests"][0]
    assert set(schemas["ServiceRequest"]["required"]) <= set(req)


def test_redis_down_is_503_not_a_crash(r, keys, sample_city):
    down = create_app(Settings("redis://127.0.0.1:1/0", 8050, None, keys.prefix, 5, None), sample_city)
    res = signed_in(down, r, keys, "viewer").get("/api/v1/centres")
    assert res.status_code == 503


def test_page_refresh_with_redis_down_keeps_the_last_picture(r, keys, sample_city):
    """The refresh callback answers 204 (no update) when Redis is unreachable: the page keeps what it
    shows and the shell's banner says why; nothing crashes."""
    import orjson

    app = create_app(Settings("redis://127.0.0.1:1/0", 8050, None, keys.prefix, 5, None), sample_city)
    client = signed_in(app, r, keys, "viewer")  # a session signed before the outage stands during it
    outputs = ["services-cards.children", "services-map.figure", "services-side.children", "services-heat.figure",
               "services-backlog.figure", "services-version.data", "services-map-head.children",
               "services-heat-head.children", "services-backlog-head.children"]
    body = orjson.dumps({
        "output": ".." + "...".join(outputs) + "..",
        "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in outputs],
        "inputs": [{"id": "tick", "property": "n_intervals", "value": 3},
                   {"id": "theme", "property": "data", "value": "dark"}],
        "state": [{"id": "services-focus", "property": "data", "value": {"centre": "C1", "type": None}},
                  {"id": "services-version", "property": "data", "value": "C1||dark|x|y"}],
        "changedPropIds": ["tick.n_intervals"]})
    client.get("/_dash-layout")
    res = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert res.status_code == 204


def test_wait_curve_follows_new_snapshots_after_being_read(client, r, keys, sample_city):
    # The page and API keep a day's parsed wait slots while the day's version is unchanged: a new
    # snapshot must show up at the next read. 10:58 Warsaw = 04:58 New York, slot "04:45" (mean
    # 928 / 63 min, see test_services_adapters); a snapshot at 11:03 (05:03, slot "05:00") with
    # queue 190's 10 people waiting 12 min adds a slot of 12 min.
    before = client.get("/api/v1/centres/UD_Wola").json["wait_today"]
    assert before[-1]["slot"] == "04:45"
    head = "name,date,time,status,czasObslugi,lp,idGrupy,liczbaCzynnychStan,nazwaGrupy,literaGrupy,liczbaKlwKolejce,aktualnyNumer"
    Runner(r, keys, sample_city).run_once(
        ServiceQueuesAdapter(sample_city, FeedSource(timezone="Europe/Warsaw")),
        (head + "\nUD_Wola,2020-01-02,11:03,,12,,190,23,Rejestracja pojazdów,I,10,I030\n").encode(),
        now=warsaw_epoch("11:05"))
    after = client.get("/api/v1/centres/UD_Wola").json["wait_today"]
    assert after[-1]["slot"] == "05:00" and after[-1]["wait_min"] == pytest.approx(12.0)
