"""/emergency in headless Chromium: the panel renders, an incident drills down to its timeline,
a district to its incidents, stuck units stand out, and the console stays clean."""
from __future__ import annotations

import time

import orjson
import pytest

from feeds.adapters.emergency import EmergencyAdapter
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from tests.emergency_helpers import SF_FILE, pdt, source, west_coast_city
from tests.test_browser import no_console_errors, start

pytestmark = pytest.mark.browser


def feed(r, keys, city):
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    runner.run_once(EmergencyAdapter(city, source("sf-fire")), SF_FILE.read_bytes(), now=pdt(2017, 6, 23, 21, 0))
    now = time.time()
    events = [
        {"kind": "incident", "incident": "I-1", "time": now - 600, "type": "Cardiac arrest", "category": "ems",
         "priority": 1, "lat": 37.771, "lon": -122.43},
        {"kind": "incident", "incident": "I-2", "time": now - 300, "type": "Outside fire", "category": "fire",
         "priority": 2, "lat": 37.769, "lon": -122.44},
        {"unit": "M1", "status": "dispatched", "incident": "I-1", "time": now - 560},
        {"unit": "M1", "status": "en_route", "incident": "I-1", "time": now - 520},
        {"unit": "M1", "status": "on_scene", "incident": "I-1", "time": now - 300, "lat": 37.771, "lon": -122.43},
        # E1 dispatched 5 min ago and never went en route: past the 120 s limit, it must stand out
        {"unit": "E1", "status": "dispatched", "incident": "I-2", "time": now - 290},
        {"unit": "M2", "status": "available", "time": now - 100, "lat": 47.6, "lon": -122.33},
    ]
    runner.run_once(EmergencyAdapter(city, source("unit-events")), orjson.dumps(events), now=now)


def test_panel_renders_and_an_incident_drills_down_to_its_timeline(dash_duo, r, keys, redis_url):
    city = west_coast_city()
    feed(r, keys, city)
    start(dash_duo, redis_url, keys, city, refresh_s=30)  # no re-render under the test's feet
    dash_duo.wait_for_page(f"{dash_duo.server_url}/emergency")
    dash_duo.wait_for_element("#incident-link-I-1", timeout=15)
    rows = dash_duo.find_elements("#emergency-queue-table tbody tr")
    assert [row.text.split()[1] for row in rows] == ["I-1", "I-2"]  # P1 first
    # every KPI card tells where its clock starts and stops
    travel = dash_duo.find_element("#kpi-emergency-travel-p90-s").text
    assert "clock: first-arriving unit en route → on scene" in travel
    assert "Fire" in dash_duo.find_element("#kpi-emergency-turnout-p90-s").text
    # the unit dispatched 5 minutes ago without rolling is flagged
    e1 = dash_duo.find_element("#unit-E1")
    assert "STUCK" in e1.text and "unit-stuck" in e1.get_attribute("class")
    assert "STUCK" not in dash_duo.find_element("#unit-M1").text
    dash_duo.wait_for_element("#emergency-map .maplibregl-canvas", timeout=15)
    # timers run in the browser between server renders (refresh here is 30 s)
    age = "#emergency-queue-table tbody tr:first-child td:nth-child(5)"
    before = dash_duo.find_element(age).text
    time.sleep(2.2)
    after = dash_duo.find_element(age).text
    assert after != before and after.count(":") == before.count(":")

    dash_duo.find_element("#incident-link-I-1").click()
    dash_duo.wait_for_text_to_equal("#emergency-incident-name", "I-1", timeout=10)
    assert dash_duo.driver.current_url.endswith("/emergency?incident=I-1")
    dash_duo.wait_for_element("#timeline-M1", timeout=10)
    row = dash_duo.find_element("#timeline-M1").text
    assert "FIRST ON SCENE" in row
    assert "220" in row  # travel: on scene (now - 300) - en route (now - 520)
    log = dash_duo.find_element("#emergency-event-log").text
    assert "RECEIVED" in log and "EN ROUTE" in log

    dash_duo.find_element("#emergency-back").click()
    dash_duo.wait_for_text_to_equal("h1", "Emergency dispatch — whole city", timeout=10)
    no_console_errors(dash_duo)


def test_a_district_drills_down_to_its_incidents_and_an_old_call_to_its_timeline(dash_duo, r, keys, redis_url):
    city = west_coast_city()
    feed(r, keys, city)
    start(dash_duo, redis_url, keys, city, refresh_s=30)  # no re-render under the test's feet
    dash_duo.wait_for_page(f"{dash_duo.server_url}/emergency")
    dash_duo.wait_for_element("#emergency-district-haight", timeout=15)
    dash_duo.find_element("#emergency-district-haight").click()
    dash_duo.wait_for_text_to_equal("#emergency-district-name", "Haight", timeout=10)
    dash_duo.wait_for_element("#district-incident-17073664", timeout=10)
    listed = dash_duo.find_element("#emergency-district-incidents").text
    assert "I-1" in listed and "I-2" in listed and "CLOSED" in listed
    dash_duo.find_element("#district-incident-17073664").click()
    dash_duo.wait_for_text_to_equal("#emergency-incident-name", "17073664", timeout=10)
    dash_duo.wait_for_element("#timeline-E05", timeout=10)
    assert "FIRST ON SCENE" in dash_duo.find_element("#timeline-E05").text
    e06 = dash_duo.find_element("#timeline-E06").text
    assert "CANCELLED" in e06 and "122" in e06  # turnout 20:34:06 -> 20:36:08
    no_console_errors(dash_duo)


def test_a_unit_passing_its_limit_between_renders_is_flagged_in_the_browser(dash_duo, r, keys, redis_url):
    # M1 has been on scene 300 s when fed; its limit here is 312 s. The server renders it unflagged
    # (refresh 30 s); the browser's own timer flags it about 12 s later, with no server round trip.
    limits = {"dispatched": 120, "en_route": 900, "on_scene": 312, "transporting": 1800, "at_hospital": 2700}
    city = west_coast_city(stuck_after_s=limits)
    feed(r, keys, city)
    start(dash_duo, redis_url, keys, city, refresh_s=30)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/emergency")
    dash_duo.wait_for_element("#unit-M1", timeout=10)
    assert "unit-stuck" not in dash_duo.find_element("#unit-M1").get_attribute("class")
    deadline = time.monotonic() + 25
    while "unit-stuck" not in dash_duo.find_element("#unit-M1").get_attribute("class") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "STUCK" in dash_duo.find_element("#unit-M1").text
    no_console_errors(dash_duo)


def test_a_status_change_reaches_its_tile_by_patch_and_the_rest_of_the_board_stays(dash_duo, r, keys, redis_url):
    city = west_coast_city()
    feed(r, keys, city)
    start(dash_duo, redis_url, keys, city, refresh_s=1)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/emergency")
    dash_duo.wait_for_contains_text("#unit-M2", "AVAILABLE", timeout=10)
    now = time.time()
    Runner(r, keys, city, KpiEngine(r, keys, city)).run_once(
        EmergencyAdapter(city, source("unit-events")),
        orjson.dumps([{"unit": "M2", "status": "dispatched", "incident": "I-2", "time": now}]), now=now)
    dash_duo.wait_for_contains_text("#unit-M2", "DISPATCHED", timeout=10)
    dash_duo.wait_for_contains_text("#unit-M2", "I-2", timeout=10)
    assert "STUCK" in dash_duo.find_element("#unit-E1").text  # untouched tiles keep their state
    assert "ON SCENE" in dash_duo.find_element("#unit-M1").text
    # the queue shows I-2 now has a unit assigned
    dash_duo.wait_for_contains_text("#emergency-queue-table", "0/2", timeout=10)
    no_console_errors(dash_duo)


def test_a_map_click_on_an_incident_or_a_district_drills_down(dash_duo, r, keys, redis_url):
    # Plotly's click on the map sets the graph's clickData; the drill-down callback turns it into the URL.
    city = west_coast_city()
    feed(r, keys, city)
    start(dash_duo, redis_url, keys, city, refresh_s=30)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/emergency")
    dash_duo.wait_for_element("#incident-link-I-1", timeout=15)
    click = "window.dash_clientside.set_props('emergency-map', {clickData: arguments[0]});"
    dash_duo.driver.execute_script(click, {"points": [{"curveNumber": 1, "pointNumber": 0, "customdata": "I-2"}]})
    dash_duo.wait_for_text_to_equal("#emergency-incident-name", "I-2", timeout=10)
    assert dash_duo.driver.current_url.endswith("/emergency?incident=I-2")
    dash_duo.find_element("#emergency-back").click()
    dash_duo.wait_for_element("#incident-link-I-1", timeout=15)
    dash_duo.driver.execute_script(click, {"points": [{"curveNumber": 0, "pointNumber": 0, "location": "haight"}]})
    dash_duo.wait_for_text_to_equal("#emergency-district-name", "Haight", timeout=10)
    no_console_errors(dash_duo)
