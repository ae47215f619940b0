"""The traffic page: refresh of cards, map and side panel; a map click drills down.

The first refresh (and a theme change) sends the whole map; later ones send a Patch of the live
arrays, and only when the KPI version shows new data arrived.
"""
from __future__ import annotations

from dash import Input, Output, Patch, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import refresh as refresh_state
from dashboard.maps import apply_map_data
from dashboard.pages import traffic as traffic_page
from dashboard.store import StoreUnavailable


def register(app, store, settings) -> None:
    @app.callback(Output("traffic-cards", "children"), Output("traffic-map", "figure"),
                  Output("traffic-side", "children"), Output("traffic-version", "data"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("traffic-focus", "data"), State("traffic-version", "data"))
    def refresh(_, theme, focus, shown_version):
        if focus not in store.city.district_ids():
            focus = None  # the page validates it; a hand-made request must not 500
        try:
            version = store.version("traffic")
            kpis = {k["id"]: k for k in store.kpis(domain="traffic")}
            histories = store.histories(list(traffic_page.TRAFFIC_KPIS))
            view = [focus, theme or "dark"]  # the map shows (version, view): see dashboard.refresh
            painted = refresh_state.shown_version(shown_version, view)
            first = painted is None or ctx.triggered_id == "theme"
            if first or version != painted:
                links = store.links()
                incidents = store.open_road_incidents()
            else:
                links = incidents = None
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        cards = traffic_page.cards(kpis, histories, focus)
        if links is None:  # nothing new: ages and statuses only
            return cards, no_update, no_update, no_update
        shown, shown_incidents = traffic_page.in_focus(links, incidents, focus)
        data = traffic_page.map_data(store.city, kpis, shown, shown_incidents)
        base = (traffic_page.map_skeleton(store.city, focus, theme or "dark", settings.map_tile_url) if first
                else Patch())
        figure = apply_map_data(base, data)
        side = traffic_page.side_panel(store.city, kpis, shown, shown_incidents, focus)
        return cards, figure, side, refresh_state.showing(version, view)

    @app.callback(Output("url", "search"), Input("traffic-map", "clickData"), prevent_initial_call=True)
    def drill_down(click):
        point = (click or {}).get("points", [{}])[0]
        district = point.get("location")
        if district not in store.city.district_ids():
            return no_update
        return f"?district={district}"
