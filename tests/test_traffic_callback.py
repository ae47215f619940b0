"""The traffic page's refresh callback over HTTP: full figure, Patch, or nothing, by what the map shows."""
from __future__ import annotations

import orjson
import pytest

from tests.test_api import client  # noqa: F401  (the API test's app over the real NYC snapshot)


def refresh(client, shown, focus=None):  # noqa: F811
    body = orjson.dumps({
        "output": "..traffic-cards.children...traffic-map.figure...traffic-side.children...traffic-version.data..",
        "outputs": [{"id": "traffic-cards", "property": "children"}, {"id": "traffic-map", "property": "figure"},
                    {"id": "traffic-side", "property": "children"}, {"id": "traffic-version", "property": "data"}],
        "inputs": [{"id": "tick", "property": "n_intervals", "value": 1},
                   {"id": "theme", "property": "data", "value": "dark"}],
        "state": [{"id": "traffic-focus", "property": "data", "value": focus},
                  {"id": "traffic-version", "property": "data", "value": shown}],
        "changedPropIds": ["tick.n_intervals"]})
    res = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert res.status_code == 200, res.data[:300]
    return res.json["response"]


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
    same = refresh(client, shown, focus)
    assert "traffic-map" not in same  # nothing new: the map is left alone


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
