"""Sign-in in headless Chromium: the form, a kiosk link, a revoked screen, an ended session, and pages
(maps included) that run under the Content-Security-Policy with no console errors."""
from __future__ import annotations

import time

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from feeds.accounts import Accounts
from tests.auth_helpers import make_kiosk, sign_in
from tests.test_browser import City, free_port, no_console_errors, start

pytestmark = pytest.mark.browser


def through_reload(check, driver, timeout: float = 30) -> bool:
    """Poll ``check(driver)`` while the page may be reloading itself (selenium then raises mid-navigation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check(driver):
                return True
        except WebDriverException:  # "aborted by navigation", a stale element: the page is reloading
            pass
        time.sleep(0.3)
    return False


def test_signing_in_through_the_form_opens_the_page_asked_for_under_the_csp(dash_duo, r, keys, redis_url,
                                                                             sample_city):
    from app import create_app
    from feeds.config import Settings

    values = City(r, keys, sample_city).batch()
    app = create_app(Settings(redis_url, 8050, None, keys.prefix, 1.0, None), sample_city)
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo.driver.get(dash_duo.server.url + "/traffic")
    dash_duo.wait_for_element("#login-name", timeout=10)  # not signed in: the sign-in page
    assert dash_duo.driver.current_url.endswith("/login?next=%2Ftraffic")
    sign_in(dash_duo, r, keys, "viewer", path="/traffic")
    assert dash_duo.driver.current_url.endswith("/traffic")
    # The page's callbacks are POSTs with the session cookie: they only work because Dash's renderer sends
    # the _csrf_token cookie back as X-CSRFToken.
    tti = f"{values['traffic.travel_time_index']['value']:,.2f}"
    dash_duo.wait_for_text_to_equal("#kpi-traffic-travel-time-index .kpi-value", tti, timeout=15)
    dash_duo.wait_for_element("#traffic-map .maplibregl-canvas", timeout=15)  # MapLibre under the CSP
    csp = dash_duo.driver.execute_script(
        "return fetch('/traffic').then(function (r) { return r.headers.get('content-security-policy'); });")
    assert "script-src 'self' 'sha256-" in csp and "worker-src blob:" in csp
    dash_duo.wait_for_page(dash_duo.server_url + "/")
    dash_duo.wait_for_element("#kpi-city-score .kpi-value", timeout=15)
    no_console_errors(dash_duo)  # no CSP violation, no failed request


def test_a_kiosk_link_signs_the_wall_in_keeps_no_token_and_a_revoked_screen_says_so(dash_duo, r, keys, redis_url,
                                                                                     sample_city):
    from app import create_app
    from feeds.config import Settings

    City(r, keys, sample_city).batch()
    app = create_app(Settings(redis_url, 8050, None, keys.prefix, 1.0, None), sample_city)
    dash_duo.start_server(app, navigate=False, port=free_port())
    token = make_kiosk(r, keys, "lobby")
    dash_duo.wait_for_page(f"{dash_duo.server.url}/traffic?kiosk={token}&theme=dark", timeout=15)
    assert dash_duo.driver.current_url.endswith("/traffic?theme=dark")  # the token left the address bar
    dash_duo.wait_for_element("#kpi-traffic-travel-time-index .kpi-value", timeout=15)
    no_console_errors(dash_duo)

    Accounts(r, keys).revoke_kiosk("lobby", by="test-admin")
    # The next refresh is refused (401); the page reloads and the server says why.
    assert through_reload(lambda d: "kiosk token was revoked" in d.find_element(By.TAG_NAME, "body").text,
                          dash_duo.driver)
    assert "This screen is signed out" in dash_duo.find_element("h1").text


def test_an_ended_session_goes_back_to_the_sign_in_page(dash_duo, r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    start(dash_duo, redis_url, keys, sample_city, role="coordinator", path="/traffic")
    dash_duo.wait_for_element("#kpi-traffic-travel-time-index .kpi-value", timeout=15)
    name = next(u["name"] for u in Accounts(r, keys).users() if u["role"] == "coordinator")
    Accounts(r, keys).disable(name, by="test-admin")
    # The next refresh is refused (401) and the page reloads itself onto the sign-in page.
    assert through_reload(lambda d: "/login?next=%2Ftraffic" in d.current_url and d.find_elements(By.ID, "login-name"),
                          dash_duo.driver), dash_duo.driver.current_url


def test_an_admin_manages_screens_on_the_admin_page_and_signs_out(dash_duo, r, keys, redis_url, sample_city):
    start(dash_duo, redis_url, keys, sample_city, role="admin", path="/admin")
    dash_duo.wait_for_text_to_equal("#user-name", f"{Accounts(r, keys).users()[0]['name']} (admin)", timeout=15)
    assert dash_duo.find_element("#nav-admin").text == "Admin"
    dash_duo.wait_for_element("#admin-users-table", timeout=10)

    dash_duo.find_element("#admin-kiosk-name").send_keys("lobby-wall")
    dash_duo.find_element("#admin-add-kiosk").click()
    link = dash_duo.wait_for_element("#admin-new-kiosk-link", timeout=10).text
    token = link.split("kiosk=")[1]
    assert link == f"{dash_duo.server_url}/wall?kiosk={token}"
    assert Accounts(r, keys).kiosk_for_token(token)["name"] == "lobby-wall"
    dash_duo.wait_for_contains_text("#admin-kiosks-table", "lobby-wall", timeout=10)
    assert token not in dash_duo.find_element("#admin-kiosks").text  # listed, never shown again

    dash_duo.select_dcc_dropdown("#admin-kiosk-pick", value="lobby-wall")
    dash_duo.find_element("#admin-revoke-kiosk").click()
    dash_duo.wait_for_contains_text("#admin-message", "lobby-wall is signed out", timeout=10)
    assert Accounts(r, keys).kiosk_for_token(token) is None
    no_console_errors(dash_duo)

    dash_duo.find_element("#sign-out").click()
    dash_duo.wait_for_element("#login-name", timeout=10)
    dash_duo.driver.get(dash_duo.server_url + "/admin")
    dash_duo.wait_for_element("#login-name", timeout=10)  # signed out for real


def test_a_viewer_sees_no_admin_link_and_cannot_open_the_admin_page(dash_duo, r, keys, redis_url, sample_city):
    start(dash_duo, redis_url, keys, sample_city, role="viewer", path="/")
    name = Accounts(r, keys).users()[0]["name"]
    dash_duo.wait_for_text_to_equal("#user-name", f"{name} (viewer)", timeout=15)
    assert not dash_duo.find_elements("#nav-admin")
    dash_duo.driver.get(dash_duo.server_url + "/admin")
    dash_duo.wait_for_contains_text("body", "This page needs the admin role", timeout=10)
