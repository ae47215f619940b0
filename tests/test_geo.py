"""Geometry helpers against values worked out by hand."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from feeds.geo import EARTH_RADIUS_M, districts_geojson, haversine_m, point_in_polygon, polyline_midpoint


def test_haversine_along_a_meridian_is_radius_times_angle():
    # 0.01 degree of latitude = 0.01 x pi / 180 x 6,371,008.8 m = 1111.95 m
    assert haversine_m((-74.0, 40.0), (-74.0, 40.01)) == pytest.approx(0.01 * math.pi / 180 * EARTH_RADIUS_M)


def test_midpoint_is_half_way_by_length_not_by_vertex_count():
    # 3 km north, then 1 km further north in many small steps: the midpoint is 2 km up the first leg.
    lat_per_km = math.degrees(1000 / EARTH_RADIUS_M)
    line = [(0.0, 0.0), (0.0, 3 * lat_per_km)] + [(0.0, (3 + k / 10) * lat_per_km) for k in range(1, 11)]
    lon, lat = polyline_midpoint(line)
    assert lat == pytest.approx(2 * lat_per_km)


def test_point_in_polygon_open_or_closed_ring():
    square = [(0, 0), (1, 0), (1, 1), (0, 1)]
    assert point_in_polygon((0.5, 0.5), square) and point_in_polygon((0.5, 0.5), square + [(0, 0)])
    assert not point_in_polygon((1.5, 0.5), square)


def test_geojson_rings_are_closed_even_when_configured_open():
    d = SimpleNamespace(id="D1", name="One", polygon=[(0, 0), (1, 0), (1, 1)])
    (feature,) = districts_geojson([d])["features"]
    assert feature["geometry"]["coordinates"] == [[[0, 0], [1, 0], [1, 1], [0, 0]]]
