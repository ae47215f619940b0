"""Map figures as plain dicts (no go.Figure on the refresh path), MapLibre with no network.

The base is plotly's named "white-bg" style (no sources, nothing fetched), painted with the theme's
background as a world-covering GeoJSON fill layer, so an air-gapped operations centre and the tests
draw the map with no tile server; MAP_TILE_URL adds a raster tile layer over that background.
Not an inline style object: Plotly.react re-applies an object style on every update and MapLibre
then fails with "Map error." (seen in Chromium with plotly 7.1). No text labels: symbol text would
fetch glyphs from the internet.
"""
from __future__ import annotations

from dash import dcc

from feeds.config import City
from feeds.geo import districts_geojson

# TomTom speed-ratio bands (feed-formats.md §3.4): lower bound, colour, label.
SPEED_BANDS = [
    (0.9, "#1a9850", "≥ 90 % of free flow"),
    (0.8, "#91cf60", "80–90 %"),
    (0.7, "#fee08b", "70–80 %"),
    (0.6, "#fc8d59", "60–70 %"),
    (0.0, "#d73027", "< 60 % (congested)"),
]
NO_DATA_COLOUR = "#7c8799"
THEME_BG = {"dark": "#0b1220", "light": "#eef2f6"}
THEME_OUTLINE = {"dark": "#51627d", "light": "#8a99ad"}


def band_of(ratio: float | None) -> int | None:
    if ratio is None:
        return None
    for i, (lo, _, _) in enumerate(SPEED_BANDS):
        if ratio >= lo:
            return i
    return len(SPEED_BANDS) - 1


WORLD = {"type": "Feature", "properties": {},
         "geometry": {"type": "Polygon", "coordinates": [[[-180, -85], [180, -85], [180, 85], [-180, 85], [-180, -85]]]}}


def base_layout(city: City, theme: str, tile_url: str | None, center=None, zoom=None, uirevision="city") -> dict:
    layers = [{"below": "traces", "sourcetype": "geojson", "source": WORLD, "type": "fill",
               "color": THEME_BG.get(theme, THEME_BG["dark"])}]
    if tile_url:
        layers.append({"below": "traces", "sourcetype": "raster", "source": [tile_url], "opacity": 0.55})
    c = center or city.center
    return {
        "map": {"style": "white-bg", "center": {"lon": c[0], "lat": c[1]}, "zoom": zoom or city.zoom, "layers": layers},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": 0, "yanchor": "bottom", "bgcolor": "rgba(0,0,0,0.45)" if theme == "dark" else "rgba(255,255,255,0.8)",
                   "font": {"color": "#e5e7eb" if theme == "dark" else "#111827", "size": 13}},
        "uirevision": uirevision,
        "clickmode": "event",
    }


def district_values(city: City, values: dict[str, float | None], label: str, zmin: float) -> dict:
    """The live part of the district layer: its colour values and hover texts."""
    z, text = [], []
    for d in city.districts:
        v = values.get(d.id)
        z.append(zmin if v is None else v)
        text.append(f"{d.name}: no data" if v is None else f"{d.name}: {label} {v:.2f}")
    return {"z": z, "text": text}


def district_layer(city: City, values: dict[str, float | None], label: str, theme: str,
                   colorscale, zmin: float, zmax: float, focus: str | None = None) -> dict:
    ids = [d.id for d in city.districts]
    live = district_values(city, values, label, zmin)
    return {
        "type": "choroplethmap", "geojson": districts_geojson(city.districts), "locations": ids, "featureidkey": "id",
        "z": live["z"], "zmin": zmin, "zmax": zmax, "colorscale": colorscale, "showscale": False,
        "marker": {"opacity": [0.10 if focus and d != focus else 0.28 for d in ids],
                   "line": {"color": [("#f8fafc" if theme == "dark" else "#0f172a") if d == focus
                                      else THEME_OUTLINE[theme] for d in ids],
                            "width": [4 if d == focus else 1.5 for d in ids]}},
        "text": live["text"], "hovertemplate": "%{text}<br>click to drill down<extra></extra>",
        "name": "Districts", "showlegend": False,
    }


def line_traces(links, theme: str) -> list[dict]:
    """One trace per speed band (lines split by None), plus one for links without data."""
    groups: dict[int | None, tuple[list, list]] = {}
    for link in links:
        lons, lats = groups.setdefault(band_of(link.ratio), ([], []))
        for lon, lat in link.points:
            lons.append(lon)
            lats.append(lat)
        lons.append(None)
        lats.append(None)
    traces = []
    for i, (_, colour, label) in enumerate(SPEED_BANDS):
        lons, lats = groups.get(i, ([], []))
        traces.append({"type": "scattermap", "mode": "lines", "lon": lons, "lat": lats, "name": label,
                       "line": {"color": colour, "width": 4}, "hoverinfo": "skip"})
    lons, lats = groups.get(None, ([], []))
    traces.append({"type": "scattermap", "mode": "lines", "lon": lons, "lat": lats, "name": "no reading or free flow unknown",
                   "line": {"color": NO_DATA_COLOUR, "width": 2}, "hoverinfo": "skip"})
    return traces


# A dense road network (a large city: thousands of links) is drawn as thin grey roads, sent once per view,
# with one dot per link coloured by its speed band: a refresh then carries one small number per link
# (its % of free flow), not every link's geometry regrouped by band.
DENSE_LINKS = 1000
ROAD_COLOUR = "#5b6678"


def dense_network(city: City) -> bool:
    """Whether the city's road network is drawn dense (decided by the city, so it never flips mid-view)."""
    return len(city.traffic.links) > DENSE_LINKS


def _band_scale() -> list:
    """Colours over 0..100 % of free flow by the speed bands; 0 (no reading) grey."""
    scale = [[0, NO_DATA_COLOUR], [0.005, NO_DATA_COLOUR]]
    for lo, colour, _ in reversed(SPEED_BANDS):
        hi = next((b[0] for b in reversed(SPEED_BANDS) if b[0] > lo), 1.0)
        scale += [[max(lo, 0.005), colour], [hi, colour]]
    return scale


def ratio_pct(ratio: float | None) -> int:
    """A speed ratio as a whole % of free flow; 0: no reading (a reading of 0 km/h counts as none)."""
    return 0 if ratio is None else max(1, int(ratio * 100))  # floor: the band edges agree with band_of


def dense_traces(theme: str) -> list[dict]:
    """The dense network's traces, in line_traces' + link_hover_trace's positions: the bands (legend
    only), the roads, the coloured dots."""
    bands = line_traces([], theme)
    bands[-1].update(name="road links", line={"color": ROAD_COLOUR, "width": 1.5})
    dots = link_hover_trace([])
    dots.update(marker={"size": 7, "opacity": 0.95, "color": [], "cmin": 0, "cmax": 100,
                        "colorscale": _band_scale(), "showscale": False},
                hovertemplate="%{text}<br>%{marker.color} % of free flow (0: no reading)<extra></extra>")
    return [*bands, dots]


def link_hover_trace(links) -> dict:
    lon, lat, text, ids = [], [], [], []
    for link in links:
        lon.append(link.mid[0])
        lat.append(link.mid[1])
        ids.append(link.id)
        if link.speed_kmh is None:
            text.append(f"{link.name}<br>no reading")
        elif link.ratio is None:
            text.append(f"{link.name}<br>{link.speed_kmh:.0f} km/h (free flow unknown)")
        else:
            text.append(f"{link.name}<br>{link.speed_kmh:.0f} km/h, {link.ratio * 100:.0f} % of free flow")
    return {"type": "scattermap", "mode": "markers", "lon": lon, "lat": lat, "text": text, "customdata": ids,
            "marker": {"size": 9, "opacity": 0.01, "color": "#ffffff"}, "hovertemplate": "%{text}<extra></extra>",
            "name": "links", "showlegend": False}


def incidents_trace(incidents: list[dict]) -> dict:
    colour = {"minor": "#facc15", "major": "#fb923c", "critical": "#f43f5e"}
    return {"type": "scattermap", "mode": "markers", "name": "road incidents",
            "lon": [i["lon"] for i in incidents], "lat": [i["lat"] for i in incidents],
            "text": [f"{i['type']} ({i['severity']})<br>{i.get('description', '')}" for i in incidents],
            "marker": {"size": 16, "color": [colour.get(i["severity"], "#facc15") for i in incidents],
                       "opacity": 0.95},
            "hovertemplate": "%{text}<extra></extra>"}


EMPTY_FIGURE = {"data": [], "layout": {"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}}


def map_graph(component_id: str) -> dcc.Graph:
    """A page's map, empty until its first refresh paints it (no mode bar; wheel zooms)."""
    return dcc.Graph(id=component_id, className="map", config={"displayModeBar": False, "scrollZoom": True},
                     figure=EMPTY_FIGURE)


def apply_map_data(figure, data: dict[int, dict]):
    """Set a map's live arrays, ``{trace index: {"field" or "marker.color": value}}``, on ``figure``: the
    skeleton dict (first paint) or a dash ``Patch()`` (later refreshes, which then carry only these
    arrays). Both index the same way."""
    for i, fields in data.items():
        for field, value in fields.items():
            *path, last = field.split(".")
            target = figure["data"][i]
            for part in path:
                target = target[part]
            target[last] = value
    return figure
