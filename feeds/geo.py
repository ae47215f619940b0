"""Small geometry on WGS84 coordinates, GeoJSON order (lon, lat). Pure functions."""
from __future__ import annotations

import math
from typing import Iterable, Sequence

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius

LonLat = tuple[float, float]


def haversine_m(a: LonLat, b: LonLat) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def polyline_length_m(points: Sequence[LonLat]) -> float:
    return sum(haversine_m(points[i], points[i + 1]) for i in range(len(points) - 1))


def polyline_midpoint(points: Sequence[LonLat]) -> LonLat:
    """The point halfway along the line (by length)."""
    half = polyline_length_m(points) / 2
    walked = 0.0
    for a, b in zip(points, points[1:]):
        step = haversine_m(a, b)
        if step and walked + step >= half:
            f = (half - walked) / step
            return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))
        walked += step
    return points[len(points) // 2]


def point_in_polygon(p: LonLat, ring: Sequence[LonLat]) -> bool:
    """Ray casting; the ring may or may not repeat its first point."""
    x, y = p
    inside = False
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def district_of(p: LonLat, districts: Iterable) -> str | None:
    """Id of the first district (objects with .id and .polygon) containing p."""
    for d in districts:
        if point_in_polygon(p, d.polygon):
            return d.id
    return None


def valid_lonlat(lon: float, lat: float) -> bool:
    return -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0 and math.isfinite(lon) and math.isfinite(lat)


def districts_geojson(districts: Iterable) -> dict:
    """Districts (objects with .id, .name, .polygon) as a GeoJSON FeatureCollection."""
    features = []
    for d in districts:
        ring = [list(p) for p in d.polygon]
        if ring[0] != ring[-1]:
            ring.append(ring[0])  # GeoJSON rings are closed
        features.append({"type": "Feature", "id": d.id, "properties": {"id": d.id, "name": d.name},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": features}
