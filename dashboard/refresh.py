"""What a page's refresh remembers in its version store: the KPI version it shows, and for which view;
and when it last re-sent its ages (a tick with no new data and no ages due sends nothing).

A refresh still in flight from the previous view (a drill-down re-rendered the page) can land on the new
view's components, which share their ids. Tagging the stored version with its view makes the next tick
repaint the page whole instead of sending Patches onto the wrong picture.
"""
from __future__ import annotations

AGES_EVERY_S = 15  # with no new data, a page's ages and stale statuses are still re-sent this often


def ages_due(stored, now: float, every_s: float | None = None) -> bool:
    """Whether a page that stored ``{"t": when it last sent its ages}`` must send them again now: once in
    each ``every_s`` slot of the clock, the same slots for every screen. Screens that re-send their ages
    in the same second show the same cards, so their next refreshes are computed once for all of them;
    each screen on its own phase would make each one's cards differ from all the others'."""
    every_s = every_s or AGES_EVERY_S
    t = stored.get("t") if isinstance(stored, dict) else None
    return not isinstance(t, (int, float)) or int(now // every_s) != int(t // every_s)


def ages_slot(now: float) -> int:
    """The AGES_EVERY_S slot of the clock ``now`` is in (a part whose ages move is redrawn once per slot)."""
    return int(now // AGES_EVERY_S)


def shown_version(stored, view: list):
    """The KPI version the page shows for ``view``; None (paint it whole) when it shows another view or
    nothing yet."""
    if isinstance(stored, dict) and stored.get("view") == view:
        return stored.get("version")
    return None


def showing(version, view: list) -> dict:
    """What to store once ``version`` of ``view`` is painted."""
    return {"version": version, "view": view}


def slot_s() -> int:
    """How long to keep what is drawn once per ages slot (a view's content): the slot, at most a minute (the
    tests make the slots endless)."""
    return int(min(AGES_EVERY_S, 60))
