"""/district/<id>: the refresh of its score, cards and map (the overview's pattern: nothing sent when
nothing is new, a Patch of the changed layers' traces when a domain moved); layer toggles and map clicks."""
from __future__ import annotations

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from callbacks.overview import map_controls, map_figure, map_view, shared_refresh
from dashboard import citymap
from dashboard import refresh as refresh_state
from dashboard.pages import district as district_page
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
        layers, focus, zoom_offset, view = map_view(view_data, size, theme)
        view = [district, *view]
        return shared_refresh(store, "district-refresh", view, shown, lambda p, now: respond(
            store, settings, p, district, layers, focus, theme, zoom_offset, view, shown, now))

    map_controls(app, store, "district")
