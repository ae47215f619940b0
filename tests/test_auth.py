"""Sign-in: the form, sessions that end, kiosk links and tokens, API tokens, CSRF and the security headers."""
from __future__ import annotations

import dataclasses
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import create_app
from dashboard.auth import CSRF_COOKIE, SESSION_COOKIE, redact
from feeds.accounts import Accounts
from feeds.config import Settings
from tests.auth_helpers import PASSWORD, bearer, make_api_token, make_kiosk, make_user, signed_in

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(redis_url, keys, sample_city):
    return create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), sample_city)


def login(client, name, password=PASSWORD, next_="/"):
    form = client.get(f"/login?next={next_}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": next_})


def test_nothing_but_health_and_the_sign_in_page_is_open(app):
    client = app.server.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/assets/theme.css").status_code == 200
    page = client.get("/traffic?district=D5")
    assert page.status_code == 303 and page.headers["Location"] == "/login?next=%2Ftraffic%3Fdistrict%3DD5"
    for path in ("/api/v1/kpis", "/api/v1/openapi.json", "/_dash-layout", "/_dash-dependencies",
                 "/assets/emergency.js"):
        res = client.get(path)
        assert res.status_code == 401, path
    assert client.get("/api/v1/kpis").json == {"error": "sign-in required"}


def test_an_unauthenticated_dash_callback_post_is_refused(app):
    body = {"output": "conn.children", "outputs": {"id": "conn", "property": "children"},
            "inputs": [{"id": "tick", "property": "n_intervals", "value": 1}], "changedPropIds": []}
    res = app.server.test_client().post("/_dash-update-component", json=body)
    assert res.status_code == 401 and res.json["error"] == "sign-in required"


def test_signing_in_with_the_form_and_going_where_the_user_was_headed(app, r, keys):
    name = make_user(r, keys, "coordinator")
    client = app.server.test_client()
    wrong = login(client, name, "not the password")
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.get_data(as_text=True)
    assert client.get("/api/v1/kpis").status_code == 401
    ok = login(client, name, next_="/traffic?district=D5")
    assert ok.status_code == 303 and ok.headers["Location"] == "/traffic?district=D5"
    assert client.get("/traffic?district=D5").status_code == 200
    assert client.get("/api/v1/kpis").status_code == 200
    cookies = " | ".join(ok.headers.getlist("Set-Cookie"))
    assert f"{SESSION_COOKIE}=" in cookies and "HttpOnly" in cookies and "SameSite=Lax" in cookies
    assert f"{CSRF_COOKIE}=" in cookies  # for Dash's renderer to send back as X-CSRFToken


def test_the_sign_in_form_never_sends_anyone_off_site_and_needs_its_own_token(app, r, keys):
    name = make_user(r, keys, "viewer")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert login(app.server.test_client(), name, next_=target).headers["Location"] == "/"
    client = app.server.test_client()
    forged = client.post("/login", data={"name": name, "password": PASSWORD})  # no form token
    assert forged.status_code == 400 and "The form expired" in forged.get_data(as_text=True)
    assert client.get("/api/v1/kpis").status_code == 401


def test_repeated_wrong_passwords_lock_the_name_out_for_a_while(app, r, keys):
    name = make_user(r, keys, "viewer")
    client = app.server.test_client()
    for _ in range(10):
        assert login(client, name, "wrong password!").status_code == 401
    locked = login(client, name)
    assert locked.status_code == 401 and "too many failed attempts" in locked.get_data(as_text=True).lower()
    assert 0 < r.ttl(keys.auth_login_failures(name)) <= 900


def test_passwords_and_tokens_are_never_stored_in_clear(app, r, keys, redis_url):
    import redis

    name = make_user(r, keys, "admin", password="a password nobody guesses")
    kiosk = make_kiosk(r, keys, "lobby")
    api = make_api_token(r, keys, "viewer", "ci")
    session = signed_in(app, r, keys, "viewer")
    dump = b""
    raw = redis.Redis.from_url(redis_url)  # bytes, as stored
    for key in raw.scan_iter(match=f"{keys.prefix}:*"):
        kind = raw.type(key)
        if kind == b"hash":
            dump += b"".join(k + v for k, v in raw.hgetall(key).items())
        elif kind == b"string":
            dump += raw.get(key)
        elif kind == b"set":
            dump += b"".join(raw.smembers(key))
        elif kind == b"stream":
            dump += b"".join(b"".join(k + v for k, v in f.items()) for _, f in raw.xrange(key))
    for secret in ("a password nobody guesses", kiosk, api):
        assert secret.encode() not in dump
    assert Accounts(r, keys).user(name)["password"].startswith("scrypt:")
    sid = app.server.session_interface.get_signing_serializer(app.server).loads(
        session.get_cookie(SESSION_COOKIE).value)["sid"]
    assert sid.encode() not in dump  # session ids too: only their SHA-256


def test_a_state_changing_request_with_the_session_cookie_needs_the_csrf_token(app, r, keys):
    client = signed_in(app, r, keys, "viewer")
    client.get("/_dash-layout")
    body = {"output": "conn.children", "outputs": {"id": "conn", "property": "children"},
            "inputs": [{"id": "tick", "property": "n_intervals", "value": 1}], "changedPropIds": []}
    without = client.post("/_dash-update-component", json=body, csrf=False)
    assert without.status_code == 403 and "CSRF" in without.json["error"]
    wrong = client.post("/_dash-update-component", json=body, csrf=False, headers={"X-CSRFToken": "guess"})
    assert wrong.status_code == 403
    assert client.post("/_dash-update-component", json=body).status_code != 403
    # A Bearer token is no ambient credential: no CSRF token needed.
    plain = app.server.test_client()
    assert plain.post("/_dash-update-component", json=body, headers=bearer(r, keys, "viewer")).status_code != 403


def test_a_session_ends_after_session_hours_and_on_sign_out(redis_url, r, keys, sample_city):
    settings = dataclasses.replace(Settings(redis_url, 8050, None, keys.prefix, 5, None), session_hours=1)
    app = create_app(settings, sample_city)
    client = signed_in(app, r, keys, "viewer")
    assert client.get("/api/v1/kpis").status_code == 200
    with client.session_transaction() as s:
        s["iat"] = time.time() - 3601
    expired = client.get("/api/v1/kpis")
    assert expired.status_code == 401 and "expired" in expired.json["error"]
    assert client.get("/").headers["Location"] == "/login"

    other = signed_in(app, r, keys, "viewer")
    stolen = other.get_cookie(SESSION_COOKIE).value
    assert other.post("/logout").status_code == 303
    replay = app.server.test_client()
    replay.set_cookie(SESSION_COOKIE, stolen)
    assert replay.get("/api/v1/kpis").status_code == 401  # the server ended it, not only the browser


def test_a_disabled_user_loses_access_at_the_next_request(app, r, keys):
    client = signed_in(app, r, keys, "coordinator")
    assert client.get("/api/v1/kpis").status_code == 200
    Accounts(r, keys).disable(client.user_name, by="test-admin")
    assert client.get("/api/v1/kpis").status_code == 401
    Accounts(r, keys).enable(client.user_name, by="test-admin")
    assert client.get("/api/v1/kpis").status_code == 401  # disabling ended the session; sign in again
    assert login(app.server.test_client(), client.user_name).status_code == 303
    audit = [(a["action"], a["by"]) for a in Accounts(r, keys).audit()]
    assert ("user.disable", "test-admin") in audit and ("user.enable", "test-admin") in audit


def test_a_role_change_applies_at_the_next_request(app, r, keys):
    from dashboard.auth import User

    client = signed_in(app, r, keys, "viewer")
    gate = app.server.extensions["citybrain.auth"]
    with app.server.test_request_context("/api/v1/kpis", headers={"Cookie": f"{SESSION_COOKIE}="
                                                                  f"{client.get_cookie(SESSION_COOKIE).value}"}):
        assert gate.identify()[0] == User(client.user_name, "viewer")
        Accounts(r, keys).set_role(client.user_name, "coordinator", by="test-admin")
        assert gate.identify()[0] == User(client.user_name, "coordinator")


def test_a_kiosk_link_signs_the_screen_in_and_drops_the_token_from_the_address(app, r, keys):
    token = make_kiosk(r, keys, "lobby")
    client = app.server.test_client()
    res = client.get(f"/wall?views=overview,traffic&kiosk={token}&interval=20")
    assert res.status_code == 303 and res.headers["Location"] == "/wall?views=overview%2Ctraffic&interval=20"
    assert token not in res.headers["Location"]
    cookie = [c for c in res.headers.getlist("Set-Cookie") if c.startswith(SESSION_COOKIE)][0]
    expires = re.search(r"Expires=([^;]+)", cookie).group(1)
    assert int(expires.split()[3]) >= time.gmtime().tm_year + 1  # a kiosk never logs itself out
    assert client.get("/api/v1/kpis").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/login?kiosk=nothing").status_code == 200  # the sign-in page ignores it
    bad = app.server.test_client().get("/wall?kiosk=cbk_not-a-token")
    assert bad.status_code == 401 and "does not work" in bad.get_data(as_text=True)


def test_a_revoked_kiosk_token_stops_working_for_the_api_and_the_page(app, r, keys):
    token = make_kiosk(r, keys, "lobby")
    screen = app.server.test_client()
    screen.get(f"/wall?kiosk={token}")
    as_bearer = {"Authorization": f"Bearer {token}"}
    assert screen.get("/api/v1/kpis").status_code == 200
    assert app.server.test_client().get("/api/v1/kpis", headers=as_bearer).status_code == 200
    Accounts(r, keys).revoke_kiosk("lobby", by="test-admin")
    time.sleep(app.server.extensions["citybrain.auth"].section.kiosk_check_s + 0.1)  # the worker's short cache
    assert screen.get("/api/v1/kpis").status_code == 401
    assert screen.get("/_dash-layout").status_code == 401
    page = screen.get("/wall")
    assert page.status_code == 401 and "kiosk token was revoked" in page.get_data(as_text=True)
    assert app.server.test_client().get("/api/v1/kpis", headers=as_bearer).status_code == 401
    assert app.server.test_client().get(f"/wall?kiosk={token}").status_code == 401
    # A new token for the same screen works; the old one stays dead.
    fresh = Accounts(r, keys).add_kiosk("lobby", by="test-admin")
    assert app.server.test_client().get(f"/wall?kiosk={fresh}").status_code == 303
    assert app.server.test_client().get("/api/v1/kpis", headers=as_bearer).status_code == 401


def test_api_tokens_carry_their_role_and_can_be_revoked(app, r, keys):
    token = make_api_token(r, keys, "viewer", "ci")
    client = app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/kpis", headers=headers).status_code == 200
    assert client.get("/api/v1/kpis", headers={"Authorization": f"Basic {token}"}).status_code == 401
    assert client.get("/api/v1/kpis", headers={"Authorization": "Bearer cba_made-up"}).status_code == 401
    Accounts(r, keys).revoke_api_token("ci", by="test-admin")
    assert client.get("/api/v1/kpis", headers=headers).status_code == 401


def assert_security_headers(res, what: str, no_store: bool = False) -> None:
    h = res.headers
    csp = h.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-eval'" not in csp, what
    assert "object-src 'none'" in csp and "base-uri 'self'" in csp and "form-action 'self'" in csp, what
    assert re.search(r"script-src 'self'( 'sha256-[A-Za-z0-9+/=]+')+;", csp), what  # Dash's inline scripts only
    assert (h.get("X-Frame-Options"), h.get("X-Content-Type-Options"), h.get("Referrer-Policy")) == \
        ("DENY", "nosniff", "same-origin"), what
    if no_store:
        assert h.get("Cache-Control") == "no-store", what


def test_every_kind_of_response_has_the_security_headers(app, r, keys, sample_city):
    from tests.test_access import callback_body, route_to

    viewer, anonymous = signed_in(app, r, keys, "viewer"), app.server.test_client()
    viewer.get("/_dash-layout")
    tick = callback_body([("alert-badge", "children"), ("alert-badge", "className")], [("tick", "n_intervals", 1)],
                         changed=["tick.n_intervals"])
    rule = callback_body([("admin-rules", "children")], [("admin-rules", "id", "admin-rules")],
                         changed=["admin-rules.id"])
    kinds = [  # (what, response, status, no-store)
        ("a page", viewer.get("/traffic"), 200, False),
        ("the sign-in page", anonymous.get("/login"), 200, True),
        ("a page's redirect to sign in", anonymous.get("/traffic"), 303, False),
        ("a page the role may not open", viewer.get("/admin"), 403, False),
        ("an API read", viewer.get("/api/v1/kpis"), 200, True),
        ("an API CSV", viewer.get("/api/v1/kpis/city.score/history.csv"), 200, True),
        ("an unknown API route", viewer.get("/api/v1/nothing"), 404, True),
        ("an API call without sign-in", anonymous.get("/api/v1/kpis"), 401, True),
        ("an API action the role may not do", viewer.post("/api/v1/alerts/A1/ack"), 403, True),
        ("a callback", viewer.post("/_dash-update-component", json=route_to("/traffic")), 200, True),
        ("a callback with nothing to update", viewer.post("/_dash-update-component", json=tick), None, True),
        ("a callback the role may not call", viewer.post("/_dash-update-component", json=rule), 403, True),
        ("the layout", viewer.get("/_dash-layout"), 200, False),
        ("a stylesheet", anonymous.get("/assets/theme.css"), 200, False),
        ("a script", viewer.get("/assets/export.js"), 200, False),
        ("a Dash bundle", viewer.get("/_dash-component-suites/dash/deps/polyfill@7.12.1.min.js"), 200, False),
        ("the icon", anonymous.get("/_favicon.ico"), 200, False),
        ("a missing file", viewer.get("/static/nothing.css"), 404, False),
        ("an unknown Dash bundle", viewer.get("/_dash-component-suites/dash/nothing.js"), 404, False),
        ("/healthz", anonymous.get("/healthz"), 200, False),
    ]
    dead = create_app(Settings("redis://127.0.0.1:18698/0", 8050, None, keys.prefix, 5, None), sample_city)
    kinds.append(("/healthz with Redis down", dead.server.test_client().get("/healthz"), 503, False))
    for what, res, status, no_store in kinds:
        assert status is None or res.status_code == status, f"{what}: {res.status_code}"
        assert_security_headers(res, what, no_store)
    allowed = re.findall(r"'sha256-[A-Za-z0-9+/=]+'", viewer.get("/").headers["Content-Security-Policy"])
    assert set(app.csp_hashes()) == set(allowed)


def test_the_map_tile_origin_is_allowed_when_one_is_set(redis_url, r, keys, sample_city):
    settings = Settings(redis_url, 8050, None, keys.prefix, 5, "https://tiles.example.org/{z}/{x}/{y}.png")
    csp = create_app(settings, sample_city).server.test_client().get("/healthz").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://tiles.example.org;" in csp
    assert "connect-src 'self' https://tiles.example.org;" in csp


def test_the_secure_flag_is_on_the_cookies_when_asked(redis_url, r, keys, sample_city):
    settings = dataclasses.replace(Settings(redis_url, 8050, None, keys.prefix, 5, None), session_cookie_secure=True)
    app = create_app(settings, sample_city)
    name = make_user(r, keys, "viewer")
    cookies = login(app.server.test_client(), name).headers.getlist("Set-Cookie")
    assert all("Secure" in c for c in cookies if c.startswith((SESSION_COOKIE, CSRF_COOKIE)))


def test_every_worker_shares_one_secret_key_made_once_in_redis(redis_url, r, keys, sample_city):
    settings = Settings(redis_url, 8050, None, keys.prefix, 5, None)
    one, two = create_app(settings, sample_city), create_app(settings, sample_city)
    client = signed_in(one, r, keys, "viewer")
    other = two.server.test_client()
    other.set_cookie(SESSION_COOKIE, client.get_cookie(SESSION_COOKIE).value)
    assert other.get("/api/v1/kpis").status_code == 200  # signed by one worker, read by another
    secret = r.get(keys.auth_secret())
    assert len(secret) == 64
    for path in ("/", "/login", "/_dash-layout", "/api/v1/kpis"):
        assert secret not in client.get(path).get_data(as_text=True)


def test_kiosk_tokens_never_reach_the_logs(app, r, keys, caplog):
    token = make_kiosk(r, keys)
    assert redact(f'"GET /wall?views=a&kiosk={token}&x=1 HTTP/1.1" 303') == \
        '"GET /wall?views=a&kiosk=[redacted]&x=1 HTTP/1.1" 303'
    with caplog.at_level(logging.INFO):
        app.server.test_client().get(f"/wall?kiosk={token}")
        logging.getLogger("werkzeug").info('%s - - "%s" %s', "127.0.0.1", f"GET /wall?kiosk={token} HTTP/1.1", 303)
    assert token not in caplog.text and "kiosk=[redacted]" in caplog.text


def test_settings_of_sign_in_from_the_environment():
    from feeds.config import ConfigError

    s = Settings.from_env({"SECRET_KEY": "x" * 40, "SESSION_HOURS": "8", "SESSION_COOKIE_SECURE": "1"})
    assert (s.secret_key, s.session_hours, s.session_cookie_secure) == ("x" * 40, 8, True)
    d = Settings.from_env({})
    assert (d.secret_key, d.session_hours, d.session_cookie_secure) == (None, 12, False)
    for env, message in (({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 32 characters"),
                         ({"SESSION_HOURS": "soon"}, "SESSION_HOURS must be a number"),
                         ({"SESSION_COOKIE_SECURE": "maybe"}, "SESSION_COOKIE_SECURE must be 1 or 0")):
        with pytest.raises(ConfigError, match=message):
            Settings.from_env(env)


def test_a_bad_auth_section_of_the_city_fails_at_start(redis_url, keys, sample_city):
    from feeds.config import ConfigError, parse_city

    city = parse_city({**sample_city.model_dump(), "auth": {"max_failures": 0}})
    with pytest.raises(ConfigError, match=r"CITY_CONFIG auth\.max_failures: Input should be greater than or equal to 1"):
        create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), city)


# ----------------------------------------------------------------------------- the CLI
def cli(*args, stdin="", env=None):
    import os

    return subprocess.run([sys.executable, "-m", "feeds", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=60)


def test_the_cli_manages_users_kiosks_and_api_tokens(redis_url, r, keys):
    env = {"REDIS_URL": redis_url, "KEY_PREFIX": keys.prefix}
    add = cli("users", "add", "ana", "--role", "admin", stdin="a long enough password\n", env=env)
    assert add.returncode == 0 and add.stdout.strip() == "user ana added (admin)"
    account, why = Accounts(r, keys).check_login("ana", "a long enough password")
    assert account["role"] == "admin" and why == ""
    assert cli("users", "role", "ana", "coordinator", env=env).returncode == 0
    assert cli("users", "disable", "ana", env=env).returncode == 0
    listed = cli("users", "list", env=env).stdout
    assert re.search(r"^ana +coordinator +disabled", listed, re.M), listed
    assert cli("users", "enable", "ana", env=env).returncode == 0
    assert cli("users", "passwd", "ana", stdin="another long password\n", env=env).returncode == 0
    assert Accounts(r, keys).check_login("ana", "another long password")[0] is not None

    kiosk = cli("kiosk", "add", "lobby", env={**env, "PORT": "8123"})
    token = re.search(r"^(cbk_\S+)$", kiosk.stdout, re.M).group(1)
    assert f"wall link: http://127.0.0.1:8123/wall?kiosk={token}" in kiosk.stdout
    assert token not in cli("kiosk", "list", env=env).stdout
    assert cli("kiosk", "revoke", "lobby", env=env).returncode == 0
    assert Accounts(r, keys).kiosk_for_token(token) is None

    api = cli("tokens", "add", "ci", "--role", "viewer", env=env)
    api_token = re.search(r"^(cba_\S+)$", api.stdout, re.M).group(1)
    assert Accounts(r, keys).api_token_for(api_token)["role"] == "viewer"
    assert "ci" in cli("tokens", "list", env=env).stdout and api_token not in cli("tokens", "list", env=env).stdout
    assert cli("tokens", "revoke", "ci", env=env).returncode == 0
    assert Accounts(r, keys).api_token_for(api_token) is None
    changes = {(a["action"], a["by"]) for a in Accounts(r, keys).audit(count=1000) if not a["action"].startswith("login")}
    assert {by for _, by in changes} == {"cli:" + __import__("getpass").getuser()}, changes


@pytest.mark.parametrize("args, stdin, message", [
    (("users", "add", "bob", "--role", "boss"), "", "error: role must be one of viewer, coordinator, admin, got 'boss'"),
    (("users", "add", "bob", "--role", "viewer"), "short\n", "error: a password needs at least 10 characters"),
    (("users", "add", "bad name", "--role", "viewer"), "", "error: user name must be 1-64 letters"),
    (("users", "disable", "nobody"), "", "error: no user 'nobody'"),
    (("kiosk", "revoke", "nowhere"), "", "error: no screen 'nowhere'"),
    (("tokens", "add", "x"), "", "error: the following arguments are required: --role"),
])
def test_bad_account_commands_exit_2_with_one_line(redis_url, keys, args, stdin, message):
    out = cli(*args, stdin=stdin, env={"REDIS_URL": redis_url, "KEY_PREFIX": keys.prefix})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(message), out.stderr


def test_account_commands_need_redis_url(keys):
    import os

    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    out = subprocess.run([sys.executable, "-m", "feeds", "users", "list"], cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 2 and out.stderr.startswith("error: REDIS_URL is not set")


def test_the_sign_in_page_is_plain_html_with_no_inline_script(app):
    html = app.server.test_client().get("/login").get_data(as_text=True)
    assert "<script" not in html and 'action="/login"' in html and 'autocomplete="current-password"' in html


def test_a_worker_that_cannot_reach_redis_says_unavailable_not_signed_out(keys, sample_city):
    # No SECRET_KEY and Redis down: the worker cannot check a session cookie made by another worker. A wall
    # must not be sent to the sign-in page by an outage: 503 (and the page retries by itself), not 401.
    down = create_app(Settings("redis://127.0.0.1:1/0", 8050, None, keys.prefix, 5, None), sample_city)
    client = down.server.test_client()
    client.set_cookie(SESSION_COOKIE, "signed.by.another.worker")
    assert client.get("/api/v1/kpis").status_code == 503
    page = client.get("/traffic")
    assert page.status_code == 503 and '<meta http-equiv="refresh" content="10">' in page.get_data(as_text=True)
    assert down.server.test_client().get("/api/v1/kpis").status_code == 401  # no cookie at all: sign in
