"""Sign-in and roles. The interface every page, callback and route uses to check who is asking,
and the check itself, run by the server before every request (``install``).

Roles, each including the rights of the ones before it:
  viewer      read every KPI and page (a department head)
  coordinator also acknowledges and assigns alerts and annotates incidents and the timeline
  admin       also manages users, kiosk tokens and alert rules
A kiosk (a wall screen signed in with its own token) is a read-only viewer.

Who is asking, per request:
  - ``Authorization: Bearer <token>``: an API token (with its role) or a kiosk token (a read-only viewer);
  - else the session cookie set by ``/login`` (users; ends after SESSION_HOURS) or by a kiosk link
    (``/any/page?kiosk=<token>``; never ends by itself, stops when the token is revoked).
Open without sign-in: ``/healthz``, ``/login`` and what the sign-in page needs (theme.css, favicon).
Anything else without a user: pages redirect to ``/login?next=...``, ``/api/v1/*`` and ``/_dash-*``
answer 401 JSON. Every POST/PUT/PATCH/DELETE made with the session cookie must carry the session's
CSRF token in ``X-CSRFToken`` (Dash's renderer copies it from the ``_csrf_token`` cookie by itself)
or, for a plain form, in the field ``csrf_token``; Bearer requests carry no ambient credential and are
exempt. Every response gets the security headers (Content-Security-Policy and friends).
"""
from __future__ import annotations

import hmac
import html as html_escape
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

import redis
from flask import Response, g, has_request_context, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import Forbidden

from feeds.accounts import ROLES, Accounts, auth_section

log = logging.getLogger("citybrain.auth")

CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads (csrf_token_name default) ...
CSRF_HEADER = "X-CSRFToken"  # ... and the header it sends it in (csrf_header_name default)
SESSION_COOKIE = "citybrain_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/healthz", "/login", "/assets/theme.css", "/assets/auth.css", "/_favicon.ico"})
KIOSK_COOKIE_DAYS = 400  # browsers cap cookie lifetimes at 400 days; a kiosk's is renewed on every page load

__all__ = ["ROLES", "User", "current_user", "has_role", "require_role", "install"]


@dataclass(frozen=True)
class User:
    name: str
    role: str
    kiosk: bool = False  # a wall screen's token: read-only whatever else it says


def current_user() -> User | None:
    """Who this request is from (set by the sign-in check before every request), or None."""
    return g.get("user") if has_request_context() else None


def has_role(user: User | None, role: str) -> bool:
    if user is None:
        return False
    if user.kiosk:
        return role == "viewer"
    return ROLES.index(user.role) >= ROLES.index(role)


def require_role(role: str) -> User:
    """The current user if they hold ``role``; else 403. Call it first in every state-changing
    callback and route: the server enforces roles, hiding a button is only a courtesy."""
    user = current_user()
    if not has_role(user, role):
        raise Forbidden(f"needs the {role} role")
    return user


def describe(user: User | None) -> str:
    """How the top bar names who is signed in."""
    if user is None:
        return ""
    return f"wall: {user.name}" if user.kiosk else f"{user.name} ({user.role})"


def csrf_token() -> str:
    """The CSRF token of this request's session ('' without one): for a plain HTML form's ``csrf_token``."""
    return session.get("csrf", "") if has_request_context() else ""


# ----------------------------------------------------------------------------- tokens out of logs
_TOKEN_IN_URL = re.compile(r"(kiosk=)[^&\s\"]+")


def redact(text: str) -> str:
    """A request line or URL with any kiosk token replaced (access logs never hold a token)."""
    return _TOKEN_IN_URL.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


_redact_filter = RedactTokens()


# ----------------------------------------------------------------------------- sessions
class _SecretKey:
    """SECRET_KEY, else the key kept in Redis (made once with SET NX: every worker signs alike). If Redis
    cannot be reached, a key of this process only stands in and Redis is asked again on later requests."""

    def __init__(self, accounts: Accounts, configured: str | None):
        self.accounts, self.value, self.final = accounts, configured, configured is not None
        self.lock = threading.Lock()
        self.retry_at = 0.0

    def get(self) -> str:
        if self.final:
            return self.value
        with self.lock:
            if not self.final and time.monotonic() >= self.retry_at:
                try:
                    self.value, self.final = self.accounts.secret_key(), True
                except (redis.RedisError, OSError):
                    self.value = self.value or secrets.token_hex(32)
                    self.retry_at = time.monotonic() + 5
            return self.value


class _Sessions(SecureCookieSessionInterface):
    """Signed cookie sessions whose key comes from ``_SecretKey``; a user's cookie ends with its
    session, a kiosk's lasts (renewed whenever a page loads)."""

    def __init__(self, secret: _SecretKey, hours: float):
        self.secret, self.hours = secret, hours

    def get_signing_serializer(self, app):
        return URLSafeTimedSerializer(self.secret.get(), salt=self.salt, serializer=self.serializer,
                                      signer_kwargs={"key_derivation": self.key_derivation,
                                                     "digest_method": self.digest_method})

    def get_expiration_time(self, app, sess):
        if sess.get("kind") == "kiosk":
            return datetime.now(timezone.utc) + timedelta(days=KIOSK_COOKIE_DAYS)
        if sess.get("kind") == "user":
            return datetime.fromtimestamp(sess["iat"] + self.hours * 3600, timezone.utc)
        return None  # the sign-in form's token: a browser-session cookie


# ----------------------------------------------------------------------------- the check
class _Gate:
    def __init__(self, app, store, settings):
        self.app, self.store, self.settings = app, store, settings
        self.accounts = Accounts(store.r, store.keys)
        self.section = auth_section(store.city)
        self.session_s = settings.session_hours * 3600
        self.kiosk_seen: dict[str, tuple[float, User]] = {}  # sid -> (checked at, user): a few seconds
        self._csp: tuple[int, str] | None = None
        from feeds.plugins import package_modules

        # A page module may say which role it needs (``ROLE = "admin"``); the default is viewer.
        self.page_roles = {name: getattr(mod, "ROLE", "viewer")
                           for name, mod in package_modules("dashboard.pages", "page").items()}

    # --- who is asking ------------------------------------------------------------
    def identify(self) -> tuple[User | None, str, str]:
        """(user, how: "bearer" | "session" | "", why not when None)."""
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, "bearer", "the Authorization header must be 'Bearer <token>'"
            token = token.strip()
            api = self.accounts.api_token_for(token)
            if api is not None:
                return User(f"token:{api['name']}", api["role"]), "bearer", ""
            kiosk = self.accounts.kiosk_for_token(token)
            if kiosk is not None:
                return User(kiosk["name"], "viewer", kiosk=True), "bearer", ""
            return None, "bearer", "unknown or revoked token"
        sid, kind, name = session.get("sid"), session.get("kind"), session.get("name")
        if not sid or kind not in ("user", "kiosk") or not name:
            return None, "", "sign-in required"
        if kind == "user" and time.time() - float(session.get("iat", 0)) > self.session_s:
            session.clear()
            return None, "session", "your session expired: sign in again"
        if kind == "kiosk":
            seen = self.kiosk_seen.get(sid)
            if seen and time.monotonic() - seen[0] < self.section.kiosk_check_s:
                return seen[1], "session", ""
        try:
            record, account = self.accounts.session_and_account(sid, kind, name)
        except (redis.RedisError, OSError):
            # Redis is down: no data can be read or written anyway, so the signed session stands and
            # the page shows its "unreachable" banner with the last picture (nothing else can be checked).
            return User(name, session.get("role", "viewer"), kiosk=kind == "kiosk"), "session", ""
        live = record.get("kind") == kind and record.get("name") == name and account is not None
        if kind == "kiosk":
            if not live or account.get("revoked_at") or account.get("sha256") != record.get("sha256"):
                self.kiosk_seen.pop(sid, None)
                return None, "session", "kiosk revoked"
            user = User(name, "viewer", kiosk=True)
            if len(self.kiosk_seen) > 10_000:
                self.kiosk_seen.clear()
            self.kiosk_seen[sid] = (time.monotonic(), user)
            return user, "session", ""
        if not live:
            session.clear()
            return None, "session", "your session ended: sign in again"
        if account.get("disabled"):
            session.clear()
            return None, "session", "this account is disabled"
        return User(name, account["role"]), "session", ""

    # --- before every request ---------------------------------------------------------
    def before(self):
        path = request.path
        g.user = None
        if path in OPEN_PATHS:
            return None
        if "kiosk" in request.args and request.method == "GET" and self.is_page(path):
            return self.kiosk_sign_in()
        try:
            user, how, why = self.identify()
        except (redis.RedisError, OSError) as e:
            return self.json(503, f"store unavailable: {type(e).__name__}")
        g.user, g.auth_via = user, how
        if user is None and how == "" and request.cookies.get(SESSION_COOKIE) and not self.secret.final:
            # A session cookie this worker cannot check yet: Redis (which holds the shared secret key) was
            # unreachable. Say "unavailable", not "signed out", so a wall keeps its picture and recovers.
            if self.is_page(path) and request.method == "GET":
                return self.page(503, "Data store unreachable", "This page reloads by itself in a moment.",
                                 refresh_s=10)
            return self.json(503, "store unavailable: cannot check the session yet")
        if user is None:
            return self.refuse(path, why)
        if request.method not in SAFE_METHODS and how == "session" and not self.csrf_ok():
            return self.json(403, "CSRF token missing or wrong: reload the page")
        if self.is_page(path) and request.method == "GET":
            parts = [p for p in path.split("/") if p]
            needed = self.page_roles.get(parts[0], "viewer") if parts else "viewer"
            if not has_role(user, needed):
                return self.page(403, "Not allowed", f"This page needs the {needed} role.")
            if user.kiosk:
                session.modified = True  # renew the kiosk's long-lived cookie
        return None

    @staticmethod
    def is_page(path: str) -> bool:
        return not path.startswith(("/api/", "/_dash-", "/_reload-hash", "/assets/", "/_favicon"))

    def csrf_ok(self) -> bool:
        expected = session.get("csrf", "")
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            sent = request.form.get("csrf_token")
        return bool(expected) and bool(sent) and hmac.compare_digest(sent, expected)

    def refuse(self, path: str, why: str):
        kiosk_gone = why == "kiosk revoked"
        if self.is_page(path) and request.method == "GET":
            if kiosk_gone:
                return self.page(401, "This screen is signed out",
                                 "Its kiosk token was revoked or replaced. Ask an administrator for a new wall link.")
            target = request.full_path if request.query_string else path
            return redirect("/login?" + urlencode({"next": target} if target != "/" else {}), 303)
        message = "this screen's kiosk token was revoked" if kiosk_gone else why
        return self.json(401, message)

    def kiosk_sign_in(self):
        """``/page?kiosk=<token>&...``: sign the screen in and go to the same URL without the token."""
        query = [(k, v) for k, v in request.args.items(multi=True) if k != "kiosk"]
        clean = request.path + ("?" + urlencode(query) if query else "")
        try:
            record = self.accounts.kiosk_for_token(request.args.get("kiosk", ""))
        except (redis.RedisError, OSError) as e:
            return self.page(503, "Cannot sign this screen in", f"The data store is unreachable ({type(e).__name__}). "
                             "This page tries again by itself.", refresh_s=10)
        if record is None:
            return self.page(401, "This kiosk link does not work",
                             "The token is unknown or was revoked. Ask an administrator for a new wall link.")
        sid = self.accounts.open_session("kiosk", record["name"], None, kiosk_sha=record["sha256"])
        self.start_session(sid, "kiosk", record["name"], "viewer")
        log.info("kiosk %s signed in", record["name"])
        return redirect(clean, 303)

    @staticmethod
    def start_session(sid: str, kind: str, name: str, role: str) -> None:
        session.clear()
        session.update(sid=sid, kind=kind, name=name, role=role, iat=time.time(), csrf=secrets.token_urlsafe(32))
        session.permanent = True

    # --- after every request ------------------------------------------------------------
    def after(self, response: Response) -> Response:
        h = response.headers
        h["Content-Security-Policy"] = self.csp()
        h["X-Frame-Options"] = "DENY"
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "same-origin"
        path = request.path
        if path.startswith(("/api/", "/_dash-update-component", "/login", "/logout")):
            h["Cache-Control"] = "no-store"
        token = session.get("csrf") if session.get("sid") else None
        if token and request.cookies.get(CSRF_COOKIE) != token:
            # Readable by the page's script on purpose (Dash sends it back as X-CSRFToken); it is worth
            # nothing without the HttpOnly session cookie it belongs to.
            response.set_cookie(CSRF_COOKIE, token, samesite="Lax", secure=self.settings.session_cookie_secure,
                                httponly=False, expires=self.app.server.session_interface.get_expiration_time(
                                    self.app.server, session))
        elif not session.get("sid") and request.cookies.get(CSRF_COOKIE) and path in ("/login", "/logout"):
            response.delete_cookie(CSRF_COOKIE)
        return response

    def csp(self) -> str:
        scripts = self.app._inline_scripts
        if self._csp is None or self._csp[0] != len(scripts):
            hashes = " ".join(self.app.csp_hashes())
            tiles = ""
            if self.settings.map_tile_url:
                parts = urlsplit(self.settings.map_tile_url.replace("{", "").replace("}", ""))
                tiles = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
            policy = "; ".join([
                "default-src 'self'",
                f"script-src 'self' {hashes}",
                "style-src 'self' 'unsafe-inline'",
                f"img-src 'self' data: blob:{tiles}",
                "font-src 'self' data:",
                f"connect-src 'self'{tiles}",
                "worker-src blob:",
                "child-src blob:",
                "object-src 'none'",
                "frame-ancestors 'none'",
                "base-uri 'self'",
                "form-action 'self'",
            ])
            self._csp = (len(self.app._inline_scripts), policy)
        return self._csp[1]

    def forbidden(self, e: Forbidden):
        """require_role's 403: JSON for callbacks and the API, a page for a page."""
        if self.is_page(request.path) and request.method == "GET":
            return self.page(403, "Not allowed", e.description or "Not allowed.")
        return self.json(403, e.description or "forbidden")

    # --- small responses ---------------------------------------------------------------
    @staticmethod
    def json(status: int, message: str) -> Response:
        import orjson

        return Response(orjson.dumps({"error": message}), status=status, mimetype="application/json")

    @staticmethod
    def page(status: int, title: str, text: str, body: str = "", refresh_s: int | None = None) -> Response:
        head = f'<meta http-equiv="refresh" content="{int(refresh_s)}">' if refresh_s else ""
        return Response(PAGE.format(title=html_escape.escape(title), text=html_escape.escape(text), body=body,
                                    head=head), status=status, mimetype="text/html")

    # --- /login and /logout ---------------------------------------------------------------
    def login(self):
        nxt = safe_next(request.values.get("next", "/"))
        if request.method == "GET":
            user, _, _ = self.identify_quietly()
            if user is not None and not user.kiosk:
                return redirect(nxt, 303)
            return self.login_form(nxt, "", 200)
        expected = session.get("login_csrf", "")
        sent = request.form.get("csrf_token", "")
        if not expected or not hmac.compare_digest(sent, expected):
            return self.login_form(nxt, "The form expired. Please sign in again.", 400)
        name = request.form.get("name", "").strip()
        try:
            user, why = self.accounts.check_login(name, request.form.get("password", ""),
                                                  self.section.max_failures, self.section.lockout_s)
        except (redis.RedisError, OSError) as e:
            return self.login_form(nxt, "Sign-in is unavailable: the data store is unreachable "
                                        f"({type(e).__name__}).", 503)
        if user is None:
            log.info("sign-in refused for %r: %s", name[:64], why)
            return self.login_form(nxt, why[:1].upper() + why[1:] + ".", 401)
        sid = self.accounts.open_session("user", user["name"], self.session_s)
        self.start_session(sid, "user", user["name"], user["role"])
        log.info("%s signed in (%s)", user["name"], user["role"])
        return redirect(nxt, 303)

    def identify_quietly(self):
        try:
            return self.identify()
        except (redis.RedisError, OSError):
            return None, "", ""

    def login_form(self, nxt: str, error: str, status: int) -> Response:
        if not session.get("login_csrf"):
            session["login_csrf"] = secrets.token_urlsafe(32)
        esc = html_escape.escape
        body = LOGIN_FORM.format(next=esc(nxt), csrf=esc(session["login_csrf"]),
                                 error=f'<p class="login-error" role="alert">{esc(error)}</p>' if error else "")
        return self.page(status, "Sign in", "", body)

    def logout(self):
        sid, kind, name = session.get("sid"), session.get("kind"), session.get("name")
        if sid and kind and name:
            try:
                self.accounts.close_session(sid, kind, name)
            except (redis.RedisError, OSError):
                pass  # the cookie goes anyway; the record expires by itself
        session.clear()
        response = redirect("/login", 303)
        response.delete_cookie(CSRF_COOKIE)
        return response


def safe_next(target: str | None) -> str:
    """Only a path of this site (no //host, no scheme): a sign-in link cannot send anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">{head}
<title>{title} · City Brain</title><link rel="icon" href="/_favicon.ico">
<link rel="stylesheet" href="/assets/theme.css"><link rel="stylesheet" href="/assets/auth.css">
</head><body class="shell theme-dark login-body"><main class="login-card"><h1><span class="brand-name">City Brain</span>
{title}</h1><p class="login-text">{text}</p>{body}</main></body></html>"""

LOGIN_FORM = """<form method="post" action="/login" class="login-form" id="login-form">{error}
<input type="hidden" name="csrf_token" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label for="login-name">Name</label><input id="login-name" name="name" autocomplete="username" required autofocus>
<label for="login-password">Password</label><input id="login-password" name="password" type="password"
 autocomplete="current-password" required>
<button type="submit" id="login-submit">Sign in</button></form>
<p class="login-text">Wall screens sign in with their kiosk link instead.</p>"""


def install(app, store, settings) -> None:
    """Sign-in, CSRF and security headers on the app's Flask server (called by ``create_app``)."""
    server = app.server
    gate = _Gate(app, store, settings)
    gate.secret = secret = _SecretKey(gate.accounts, settings.secret_key)
    server.session_interface = _Sessions(secret, settings.session_hours)
    server.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True,
                         SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.session_cookie_secure,
                         SESSION_REFRESH_EACH_REQUEST=False,
                         PERMANENT_SESSION_LIFETIME=timedelta(days=KIOSK_COOKIE_DAYS))
    server.register_error_handler(Forbidden, gate.forbidden)
    server.before_request(gate.before)
    server.after_request(gate.after)
    server.add_url_rule("/login", "login", gate.login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", gate.logout, methods=["POST"])
    server.extensions["citybrain.auth"] = gate
    logging.getLogger("werkzeug").addFilter(_redact_filter)  # the local server's access log
