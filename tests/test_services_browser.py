"""/services in headless Chromium: renders with data, centre drill-down, request-type map, no console errors."""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains

from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.services import simulators
from tests.test_browser import no_console_errors, start, text_of

pytestmark = pytest.mark.browser

MONDAY_1105 = datetime(2026, 11, 16, 11, 5, tzinfo=ZoneInfo("America/New_York")).timestamp()


def wait_text(dash_duo, selector: str, expected: str, contains: bool = False, timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while True:
        text = text_of(dash_duo, selector)
        if text is not None and (expected in text if contains else text.strip() == expected):
            return
        if time.time() > deadline:
            raise AssertionError(f"{selector}: expected {expected!r}, saw {text!r}")
        time.sleep(0.2)


def click(dash_duo, selector: str, timeout: float = 10) -> None:
    """Click, trying again if a refresh replaced the element in between."""
    deadline = time.time() + timeout
    while True:
        try:
            dash_duo.wait_for_element(selector, timeout=timeout).click()
            return
        except StaleElementReferenceException:
            if time.time() > deadline:
                raise


def fill(r, keys, city) -> dict:
    engine = KpiEngine(r, keys, city)
    runner = Runner(r, keys, city, engine)
    for adapter, gen, _ in simulators(city):
        if adapter.domain == "services":
            runner.run_once(adapter, gen.payload(MONDAY_1105), now=MONDAY_1105)
    return engine.recompute(("services",), now=MONDAY_1105)


def test_services_page_centre_drill_down_and_request_type(dash_duo, r, keys, redis_url, sample_city):
    values = fill(r, keys, sample_city)
    start(dash_duo, redis_url, keys, sample_city, refresh_s=2)  # a loaded CI machine must finish a paint per tick
    dash_duo.wait_for_page(url=dash_duo.server_url + "/services")
    waiting = values["services.people_waiting"]["value"]
    wait_text(dash_duo, "#kpi-services-people-waiting .kpi-value", f"{waiting:,.0f}", timeout=10)
    wait_text(dash_duo, "#services-centre-table", "City Hall One-Stop", contains=True)
    assert "STALE" in text_of(dash_duo, "#kpi-services-wait-min")  # Monday's data, read days later
    # The heat grid and the backlog drew their figures.
    dash_duo.wait_for_element("#services-heat .heatmaplayer", timeout=10)
    dash_duo.wait_for_element("#services-backlog .bars path", timeout=10)

    # Drill down to a centre from the table.
    click(dash_duo, "#services-centre-link-C1")
    wait_text(dash_duo, "#services-centre-name", "City Hall One-Stop", timeout=10)
    wait_text(dash_duo, "#services-queue-table", "Residency and ID cards", contains=True)
    c1 = values["services.open_counters"]["detail"]["by_centre"]["C1"]
    wait_text(dash_duo, "#services-centre-counters", f"{c1['open']} of {c1['scheduled']} scheduled",
                                    timeout=10)
    dash_duo.wait_for_element("#services-curve .scatterlayer .trace", timeout=10)
    # The centre's own people waiting on the card, not the city's.
    c1_waiting = values["services.people_waiting"]["detail"]["by_centre"]["C1"]["waiting"]
    wait_text(dash_duo, "#kpi-services-people-waiting .kpi-value", f"{c1_waiting:,.0f}", timeout=10)

    # Back to all centres, then click the biggest request type in the backlog chart.
    click(dash_duo, "#services-back")
    dash_duo.wait_for_element("#services-centre-table", timeout=10)
    dash_duo.wait_for_element("#services-backlog .bars path", timeout=10)
    by_type = values["services.requests_open"]["detail"]["by_type"]
    biggest = max(by_type, key=by_type.get)
    bars = dash_duo.find_elements("#services-backlog .bars path")
    ActionChains(dash_duo.driver).move_to_element(bars[-1]).click().perform()  # the top bar is the largest
    wait_text(dash_duo, "#services-type-chip", biggest, contains=True)
    wait_text(dash_duo, "#services-map-head", f"{by_type[biggest]} open '{biggest}' requests on the map", contains=True,
              timeout=20)
    time.sleep(1.2)
    no_console_errors(dash_duo)


def test_clicking_a_centre_on_the_map_drills_down(dash_duo, r, keys, redis_url, sample_city):
    fill(r, keys, sample_city)
    start(dash_duo, redis_url, keys, sample_city, refresh_s=30)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/services")
    dash_duo.wait_for_element("#services-map .maplibregl-canvas", timeout=15)
    driver = dash_duo.driver
    c2 = next(c for c in sample_city.services["centres"] if c["id"] == "C2")
    canvas = dash_duo.find_element("#services-map .maplibregl-canvas")
    deadline = time.monotonic() + 20
    hovered = None
    while not hovered and time.monotonic() < deadline:  # software WebGL may still be painting
        # Where MapLibre draws Northgate Service Centre, relative to the canvas centre.
        offset = driver.execute_script("""
            var gd = document.querySelector('#services-map .js-plotly-plot');
            var sub = gd._fullLayout.map && gd._fullLayout.map._subplot;
            if (!sub || !sub.map) return null;
            var p = sub.map.project([arguments[0], arguments[1]]), c = sub.map.getCanvas();
            window.hoveredCentre = null;
            gd.on('plotly_hover', function (e) { window.hoveredCentre = e.points[0].customdata || null; });
            return [p.x - c.clientWidth / 2, p.y - c.clientHeight / 2];""", c2["lon"], c2["lat"])
        if offset:
            ActionChains(driver).move_to_element(canvas).move_by_offset(round(offset[0]), round(offset[1])) \
                .pause(0.4).perform()
            hovered = driver.execute_script("return window.hoveredCentre")
        if not hovered:
            time.sleep(0.5)
    assert hovered == "C2", hovered
    ActionChains(driver).click().perform()
    wait_text(dash_duo, "#services-centre-name", "Northgate Service Centre")
    assert "centre=C2" in driver.current_url
    wait_text(dash_duo, "#services-queue-table", "Vehicles and driving licences", contains=True)
    time.sleep(1.2)
    no_console_errors(dash_duo)


def test_services_page_without_data_says_no_data(dash_duo, keys, redis_url, sample_city):
    start(dash_duo, redis_url, keys, sample_city)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/services?centre=C2")
    wait_text(dash_duo, "#kpi-services-people-waiting", "NO DATA", contains=True)
    wait_text(dash_duo, "#services-side", "No queue data from this centre now.", contains=True)
    time.sleep(1.2)
    no_console_errors(dash_duo)
