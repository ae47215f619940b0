"""/district/<id>: the refresh of its score, cards and map (the overview's pattern: nothing sent when
nothing is new, a Patch of the changed layers' traces when a domain moved); layer toggles and map clicks."""
from __future__ import annotations

import time

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from callbacks.overview import map_controls, map_figure, plan
from dashboard import citymap
from dashboard import refresh as refresh_state
from dashboard import sharedcache
from dashboard.pages import district as district_page
from dashboard.store import StoreUnavailable
from feeds.kpi.catalogue import DOMAIN_ORDER

def respond(store, settings, p: dict, district: str, layers: list[str], focus, theme: str, zoom_offset: float,
            view: list, shown, now: float) -> tuple:
    """The district refresh's outputs for a screen showing ``shown`` (raises StoreUnavailable)."""
    kpis = {k["id"]: k for k in store.kpis(now=now)}
    figure, token = map_figure(store, settings, p, kpis, layers, theme, district, focus, now, zoom_offset,
                               (shown or {}).get("map"))
    every = p["all"] or p["ages"]
    score = district_page.score_panel(kpis, district) if every else no_update
    ages = citymap.ages_line(kpis, layers) if every else no_update
    sections = [district_page.domain_section(d, kpis, district) if p["ages"] or d in p["changed"] else no_update
                for d in DOMAIN_ORDER]
    stored = refresh_state.showing(p["versions"], view)
    stored["map"] = token
    return (score, figure, ages, *sections, stored)


def register(app, store, settings) -> None:
    domain_outputs = [Output(f"district-domain-{d}", "children") for d in DOMAIN_ORDER]

    @app.callback(Output("district-score", "children"), Output("district-map", "figure"),
                  Output("district-map-ages", "children"), *domain_outputs, Output("district-version", "data"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("district-id", "data"), State("district-view", "data"), State("district-version", "data"),
                  State("district-map-size", "data"))
    def refresh(_, theme, district, view_data, shown, size):
        if district not in store.city.district_ids():
            raise PreventUpdate  # the page says "no such district"; a hand-made request must not 500
        theme = theme or "dark"
        view_data = view_data or {}
        layers = [layer for layer in view_data.get("layers") or [] if layer in citymap.LAYERS]
        focus = citymap.focus_of(view_data.get("focus"))
        zoom_offset = 0.0 if focus else citymap.size_zoom(size)  # a focus zoom is taken as given
        view = [district, layers, focus and [focus["lat"], focus["lon"], focus["zoom"]], theme, zoom_offset]
        now = time.time()
        try:
            p = plan(store, view, shown, ctx.triggered_id == "theme", now)
            if not (p["first"] or p["changed"] or p["all"] or p["ages"]):
                raise PreventUpdate  # nothing new: nothing sent
            # Screens that show the same, in the same second, get the same answer: computed once.
            same = {k: v for k, v in (shown or {}).items() if k != "t"}
            key = [view, {**p, "changed": sorted(p["changed"])}, same, int(now)]
            *outputs, stored = sharedcache.compute(
                store, "district-refresh", key,
                lambda: respond(store, settings, p, district, layers, focus, theme, zoom_offset, view, shown, now))
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        return (*outputs, {**stored, "t": now if p["ages"] else (shown or {}).get("t", now)})

    map_controls(app, store, "district")
