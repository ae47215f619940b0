"""The /emergency refresh callback over HTTP: whole figure, Patch, or nothing, by the (version, view) shown."""
from __future__ import annotations

import pytest

from bench.common import dash_refresh
from tests.test_emergency_api import city, client  # noqa: F401  (the real SF call + unit events)

OUTPUTS = (("cards", "children"), ("asof", "children"), ("detail", "children"), ("queue", "children"),
           ("board", "children"), ("districts", "children"), ("map", "figure"), ("version", "data"),
           ("digest", "data"))


def refresh(client, shown, digest, focus):  # noqa: F811
    return dash_refresh(client, [(f"emergency-{c}", p) for c, p in OUTPUTS],
                        [("emergency-focus", "data", focus), ("emergency-version", "data", shown),
                         ("emergency-digest", "data", digest)])[2]


pytestmark = pytest.mark.usefixtures("steady_ages")


def is_patch(figure) -> bool:
    return isinstance(figure, dict) and figure.get("__dash_patch_update") == "__dash_patch_update"


def test_patch_for_the_view_shown_and_a_whole_repaint_after_a_view_change(client):  # noqa: F811
    whole = {"district": None, "incident": None}
    first = refresh(client, None, None, whole)
    shown, digest = first["emergency-version"]["data"], first["emergency-digest"]["data"]
    assert shown["view"] == [None, None, "dark"] and "layout" in first["emergency-map"]["figure"]
    newer = refresh(client, {**shown, "version": shown["version"] - 1}, digest, whole)
    assert is_patch(newer["emergency-map"]["figure"])
    assert refresh(client, shown, digest, whole) == {}  # nothing new: nothing sent (204)
    # The whole-city answer landed on an incident's drill-down (in flight while the page changed): the
    # next tick repaints the map and the panel for the incident instead of patching the city's picture.
    drill = refresh(client, shown, digest, {"district": None, "incident": "I-1"})
    assert "layout" in drill["emergency-map"]["figure"]
    assert drill["emergency-version"]["data"]["view"] == [None, "I-1", "dark"]
    assert "Medical" in str(drill["emergency-detail"]["children"])  # I-1 is a Medical call


def test_a_quiet_tick_sends_nothing_until_the_ages_are_due(client):  # noqa: F811
    """Most ticks of a wall of emergency screens bring no new batch: they cost a version read and a 204,
    and once in each AGES_EVERY_S slot of the clock the cards are redone (sent when their ages or statuses moved), the map and the
    queue still not."""
    whole = {"district": None, "incident": None}
    first = refresh(client, None, None, whole)
    shown, digest = first["emergency-version"]["data"], first["emergency-digest"]["data"]
    assert refresh(client, shown, digest, whole) == {}
    aged = refresh(client, shown, {**digest, "t": 0}, whole)
    assert "emergency-digest" in aged and "emergency-map" not in aged and "emergency-queue" not in aged
    sent_at = aged["emergency-digest"]["data"]["t"]
    assert sent_at > digest["t"] - 1 and refresh(client, shown, aged["emergency-digest"]["data"], whole) == {}
    # A hand-made request with a version and no digest store is answered (its ages are due), not a 500.
    assert "emergency-digest" in refresh(client, shown, None, whole)
