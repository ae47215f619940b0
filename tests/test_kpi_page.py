"""A department head opens /kpi/<id>: the KPI's history against its target, districts that miss, the
timeline's notes on the chart, and CSVs that hold exactly what is stored."""
from __future__ import annotations

import csv
import io
import math
import time

import orjson
import pytest

from app import create_app
from dashboard.pages import kpi as kpi_page
from feeds.annotations import Annotations
from feeds.config import Settings
from feeds.schema import KPI_HISTORY_STEP_S
from feeds.timeparse import epoch_to_iso
from tests.notes_helpers import Roles
from tests.test_browser import City

KPI = "traffic.travel_time_index"


def store_history(r, keys, kpi_id: str, points: list[tuple[float, float, str]]) -> list[dict]:
    """Points written the way the KPI engine writes them: one per minute bucket, JSON {t, v, s}."""
    out = []
    for t, v, s in points:
        bucket = math.floor(t / KPI_HISTORY_STEP_S) * KPI_HISTORY_STEP_S
        r.zadd(keys.kpi_history(kpi_id), {orjson.dumps({"t": t, "v": v, "s": s}): bucket})
        out.append({"t": t, "v": v, "s": s})
    return out


@pytest.fixture
def app(r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    return create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), sample_city)


@pytest.fixture
def roles(app, r, keys):
    return Roles(app, r, keys)


@pytest.fixture
def client(roles):
    """A department head's session: reading is all a viewer needs."""
    return roles("viewer")


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_history_csv_holds_every_stored_point_of_the_range_with_iso_times(client, r, keys):
    now = time.time()
    old = store_history(r, keys, "transit.on_time_pct", [(now - 3 * 86400 + 0.25, 81.5, "warn")])
    recent = store_history(r, keys, "transit.on_time_pct", [(now - 7200.5, 86.125, "ok"), (now - 60.75, 70.0, "breach")])
    res = client.get("/api/v1/kpis/transit.on_time_pct/history.csv?range=day")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert 'attachment; filename="transit.on_time_pct-day-' in res.headers["Content-Disposition"]
    expected = [["time_utc", "epoch_s", "value", "status"]] + [
        [epoch_to_iso(p["t"]), repr(p["t"]), repr(p["v"]), p["s"]] for p in recent]
    assert rows_of(res.get_data(as_text=True)) == expected
    week = rows_of(client.get("/api/v1/kpis/transit.on_time_pct/history.csv?range=week").get_data(as_text=True))
    assert week[1:] == [[epoch_to_iso(p["t"]), repr(p["t"]), repr(p["v"]), p["s"]] for p in old + recent]
    assert week[1][2] == "81.5" and week[2][0].endswith("Z")


def test_history_csv_refuses_an_unknown_kpi_or_range(client):
    assert client.get("/api/v1/kpis/city.happiness/history.csv").status_code == 404
    bad = client.get(f"/api/v1/kpis/{KPI}/history.csv?range=month")
    assert bad.status_code == 400 and "day, week, all" in bad.json["error"]


def test_districts_csv_matches_the_stored_breakdown_and_flags_the_misses(client, r, keys, sample_city):
    stored = orjson.loads(r.hget(keys.kpi_values(), KPI))
    rows = rows_of(client.get(f"/api/v1/kpis/{KPI}/districts.csv").get_data(as_text=True))
    assert rows[0] == ["kpi", "district", "name", "value", "status", "target", "warn", "misses_target", "as_of_utc"]
    by_id = {row[1]: row for row in rows[1:]}
    assert set(by_id) == set(sample_city.district_ids())
    for d, dv in stored["by_district"].items():
        row = by_id[d]
        assert row[3] == ("" if dv["value"] is None else repr(dv["value"]))
        assert row[4] == dv["status"] and row[7] == ("yes" if dv["status"] in ("warn", "breach") else "no")
        assert row[8] == epoch_to_iso(stored["as_of"])
    misses = [row[7] for row in rows[1:]]
    assert misses == sorted(misses, reverse=True)  # the districts that miss come first


def test_an_unknown_kpi_page_says_so_and_lists_the_known_ones(app):
    with app.server.test_request_context("/"):
        shown = str(kpi_page.page(None, {"id": "city.happiness"}))
    assert "Unknown KPI" in shown and "There is no KPI 'city.happiness'" in shown and "/kpi/city.score" in shown


def test_a_range_we_do_not_keep_falls_back_to_a_day_and_says_why(app):
    with app.server.test_request_context("/"):
        shown = kpi_page.page(None, {"id": KPI, "range": "month"})
    assert "No range 'month'" in str(shown) and "8 days" in str(shown)
    assert "history.csv?range=day" in str(shown)


def test_the_chart_has_the_target_line_the_warn_band_and_a_marker_per_note():
    kpi = {"id": KPI, "name": "Travel time index", "unit": "", "decimals": 2, "direction": "lower",
           "target": 1.2, "warn": 1.5, "status": "ok"}
    points = [{"t": 1_800_000_000.0 + 60 * i, "v": 1.1 + 0.1 * i, "s": "ok"} for i in range(5)]
    note = {"id": "N1", "target": "timeline", "at": 1_800_000_090.0, "text": "Bridge <closed>", "by": "ana",
            "created_at": 1_800_000_100.0}
    fig = kpi_page.trend_figure(kpi, points, [note], "UTC", "dark")
    line, markers = fig["data"]
    assert line["y"] == [p["v"] for p in points] and line["x"][0] == "2027-01-15 08:00:00"
    band, target, note_line = fig["layout"]["shapes"]
    assert (band["y0"], band["y1"]) == (1.2, 1.5) and target["y0"] == target["y1"] == 1.2
    assert note_line["x0"] == "2027-01-15 08:01:30" and note_line["yref"] == "paper"
    assert markers["x"] == ["2027-01-15 08:01:30"] and markers["yaxis"] == "y2"
    assert markers["hovertext"] == ["<b>city timeline</b><br>Bridge &lt;closed&gt;<br>ana, 2027-01-15 08:01"]


def refresh(client, focus: dict, shown=None) -> dict:
    outs = [("kpi-card-slot", "children"), ("kpi-asof", "children"), ("kpi-target-fact", "children"),
            ("kpi-trend", "figure"), ("kpi-districts", "children"), ("kpi-notes", "children"), ("kpi-shown", "data")]
    body = {"output": ".." + "...".join(f"{i}.{p}" for i, p in outs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outs],
            "inputs": [{"id": "tick", "property": "n_intervals", "value": 1},
                       {"id": "theme", "property": "data", "value": "dark"},
                       {"id": "kpi-note-saved", "property": "data", "value": None}],
            "state": [{"id": "kpi-focus", "property": "data", "value": focus},
                      {"id": "kpi-shown", "property": "data", "value": shown}],
            "changedPropIds": ["tick.n_intervals"]}
    res = client.post("/_dash-update-component", json=body)
    assert res.status_code == 200, res.data[:300]
    return res.json["response"]


def add_note(client, text: str):
    outs = [("kpi-note-msg", "children"), ("kpi-note-text", "value"), ("kpi-note-saved", "data")]
    body = {"output": ".." + "...".join(f"{i}.{p}" for i, p in outs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outs],
            "inputs": [{"id": "kpi-note-add", "property": "n_clicks", "value": 1}],
            "state": [{"id": "kpi-note-text", "property": "value", "value": text},
                      {"id": "kpi-note-at", "property": "value", "value": None}],
            "changedPropIds": ["kpi-note-add.n_clicks"]}
    return client.post("/_dash-update-component", json=body)


def test_the_refresh_paints_the_chart_once_then_only_the_card_until_something_changes(client, r, keys):
    Annotations(r, keys).add("timeline", "Marathon closes the ring road", "ana", at=time.time() - 300)
    first = refresh(client, {"id": KPI, "range": "day"})
    figure = first["kpi-trend"]["figure"]
    assert figure["data"][0]["y"] and figure["data"][1]["name"] == "notes"
    assert "Marathon closes the ring road" in figure["data"][1]["hovertext"][0]
    assert "kpi-district-table" in orjson.dumps(first["kpi-districts"]).decode()
    shown = first["kpi-shown"]["data"]
    again = refresh(client, {"id": KPI, "range": "day"}, shown)
    assert "kpi-trend" not in again and "kpi-card-slot" in again  # only the card and its age
    Annotations(r, keys).add("timeline", "Rain starts", "ben")
    after_note = refresh(client, {"id": KPI, "range": "day"}, shown)
    assert len(after_note["kpi-trend"]["figure"]["data"][1]["x"]) == 2


def test_only_a_coordinator_can_add_a_note_through_the_page_callback(roles, r, keys):
    for who, status in (("viewer", 403), ("kiosk", 403), (None, 401)):
        assert add_note(roles(who), "not allowed").status_code == status
    assert Annotations(r, keys).list() == []
    coordinator = roles("coordinator")
    res = add_note(coordinator, "Power cut in D4")
    assert res.status_code == 200
    msg = res.json["response"]["kpi-note-msg"]["children"]
    assert msg.startswith(f"Added by {coordinator.user_name}")
    [note] = Annotations(r, keys).list("timeline")
    assert (note["text"], note["by"]) == ("Power cut in D4", coordinator.user_name)
    empty = add_note(coordinator, "   ").json["response"]["kpi-note-msg"]["children"]
    assert empty == "Not added: text must not be empty."


def test_a_week_of_minute_points_is_thinned_for_the_chart_without_losing_a_spike():
    points = [{"t": 1_800_000_000.0 + 60 * i, "v": 1.1, "s": "ok"} for i in range(7 * 1440)]
    points[5000]["v"] = 3.9  # one bad minute in the week
    shown = kpi_page.thin(points)
    assert len(shown) <= 2 * kpi_page.CHART_BUCKETS and 3.9 in [p["v"] for p in shown]
    assert [p["t"] for p in shown] == sorted(p["t"] for p in shown)
    assert kpi_page.thin(points[:100]) == points[:100]  # a short history is drawn as it is


def test_every_kpi_card_links_to_its_trend_page_and_an_overview_card_keeps_its_own_link():
    from dashboard.components import kpi_card

    kpi = {"id": KPI, "name": "Travel time index", "value": 1.1, "unit": "", "target": 1.2, "direction": "lower",
           "status": "ok", "age_s": 5, "decimals": 2, "definition": "TTI"}
    card = kpi_card(kpi)
    assert card.children[-1].href == f"/kpi/{KPI}" and card.children[-1].children == "trend →"
    linked = kpi_card(kpi, href="/traffic")  # the overview's cards open their domain
    domain_link, trend = linked.children
    assert domain_link.href == "/traffic" and trend.href == f"/kpi/{KPI}"
    assert "/kpi/" not in str(domain_link)  # no link inside a link
    assert all(getattr(c, "href", None) is None for c in kpi_card(kpi, trend=False).children)
