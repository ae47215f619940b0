"""The KPI trend page: card and age every tick; chart, district table and notes only when the KPI or the
notes changed (or the view did); the add box saves a timeline note (coordinator only)."""
from __future__ import annotations

import time

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from callbacks.timeline import save_note
from dashboard import refresh as refresh_state
from dashboard.auth import require_role
from dashboard.components import format_age, kpi_card
from dashboard.pages import kpi as kpi_page
from dashboard.pages.timeline import notes_table
from dashboard.reads import kpi as reads
from dashboard.store import StoreUnavailable
from feeds.annotations import Annotations
from feeds.kpi.catalogue import CATALOGUE


def gather(store, kpi_id: str, range_name: str, shown, now: float) -> dict:
    """What one refresh needs (raises StoreUnavailable); ``points`` and ``notes`` only when changed."""
    version = [reads.kpi_version(store, kpi_id), store.call(Annotations(store.r, store.keys).version)]
    kpi = store.kpi(kpi_id, since=now, now=now)  # the history comes below, over the range
    data = {"kpi": kpi, "version": version, "changed": shown != version}
    if data["changed"]:
        since = reads.since_of(range_name, now)
        data["points"] = reads.history_points(store, kpi_id, since)
        data["span"] = (since, now)
        data["notes"] = reads.chart_notes(store, kpi_id, since)
        data["districts"] = reads.district_rows(store, kpi)
    return data


def render(store, data: dict, theme: str):
    kpi = data["kpi"]
    card = kpi_card(kpi, trend=False)
    asof = "as of " + format_age(kpi["age_s"]) if kpi["age_s"] is not None else "no data yet"
    if not data["changed"]:
        return card, asof, kpi_page.target_fact(kpi), no_update, no_update, no_update
    tz = store.city.timezone
    figure = kpi_page.trend_figure(kpi, data["points"], data["notes"], tz, theme or "dark",
                                   data.get("span"))
    notes = sorted(data["notes"], key=lambda n: (-n["at"], n["id"]))
    notes_panel = [notes_panel_title(kpi["id"]), *notes_table(store.city, notes, "kpi-notes-table",
                                                               show_target=reads.is_emergency(kpi["id"]))]
    return (card, asof, kpi_page.target_fact(kpi), figure, kpi_page.districts_table(kpi, data["districts"]),
            notes_panel)


def notes_panel_title(kpi_id: str):
    from dash import dcc, html

    return html.H3(["Notes on the chart" + (" (timeline and incidents)" if reads.is_emergency(kpi_id) else "") + " · ",
                    dcc.Link("city timeline →", href="/timeline", id="kpi-timeline-link")])


def register(app, store, settings) -> None:
    @app.callback(Output("kpi-card-slot", "children"), Output("kpi-asof", "children"),
                  Output("kpi-target-fact", "children"),
                  Output("kpi-trend", "figure"), Output("kpi-districts", "children"), Output("kpi-notes", "children"),
                  Output("kpi-shown", "data"),
                  Input("tick", "n_intervals"), Input("theme", "data"), Input("kpi-note-saved", "data"),
                  State("kpi-focus", "data"), State("kpi-shown", "data"))
    def refresh(_, theme, __, focus, shown_state):
        focus = focus or {}
        kpi_id, range_name = focus.get("id"), focus.get("range") or reads.DEFAULT_RANGE
        if kpi_id not in CATALOGUE:
            raise PreventUpdate
        view = [kpi_id, range_name, theme or "dark"]
        shown = refresh_state.shown_version(shown_state, view)
        now = time.time()
        try:
            data = gather(store, kpi_id, range_name, shown, now)
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        return (*render(store, data, theme), refresh_state.showing(data["version"], view) if data["changed"] else no_update)

    @app.callback(Output("kpi-note-msg", "children"), Output("kpi-note-text", "value"),
                  Output("kpi-note-saved", "data"),
                  Input("kpi-note-add", "n_clicks"), State("kpi-note-text", "value"), State("kpi-note-at", "value"),
                  prevent_initial_call=True)
    def add_note(n_clicks, text, at_text):
        require_role("coordinator")
        if not n_clicks:
            raise PreventUpdate
        return save_note(store, "timeline", text, at_text)

