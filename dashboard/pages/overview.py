"""Overview "/": the city score and what drags it, every domain's KPIs, and feed health."""
from __future__ import annotations

from dash import dcc, html

from dashboard.components import format_age, format_value, kpi_card, status_badge
from feeds.kpi.catalogue import CATALOGUE, DOMAIN_ORDER

DOMAIN_TITLE = {"traffic": "Traffic", "transit": "Buses", "environment": "Environment",
                "emergency": "Emergency", "services": "Services"}
DOMAIN_PATH = {"traffic": "/traffic", "transit": "/transit", "environment": "/environment",
               "emergency": "/emergency", "services": "/services"}


def page(store, query: dict) -> html.Div:
    return layout()


def layout() -> html.Div:
    return html.Div([html.Div(id="overview-body", className="overview")])


def render(kpis: list[dict], histories: dict[str, list[float]], feeds: list[dict]) -> list:
    by_id = {k["id"]: k for k in kpis}
    score = by_id["city.score"]
    fed_domains = {f["domain"] for f in feeds}
    breakdown = score["detail"].get("breakdown", [])
    drags = [html.Li([html.Span(CATALOGUE[t["id"]].name, className="drag-name"),
                      html.Span(f"{t['score']:.2f}", className="drag-score"), status_badge(t["status"])],
                     className="drag-row") for t in breakdown[:5]]
    top = html.Section(className="score-row", children=[
        kpi_card(score, histories.get("city.score")),
        html.Div(className="panel drags", children=[
            html.H3("What drags the score down"),
            html.Ul(drags, className="drag-list") if drags else html.P("No KPI with a target has data yet.",
                                                                         className="muted")]),
    ])
    sections = []
    for domain in DOMAIN_ORDER:
        title = dcc.Link(DOMAIN_TITLE[domain], href=DOMAIN_PATH[domain], className="section-link")
        if domain not in fed_domains:
            sections.append(html.Section(className="domain-section empty", children=[
                html.H2(title), html.P("No feed configured yet.", className="muted")]))
            continue
        cards = [kpi_card(k, histories.get(k["id"]), href=DOMAIN_PATH[domain]) for k in kpis if k["domain"] == domain]
        sections.append(html.Section(className="domain-section", children=[
            html.H2(title), html.Div(cards, className="cards")]))
    return [top, *sections, feed_table(feeds)]


def feed_table(feeds: list[dict]) -> html.Section:
    rows = [html.Tr([html.Td(f["name"]), html.Td(status_badge({"ok": "ok", "stale": "stale", "error": "breach",
                                                                 "never": "no_data"}[f["status"]])),
                     html.Td(format_age(f["age_s"]) if f.get("age_s") is not None else "never"),
                     html.Td(format_value(f["records"])), html.Td(format_value(f["rejected"])),
                     html.Td(format_value(f["lag_s"], 0) + " s" if f["lag_s"] is not None else "—"),
                     html.Td(f["last_error"] or "", className="muted")]) for f in feeds]
    return html.Section(className="panel feeds-panel", children=[
        html.H3("Feeds"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in
                                        ("feed", "status", "last success", "records", "rejected", "lag", "last error")])),
                    html.Tbody(rows)], className="table", id="feeds-table"),
    ])
