"""The /transit refresh callback over HTTP: whole figure, Patch, or nothing, by the (version, view) shown."""
from __future__ import annotations

from pathlib import Path

from bench.common import dash_refresh
from feeds.adapters.transit import TransitAdapter
from feeds.config import FeedSource
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from tests.test_transit_api import client_for

FIX = Path(__file__).parent / "fixtures" / "transit"


def refresh(client, shown, focus):
    outs = [(f"transit-{c}", p) for c, p in (("cards", "children"), ("map", "figure"), ("side", "children"),
                                             ("detail", "children"), ("alerts", "children"), ("version", "data"))]
    return dash_refresh(client, outs, [("transit-focus", "data", focus), ("transit-version", "data", shown)])[2]


def is_patch(figure) -> bool:
    return isinstance(figure, dict) and figure.get("__dash_patch_update") == "__dash_patch_update"


def test_patch_only_for_the_view_shown_and_a_whole_figure_after_a_view_change(r, keys, redis_url, sample_city):
    source = FeedSource(interval_s=30, options={"gtfs_static": str(FIX / "usf_bullrunner_gtfs.zip")})
    Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city)).run_once(
        TransitAdapter(sample_city, source), (FIX / "usf_bullrunner_vehicle_positions.pb").read_bytes())
    client = client_for(redis_url, keys, sample_city)
    city_view = {"route": None, "vehicle": None, "sort": "on_time"}
    first = refresh(client, None, city_view)
    shown = first["transit-version"]["data"]
    assert "layout" in first["transit-map"]["figure"]
    assert is_patch(refresh(client, {**shown, "version": shown["version"] - 1}, city_view)["transit-map"]["figure"])
    assert "transit-map" not in refresh(client, shown, city_view)  # nothing new
    # The city view's answer landed on the route drill-down (a refresh in flight while the page changed):
    # the next tick repaints the whole map for the route instead of patching the city-wide picture.
    route = refresh(client, shown, {"route": "C", "vehicle": None, "sort": "on_time"})
    assert not is_patch(route["transit-map"]["figure"]) and "layout" in route["transit-map"]["figure"]
    assert route["transit-version"]["data"]["view"][0] == "C"
