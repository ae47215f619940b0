"""The environment page: refresh of banner, cards, map, station table and station drill-down;
a click on the map drills down to a station or a district.

The first refresh (and a theme change) sends the whole map; later ones send a Patch of the live
arrays, and only when the KPI version shows that new data arrived.
"""
from __future__ import annotations

import time

from dash import Input, Output, Patch, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard.pages import environment as env_page
from dashboard.reads import environment as env_reads
from dashboard.store import StoreUnavailable

AGES_EVERY_S = 30  # with no new data the table and map are still redone this often, so ages keep counting


def register(app, store, settings) -> None:
    @app.callback(Output("environment-banner", "children"), Output("environment-cards", "children"),
                  Output("environment-map", "figure"), Output("environment-side", "children"),
                  Output("environment-station", "children"), Output("environment-version", "data"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("environment-focus", "data"), State("environment-version", "data"))
    def refresh(_, theme, focus, shown_version):
        focus = focus or {}
        district, sid = focus.get("district"), focus.get("station")
        theme = theme or "dark"
        # What the page shows is tagged with its view: a refresh answered for the previous view (in flight
        # while a drill-down re-rendered the page) must not pass for this one's first paint.
        view = f"{district}|{sid}"
        shown = shown_version if isinstance(shown_version, dict) else {}
        try:
            version = store.version("environment")
            kpis = {k["id"]: k for k in store.kpis(domain="environment")}
            histories = store.histories(list(env_page.ENV_KPIS))
            first = shown.get("view") != view or ctx.triggered_id == "theme"
            stations = station = None
            ages_due = time.time() - float(shown.get("t") or 0) >= AGES_EVERY_S
            if first or version != shown.get("v") or ages_due:
                stations = env_reads.stations(store)
                if sid:
                    station = env_reads.station(store, sid, stations)
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        banner = env_page.banner(kpis, district)
        cards = env_page.cards(kpis, histories, district)
        if stations is None:  # nothing new: ages and statuses only
            return banner, cards, no_update, no_update, no_update, no_update
        shown = [s for s in stations if not district or s.get("district") == district]
        centre = None
        if station is not None and station.get("lon") is not None:
            centre = (station["lon"], station["lat"])
        base = (env_page.map_skeleton(store.city, district, theme, settings.map_tile_url, centre) if first
                else Patch())
        figure = env_page.apply_map_data(base, env_page.map_data(store.city, kpis, shown))
        side = env_page.station_table(store.city, shown, district)
        detail = env_page.station_view(station, sid, store.city, theme) if sid else []
        return banner, cards, figure, side, detail, {"v": version, "view": view, "t": time.time()}

    @app.callback(Output("url", "search", allow_duplicate=True), Input("environment-map", "clickData"),
                  prevent_initial_call=True)
    def drill_down(click):
        point = (click or {}).get("points", [{}])[0]
        if point.get("customdata"):
            return f"?station={point['customdata']}"
        district = point.get("location")
        if district in store.city.district_ids():
            return f"?district={district}"
        return no_update
