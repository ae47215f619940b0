"""GET /api/v1/alerts and the coordinator's actions (ack, assign, comment) over HTTP."""
from __future__ import annotations

import pytest

from app import create_app
from feeds.alerts import AlertBook
from feeds.config import Settings
from tests.auth_helpers import bearer, signed_in
from tests.test_alert_rules import T0, make_city

CITY = make_city([])


@pytest.fixture
def app(redis_url, keys):
    return create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), CITY)


@pytest.fixture
def as_role(app, r, keys):
    """A test client signed in with ``role`` (tests.auth_helpers), as user ``name`` if given."""
    def client(role: str, name: str | None = None):
        return signed_in(app, r, keys, role, name)
    return client


@pytest.fixture
def book(r, keys):
    b = AlertBook(r, keys)
    b.raise_alert("aqi", "D1", "critical", "Unhealthy air in Old Town", "Air quality index 162 > limit 150 in Old Town",
                  now=T0, value=162, view="/district/D1", focus={"lat": 0.05, "lon": 0.05, "zoom": 13},
                  kpi="environment.aqi", district="D1")
    b.raise_alert("turnout", "city", "major", "Turnout (90th)", "Turnout (90th) 95 s > target 60 s (BREACH)",
                  now=T0 + 60, value=95, view="/emergency", kpi="emergency.turnout_p90_s")
    b.raise_alert("silent", "traffic", "major", "Feed traffic silent", "No data", now=T0 + 30, feed="traffic")
    b.clear("silent", "traffic", now=T0 + 90)
    return b


def test_open_alerts_come_most_severe_first_with_iso_times_and_where_to_look(as_role, book):
    client = as_role("viewer")
    body = client.get("/api/v1/alerts").get_json()
    assert [a["id"] for a in body["alerts"]] == ["A1", "A2"]
    a1 = body["alerts"][0]
    assert a1["raised_at"] == "2023-11-14T22:13:20Z" and a1["acknowledged_at"] is None
    assert (a1["severity"], a1["state"], a1["view"], a1["district"]) == ("critical", "active", "/district/D1", "D1")
    assert a1["focus"] == {"lat": 0.05, "lon": 0.05, "zoom": 13}
    assert [a["id"] for a in client.get("/api/v1/alerts?state=cleared").get_json()["alerts"]] == ["A3"]
    assert {a["id"] for a in client.get("/api/v1/alerts?state=all").get_json()["alerts"]} == {"A1", "A2", "A3"}
    assert [a["id"] for a in client.get("/api/v1/alerts?severity=major").get_json()["alerts"]] == ["A2"]
    assert [a["id"] for a in client.get("/api/v1/alerts?district=D1").get_json()["alerts"]] == ["A1"]


@pytest.mark.parametrize("query,error", [("state=closed", "state must be one of open, cleared, all"),
                                         ("severity=urgent", "severity must be one of"),
                                         ("district=D9", "unknown district 'D9'")])
def test_a_bad_filter_is_a_400_that_says_why(as_role, book, query, error):
    resp = as_role("viewer").get(f"/api/v1/alerts?{query}")
    assert resp.status_code == 400 and error in resp.get_json()["error"]


def test_one_alert_has_its_audit_and_an_unknown_one_is_404(as_role, book):
    client = as_role("viewer")
    body = client.get("/api/v1/alerts/A3").get_json()
    assert [(e["action"], e["by"], e["at"]) for e in body["audit"]] == [
        ("raised", "system", "2023-11-14T22:13:50Z"), ("cleared", "system", "2023-11-14T22:14:50Z")]
    assert client.get("/api/v1/alerts/A99").status_code == 404


def test_a_coordinator_acknowledges_assigns_and_comments_and_the_audit_says_who(as_role, book):
    client = as_role("coordinator", "ana")
    acked = client.post("/api/v1/alerts/A1/ack").get_json()
    assert (acked["state"], acked["acknowledged_by"]) == ("acknowledged", "ana")
    assert client.post("/api/v1/alerts/A1/assign", json={"assignee": "bo"}).get_json()["assignee"] == "bo"
    got = client.post("/api/v1/alerts/A1/comment", json={"text": "Crew on the way"}).get_json()
    assert [(c["by"], c["text"]) for c in got["comments"]] == [("ana", "Crew on the way")]
    trail = client.get("/api/v1/alerts/A1").get_json()["audit"]
    assert [(e["action"], e["by"]) for e in trail] == [("raised", "system"), ("acknowledged", "ana"),
                                                       ("assigned", "ana"), ("commented", "ana")]


@pytest.mark.parametrize("path,body,status", [
    ("/api/v1/alerts/A1/assign", {"who": "bo"}, 400), ("/api/v1/alerts/A1/assign", None, 400),
    ("/api/v1/alerts/A1/comment", {"text": "   "}, 400), ("/api/v1/alerts/A1/comment", {"text": 5}, 400),
    ("/api/v1/alerts/A99/ack", None, 404), ("/api/v1/alerts/A99/comment", {"text": "hi"}, 404),
    ("/api/v1/alerts/A3/ack", None, 409), ("/api/v1/alerts/A3/assign", {"assignee": "bo"}, 409),
    ("/api/v1/alerts/A3/comment", {"text": "late"}, 409),
])
def test_bad_actions_are_refused_with_the_right_status(as_role, book, path, body, status):
    client = as_role("coordinator")
    resp = client.post(path, json=body) if body is not None else client.post(path)
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["error"]


@pytest.mark.parametrize("role", ["viewer", "kiosk"])
def test_only_a_coordinator_may_act_and_the_role_is_checked_before_anything_else(app, as_role, r, keys, book, role):
    session = as_role(role)
    token = app.server.test_client()
    headers = bearer(r, keys, role)  # an API token of the same role: the same answer
    for path, body in (("/api/v1/alerts/A1/ack", None), ("/api/v1/alerts/A1/assign", {"assignee": "x"}),
                       ("/api/v1/alerts/A1/comment", {"text": "x"}), ("/api/v1/alerts/A99/ack", None),
                       ("/api/v1/alerts/A1/assign", {"bad": 1})):
        assert session.post(path, json=body).status_code == 403  # even for an unknown alert or a bad body
        assert token.post(path, json=body, headers=headers).status_code == 403
    assert book.get("A1")["acknowledged"] is False and book.get("A1")["assignee"] is None


def test_nobody_signed_in_gets_nothing(app, book):
    client = app.server.test_client()
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.post("/api/v1/alerts/A1/ack").status_code == 401
    assert book.get("A1")["acknowledged"] is False


def test_a_coordinators_api_token_acknowledges(app, r, keys, book):
    resp = app.server.test_client().post("/api/v1/alerts/A1/ack", headers=bearer(r, keys, "coordinator"))
    assert resp.status_code == 200 and resp.get_json()["acknowledged_by"].startswith("token:api-coordinator-")


def test_the_alert_routes_are_in_the_openapi_document(as_role):
    doc = as_role("viewer").get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/alerts", "/api/v1/alerts/{id}", "/api/v1/alerts/{id}/ack", "/api/v1/alerts/{id}/assign",
                 "/api/v1/alerts/{id}/comment"):
        assert path in doc["paths"]
    assert "Alert" in doc["components"]["schemas"]


def test_redis_down_is_a_503(r, keys):
    app = create_app(Settings("redis://127.0.0.1:1/0", 8050, None, keys.prefix, 5, None), CITY)
    resp = signed_in(app, r, keys, "viewer").get("/api/v1/alerts")
    assert resp.status_code == 503 and resp.get_json()["error"].startswith("store unavailable")


def test_a_wall_pins_the_oldest_unacknowledged_critical_alert_until_it_is_acknowledged(book):
    from dashboard.reads.alerts import pinning

    book.raise_alert("aqi", "D2", "critical", "Unhealthy air in Harbor", "AQI 170", now=T0 + 100, district="D2")
    assert pinning(book.open_alerts())["id"] == "A1"
    book.acknowledge("A1", "ana", now=T0 + 200)
    assert pinning(book.open_alerts())["id"] == "A4"
    book.clear("aqi", "D2", now=T0 + 300)
    assert pinning(book.open_alerts()) is None
