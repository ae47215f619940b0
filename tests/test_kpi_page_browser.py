"""In the browser: a coordinator notes something on a KPI's trend page and sees it on the chart; a viewer
has no add box; every table downloads as the CSV of its own cells, drill-down tables too."""
from __future__ import annotations

import time

import pytest

from app import create_app
from feeds.annotations import Annotations
from feeds.config import Settings
from tests.auth_helpers import sign_in
from tests.test_browser import City, free_port, no_console_errors

pytestmark = pytest.mark.browser

KPI = "traffic.travel_time_index"
MARKERS = "var g = document.querySelector('#kpi-trend .js-plotly-plot'); " \
          "var t = g && g.data.filter(function (d) { return d.name === 'notes'; })[0]; return t ? t.hovertext : [];"


def start_as(dash_duo, r, redis_url, keys, city, role: str, path: str = "/", refresh_s: float = 1.0) -> str:
    """Serve the app and sign the browser in as ``role`` (a kiosk through its link), landing on ``path``;
    returns the user's name."""
    app = create_app(Settings(redis_url, 8050, None, keys.prefix, refresh_s, None), city)
    dash_duo.start_server(app, navigate=False, port=free_port())
    return sign_in(dash_duo, r, keys, role, path=path)


def wait_for(fn, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    return fn()


def test_a_coordinator_adds_a_timeline_note_on_a_trend_page_and_it_appears_on_the_chart(
        dash_duo, r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    ana = start_as(dash_duo, r, redis_url, keys, sample_city, "coordinator", path=f"/kpi/{KPI}?range=day")
    dash_duo.wait_for_text_to_equal("#kpi-page-name", "Travel time index", timeout=10)
    dash_duo.wait_for_element("#kpi-trend .js-plotly-plot", timeout=10)
    assert "range-link active" in dash_duo.find_element("#kpi-range-day").get_attribute("class")
    dash_duo.find_element("#kpi-note-text").send_keys("Lane closure on the ring road")
    dash_duo.find_element("#kpi-note-add").click()
    dash_duo.wait_for_contains_text("#kpi-note-msg", f"Added by {ana}", timeout=10)
    hover = wait_for(lambda: dash_duo.driver.execute_script(MARKERS))
    assert len(hover) == 1 and "Lane closure on the ring road" in hover[0] and ana in hover[0]
    dash_duo.wait_for_contains_text("#kpi-notes-table", "Lane closure on the ring road", timeout=10)
    [note] = Annotations(r, keys).list("timeline")
    assert note["by"] == ana
    # The city timeline lists it too, and the note shows on every other KPI's chart.
    dash_duo.wait_for_page(f"{dash_duo.server_url}/kpi/traffic.coverage_pct")
    assert "Lane closure" in wait_for(lambda: dash_duo.driver.execute_script(MARKERS))[0]
    dash_duo.wait_for_page(f"{dash_duo.server_url}/timeline")
    dash_duo.wait_for_contains_text("#timeline-table", "Lane closure on the ring road", timeout=10)
    assert dash_duo.find_elements("#timeline-note-box")
    no_console_errors(dash_duo)


@pytest.mark.parametrize("role", ["viewer", "kiosk"])
def test_a_viewer_and_a_wall_screen_see_the_notes_but_no_add_box(dash_duo, r, keys, redis_url, sample_city, role):
    City(r, keys, sample_city).batch()
    Annotations(r, keys).add("timeline", "Snow clearing started", "ana", at=time.time() - 120)
    start_as(dash_duo, r, redis_url, keys, sample_city, role, path=f"/kpi/{KPI}")
    dash_duo.wait_for_contains_text("#kpi-notes-table", "Snow clearing started", timeout=10)
    assert "Snow clearing started" in wait_for(lambda: dash_duo.driver.execute_script(MARKERS))[0]
    assert dash_duo.find_elements("#kpi-note-text") == []
    dash_duo.wait_for_page(f"{dash_duo.server_url}/timeline")
    dash_duo.wait_for_contains_text("#timeline-table", "Snow clearing started", timeout=10)
    assert dash_duo.find_elements("#timeline-note-text") == []
    no_console_errors(dash_duo)


CELLS = """var t = document.querySelector(arguments[0]);
return Array.prototype.map.call(t.rows, function (row) {
  return Array.prototype.map.call(row.cells, function (c) { return c.innerText.replace(/\\s+/g, ' ').trim(); });
});"""


def csv_rows(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))


def test_every_table_downloads_as_the_csv_of_its_cells_drill_downs_included(dash_duo, r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    start_as(dash_duo, r, redis_url, keys, sample_city, "viewer", path="/traffic", refresh_s=30)
    dash_duo.wait_for_element("#district-table-csv", timeout=10).click()
    built = wait_for(lambda: dash_duo.driver.execute_script("return window.cityExport.last"))
    assert built["name"].startswith("traffic-district-table-") and built["name"].endswith(".csv")
    cells = dash_duo.driver.execute_script(CELLS, "#district-table")
    assert csv_rows(built["csv"]) == cells and len(cells) == 1 + len(sample_city.districts)
    # A drill-down draws a new table: it gets its own button.
    dash_duo.find_element("#district-link-D5").click()
    dash_duo.wait_for_element("#links-table-csv", timeout=10).click()
    built = wait_for(lambda: dash_duo.driver.execute_script(
        "var l = window.cityExport.last; return l && l.name.indexOf('links-table') >= 0 ? l : null"))
    assert csv_rows(built["csv"]) == dash_duo.driver.execute_script(CELLS, "#links-table")
    # One button per table on the page, none left over from the previous view.
    tables = dash_duo.driver.execute_script("return document.querySelectorAll('table.table').length")
    assert len(dash_duo.find_elements(".csv-button")) == tables
    no_console_errors(dash_duo)
