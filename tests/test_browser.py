"""The pages in headless Chromium: live refresh, drill-downs by click, Redis outages, no console errors."""
from __future__ import annotations

import socket
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest
import redis
from selenium.webdriver.common.action_chains import ActionChains

from app import create_app
from dashboard.pages.traffic import FIRST_BAND
from feeds.adapters.nyc_traffic import NycTrafficAdapter
from feeds.adapters.road_incidents import RoadIncidentsAdapter
from feeds.config import FeedSource, Settings
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import Keys
from feeds.simulate.traffic import TrafficSimulator
from tests.auth_helpers import sign_in

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class City:
    """A simulated city fed through the real adapters into the test's own keys."""

    def __init__(self, r, keys, city):
        self.r, self.keys, self.city = r, keys, city
        self.engine = KpiEngine(r, keys, city)
        self.runner = Runner(r, keys, city, self.engine)
        self.speeds = NycTrafficAdapter(city, FeedSource(interval_s=10))
        self.sim = TrafficSimulator(city, 7, no_data_rate=0, malformed_rate=0)

    def batch(self, slow_down: float = 1.0) -> dict:
        now = time.time()
        rows = orjson.loads(self.sim.payload(now))
        for row in rows:
            row["speed"] = f"{float(row['speed']) * slow_down:.2f}"
        self.runner.run_once(self.speeds, orjson.dumps(rows), now=now)
        return {k: orjson.loads(v) for k, v in self.r.hgetall(self.keys.kpi_values()).items()}

    def incidents(self, rows):
        self.runner.run_once(RoadIncidentsAdapter(self.city, FeedSource(interval_s=30)), orjson.dumps(rows))


def start(dash_duo, redis_url, keys, city, refresh_s=1.0, role="viewer", path="/"):
    """Serve the app and sign the browser in as ``role`` (tests.auth_helpers.sign_in), landing on ``path``."""
    app = create_app(Settings(redis_url, 8050, None, keys.prefix, refresh_s, None), city)
    dash_duo.start_server(app, navigate=False, port=free_port())
    sign_in(dash_duo, connect(redis_url), keys, role, path=path)
    return app


def text_of(dash_duo, selector: str) -> str | None:
    """The element's text read in the page: no element reference to go stale while cards refresh."""
    return dash_duo.driver.execute_script(
        "var e = document.querySelector(arguments[0]); return e ? e.innerText : null;", selector)


def no_console_errors(dash_duo):
    logs = [entry for entry in dash_duo.get_logs() if entry.get("level") == "SEVERE"]
    assert logs == [], logs


def test_overview_shows_the_city_score_and_the_domains(dash_duo, r, keys, redis_url, sample_city):
    values = City(r, keys, sample_city).batch()
    start(dash_duo, redis_url, keys, sample_city)
    dash_duo.wait_for_text_to_equal("#kpi-city-score .kpi-value", f"{values['city.score']['value']:,.2f}", timeout=10)
    # Read in the page: the cards are patched every tick, so an element reference can go stale.
    assert "Congested roads" in text_of(dash_duo, ".drag-list")
    sections = dash_duo.driver.execute_script("return document.querySelectorAll('.domain-section.empty').length")
    assert sections == 4  # buses, environment, emergency, services: no feed yet
    assert "traffic" in text_of(dash_duo, "#feeds-table")
    clock = text_of(dash_duo, "#clock")  # e.g. "Sat 21 Nov 01:28:53", in the city's time zone
    city_now = datetime.now(ZoneInfo(sample_city.timezone))
    shown = datetime.strptime(clock.split()[-1], "%H:%M:%S").replace(
        year=city_now.year, month=city_now.month, day=city_now.day, tzinfo=city_now.tzinfo)
    drift = (shown - city_now).total_seconds() % 86400
    assert min(drift, 86400 - drift) < 5  # city time, not the browser's (UTC here); safe across midnight
    # A wall clock that ticks every second (allowing a busy machine's timer a second or two of slack).
    deadline = time.monotonic() + 3.5
    while text_of(dash_duo, "#clock") == clock and time.monotonic() < deadline:
        time.sleep(0.1)
    assert text_of(dash_duo, "#clock") != clock
    dash_duo.find_element("#nav-buses").click()
    dash_duo.wait_for_contains_text(".domain-page", "No feed configured yet")
    no_console_errors(dash_duo)


def test_traffic_values_refresh_live_and_a_district_drills_down(dash_duo, r, keys, redis_url, sample_city):
    city = City(r, keys, sample_city)
    first = city.batch()
    start(dash_duo, redis_url, keys, sample_city)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/traffic")
    tti = "#kpi-traffic-travel-time-index .kpi-value"
    dash_duo.wait_for_text_to_equal(tti, f"{first['traffic.travel_time_index']['value']:,.2f}", timeout=10)

    red = f"return document.querySelector('#traffic-map .js-plotly-plot').data[{FIRST_BAND + 4}].lon.length"
    dash_duo.wait_for_element("#traffic-map .maplibregl-canvas", timeout=15)
    congested_before = dash_duo.driver.execute_script(red)

    second = city.batch(slow_down=0.5)  # every road at half its speed: TTI roughly doubles
    assert second["traffic.travel_time_index"]["value"] > 1.8 * first["traffic.travel_time_index"]["value"]
    dash_duo.wait_for_text_to_equal(tti, f"{second['traffic.travel_time_index']['value']:,.2f}", timeout=10)
    # The map took the Patch: links below 60 % of free flow moved into the red band trace.
    deadline = time.monotonic() + 10
    while dash_duo.driver.execute_script(red) <= congested_before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dash_duo.driver.execute_script(red) > congested_before

    dash_duo.find_element("#district-link-D5").click()
    dash_duo.wait_for_text_to_equal("#traffic-district-name", "Central", timeout=10)
    assert dash_duo.driver.current_url.endswith("/traffic?district=D5")
    d5 = second["traffic.travel_time_index"]["by_district"]["D5"]["value"]
    dash_duo.wait_for_text_to_equal(tti, f"{d5:,.2f}", timeout=10)
    rows = dash_duo.find_elements("#links-table tbody tr")
    d5_links = sum(1 for link in sample_city.traffic.links if city.engine.links[link.id].district == "D5")
    assert 0 < len(rows) <= min(14, d5_links)

    dash_duo.find_element("#traffic-back").click()
    dash_duo.wait_for_text_to_equal("h1", "Traffic — whole city", timeout=10)
    no_console_errors(dash_duo)


def test_clicking_a_district_on_the_map_drills_down(dash_duo, r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    start(dash_duo, redis_url, keys, sample_city, refresh_s=30)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/traffic")
    dash_duo.wait_for_element("#traffic-map .maplibregl-canvas", timeout=15)
    driver = dash_duo.driver
    driver.execute_script("""window.hovered = null;
        document.querySelector('#traffic-map .js-plotly-plot').on('plotly_hover', function (e) {
            window.hovered = e.points[0].location || null; });""")
    canvas = dash_duo.find_element("#traffic-map .maplibregl-canvas")
    # The centre is the crossing of 7th Ave and Main St; at zoom 11.6 a km is ~52 px, so these offsets are
    # block centres, inside a district. Plotly hovers the nearest point within 20 px and a block centre is
    # ~26 px from the links' hover markers, so try blocks until the pointer is on a district alone.
    blocks = [(-78, -78), (78, 78), (-78, 78), (78, -78), (-130, -26), (130, 26)]
    deadline = time.monotonic() + 20
    hovered = None
    while not hovered and time.monotonic() < deadline:  # software WebGL may still be painting
        for dx, dy in blocks:
            driver.execute_script("window.hovered = null")
            ActionChains(driver).move_to_element(canvas).move_by_offset(dx, dy).pause(0.4).perform()
            hovered = driver.execute_script("return window.hovered")
            if hovered:
                break
    assert hovered in {d.id for d in sample_city.districts}, hovered
    ActionChains(driver).click().perform()
    dash_duo.wait_for_element("#traffic-district-name", timeout=10)
    name = dash_duo.find_element("#traffic-district-name").text
    assert name in {d.name for d in sample_city.districts}
    assert "district=D" in dash_duo.driver.current_url
    no_console_errors(dash_duo)


def test_redis_outage_keeps_the_last_picture_shows_a_banner_and_recovers(dash_duo, sample_city):
    server = EmbeddedRedis()
    try:
        r, keys = connect(server.url), Keys("cbtest-outage")
        values = City(r, keys, sample_city).batch()
        start(dash_duo, server.url, keys, sample_city)
        tti = "#kpi-traffic-travel-time-index .kpi-value"
        dash_duo.wait_for_page(f"{dash_duo.server_url}/traffic")
        shown = f"{values['traffic.travel_time_index']['value']:,.2f}"
        dash_duo.wait_for_text_to_equal(tti, shown, timeout=10)

        # The embedded Redis keeps nothing on disk: keep the sign-in keys to give back, as a real
        # Redis with persistence would (accounts and sessions live there).
        raw = redis.Redis.from_url(server.url)
        saved = {k: raw.dump(k) for k in raw.scan_iter(match=f"{keys.prefix}:{{auth}}:*")}
        server.kill()
        dash_duo.wait_for_text_to_equal("#conn", "● OFFLINE", timeout=8)
        assert "Showing the last picture" in dash_duo.find_element("#banner").text
        assert dash_duo.find_element(tti).text == shown  # the last picture stays

        server.start()  # back, empty but for the sign-in keys: the page recovers without a reload
        raw = redis.Redis.from_url(server.url)
        for k, v in saved.items():
            raw.restore(k, 0, v, replace=True)
        City(r, keys, sample_city).batch()
        dash_duo.wait_for_text_to_equal("#conn", "● LIVE", timeout=8)
        assert "hidden" in dash_duo.find_element("#banner").get_attribute("class")
    finally:
        server.stop()
