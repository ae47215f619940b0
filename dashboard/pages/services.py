"""Services "/services": where citizens wait and why, and the 311 backlog.

KPI cards; the centre map coloured by wait (districts shaded by their wait, centres sized by people
waiting); the centre table worst first; a heat grid of wait by hour x centre for today beside the
same weekday last week; the open-request backlog by type. ``/services?centre=C1`` drills down to a
centre's queues, counters and today's wait curve; ``/services?type=Pothole`` puts that type's open
requests on the map. The URL carries the state, so a view can be shared.
"""
from __future__ import annotations

from dash import dcc, html

from dashboard.components import format_age, format_value, kpi_card, status_badge
from dashboard.maps import EMPTY_FIGURE, base_layout, district_layer, district_values, map_graph
from feeds.config import City
from feeds.kpi.status import judge
from feeds.service_centres import services_config

SERVICES_KPIS = ("services.people_waiting", "services.wait_min", "services.served_within_target_pct",
                 "services.open_counters", "services.requests_open", "services.requests_on_time_pct",
                 "services.case_close_median_h")
WAIT_SCALE = [[0, "#1a9850"], [0.4, "#91cf60"], [0.6, "#fee08b"], [0.8, "#fc8d59"], [1, "#d73027"]]
STATUS_HEX = {"ok": "#22c55e", "warn": "#f59e0b", "breach": "#ef4444", "no_data": "#7c8799", "stale": "#94a3b8",
              "closed": "#475569"}
FONT = {"dark": "#e8edf5", "light": "#0f172a"}
GRID = {"dark": "#2a3954", "light": "#d5dce6"}
HOURS = list(range(7, 20))  # the heat grid's columns: 07:00 .. 19:00 local


def page(store, query: dict) -> html.Div:
    """The page at /services (see feeds.plugins); ``query`` is the URL's query string as a dict."""
    centre = query.get("centre") or None
    rtype = query.get("type") or None
    if centre is not None and len(centre) > 100:
        centre = None
    if rtype is not None and len(rtype) > 200:
        rtype = None
    return layout(store.city, centre, rtype)


def layout(city: City, centre: str | None, rtype: str | None) -> html.Div:
    if centre:
        conf = services_config(city).centres.get(centre)
        name = (conf.name or conf.id) if conf else centre
        heading = [html.H1(["Services — ", html.Span(name, id="services-centre-name")]),
                   dcc.Link("← all centres", href="/services", className="back-link", id="services-back")]
    else:
        heading = [html.H1("Services — where citizens wait"),
                   html.Span("Click a centre on the map or in the table to drill down; click a request type to map it.",
                             className="muted")]
    if rtype:
        heading.append(html.Span([f"Open requests shown: {rtype} ",
                                  dcc.Link("(clear)", href="/services" + (f"?centre={centre}" if centre else ""),
                                           id="services-type-clear")], className="services-type-chip",
                                 id="services-type-chip"))
    return html.Div(className="services-page", children=[
        dcc.Store(id="services-focus", data={"centre": centre, "type": rtype}),
        dcc.Store(id="services-version"),
        html.Div(heading, className="page-head"),
        html.Div(id="services-cards", className="cards"),
        html.Div(className="services-body", children=[
            html.Div([html.Div(id="services-map-head", className="panel-head"),
                      map_graph("services-map")],
                     className="panel map-panel"),
            html.Div(id="services-side", className="panel side-panel"),
        ]),
        html.Div(className="services-lower", children=[
            html.Div([html.Div(id="services-heat-head", className="panel-head"),
                      dcc.Graph(id="services-heat", className="services-heat", figure=EMPTY_FIGURE,
                                config={"displayModeBar": False})], className="panel"),
            html.Div([html.Div(id="services-backlog-head", className="panel-head"),
                      dcc.Graph(id="services-backlog", className="services-backlog", figure=EMPTY_FIGURE,
                                config={"displayModeBar": False})], className="panel"),
        ]),
    ])


# --- cards ---------------------------------------------------------------------------------
def centre_value(kid: str, row: dict | None) -> float | None:
    if not row:
        return None
    if kid == "services.people_waiting":
        return row["waiting"]
    if kid == "services.wait_min":
        return row["wait_min"]
    if kid == "services.served_within_target_pct":
        return row["served_within_target_pct"]
    if kid == "services.open_counters":
        return 100.0 * row["open_counters"] / row["scheduled_counters"] if row.get("scheduled_counters") \
            and row.get("open_counters") is not None else None
    return None


def cards(kpis: dict[str, dict], histories: dict[str, list[float]], centre_row: dict | None) -> list:
    out = []
    for kid in SERVICES_KPIS:
        k = kpis[kid]
        if centre_row is not None and not kid.startswith("services.request") and kid != "services.case_close_median_h":
            v = centre_value(kid, centre_row)
            status = judge(v, k["direction"], k["target"], k["warn"])
            if k["status"] == "stale" and v is not None:
                status = "stale"
            out.append(kpi_card(k, None, value=v, status=status))
        else:
            out.append(kpi_card(k, histories.get(kid)))
    return out


# --- map -----------------------------------------------------------------------------------
def wait_status(wait: float | None, kpis: dict[str, dict]) -> str:
    k = kpis["services.wait_min"]
    return judge(wait, "lower", k["target"], k["warn"])


def centre_status(c: dict, kpis: dict[str, dict]) -> str:
    """A centre's word: closed (outside its hours), no_data (its queue system sends nothing), stale
    (the domain's data is old), else its wait band ok / warn / breach."""
    if c.get("hours") and not c.get("open_now", True):
        return "closed"  # by its schedule: a queue system off outside the hours is no news
    if not c["reporting"]:
        return "no_data"
    if not c.get("open_now", True):
        return "closed"
    if kpis["services.wait_min"]["status"] == "stale":
        return "stale"
    return wait_status(c["wait_min"], kpis)


def centre_badge(status: str) -> html.Span:
    if status == "closed":
        return html.Span("CLOSED", className="badge badge-closed", title="outside opening hours")
    if status == "no_data":
        return html.Span("NO DATA", className="badge badge-no_data", title="no queue data: system down")
    return status_badge(status)


CENTRES, REQUESTS = 1, 2


def centre_trace() -> dict:
    """The empty centres trace (map_data fills it at CENTRES); the integrated city map uses it too."""
    return {"type": "scattermap", "mode": "markers", "name": "service centres (colour = wait)", "lon": [], "lat": [],
            "text": [], "customdata": [], "marker": {"size": [], "color": [], "opacity": 0.95},
            "hovertemplate": "%{text}<br>click to drill down<extra></extra>"}


def map_skeleton(city: City, theme: str, tile_url: str | None, kpis: dict[str, dict], focus_point=None) -> dict:
    warn = kpis["services.wait_min"]["warn"] or 30
    center = focus_point
    return {
        "data": [
            district_layer(city, {}, "mean wait (min)", theme, WAIT_SCALE, 0.0, warn * 1.5),
            centre_trace(),
            {"type": "scattermap", "mode": "markers", "name": "open requests", "lon": [], "lat": [], "text": [],
             "marker": {"size": 9, "color": "#a78bfa", "opacity": 0.85}, "hovertemplate": "%{text}<extra></extra>"},
        ],
        "layout": base_layout(city, theme, tile_url, center, city.zoom + (1.2 if center else 0.4),
                              uirevision=f"services-{center}"),
    }


def map_data(city: City, kpis: dict[str, dict], centres: list[dict], requests: list[dict]) -> dict[int, dict]:
    wait_by_district = {d: v["value"] for d, v in kpis["services.wait_min"]["by_district"].items()}
    out = {0: district_values(city, wait_by_district, "mean wait (min)", 0.0)}
    shown = [c for c in centres if c["lon"] is not None and c["lat"] is not None]
    text, size, colour = [], [], []
    for c in shown:
        status = centre_status(c, kpis)
        colour.append(STATUS_HEX[status])
        size.append(16 + min(34, (c["waiting"] or 0) * 0.8))
        if status == "closed":
            text.append(f"{c['name']}: closed" + (f" (hours {c['hours']})" if c.get("hours") else ""))
        elif c["reporting"]:
            text.append(f"{c['name']}: {format_value(c['wait_min'], 0)} min wait, {c['waiting']} waiting, "
                        f"{c['open_counters']}/{c['scheduled_counters'] if c['scheduled_counters'] is not None else '?'}"
                        f" counters ({status.upper()})")
        else:
            text.append(f"{c['name']}: no queue data now (queue system down)")
    out[CENTRES] = {"lon": [c["lon"] for c in shown], "lat": [c["lat"] for c in shown], "text": text,
                    "customdata": [c["id"] for c in shown], "marker.size": size, "marker.color": colour}
    located = [r for r in requests if r.get("lon") is not None]
    out[REQUESTS] = {"lon": [r["lon"] for r in located], "lat": [r["lat"] for r in located],
                     "text": [f"{r['type']} #{r['id']}<br>{r.get('address') or ''}" for r in located]}
    return out


# --- side panel ------------------------------------------------------------------------------
def closed_note(centres: list[dict]) -> list:
    """When every centre with hours is closed now (night, Sunday): say so, and when the next opens."""
    scheduled = [c for c in centres if c.get("hours")]
    if not scheduled or any(c.get("open_now") for c in scheduled):
        return []
    upcoming = sorted((c for c in scheduled if c.get("next_opens")), key=lambda c: c["next_opens"])
    text = "All centres are closed now"
    if upcoming:
        first = upcoming[0]
        at = first["next_opens"]
        text += f" · next to open: {first['name']}, {at.strftime('%a')} {at.strftime('%H:%M')}"
    return [html.P(text, className="services-closed-note", id="services-closed-note")]


def centre_table(centres: list[dict], kpis: dict[str, dict]) -> list:
    def worst_key(c):
        return (c["reporting"] and c.get("open_now", True), c["wait_min"] or 0, c["waiting"] or 0)
    rows = []
    for c in sorted(centres, key=worst_key, reverse=True):
        status = centre_status(c, kpis)
        counters = (f"{c['open_counters']}/{c['scheduled_counters']}" if c["scheduled_counters"] is not None
                    else format_value(c["open_counters"]))
        rows.append(html.Tr([
            html.Td(dcc.Link(c["name"], href=f"/services?centre={c['id']}", id=f"services-centre-link-{c['id']}"),
                    className="link-name"),
            html.Td(format_value(c["waiting"])), html.Td(format_value(c["wait_min"], 0)), html.Td(counters),
            html.Td(format_value(c["served_within_target_pct"], 0)),
            html.Td(centre_badge(status)),
        ], className=f"row-{status}"))
    return [html.H3("Centres, longest wait first"), *closed_note(centres),
            html.Table([html.Thead(html.Tr([html.Th(h) for h in ("centre", "waiting", "wait min", "counters",
                                                                  "served ≤ target %", "")])),
                        html.Tbody(rows)], className="table", id="services-centre-table")]


def centre_detail(centre: dict | None, queues: list, curve_figure: dict, kpis: dict[str, dict]) -> list:
    if centre is None:
        return [html.P("Unknown centre.", className="muted", id="services-unknown-centre")]
    status = centre_status(centre, kpis)
    counters = (f"{centre['open_counters']} of {centre['scheduled_counters']} scheduled"
                if centre["scheduled_counters"] is not None else f"{format_value(centre['open_counters'])} (no schedule)")
    summary = html.Div(className="centre-summary", children=[
        html.Div([html.Span(format_value(centre["waiting"]), className="big"), html.Span(" waiting")]),
        html.Div([html.Span(format_value(centre["wait_min"], 0), className="big"), html.Span(" min wait "),
                  centre_badge(status)]),
        html.Div([html.Span("Counters open: "), html.B(counters, id="services-centre-counters")]),
        html.Div(html.Span(f"Hours {centre['hours']}" if centre["hours"] else "", className="muted")),
    ])
    qrows = [html.Tr([html.Td(q.name, className="link-name"), html.Td(str(q.waiting)),
                      html.Td(format_value(q.wait, 0)), html.Td(format_value(q.counters)),
                      html.Td(q.serving or "—"), html.Td(q.status.upper())],
                     className="row-breach" if q.wait is not None and q.wait > (kpis["services.wait_min"]["warn"] or 30)
                     else "") for q in queues]
    parts = [summary, html.H3("Queues"),
             html.Table([html.Thead(html.Tr([html.Th(h) for h in ("queue", "waiting", "wait min", "counters",
                                                                  "serving", "")])),
                         html.Tbody(qrows)], className="table", id="services-queue-table")]
    if not queues:
        parts.append(html.P("No queue data from this centre now.", className="muted"))
    parts += [html.H3("Wait today"), dcc.Graph(id="services-curve", figure=curve_figure,
                                               config={"displayModeBar": False}, className="services-curve")]
    return parts


def curve_figure(curve: dict, kpis: dict[str, dict], theme: str) -> dict:
    from feeds.adapters.service_queues import SLOT_MIN

    def xy(slots):
        xs = sorted(slots)
        return [f"{s * SLOT_MIN // 60:02d}:{s * SLOT_MIN % 60:02d}" for s in xs], [round(slots[s], 1) for s in xs]
    tx, ty = xy(curve["today"])
    lx, ly = xy(curve["last_week"])
    target = kpis["services.wait_min"]["target"]
    data = [{"type": "scatter", "mode": "lines", "name": "same weekday last week", "x": lx, "y": ly,
             "line": {"color": "#94a3b8", "dash": "dot", "width": 2}},
            {"type": "scatter", "mode": "lines+markers", "name": "today", "x": tx, "y": ty,
             "line": {"color": "#5eb3ff", "width": 3}}]
    layout = _chart_layout(theme, height=230)
    layout["xaxis"].update({"type": "category", "categoryorder": "category ascending"})
    layout["yaxis"]["title"] = {"text": "min"}
    if target is not None:
        layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": target, "y1": target,
                             "line": {"color": "#f59e0b", "dash": "dash", "width": 2}}]
    return {"data": data, "layout": layout}


# --- heat grid and backlog -------------------------------------------------------------------
def _chart_layout(theme: str, height: int) -> dict:
    font = FONT.get(theme, FONT["dark"])
    grid = GRID.get(theme, GRID["dark"])
    return {"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "height": height,
            "margin": {"l": 10, "r": 10, "t": 30, "b": 30}, "font": {"color": font, "size": 14},
            "xaxis": {"gridcolor": grid, "automargin": True}, "yaxis": {"gridcolor": grid, "automargin": True},
            "legend": {"orientation": "h", "y": 1.15}}


HEAT_ROWS = 15  # a wall reads 15 rows; with more centres the grid shows those that waited longest today


def heat_rows(grid: dict, centres: list[dict], limit: int = HEAT_ROWS) -> tuple[list[str], int]:
    """The centres the grid shows (in the table's order unless there are too many) and how many have data."""
    ids = [c["id"] for c in centres if c["id"] in grid["today"] or c["id"] in grid["last_week"]] or \
        [c["id"] for c in centres]
    if len(ids) <= limit:
        return ids, len(ids)

    def worst(cid):
        today = grid["today"].get(cid) or {}
        last = grid["last_week"].get(cid) or {}
        return max(today.values(), default=-1.0), max(last.values(), default=-1.0)
    keep = set(sorted(ids, key=worst, reverse=True)[:limit])
    return [c for c in ids if c in keep], len(ids)


def heat_figure(grid: dict, centres: list[dict], kpis: dict[str, dict], theme: str) -> dict:
    names = {c["id"]: c["name"] for c in centres}
    ids, _ = heat_rows(grid, centres)
    warn = kpis["services.wait_min"]["warn"] or 30
    x = [f"{h:02d}" for h in HOURS]
    y = [names.get(c, c) for c in ids]

    def z(which):
        return [[(round(grid[which][c][h], 1) if h in grid[which].get(c, {}) else None) for h in HOURS] for c in ids]
    days = grid.get("days") or ("today", "last week")
    common = {"type": "heatmap", "x": x, "y": y, "zmin": 0, "zmax": warn * 1.5, "colorscale": WAIT_SCALE,
              "xgap": 2, "ygap": 2, "hoverongaps": False}
    data = [{**common, "z": z("today"), "name": "today", "showscale": False, "xaxis": "x", "yaxis": "y",
             "hovertemplate": f"{days[0]} %{{x}}:00 %{{y}}: %{{z}} min<extra></extra>"},
            {**common, "z": z("last_week"), "name": "last week", "showscale": True, "xaxis": "x2", "yaxis": "y",
             "colorbar": {"title": {"text": "min"}, "thickness": 12},
             "hovertemplate": f"{days[1]} %{{x}}:00 %{{y}}: %{{z}} min<extra></extra>"}]
    layout = _chart_layout(theme, height=max(220, 60 + 34 * len(y)))
    layout["xaxis"] = {"domain": [0, 0.47], "title": {"text": f"today ({days[0]}), hour"}, "automargin": True,
                       "showgrid": False, "type": "category", "categoryorder": "array", "categoryarray": x}
    layout["xaxis2"] = {"domain": [0.51, 0.98], "title": {"text": f"same weekday last week ({days[1]})"},
                        "automargin": True, "showgrid": False, "type": "category", "categoryorder": "array",
                        "categoryarray": x}
    layout["yaxis"] = {"automargin": True, "autorange": "reversed", "showgrid": False}
    return {"data": data, "layout": layout}


def backlog_figure(kpis: dict[str, dict], theme: str, selected: str | None) -> dict:
    by_type = kpis["services.requests_open"]["detail"].get("by_type", {})
    items = sorted(by_type.items(), key=lambda kv: kv[1])[-15:]
    labels = [k if k is not None else "unknown" for k, _ in items]
    colours = ["#f59e0b" if k == selected else "#5eb3ff" for k in labels]
    data = [{"type": "bar", "orientation": "h", "x": [v for _, v in items], "y": labels, "customdata": labels,
             "marker": {"color": colours}, "text": [str(v) for _, v in items], "textposition": "auto",
             "hovertemplate": "%{y}: %{x} open<br>click to map them<extra></extra>", "name": "open requests"}]
    layout = _chart_layout(theme, height=max(220, 60 + 30 * len(items)))
    layout["xaxis"]["title"] = {"text": "open requests"}
    layout["showlegend"] = False
    layout["clickmode"] = "event"
    return {"data": data, "layout": layout}


def services_signature(kpis: dict[str, dict]) -> str:
    """What the page's figures depend on: the queue data's and the requests' as-of times. New data in
    another domain (the global KPI version) does not re-send this page's figures."""
    return f"{kpis['services.people_waiting']['as_of']}|{kpis['services.requests_open']['as_of']}"


def panel_head(title: str, age_s: float | None, note: str = "", legend: list | None = None) -> list:
    return [html.H3(title), html.Span(("as of " + format_age(age_s)) if age_s is not None else "no data yet",
                                      className="panel-age"), html.Span(note, className="muted"), *(legend or [])]


def wait_legend(kpis: dict[str, dict]) -> list:
    k = kpis["services.wait_min"]
    items = [("ok", f"≤ {k['target']:g} min OK"), ("warn", f"≤ {k['warn']:g} min WARN"),
             ("breach", f"> {k['warn']:g} min BREACH"), ("closed", "closed"), ("no_data", "no queue data")]
    return [html.Span([html.Span("●", style={"color": STATUS_HEX[s]}), " " + label], className="legend-item")
            for s, label in items]
