"""The traffic page: refresh of cards, map and side panel; a map click drills down."""
from __future__ import annotations

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from dashboard.pages import traffic as traffic_page
from dashboard.store import StoreUnavailable


def register(app, store, settings) -> None:
    @app.callback(Output("traffic-cards", "children"), Output("traffic-map", "figure"),
                  Output("traffic-side", "children"),
                  Input("tick", "n_intervals"), Input("theme", "data"), State("traffic-focus", "data"))
    def refresh(_, theme, focus):
        try:
            kpis = {k["id"]: k for k in store.kpis(domain="traffic")}
            histories = store.histories(list(traffic_page.TRAFFIC_KPIS))
            links = store.links()
            incidents = store.open_road_incidents()
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        return traffic_page.render(store.city, kpis, histories, links, store.link_midpoints, incidents, focus,
                                   theme or "dark", settings.map_tile_url)

    @app.callback(Output("url", "search"), Input("traffic-map", "clickData"), prevent_initial_call=True)
    def drill_down(click):
        point = (click or {}).get("points", [{}])[0]
        district = point.get("location")
        if district not in store.city.district_ids():
            return no_update
        return f"?district={district}"
