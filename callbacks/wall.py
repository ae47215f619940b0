"""Wall mode: the view on screen, and each tick's status (Redis, stale data, the pinned critical alert).

The browser rotates (assets/wall.js, every second, no server cost); this module answers two things:
  render  the page of the view the browser asks for, once per view change
  status  each tick: does Redis answer, is the data stale (and since when), which critical alert pins
          the wall; the alert book is read only when its version moved, the staleness once a second
          per worker for all its screens
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from dash import ClientsideFunction, Input, Output, State, html
from dash.exceptions import PreventUpdate

from callbacks.shell import resolve
from dashboard.pages import wall as wall_page
from dashboard.reads.alerts import pinning
from dashboard.store import StoreUnavailable
from feeds.alerts import AlertBook
from feeds.plugins import package_modules

log = logging.getLogger(__name__)


def pinned_alert(open_alerts: list[dict], city=None) -> dict | None:
    """The alert that pins the wall: the oldest open, unacknowledged critical one (escalated ones too)."""
    a = pinning(open_alerts)
    if a is None:
        return None
    pinned = {k: a.get(k) for k in ("id", "title", "message", "raised_at", "view", "focus", "district")}
    pinned["pin"] = wall_page.pinned_view(a, city)
    return pinned


def staleness(kpi_values: dict[str, dict], feeds: list[dict], now: float, stale_after_s: float) -> dict | None:
    """Why the wall's data is stale, and since when (epoch of the newest data), or None when it is live.
    Stale: every feed that has run is stale or failing, or the newest KPI is older than ``stale_after_s``."""
    as_ofs = [v["as_of"] for v in kpi_values.values() if isinstance(v, dict) and v.get("as_of")]
    newest = max(as_ofs, default=None)
    ran = [f for f in feeds if f["status"] != "never"]
    if ran and all(f["status"] in ("stale", "error") for f in ran):
        lags = [now - f["lag_s"] for f in ran if f.get("lag_s") is not None]
        since = max(lags, default=newest)
        listing = ", ".join(f"{f['name']} {f['status']}" for f in ran)
        return {"reason": f"every feed is stale or failing ({listing})", "since": since}
    if newest is not None and now - newest > stale_after_s:
        behind = [f"{f['name']} {f['status']}" for f in ran if f["status"] != "ok"]
        return {"reason": f"no new figure for more than {duration_text(stale_after_s)}"
                          + (f" ({', '.join(behind)})" if behind else ""), "since": newest}
    return None


class Shared:
    """A value every screen's status asks for within the same second, read once per worker in ``ttl_s``
    (the data's staleness is the same for every screen; a failed read is not kept)."""

    def __init__(self, ttl_s: float):
        self.ttl_s, self.lock = ttl_s, threading.Lock()
        self.at, self.value = float("-inf"), None

    def get(self, compute):
        if time.monotonic() - self.at < self.ttl_s:
            return self.value
        with self.lock:  # one read for the requests that arrive together
            if time.monotonic() - self.at >= self.ttl_s:
                self.value = compute()
                self.at = time.monotonic()
            return self.value


STALENESS_TTL_S = 1.0


def duration_text(s: float) -> str:
    return f"{s / 60:g} min" if s >= 120 else f"{s:g} s"


def register(app, store, settings) -> None:
    config = wall_page.wall_config(store.city)  # a bad "wall" section stops the app at start, in one line
    pages = package_modules("dashboard.pages", "page")
    book = AlertBook(store.r, store.keys)
    stale_now = Shared(STALENESS_TTL_S)

    def read_staleness():
        now = time.time()
        return staleness(store.kpi_values(), store.feeds(now), now, config.stale_after_s)

    @app.callback(Output("wall-view", "children"), Input("wall-current", "data"))
    def render(current):
        if not current:
            raise PreventUpdate
        path, query = current.get("path") or "/", dict(current.get("query") or {})
        name, ident = resolve(path, pages)
        if name is None or name == "wall":
            body = html.Div(className="wall-missing", children=[
                html.H1(current.get("title") or path), html.P(f"No page at {path} in this version.")])
        else:
            if ident is not None:
                query["id"] = ident
            try:
                body = pages[name].page(store, query)
            except StoreUnavailable:
                raise PreventUpdate  # keep the last picture; the banner says why
            except Exception:  # one broken page must not take the wall down
                log.exception("wall: page %s failed", path)
                body = html.Div(className="wall-missing", children=[
                    html.H1(current.get("title") or path), html.P("This view could not be drawn; see the server log.")])
        # Two fade-in animations with different names, alternating: a changed animation-name replays it.
        # A pinned view is drawn a little smaller, to leave room for the alert strip (by its own class:
        # resizing the view it replaces, just before that one goes, would make plotly redraw a removed map).
        pinned = " pinned" if current.get("pinned") else ""
        return html.Div(body, className=f"wall-frame fade-{int(current.get('seq') or 0) % 2}{pinned}")

    @app.callback(Output("wall-status", "data"), Input("tick", "n_intervals"), State("wall-status", "data"))
    def status(_, previous):
        now = time.time()
        previous = previous or {}
        out = {"now": now, "redis": True, "redis_ok_at": now, "stale": previous.get("stale"),
               "alert": previous.get("alert"), "alerts_version": previous.get("alerts_version")}
        try:
            version = book.version()
            if version != previous.get("alerts_version") or "alert" not in previous:
                out["alert"] = pinned_alert(book.open_alerts(), store.city)
                out["alerts_version"] = version
            out["stale"] = stale_now.get(read_staleness)  # the alert book's version above is read every time
        except (StoreUnavailable, redis.RedisError, OSError):
            out.update(redis=False, redis_ok_at=previous.get("redis_ok_at"))
        return out

    # The browser's side runs on the shell's 1 s clock-tick and only reads the server's status as State:
    # a callback with an Input the server is still computing would wait for it, and a hung server
    # would freeze the banners that must report it.
    app.clientside_callback(
        ClientsideFunction("wall", "rotate"),
        Output("wall-state", "data"), Output("wall-current", "data"), Output("wall-title", "children"),
        Output("wall-position", "children"), Output("wall-strip", "children"), Output("wall-strip", "className"),
        Input("clock-tick", "n_intervals"), State("wall-status", "data"),
        State("wall-playlist", "data"), State("wall-state", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("wall", "overlay"),
        Output("wall-overlay", "className"), Output("wall-overlay-title", "children"),
        Output("wall-overlay-detail", "children"), Output("wall-overlay-note", "children"),
        Input("clock-tick", "n_intervals"), State("wall-status", "data"),
        State("wall-settings", "data"), State("tick", "interval"), State("city-tz", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("wall", "clock"),
        Output("wall-clock", "children"), Output("wall-date", "children"),
        Input("clock-tick", "n_intervals"), State("city-tz", "data"),
    )
