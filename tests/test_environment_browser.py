"""/environment in headless Chromium: it renders with data, a station drill-down shows its history,
a district drill-down shows its stations, a map click drills down, no console errors."""
from __future__ import annotations

import time

import orjson
import pytest

from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.environment import simulators
from tests.test_browser import no_console_errors, start

pytestmark = pytest.mark.browser


def feed(r, keys, city) -> dict:
    """The simulated stations through the real adapter; returns the KPI values stored."""
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    now = time.time()
    for adapter, gen, _ in simulators(city):
        runner.run_once(adapter, gen.payload(now), now=now)
    return {k: orjson.loads(v) for k, v in r.hgetall(keys.kpi_values()).items()}


def table_rows(dash_duo) -> list[str]:
    """The station table's rows as text, read in one go (the table may be redrawn between two reads)."""
    return dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#environment-table tbody tr')).map(r => r.innerText)")


def test_environment_page_station_and_district_drill_down(dash_duo, r, keys, redis_url, sample_city):
    values = feed(r, keys, sample_city)
    aqi = values["environment.aqi"]
    start(dash_duo, redis_url, keys, sample_city)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/environment")
    dash_duo.wait_for_text_to_equal("#kpi-environment-aqi .kpi-value", f"{aqi['value']:,.0f}", timeout=10)
    # The banner is redrawn on every tick: wait_for_* re-finds it instead of reading a stale element.
    dash_duo.wait_for_text_to_equal("#environment-aqi", f"AQI {aqi['value']:.0f}", timeout=10)
    dash_duo.wait_for_contains_text("#environment-banner", f"driven by {aqi['detail']['pollutant_label']}",
                                    timeout=10)
    dash_duo.wait_for_element("#environment-map .maplibregl-canvas", timeout=15)
    rows = table_rows(dash_duo)
    assert len(rows) == 28  # 12 air + 10 noise + 6 water stations
    worst = aqi["detail"]["station"]
    # Worst first: the worst air station heads the air rows; only a station past its limit (a noise sensor
    # over its day/night limit, a water alert: how many there are depends on the simulated hour) or an air
    # station over AQI 100 may stand above it.
    # (Stations may tie on the worst AQI; the KPI names one of them.)
    air = [i for i, row in enumerate(rows) if row.split("\t")[1] == "air"]
    top_aqi = f"AQI {aqi['value']:.0f}"
    assert rows[air[0]].split("\t")[3].split(" ·")[0].rstrip("+") == top_aqi
    assert next(row for row in rows if row.startswith(worst + "\t")).split("\t")[3].startswith(top_aqi)
    assert all("\tOVER LIMIT\t" in row or "\tALERT\t" in row for row in rows[:air[0]])

    # New data reaches the map as a Patch: every noise sensor now over its limit.
    from dashboard.pages.environment import NOISE_OVER_TRACE
    from feeds.adapters.environment import EnvironmentAdapter
    from feeds.config import FeedSource

    over = f"return document.querySelector('#environment-map .js-plotly-plot').data[{NOISE_OVER_TRACE}].lon.length"
    loud = [{"id": s["id"], "time": time.time(), "laeq_db": 95.0} for s in sample_city.environment["noise_sensors"]]
    Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city)).run_once(
        EnvironmentAdapter(sample_city, FeedSource(interval_s=60, options={"format": "noise"})), orjson.dumps(loud))
    dash_duo.wait_for_text_to_equal("#kpi-environment-noise-exceedance-pct .kpi-value", "100.0", timeout=10)
    deadline = time.monotonic() + 10
    while dash_duo.driver.execute_script(over) != len(loud) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dash_duo.driver.execute_script(over) == len(loud)

    # Station drill-down: its history with NowCast and raw hourly means, and the category timeline.
    dash_duo.find_element(f"#environment-row-{worst}").click()
    dash_duo.wait_for_text_to_equal("#environment-station-name", worst, timeout=10)
    assert dash_duo.driver.current_url.endswith(f"/environment?station={worst}")
    dash_duo.wait_for_element("#environment-history .js-plotly-plot", timeout=10)
    names = dash_duo.driver.execute_script(
        "return document.querySelector('#environment-history .js-plotly-plot').data.map(t => t.name)")
    assert {"PM2.5 hourly mean", "PM2.5 NowCast"} <= set(names)
    bars = dash_duo.driver.execute_script(
        "return document.querySelector('#environment-timeline .js-plotly-plot').data[0].y")
    assert bars[-1] == values["environment.aqi"]["value"]  # the station's current hour is the worst AQI

    # From the station to its district: only that district's stations are listed.
    dash_duo.find_element("#environment-station-district").click()
    dash_duo.wait_for_element("#environment-district-name", timeout=10)
    district = dash_duo.driver.current_url.split("district=")[1]
    name = next(d.name for d in sample_city.districts if d.id == district)
    dash_duo.wait_for_text_to_equal("#environment-district-name", name, timeout=10)
    deadline = time.monotonic() + 10
    heading = "const h = document.querySelector('#environment-side h3'); return h ? h.textContent : null"
    while dash_duo.driver.execute_script(heading) != f"Stations in {name}, worst first" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dash_duo.driver.execute_script(heading) == f"Stations in {name}, worst first"
    listed = table_rows(dash_duo)
    assert listed and all(name in row for row in listed)

    # A click on a station marker of the map drills down to that station.
    dash_duo.find_element("#environment-back").click()
    dash_duo.wait_for_text_to_equal("h1", "Environment — whole city", timeout=10)
    dash_duo.wait_for_element("#environment-map .maplibregl-canvas", timeout=15)
    dash_duo.driver.execute_script("""
        const gd = document.querySelector('#environment-map .js-plotly-plot');
        const i = gd.data.findIndex(t => t.customdata && t.customdata.includes('AQ-1'));
        gd.emit('plotly_click', {points: [{curveNumber: i, pointNumber: gd.data[i].customdata.indexOf('AQ-1'),
                                           customdata: 'AQ-1'}]});""")
    dash_duo.wait_for_text_to_equal("#environment-station-name", "AQ-1", timeout=10)
    no_console_errors(dash_duo)
