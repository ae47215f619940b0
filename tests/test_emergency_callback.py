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
    # A screen a version behind whose map shows other arrays (a frame no longer kept): a Patch.
    newer = refresh(client, {**shown, "version": shown["version"] - 1}, {**digest, "map": "older"}, whole)
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


def test_screens_at_one_version_share_the_panels_drawn_once_but_each_answer_has_its_own_clock(client):  # noqa: F811
    """Everything a view shows is drawn once per (version, view, ages slot) for every screen, so screens
    painted a second apart show the same panels (their next refreshes are one computation); the unit
    board's clock reference, which the browser's timers run from, is the time of each answer."""
    import time

    from dashboard.pages.emergency import BOARD_CLOCK

    whole = {"district": None, "incident": None}
    a = refresh(client, None, None, whole)
    time.sleep(1.1)
    b = refresh(client, None, None, whole)
    assert a["emergency-digest"]["data"]["parts"] == b["emergency-digest"]["data"]["parts"]
    assert a["emergency-digest"]["data"]["board"] == b["emergency-digest"]["data"]["board"]

    def clock(answer) -> float:
        ref = answer["emergency-board"]["children"][BOARD_CLOCK]
        return float(ref["props"]["data-now"])
    assert clock(b) >= clock(a) + 1
    # A screen a version behind is sent only what moved in its panels, against what it shows.
    shown = a["emergency-version"]["data"]
    older = refresh(client, {**shown, "version": shown["version"] - 1}, a["emergency-digest"]["data"], whole)
    assert "emergency-queue" not in older and "emergency-cards" not in older  # the same as it shows
    assert older["emergency-digest"]["data"]["parts"] == a["emergency-digest"]["data"]["parts"]
    # Its map shows these arrays already: not sent, and the version it now shows is stored.
    assert "emergency-map" not in older and older["emergency-version"]["data"]["version"] == shown["version"]
