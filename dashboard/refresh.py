"""What a page's refresh remembers in its version store: the KPI version it shows, and for which view.

A refresh still in flight from the previous view (a drill-down re-rendered the page) can land on the new
view's components, which share their ids. Tagging the stored version with its view makes the next tick
repaint the page whole instead of sending Patches onto the wrong picture.
"""
from __future__ import annotations


def shown_version(stored, view: list):
    """The KPI version the page shows for ``view``; None (paint it whole) when it shows another view or
    nothing yet."""
    if isinstance(stored, dict) and stored.get("view") == view:
        return stored.get("version")
    return None


def showing(version, view: list) -> dict:
    """What to store once ``version`` of ``view`` is painted."""
    return {"version": version, "view": view}
