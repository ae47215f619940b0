"""The wall in headless Chromium, as the operations centre lives with it: it rotates on schedule with a
ticking clock, a critical alert pins its view until acknowledged, and it says so, over the last
picture, when Redis or the web server stops answering, when the data goes stale, or when the screen's
access is refused; each banner goes away by itself when things come back."""
from __future__ import annotations

import threading
import time

import orjson
import pytest
import redis
from flask import Response, request
from selenium.common.exceptions import WebDriverException

from app import create_app

from feeds.alerts import AlertBook
from feeds.config import Settings
from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import Keys
from feeds.accounts import Accounts
from tests.auth_helpers import make_kiosk, sign_in
from tests.test_browser import City, free_port, no_console_errors

pytestmark = pytest.mark.browser


def start_wall(dash_duo, redis_url, keys, city, query: str, before_request=None, refresh_s: float = 1.0) -> str:
    """Serve the app and open ``/wall?<query>`` the way a wall screen does: through its kiosk link
    (tests.auth_helpers). ``before_request``: a Flask hook installed before the first request.
    Returns the screen's name."""
    app = create_app(Settings(redis_url, 8050, None, keys.prefix, refresh_s, None), city)
    if before_request is not None:
        app.server.before_request(before_request)
    dash_duo.start_server(app, navigate=False, port=free_port())
    name = sign_in(dash_duo, connect(redis_url), keys, "kiosk", path=f"/wall?{query}")
    dash_duo.wait_for_element("#wall-title", timeout=10)
    assert "kiosk=" not in dash_duo.driver.current_url  # the token is not left in the address bar
    return name


def title(dash_duo) -> str:
    """The view the wall shows, by its header ("" while the page is being replaced)."""
    try:
        return dash_duo.driver.execute_script("var t = document.querySelector('#wall-title'); return t ? t.textContent : ''")
    except WebDriverException:
        return ""


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def overlay(dash_duo) -> tuple[bool, str, str]:
    """(shown, title, detail) of the wall's full-screen banner."""
    shown = "hidden" not in dash_duo.find_element("#wall-overlay").get_attribute("class")
    return shown, dash_duo.find_element("#wall-overlay-title").text, dash_duo.find_element("#wall-overlay-detail").text


def hanging_while(hold: threading.Event):
    """A hook that makes callback requests hang while ``hold`` is set: a server that stopped answering."""
    def hang():
        if request.path.endswith("_dash-update-component"):
            while hold.is_set():
                time.sleep(0.05)
    return hang


def test_the_wall_rotates_through_its_views_on_schedule_with_a_ticking_clock(dash_duo, r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    start_wall(dash_duo, redis_url, keys, sample_city, "views=traffic:3,environment:3,overview:3")
    # No chrome: the desk's top bar and navigation are not shown.
    assert not dash_duo.find_element(".topbar").is_displayed()
    assert dash_duo.find_element(".wall-city").text == sample_city.name

    order = [("Traffic", "1 / 3"), ("Environment", "2 / 3"), ("Overview", "3 / 3")]
    wait_until(lambda: title(dash_duo), 10, "the first view")
    clock = dash_duo.find_element("#wall-clock").text
    # The browser notes each title change with its own clock (selenium's polling is too coarse to time it).
    dash_duo.driver.execute_script("""window.titles = [];
        new MutationObserver(function () {
            window.titles.push([document.querySelector('#wall-title').textContent,
                                document.querySelector('#wall-position').textContent, performance.now()]);
        }).observe(document.querySelector('#wall-title'), {childList: true, characterData: true, subtree: true});""")
    wait_until(lambda: len(dash_duo.driver.execute_script("return window.titles")) >= 4, 20, "four view changes")
    changes = dash_duo.driver.execute_script("return window.titles")[:4]
    first = order.index((changes[0][0], changes[0][1]))
    assert [(t, p) for t, p, _ in changes] == [order[(first + i) % 3] for i in range(4)]  # in order, round and round
    gaps = [(b[2] - a[2]) / 1000 for a, b in zip(changes, changes[1:])]
    assert all(2.9 <= g <= 4.2 for g in gaps), gaps  # 3 s each, checked every second
    assert dash_duo.find_element("#wall-clock").text != clock  # the clock ticks
    # Each view is the page itself, live: its own callbacks fill it.
    wait_until(lambda: title(dash_duo) == "Traffic", 12, "the traffic view")
    dash_duo.wait_for_contains_text("#wall-view .traffic-page #traffic-cards", "as of", timeout=5)
    wait_until(lambda: title(dash_duo) == "Environment", 6, "the environment view")
    dash_duo.wait_for_element("#wall-view .environment-page", timeout=5)
    no_console_errors(dash_duo)


def test_a_critical_alert_pins_its_view_until_acknowledged(dash_duo, r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    start_wall(dash_duo, redis_url, keys, sample_city, "views=traffic:3,environment:3")
    wait_until(lambda: title(dash_duo) == "Traffic", 12, "the traffic view")
    district = sample_city.districts[1]

    book = AlertBook(r, keys)
    alert = book.raise_alert("fire", district.id, "critical", "Structure fire", f"3rd alarm in {district.name}",
                             time.time() - 240, view="/emergency", district=district.id)
    # Within one tick (1 s here) and a second of rotation, the wall pins the alert's view.
    wait_until(lambda: title(dash_duo) == "Emergency", 5, "the alert's view")
    strip = dash_duo.find_element("#wall-strip")
    assert strip.is_displayed()
    assert strip.text == (f"CRITICAL · Structure fire · 3rd alarm in {district.name} · raised 4 min ago · "
                          "pinned until acknowledged")
    assert dash_duo.find_element("#wall-position").text == "PINNED"
    # The emergency page itself, drilled down to the alert's district.
    dash_duo.wait_for_text_to_equal("#emergency-district-name", district.name, timeout=10)
    time.sleep(7)  # two rotation intervals: it stays pinned
    assert title(dash_duo) == "Emergency"

    book.acknowledge(alert["id"], by="coordinator-1")
    wait_until(lambda: title(dash_duo) in ("Traffic", "Environment"), 5, "rotation to resume")
    assert not dash_duo.find_element("#wall-strip").is_displayed()
    first = title(dash_duo)
    wait_until(lambda: title(dash_duo) not in (first, "Emergency"), 6, "the next view of the playlist")
    no_console_errors(dash_duo)


def test_the_stale_banner_covers_the_wall_while_redis_is_down_and_goes_when_it_returns(dash_duo, sample_city):
    server = EmbeddedRedis()  # our own Redis: this test stops it
    try:
        r, keys = connect(server.url), Keys("cbtest-wall-outage")
        values = City(r, keys, sample_city).batch()
        start_wall(dash_duo, server.url, keys, sample_city, "views=traffic")
        tti = "#kpi-traffic-travel-time-index .kpi-value"
        shown = f"{values['traffic.travel_time_index']['value']:,.2f}"
        dash_duo.wait_for_text_to_equal(tti, shown, timeout=10)
        assert overlay(dash_duo)[0] is False

        # The embedded Redis keeps nothing on disk: keep the sign-in keys to give back, as a real Redis
        # with persistence would (the screen's kiosk session lives there).
        raw = redis.Redis.from_url(server.url)
        saved = {k: raw.dump(k) for k in raw.scan_iter(match=f"{keys.prefix}:{{auth}}:*")}
        server.kill()
        wait_until(lambda: overlay(dash_duo)[0], 8, "the banner")
        _, head, detail = overlay(dash_duo)
        assert head == "DATA SOURCE UNREACHABLE"
        assert detail.startswith("The data store (Redis) has not answered since ")
        assert dash_duo.find_element(tti).text == shown  # the last picture stays, dimmed underneath
        assert not dash_duo.find_element("#banner").is_displayed()  # the desk's thin banner is not on the wall

        server.start()  # back, empty but for the sign-in keys: the wall recovers without a reload
        raw = redis.Redis.from_url(server.url)
        for k, v in saved.items():
            raw.restore(k, 0, v, replace=True)
        City(r, keys, sample_city).batch()
        wait_until(lambda: not overlay(dash_duo)[0], 8, "the banner to go")
        assert title(dash_duo) == "Traffic"
    finally:
        server.stop()


def test_a_wall_says_when_its_data_goes_stale(dash_duo, r, keys, redis_url, sample_city):
    city = City(r, keys, sample_city)
    old = time.time() - 900  # a feed that stopped 15 min ago: its last readings are that old
    city.runner.run_once(city.speeds, city.sim.payload(old), now=old)
    start_wall(dash_duo, redis_url, keys, sample_city, "views=traffic")
    wait_until(lambda: overlay(dash_duo)[0], 10, "the stale banner")
    _, head, detail = overlay(dash_duo)
    assert head == "DATA STALE"
    assert detail.startswith("No new data since ") and "(15 min ago)" in detail, detail

    city.batch()  # the feed is back
    wait_until(lambda: not overlay(dash_duo)[0], 8, "the stale banner to go")
    no_console_errors(dash_duo)


def test_a_server_that_stops_answering_is_never_a_frozen_screen_that_looks_live(dash_duo, r, keys, redis_url,
                                                                                 sample_city):
    City(r, keys, sample_city).batch()
    hold = threading.Event()
    start_wall(dash_duo, redis_url, keys, sample_city, "views=traffic", before_request=hanging_while(hold))
    try:
        wait_until(lambda: title(dash_duo) == "Traffic", 12, "the traffic view")
        dash_duo.wait_for_contains_text("#traffic-cards", "as of", timeout=10)
        hold.set()
        stopped = time.monotonic()
        wait_until(lambda: overlay(dash_duo)[0], 20, "the server banner")
        assert time.monotonic() - stopped < 15  # 4 ticks, at least 10 s
        _, head, detail = overlay(dash_duo)
        assert head == "SERVER UNREACHABLE"
        assert detail.startswith("No answer from the City Brain server since ")
        assert "Traffic" in dash_duo.find_element("#wall-view").text  # the last picture stays
        assert dash_duo.find_element("#wall-clock").text  # the clock still runs in the browser
        hold.clear()
        wait_until(lambda: not overlay(dash_duo)[0], 8, "the server banner to go")

        # The desk pages say it too, in their thin banner.
        dash_duo.wait_for_page(f"{dash_duo.server_url}/traffic")
        dash_duo.wait_for_contains_text("#traffic-cards", "as of", timeout=10)
        assert not dash_duo.find_element("#server-banner").is_displayed()
        hold.set()
        wait_until(lambda: dash_duo.find_element("#server-banner").is_displayed(), 20, "the desk's server banner")
        assert dash_duo.find_element("#server-banner").text.startswith("Server unreachable: no answer since ")
        hold.clear()
        wait_until(lambda: not dash_duo.find_element("#server-banner").is_displayed(), 8, "the desk banner to go")
    finally:
        hold.clear()
    no_console_errors(dash_duo)


def test_a_revoked_kiosk_says_its_access_was_revoked_and_never_shows_a_sign_in_form(dash_duo, r, keys, redis_url,
                                                                                     sample_city):
    City(r, keys, sample_city).batch()
    screen = start_wall(dash_duo, redis_url, keys, sample_city, "views=traffic")
    wait_until(lambda: title(dash_duo) == "Traffic", 12, "the traffic view")
    dash_duo.wait_for_contains_text("#traffic-cards", "as of", timeout=10)
    Accounts(r, keys).revoke_kiosk(screen, by="admin-1")
    wait_until(lambda: overlay(dash_duo)[0], 15, "the revoked message")  # workers re-check kiosks every 3 s
    _, head, detail = overlay(dash_duo)
    assert head == "This screen's access was revoked"
    assert detail == "Ask an administrator for a new wall link."
    time.sleep(2)
    assert "/wall" in dash_duo.driver.current_url and "login" not in dash_duo.driver.current_url  # no reload
    assert dash_duo.find_elements("#login-name") == []
    assert "Traffic" in dash_duo.find_element("#wall-view").text  # the last picture, under the message


def test_a_wall_refused_with_401_for_any_reason_says_so(dash_duo, r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    refused = threading.Event()

    def refuse():  # whatever the reason the server no longer accepts this screen
        if refused.is_set() and request.path.endswith("_dash-update-component"):
            return Response(orjson.dumps({"error": "signed out"}), status=401, mimetype="application/json")

    start_wall(dash_duo, redis_url, keys, sample_city, "views=traffic", before_request=refuse)
    wait_until(lambda: title(dash_duo) == "Traffic", 12, "the traffic view")
    refused.set()
    wait_until(lambda: overlay(dash_duo)[0], 8, "the revoked message")
    assert overlay(dash_duo)[1] == "This screen's access was revoked"
    assert "login" not in dash_duo.driver.current_url


def test_a_bad_wall_link_shows_what_is_wrong(dash_duo, r, keys, redis_url, sample_city):
    start_wall(dash_duo, redis_url, keys, sample_city, "views=overview,trafic&interval=20")
    dash_duo.wait_for_contains_text("#wall-error", "This wall link has a problem", timeout=10)
    assert "views: unknown view 'trafic'" in dash_duo.find_element("#wall-error").text
    assert title(dash_duo) == "Wall link error"
    time.sleep(1.5)  # the clock still runs; nothing crashed
    assert dash_duo.find_element("#wall-clock").text
    no_console_errors(dash_duo)


def test_a_wall_rides_out_a_web_server_restart_without_a_reload(dash_duo, r, keys, redis_url):
    """The real thing: the app's process is stopped (connections refused) and started again."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "KEY_PREFIX": keys.prefix, "PORT": str(port), "REFRESH_S": "1"}

    def run_app():
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_until(lambda: _answers(port), 30, "the app to start")
        return proc

    proc = run_app()
    try:
        token = make_kiosk(r, keys)
        dash_duo.driver.get(f"http://127.0.0.1:{port}/wall?views=traffic&kiosk={token}")
        wait_until(lambda: title(dash_duo) == "Traffic", 15, "the traffic view")
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        wait_until(lambda: overlay(dash_duo)[0], 20, "the server banner")
        assert overlay(dash_duo)[1] == "SERVER UNREACHABLE"
        proc = run_app()  # the same page, not reloaded, finds the server again
        dash_duo.driver.execute_script("window.notReloaded = true")
        wait_until(lambda: not overlay(dash_duo)[0], 15, "the banner to go")
        assert dash_duo.driver.execute_script("return window.notReloaded") is True
        assert title(dash_duo) == "Traffic"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def _answers(port: int) -> bool:
    import urllib.request

    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200
    except OSError:
        return False


def test_the_wall_answers_its_hidden_top_bar_in_the_browser(dash_duo, r, keys, redis_url, sample_city):
    # The desk's top bar (connection state, alert badge) is hidden on the wall: its tick callbacks are
    # answered by assets/wall.js and cost the server nothing; the wall's own status still goes out.
    City(r, keys, sample_city).batch()
    outputs: list[str] = []

    def note():
        if request.path.endswith("_dash-update-component"):
            outputs.append(orjson.loads(request.get_data())["output"])

    start_wall(dash_duo, redis_url, keys, sample_city, "views=traffic", before_request=note)
    wait_until(lambda: outputs.count("wall-status.data") >= 4, 20, "four ticks of the wall's status")
    assert any(o.startswith("..traffic-cards.") for o in outputs)  # the view itself stays live
    assert not [o for o in outputs if o.startswith(("..conn.", "..alert-badge."))]
    no_console_errors(dash_duo)
    # A desk page keeps its top bar live from the same server.
    dash_duo.driver.get(dash_duo.server_url + "/traffic")
    wait_until(lambda: sum(o.startswith("..conn.") for o in outputs) >= 2, 20, "the desk's connection callback")
    assert any(o.startswith("..alert-badge.") for o in outputs)
    no_console_errors(dash_duo)


def test_a_view_that_writes_the_address_is_painted_once(dash_duo, r, keys, redis_url, sample_city):
    # The overview writes its layers into the address; the theme, unchanged by that, must not repaint it.
    City(r, keys, sample_city).batch()
    calls: list[tuple[str, list]] = []

    def note():
        if request.path.endswith("_dash-update-component"):
            body = orjson.loads(request.get_data())
            calls.append((body["output"], body.get("changedPropIds") or []))

    start_wall(dash_duo, redis_url, keys, sample_city, "views=overview", before_request=note)
    wait_until(lambda: sum(o == "wall-status.data" for o, _ in calls) >= 3, 20, "three ticks of the wall's status")
    overview = [changed for o, changed in calls if o.startswith("..overview-score.")]
    assert overview and any("url.search" in o for o, _ in calls)  # painted, and its layers went into the address
    assert not [c for c in overview if "theme.data" in c], overview
    no_console_errors(dash_duo)


def test_an_age_is_counted_from_the_time_its_element_says(dash_duo, r, keys, redis_url, sample_city):
    """A part drawn once for every screen can reach a screen some seconds after it was drawn: an age whose
    element says when its figure is from (data-asof) is counted from then, one without from its drawing."""
    from feeds.timeparse import epoch_to_iso

    City(r, keys, sample_city).batch()
    start_wall(dash_duo, redis_url, keys, sample_city, "views=overview:600")
    script = dash_duo.driver.execute_script
    # The overview's cards and layer ages say when their figures are from.
    wait_until(lambda: script("return document.querySelectorAll('#wall-view .kpi-age[data-asof]').length"), 15,
               "the overview's cards with their as-of times")
    assert script("return document.querySelectorAll('#wall-view .layer-age[data-asof]').length") >= 1
    script("""var view = document.getElementById('wall-view');
              [['age-asof', arguments[0]], ['age-drawn', null]].forEach(function (a) {
                var d = document.createElement('div');
                d.id = a[0];
                if (a[1]) { d.setAttribute('data-asof', a[1]); }
                d.textContent = 'as of 3 s ago';
                view.appendChild(d);
              });""", epoch_to_iso(time.time() - 40))

    def age(element_id: str) -> str:
        return script(f"var e = document.getElementById('{element_id}'); return e ? e.textContent : ''")
    wait_until(lambda: age("age-asof") != "as of 3 s ago" and age("age-drawn") != "as of 3 s ago", 5,
               "the wall's clock to count both ages")
    assert age("age-asof") in {f"as of {s} s ago" for s in range(40, 44)}
    assert age("age-drawn") in {f"as of {s} s ago" for s in range(4, 8)}
    no_console_errors(dash_duo)
