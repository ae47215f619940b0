"""/transit in headless Chromium: the page with simulated buses, sorting, route and bus drill-downs, no console errors."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest
from google.transit import gtfs_realtime_pb2 as rt

from dashboard.pages.transit import FIRST_BAND
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.transit import simulators
from tests.test_browser import start

pytestmark = pytest.mark.browser


def simulate_morning(r, keys, city) -> dict:
    (adapter, gen, _), = simulators(city)
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    t0 = datetime(2026, 11, 18, 8, 0, tzinfo=ZoneInfo(city.timezone)).timestamp()
    for i in range(0, 3600, 30):
        runner.run_once(adapter, gen.payload(t0 + i), now=t0 + i)
    # The last feed also carries a service alert on R1, as an agency's combined feed would.
    msg = rt.FeedMessage()
    msg.ParseFromString(gen.payload(t0 + 3600))
    alert = msg.entity.add(id="detour-1").alert
    alert.informed_entity.add(route_id="R1")
    alert.effect = rt.Alert.DETOUR
    alert.header_text.translation.add(text="Detour on route 10: Main St closed")
    runner.run_once(adapter, msg.SerializeToString(), now=t0 + 3600)
    return {k: orjson.loads(v) for k, v in r.hgetall(keys.kpi_values()).items()}


def no_console_errors(dash_duo):
    logs = [entry for entry in dash_duo.get_logs() if entry.get("level") == "SEVERE"]
    assert logs == [], logs


def test_transit_page_sorts_routes_and_drills_down_to_a_route_and_a_bus(dash_duo, r, keys, redis_url, sample_city):
    values = simulate_morning(r, keys, sample_city)
    start(dash_duo, redis_url, keys, sample_city, refresh_s=1.0, path="/transit")
    otp = values["transit.on_time_pct"]["value"]
    dash_duo.wait_for_text_to_equal("#kpi-transit-on-time-pct .kpi-value", f"{otp:,.1f}", timeout=15)
    dash_duo.wait_for_element("#transit-map .maplibregl-canvas", timeout=15)
    assert len(dash_duo.find_elements("#transit-routes-table tbody tr")) == 6
    buses = dash_duo.driver.execute_script(
        f"return document.querySelector('#transit-map .js-plotly-plot').data.slice({FIRST_BAND})"
        ".reduce(function (n, t) { return n + t.lon.length; }, 0)")
    positions = [orjson.loads(v) for v in r.hvals(keys.transit_vehicles())]
    newest = max(v["t"] for v in positions)
    reporting = sum(1 for v in positions if v["t"] >= newest - 180)
    assert buses == reporting > 20  # every reporting bus on the map, in one of the delay bands
    # Under them, the district outlines (as on the other pages), shaded by the districts' on-time %.
    districts = dash_duo.driver.execute_script(
        "var t = document.querySelector('#transit-map .js-plotly-plot').data[0]; return [t.type, t.z];")
    by_district = values["transit.on_time_pct"]["by_district"]
    assert districts[0] == "choroplethmap" and len(districts[1]) == len(sample_city.districts)
    first = by_district[sample_city.districts[0].id]
    assert districts[1][0] == pytest.approx(max(50.0, first["value"]) if first["value"] is not None else 40.0)

    # A click on a bus (plotly's click event on the map, as MapLibre sends it) opens its route and its trip.
    bus_id, route_id = dash_duo.driver.execute_script("""
        var gd = document.querySelector('#transit-map .js-plotly-plot');
        for (var i = %d; i < gd.data.length; i++) {
            if (gd.data[i].customdata && gd.data[i].customdata.length) {
                var p = {curveNumber: i, pointNumber: 0, customdata: gd.data[i].customdata[0],
                         lon: gd.data[i].lon[0], lat: gd.data[i].lat[0], data: gd.data[i], fullData: gd._fullData[i]};
                gd.emit('plotly_click', {points: [p], event: {}});
                return gd.data[i].customdata[0];
            }
        }""" % FIRST_BAND)
    dash_duo.wait_for_element("#transit-trip-table", timeout=10)
    assert dash_duo.driver.current_url.endswith(f"/transit?route={route_id}&vehicle={bus_id}")
    dash_duo.find_element("#transit-back").click()
    dash_duo.wait_for_text_to_equal("h1", "Buses — whole city", timeout=10)

    # Sort by bunching: worst first.
    dash_duo.find_element("#transit-sort-bunched").click()
    dash_duo.wait_for_contains_text("#transit-routes-table th a.active", "bunched", timeout=10)
    assert dash_duo.driver.current_url.endswith("/transit?sort=bunched")
    by_route = values["transit.bunched_pct"]["detail"]["by_route"]
    worst = max((v, k) for k, v in by_route.items() if v is not None)[1]
    first = dash_duo.find_element("#transit-routes-table tbody tr td a")
    assert first.get_attribute("id") == f"route-link-{worst}"

    # Route drill-down: its buses, the headway chart along the route, stop delays.
    dash_duo.find_element("#route-link-R1").click()
    dash_duo.wait_for_contains_text("#transit-route-name", "10", timeout=10)
    assert dash_duo.driver.current_url.endswith("/transit?route=R1")
    dash_duo.wait_for_element("#transit-headway-chart .main-svg", timeout=10)
    dash_duo.wait_for_element("#transit-stop-delays .main-svg", timeout=10)
    n_stops = dash_duo.driver.execute_script(
        "return document.querySelector('#transit-headway-chart .js-plotly-plot').data[0].x.length")
    assert n_stops == 11  # every stop of R1, in order
    rows = dash_duo.find_elements("#transit-vehicles-table tbody tr")
    r1_buses = sum(1 for v in r.hvals(keys.transit_vehicles()) if orjson.loads(v)["r"] == "R1")
    assert len(rows) == r1_buses > 0

    # A bus: its trip, stop by stop.
    link = dash_duo.find_element("#transit-vehicles-table tbody tr td a")
    bus = link.text
    link.click()
    dash_duo.wait_for_element("#transit-trip-table", timeout=10)
    assert f"vehicle={bus}" in dash_duo.driver.current_url
    assert len(dash_duo.find_elements("#transit-trip-table tbody tr")) == 11
    alerts = [li.text for li in dash_duo.find_elements("#transit-alert-list li")]
    assert any("Detour on route 10: Main St closed" in a and "detour" in a.lower() for a in alerts), alerts

    dash_duo.find_element("#transit-back").click()
    dash_duo.wait_for_text_to_equal("h1", "Buses — whole city", timeout=10)
    no_console_errors(dash_duo)


def test_transit_page_without_a_feed_says_so(dash_duo, keys, redis_url, sample_city):
    start(dash_duo, redis_url, keys, sample_city, refresh_s=1.0, path="/transit?route=R1")
    dash_duo.wait_for_contains_text(".domain-page", "No feed configured yet", timeout=10)
    no_console_errors(dash_duo)
