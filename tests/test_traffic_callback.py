"""The traffic page's refresh callback over HTTP: full figure, Patch, or nothing, by what the map shows."""
from __future__ import annotations

import pytest

from bench.common import dash_refresh
from tests.test_api import client  # noqa: F401  (the API test's app over the real NYC snapshot)


pytestmark = pytest.mark.usefixtures("steady_ages")


def refresh(client, shown, focus=None):  # noqa: F811
    outs = [("traffic-cards", "children"), ("traffic-map", "figure"), ("traffic-side", "children"),
            ("traffic-version", "data")]
    return dash_refresh(client, outs, [("traffic-focus", "data", focus), ("traffic-version", "data", shown)])[2]


def is_patch(figure) -> bool:
    return isinstance(figure, dict) and figure.get("__dash_patch_update") == "__dash_patch_update"


@pytest.mark.parametrize("focus", [None, "manhattan"])
def test_first_paint_then_patch_then_nothing(client, focus):  # noqa: F811
    first = refresh(client, None, focus)
    figure, shown = first["traffic-map"]["figure"], first["traffic-version"]["data"]
    assert "layout" in figure and figure["data"]  # the whole figure
    assert shown["view"] == [focus, "dark"]
    newer = refresh(client, {**shown, "version": shown["version"] - 1}, focus)
    assert is_patch(newer["traffic-map"]["figure"])
    assert refresh(client, shown, focus) == {}  # nothing new, ages not due: nothing sent (204)
    aged = refresh(client, {**shown, "t": 0}, focus)
    assert "traffic-map" not in aged and aged["traffic-version"]["data"]["t"] > shown["t"]  # ages redone, map left


def test_a_refresh_from_another_view_repaints_the_whole_map(client):  # noqa: F811
    # The district view's response landed on the city-wide page: the store says Manhattan while the page is
    # the whole city. The next tick must send a whole figure, not a Patch onto the zoomed picture.
    district = refresh(client, None, "manhattan")["traffic-version"]["data"]
    res = refresh(client, district, None)
    assert not is_patch(res["traffic-map"]["figure"]) and "layout" in res["traffic-map"]["figure"]
    assert res["traffic-version"]["data"]["view"] == [None, "dark"]


def test_an_unknown_district_in_the_request_is_the_whole_city_not_a_500(client):  # noqa: F811
    res = refresh(client, None, "atlantis")
    assert res["traffic-version"]["data"]["view"] == [None, "dark"]
