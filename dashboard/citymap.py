"""The integrated city map: every domain's layer on one map, over districts shaded by the city score.

Layers (each toggleable, in the URL as ``?layers=traffic,buses,air,incidents,services``; absent: all;
``layers=none``: none): road links by speed band and open road incidents; buses by delay; air stations
by AQI category; active incidents by priority and units by status; service centres by wait against
target. Each layer is drawn by its own domain page's trace builders and ``map_data`` (one picture of a
bus, a station or a unit everywhere); this module only places them side by side and remembers where
each layer's traces start, so a refresh patches the traces of the domains that changed and nothing else.
Pure functions: the reads are in dashboard/reads/citymap.py.
"""
from __future__ import annotations

import math

from dash import dcc, html

from dashboard.components import STATUS_COLOUR, STATUS_LABEL, asof_attr, format_age, format_value, newest
from dashboard.maps import SPEED_BANDS, base_layout, dense_network, district_layer
from dashboard.pages import emergency as emergency_page
from dashboard.pages import environment as env_page
from dashboard.pages import services as services_page
from dashboard.pages import traffic as traffic_page
from dashboard.pages import transit as transit_page
from feeds.adapters.transit_gtfs import TransitConfig, transit_config
from feeds.config import City

LAYERS = ("traffic", "buses", "air", "incidents", "services")
LAYER_TITLE = {"traffic": "Traffic", "buses": "Buses", "air": "Air quality", "incidents": "Incidents & units",
               "services": "Service centres"}
LAYER_DOMAIN = {"traffic": "traffic", "buses": "transit", "air": "environment", "incidents": "emergency",
                "services": "services"}
# What a layer's colours mean, for the key beside the toggles (the map's own legend is off: 20 entries
# in plotly's small type cannot be read across a room).
LAYER_KEY = {
    "traffic": [(SPEED_BANDS[0][1], "free flow"), (SPEED_BANDS[2][1], "70–80 %"), (SPEED_BANDS[4][1], "congested"),
                ("#f43f5e", "road incident")],
    "buses": [("#60a5fa", "early"), ("#22c55e", "on time"), ("#f59e0b", "late"), ("#ef4444", "very late")],
    "air": [(colour, name) for _, _, name, colour in env_page.BANDS[:4]],
    "incidents": [(emergency_page.PRIORITY_COLOUR[1], "P1"), (emergency_page.PRIORITY_COLOUR[2], "P2"),
                  (emergency_page.STATUS_COLOUR["available"], "unit available"),
                  (emergency_page.STATUS_COLOUR["on_scene"], "unit on scene")],
    "services": [(services_page.STATUS_HEX["ok"], "wait OK"), (services_page.STATUS_HEX["warn"], "WARN"),
                 (services_page.STATUS_HEX["breach"], "BREACH"), (services_page.STATUS_HEX["closed"], "closed")],
}
NONE = "none"
# The overview's map is the largest on any page (most of a 1080p wall): the city fills it a little closer in.
CITY_ZOOM_IN = 0.1
DISTRICTS = 0  # the district shading is always trace 0; the layers follow in LAYERS order
# District shading: the district's city score status, as a flat colour step per status.
STATUS_STEPS = ["no_data", "ok", "warn", "breach", "stale"]


# ----------------------------------------------------------------------------- URL contract
def parse_layers(value: str | None) -> list[str]:
    """``?layers=`` -> the layers shown, in LAYERS order. Absent or nothing valid: all; "none": none."""
    if value is None:
        return list(LAYERS)
    names = {v.strip() for v in value.split(",")}
    if NONE in names:
        return []
    chosen = [layer for layer in LAYERS if layer in names]
    return chosen or list(LAYERS)


def layers_param(layers: list[str]) -> str | None:
    """The ``layers`` query value for a choice (None: the default, all, so the parameter is dropped)."""
    chosen = [layer for layer in LAYERS if layer in (layers or [])]
    if len(chosen) == len(LAYERS):
        return None
    return ",".join(chosen) if chosen else NONE


def parse_focus(value: str | None) -> dict | None:
    """``?focus=lat,lon,zoom`` -> {"lat", "lon", "zoom"}; anything invalid -> None (ignored, no error)."""
    if not value or len(value) > 80:
        return None
    parts = value.split(",")
    if len(parts) != 3:
        return None
    try:
        lat, lon, zoom = (float(p) for p in parts)
    except ValueError:
        return None
    if not all(math.isfinite(x) for x in (lat, lon, zoom)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 <= zoom <= 22):
        return None
    return {"lat": lat, "lon": lon, "zoom": zoom}


def focus_of(stored) -> dict | None:
    """A focus kept in a page's store (a dict from parse_focus), validated again: None if not one."""
    if not isinstance(stored, dict):
        return None
    try:
        return parse_focus(",".join(str(stored[k]) for k in ("lat", "lon", "zoom")))
    except KeyError:
        return None


def query_with(query: dict, **changes) -> str:
    """``query`` (a page's query dict) with ``changes`` applied (None drops a key), as ``?a=b&..`` or ""."""
    from urllib.parse import urlencode

    out = {k: v for k, v in query.items() if k != "id"}
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return ("?" + urlencode(out, safe=",")) if out else ""


# ----------------------------------------------------------------------------- trace positions
def slots(layers: list[str]) -> dict[str, tuple[int, int]]:
    """(first trace index, trace count) of each shown layer; trace 0 is the district shading."""
    out, at = {}, 1
    for layer in LAYERS:
        if layer in layers:
            n = len(_empty_traces(layer, "dark", False, None))
            out[layer] = (at, n)
            at += n
    return out


def trace_at(layers: list[str], curve: int) -> tuple[str | None, int]:
    """(layer, index within the layer) of trace ``curve``; (None, 0) for the districts."""
    for layer, (first, n) in slots(layers).items():
        if first <= curve < first + n:
            return layer, curve - first
    return None, 0


def _empty_traces(layer: str, theme: str, cluster: bool, city: City | None, dense: bool = False) -> list[dict]:
    if layer == "traffic":
        return traffic_page.link_traces(theme, dense)
    if layer == "buses":  # the bands' labels come from the city's on-time window, their number does not
        return transit_page.bus_traces(transit_config(city) if city else TransitConfig(), cluster)
    if layer == "air":
        return env_page.air_traces(theme)
    if layer == "incidents":
        return emergency_page.incident_unit_traces()
    return [services_page.centre_trace()]


# ----------------------------------------------------------------------------- the figure
def district_view(city: City, district: str) -> tuple[tuple[float, float], float]:
    """The centre and zoom that frame one district."""
    d = next(d for d in city.districts if d.id == district)
    lons = [p[0] for p in d.polygon]
    lats = [p[1] for p in d.polygon]
    return ((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2), city.zoom + 1.2


def _status_scale() -> list:
    colours = [STATUS_COLOUR[s] for s in STATUS_STEPS]
    n = len(colours)
    scale = []
    for i, c in enumerate(colours):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


# The map's size in CSS pixels at which the city's own zoom frames it well (the overview on a 1080p wall).
REFERENCE_SIZE = (1160, 620)


def size_zoom(size) -> float:
    """How much to zoom in (or out) for a map of ``size`` [width, height] px, so the city fills a 4K wall's
    map as it fills a 1080p one; 0 when the size is unknown. Rounded, so a few pixels do not repaint."""
    try:
        w, h = float(size[0]), float(size[1])
    except (TypeError, ValueError, IndexError):
        return 0.0
    if not (w > 50 and h > 50 and math.isfinite(w) and math.isfinite(h)):
        return 0.0
    offset = math.log2(min(w / REFERENCE_SIZE[0], h / REFERENCE_SIZE[1]))
    return round(max(-1.5, min(2.5, offset)), 1)


def skeleton(city: City, layers: list[str], theme: str, tile_url: str | None, district: str | None = None,
             focus: dict | None = None, n_buses: int = 0, zoom_offset: float = 0.0, dense: bool | None = None) -> dict:
    """The figure's structure, without live data: sent once per view; refreshes patch its arrays.
    ``dense``: the road network as roads and dots (default: as the city's size says, maps.dense_network)."""
    dense = dense_network(city) if dense is None else dense
    districts = district_layer(city, {}, "city score", theme, _status_scale(), 0, len(STATUS_STEPS), district)
    districts["z"] = [0.5] * len(city.districts)
    districts["name"] = "Districts (city score)"
    if not district:  # the city view: shading light enough for every layer to read on top
        districts["marker"]["opacity"] = [0.16] * len(city.districts)
    districts["hovertemplate"] = "%{text}<br>click for everything in this district<extra></extra>"
    data = [districts]
    cluster = n_buses > transit_page.CLUSTER_ABOVE and not district
    for layer in LAYERS:
        if layer in layers:
            data.extend(_empty_traces(layer, theme, cluster, city, dense))
    center, zoom = district_view(city, district) if district else (None, city.zoom + CITY_ZOOM_IN)
    zoom += zoom_offset
    if focus:
        center, zoom = (focus["lon"], focus["lat"]), focus["zoom"]
    revision = f"citymap-{district or 'city'}-{','.join(layers)}-{focus and tuple(focus.values())}"
    layout = base_layout(city, theme, tile_url, center, zoom, uirevision=revision)
    layout["showlegend"] = False  # the HTML key beside the toggles is readable across the room
    return {"data": data, "layout": layout}


def district_fields(city: City, kpis: dict[str, dict], names: dict[str, str] | None = None) -> dict:
    """The district shading's live part: the district's city score status as colour, and in the hover the
    score and each domain's worst status in that district."""
    score = kpis["city.score"]["by_district"]
    worst = domain_worst(city, kpis)
    z, text = [], []
    for d in city.districts:
        dv = score.get(d.id) or {"value": None, "status": "no_data"}
        status = dv["status"] if dv["status"] in STATUS_STEPS else "no_data"
        z.append(STATUS_STEPS.index(status) + 0.5)
        parts = [f"{d.name}: city score {format_value(dv['value'], 2)} {STATUS_LABEL.get(status, status)}"]
        bad = [f"{DOMAIN_TITLE[dom]} {STATUS_LABEL[s]}" for dom, (s, _) in worst[d.id].items() if s in ("warn", "breach")]
        if bad:
            parts.append(" · ".join(bad))
        text.append("<br>".join(parts))
    return {"z": z, "text": text}


DOMAIN_TITLE = {"traffic": "Traffic", "transit": "Buses", "environment": "Environment", "emergency": "Emergency",
                "services": "Services"}
SEVERITY = ["no_data", "ok", "stale", "warn", "breach"]


def domain_worst(city: City, kpis: dict[str, dict]) -> dict[str, dict[str, tuple[str, str | None]]]:
    """district -> domain -> (worst status of the domain's KPIs with a target there, the KPI responsible)."""
    out = {d.id: {} for d in city.districts}
    for dom in DOMAIN_TITLE:
        judged = [k for k in kpis.values() if k["domain"] == dom and k["direction"] != "none"]
        for d in city.districts:
            worst, who = "no_data", None
            for k in judged:
                s = (k["by_district"].get(d.id) or {}).get("status", "no_data")
                if SEVERITY.index(s) > SEVERITY.index(worst):
                    worst, who = s, k["id"]
            out[d.id][dom] = (worst, who)
    return out


def layer_fields(layer: str, city: City, kpis: dict[str, dict], entities: dict, now: float,
                 dense: bool = False) -> dict[int, dict]:
    """A layer's live arrays by trace position within the layer, from its domain page's ``map_data``."""
    if layer == "traffic":
        data = traffic_page.map_data(city, kpis, entities["links"], entities["incidents"], dense)
        return {i - traffic_page.FIRST_BAND: f for i, f in data.items() if i >= traffic_page.FIRST_BAND}
    if layer == "buses":
        data = transit_page.map_data(entities["vehicles"], entities["names"], transit_config(city), now)
        return {i - transit_page.FIRST_BAND: f for i, f in data.items() if i >= transit_page.FIRST_BAND}
    if layer == "air":
        data = env_page.map_data(city, kpis, entities["stations"])
        last = env_page.FIRST_AIR + len(env_page.AIR_TRACES)
        return {i - env_page.HALO: f for i, f in data.items() if isinstance(i, int) and env_page.HALO <= i < last}
    if layer == "incidents":
        data = emergency_page.map_data(city, kpis, entities["incidents"], entities["units"], now)
        return {0: data[emergency_page.INCIDENTS], 1: data[emergency_page.UNITS]}
    data = services_page.map_data(city, kpis, entities["centres"], [])
    return {0: data[services_page.CENTRES]}


def map_data(city: City, layers: list[str], kpis: dict[str, dict], entities: dict[str, dict], now: float,
             with_districts: bool = True, dense: bool | None = None) -> dict[int, dict]:
    """The live arrays, by trace position in the whole figure, of the districts (if asked) and of every
    layer in ``entities`` (the layers whose data is sent this time)."""
    dense = dense_network(city) if dense is None else dense
    out = {DISTRICTS: district_fields(city, kpis)} if with_districts else {}
    for layer, (first, _) in slots(layers).items():
        if layer in entities:
            for i, fields in layer_fields(layer, city, kpis, entities[layer], now, dense).items():
                out[first + i] = fields
    return out


# ----------------------------------------------------------------------------- clicks
def click_target(point: dict, layers: list[str], district_ids: list[str]) -> str | None:
    """Where a click on the map leads: a district to /district/<id>, a marker to its domain's drill-down."""
    if point.get("location") in district_ids:
        return f"/district/{point['location']}"
    layer, i = trace_at(layers, point.get("curveNumber", -1))
    custom = point.get("customdata")
    if layer == "buses" and isinstance(custom, list) and len(custom) == 2:
        return f"/transit?route={custom[1]}&vehicle={custom[0]}"
    if not isinstance(custom, str) or not custom:
        return None
    if layer == "incidents" and i == 0:
        return f"/emergency?incident={custom}"
    if layer == "air":
        return f"/environment?station={custom}"
    if layer == "services":
        return f"/services?centre={custom}"
    return None


# ----------------------------------------------------------------------------- controls
def layer_control(component_id: str, layers: list[str]) -> html.Div:
    """The layer toggles and, under them, the colour key of the layers shown; the choice goes to the URL."""
    options = [{"label": html.Span(LAYER_TITLE[layer], className="layer-name"), "value": layer} for layer in LAYERS]
    key = []
    for layer in layers:
        key.append(html.Span([html.Span(LAYER_TITLE[layer] + ":", className="key-layer"),
                              *[html.Span([html.Span(className="swatch", style={"background": c}), label],
                                          className="key-item") for c, label in LAYER_KEY[layer]]],
                             className="key-group"))
    return html.Div([dcc.Checklist(id=component_id, options=options, value=list(layers), className="layer-toggles",
                                   inputClassName="layer-input", labelClassName="layer-label"),
                     html.Div(key, className="layer-key")], className="layer-control")


def ages_line(kpis: dict[str, dict], layers: list[str]) -> list:
    """How old each shown layer is: the age of its domain's newest KPI input."""
    parts = []
    for layer in layers:
        dom = LAYER_DOMAIN[layer]
        latest = newest(k for k in kpis.values() if k["domain"] == dom)
        stale = any(k["status"] == "stale" for k in kpis.values() if k["domain"] == dom)
        text = f"{LAYER_TITLE[layer]}: " + (("STALE " if stale else "") + format_age(latest["age_s"]) if latest else "no data")
        parts.append(html.Span(text, className="layer-age" + (" stale" if stale else ""),
                               **asof_attr(latest and latest.get("as_of"))))
    return parts or [html.Span("No layer shown: tick one above.", className="muted")]

