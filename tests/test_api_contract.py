"""The API against its own OpenAPI document (/api/v1/openapi.json), with schemathesis through the WSGI app.

Every operation of the document gets generated requests (path ids, query values, JSON bodies, valid
and not) as a coordinator with an API token, so the POST and DELETE routes run too, on a city the
simulator has filled once (real Redis, a key prefix of this module's own). Checks: no 5xx, every
response's status is one the document lists, and its body matches the schema of that status.

CI: API_FUZZ_EXAMPLES examples per operation (10 by default); ``API_FUZZ_EXAMPLES=200`` for a deep run
(``python -m bench.fuzz`` runs this file so).
"""
from __future__ import annotations

import os
from collections import Counter
import threading
import time
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from app import create_app
from dashboard.openapi import openapi_document
from feeds.alerts import AlertBook
from feeds.config import Settings, load_city
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.schema import Keys
from feeds.simulate import run_simulation
from tests.auth_helpers import bearer
from tests.conftest import SAMPLE_CITY

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10"))
STATUSES: dict[str, Counter] = {}  # operation -> status codes answered (read by bench.fuzz)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def city_api(redis_url):
    """The app on a simulated city, and a coordinator's Authorization header; the keys deleted after."""
    r = connect(redis_url)
    keys = Keys(f"cbtest-{uuid.uuid4().hex[:12]}")
    city = load_city(SAMPLE_CITY)
    run_simulation(Runner(r, keys, city, KpiEngine(r, keys, city)), city, threading.Event(), ticks=1)
    book = AlertBook(r, keys)  # open alerts for the alert routes to act on
    for i, district in enumerate(d.id for d in city.districts[:3]):
        book.raise_alert("aqi", district, "critical", f"Unhealthy air {i}", "AQI 162 > limit 150", now=time.time(),
                         value=162, kpi="environment.aqi", district=district)
    app = create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), city)
    yield app, bearer(r, keys, "coordinator")
    stale = list(r.scan_iter(match=keys.pattern(), count=1000))
    if stale:
        r.delete(*stale)
    r.close()


@pytest.fixture(scope="module")
def api_schema(city_api):
    app, _ = city_api
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app.server, headers=city_api[1])


# Where the ids that exist come from: random path ids are all 404s, so half the cases use a real one.
LISTINGS = {"kpis": ("kpis", "id"), "alerts": ("alerts", "id"), "annotations": ("annotations", "id"), "incidents": ("incidents", "id"),
            "stations": ("stations", "id"), "centres": ("centres", "id"), "routes": ("routes", "route_id")}


@pytest.fixture(scope="module")
def real_ids(city_api) -> dict[str, list[str]]:
    app, auth = city_api
    client = app.server.test_client()
    for i in range(3):  # notes for DELETE /annotations/{id}
        client.post("/api/v1/annotations", headers=auth, json={"target": "timeline", "text": f"note {i}"})
    out = {}
    for name, (key, field) in LISTINGS.items():
        rows = client.get(f"/api/v1/{name}", headers=auth).get_json()[key]
        out[name] = sorted({str(row.get(field) or row.get("id")) for row in rows})[:20]
    return out


def real_values(path: str, ids: dict[str, list[str]]):
    """A strategy of (path parameters, body) overrides with values that exist, or None for none."""
    name = path.split("/")[3] if path.count("/") >= 4 else ""
    options = [None]
    if "{" in path and ids.get(name):
        param = path.split("{")[1].split("}")[0]
        options += [({param: i}, None) for i in ids[name]]
    if path == "/api/v1/annotations":
        options += [(None, {"target": t, "text": "fuzz note"}) for t in
                    ["timeline", *(f"incident:{i}" for i in ids["incidents"][:5])]]
    return st.sampled_from(options)


# One test per operation of the document (read without Redis, so the list is known at collection).
OPERATIONS = [(method.upper(), path) for path, item in openapi_document()["paths"].items() for method in item]


@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_keeps_to_the_document(api_schema, city_api, real_ids, method, path):
    operation = api_schema[path][method]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("API_FUZZ_RANDOM") is None,
              database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), override=real_values(path, real_ids))
    def call(case, override):
        if override is not None:
            params, body = override
            if params:
                case.path_parameters = {**(case.path_parameters or {}), **params}
            if body is not None and method == "POST":
                case.body = body
        response = case.call_and_validate(headers=city_api[1], checks=CHECKS)
        STATUSES.setdefault(f"{method} {path}", Counter())[response.status_code] += 1
    call()


def test_the_checks_see_a_response_the_document_does_not_allow(api_schema):
    """The contract test can fail: a 200 from /api/v1/feeds that is not a FeedList, or a 500, breaks it."""
    import requests
    from schemathesis.core.failures import FailureGroup

    case = api_schema["/api/v1/feeds"]["GET"].Case()
    for status, body in ((200, b'{"feeds": [{"name": 5}]}'), (500, b'{"error": "internal error"}')):
        bad = requests.Response()
        bad.status_code, bad._content = status, body
        bad.headers["Content-Type"] = "application/json"
        bad.request = requests.Request("GET", "http://localhost/api/v1/feeds").prepare()
        with pytest.raises(FailureGroup):
            case.validate_response(bad, checks=CHECKS)


@pytest.mark.parametrize("url", ["/api/v1/stations/a%0Ab", "/api/v1/kpis/x%0A/history.csv", "/api/v1/%0A"])
def test_an_api_url_no_route_matches_is_a_json_404(city_api, url):
    """Found by this contract test: a newline in a path segment matched no rule, and Flask's HTML 404 is
    not the document's application/json."""
    app, auth = city_api
    res = app.server.test_client().get(url, headers=auth)
    assert res.status_code == 404 and res.mimetype == "application/json" and "error" in res.get_json()
