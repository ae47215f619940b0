"""The /emergency refresh callback over HTTP: whole figure, Patch, or nothing, by the (version, view) shown."""
from __future__ import annotations

import orjson

from tests.test_emergency_api import city, client  # noqa: F401  (the real SF call + unit events)

OUTPUTS = (("cards", "children"), ("asof", "children"), ("detail", "children"), ("queue", "children"),
           ("board", "children"), ("districts", "children"), ("map", "figure"), ("version", "data"),
           ("digest", "data"))


def refresh(client, shown, digest, focus):  # noqa: F811
    body = orjson.dumps({
        "output": ".." + "...".join(f"emergency-{c}.{p}" for c, p in OUTPUTS) + "..",
        "outputs": [{"id": f"emergency-{c}", "property": p} for c, p in OUTPUTS],
        "inputs": [{"id": "tick", "property": "n_intervals", "value": 1},
                   {"id": "theme", "property": "data", "value": "dark"}],
        "state": [{"id": "emergency-focus", "property": "data", "value": focus},
                  {"id": "emergency-version", "property": "data", "value": shown},
                  {"id": "emergency-digest", "property": "data", "value": digest}],
        "changedPropIds": ["tick.n_intervals"]})
    res = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert res.status_code == 200, res.data[:300]
    return res.json["response"]


def is_patch(figure) -> bool:
    return isinstance(figure, dict) and figure.get("__dash_patch_update") == "__dash_patch_update"


def test_patch_for_the_view_shown_and_a_whole_repaint_after_a_view_change(client):  # noqa: F811
    whole = {"district": None, "incident": None}
    first = refresh(client, None, None, whole)
    shown, digest = first["emergency-version"]["data"], first["emergency-digest"]["data"]
    assert shown["view"] == [None, None, "dark"] and "layout" in first["emergency-map"]["figure"]
    newer = refresh(client, {**shown, "version": shown["version"] - 1}, digest, whole)
    assert is_patch(newer["emergency-map"]["figure"])
    assert "emergency-map" not in refresh(client, shown, digest, whole)  # nothing new
    # The whole-city answer landed on an incident's drill-down (in flight while the page changed): the
    # next tick repaints the map and the panel for the incident instead of patching the city's picture.
    drill = refresh(client, shown, digest, {"district": None, "incident": "I-1"})
    assert "layout" in drill["emergency-map"]["figure"]
    assert drill["emergency-version"]["data"]["view"] == [None, "I-1", "dark"]
    assert "Medical" in str(drill["emergency-detail"]["children"])  # I-1 is a Medical call
