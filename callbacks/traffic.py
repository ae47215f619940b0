"""The traffic page: refresh of cards, map and side panel; a map click drills down.

The first refresh (and a theme change) sends the whole map; later ones, only when the KPI version shows
new data arrived, send a Patch of what differs from the arrays the screen shows (dashboard.sharedcache).
A tick with neither new data nor ages due (dashboard.refresh.AGES_EVERY_S) sends nothing.
The map's arrays and the side panel are computed once per (view, version) for every screen and worker.
"""
from __future__ import annotations

import time

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import refresh as refresh_state
from dashboard import sharedcache
from dashboard.maps import dense_network
from dashboard.pages import traffic as traffic_page
from dashboard.store import StoreUnavailable


def build(store, kpis: dict[str, dict], focus: str | None) -> tuple[dict, dict]:
    """The map's live arrays and the side panel of one view at the current data."""
    readings = store.link_readings()
    incidents = traffic_page.in_focus([], store.open_road_incidents(), focus)[1]
    data = traffic_page.map_data(store.city, kpis, traffic_page.map_links(store, focus, readings), incidents,
                                 dense_network(store.city))
    links = store.links(focus, readings) if focus else []  # the district's slowest links (the city's: KPIs only)
    return data, {"side": traffic_page.side_panel(store.city, kpis, links, incidents, focus)}


def register(app, store, settings) -> None:
    @app.callback(Output("traffic-cards", "children"), Output("traffic-map", "figure"),
                  Output("traffic-side", "children"), Output("traffic-version", "data"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("traffic-focus", "data"), State("traffic-version", "data"))
    def refresh(_, theme, focus, shown_version):
        if focus not in store.city.district_ids():
            focus = None  # the page validates it; a hand-made request must not 500
        theme = theme or "dark"
        now = time.time()
        try:
            version = store.version("traffic")
            view = [focus, theme]  # the map shows (version, view): see dashboard.refresh
            painted = refresh_state.shown_version(shown_version, view)
            first = painted is None or ctx.triggered_id == "theme"
            due = refresh_state.ages_due(shown_version, now)
            if not first and version == painted and not due:
                raise PreventUpdate  # nothing new and the ages not due: nothing sent
            kpis = {k["id"]: k for k in store.kpis(domain="traffic")}
            histories = store.histories(list(traffic_page.TRAFFIC_KPIS))
            frame = (sharedcache.view_frame(store, "traffic", focus, version, lambda: build(store, kpis, focus),
                                            slots=False) if first or version != painted else None)
            cards = traffic_page.cards(kpis, histories, focus)
            stored = shown_version if painted is not None else {}
            t = now if first or due else stored.get("t", now)  # when the ages were last sent
            if frame is None:  # nothing new: ages and statuses only
                outs, digests = sharedcache.send_parts(store, first, {"cards": cards}, stored.get("parts"))
                return outs["cards"], no_update, no_update, {**stored, "parts": digests, "t": t}
            figure, token = sharedcache.map_update(
                store, first, lambda: traffic_page.map_skeleton(store.city, focus, theme, settings.map_tile_url,
                                                                dense_network(store.city)),
                frame, stored.get("map"))
            outs, digests = sharedcache.send_parts(store, first, {"cards": cards, "side": frame["side"]},
                                                   stored.get("parts"))
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        return outs["cards"], figure, outs["side"], {**refresh_state.showing(version, view), "map": token,
                                                     "parts": digests, "t": t}

    @app.callback(Output("url", "search"), Input("traffic-map", "clickData"), prevent_initial_call=True)
    def drill_down(click):
        point = (click or {}).get("points", [{}])[0]
        district = point.get("location")
        if district not in store.city.district_ids():
            return no_update
        return f"?district={district}"
