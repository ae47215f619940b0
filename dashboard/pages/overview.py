"""Overview "/": the city score and what drags it down, the districts by domain, the integrated city map,
every domain's KPI cards, and feed health.

The URL carries the view, so it can be shared (and the wall can point at an alert):
- ``/?layers=traffic,buses,air,incidents,services``: the map's layers (absent: all; ``none``: none);
- ``/?focus=lat,lon,zoom``: centre and zoom of the map (an invalid value is ignored).
Clicking a district (on the map or in the table) opens ``/district/<id>``.
Pure render functions: callbacks/overview.py reads the store and calls these.
"""
from __future__ import annotations

import hashlib

from dash import dcc, html

from dashboard import citymap
from dashboard.components import asof_attr, format_age, format_value, kpi_card, status_badge
from dashboard.maps import map_graph
from feeds.kpi.catalogue import CATALOGUE, DOMAIN_ORDER
from feeds.kpi.status import score_of

DOMAIN_TITLE = citymap.DOMAIN_TITLE
DOMAIN_PATH = {"traffic": "/traffic", "transit": "/transit", "environment": "/environment",
               "emergency": "/emergency", "services": "/services"}
SHORT_TITLE = {**DOMAIN_TITLE, "environment": "Environ.", "emergency": "Emerg."}  # narrow table columns
SEVERITY = citymap.SEVERITY


def page(store, query: dict) -> html.Div:
    """The page at / (see callbacks/shell.py); ``query`` is the URL's query string as a dict."""
    return layout(citymap.parse_layers(query.get("layers")), citymap.parse_focus(query.get("focus")))


def layout(layers: list[str] | None = None, focus: dict | None = None) -> html.Div:
    layers = list(citymap.LAYERS) if layers is None else layers
    return html.Div(className="overview", children=[
        dcc.Store(id="overview-view", data={"layers": layers, "focus": focus}),
        # What the page shows: {version: {domain: v}, view, table, map: {group: frame token},
        # parts: {tile: digest}, t: when its ages were sent}; None until painted
        dcc.Store(id="overview-version"),
        dcc.Store(id="overview-map-size"),  # [width, height] of the map in the browser (callbacks: measure_map)
        html.Div(id="overview-alerts", className="overview-alerts"),  # the active alerts (callbacks/alerts)
        dcc.Store(id="overview-alerts-shown"),  # which alert version (and ages) the panel shows
        html.Div(className="overview-top", children=[
            html.Div(className="overview-left", children=[
                html.Div(id="overview-score", className="score-row"),
                html.Div(id="overview-districts", className="panel overview-districts"),
            ]),
            html.Div(className="panel map-panel overview-map-panel", children=[
                citymap.layer_control("overview-layers", layers),
                html.Div(id="overview-map-ages", className="layer-ages"),
                map_graph("overview-map"),
            ]),
        ]),
        html.Div([html.Section(id=f"overview-domain-{d}", className="domain-section") for d in DOMAIN_ORDER],
                 className="overview-domains"),
        html.Div(id="overview-feeds"),
    ])


# ----------------------------------------------------------------------------- score and what drags it
def worst_district(kpi: dict, city) -> tuple[str | None, str]:
    """The district that does worst on a KPI: by status, then by its score against the target."""
    best = None
    for d in city.districts:
        dv = kpi["by_district"].get(d.id) or {}
        if dv.get("value") is None or dv.get("status") not in ("warn", "breach"):
            continue
        key = (SEVERITY.index(dv["status"]), -score_of(dv["value"], kpi["direction"], kpi["target"]))
        if best is None or key > best[0]:
            best = (key, d)
    return (best[1].id, best[1].name) if best else (None, "")


def score_panel(kpis: dict[str, dict], histories: dict[str, list[float]], city) -> list:
    score = kpis["city.score"]
    breakdown = score["detail"].get("breakdown", [])
    drags = []
    for t in breakdown[:5]:
        k = kpis.get(t["id"])
        did, name = worst_district(k, city) if k else (None, "")
        drags.append(html.Li([
            html.Span(CATALOGUE[t["id"]].name, className="drag-name"),
            html.Span(f"{t['score']:.2f}", className="drag-score"), status_badge(t["status"]),
            dcc.Link(f"worst: {name}", href=f"/district/{did}", className="drag-district",
                     id=f"drag-district-{t['id'].replace('.', '-')}") if did else html.Span(className="drag-district"),
        ], className="drag-row"))
    return [kpi_card(score, histories.get("city.score")),
            html.Div(className="panel drags", children=[
                html.H3("What drags the score down"),
                html.Ul(drags, className="drag-list") if drags else
                html.P("No KPI with a target has data yet.", className="muted")])]


# ----------------------------------------------------------------------------- districts x domains
def district_table_key(city, kpis: dict[str, dict]) -> str:
    """What the district table shows, as a short digest: it is re-sent only when this changes (its
    statuses move far less often than the KPI version)."""
    import hashlib

    score = kpis["city.score"]["by_district"]
    worst = citymap.domain_worst(city, kpis)
    shown = [(d.id, format_value((score.get(d.id) or {}).get("value"), 2), (score.get(d.id) or {}).get("status"),
              sorted(worst[d.id].items())) for d in city.districts]
    return hashlib.blake2b(repr(shown).encode(), digest_size=8).hexdigest()


def district_table(city, kpis: dict[str, dict]) -> list:
    """Each district's city score and each domain's worst status there, worst district first."""
    score = kpis["city.score"]["by_district"]
    worst = citymap.domain_worst(city, kpis)

    def order(d):
        dv = score.get(d.id) or {}
        return (dv.get("value") is None, dv.get("value") if dv.get("value") is not None else 0, d.id)
    rows = []
    for d in sorted(city.districts, key=order):
        dv = score.get(d.id) or {"value": None, "status": "no_data"}
        cells = [html.Td(dcc.Link(d.name, href=f"/district/{d.id}", id=f"overview-district-{d.id}"),
                         className="link-name"),
                 html.Td([html.Span(format_value(dv["value"], 2), className="district-score"), " ",
                          status_badge(dv["status"])])]
        for dom in DOMAIN_ORDER:
            status, who = worst[d.id][dom]
            cells.append(html.Td(status_badge(status) if status != "no_data" else html.Span("—", className="muted"),
                                 title=(CATALOGUE[who].name if who else "")))
        rows.append(html.Tr(cells, className=f"row-{dv['status']}"))
    head = [html.Th("district"), html.Th("score")] + [html.Th(SHORT_TITLE[d]) for d in DOMAIN_ORDER]
    return [html.H3("Districts, worst first — click one for all of it"),
            html.Table([html.Thead(html.Tr(head)), html.Tbody(rows)], className="table district-grid",
                       id="overview-district-table")]


# ----------------------------------------------------------------------------- domain sections
def domain_section(domain: str, kpis: dict[str, dict], histories: dict[str, list[float]], fed: bool) -> tuple:
    """(children, className) of one domain's section of cards."""
    title = dcc.Link(DOMAIN_TITLE[domain], href=DOMAIN_PATH[domain], className="section-link")
    if not fed:
        return [html.H2(title), html.P("No feed configured yet.", className="muted")], "domain-section empty"
    cards = [kpi_card(k, histories.get(k["id"]), href=DOMAIN_PATH[domain]) for k in kpis.values()
             if k["domain"] == domain]
    return [html.H2(title), html.Div(cards, className="cards")], "domain-section"


def feed_table(feeds: list[dict]) -> html.Section:
    rows = [html.Tr([html.Td(f["name"]), html.Td(status_badge({"ok": "ok", "stale": "stale", "error": "breach",
                                                                 "never": "no_data"}[f["status"]])),
                     html.Td(format_age(f["age_s"]) if f.get("age_s") is not None else "never",
                             **asof_attr(f.get("last_success"))),
                     html.Td(format_value(f["records"])), html.Td(format_value(f["rejected"])),
                     html.Td(format_value(f["lag_s"], 0) + " s" if f["lag_s"] is not None else "—"),
                     html.Td(f["last_error"] or "", className="muted")]) for f in feeds]
    return html.Section(className="panel feeds-panel", children=[
        html.H3("Feeds"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in
                                        ("feed", "status", "last success", "records", "rejected", "lag", "last error")])),
                    html.Tbody(rows)], className="table", id="feeds-table"),
    ])
