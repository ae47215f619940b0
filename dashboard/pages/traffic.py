"""Traffic "/traffic": KPI cards, the congestion map over district outlines, district drill-down.

``/traffic?district=D5`` is the drill-down: the district's KPIs, its links worst first, the map
zoomed to it. The URL carries the state, so the view can be shared.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from dash import dcc, html

from dashboard.components import district_heading, format_age, format_value, kpi_card, status_badge
from dashboard.maps import (SPEED_BANDS, base_layout, dense_network, dense_traces, district_layer,
                            district_values, incidents_trace, line_traces, link_hover_trace, map_graph, ratio_pct)
from feeds.config import City

TRAFFIC_KPIS = ("traffic.travel_time_index", "traffic.congested_share_pct", "traffic.coverage_pct",
                "traffic.open_incidents")
TTI_SCALE = [[0, "#1a9850"], [0.25, "#91cf60"], [0.5, "#fee08b"], [0.75, "#fc8d59"], [1, "#d73027"]]


def page(store, query: dict) -> html.Div:
    """The page at /traffic (see feeds.plugins); ``query`` is the URL's query string as a dict."""
    district = query.get("district")
    if district not in store.city.district_ids():
        district = None
    return layout(store.city, district)


def layout(city: City, district: str | None) -> html.Div:
    names = {d.id: d.name for d in city.districts}
    if district:
        heading = district_heading("traffic", "Traffic", district, names[district])
    else:
        heading = [html.H1("Traffic — whole city"),
                   html.Span("Click a district on the map or in the table to drill down.", className="muted")]
    return html.Div(className="traffic-page", children=[
        dcc.Store(id="traffic-focus", data=district),
        dcc.Store(id="traffic-version"),  # {version, view} the map shows; None until the first paint
        html.Div(heading, className="page-head"),
        html.Div(id="traffic-cards", className="cards"),
        html.Div(className="traffic-body", children=[
            html.Div(map_graph("traffic-map"),
                     className="panel map-panel"),
            html.Div(id="traffic-side", className="panel side-panel"),
        ]),
    ])


def _polygon_view(city: City, district: str):
    d = next(d for d in city.districts if d.id == district)
    lons = [p[0] for p in d.polygon]
    lats = [p[1] for p in d.polygon]
    return ((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2), city.zoom + 1.2


def cards(kpis: dict[str, dict], histories: dict[str, list[float]], focus: str | None) -> list:
    out = []
    for kid in TRAFFIC_KPIS:
        k = kpis[kid]
        if focus:
            dv = k["by_district"].get(focus, {"value": None, "status": "no_data"})
            out.append(kpi_card(k, None, value=dv["value"], status=dv["status"]))
        else:
            out.append(kpi_card(k, histories.get(kid)))
    return out


# Trace order of the traffic map; map_data() addresses traces by these positions.
DISTRICTS, FIRST_BAND, HOVER, INCIDENTS = 0, 1, 1 + len(line_traces([], "dark")), 2 + len(line_traces([], "dark"))


def link_traces(theme: str, dense: bool = False) -> list[dict]:
    """The empty speed-band, link hover and road incident traces (map_data fills them from FIRST_BAND on);
    the integrated city map uses them too. ``dense``: the large city's roads and dots (maps.dense_traces)."""
    links = dense_traces(theme) if dense else [*line_traces([], theme), link_hover_trace([])]
    return [*links, incidents_trace([])]


def map_skeleton(city: City, focus: str | None, theme: str, tile_url: str | None, dense: bool = False) -> dict:
    """The figure's structure without live data: sent once; refreshes patch its arrays."""
    center, zoom = _polygon_view(city, focus) if focus else (None, None)
    return {
        "data": [district_layer(city, {}, "TTI", theme, TTI_SCALE, 1.0, 1.8, focus), *link_traces(theme, dense)],
        "layout": base_layout(city, theme, tile_url, center, zoom, uirevision=f"traffic-{focus or 'city'}"),
    }


def in_focus(links, incidents: list[dict], focus: str | None) -> tuple[list, list[dict]]:
    """The links and incidents a view shows: all of them, or one district's."""
    if not focus:
        return links, incidents
    return [link for link in links if link.district == focus], [i for i in incidents if i.get("district") == focus]


def map_data(city: City, kpis: dict[str, dict], shown, shown_incidents: list[dict],
             dense: bool = False) -> dict[int, dict]:
    """The live arrays of each trace, by trace position: what a refresh sends (dashboard.sharedcache's
    diff_patch leaves out what the screen already has: in a dense network, the roads and the dots' places)."""
    tti_values = {d: v["value"] for d, v in kpis["traffic.travel_time_index"]["by_district"].items()}
    out = {DISTRICTS: district_values(city, tti_values, "TTI", 1.0)}
    if dense:
        net = shown if isinstance(shown, DenseLinks) else DenseLinks.of(shown)
        for i in range(len(SPEED_BANDS)):
            out[FIRST_BAND + i] = {"lon": [], "lat": []}
        out[FIRST_BAND + len(SPEED_BANDS)] = {"lon": net.roads_lon, "lat": net.roads_lat}
        out[HOVER] = {"lon": net.lon, "lat": net.lat, "text": net.text, "customdata": net.ids,
                      "marker.color": net.colour}
    else:
        for i, trace in enumerate(line_traces(shown, "dark")):
            out[FIRST_BAND + i] = {"lon": trace["lon"], "lat": trace["lat"]}
        hover = link_hover_trace(shown)
        out[HOVER] = {k: hover[k] for k in ("lon", "lat", "text", "customdata")}
    inc = incidents_trace(shown_incidents)
    out[INCIDENTS] = {"lon": inc["lon"], "lat": inc["lat"], "text": inc["text"], "marker.color": inc["marker"]["color"]}
    return out


@dataclass
class DenseLinks:
    """A dense road network's map arrays (maps.dense_traces): roads, and one dot per link coloured by its %
    of free flow. Everything but ``colour`` comes from the city description and is built once per process."""
    roads_lon: list
    roads_lat: list
    lon: list
    lat: list
    text: list
    ids: list
    colour: list

    @classmethod
    def of(cls, links) -> "DenseLinks":
        """From link states (any mix of configured and learnt links)."""
        net = cls([], [], [], [], [], [], [])
        for link in links:
            net.roads_lon.extend([*(p[0] for p in link.points), None])
            net.roads_lat.extend([*(p[1] for p in link.points), None])
            net.lon.append(link.mid[0])
            net.lat.append(link.mid[1])
            net.text.append(link.name)
            net.ids.append(link.id)
            net.colour.append(ratio_pct(link.ratio))
        return net


def dense_links(store, focus: str | None, readings) -> DenseLinks:
    """The dense map's arrays from ``store.link_readings()``: the configured links' fixed parts are built
    once per process and view; only each link's colour (and any link learnt from a feed) is read."""
    memo = store.__dict__.setdefault("_dense_links", {})
    if focus not in memo:
        configured = [link for link in store.links(focus, ({}, {})) if link.id in store.config_links]
        memo[focus] = (DenseLinks.of(configured), [link.free_flow_kmh for link in configured])
    fixed, free_flow = memo[focus]
    latest, meta = readings
    colour = []
    for lid, ff in zip(fixed.ids, free_flow):
        reading = latest.get(lid)
        colour.append(ratio_pct(reading["v"] / ff if reading and reading["v"] else None))
    net = DenseLinks(fixed.roads_lon, fixed.roads_lat, fixed.lon, fixed.lat, fixed.text, fixed.ids, colour)
    learnt = [link for link in store.links(focus, readings) if link.id not in store.config_links] if meta else []
    if learnt:  # links a feed reported that the city description lacks (rare in a configured city)
        more = DenseLinks.of(learnt)
        net = DenseLinks(*(a + b for a, b in zip(vars(net).values(), vars(more).values())))
    return net


def map_links(store, focus: str | None, readings=None):
    """What the map draws of the links in view: DenseLinks for a dense network, else the link states."""
    readings = store.link_readings() if readings is None else readings
    if dense_network(store.city):
        return dense_links(store, focus, readings)
    return store.links(focus, readings)


def side_panel(city: City, kpis: dict[str, dict], shown, shown_incidents: list[dict], focus: str | None) -> list:
    return district_links_table(shown, incidents=shown_incidents) if focus else district_table(city, kpis)


def district_table(city: City, kpis: dict[str, dict]) -> list:
    """Districts worst first by TTI; a district missing a target is flagged."""
    tti = kpis["traffic.travel_time_index"]["by_district"]
    cong = kpis["traffic.congested_share_pct"]["by_district"]
    cov = kpis["traffic.coverage_pct"]["by_district"]
    inc = kpis["traffic.open_incidents"]["by_district"]
    order = sorted(city.districts, key=lambda d: -(tti[d.id]["value"] or 0))
    rows = []
    for d in order:
        worst = max((tti[d.id]["status"], cong[d.id]["status"], cov[d.id]["status"]),
                    key=["no_data", "ok", "stale", "warn", "breach"].index)
        rows.append(html.Tr([
            html.Td(dcc.Link(d.name, href=f"/traffic?district={d.id}", id=f"district-link-{d.id}")),
            html.Td(format_value(tti[d.id]["value"], 2)),
            html.Td(format_value(cong[d.id]["value"], 1)),
            html.Td(format_value(cov[d.id]["value"], 0)),
            html.Td(format_value(inc[d.id]["value"], 0)),
            html.Td(status_badge(worst)),
        ], className=f"row-{worst}"))
    age = kpis["traffic.travel_time_index"].get("age_s")
    return [html.H3(["Districts, worst first", html.Span(" · map and table as of " + format_age(age)
                                                         if age is not None else " · no data yet",
                                                         className="panel-age")]),
            html.Table([html.Thead(html.Tr([html.Th(h) for h in ("district", "TTI", "congested %", "coverage %",
                                                                  "incidents", "")])),
                        html.Tbody(rows)], className="table", id="district-table")]


def district_links_table(links, incidents: list[dict], limit: int = 14) -> list:
    now = time.time()
    with_data = sorted((link for link in links if link.ratio is not None), key=lambda link: link.ratio)
    rows = [html.Tr([html.Td(link.name, className="link-name"), html.Td(f"{link.speed_kmh:.0f}"),
                     html.Td(f"{link.ratio * 100:.0f} %"), html.Td(format_age(now - link.as_of))],
                    className="row-breach" if link.ratio < 0.6 else "") for link in with_data[:limit]]
    missing = sum(1 for link in links if link.ratio is None)
    parts = [html.H3("Slowest links"),
             html.Table([html.Thead(html.Tr([html.Th(h) for h in ("link", "km/h", "of free flow", "as of")])),
                         html.Tbody(rows)], className="table", id="links-table")]
    if missing:
        parts.append(html.P(f"{missing} link(s) without a reading.", className="muted"))
    if incidents:
        parts.append(html.H3("Open road incidents"))
        parts.append(html.Ul([html.Li(f"{i['type']} ({i['severity']}) — {i.get('description', '')}")
                              for i in incidents], className="incident-list"))
    return parts
