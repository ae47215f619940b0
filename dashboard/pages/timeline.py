"""The city timeline "/timeline": coordinators' notes on what happened in the city, newest first.

Timeline notes appear on every KPI trend chart (/kpi/<id>) as vertical markers. Coordinators add
notes here, on a trend page, or (for an incident) on its drill-down; viewers and wall screens read
them. The add box is drawn only for a coordinator, and the server refuses anyone else anyway.
``?since=<hours>`` narrows the list (default: the last 7 days), so a shared link shows the same list.

Also the notes pieces the other pages use: ``note_box`` (the add box) and ``notes_table``.
"""
from __future__ import annotations

from datetime import datetime

from dash import dcc, html

from dashboard.auth import current_user, has_role
from feeds.annotations import MAX_TEXT_CHARS
from feeds.config import City
from feeds.timeparse import zone

SINCE_CHOICES = (24, 168, 720, 2160)  # hours: a day, a week, 30 days, 90 days (all notes are kept 90 days)
DEFAULT_SINCE_H = 168


def can_annotate() -> bool:
    """Whether to draw an add box: only for a coordinator (a courtesy; the callbacks check again)."""
    return has_role(current_user(), "coordinator")


def parse_since(value) -> int:
    try:
        hours = int(value)
    except (TypeError, ValueError):
        return DEFAULT_SINCE_H
    return hours if hours in SINCE_CHOICES else DEFAULT_SINCE_H


def page(store, query: dict) -> html.Div:
    since_h = parse_since(query.get("since"))
    return layout(since_h, can_annotate())


def layout(since_h: int, annotate: bool) -> html.Div:
    choices = [dcc.Link(label, href=f"/timeline?since={h}", id=f"timeline-since-{h}",
                        className="range-link active" if h == since_h else "range-link")
               for h, label in zip(SINCE_CHOICES, ("24 h", "7 days", "30 days", "90 days"))]
    return html.Div(className="timeline-page", children=[
        dcc.Store(id="timeline-focus", data={"since_h": since_h}),
        dcc.Store(id="timeline-shown"),
        dcc.Store(id="timeline-note-saved"),
        html.Div([html.H1("City timeline"),
                  html.Span("Notes on what happened in the city; each shows on every KPI trend chart.",
                            className="muted")], className="page-head"),
        html.Div([html.Span("Show: ", className="muted"), *choices], className="range-links"),
        note_box("timeline", "Add a note to the timeline") if annotate else html.Div(),
        html.Div(id="timeline-notes", className="panel notes-panel"),
    ])


def note_box(prefix: str, title: str) -> html.Div:
    """Text, an optional "what time it is about" and an Add button; ids ``<prefix>-note-*``."""
    return html.Div(className="panel note-box", id=f"{prefix}-note-box", children=[
        html.H3(title),
        dcc.Textarea(id=f"{prefix}-note-text", maxLength=MAX_TEXT_CHARS, className="note-text",
                     placeholder="What happened, and what it explains (e.g. “Bridge closed for repairs”)"),
        html.Div(className="note-actions", children=[
            html.Label(["about (local time, optional) ",
                        dcc.Input(id=f"{prefix}-note-at", type="text", placeholder="HH:MM or YYYY-MM-DD HH:MM",
                                  debounce=False, className="note-at")]),
            html.Button("Add note", id=f"{prefix}-note-add", n_clicks=0, className="button"),
            html.Span(id=f"{prefix}-note-msg", className="note-msg"),
        ]),
    ])


def local_time(city: City, t: float, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(t, zone(city.timezone)).strftime(fmt)


def notes_table(city: City, notes: list[dict], table_id: str, show_target: bool = False,
                deletable: bool = False) -> list:
    """Notes as a table, newest first: when (city time), note, by, added; with ``deletable`` (a coordinator
    on /timeline) a delete button per note."""
    if not notes:
        return [html.Div("No notes yet.", className="muted", id=f"{table_id}-empty")]
    head = ["when", "note", "by", "added", *(["about"] if show_target else []), *([""] if deletable else [])]
    rows = []
    for n in notes:
        target = n["target"]
        about = (dcc.Link(target.partition(":")[2], href=f"/emergency?incident={target.partition(':')[2]}")
                 if target.startswith("incident:") else "city timeline")
        rows.append(html.Tr([html.Td(local_time(city, n["at"]), className="note-when"),
                             html.Td(n["text"], className="note-body"), html.Td(n["by"], className="note-by"),
                             html.Td(local_time(city, n["created_at"]), className="muted"),
                             *([html.Td(about)] if show_target else []),
                             *([html.Td(html.Button("delete", id={"type": "note-delete", "note": n["id"]},
                                                    n_clicks=0, className="button note-delete",
                                                    title="Delete this note (the audit keeps it)"))]
                               if deletable else [])], id=f"note-{n['id']}"))
    return [html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                       className="table notes-table", id=table_id)]
