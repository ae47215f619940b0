"""Wall mode "/wall": a playlist of views for the operations-centre screens, no chrome.

    /wall                                     the playlist of CITY_CONFIG "wall"
    /wall?views=overview,emergency,transit&interval=20
    /wall?views=overview:30,emergency:15,district:D2:20

A view is a page of the app (overview, traffic, transit, emergency, environment, services, alerts,
``district:<id>``), shown in the wall's content area with the page's own refresh callbacks, so it stays
live. Rotation runs in the browser (assets/wall.js); the server renders a page only when the view
changes. A critical alert pins its view (callbacks/wall.py); banners cover the last picture when Redis
or the web server stops answering, or when the data goes stale.

CITY_CONFIG section (every key optional):
    "wall": {"views": [{"view": "overview", "interval_s": 30}, {"view": "emergency"}],
             "interval_s": 30, "stale_after_s": 300}
"""
from __future__ import annotations

from typing import Any

from dash import dcc, html
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from feeds.config import City, ConfigError

# view name -> (page path, title on the wall)
VIEWS = {"overview": ("/", "Overview"), "traffic": ("/traffic", "Traffic"), "transit": ("/transit", "Buses"),
         "emergency": ("/emergency", "Emergency"), "environment": ("/environment", "Environment"),
         "services": ("/services", "Services"), "alerts": ("/alerts", "Alerts")}
DISTRICT = "district"
MIN_INTERVAL_S, MAX_INTERVAL_S = 2.0, 3600.0
MAX_VIEWS = 50


class WallView(BaseModel):
    model_config = ConfigDict(extra="forbid")
    view: str
    interval_s: float | None = Field(None, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)


class WallConfig(BaseModel):
    """CITY_CONFIG "wall": the default playlist, its default interval, and when data counts as stale."""
    model_config = ConfigDict(extra="forbid")
    views: list[WallView] = Field(default_factory=lambda: [WallView(view="overview")], min_length=1,
                                  max_length=MAX_VIEWS)
    interval_s: float = Field(30.0, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)
    # The wall says "data stale" when the newest KPI is older than this (or every feed is stale).
    stale_after_s: float = Field(300.0, ge=10, le=86400)


def wall_config(city: City) -> WallConfig:
    """The city's wall section, validated; ConfigError (one line) when it is wrong."""
    try:
        config = WallConfig.model_validate(city.wall or {})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"CITY_CONFIG wall.{where}: {err['msg']}") from None
    for i, v in enumerate(config.views):
        try:
            view_spec(v.view, city)
        except ValueError as e:
            raise ConfigError(f"CITY_CONFIG wall.views.{i}.view: {e}") from None
    return config


def view_names(city: City) -> str:
    return ", ".join([*VIEWS, "district:<id>"])


def view_spec(name: str, city: City) -> dict:
    """{view, path, query, title} of a view name; ValueError with a reader's message when unknown."""
    name = (name or "").strip()
    if name.startswith(DISTRICT + ":"):
        district = name.split(":", 1)[1]
        names = {d.id: d.name for d in city.districts}
        if district not in names:
            raise ValueError(f"unknown district {district!r} (one of {', '.join(names)})")
        return {"view": name, "path": f"/district/{district}", "query": {}, "title": f"District — {names[district]}"}
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r} (one of {view_names(city)})")
    path, title = VIEWS[name]
    return {"view": name, "path": path, "query": {}, "title": title}


def _seconds(raw: str, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{what}: expected seconds, got {raw!r}") from None
    if not MIN_INTERVAL_S <= value <= MAX_INTERVAL_S:
        raise ValueError(f"{what}: must be between {MIN_INTERVAL_S:g} and {MAX_INTERVAL_S:g} seconds, got {raw!r}")
    return value


def playlist(query: dict[str, str], config: WallConfig, city: City) -> list[dict]:
    """The views to rotate through, each with its interval: the URL's ``views`` / ``interval`` over the
    city's wall section. ValueError with one line naming the bad parameter."""
    default = config.interval_s
    url_interval = None
    if "interval" in query:
        url_interval = _seconds(query["interval"], "interval")
        default = url_interval
    out = []
    if "views" in query:
        items = [s.strip() for s in query["views"].split(",") if s.strip()]
        if not items:
            raise ValueError(f"views: name at least one view ({view_names(city)})")
        if len(items) > MAX_VIEWS:
            raise ValueError(f"views: at most {MAX_VIEWS} views, got {len(items)}")
        for item in items:
            parts = item.split(":")
            name_parts = 2 if parts[0] == DISTRICT else 1
            name, rest = ":".join(parts[:name_parts]), parts[name_parts:]
            if len(rest) > 1:
                raise ValueError(f"views: {item!r} is not view[:seconds]")
            try:
                spec = view_spec(name, city)
            except ValueError as e:
                raise ValueError(f"views: {e}") from None
            spec["interval_s"] = _seconds(rest[0], f"views: {name}") if rest else default
            out.append(spec)
    else:
        for v in config.views:
            spec = view_spec(v.view, city)
            spec["interval_s"] = url_interval or v.interval_s or config.interval_s
            out.append(spec)
    return out


def pinned_view(alert: dict, city: City | None = None) -> dict:
    """Where a critical alert takes the wall: its page, with the map zoomed to its focus.
    ``/`` and ``/district/<id>`` take ``focus=lat,lon,zoom``; pages with a district drill-down take
    ``district``."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(alert.get("view") or "/")
    path = parts.path or "/"
    query: dict[str, Any] = dict(parse_qsl(parts.query))
    focus = alert.get("focus")
    if isinstance(focus, dict) and all(isinstance(focus.get(k), (int, float)) for k in ("lat", "lon")):
        zoom = focus.get("zoom")
        query.setdefault("focus", f"{focus['lat']},{focus['lon']}" + (f",{zoom}" if zoom is not None else ""))
    if alert.get("district") and path in DISTRICT_PAGES:
        query.setdefault("district", alert["district"])
    title = next((t for p, t in VIEWS.values() if p == path), path)
    if path.startswith("/district/"):
        district = path.rsplit("/", 1)[1]
        names = {d.id: d.name for d in city.districts} if city else {}
        title = "District — " + names.get(district, district)
    return {"view": "alert:" + alert["id"], "path": path, "query": query, "title": title}


DISTRICT_PAGES = {"/traffic", "/emergency", "/environment"}  # pages whose ?district= drills down


def page(store, query: dict) -> html.Div:
    city = store.city
    config = wall_config(city)
    try:
        views = playlist(query, config, city)
        error = None
    except ValueError as e:
        views, error = [], str(e)
    return layout(city, views, config, error)


def layout(city: City, views: list[dict], config: WallConfig, error: str | None = None) -> html.Div:
    if error:
        body = html.Div(className="wall-error", id="wall-error", children=[
            html.H1("This wall link has a problem"),
            html.P(error, className="wall-error-detail"),
            html.P(["Example: ", html.Code("/wall?views=overview:30,emergency:15,district:D2&interval=20")]),
        ])
    else:
        body = html.Div(id="wall-view", className="wall-view")
    return html.Div(id="wall", className="wall", children=[
        dcc.Store(id="wall-playlist", data=views),
        dcc.Store(id="wall-settings", data={"stale_after_s": config.stale_after_s}),
        dcc.Store(id="wall-state"),    # the browser's rotation: {index, since, key}
        dcc.Store(id="wall-current"),  # the view on screen; changes only when the view changes
        dcc.Store(id="wall-status"),   # the server's answer each tick: Redis, staleness, pinned alert
        html.Header(className="wall-header", children=[
            html.Div([html.Div("City Brain", className="wall-brand"), html.Div(city.name, className="wall-city")],
                     className="wall-id"),
            html.Div(id="wall-title", className="wall-title", children="Wall link error" if error else ""),
            html.Div(id="wall-position", className="wall-position"),
            html.Div([html.Div(id="wall-clock", className="wall-clock"), html.Div(id="wall-date", className="wall-date")],
                     className="wall-time"),
        ]),
        html.Div(id="wall-strip", className="wall-strip hidden"),
        body,
        html.Div(id="wall-overlay", className="wall-overlay hidden", children=html.Div(className="wall-overlay-box", children=[
            html.Div(id="wall-overlay-title", className="wall-overlay-title"),
            html.Div(id="wall-overlay-detail", className="wall-overlay-detail"),
            html.Div(id="wall-overlay-note", className="wall-overlay-note"),
        ])),
    ])
