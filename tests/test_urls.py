"""Every page's state is in its URL: opening a shared link shows the same view (filters, drill-downs,
sort, range, chosen station / route / incident / centre / type). The server renders the page for the
URL (the shell's route callback, as the browser calls it); tests/test_urls_browser.py opens a few in
Chromium."""
from __future__ import annotations

import time

import orjson
import pytest

from app import create_app
from feeds.config import Settings
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.transit import simulators
from tests.auth_helpers import signed_in


@pytest.fixture
def client(r, keys, redis_url, sample_city):
    (adapter, gen, _), = simulators(sample_city)  # the buses page needs its GTFS loaded to know route R1
    Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city)).run_once(adapter, gen.payload(time.time()))
    return signed_in(create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), sample_city), r, keys, "viewer")


def open_url(client, pathname: str, search: str = "") -> dict:
    body = {"output": "..page.children...nav.children..",
            "outputs": [{"id": "page", "property": "children"}, {"id": "nav", "property": "children"}],
            "inputs": [{"id": "url", "property": "pathname", "value": pathname},
                       {"id": "url", "property": "search", "value": search}],
            "changedPropIds": ["url.pathname"]}
    res = client.post("/_dash-update-component", json=body)
    assert res.status_code == 200, res.data[:300]
    return res.json["response"]["page"]["children"]


def find(tree, ident):
    """The component with id ``ident`` in a rendered tree (Dash's wire form), or None."""
    if isinstance(tree, list):
        for child in tree:
            hit = find(child, ident)
            if hit is not None:
                return hit
    elif isinstance(tree, dict):
        props = tree.get("props", {})
        if props.get("id") == ident:
            return props
        return find(props.get("children"), ident)
    return None


def text(tree) -> str:
    return orjson.dumps(tree).decode()


@pytest.mark.parametrize("path, search, store, expected", [
    ("/traffic", "?district=D5", "traffic-focus", "D5"),
    ("/transit", "?sort=bunched", "transit-focus", {"route": None, "vehicle": None, "sort": "bunched"}),
    ("/transit", "?route=R1&vehicle=V9", "transit-focus", {"route": "R1", "vehicle": "V9", "sort": "on_time"}),
    ("/emergency", "?incident=F-17", "emergency-focus", {"district": None, "incident": "F-17"}),
    ("/emergency", "?district=D3", "emergency-focus", {"district": "D3", "incident": None}),
    ("/environment", "?station=AQ-3", "environment-focus", {"district": None, "station": "AQ-3"}),
    ("/environment", "?district=D2", "environment-focus", {"district": "D2", "station": None}),
    ("/services", "?centre=C1&type=Pothole", "services-focus", {"centre": "C1", "type": "Pothole"}),
    ("/kpi/transit.on_time_pct", "?range=week", "kpi-focus", {"id": "transit.on_time_pct", "range": "week"}),
    ("/timeline", "?since=24", "timeline-focus", {"since_h": 24}),
])
def test_a_shared_link_opens_the_same_view(client, path, search, store, expected):
    page = open_url(client, path, search)
    assert find(page, store)["data"] == expected


def test_the_drill_down_headings_name_what_the_link_chose(client):
    assert find(open_url(client, "/traffic", "?district=D5"), "traffic-district-name")["children"] == "Central"
    assert find(open_url(client, "/transit", "?route=R1"), "transit-route-name") is not None
    assert find(open_url(client, "/emergency", "?incident=F-17"), "emergency-incident-name")["children"] == "F-17"
    assert find(open_url(client, "/environment", "?station=AQ-3"), "environment-station-name")["children"] == "AQ-3"
    assert "Pothole" in text(find(open_url(client, "/services", "?type=Pothole"), "services-type-chip"))
    kpi = open_url(client, "/kpi/transit.on_time_pct", "?range=week")
    assert "range-link active" in find(kpi, "kpi-range-week")["className"]
    assert find(kpi, "kpi-csv")["href"] == "/api/v1/kpis/transit.on_time_pct/history.csv?range=week"
    assert "range-link active" in find(open_url(client, "/timeline", "?since=720"), "timeline-since-720")["className"]


def test_links_inside_pages_carry_the_state_they_lead_to(client):
    from dashboard.pages.transit import routes_table

    from feeds.kpi.catalogue import kpis_of

    kpis = {k.id: {"detail": {}, "as_of": None, "age_s": None} for k in kpis_of("transit")}
    sorted_by = repr(routes_table(kpis, {}, "bunched"))
    assert "/transit?sort=on_time" in sorted_by  # each sort is a link, so the sorted view can be shared
    kpi = text(open_url(client, "/kpi/traffic.travel_time_index"))
    assert all(f"/kpi/traffic.travel_time_index?range={r}" in kpi for r in ("day", "week", "all"))


def test_a_bad_value_in_a_link_falls_back_to_the_plain_view_not_an_error(client):
    assert find(open_url(client, "/traffic", "?district=atlantis"), "traffic-focus")["data"] is None
    assert find(open_url(client, "/transit", "?sort=colour"), "transit-focus")["data"]["sort"] == "on_time"
    assert find(open_url(client, "/timeline", "?since=forever"), "timeline-focus")["data"] == {"since_h": 168}
    assert find(open_url(client, "/kpi/nope"), "kpi-unknown") is not None
