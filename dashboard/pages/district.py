"""District "/district/<id>": everything in one district.

The district's city score and what misses its target there, every domain's KPIs for the district (the
``by_district`` value and status; a KPI with no district figure says so), its entities on the
integrated map zoomed to it (same layers as the overview, filtered to the district), and links to each
domain's own page drilled to the district. The URL carries the view:
``/district/D2?layers=traffic,incidents&focus=lat,lon,zoom`` (as on the overview).
An unknown id gets a list of the districts, not an error.
"""
from __future__ import annotations

from dash import dcc, html

from dashboard import citymap
from dashboard.components import format_value, kpi_card, status_badge
from dashboard.maps import map_graph
from dashboard.pages.overview import DOMAIN_TITLE, SEVERITY
from feeds.config import City
from feeds.kpi.catalogue import CATALOGUE, DOMAIN_ORDER
from feeds.service_centres import services_config


def page(store, query: dict) -> html.Div:
    """The page at /district/<id> (see callbacks/shell.py): ``query["id"]`` is the id from the path."""
    city = store.city
    district = query.get("id")
    if district not in city.district_ids():
        return unknown(city, district)
    return layout(city, district, citymap.parse_layers(query.get("layers")), citymap.parse_focus(query.get("focus")))


def unknown(city: City, district: str | None) -> html.Div:
    said = f"No such district: {district!r}." if district else "Which district?"
    return html.Div(className="district-page", id="district-unknown", children=[
        html.H1(said),
        html.P("The city's districts:", className="muted"),
        html.Ul([html.Li(dcc.Link(d.name, href=f"/district/{d.id}", id=f"district-choice-{d.id}"))
                 for d in city.districts], className="district-choices"),
        dcc.Link("← overview", href="/", className="back-link"),
    ])


def domain_links(city: City, district: str) -> list:
    """Each domain's page, drilled to this district where it has a district view (traffic, emergency,
    environment ``?district=``); services to each centre in the district; buses network-wide (the bus
    page drills by route, and a route crosses districts)."""
    name = next(d.name for d in city.districts if d.id == district)
    links = [dcc.Link(f"Traffic in {name} →", href=f"/traffic?district={district}", id="district-link-traffic"),
             dcc.Link(f"Emergency in {name} →", href=f"/emergency?district={district}", id="district-link-emergency"),
             dcc.Link(f"Environment in {name} →", href=f"/environment?district={district}",
                      id="district-link-environment")]
    try:
        conf = services_config(city)
        centres = [c for cid, c in conf.centres.items() if conf.districts.get(cid) == district]
    except Exception:  # a bad services section is reported by the services page itself
        centres = []
    for c in centres:
        links.append(dcc.Link(f"Services: {c.name or c.id} →", href=f"/services?centre={c.id}",
                              id=f"district-link-services-{c.id}"))
    if not centres:
        links.append(dcc.Link("Services (no centre here) →", href="/services", id="district-link-services"))
    links.append(dcc.Link("Buses (whole network) →", href="/transit", id="district-link-transit"))
    return links


def layout(city: City, district: str, layers: list[str], focus: dict | None) -> html.Div:
    name = next(d.name for d in city.districts if d.id == district)
    return html.Div(className="district-page", children=[
        dcc.Store(id="district-id", data=district),
        dcc.Store(id="district-view", data={"layers": layers, "focus": focus}),
        dcc.Store(id="district-version"),
        dcc.Store(id="district-map-size"),  # [width, height] of the map in the browser (callbacks: measure_map)
        html.Div([html.H1(["District — ", html.Span(name, id="district-name")]),
                  dcc.Link("← whole city", href="/", className="back-link", id="district-back")],
                 className="page-head"),
        html.Nav(domain_links(city, district), className="district-links"),
        html.Div(id="district-alerts", className="district-alerts"),  # its active alerts (callbacks/alerts)
        dcc.Store(id="district-alerts-shown"),  # which alert version (and ages) the panel shows
        # Cards on the left, worst news first; the map beside them stays in view while they scroll.
        html.Div(className="overview-top district-top", children=[
            html.Div(className="overview-left", children=[
                html.Div(id="district-score", className="score-row district-score-row"),
                html.Div([html.Section(id=f"district-domain-{d}", className="domain-section") for d in DOMAIN_ORDER],
                         className="overview-domains"),
            ]),
            html.Div(className="panel map-panel overview-map-panel district-map-panel", children=[
                citymap.layer_control("district-layers", layers),
                html.Div(id="district-map-ages", className="layer-ages"),
                map_graph("district-map"),
            ]),
        ]),
    ])


# ----------------------------------------------------------------------------- render
def district_value(kpi: dict, district: str) -> tuple[float | None, str, str | None]:
    """(value, status, note) of a KPI in the district; the note says why there is no figure."""
    dv = kpi["by_district"].get(district) or {"value": None, "status": "no_data"}
    if dv["value"] is not None:
        return dv["value"], dv["status"], None
    anywhere = any(v.get("value") is not None for v in kpi["by_district"].values())
    if kpi["value"] is not None and not anywhere:
        unit = f" {kpi['unit']}" if kpi["unit"] else ""
        return None, "no_data", f"citywide only: {format_value(kpi['value'], kpi['decimals'])}{unit}"
    return None, "no_data", "no figure for this district"


def district_card(kpi: dict, district: str) -> html.Div:
    value, status, note = district_value(kpi, district)
    card = kpi_card(kpi, None, value=value, status=status)
    if note:
        card.children.append(html.Div(note, className="kpi-note"))
    return card


def score_panel(kpis: dict[str, dict], district: str) -> list:
    """The district's city score and the KPIs that miss their target there, worst first."""
    score = kpis["city.score"]
    misses = []
    for k in kpis.values():
        if k["id"] == "city.score" or k["direction"] == "none":
            continue
        dv = k["by_district"].get(district) or {}
        if dv.get("status") in ("warn", "breach"):
            misses.append((SEVERITY.index(dv["status"]), k, dv))
    misses.sort(key=lambda m: -m[0])
    rows = [html.Li([html.Span(CATALOGUE[k["id"]].name, className="drag-name"),
                     html.Span(format_value(dv["value"], k["decimals"]) + (f" {k['unit']}" if k["unit"] else ""),
                               className="drag-score"),
                     status_badge(dv["status"])], className="drag-row") for _, k, dv in misses[:6]]
    return [district_card(score, district),
            html.Div(className="panel drags", children=[
                html.H3("Missing its target here"),
                html.Ul(rows, className="drag-list", id="district-misses") if rows else
                html.P("Every KPI with a figure here meets its target.", className="muted")])]


def domain_section(domain: str, kpis: dict[str, dict], district: str) -> list:
    from dashboard.pages.overview import DOMAIN_PATH

    href = DOMAIN_PATH[domain] + (f"?district={district}" if domain in ("traffic", "emergency", "environment") else "")
    cards = [district_card(k, district) for k in kpis.values() if k["domain"] == domain]
    return [html.H2(dcc.Link(DOMAIN_TITLE[domain], href=href, className="section-link")),
            html.Div(cards, className="cards")]
