"""The overview's integrated map and the district page in headless Chromium: every layer drawn, a toggle
that hides a layer and goes in the URL, a district click that opens /district/<id> with its figures and
entities, the domain pages' way to a district, no console errors."""
from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from dashboard import citymap
from dashboard.store import Store
from feeds.kpi.engine import KpiEngine
from tests.test_browser import no_console_errors, start, text_of
from tests.test_overview_page import seed

pytestmark = pytest.mark.browser

FIGURE = "return document.querySelector('#{0} .js-plotly-plot').{1}"


def figure(dash_duo, graph: str, what: str):
    return dash_duo.driver.execute_script(FIGURE.format(graph, what))


def wait_until(fn, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def points_by_layer(dash_duo, graph: str, layers: list[str]) -> dict[str, int]:
    data = figure(dash_duo, graph, "data.map(function (t) { return (t.lon || []).length; })")
    return {layer: sum(data[first:first + n]) for layer, (first, n) in citymap.slots(layers).items()}


def test_the_overview_map_shows_every_layer_and_a_toggle_hides_one_in_the_url(dash_duo, r, keys, redis_url,
                                                                            sample_city):
    seed(r, keys, sample_city)
    start(dash_duo, redis_url, keys, sample_city, refresh_s=2)
    dash_duo.wait_for_element("#overview-map .maplibregl-canvas", timeout=15)
    every = list(citymap.LAYERS)
    wait_until(lambda: len(figure(dash_duo, "overview-map", "data")) == 1 + sum(n for _, n in citymap.slots(every).values()))
    shown = wait_until(lambda: (lambda p: p if all(p.values()) else None)(points_by_layer(dash_duo, "overview-map", every)))
    assert set(shown) == set(every)  # traffic, buses, air, incidents and units, service centres: all drawn
    dash_duo.wait_for_element("#overview-district-table")
    # Read in the page: the cards are patched on every tick, so an element reference can go stale.
    assert text_of(dash_duo, "#kpi-city-score .kpi-value")  # the score with its breakdown
    assert text_of(dash_duo, ".drag-row")

    dash_duo.driver.execute_script(
        "Array.from(document.querySelectorAll('#overview-layers label'))"
        ".find(l => l.innerText.trim() === 'Buses').querySelector('input').click();")
    wait_until(lambda: "layers=traffic,air,incidents,services" in dash_duo.driver.current_url)
    rest = ["traffic", "air", "incidents", "services"]
    wait_until(lambda: len(figure(dash_duo, "overview-map", "data")) == 1 + sum(n for _, n in citymap.slots(rest).values()))
    names = figure(dash_duo, "overview-map", "data.map(function (t) { return t.name || ''; })")
    assert not any("on time" in n or "late" in n for n in names)  # no bus trace left
    assert "Buses" not in text_of(dash_duo, ".layer-key")
    no_console_errors(dash_duo)


def test_a_shared_link_with_layers_and_focus_opens_that_view(dash_duo, r, keys, redis_url, sample_city):
    seed(r, keys, sample_city)
    start(dash_duo, redis_url, keys, sample_city, refresh_s=2)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/?layers=incidents&focus=39.97,-75.02,14")
    dash_duo.wait_for_element("#overview-map .maplibregl-canvas", timeout=15)
    wait_until(lambda: len(figure(dash_duo, "overview-map", "data")) == 3)
    centre = figure(dash_duo, "overview-map", "layout.map.center")
    assert centre == {"lon": -75.02, "lat": 39.97} and figure(dash_duo, "overview-map", "layout.map.zoom") == 14
    checked = [i.get_attribute("value") for i in dash_duo.find_elements("#overview-layers input") if i.is_selected()]
    assert checked == ["incidents"]
    dash_duo.wait_for_page(f"{dash_duo.server_url}/?focus=somewhere")  # an invalid focus is ignored
    dash_duo.wait_for_element("#overview-map .maplibregl-canvas", timeout=15)
    wait_until(lambda: figure(dash_duo, "overview-map", "layout.map") is not None)
    assert figure(dash_duo, "overview-map", "layout.map.center") == {"lon": sample_city.center[0],
                                                                    "lat": sample_city.center[1]}
    no_console_errors(dash_duo)


def test_clicking_a_district_on_the_map_opens_everything_in_it(dash_duo, r, keys, redis_url, sample_city):
    seed(r, keys, sample_city)
    # Zoomed in a level on the city centre (a wall's zoom on a small test window would put a link's hover
    # marker within plotly's 20 px of every point of the map).
    start(dash_duo, redis_url, keys, sample_city, refresh_s=30,
          path=f"/?focus={sample_city.center[1]},{sample_city.center[0]},{sample_city.zoom + 1}")
    dash_duo.wait_for_element("#overview-map .maplibregl-canvas", timeout=15)
    wait_until(lambda: all(points_by_layer(dash_duo, "overview-map", list(citymap.LAYERS)).values()))
    driver = dash_duo.driver
    city_zoom = wait_until(lambda: figure(dash_duo, "overview-map", "layout.map.zoom"))
    driver.execute_script("""window.hovered = null;
        document.querySelector('#overview-map .js-plotly-plot').on('plotly_hover', function (e) {
            window.hovered = e.points[0].location || null; });""")
    canvas = dash_duo.find_element("#overview-map .maplibregl-canvas")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)  # below the alerts
    # Block centres between the streets (1 km apart; about 52 px per km at zoom 11.6, twice that per zoom
    # level more), away from every marker: plotly hovers the nearest point within 20 px, so try blocks
    # until the pointer is on a district alone.
    px_km = 52 * 2 ** (city_zoom - 11.6)
    blocks = [(round(x * px_km), round(y * px_km)) for x in (-1.5, 1.5, -0.5, 0.5, -2.5, 2.5)
              for y in (-1.5, 1.5, -0.5, 0.5, -2.5, 2.5)]
    hovered = None
    deadline = time.monotonic() + 30
    while not hovered and time.monotonic() < deadline:  # software WebGL may still be painting
        for dx, dy in blocks:
            driver.execute_script("window.hovered = null")
            ActionChains(driver).move_to_element(canvas).move_by_offset(dx, dy).pause(0.3).perform()
            hovered = driver.execute_script("return window.hovered")
            if hovered:
                break
    assert hovered in sample_city.district_ids(), hovered
    ActionChains(driver).click().perform()
    name = next(d.name for d in sample_city.districts if d.id == hovered)
    dash_duo.wait_for_text_to_equal("#district-name", name, timeout=10)
    assert driver.current_url.endswith(f"/district/{hovered}")

    # Its KPIs: the district's own figure, from by_district.
    tti = {k["id"]: k for k in Store(r, keys, sample_city).kpis()}["traffic.travel_time_index"]
    own = tti["by_district"][hovered]["value"]
    dash_duo.wait_for_text_to_equal("#district-domain-traffic #kpi-traffic-travel-time-index .kpi-value",
                                    f"{own:,.2f}", timeout=10)
    # Its entities: only its own road links on the map, zoomed to it.
    first, _ = citymap.slots(list(citymap.LAYERS))["traffic"]
    hover = first + 6
    wait_until(lambda: figure(dash_duo, "district-map", f"data[{hover}].lon.length"))
    links = figure(dash_duo, "district-map", f"data[{hover}].customdata")
    engine_links = KpiEngine(r, keys, sample_city).links
    assert links and all(engine_links[lid].district == hovered for lid in links)
    centre, _ = citymap.district_view(sample_city, hovered)  # the map framed on the district
    assert figure(dash_duo, "district-map", "layout.map.center") == {"lon": centre[0], "lat": centre[1]}
    assert "focus" not in driver.current_url
    no_console_errors(dash_duo)


def test_a_domain_pages_district_leads_to_all_of_it_and_an_unknown_one_lists_them(dash_duo, r, keys, redis_url,
                                                                                    sample_city):
    seed(r, keys, sample_city)
    start(dash_duo, redis_url, keys, sample_city, refresh_s=2)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/traffic?district=D5")
    link = dash_duo.wait_for_element("#traffic-district-all", timeout=10)
    assert link.text == "All of Central →"
    link.click()
    dash_duo.wait_for_text_to_equal("#district-name", "Central", timeout=10)
    dash_duo.wait_for_element("#district-domain-emergency .kpi-card", timeout=10)
    assert dash_duo.find_element("#district-link-traffic").get_attribute("href").endswith("/traffic?district=D5")

    dash_duo.wait_for_page(f"{dash_duo.server_url}/district/D99")
    dash_duo.wait_for_contains_text("#district-unknown", "No such district: 'D99'.", timeout=10)
    dash_duo.find_element("#district-choice-D2").click()
    dash_duo.wait_for_element("#district-name", timeout=10)
    assert dash_duo.driver.current_url.endswith("/district/D2")
    no_console_errors(dash_duo)
