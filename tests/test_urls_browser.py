"""Shared links in Chromium: each opens the view it names, and choosing a view puts it in the address bar."""
from __future__ import annotations

import pytest

from tests.test_browser import City, no_console_errors
from tests.test_kpi_page_browser import start_as

pytestmark = pytest.mark.browser


def test_shared_links_open_their_views_and_choices_land_in_the_address_bar(dash_duo, r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    start_as(dash_duo, r, redis_url, keys, sample_city, "viewer", path="/traffic?district=D5", refresh_s=30)
    base = dash_duo.server_url
    dash_duo.wait_for_page(f"{base}/traffic?district=D5")
    dash_duo.wait_for_text_to_equal("#traffic-district-name", "Central", timeout=10)
    dash_duo.wait_for_page(f"{base}/emergency?district=D3")
    dash_duo.wait_for_text_to_equal("#emergency-district-name", sample_city.districts[2].name, timeout=10)
    dash_duo.wait_for_page(f"{base}/environment?station=AQ-3")
    dash_duo.wait_for_text_to_equal("#environment-station-name", "AQ-3", timeout=10)
    dash_duo.wait_for_page(f"{base}/services?type=Pothole")
    dash_duo.wait_for_contains_text("#services-type-chip", "Pothole", timeout=10)

    # The trend page: the range link changes the address, and the address alone reproduces the view.
    dash_duo.wait_for_page(f"{base}/kpi/traffic.travel_time_index")
    dash_duo.wait_for_element("#kpi-range-week", timeout=10).click()
    dash_duo.wait_for_element("#kpi-range-week.active", timeout=10)
    assert dash_duo.driver.current_url == f"{base}/kpi/traffic.travel_time_index?range=week"
    assert dash_duo.find_element("#kpi-csv").get_attribute("href").endswith("history.csv?range=week")
    # The link downloads with the person's own session (no API token needed in the browser).
    got = dash_duo.driver.execute_async_script("""var done = arguments[arguments.length - 1];
        fetch(document.querySelector('#kpi-csv').href).then(function (res) {
            return res.text().then(function (text) { done([res.status, res.headers.get('content-type'), text]); });
        });""")
    assert got[0] == 200 and got[1].startswith("text/csv") and got[2].startswith("time_utc,epoch_s,value,status")
    dash_duo.driver.refresh()
    dash_duo.wait_for_element("#kpi-range-week.active", timeout=10)
    # A KPI card's "trend →" link opens that KPI's trend page.
    dash_duo.wait_for_page(f"{base}/traffic")
    dash_duo.wait_for_element("#kpi-traffic-coverage-pct-trend", timeout=10).click()
    dash_duo.wait_for_text_to_equal("#kpi-page-name", "Sensor coverage", timeout=10)
    assert dash_duo.driver.current_url == f"{base}/kpi/traffic.coverage_pct"
    dash_duo.wait_for_page(f"{base}/timeline?since=720")
    dash_duo.wait_for_element("#timeline-since-720.active", timeout=10)
    no_console_errors(dash_duo)
