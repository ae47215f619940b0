"""Environment "/environment": the AQI map, KPI cards, the station table, station and district drill-downs.

- ``/environment``: the citywide AQI (and the pollutant responsible), the four KPI cards, the map
  (districts coloured by their worst station's AQI category, stations as EPA-coloured markers,
  noise sensors and water points), and the stations worst first.
- ``/environment?district=D4``: that district's figures and all its stations, the map zoomed to it.
- ``/environment?station=AQ-6``: the station's last 24 clock hours: hourly means and NowCast of each
  pollutant, and its AQI category per hour (for noise: LAeq against the limit; water: samples).
"""
from __future__ import annotations

import re
import time
from datetime import datetime

from dash import dcc, html

from dashboard.components import district_heading, format_age, kpi_card
from dashboard import maps
from dashboard.maps import NO_DATA_COLOUR, base_layout, map_graph
from feeds.config import City, ConfigError
from feeds.environment import env_conf
from feeds.geo import districts_geojson
from feeds.kpi.aqi import BANDS, BEYOND, LABELS
from feeds.timeparse import zone

ENV_KPIS = ("environment.aqi", "environment.stations_unhealthy", "environment.noise_exceedance_pct",
            "environment.water_alerts")
CATEGORY_SHORT = {"Unhealthy for Sensitive Groups": "Unhealthy (sensitive)"}
NOISE_OK, NOISE_OVER = "#38bdf8", "#e11d48"
WATER_OK, WATER_ALERT = "#2dd4bf", "#f97316"
TABLE_ROWS = 30  # rows of the citywide table (worst first); a district shows up to DISTRICT_ROWS
DISTRICT_ROWS = 80
# The map sits under the banner and cards (assets/environment.css), ~400 px tall on a 1080p wall:
# the whole city fits at a slightly smaller zoom than the city's default.
CITY_ZOOM_OUT = 0.45
TEXT = {"dark": "#e5e7eb", "light": "#111827"}
GRID = {"dark": "#263247", "light": "#d5dce6"}


def safe_id(sid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", sid)


def page(store, query: dict) -> html.Div:
    """The page at /environment (see feeds.plugins); ``query`` is the URL's query string as a dict."""
    try:
        env_conf(store.city)
    except ConfigError as e:  # a bad city.environment section: say so instead of failing every refresh
        return html.Div([html.H1("Environment"), html.P(str(e), className="banner", id="environment-config-error")])
    district = query.get("district")
    if district not in store.city.district_ids():
        district = None
    station = query.get("station") or None
    return layout(store.city, district, station)


def layout(city: City, district: str | None, station: str | None) -> html.Div:
    names = {d.id: d.name for d in city.districts}
    if station:
        heading = [html.H1(["Environment — station ", html.Span(station, id="environment-station-name")]),
                   dcc.Link("← whole city", href="/environment", className="back-link", id="environment-back")]
    elif district:
        heading = district_heading("environment", "Environment", district, names[district])
    else:
        heading = [html.H1("Environment — whole city"),
                   html.Span("Click a station or a district on the map, or a row of the table.", className="muted")]
    return html.Div(className="environment-page", children=[
        dcc.Store(id="environment-focus", data={"district": district, "station": station}),
        dcc.Store(id="environment-version"),  # KPI version shown; None until the first paint
        html.Div(heading, className="page-head"),
        html.Div(id="environment-banner", className="aqi-banner"),
        html.Div(id="environment-cards", className="cards"),
        html.Div(id="environment-station", className="env-station"),
        html.Div(className="env-body", children=[
            html.Div([map_graph("environment-map"),
                      legend()], className="panel map-panel"),
            html.Div(id="environment-side", className="panel side-panel"),
        ]),
    ])


# ----------------------------------------------------------------------------- banner and cards
def short(category: str) -> str:
    return CATEGORY_SHORT.get(category, category)


def banner(kpis: dict[str, dict], district: str | None) -> list:
    """The wall's one-line answer: AQI, category in its EPA colour, the pollutant and station responsible."""
    k = kpis["environment.aqi"]
    value = k["value"] if not district else k["by_district"].get(district, {}).get("value")
    if value is None:
        return [html.Span("AQI —", className="aqi-chip aqi-none"), html.Span("no current air-quality reading",
                                                                           className="aqi-what")]
    from feeds.kpi.aqi import category_of

    category, colour = category_of(int(value))
    if k["detail"].get("beyond") and not district:
        category = BEYOND
    d = k["detail"]
    who = d.get("by_district_pollutant", {}).get(district) if district else d.get("pollutant")
    stale = k["status"] == "stale"
    parts = [html.Span(f"AQI {value:.0f}{'+' if d.get('beyond') and not district else ''}", className="aqi-chip",
                       style={"background": colour, "color": "#111" if value <= 100 else "#fff"}, id="environment-aqi"),
             html.Span(category, className="aqi-category"),
             html.Span(f"driven by {LABELS.get(who, who)}" + (f" at {d.get('station_name')}" if not district else ""),
                       className="aqi-what")]
    parts.append(html.Span(("STALE — as of " if stale else "as of ") + format_age(k["age_s"]),
                           className="aqi-age" + (" stale" if stale else "")))
    return parts


def cards(kpis: dict[str, dict], histories: dict[str, list[float]], district: str | None) -> list:
    out = []
    for kid in ENV_KPIS:
        k = kpis[kid]
        if district:
            dv = k["by_district"].get(district, {"value": None, "status": "no_data"})
            out.append(kpi_card(k, None, value=dv["value"], status=dv["status"]))
        else:
            out.append(kpi_card(k, histories.get(kid)))
    return out


# ----------------------------------------------------------------------------- the map
def legend() -> html.Div:
    """The map's key: EPA categories with their AQI ranges (colour and word), then noise and water."""
    def item(colour, text, small=False):
        return html.Span([html.Span(className="swatch" + (" small" if small else ""), style={"background": colour}),
                          text], className="legend-item")
    items = [item(colour, f"{name} {lo}–{hi}") for lo, hi, name, colour in BANDS]
    items += [item(NO_DATA_COLOUR, "no current reading"), item(NOISE_OK, "noise OK", True),
              item(NOISE_OVER, "noise over limit", True), item(WATER_OK, "water OK", True),
              item(WATER_ALERT, "water alert", True)]
    return html.Div(items, className="env-legend", id="environment-legend",
                    title="Districts take the colour of their worst current air station; big dots are air stations.")



def category_index(aqi: float | None) -> int:
    """0..5 = EPA band (Good .. Hazardous, beyond included in the last); -1 = no data."""
    if aqi is None:
        return -1
    for i, (_, hi, _, _) in enumerate(BANDS):
        if aqi <= hi:
            return i
    return len(BANDS) - 1


def _discrete_scale() -> list:
    """Colour scale for z in -1..5: grey for no data, then the six EPA colours as flat steps."""
    colours = [NO_DATA_COLOUR] + [c for _, _, _, c in BANDS]
    n = len(colours)
    scale = []
    for i, c in enumerate(colours):
        scale.append([i / n, c])
        scale.append([(i + 1) / n, c])
    return scale


AIR_TRACES = [(f"{name} ({lo}–{hi})", colour) for lo, hi, name, colour in BANDS] + [("air: no current reading", NO_DATA_COLOUR)]
DISTRICTS, HALO, FIRST_AIR = 0, 1, 2  # HALO: a dark ring under each air station, so yellow reads on yellow
NOISE_TRACE = FIRST_AIR + len(AIR_TRACES)
NOISE_OVER_TRACE, WATER_TRACE, WATER_ALERT_TRACE = NOISE_TRACE + 1, NOISE_TRACE + 2, NOISE_TRACE + 3
AGE = "age"  # map_data's key of the as-of annotation (not a trace)


def _points(name: str, colour: str, size: int, opacity: float = 0.95) -> dict:
    return {"type": "scattermap", "mode": "markers", "name": name, "lon": [], "lat": [], "text": [], "customdata": [],
            "marker": {"size": size, "color": colour, "opacity": opacity}, "hovertemplate": "%{text}<extra></extra>"}


def air_traces(theme: str) -> list[dict]:
    """The halo and one empty trace per AQI category (map_data fills them, at HALO..); the integrated
    city map uses them too."""
    halo = {**_points("", "#0b1220" if theme == "dark" else "#334155", 25, 0.9), "hoverinfo": "skip",
            "showlegend": False}
    halo.pop("hovertemplate")
    return [halo] + [_points(name, colour, 20) for name, colour in AIR_TRACES]


def map_skeleton(city: City, district: str | None, theme: str, tile_url: str | None,
                 centre: tuple[float, float] | None = None) -> dict:
    """The figure's structure without live data: sent once; refreshes patch its arrays."""
    zoom = city.zoom - CITY_ZOOM_OUT
    if district:
        d = next(d for d in city.districts if d.id == district)
        lons, lats = [p[0] for p in d.polygon], [p[1] for p in d.polygon]
        centre, zoom = ((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2), city.zoom + 0.9
    elif centre is not None:
        zoom = city.zoom + 1.5
    ids = [d.id for d in city.districts]
    districts = {
        "type": "choroplethmap", "geojson": districts_geojson(city.districts), "locations": ids, "featureidkey": "id",
        "z": [-0.5] * len(ids), "zmin": -1, "zmax": 6, "colorscale": _discrete_scale(), "showscale": False,
        "marker": {"opacity": [0.12 if district and d != district else 0.38 for d in ids],
                   "line": {"color": [("#f8fafc" if theme == "dark" else "#0f172a") if d == district else "#51627d"
                                      for d in ids], "width": [4 if d == district else 1.5 for d in ids]}},
        "text": [""] * len(ids), "hovertemplate": "%{text}<br>click to see its stations<extra></extra>",
        "name": "Districts (worst station's AQI)", "showlegend": False,
    }
    traces = [districts, *air_traces(theme)]
    traces += [_points("noise: under the limit", NOISE_OK, 11, 0.8), _points("noise: over the limit", NOISE_OVER, 13),
               _points("water: in range", WATER_OK, 11, 0.8), _points("water: alert", WATER_ALERT, 15)]
    layout = base_layout(city, theme, tile_url, centre, zoom, uirevision=f"environment-{district or 'city'}")
    layout["showlegend"] = False  # the HTML key under the map is larger and readable across the room
    layout["annotations"] = [{  # the map's own as-of age (map_data fills it in)
        "text": "", "xref": "paper", "yref": "paper", "x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top",
        "showarrow": False, "font": {"size": 18, "color": TEXT[theme]},
        "bgcolor": "rgba(11,18,32,0.75)" if theme == "dark" else "rgba(255,255,255,0.8)", "borderpad": 4}]
    return {"data": traces, "layout": layout}


def station_text(s: dict) -> str:
    # A current station's hover says no age (the map's "as of" line does): its text then changes with its
    # values only, and a refresh re-sends just those. A station past its freshness limit says how old.
    age = format_age(time.time() - s["as_of"]) if s.get("as_of") else "no reading yet"
    age = "" if s.get("current") and s.get("as_of") else "<br>" + age
    if s["kind"] == "air":
        if s.get("aqi") is None:
            return f"{s['name']}<br>no AQI (NowCast needs 2 of the last 3 hours){age}"
        return (f"{s['name']}: AQI {s['aqi']}{'+' if s.get('beyond') else ''} {short(s['category'])}"
                f"<br>driven by {LABELS.get(s['pollutant'], s['pollutant'])}{age}")
    if s["kind"] == "noise":
        if s.get("laeq") is None:
            return f"{s['name']}<br>no reading{age}"
        return f"{s['name']}: LAeq {s['laeq']:.1f} dB(A), {s['period']} limit {s['limit']:g}{age}"
    if s.get("alerts"):
        return f"{s['name']}: " + "; ".join(s["alerts"]) + age
    return f"{s['name']}: water in range{age}"


def map_data(city: City, kpis: dict[str, dict], stations: list[dict]) -> dict:
    """The live arrays of each trace, by trace position, and the as-of text (AGE): what a refresh sends."""
    aqi = kpis["environment.aqi"]["by_district"]
    z, text = [], []
    for d in city.districts:
        v = aqi.get(d.id, {}).get("value")
        z.append(category_index(v) + 0.5)  # the middle of its flat colour step
        text.append(f"{d.name}: no air-quality reading" if v is None else f"{d.name}: worst station AQI {v:.0f}")
    out = {DISTRICTS: {"z": z, "text": text}}
    k = kpis["environment.aqi"]
    age = "air: no reading yet" if k.get("age_s") is None else "air as of " + format_age(k["age_s"])
    out[AGE] = {"text": ("STALE — " if k.get("status") == "stale" else "") + age}
    groups: dict[int, tuple[list, list, list, list]] = {i: ([], [], [], []) for i in range(FIRST_AIR, WATER_ALERT_TRACE + 1)}
    for s in stations:
        if s.get("lon") is None or s.get("lat") is None:
            continue
        if s["kind"] == "air":
            i = FIRST_AIR + (category_index(s.get("aqi")) if s.get("current") and s.get("aqi") is not None
                             else len(AIR_TRACES) - 1)
        elif s["kind"] == "noise":
            i = NOISE_OVER_TRACE if s.get("current") and s.get("exceeds") else NOISE_TRACE
        else:
            i = WATER_ALERT_TRACE if s.get("current") and s.get("alert") else WATER_TRACE
        lon, lat, txt, ids = groups[i]
        lon.append(s["lon"])
        lat.append(s["lat"])
        txt.append(station_text(s))
        ids.append(s["id"])
    for i, (lon, lat, txt, ids) in groups.items():
        out[i] = {"lon": lon, "lat": lat, "text": txt, "customdata": ids}
    air = [s for s in stations if s["kind"] == "air" and s.get("lon") is not None and s.get("lat") is not None]
    out[HALO] = {"lon": [s["lon"] for s in air], "lat": [s["lat"] for s in air]}
    return out


def apply_map_data(figure, data: dict):
    """Set the live arrays on the skeleton dict (first paint) or on a dash ``Patch()`` (refresh); the
    ``AGE`` entry is the map's "as of" annotation, not a trace."""
    for field, value in data.get(AGE, {}).items():
        figure["layout"]["annotations"][0][field] = value
    return maps.apply_map_data(figure, {i: fields for i, fields in data.items() if i != AGE})


# ----------------------------------------------------------------------------- station table
def _severity(s: dict) -> tuple:
    if not s.get("current"):
        return (0, 0)
    if s["kind"] == "air":
        return (2 if (s.get("aqi") or 0) > 100 else 1, s.get("aqi") or 0)
    if s["kind"] == "noise":
        return (2 if s.get("exceeds") else 1, (s.get("laeq") or 0) - (s.get("limit") or 0))
    return (2 if s.get("alert") else 1, len(s.get("alerts") or []))


def reading_cells(s: dict) -> tuple[str, html.Span]:
    """(reading, status chip) of a station for the table."""
    if not s.get("as_of"):
        return "—", html.Span("NO DATA", className="badge badge-no_data")
    if not s.get("current"):
        return "—", html.Span("NOT REPORTING", className="badge badge-stale")
    if s["kind"] == "air":
        if s.get("aqi") is None:
            return "NowCast pending", html.Span("NO AQI", className="badge badge-no_data")
        chip = html.Span(short(s["category"]), className="cat-chip",
                         style={"background": s["colour"], "color": "#111" if s["aqi"] <= 100 else "#fff"})
        return f"AQI {s['aqi']}{'+' if s.get('beyond') else ''} · {LABELS.get(s['pollutant'], s['pollutant'])}", chip
    if s["kind"] == "noise":
        word = "OVER LIMIT" if s.get("exceeds") else "OK"
        return (f"{s['laeq']:.1f} dB(A) / {s['limit']:g} {s['period']}",
                html.Span(word, className="badge " + ("badge-breach" if s.get("exceeds") else "badge-ok")))
    parts = []
    if s.get("free_chlorine") is not None:
        parts.append(f"Cl {s['free_chlorine']:g} mg/L")
    if s.get("turbidity") is not None:
        parts.append(f"{s['turbidity']:g} NTU")
    return " · ".join(parts), html.Span("ALERT" if s.get("alert") else "OK",
                                        className="badge " + ("badge-breach" if s.get("alert") else "badge-ok"))


def station_table(city: City, stations: list[dict], district: str | None) -> list:
    names = {d.id: d.name for d in city.districts}
    rows_in = sorted(stations, key=_severity, reverse=True)
    limit = DISTRICT_ROWS if district else TABLE_ROWS
    now = time.time()
    rows = []
    for s in rows_in[:limit]:
        reading, chip = reading_cells(s)
        sev = _severity(s)[0]
        rows.append(html.Tr([
            html.Td(dcc.Link(s["name"], href=f"/environment?station={s['id']}", id=f"environment-row-{safe_id(s['id'])}")),
            html.Td(s["kind"]),
            html.Td(dcc.Link(names.get(s.get("district"), "—"), href=f"/environment?district={s['district']}")
                    if s.get("district") else "—"),
            html.Td(reading), html.Td(chip),
            html.Td(format_age(now - s["as_of"]) if s.get("as_of") else "—"),
        ], className="row-breach" if sev == 2 else ""))
    title = f"Stations in {names[district]}, worst first" if district else "Stations, worst first"
    parts = [html.H3(title),
             html.Table([html.Thead(html.Tr([html.Th(h) for h in ("station", "kind", "district", "reading", "", "as of")])),
                         html.Tbody(rows)], className="table", id="environment-table")]
    if len(rows_in) > limit:
        rest = rows_in[limit:]
        bad = sum(1 for s in rest if _severity(s)[0] == 2)
        parts.append(html.P(f"{len(rest)} more station(s) not shown" + (
            f", {bad} of them over a limit: open their district or see /api/v1/stations." if bad
            else ", all within their limits or not reporting."), className="muted", id="environment-more"))
    if not rows_in:
        parts.append(html.P("No station in this district.", className="muted"))
    return parts


# ----------------------------------------------------------------------------- station drill-down
def _local_x(t: float, tz: str) -> str:
    return datetime.fromtimestamp(t, zone(tz)).strftime("%Y-%m-%d %H:%M")


def _figure(theme: str, title: str, y_title: str, traces: list[dict], shapes: list | None = None,
            bargap: float | None = None) -> dict:
    layout = {"title": {"text": title, "font": {"size": 18}}, "paper_bgcolor": "rgba(0,0,0,0)",
              "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": TEXT[theme], "size": 14},
              "margin": {"l": 60, "r": 20, "t": 46, "b": 50}, "height": 320,
              "xaxis": {"gridcolor": GRID[theme], "type": "date"},
              "yaxis": {"title": {"text": y_title}, "gridcolor": GRID[theme], "rangemode": "tozero"},
              "legend": {"orientation": "h", "y": -0.22}, "shapes": shapes or []}
    if bargap is not None:
        layout["bargap"] = bargap
    return {"data": traces, "layout": layout}


def _hline(y: float, colour: str) -> dict:
    return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": y, "y1": y,
            "line": {"color": colour, "width": 2, "dash": "dash"}}


def station_view(st: dict | None, sid: str, city: City, theme: str) -> list:
    """The drill-down of one station (its history) for ``?station=...``."""
    if st is None:
        return [html.Div([html.H3(f"No station {sid!r}"),
                          html.P("It is neither configured nor reported by any feed.", className="muted")],
                         className="panel")]
    names = {d.id: d.name for d in city.districts}
    head = [html.H2(st["name"], className="station-title"),
            html.Span(f"{st['kind']} · {names.get(st.get('district'), 'outside the districts')} · "
                      f"{st.get('source') or ''}", className="muted")]
    if st.get("district"):
        head.append(dcc.Link(f"all stations in {names.get(st['district'])}", href=f"/environment?district={st['district']}",
                             className="back-link", id="environment-station-district"))
    reading, chip = reading_cells(st)
    age = ("as of " + format_age(time.time() - st["as_of"])) if st.get("as_of") else "no reading yet"
    head += [html.Span(reading, className="station-reading"), chip,
             html.Span(age, className="aqi-age", id="environment-station-age")]
    graphs = []
    tz = city.timezone
    hist = st.get("history") or []
    if st["kind"] == "air":
        if hist:
            x = [_local_x(p["hour"], tz) for p in hist]
            pm = []
            for p, colour in (("pm25", "#60a5fa"), ("pm10", "#f472b6")):
                if not any(p in h["means"] for h in hist):
                    continue
                pm.append({"type": "scatter", "mode": "lines+markers", "name": f"{LABELS[p]} hourly mean", "x": x,
                           "y": [h["means"].get(p) for h in hist], "line": {"color": colour, "width": 1.5, "dash": "dot"},
                           "marker": {"size": 6}})
                pm.append({"type": "scatter", "mode": "lines", "name": f"{LABELS[p]} NowCast", "x": x,
                           "y": [h["nowcast"].get(p) for h in hist], "line": {"color": colour, "width": 4}})
            gases = []
            for p, colour, scale, unit in (("o3", "#facc15", 1000.0, "ppb"), ("no2", "#fb923c", 1.0, "ppb"),
                                           ("so2", "#a3e635", 1.0, "ppb"), ("co", "#c084fc", 1.0, "ppm")):
                if any(p in h["means"] for h in hist):
                    gases.append({"type": "scatter", "mode": "lines+markers", "name": f"{LABELS[p]} hourly mean ({unit})",
                                  "x": x, "y": [h["means"][p] * scale if p in h["means"] else None for h in hist],
                                  "line": {"color": colour, "width": 3}, "marker": {"size": 5}})
            timeline = {"type": "bar", "name": "AQI", "x": x, "y": [h["aqi"] for h in hist],
                        "marker": {"color": [h.get("colour") or NO_DATA_COLOUR for h in hist]},
                        "text": [f"{short(h['category'])} ({LABELS.get(h['pollutant'], '—')})" if h["aqi"] is not None
                                 else "no AQI" for h in hist],
                        "textposition": "none", "showlegend": False,
                        "hovertemplate": "%{x}<br>AQI %{y}: %{text}<extra></extra>"}
            shapes = [_hline(hi, colour) for _, hi, _, colour in BANDS[:4]]
            graphs.append(dcc.Graph(id="environment-history", className="station-graph", config={"displayModeBar": False},
                                    figure=_figure(theme, "Particulates: raw hourly means and NowCast (µg/m³)", "µg/m³", pm)))
            if gases:
                graphs.append(dcc.Graph(id="environment-gases", className="station-graph", config={"displayModeBar": False},
                                        figure=_figure(theme, "Gases: hourly means", "ppb / ppm", gases)))
            graphs.append(dcc.Graph(id="environment-timeline", className="station-graph", config={"displayModeBar": False},
                                    figure=_figure(theme, "AQI and its category, hour by hour (EPA colours)", "AQI",
                                                   [timeline], shapes, bargap=0.08)))
    elif hist:
        x = [_local_x(h["t"], tz) for h in hist]
        if st["kind"] == "noise":
            conf_limits = [st.get("limit")] if st.get("limit") else []
            graphs.append(dcc.Graph(id="environment-history", className="station-graph", config={"displayModeBar": False},
                                    figure=_figure(theme, "LAeq readings (dB(A)); dashed: the current limit", "dB(A)",
                                                   [{"type": "scatter", "mode": "lines", "name": "LAeq", "x": x,
                                                     "y": [h.get("laeq") for h in hist],
                                                     "line": {"color": NOISE_OK, "width": 3}}],
                                                   [_hline(v, NOISE_OVER) for v in conf_limits])))
        else:
            traces = [{"type": "scatter", "mode": "lines+markers", "name": "free chlorine (mg/L)", "x": x,
                       "y": [h.get("free_chlorine") for h in hist], "line": {"color": WATER_OK, "width": 3}},
                      {"type": "scatter", "mode": "lines+markers", "name": "turbidity (NTU)", "x": x,
                       "y": [h.get("turbidity") for h in hist], "line": {"color": "#a78bfa", "width": 3}}]
            graphs.append(dcc.Graph(id="environment-history", className="station-graph", config={"displayModeBar": False},
                                    figure=_figure(theme, "Samples; dashed: chlorine 0.2 and turbidity 1 NTU", "mg/L · NTU",
                                                   traces, [_hline(0.2, WATER_ALERT), _hline(1.0, "#a78bfa")])))
    if not graphs:
        graphs.append(html.P("No history yet.", className="muted"))
    return [html.Div(head, className="station-head"), html.Div(graphs, className="station-graphs")]
