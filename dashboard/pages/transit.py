"""Buses "/transit": KPI cards, every bus on the map coloured by delay, routes table, service alerts.

The URL carries the view, so it can be shared:
- ``/transit?sort=on_time|bunched|delay|route``: the routes table order;
- ``/transit?route=R1``: one route: its cards, its buses, the headway chart along the route and the
  delay at each stop;
- ``/transit?route=R1&vehicle=R1-03``: and one bus's trip, stop by stop.
Pure render functions: the callbacks (callbacks/transit.py) read the store and call these.
"""
from __future__ import annotations

import time

from dash import dcc, html

from dashboard.components import format_age, format_value, kpi_card, status_badge
from dashboard.maps import THEME_OUTLINE, base_layout, district_layer, map_graph
from dashboard.store import StoreUnavailable
from feeds.adapters.transit_gtfs import TransitConfig
from feeds.kpi.status import judge

TRANSIT_KPIS = ("transit.on_time_pct", "transit.mean_delay_s", "transit.headway_cv", "transit.bunched_pct",
                "transit.service_delivered_pct", "transit.vehicles_in_service")
SORTS = {"on_time": "on time % (worst first)", "bunched": "bunched % (worst first)",
         "delay": "mean delay (worst first)", "route": "route"}
CLUSTER_ABOVE = 400  # more buses than this: the map clusters them (a wall cannot read 2,000 dots)
UNKNOWN_COLOUR = "#9ca3af"
OCCUPANCY_TEXT = {"EMPTY": "empty", "MANY_SEATS_AVAILABLE": "many seats", "FEW_SEATS_AVAILABLE": "few seats",
                  "STANDING_ROOM_ONLY": "standing", "CRUSHED_STANDING_ROOM_ONLY": "crushed", "FULL": "full",
                  "NOT_ACCEPTING_PASSENGERS": "not boarding", "NO_DATA_AVAILABLE": "—", "NOT_BOARDABLE": "not boarding"}


def page(store, query: dict):
    """The page at /transit (see feeds.plugins); ``query`` is the URL's query string as a dict."""
    from dashboard.pages import domain as domain_page
    from dashboard.reads import transit as reads

    route, vehicle = query.get("route"), query.get("vehicle")
    sort = query.get("sort") if query.get("sort") in SORTS else "on_time"
    try:
        if not reads.has_feed(store):
            return domain_page.layout("transit", store.kpis(domain="transit"))
        routes, _, _ = reads.static(store)
    except StoreUnavailable:
        routes = None  # draw the page; the refresh shows the stale banner until Redis answers
    if routes is not None and route not in routes:
        route, vehicle = None, None
    names = route_names(routes or {})
    return layout(route, vehicle, sort, names.get(route, route))


def route_names(routes: dict) -> dict[str, str]:
    return {rid: (r.get("short_name") or rid) + (f" {r['long_name']}" if r.get("long_name") else "")
            for rid, r in routes.items()}


def layout(route: str | None, vehicle: str | None, sort: str, route_name: str | None = None) -> html.Div:
    if route:
        heading = [html.H1(["Buses — route ", html.Span(route_name or route, id="transit-route-name")]),
                   dcc.Link("← all routes", href="/transit", className="back-link", id="transit-back")]
    else:
        heading = [html.H1("Buses — whole city"),
                   html.Span("Click a route in the table, or a bus on the map, to drill down.", className="muted")]
    return html.Div(className="transit-page", children=[
        dcc.Store(id="transit-focus", data={"route": route, "vehicle": vehicle, "sort": sort}),
        dcc.Store(id="transit-version"),  # {version, view} the page shows; None until the first paint
        html.Div(heading, className="page-head"),
        html.Div(id="transit-cards", className="cards"),
        html.Div(className="transit-body", children=[
            html.Div(map_graph("transit-map"),
                     className="panel map-panel"),
            html.Div(id="transit-side", className="panel side-panel"),
        ]),
        html.Div(id="transit-detail", className="transit-detail"),
        html.Div(id="transit-alerts", className="panel transit-alerts"),
    ])


# --- cards ---------------------------------------------------------------------------------
def cards(kpis: dict[str, dict], histories: dict[str, list[float]], route: str | None) -> list:
    out = []
    for kid in TRANSIT_KPIS:
        k = kpis[kid]
        if route:
            value = (k["detail"].get("by_route") or {}).get(route)
            status = "no_data" if value is None else judge(value, k["direction"], k["target"], k["warn"])
            if k["status"] == "stale":
                status = "stale"
            out.append(kpi_card(k, None, value=value, status=status))
        else:
            out.append(kpi_card(k, histories.get(kid)))
    return out


# --- map ----------------------------------------------------------------------------------
def delay_bands(cfg: TransitConfig) -> list[tuple[str, str]]:
    """(label, colour) of each delay band; the on-time band is the city's on-time window."""
    early, late = cfg.on_time_early_s / 60, cfg.on_time_late_s / 60
    return [(f"early (more than {early:g} min)", "#60a5fa"), (f"on time (-{early:g} to +{late:g} min)", "#22c55e"),
            (f"late (+{late:g} to +10 min)", "#f59e0b"), ("very late (over 10 min)", "#ef4444"),
            ("delay unknown", UNKNOWN_COLOUR)]


def band_of(delay: float | None, cfg: TransitConfig) -> int:
    if delay is None:
        return 4
    if delay < -cfg.on_time_early_s:
        return 0
    if delay <= cfg.on_time_late_s:
        return 1
    return 2 if delay <= 600 else 3


def delay_text(delay: float | None) -> str:
    if delay is None:
        return "delay unknown"
    if abs(delay) < 30:
        return "on schedule"
    minutes = abs(delay) / 60
    return f"{minutes:.0f} min {'late' if delay > 0 else 'early'}"


# Trace order of the map; map_data() addresses traces by these positions.
DISTRICTS, ROUTE_LINES, FOCUS_LINE, STOPS, FIRST_BAND = 0, 1, 2, 3, 4
# Districts shaded by their on-time % (red at 50 % or less, amber at 75, yellow at 85, green at 100 %),
# as on the other pages; a district without data sits below the scale, in grey (z = OTP_NONE), so it
# keeps its outline (a transparent district would lose it) without looking like the worst.
OTP_NONE, OTP_MIN, OTP_MAX = 40.0, 50.0, 100.0


def _at(v: float) -> float:
    return (v - OTP_NONE) / (OTP_MAX - OTP_NONE)


OTP_SCALE = [[0, "#9ca3af"], [_at(OTP_MIN) - 0.001, "#9ca3af"], [_at(OTP_MIN), "#d73027"],
             [_at(75), "#fc8d59"], [_at(85), "#fee08b"], [1, "#1a9850"]]


def district_data(city, kpis: dict[str, dict], theme: str = "dark") -> dict[int, dict]:
    """The district layer's live part: on-time % as the colour (grey without on-time data); on time,
    bunched and service delivered in the hover, so "which district suffers" is answered on the map."""
    def by(kid):  # the store's by_district: {district: {"value", "status"}}
        return {d: v.get("value") for d, v in ((kpis.get(kid) or {}).get("by_district") or {}).items()}
    otp, bunched, delivered = by("transit.on_time_pct"), by("transit.bunched_pct"), by("transit.service_delivered_pct")
    z, text = [], []
    for d in city.districts:
        z.append(OTP_NONE if otp.get(d.id) is None else max(OTP_MIN, otp[d.id]))
        text.append(f"{d.name}: on time {format_value(otp.get(d.id), 0)} % · bunched "
                    f"{format_value(bunched.get(d.id), 0)} % · service delivered {format_value(delivered.get(d.id), 0)} %")
    opacity = [0.22] * len(city.districts)
    return {DISTRICTS: {"z": z, "text": text,
                        "marker": {"opacity": opacity, "line": {"color": THEME_OUTLINE[theme], "width": 1.5}}}}


def bus_traces(cfg: TransitConfig, cluster: bool) -> list[dict]:
    """One empty trace per delay band (map_data fills them); the integrated city map uses them too."""
    traces = []
    for label, colour in delay_bands(cfg):
        trace = {"type": "scattermap", "mode": "markers", "lon": [], "lat": [], "text": [], "customdata": [],
                 "name": label, "marker": {"size": 13, "color": colour, "opacity": 0.95},
                 "hovertemplate": "bus %{text}<br>click for its trip<extra></extra>"}
        if cluster:  # thousands of buses: clusters (counts) at city zoom, single buses when zoomed in
            trace["cluster"] = {"enabled": True, "maxzoom": 14, "color": colour, "opacity": 0.85,
                                "size": [14, 20, 28], "step": [10, 50]}
        traces.append(trace)
    return traces


def map_skeleton(city, routes: dict, stops: dict, route: str | None, theme: str, tile_url: str | None,
                 cfg: TransitConfig, n_vehicles: int) -> dict:
    """The figure's structure and its static parts (route lines, stops): sent once; refreshes patch
    only the buses' arrays."""
    lons, lats = [], []
    for rid, r in routes.items():
        for lon, lat in r.get("shape") or []:
            lons.append(lon)
            lats.append(lat)
        lons.append(None)
        lats.append(None)
    focus = routes.get(route) if route else None
    f_lon = [p[0] for p in focus.get("shape", [])] if focus else []
    f_lat = [p[1] for p in focus.get("shape", [])] if focus else []
    route_stops = [stops[s] | {"id": s} for s in (focus or {}).get("stops", []) if s in stops]
    line_colour = "#51627d" if theme == "dark" else "#8a99ad"
    districts = district_layer(city, {}, "on time %", theme, OTP_SCALE, OTP_NONE, OTP_MAX)
    districts["hovertemplate"] = "%{text}<extra></extra>"
    data = [
        districts,
        {"type": "scattermap", "mode": "lines", "lon": lons, "lat": lats, "name": "routes", "hoverinfo": "skip",
         "line": {"color": line_colour, "width": 2}, "showlegend": False},
        {"type": "scattermap", "mode": "lines", "lon": f_lon, "lat": f_lat, "name": f"route {route}",
         "hoverinfo": "skip", "line": {"color": "#5eb3ff", "width": 5}, "showlegend": bool(route)},
        {"type": "scattermap", "mode": "markers", "lon": [s["lon"] for s in route_stops],
         "lat": [s["lat"] for s in route_stops], "text": [s.get("name") or s["id"] for s in route_stops],
         "marker": {"size": 8, "color": "#e5e7eb" if theme == "dark" else "#111827"}, "name": "stops",
         "hovertemplate": "stop %{text}<extra></extra>", "showlegend": bool(route)},
    ]
    data.extend(bus_traces(cfg, n_vehicles > CLUSTER_ABOVE and not route))
    center, zoom = None, None
    if route_stops:
        lo_lon, hi_lon = min(s["lon"] for s in route_stops), max(s["lon"] for s in route_stops)
        lo_lat, hi_lat = min(s["lat"] for s in route_stops), max(s["lat"] for s in route_stops)
        center, zoom = ((lo_lon + hi_lon) / 2, (lo_lat + hi_lat) / 2), city.zoom + 0.6
    elif routes and not any(_inside(city, r) for r in routes.values()):
        # a schedule from another city than CITY_CONFIG's (a replayed fixture): centre on its buses' routes
        pts = [p for r in routes.values() for p in (r.get("shape") or [])]
        if pts:
            center = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
    return {"data": data, "layout": base_layout(city, theme, tile_url, center, zoom,
                                                uirevision=f"transit-{route or 'city'}")}


def _inside(city, route: dict) -> bool:
    shape = route.get("shape") or []
    if not shape:
        return False
    lon, lat = shape[0]
    return abs(lon - city.center[0]) < 1 and abs(lat - city.center[1]) < 1


def map_data(vehicles: list[dict], names: dict[str, str], cfg: TransitConfig, now: float) -> dict[int, dict]:
    """The buses' arrays of each delay band, by trace position: what a refresh sends."""
    bands = [{"lon": [], "lat": [], "text": [], "customdata": []} for _ in range(5)]
    for v in vehicles:
        b = bands[band_of(v.get("dl"), cfg)]
        b["lon"].append(round(v["lon"], 5))  # 1 m: GTFS-RT's float32 would print 17 digits each
        b["lat"].append(round(v["lat"], 5))
        # Short hover text: with 2,000 buses every byte of it is sent on each refresh.
        b["text"].append(f"{v['label']} · {names.get(v['r'], v['r'])} · {delay_text(v.get('dl'))}")
        b["customdata"].append([v["id"], v["r"]])
    return {FIRST_BAND + i: b for i, b in enumerate(bands)}


# --- routes table (city view) -------------------------------------------------------------
def route_rows(kpis: dict[str, dict], routes: dict) -> list[dict]:
    def by(kid):
        return kpis[kid]["detail"].get("by_route") or {}
    otp, delay, bunched, cv = (by("transit.on_time_pct"), by("transit.mean_delay_s"), by("transit.bunched_pct"),
                               by("transit.headway_cv"))
    in_service = by("transit.vehicles_in_service")
    scheduled = kpis["transit.service_delivered_pct"]["detail"].get("scheduled_by_route") or {}
    ids = sorted(set(routes) | set(in_service) | set(otp))
    rows = []
    for rid in ids:
        rows.append({"id": rid, "name": (routes.get(rid) or {}).get("short_name") or rid,
                     "long_name": (routes.get(rid) or {}).get("long_name") or "",
                     "in_service": in_service.get(rid, 0), "scheduled": scheduled.get(rid),
                     "on_time_pct": otp.get(rid), "mean_delay_s": delay.get(rid), "bunched_pct": bunched.get(rid),
                     "headway_cv": cv.get(rid)})
    return rows


def sort_rows(rows: list[dict], sort: str) -> list[dict]:
    """Worst first; routes without the figure last."""
    if sort == "route":
        return sorted(rows, key=lambda r: (len(r["name"]), r["name"]))
    key, worst_high = {"on_time": ("on_time_pct", False), "bunched": ("bunched_pct", True),
                       "delay": ("mean_delay_s", True)}[sort]
    with_value = [r for r in rows if r[key] is not None]
    without = [r for r in rows if r[key] is None]
    return sorted(with_value, key=lambda r: -r[key] if worst_high else r[key]) + without


def _row_status(row: dict, kpis: dict[str, dict]) -> str:
    order = ["no_data", "ok", "stale", "warn", "breach"]
    statuses = []
    for field, kid in (("on_time_pct", "transit.on_time_pct"), ("bunched_pct", "transit.bunched_pct"),
                       ("mean_delay_s", "transit.mean_delay_s"), ("headway_cv", "transit.headway_cv")):
        k = kpis[kid]
        statuses.append(judge(row[field], k["direction"], k["target"], k["warn"]) if row[field] is not None
                        else "no_data")
    return max(statuses, key=order.index)


def routes_table(kpis: dict[str, dict], routes: dict, sort: str, limit: int = 40) -> list:
    rows = sort_rows(route_rows(kpis, routes), sort)
    body = []
    for row in rows[:limit]:
        status = _row_status(row, kpis)
        sched = f" / {row['scheduled']}" if row["scheduled"] is not None else ""
        body.append(html.Tr([
            html.Td(dcc.Link(row["name"], href=f"/transit?route={row['id']}", id=f"route-link-{row['id']}",
                             title=row["long_name"]), className="link-name"),
            html.Td(f"{row['in_service']}{sched}"),
            html.Td(format_value(row["on_time_pct"], 0)),
            html.Td(format_value(row["mean_delay_s"] / 60 if row["mean_delay_s"] is not None else None, 1)),
            html.Td(format_value(row["bunched_pct"], 0)),
            html.Td(format_value(row["headway_cv"], 2)),
            html.Td(status_badge(status)),
        ], className=f"row-{status}"))

    def head(label, key):
        if key is None:
            return html.Th(label)
        active = " ▼" if key == sort else ""
        return html.Th(dcc.Link(label + active, href=f"/transit?sort={key}", id=f"transit-sort-{key}",
                                className="sort-link" + (" active" if active else "")))
    parts = [html.H3([f"Routes, by {SORTS[sort]}", html.Span(_as_of(kpis), className="panel-age")]),
             html.Table([html.Thead(html.Tr([head("route", "route"), head("buses", None), head("on time %", "on_time"),
                                             head("delay min", "delay"), head("bunched %", "bunched"),
                                             head("CV", None), html.Th("")])),
                         html.Tbody(body)], className="table", id="transit-routes-table")]
    if len(rows) > limit:
        parts.append(html.P(f"{len(rows) - limit} more routes: sort to see the worst.", className="muted"))
    return parts


def _as_of(kpis: dict[str, dict]) -> str:
    age = (kpis.get("transit.on_time_pct") or {}).get("age_s")
    return f" · as of {format_age(age)}" if age is not None else " · no data yet"


# --- route drill-down ---------------------------------------------------------------------
def route_side(route: str, vehicles: list[dict], stops: dict, names: dict[str, str], now: float,
               reporting_since: float = 0.0) -> list:
    """The route's buses, latest first; a bus silent past the freshness limit is "not reporting"."""
    rows = []
    for v in sorted(vehicles, key=lambda v: (v["t"] < reporting_since,
                                             -(v.get("dl") if v.get("dl") is not None else -1e9))):
        stop = stops.get(v.get("s") or "", {}).get("name") or v.get("s") or "—"
        silent = v["t"] < reporting_since
        late = v.get("dl") is not None and v["dl"] > 300
        rows.append(html.Tr([
            html.Td(dcc.Link(v["label"], href=f"/transit?route={route}&vehicle={v['id']}",
                             id=f"vehicle-link-{v['id']}")),
            html.Td("not reporting" if silent else delay_text(v.get("dl"))), html.Td(stop, className="link-name"),
            html.Td(OCCUPANCY_TEXT.get(v.get("occ") or "", "—")), html.Td(format_age(now - v["t"])),
        ], className="row-warn" if silent else "row-breach" if late else ""))
    return [html.H3(f"Buses on route {names.get(route, route)}"),
            html.Table([html.Thead(html.Tr([html.Th(h) for h in ("bus", "delay", "next stop", "occupancy", "as of")])),
                        html.Tbody(rows)], className="table", id="transit-vehicles-table")
            if rows else html.P("No bus of this route is reporting.", className="muted")]


def _chart_layout(theme: str, y_title: str) -> dict:
    fg = "#e5e7eb" if theme == "dark" else "#111827"
    grid = "#2a3954" if theme == "dark" else "#d5dce6"
    return {"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": fg, "size": 13},
            "margin": {"l": 55, "r": 15, "t": 30, "b": 90},
            "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
            "xaxis": {"tickangle": -40, "gridcolor": grid, "automargin": True},
            "yaxis": {"title": {"text": y_title}, "gridcolor": grid, "zerolinecolor": grid}, "bargap": 0.25}


def headway_figure(route_info: dict, stops: dict, stats: dict, theme: str) -> dict:
    """Observed headways (mean in the window) at each stop along the route against the schedule's."""
    order = route_info.get("stops") or []
    labels = [stops.get(s, {}).get("name") or s for s in order]
    h = [(stats.get(s) or {}).get("h") for s in order]
    big_h = [(stats.get(s) or {}).get("H") for s in order]
    bunched = [(stats.get(s) or {}).get("bunched", 0) for s in order]
    gapped = [(stats.get(s) or {}).get("gapped", 0) for s in order]
    colours = ["#ef4444" if b else "#f59e0b" if g else "#5eb3ff" for b, g in zip(bunched, gapped)]
    return {"data": [
        {"type": "bar", "x": labels, "y": [x / 60 if x is not None else None for x in h], "name": "observed (mean)",
         "marker": {"color": colours}, "customdata": [[b, g] for b, g in zip(bunched, gapped)],
         "hovertemplate": "%{x}<br>observed %{y:.1f} min<br>bunched: %{customdata[0]}, gaps: %{customdata[1]}"
                          "<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "x": labels, "y": [x / 60 if x is not None else None for x in big_h],
         "name": "scheduled", "line": {"color": "#f59e0b", "width": 3}, "hovertemplate": "scheduled %{y:.1f} min<extra></extra>"},
    ], "layout": _chart_layout(theme, "minutes")}


def stop_delay_figure(route_info: dict, stops: dict, stats: dict, cfg: TransitConfig, theme: str) -> dict:
    order = route_info.get("stops") or []
    labels = [stops.get(s, {}).get("name") or s for s in order]
    delays = [(stats.get(s) or {}).get("delay") for s in order]
    colours = [delay_bands(cfg)[band_of(d, cfg)][1] for d in delays]
    return {"data": [{"type": "bar", "x": labels, "y": [d / 60 if d is not None else None for d in delays],
                      "marker": {"color": colours}, "name": "mean departure delay",
                      "hovertemplate": "%{x}<br>%{y:.1f} min<extra></extra>"}],
            "layout": {**_chart_layout(theme, "minutes late"),
                       "showlegend": False}}


def trip_panel(vehicle: dict | None, sched: dict | None, update: dict | None, stops: dict, now: float) -> list:
    """One bus's trip, stop by stop: scheduled time, delay (observed or predicted), skipped."""
    if vehicle is None:
        return [html.H3("Bus"), html.P("This bus is not reporting.", className="muted")]
    head = [html.H3(f"Bus {vehicle['label']} — trip {vehicle.get('trip') or 'unknown'}"),
            html.P(f"{delay_text(vehicle.get('dl'))}; position {format_age(now - vehicle['t'])}", className="muted")]
    if sched is None:
        return head + [html.P("The schedule has no such trip.", className="muted")]
    delays = {row[0]: row for row in (update or {}).get("stops", [])}
    rows = []
    for seq, stop_id, arr, dep in sched["stop_times"]:
        t = dep if dep is not None else arr
        d = delays.get(seq)
        delay = None if d is None else (d[3] if d[3] is not None else d[2])
        skipped = bool(d and d[4])
        clock = f"{t // 3600 % 24:02d}:{t % 3600 // 60:02d}" if t is not None else "—"
        here = stop_id == vehicle.get("s")
        rows.append(html.Tr([html.Td(str(seq)), html.Td(stops.get(stop_id, {}).get("name") or stop_id, className="link-name"),
                             html.Td(clock), html.Td("skipped" if skipped else delay_text(delay)),
                             html.Td("◀ next" if here else "")],
                            className="row-warn" if here else ""))
    return head + [html.Table([html.Thead(html.Tr([html.Th(h) for h in ("#", "stop", "scheduled", "delay", "")])),
                               html.Tbody(rows)], className="table", id="transit-trip-table")]


def route_detail(route_info: dict, stops: dict, stats: dict, cfg: TransitConfig, theme: str,
                 trip: list | None, kpis: dict[str, dict] | None = None) -> list:
    as_of = html.Span(_as_of(kpis or {}), className="panel-age")
    charts = html.Div(className="transit-charts", children=[
        html.Div([html.H3(["Headway along the route, last 60 min (red: bunching there; amber: a gap)", as_of]),
                  dcc.Graph(id="transit-headway-chart", figure=headway_figure(route_info, stops, stats, theme),
                            config={"displayModeBar": False}, className="chart")], className="panel"),
        html.Div([html.H3(["Mean departure delay at each stop, last 60 min", as_of]),
                  dcc.Graph(id="transit-stop-delays", figure=stop_delay_figure(route_info, stops, stats, cfg, theme),
                            config={"displayModeBar": False}, className="chart")], className="panel"),
    ])
    out = [charts]
    if trip is not None:
        out.append(html.Div(trip, className="panel", id="transit-trip"))
    return out


# --- alerts -----------------------------------------------------------------------------------
def alerts_in_force(alerts: list[dict], at: float) -> list[dict]:
    """GTFS-RT ``Alert.active_period``: an alert is shown while one of its periods holds (a missing start
    or end is open); an alert without a period is shown as long as the feed carries it. A detour
    announced for next week is not in force today."""
    def active(a: dict) -> bool:
        periods = a.get("periods") or []
        return not periods or any((s is None or s <= at) and (e is None or at < e) for s, e in periods)
    return [a for a in alerts if active(a)]


def alerts_panel(alerts: list[dict], names: dict[str, str], now: float) -> list:
    if not alerts:
        return [html.H3("Service alerts"), html.P("No service alert in force.", className="muted")]
    items = []
    for a in alerts[:20]:
        routes = ", ".join(names.get(r, r) for r in a["routes"]) or "network"
        items.append(html.Li([
            html.Span(a["effect"].replace("_", " ").lower(), className="alert-effect"),
            html.Strong(a["header"] or a["id"]), html.Span(f" — routes {routes}; {format_age(now - a['t'])}",
                                                           className="muted"),
            html.Div(a["description"], className="alert-text") if a["description"] else None,
        ], className="alert-item"))
    return [html.H3(f"Service alerts ({len(alerts)})"), html.Ul(items, className="alert-list", id="transit-alert-list")]


def now() -> float:
    return time.time()
