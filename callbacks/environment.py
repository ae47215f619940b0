"""The environment page: refresh of banner, cards, map, station table and station drill-down;
a click on the map drills down to a station or a district.

The first refresh (and a theme change) sends the whole map; later ones, only when the KPI version shows
that new data arrived (or ages are due), send a Patch of what differs from the arrays the screen shows
(dashboard.sharedcache), computed once per view and version for every screen and worker.
"""
from __future__ import annotations

import time

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import refresh as refresh_state
from dashboard import sharedcache
from dashboard.pages import environment as env_page
from dashboard.reads import environment as env_reads
from dashboard.store import StoreUnavailable

AGES_EVERY_S = 30  # with no new data the table and map are still redone this often, so ages keep counting


def build(store, kpis: dict[str, dict], district, sid, theme: str) -> tuple[dict, dict]:
    """One view's map arrays, station table and station drill-down at the current data."""
    stations = env_reads.stations(store)
    station = env_reads.station(store, sid, stations) if sid else None
    shown = [s for s in stations if not district or s.get("district") == district]
    centre = None
    if station is not None and station.get("lon") is not None:
        centre = (station["lon"], station["lat"])
    return env_page.map_data(store.city, kpis, shown), {
        "side": env_page.station_table(store.city, shown, district),
        "detail": env_page.station_view(station, sid, store.city, theme) if sid else [], "centre": centre}


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
        theme_changed = ctx.triggered_id == "theme"
        now = time.time()
        try:
            version = store.version("environment")
            ages_due = refresh_state.ages_due(shown, now, AGES_EVERY_S)
            # Screens that show the same, in the same second, get the same answer: computed once.
            same = {k: v for k, v in shown.items() if k != "t"}
            return sharedcache.compute(
                store, "environment-refresh", [version, view, theme, same, ages_due, theme_changed, int(now)],
                lambda: respond(store, settings, version, view, district, sid, theme, shown, theme_changed,
                                ages_due, now))
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner

    def respond(store, settings, version, view, district, sid, theme, shown, theme_changed, ages_due, now):
        """The refresh's outputs for a screen showing ``shown`` (raises StoreUnavailable)."""
        kpis = {k["id"]: k for k in store.kpis(domain="environment")}
        histories = store.histories(list(env_page.ENV_KPIS))
        first = shown.get("view") != view or theme_changed
        live = {"banner": env_page.banner(kpis, district), "cards": env_page.cards(kpis, histories, district)}
        if not (first or version != shown.get("v") or ages_due):  # nothing new: ages and statuses only
            outs, digests = sharedcache.send_parts(store, first, live, shown.get("parts"))
            return outs["banner"], outs["cards"], no_update, no_update, no_update, {**shown, "parts": digests}
        # Computed once per view, version and ages period for every screen.
        frame = sharedcache.view_frame(store, "environment", [view, theme], [version, int(now // AGES_EVERY_S)],
                                       lambda: build(store, kpis, district, sid, theme))
        figure, token = sharedcache.map_update(
            store, first, lambda: env_page.map_skeleton(store.city, district, theme, settings.map_tile_url,
                                                        frame["centre"]),
            frame, shown.get("map"), apply=env_page.apply_map_data)
        outs, digests = sharedcache.send_parts(store, first, {**live, "side": frame["side"],
                                                              "detail": frame["detail"]}, shown.get("parts"))
        return (outs["banner"], outs["cards"], figure, outs["side"], outs["detail"],
                {"v": version, "view": view, "t": now, "map": token, "parts": digests})

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
