"""A KPI's trend page "/kpi/<id>": the department head's view of one indicator.

Its card, what it measures (definition, standard, window, where the clock starts and stops), its
history against the target line and the warn band, the notes of the city timeline as markers on the
chart (and, on the emergency KPIs, every incident's notes), its value per district with the districts
that miss flagged, and CSV downloads of the history and of the district table.

The URL carries the state: ``/kpi/transit.on_time_pct?range=week``. Ranges: ``day`` (default),
``week`` and ``all`` (the 8 days the history keeps; a month is not kept, see dashboard.reads.kpi).
"""
from __future__ import annotations

import html as html_text
from datetime import datetime

from dash import dcc, html

from dashboard.components import STATUS_COLOUR, format_value, status_badge, target_text
from dashboard.pages.overview import DOMAIN_PATH, DOMAIN_TITLE
from dashboard.pages.timeline import can_annotate, note_box
from dashboard.reads.kpi import DEFAULT_RANGE, RANGE_LABEL, RANGES, parse_range
from feeds.kpi.catalogue import CATALOGUE, KpiDef
from feeds.timeparse import zone

THEME_TEXT = {"dark": "#e8edf5", "light": "#0f172a"}
THEME_GRID = {"dark": "#26324a", "light": "#d5dce6"}
NOTE_COLOUR = {"timeline": "#60a5fa", "incident": "#f472b6"}
TARGET_COLOUR = "#22c55e"
WARN_FILL = "rgba(245, 158, 11, 0.14)"


def page(store, query: dict) -> html.Div:
    kpi_id = (query.get("id") or "").strip()
    kdef = CATALOGUE.get(kpi_id)
    if kdef is None:
        return unknown(kpi_id)
    range_name = parse_range(query.get("range"))
    note = None
    if range_name is None:
        note = (f"No range {query.get('range')!r}: the history keeps one point a minute for 8 days, so "
                f"a day, a week or all of it. Showing the {RANGE_LABEL[DEFAULT_RANGE]}.")
        range_name = DEFAULT_RANGE
    return layout(kdef, range_name, can_annotate(), note)


def unknown(kpi_id: str) -> html.Div:
    known = sorted(CATALOGUE)
    return html.Div(className="kpi-page kpi-unknown", id="kpi-unknown", children=[
        html.H1("Unknown KPI"),
        html.P(f"There is no KPI {kpi_id!r}." if kpi_id else "Which KPI? The address is /kpi/<id>."),
        html.P("Known KPIs:", className="muted"),
        html.Ul([html.Li(dcc.Link(f"{CATALOGUE[k].name} ({k})", href=f"/kpi/{k}")) for k in known]),
    ])


def back_path(kdef: KpiDef) -> tuple[str, str]:
    if kdef.domain in DOMAIN_PATH:
        return DOMAIN_PATH[kdef.domain], DOMAIN_TITLE[kdef.domain]
    return "/", "Overview"


def layout(kdef: KpiDef, range_name: str, annotate: bool, range_note: str | None = None) -> html.Div:
    back_href, back_label = back_path(kdef)
    ranges = [dcc.Link(RANGE_LABEL[r], href=f"/kpi/{kdef.id}?range={r}", id=f"kpi-range-{r}",
                       className="range-link active" if r == range_name else "range-link") for r in RANGES]
    facts = [("definition", kdef.definition), ("standard", kdef.standard or "—"), ("window", kdef.window),
             ("clock", kdef.clock.replace("->", "→") if kdef.clock else "—")]
    csv = f"/api/v1/kpis/{kdef.id}/history.csv?range={range_name}"
    return html.Div(className="kpi-page", children=[
        dcc.Store(id="kpi-focus", data={"id": kdef.id, "range": range_name}),
        dcc.Store(id="kpi-shown"),
        dcc.Store(id="kpi-note-saved"),
        html.Div([html.H1([html.Span(kdef.name, id="kpi-page-name"), html.Span(f" {kdef.id}", className="muted kpi-id")]),
                  dcc.Link(f"← {back_label}", href=back_href, className="back-link", id="kpi-back"),
                  html.Div(id="kpi-asof", className="kpi-age")], className="page-head"),
        html.Div(className="kpi-top", children=[
            html.Div(id="kpi-card-slot", className="kpi-card-slot"),
            html.Div(className="panel kpi-facts", id="kpi-facts", children=[
                html.Div([html.Span(k, className="fact-k"), html.Span(v, className="fact-v")], className="fact")
                for k, v in facts] + [html.Div(id="kpi-target-fact", className="fact")]),
        ]),
        html.Div(className="panel trend-panel", children=[
            html.Div(className="trend-head", children=[
                html.Div([html.Span("Range: ", className="muted"), *ranges], className="range-links"),
                html.Div([html.A("Download CSV", href=csv, id="kpi-csv", className="button", download=""),
                          html.A("Districts CSV", href=f"/api/v1/kpis/{kdef.id}/districts.csv", id="kpi-districts-csv",
                                 className="button", download="")], className="downloads"),
            ]),
            html.Div(range_note, className="flag-note", id="kpi-range-note") if range_note else None,
            dcc.Graph(id="kpi-trend", figure=empty_figure("dark"), config={"displaylogo": False,
                                                                           "modeBarButtonsToRemove": ["toImage"]},
                      className="trend-graph"),
        ]),
        note_box("kpi", "Add a note to the timeline") if annotate else html.Div(),
        html.Div(className="kpi-lower", children=[
            html.Div(id="kpi-districts", className="panel"),
            html.Div(id="kpi-notes", className="panel notes-panel"),
        ]),
    ])


def empty_figure(theme: str) -> dict:
    return {"data": [], "layout": base_layout(theme, "", "UTC")}


def base_layout(theme: str, unit: str, tz: str) -> dict:
    text, grid = THEME_TEXT.get(theme, THEME_TEXT["dark"]), THEME_GRID.get(theme, THEME_GRID["dark"])
    return {
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": text, "size": 14}, "margin": {"l": 60, "r": 20, "t": 20, "b": 50},
        "xaxis": {"type": "date", "title": {"text": f"city time ({tz})"}, "gridcolor": grid},
        "yaxis": {"title": {"text": unit}, "gridcolor": grid, "zeroline": False},
        # Notes sit on a second axis fixed to 0..1, so their markers stay at the top whatever the values.
        "yaxis2": {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True},
        "showlegend": False, "hovermode": "closest", "uirevision": "kpi",
    }


def local(t: float, tz: str) -> str:
    return datetime.fromtimestamp(t, zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


CHART_BUCKETS = 1000  # a week of minute points is thinned to at most 2 x this for the chart (the CSV has all)


def thin(points: list[dict], buckets: int = CHART_BUCKETS) -> list[dict]:
    """At most 2 points per time bucket: the lowest and the highest, in time order, so a spike is never
    thinned away. Fewer points than 2 x buckets are drawn as they are."""
    if len(points) <= 2 * buckets:
        return points
    t0, t1 = points[0]["t"], points[-1]["t"]
    width = (t1 - t0) / buckets or 1
    groups: dict[int, list[dict]] = {}
    for p in points:
        groups.setdefault(min(int((p["t"] - t0) / width), buckets - 1), []).append(p)
    out = []
    for _, group in sorted(groups.items()):
        lo = min(group, key=lambda p: p["v"])
        hi = max(group, key=lambda p: p["v"])
        out.extend(sorted({id(lo): lo, id(hi): hi}.values(), key=lambda p: p["t"]))
    return out


def trend_figure(kpi: dict, points: list[dict], notes: list[dict], tz: str, theme: str,
                 span: tuple[float, float] | None = None) -> dict:
    """History line, target line, warn band, and a marker per note (plain dict, no go.Figure).
    ``span``: the range's (start, end) epoch, so "last 24 h" shows 24 h even while the history is young."""
    layout = base_layout(theme, kpi["unit"], tz)
    points = thin(points)
    if span is not None:
        layout["xaxis"]["range"] = [local(span[0], tz), local(span[1], tz)]
    fmt = f".{kpi['decimals']}f"
    colour = STATUS_COLOUR.get("info" if kpi["direction"] == "none" else "ok")
    data = [{"type": "scatter", "mode": "lines+markers" if len(points) < 60 else "lines", "name": kpi["name"],
             "x": [local(p["t"], tz) for p in points], "y": [p["v"] for p in points],
             "customdata": [p["s"].upper() for p in points],
             "line": {"color": "#93c5fd" if theme != "light" else "#1d4ed8", "width": 2},
             **({"marker": {"size": 5, "color": [STATUS_COLOUR.get(p["s"], colour) for p in points]}}
                if len(points) < 60 else {}),
             "hovertemplate": f"%{{x}}<br>%{{y:{fmt}}} {kpi['unit']} %{{customdata}}<extra></extra>"}]
    shapes, annotations = [], []
    target, warn = kpi.get("target"), kpi.get("warn")
    if kpi["direction"] != "none" and target is not None:
        if warn is not None and warn != target:
            shapes.append({"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                           "y0": min(target, warn), "y1": max(target, warn), "fillcolor": WARN_FILL,
                           "line": {"width": 0}, "layer": "below"})
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": target, "y1": target,
                       "line": {"color": TARGET_COLOUR, "width": 2, "dash": "dash"}})
        annotations.append({"xref": "paper", "x": 1, "xanchor": "right", "yref": "y", "y": target, "yanchor": "bottom",
                            "text": target_text(kpi) + (f", warn to {format_value(warn, kpi['decimals'])}"
                                                        if warn is not None and warn != target else ""),
                            "showarrow": False, "font": {"color": TARGET_COLOUR, "size": 12}})
        values = [p["v"] for p in points if p["v"] is not None] + [target] + ([warn] if warn is not None else [])
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1
        layout["yaxis"]["range"] = [lo - pad, hi + pad]  # the target and the band always in view
    if notes:
        xs = [local(n["at"], tz) for n in notes]
        kinds = ["incident" if n["target"].startswith("incident:") else "timeline" for n in notes]
        for x, kind in zip(xs, kinds):
            shapes.append({"type": "line", "xref": "x", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
                           "line": {"color": NOTE_COLOUR[kind], "width": 1.5, "dash": "dot"}})
        data.append({"type": "scatter", "mode": "markers", "name": "notes", "yaxis": "y2",
                     "x": xs, "y": [0.97] * len(notes), "customdata": [n["id"] for n in notes],
                     "marker": {"symbol": "triangle-down", "size": 14, "color": [NOTE_COLOUR[k] for k in kinds]},
                     "hovertext": [note_hover(n, tz) for n in notes], "hoverinfo": "text"})
    layout["shapes"], layout["annotations"] = shapes, annotations
    return {"data": data, "layout": layout}


def note_hover(note: dict, tz: str) -> str:
    """Who, when, what: the note's text escaped (plotly reads a few HTML tags in hover text)."""
    target = note["target"]
    where = f"incident {target.partition(':')[2]}" if target.startswith("incident:") else "city timeline"
    text = html_text.escape(note["text"], quote=False)
    lines = [text[i:i + 60] for i in range(0, len(text), 60)][:6]
    return "<br>".join([f"<b>{where}</b>", *lines, f"{note['by']}, {local(note['at'], tz)[:16]}"])


def target_fact(kpi: dict) -> list:
    """The facts panel's target line (the city may override the catalogue's target)."""
    band = kpi.get("warn") is not None and kpi["direction"] != "none" and kpi["warn"] != kpi["target"]
    return [html.Span("target", className="fact-k"),
            html.Span(target_text(kpi) + (f" (warn band to {format_value(kpi['warn'], kpi['decimals'])})"
                                          if band else ""), className="fact-v")]


def districts_table(kpi: dict, rows: list[dict]) -> list:
    """Value and status per district, those that miss first; each links to its district page."""
    body = []
    for row in rows:
        body.append(html.Tr([
            html.Td(dcc.Link(row["name"], href=f"/district/{row['district']}", id=f"kpi-district-{row['district']}")),
            html.Td(format_value(row["value"], kpi["decimals"]) + (f" {kpi['unit']}" if kpi["unit"] and
                                                                    row["value"] is not None else "")),
            html.Td(status_badge(row["status"])),
            html.Td("MISSES TARGET" if row["misses"] else "", className="flag" if row["misses"] else ""),
        ], className=f"row-{row['status']}" + (" row-missed" if row["misses"] else "")))
    missing = sum(1 for r in rows if r["misses"])
    title = f"By district — {missing} miss{'es' if missing == 1 else ''} the target" if missing else "By district"
    return [html.H3(title), html.Table([html.Thead(html.Tr([html.Th(h) for h in ("district", "value", "status", "")])),
                                        html.Tbody(body)], className="table", id="kpi-district-table")]
