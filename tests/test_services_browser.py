"""/services in headless Chromium: renders with data, centre drill-down, request-type map, no console errors."""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.services import simulators
from tests.test_browser import no_console_errors, start

pytestmark = pytest.mark.browser

MONDAY_1105 = datetime(2026, 11, 16, 11, 5, tzinfo=ZoneInfo("America/New_York")).timestamp()


def fill(r, keys, city) -> dict:
    engine = KpiEngine(r, keys, city)
    runner = Runner(r, keys, city, engine)
    for adapter, gen, _ in simulators(city):
        if adapter.domain == "services":
            runner.run_once(adapter, gen.payload(MONDAY_1105), now=MONDAY_1105)
    return engine.recompute(("services",), now=MONDAY_1105)


def test_services_page_centre_drill_down_and_request_type(dash_duo, r, keys, redis_url, sample_city):
    values = fill(r, keys, sample_city)
    start(dash_duo, redis_url, keys, sample_city)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/services")
    waiting = values["services.people_waiting"]["value"]
    dash_duo.wait_for_text_to_equal("#kpi-services-people-waiting .kpi-value", f"{waiting:,.0f}", timeout=10)
    dash_duo.wait_for_contains_text("#services-centre-table", "City Hall One-Stop", timeout=10)
    assert "STALE" in dash_duo.find_element("#kpi-services-wait-min").text  # Monday's data, read days later
    # The heat grid and the backlog drew their figures.
    dash_duo.wait_for_element("#services-heat .heatmaplayer", timeout=10)
    dash_duo.wait_for_element("#services-backlog .bars path", timeout=10)

    # Drill down to a centre from the table.
    dash_duo.find_element("#services-centre-link-C1").click()
    dash_duo.wait_for_text_to_equal("#services-centre-name", "City Hall One-Stop", timeout=10)
    dash_duo.wait_for_contains_text("#services-queue-table", "Residency and ID cards", timeout=10)
    c1 = values["services.open_counters"]["detail"]["by_centre"]["C1"]
    dash_duo.wait_for_text_to_equal("#services-centre-counters", f"{c1['open']} of {c1['scheduled']} scheduled",
                                    timeout=10)
    dash_duo.wait_for_element("#services-curve .scatterlayer .trace", timeout=10)
    # The centre's own people waiting on the card, not the city's.
    c1_waiting = values["services.people_waiting"]["detail"]["by_centre"]["C1"]["waiting"]
    dash_duo.wait_for_text_to_equal("#kpi-services-people-waiting .kpi-value", f"{c1_waiting:,.0f}", timeout=10)

    # Back to all centres, then click the biggest request type in the backlog chart.
    dash_duo.find_element("#services-back").click()
    dash_duo.wait_for_element("#services-centre-table", timeout=10)
    dash_duo.wait_for_element("#services-backlog .bars path", timeout=10)
    by_type = values["services.requests_open"]["detail"]["by_type"]
    biggest = max(by_type, key=by_type.get)
    bars = dash_duo.find_elements("#services-backlog .bars path")
    ActionChains(dash_duo.driver).move_to_element(bars[-1]).click().perform()  # the top bar is the largest
    dash_duo.wait_for_contains_text("#services-type-chip", biggest, timeout=10)
    dash_duo.wait_for_contains_text("#services-map-head", f"{by_type[biggest]} open '{biggest}' requests on the map",
                                    timeout=10)
    time.sleep(1.2)
    no_console_errors(dash_duo)


def test_services_page_without_data_says_no_data(dash_duo, keys, redis_url, sample_city):
    start(dash_duo, redis_url, keys, sample_city)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/services?centre=C2")
    dash_duo.wait_for_contains_text("#kpi-services-people-waiting", "NO DATA", timeout=10)
    dash_duo.wait_for_contains_text("#services-side", "No queue data from this centre now.", timeout=10)
    time.sleep(1.2)
    no_console_errors(dash_duo)
