"""Alerts in headless Chromium: a coordinator acknowledges on /alerts and the audit says who and when;
a viewer sees the alerts but no buttons; the top-bar badge."""
from __future__ import annotations

import time

import pytest

from feeds.alerts import AlertBook
from tests.auth_helpers import sign_in
from tests.test_alert_rules import make_city
from tests.test_browser import free_port, no_console_errors

pytestmark = pytest.mark.browser

CITY = make_city([])


def start_as(dash_duo, r, redis_url, keys, role: str, name: str | None = None, path: str = "/alerts", layout=None):
    """Serve the app (or only ``layout``, for slots other pages carry) and sign in as ``role`` at ``path``."""
    from app import create_app
    from feeds.config import Settings

    app = create_app(Settings(redis_url, 8050, None, keys.prefix, 1.0, None), CITY)
    if layout is not None:
        app.layout = layout
    dash_duo.start_server(app, navigate=False, port=free_port())
    return sign_in(dash_duo, r, keys, role, path=path, name=name)


def raise_two(r, keys):
    book = AlertBook(r, keys)
    now = time.time()
    a = book.raise_alert("aqi", "D1", "critical", "Unhealthy air in Old Town",
                         "Air quality index 162 > limit 150 in Old Town", now=now - 240, value=162,
                         view="/district/D1", kpi="environment.aqi", district="D1")
    b = book.raise_alert("wait", "city", "warning", "Long waits", "Mean wait 31.0 min > target 20.0 min (BREACH)",
                         now=now - 30, value=31, view="/services", kpi="services.wait_min")
    return book, a, b


def test_a_coordinator_acknowledges_an_alert_and_the_audit_shows_who_and_when(dash_duo, r, keys, redis_url):
    book, a, b = raise_two(r, keys)
    start_as(dash_duo, r, redis_url, keys, "coordinator", name="ana")
    dash_duo.wait_for_contains_text("#alerts-open", "Unhealthy air in Old Town", timeout=10)
    rows = dash_duo.find_elements("#alerts-open .alert-row")
    assert [row.get_attribute("id") for row in rows] == [f"alert-{a['id']}", f"alert-{b['id']}"]  # most severe first
    first = rows[0].text
    assert "CRITICAL" in first and "raised 4 min ago" in first and "not acknowledged" in first
    assert dash_duo.find_element("#alert-badge").text == "▲ 1 critical +1"

    dash_duo.find_element(f"#alert-{a['id']} button").click()
    dash_duo.wait_for_contains_text("#alerts-action-msg", f"Acknowledged {a['id']} as ana", timeout=10)
    dash_duo.wait_for_contains_text(f"#alert-{a['id']}", "acknowledged by ana", timeout=10)
    stored = book.get(a["id"])
    assert (stored["state"], stored["acknowledged_by"]) == ("acknowledged", "ana")
    assert "ACKNOWLEDGED" in dash_duo.find_element(f"#alert-{a['id']} .alert-state").text

    # The drill-down: assign, comment, and the audit trail with who and when.
    dash_duo.find_element(f"#alert-{a['id']} a[href='/alerts?alert={a['id']}']").click()
    dash_duo.wait_for_contains_text("#alert-audit", "acknowledged", timeout=10)
    dash_duo.find_element(".alert-forms input").send_keys("bo")
    dash_duo.find_element("button.alert-assign").click()
    dash_duo.wait_for_text_to_equal("#alert-fact-assignee", "bo", timeout=10)
    dash_duo.find_element(".alert-forms textarea").send_keys("Crew on the way")
    dash_duo.find_element("button.alert-comment").click()
    dash_duo.wait_for_contains_text("#alert-comments", "ana: Crew on the way", timeout=10)
    deadline = time.monotonic() + 10  # the forms are drawn again, empty, once the action went through
    while dash_duo.find_element(".alert-forms textarea").get_attribute("value") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dash_duo.find_element(".alert-forms textarea").get_attribute("value") == ""
    audit = [row.text for row in dash_duo.find_elements("#alert-audit tbody tr")]
    assert [line.split()[3] for line in audit] == ["raised", "acknowledged", "assigned", "commented"]
    assert [line.split()[4] for line in audit] == ["system", "ana", "ana", "ana"]
    hhmmss = time.strftime("%H:%M", time.gmtime(stored["acknowledged_at"]))  # the city's zone is UTC
    assert hhmmss in audit[1]
    no_console_errors(dash_duo)


def test_a_viewer_sees_the_alerts_but_no_buttons(dash_duo, r, keys, redis_url):
    book, a, b = raise_two(r, keys)
    start_as(dash_duo, r, redis_url, keys, "viewer")
    dash_duo.wait_for_contains_text("#alerts-open", "Long waits", timeout=10)
    assert dash_duo.find_elements("#alerts-page button, .alert-actions button") == []
    dash_duo.wait_for_page(f"{dash_duo.server_url}/alerts?alert={a['id']}")
    dash_duo.wait_for_contains_text("#alert-audit", "raised", timeout=10)
    assert dash_duo.find_elements("button.alert-btn") == []
    assert dash_duo.find_elements(".alert-forms input, .alert-forms textarea") == []
    # An alert that clears while shown disappears from the open list and the badge.
    book.clear("aqi", "D1")
    book.clear("wait", "city")
    dash_duo.wait_for_page(f"{dash_duo.server_url}/alerts")
    dash_duo.wait_for_text_to_equal("#alerts-open", "No open alerts.", timeout=10)
    dash_duo.wait_for_contains_text("#alerts-cleared", "MISSED", timeout=10)
    assert "hidden" in dash_duo.find_element("#alert-badge").get_attribute("class")
    no_console_errors(dash_duo)


def test_the_overview_and_district_panels_show_the_open_alerts(dash_duo, r, keys, redis_url):
    from dash import dcc, html

    book, a, b = raise_two(r, keys)
    # The slots the overview ("/") and district ("/district/<id>") pages carry; those pages are built elsewhere.
    layout = html.Div(className="shell theme-dark", children=[
        dcc.Location(id="url"), dcc.Interval(id="tick", interval=1000), html.Span(id="alert-badge"),
        html.Div(id="overview-alerts"), dcc.Store(id="overview-alerts-shown"), dcc.Store(id="district-id", data="D1"),
        html.Div(id="district-alerts"), dcc.Store(id="district-alerts-shown")])
    start_as(dash_duo, r, redis_url, keys, "kiosk", path="/", layout=layout)  # a wall screen reads them too
    dash_duo.wait_for_contains_text("#overview-alerts", "ACTIVE ALERTS (2)", timeout=10)
    rows = [e.text for e in dash_duo.find_elements("#overview-alerts li")]
    assert rows[0].split()[:4] == ["CRITICAL", "Unhealthy", "air", "in"]  # most severe first
    assert "NOT ACK" in rows[0] and "WARNING" in rows[1]
    dash_duo.wait_for_contains_text("#district-alerts", "ALERTS IN OLD TOWN (1)", timeout=10)
    assert "Air quality index 162 > limit 150 in Old Town" in dash_duo.find_element("#district-alerts").text
    assert "Long waits" not in dash_duo.find_element("#district-alerts").text
    link = dash_duo.find_element("#overview-alerts li a").get_attribute("href")
    assert link.endswith(f"/alerts?alert={a['id']}")
    no_console_errors(dash_duo)
