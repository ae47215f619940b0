"""Reusable pieces: KPI card, status badge, sparkline, tables. Pure functions, no Redis."""
from __future__ import annotations

from urllib.parse import quote

from dash import dcc, html

STATUS_LABEL = {"info": "INFO", "ok": "OK", "warn": "WARN", "breach": "BREACH", "stale": "STALE", "no_data": "NO DATA"}
STATUS_COLOUR = {"info": "#60a5fa", "ok": "#22c55e", "warn": "#f59e0b", "breach": "#ef4444", "stale": "#94a3b8", "no_data": "#64748b"}


def dom_id(kpi_id: str) -> str:
    return "kpi-" + kpi_id.replace(".", "-").replace("_", "-")


def format_value(value: float | None, decimals: int = 0) -> str:
    return "—" if value is None else f"{value:,.{decimals}f}"


def asof_attr(as_of: str | None) -> dict:
    """The ``data-asof`` attribute (ISO time) of an element whose text is an age ("12 s ago"): the wall
    counts the age from it (assets/wall.js), so an age drawn a few seconds before it reached the screen
    (a part computed once for every screen) is right as soon as it lands."""
    return {"data-asof": as_of} if as_of else {}


def newest(kpis) -> dict | None:
    """The KPI of ``kpis`` whose figure is the newest (the smallest age); None when none has one."""
    known = [k for k in kpis if k.get("age_s") is not None]
    return min(known, key=lambda k: k["age_s"]) if known else None


def format_age(age_s: float | None) -> str:
    if age_s is None:
        return "no data yet"
    if age_s < 0:
        age_s = 0
    if age_s < 90:
        return f"{age_s:.0f} s ago"
    if age_s < 5400:
        return f"{age_s / 60:.0f} min ago"
    if age_s < 2 * 86400:
        return f"{age_s / 3600:.1f} h ago"
    return f"{age_s / 86400:.0f} days ago"


def target_text(kpi: dict) -> str:
    if kpi["direction"] == "none" or kpi["target"] is None:
        return "informational"
    op = "≤" if kpi["direction"] == "lower" else "≥"
    return f"target {op} {format_value(kpi['target'], kpi['decimals'])}{(' ' + kpi['unit']) if kpi['unit'] else ''}"


def sparkline_svg(values: list[float], colour: str, width: int = 160, height: int = 36) -> str:
    """A trend line as a data: URI SVG: a few hundred bytes, no plotly figure to build or ship."""
    pts = [v for v in values if v is not None]
    if len(pts) < 2:
        return ""
    lo, hi = min(pts), max(pts)
    span = (hi - lo) or 1.0
    step = width / (len(pts) - 1)
    coords = " ".join(f"{i * step:.1f},{height - 3 - (v - lo) / span * (height - 6):.1f}" for i, v in enumerate(pts))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
           f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" stroke-linejoin="round" points="{coords}"/></svg>')
    return "data:image/svg+xml;utf8," + quote(svg)


def district_heading(domain: str, title: str, district: str, name: str) -> list:
    """A domain page's heading for its district drill-down: the title, back to the whole city, and on to
    everything in the district (``/district/<id>``)."""
    return [html.H1([f"{title} — ", html.Span(name, id=f"{domain}-district-name")]),
            dcc.Link("← whole city", href=f"/{domain}", className="back-link", id=f"{domain}-back"),
            dcc.Link(f"All of {name} →", href=f"/district/{district}", className="back-link",
                     id=f"{domain}-district-all")]


def status_badge(status: str) -> html.Span:
    return html.Span(STATUS_LABEL.get(status, status.upper()), className=f"badge badge-{status}")


def kpi_card(kpi: dict, history: list[float] | None = None, value: float | None = None,
             status: str | None = None, href: str | None = None, trend: bool = True) -> html.Div:
    """One KPI: name, big value, unit, target, status colour and word, trend, as-of age.

    ``value``/``status`` override the citywide figure (a district's card). ``trend``: a "trend →" link
    to the KPI's trend page /kpi/<id>. A card with ``href`` is a link to that page (the overview's cards
    open their domain) and its trend link sits beside it in a wrapper, not inside (no link in a link)."""
    value = kpi["value"] if value is None and status is None else value
    status = status or kpi["status"]
    if status == "ok" and kpi.get("direction") == "none":
        status = "info"  # no target: a green OK would claim a judgement nobody made (stale, no data still show)
    spark = sparkline_svg(history or [], STATUS_COLOUR.get(status, "#94a3b8"))
    title = kpi["definition"] + (f" — clock: {kpi['clock']}" if kpi.get("clock") else "") + (
        f" — standard: {kpi['standard']}" if kpi.get("standard") else "")
    body = [
        html.Div([html.Span(kpi["name"], className="kpi-name"), status_badge(status)], className="kpi-head"),
        html.Div([html.Span(format_value(value, kpi["decimals"]), className="kpi-value"),
                  html.Span(kpi["unit"], className="kpi-unit")], className="kpi-figure"),
        html.Div(target_text(kpi), className="kpi-target"),
        html.Img(src=spark, className="kpi-spark", alt="") if spark else html.Div(className="kpi-spark"),
        html.Div(("as of " + format_age(kpi["age_s"])) if kpi["age_s"] is not None else "no data yet",
                 className="kpi-age", **asof_attr(kpi.get("as_of"))),
    ]
    link = dcc.Link("trend →", href=f"/kpi/{kpi['id']}", className="kpi-trend",
                    id=dom_id(kpi["id"]) + "-trend", title=f"{kpi['name']}: history, districts, notes, CSV")
    if trend and not href:
        body.append(link)
    card = html.Div(body, id=dom_id(kpi["id"]), className=f"kpi-card status-{status}", title=title)
    if not href:
        return card
    linked = dcc.Link(card, href=href, className="kpi-link")
    return html.Div([linked, link], className="kpi-link-wrap") if trend else linked
