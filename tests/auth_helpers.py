"""Signing in, in tests (and benches). Every page, Dash callback and API route needs a user, so:

    from tests.auth_helpers import bearer, sign_in, signed_in

    # A Flask test client signed in as a role ("viewer", "coordinator", "admin" or "kiosk"). Its POSTs
    # (Dash callbacks, forms) carry the session's CSRF token in X-CSRFToken, as Dash's renderer does.
    client = signed_in(create_app(settings, city), r, keys, "coordinator")
    client.get("/api/v1/kpis"); client.post("/_dash-update-component", json=...)

    # An API token's header (role as above; "kiosk" gives a wall screen's token):
    client.get("/api/v1/alerts", headers=bearer(r, keys, "viewer"))

    # A browser test: start the server WITHOUT navigating, then sign in through the sign-in form
    # (or, for "kiosk", through a kiosk link); this also sets dash_duo.server_url.
    dash_duo.start_server(app, navigate=False, port=free_port())
    sign_in(dash_duo, r, keys, "viewer", path="/traffic")
    # tests/test_browser.py ``start(dash_duo, redis_url, keys, city, ..., role="viewer")`` does both.

Accounts are made under the test's own key prefix (``keys``), so the ``keys`` fixture deletes them.
``make_user``/``make_kiosk``/``make_api_token`` make one without signing in. ``signed_in`` opens the
session the way /login does after checking the password (``Accounts.open_session``), without the
password check's deliberate slowness; the sign-in form itself is covered by tests/test_auth.py and
by every browser test.
"""
from __future__ import annotations

import secrets
import time
from urllib.parse import quote

from flask.testing import FlaskClient
from werkzeug.datastructures import Headers

from dashboard.auth import CSRF_COOKIE, CSRF_HEADER
from feeds.accounts import PASSWORD_METHOD, Accounts, sha256

PASSWORD = "correct horse battery staple"
_password_hash: dict[str, str] = {}


def _hash(password: str) -> str:
    """One scrypt hash per password per test run (a real hash, computed once: it is slow on purpose)."""
    if password not in _password_hash:
        from werkzeug.security import generate_password_hash

        _password_hash[password] = generate_password_hash(password, method=PASSWORD_METHOD)
    return _password_hash[password]


def make_user(r, keys, role: str, name: str | None = None, password: str = PASSWORD) -> str:
    """A user with ``role`` (password ``PASSWORD`` unless given); returns the name."""
    name = name or f"{role}-{secrets.token_hex(3)}"
    Accounts(r, keys).add_user(name, role, password, by="test", password_hash=_hash(password))
    return name


def make_kiosk(r, keys, name: str | None = None) -> str:
    """A wall screen's kiosk token."""
    return Accounts(r, keys).add_kiosk(name or f"wall-{secrets.token_hex(3)}", by="test")


def make_api_token(r, keys, role: str, name: str | None = None) -> str:
    """An API token with ``role``."""
    return Accounts(r, keys).add_api_token(name or f"api-{role}-{secrets.token_hex(3)}", role, by="test")


def bearer(r, keys, role: str = "viewer") -> dict:
    """``{"Authorization": "Bearer <token>"}`` of a new API token with ``role`` ("kiosk": a kiosk token)."""
    token = make_kiosk(r, keys) if role == "kiosk" else make_api_token(r, keys, role)
    return {"Authorization": f"Bearer {token}"}


class CsrfClient(FlaskClient):
    """A Flask test client that sends the session's CSRF token on every state-changing request."""

    def open(self, *args, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        cookie = self.get_cookie(CSRF_COOKIE)
        if method not in ("GET", "HEAD", "OPTIONS") and cookie is not None and kwargs.get("csrf", True):
            headers = Headers(kwargs.get("headers") or {})
            headers.setdefault(CSRF_HEADER, cookie.value)
            kwargs["headers"] = headers
        kwargs.pop("csrf", None)
        return super().open(*args, **kwargs)


def _flask(client_or_app):
    if isinstance(client_or_app, FlaskClient):
        return client_or_app.application
    return getattr(client_or_app, "server", client_or_app)  # a Dash app or a Flask app


def signed_in(client_or_app, r, keys, role: str = "viewer", name: str | None = None) -> CsrfClient:
    """A new test client of the app, signed in as a new user with ``role`` (or a kiosk with "kiosk").
    ``r``/``keys``: the test's Redis and prefix (the app's own, or any when the app's Redis is down)."""
    server = _flask(client_or_app)
    gate = server.extensions["citybrain.auth"]
    accounts = Accounts(r, keys)
    client = CsrfClient(server, server.response_class, use_cookies=True)
    if role == "kiosk":
        token = make_kiosk(r, keys, name)
        kiosk = accounts.kiosk_for_token(token)
        name, kiosk_sha, ttl, kind, role_ = kiosk["name"], kiosk["sha256"], None, "kiosk", "viewer"
    else:
        name = make_user(r, keys, role, name)
        kiosk_sha, ttl, kind, role_ = "", gate.session_s, "user", role
    sid = accounts.open_session(kind, name, ttl, kiosk_sha=kiosk_sha)
    csrf = secrets.token_urlsafe(32)
    with client.session_transaction() as s:
        s.update(sid=sid, kind=kind, name=name, role=role_, iat=time.time(), csrf=csrf)
        s.permanent = True
    client.set_cookie(CSRF_COOKIE, csrf)
    client.user_name = name
    return client


def sign_in(dash_duo, r, keys, role: str = "viewer", path: str = "/", name: str | None = None,
            password: str = PASSWORD) -> str:
    """Sign the browser in (the sign-in form; a kiosk link for "kiosk") and wait for the Dash page at
    ``path``. Sets ``dash_duo.server_url``. Returns the user's (or screen's) name."""
    base = dash_duo.server.url.rstrip("/")
    dash_duo._url = base  # server_url without its implicit navigation
    if role == "kiosk":
        name = name or f"wall-{secrets.token_hex(3)}"
        token = make_kiosk(r, keys, name)
        sep = "&" if "?" in path else "?"
        dash_duo.wait_for_page(f"{base}{path}{sep}kiosk={token}", timeout=15)
        return name
    if name is None or Accounts(r, keys).user(name) is None:
        name = make_user(r, keys, role, name, password)
    dash_duo.driver.get(f"{base}/login?next={quote(path, safe='')}")
    dash_duo.wait_for_element("#login-name", timeout=10).send_keys(name)
    dash_duo.find_element("#login-password").send_keys(password)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element(dash_duo.dash_entry_locator, timeout=15)
    return name


__all__ = ["PASSWORD", "bearer", "make_api_token", "make_kiosk", "make_user", "sign_in", "signed_in", "sha256"]
