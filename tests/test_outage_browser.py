"""A desk page through a Redis outage, in headless Chromium: the overview says so within one tick of Redis
stopping, keeps its last picture, and is live again within about a second of Redis returning (it ticks
every second while Redis is down), without a reload.
(The wall's banners: tests/test_wall_browser.py; a 60 s outage with the feed runner: bench/faults.py.)"""
from __future__ import annotations


import pytest

from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import Keys
from tests.test_browser import City, no_console_errors, start
from tests.test_spool import wait_until

pytestmark = pytest.mark.browser

LIMIT_S = 5
REFRESH_S = 4  # a tick close to the default 5 s, with a margin for a busy machine


def test_the_overview_rides_out_a_redis_outage_within_five_seconds_each_way(dash_duo, sample_city):
    server = EmbeddedRedis()  # our own Redis: this test stops it
    try:
        r, keys = connect(server.url), Keys("cbtest-outage-overview")
        values = City(r, keys, sample_city).batch()
        start(dash_duo, server.url, keys, sample_city, refresh_s=REFRESH_S)
        score = "#kpi-city-score .kpi-value"
        shown = f"{values['city.score']['value']:,.2f}"
        dash_duo.wait_for_text_to_equal(score, shown, timeout=10)
        dash_duo.wait_for_text_to_equal("#conn", "● LIVE", timeout=5)
        dash_duo.driver.execute_script("window.__sameDocument = true")  # gone if the page reloads

        r.shutdown(save=True)  # a Redis with persistence stops: it comes back with what it held
        server.kill()
        took = wait_until(lambda: dash_duo.find_element("#conn").text == "● OFFLINE", 10, "OFFLINE")
        assert took <= LIMIT_S, f"the page said Redis was unreachable only after {took:.1f} s"
        assert "Showing the last picture" in dash_duo.find_element("#banner").text
        assert dash_duo.find_element(score).text == shown  # the last picture stays
        assert "traffic" in dash_duo.find_element("#feeds-table").text

        server.start()
        took = wait_until(lambda: dash_duo.find_element("#conn").text == "● LIVE", 10, "LIVE")
        # While offline the page ticks every second, not every REFRESH_S: back within about a second.
        assert took <= 2.5, f"the page was live again only {took:.1f} s after Redis returned"
        assert "hidden" in dash_duo.find_element("#banner").get_attribute("class")
        assert dash_duo.driver.execute_script("return window.__sameDocument === true")  # no reload
        values = City(r, keys, sample_city).batch(slow_down=0.5)  # new data flows to the same page
        dash_duo.wait_for_text_to_equal(score, f"{values['city.score']['value']:,.2f}", timeout=LIMIT_S + 2)
        no_console_errors(dash_duo)
    finally:
        server.stop()
