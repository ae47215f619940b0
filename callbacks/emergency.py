"""The emergency panel: one refresh for every tile; map and list clicks drill down.

Timers (incident age, time in status) move on every tick. The map's first paint (and a theme
change) sends the whole figure; later ticks send a Patch of its live arrays, and only when the KPI
version shows new data arrived.
"""
from __future__ import annotations

import time

from dash import Input, Output, Patch, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard.pages import emergency as emergency_page
from dashboard.reads import emergency as reads
from dashboard.store import StoreUnavailable


def gather(store, focus: dict, shown_version, theme_changed: bool) -> dict:
    """Everything one refresh needs from Redis (raises StoreUnavailable)."""
    focus = focus or {}
    version = store.version()
    first = shown_version is None or theme_changed
    data = {
        "version": version, "first": first,
        "kpis": {k["id"]: k for k in store.kpis(domain="emergency")},
        "histories": store.histories(list(emergency_page.EMERGENCY_KPIS)),
        "incidents": reads.active_incidents(store),
        "units": reads.units(store),
        "closed": reads.closed_incidents(store) if focus.get("district") else [],
        "incident": reads.incident(store, focus["incident"]) if focus.get("incident") else None,
    }
    return data


def render(store, settings, data: dict, focus: dict, theme: str, now: float):
    """The callback's outputs from what ``gather`` read: pure, so the bench can time it."""
    focus = focus or {}
    conf = reads.config(store)
    district, incident_id = focus.get("district"), focus.get("incident")
    kpis, city = data["kpis"], store.city
    incidents, units = emergency_page.in_focus(data["incidents"], data["units"], district)
    cards = emergency_page.cards(kpis, data["histories"], district)
    queue = emergency_page.queue(city, incidents, now, conf, district)
    queue.insert(1, emergency_page.as_of_line({"a": kpis["emergency.active_incidents"]}))
    board = emergency_page.board(units, now, conf)
    districts = emergency_page.district_table(city, kpis)
    if incident_id:
        detail = emergency_page.timeline(city, data["incident"], now, conf, incident_id)
    elif district:
        closed = [i for i in data["closed"] if i.get("district") == district]
        detail = [html_panel(emergency_page.district_incidents(city, incidents, closed, now, district))]
    else:
        detail = []
    if data["first"] or data["version"] != data.get("shown_version"):
        center = None
        inc = data["incident"]
        if inc and inc.get("lon") is not None:
            center = (inc["lon"], inc["lat"])
        live = emergency_page.map_data(city, kpis, incidents if not inc else [*incidents, {**inc, "status": "active"}],
                                       units, now)
        base = (emergency_page.map_skeleton(city, district, theme or "dark", settings.map_tile_url, center)
                if data["first"] else Patch())
        figure = emergency_page.apply_map_data(base, live)
        version = data["version"]
    else:
        figure, version = no_update, no_update
    return cards, detail, queue, board, districts, figure, version


def html_panel(children):
    from dash import html

    return html.Div(children, className="panel")


def register(app, store, settings) -> None:
    @app.callback(Output("emergency-cards", "children"), Output("emergency-detail", "children"),
                  Output("emergency-queue", "children"), Output("emergency-board", "children"),
                  Output("emergency-districts", "children"), Output("emergency-map", "figure"),
                  Output("emergency-version", "data"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("emergency-focus", "data"), State("emergency-version", "data"))
    def refresh(_, theme, focus, shown_version):
        try:
            data = gather(store, focus, shown_version, ctx.triggered_id == "theme")
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        data["shown_version"] = shown_version
        return render(store, settings, data, focus, theme, time.time())

    @app.callback(Output("url", "search", allow_duplicate=True), Input("emergency-map", "clickData"),
                  prevent_initial_call=True)
    def drill_down(click):
        point = (click or {}).get("points", [{}])[0]
        if point.get("location") in store.city.district_ids():
            return f"?district={point['location']}"
        if point.get("curveNumber") == emergency_page.INCIDENTS and point.get("customdata"):
            return f"?incident={point['customdata']}"
        return no_update
