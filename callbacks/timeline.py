"""The city timeline's list and add box, and the one way every page's add box saves a note.

Every add callback calls ``dashboard.auth.require_role("coordinator")`` first (in ``save_note``):
a viewer or a wall screen that posts to the callback anyway gets 403 and nothing is written.
"""
from __future__ import annotations

import time
from datetime import datetime

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import refresh as refresh_state
from dashboard.auth import current_user, has_role, require_role
from dashboard.pages import timeline as timeline_page
from dashboard.store import StoreUnavailable
from feeds.annotations import AnnotationError, Annotations
from feeds.timeparse import local_to_epoch, zone


def parse_local_at(text: str | None, tz: str, now: float) -> float | None:
    """"HH:MM" (today, city time) or "YYYY-MM-DD HH:MM" -> epoch; None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%H:%M"):
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if fmt == "%H:%M":
            today = datetime.fromtimestamp(now, zone(tz))
            dt = dt.replace(year=today.year, month=today.month, day=today.day)
        return local_to_epoch(dt, tz, now)
    raise AnnotationError(f"time must be HH:MM or YYYY-MM-DD HH:MM, got {text!r}")


def save_note(store, target: str, text: str | None, at_text: str | None = None):
    """(message, text box value, saved note id) for an add box. The role check comes first."""
    user = require_role("coordinator")
    now = time.time()
    try:
        at = parse_local_at(at_text, store.city.timezone, now)
        note = store.call(Annotations(store.r, store.keys).add, target, text, user.name, at, now)
    except AnnotationError as e:
        return f"Not added: {e}.", no_update, no_update
    except StoreUnavailable:
        return "Not added: the data store does not answer; try again.", no_update, no_update
    when = timeline_page.local_time(store.city, note["at"], "%H:%M")
    return f"Added by {note['by']}, about {when}.", "", note["id"]


def register(app, store, settings) -> None:
    @app.callback(Output("timeline-notes", "children"), Output("timeline-shown", "data"),
                  Input("tick", "n_intervals"), Input("timeline-note-saved", "data"),
                  State("timeline-focus", "data"), State("timeline-shown", "data"))
    def refresh(_, __, focus, shown):
        since_h = (focus or {}).get("since_h") or timeline_page.DEFAULT_SINCE_H
        deletable = has_role(current_user(), "coordinator")
        view = [since_h, deletable]
        book = Annotations(store.r, store.keys)
        try:
            version = store.call(book.version)
            if refresh_state.shown_version(shown, view) == version:
                raise PreventUpdate  # nothing new (the list's times are absolute: no ages to move)
            notes = store.call(book.list, "timeline", time.time() - since_h * 3600)
        except StoreUnavailable:
            raise PreventUpdate
        return (timeline_page.notes_table(store.city, notes, "timeline-table", deletable=deletable),
                refresh_state.showing(version, view))

    @app.callback(Output("timeline-note-msg", "children"), Output("timeline-note-text", "value"),
                  Output("timeline-note-saved", "data"),
                  Input("timeline-note-add", "n_clicks"), State("timeline-note-text", "value"),
                  State("timeline-note-at", "value"), prevent_initial_call=True)
    def add(n_clicks, text, at_text):
        require_role("coordinator")
        if not n_clicks:
            raise PreventUpdate
        return save_note(store, "timeline", text, at_text)

    @app.callback(Output("timeline-note-msg", "children", allow_duplicate=True),
                  Output("timeline-note-saved", "data", allow_duplicate=True),
                  Input({"type": "note-delete", "note": ALL}, "n_clicks"), prevent_initial_call=True)
    def delete(clicks):
        user = require_role("coordinator")
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not ctx.triggered[0].get("value"):
            raise PreventUpdate  # a list re-render, not a click
        try:
            note = store.call(Annotations(store.r, store.keys).delete, trigger["note"], user.name)
        except AnnotationError as e:
            return f"Not deleted: {e}.", no_update
        except StoreUnavailable:
            return "Not deleted: the data store does not answer; try again.", no_update
        return f"Deleted “{note['text'][:60]}” (kept in the audit).", f"deleted:{note['id']}"
