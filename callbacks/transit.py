"""The transit page: one refresh of cards, map, side panel, drill-down and alerts; a bus click drills down.

The first refresh (and a theme change) sends the whole map; later ones, only when the KPI version shows
that new data arrived, send a Patch of what differs from the arrays the screen shows (a bus keeps its
place in its delay band's trace: dashboard.sharedcache.keep_slots). Map, tables and alerts are computed
once per (view, version) for every screen and worker.
"""
from __future__ import annotations

import time

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import refresh as refresh_state
from dashboard import sharedcache
from dashboard.pages import transit as transit_page
from dashboard.reads import transit as reads
from dashboard.store import StoreUnavailable
from feeds.adapters.transit_gtfs import transit_config


TABLE_EVERY_S = 30


def build(store, cfg, kpis: dict[str, dict], route, vehicle_id, sort: str, theme: str) -> tuple[dict, dict]:
    """One view's map arrays, side panel, drill-down and alerts at the current data (raises StoreUnavailable)."""
    now = time.time()
    routes, stops, _ = reads.static(store)
    vehicles = reads.vehicles(store)
    alerts = transit_page.alerts_in_force(reads.alerts(store), now)
    stats = reads.route_stats(store, route) if route else {}
    trip = None
    if vehicle_id:
        vehicle = reads.vehicle(store, vehicle_id)
        sched, update = reads.trip(store, vehicle["trip"]) if vehicle and vehicle.get("trip") else (None, None)
        trip = transit_page.trip_panel(vehicle, sched, update, stops, now)
    names = transit_page.route_names(routes)
    shown = [v for v in vehicles if v["r"] == route] if route else vehicles
    # The map shows buses that report (the KPI's freshness limit, from the feed's newest time);
    # a silent one (a breakdown) stays listed in the route's table as "not reporting".
    newest = max((v["t"] for v in vehicles), default=0)
    live = [v for v in shown if v["t"] >= newest - cfg.vehicle_fresh_s]
    short = {rid: r.get("short_name") or rid for rid, r in routes.items()}
    data = {**transit_page.map_data(live, short, cfg, now), **transit_page.district_data(store.city, kpis, theme)}
    if route:
        side = transit_page.route_side(route, shown, stops, names, now, newest - cfg.vehicle_fresh_s)
        detail = transit_page.route_detail(routes.get(route, {}), stops, stats, cfg, theme, trip, kpis)
    else:
        # The routes ranking changes in most rows on every 5 s batch (on-time and delay per route): it is
        # redone every TABLE_EVERY_S, saying how old it is, so a refresh carries the buses and not 40 rows.
        bucket = int(now // TABLE_EVERY_S)
        side = sharedcache.compute(store, "transit-routes", [sort, bucket],
                                   lambda: transit_page.routes_table(kpis, routes, sort), ttl_s=TABLE_EVERY_S)
        detail = []
    alerts_shown = [a for a in alerts if route in a["routes"]] if route else alerts
    return data, {"parts": sharedcache.kept_parts(store, {
        "side": side, "detail": detail, "alerts": transit_page.alerts_panel(alerts_shown, names, now)}),
        "n_live": len(live)}


def register(app, store, settings) -> None:
    cfg = transit_config(store.city)

    @app.callback(Output("transit-cards", "children"), Output("transit-map", "figure"),
                  Output("transit-side", "children"), Output("transit-detail", "children"),
                  Output("transit-alerts", "children"), Output("transit-version", "data"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("transit-focus", "data"), State("transit-version", "data"))
    def refresh(_, theme, focus, shown_version):
        focus = focus or {}
        route, vehicle_id, sort = focus.get("route"), focus.get("vehicle"), focus.get("sort") or "on_time"
        theme = theme or "dark"
        try:
            version = store.version("transit")
            kpis = {k["id"]: k for k in store.kpis(domain="transit")}
            histories = store.histories(list(transit_page.TRANSIT_KPIS))
            view = [route, vehicle_id, sort, theme]  # the page shows (version, view): see dashboard.refresh
            shown = refresh_state.shown_version(shown_version, view)
            first = shown is None or ctx.triggered_id == "theme"
            cards = sharedcache.kept_parts(store, {"cards": transit_page.cards(kpis, histories, route)})
            stored = shown_version if shown is not None else {}
            if not (first or version != shown):  # nothing new: ages and statuses only
                outs, digests = sharedcache.parts_update(store, first, cards, stored.get("parts"))
                return outs["cards"], no_update, no_update, no_update, no_update, {**stored, "parts": {
                    **stored.get("parts", {}), **digests}}
            frame = sharedcache.view_frame(store, "transit", view, version,
                                           lambda: build(store, cfg, kpis, route, vehicle_id, sort, theme))

            def skeleton():
                routes, stops, _ = reads.static(store)
                return transit_page.map_skeleton(store.city, routes, stops, route, theme, settings.map_tile_url, cfg,
                                                 frame["n_live"])
            figure, token = sharedcache.map_update(store, first, skeleton, frame, stored.get("map"))
            outs, digests = sharedcache.parts_update(store, first, {**cards, **frame["parts"]}, stored.get("parts"))
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        return (outs["cards"], figure, outs["side"], outs["detail"], outs["alerts"],
                {**refresh_state.showing(version, view), "map": token, "parts": digests})

    @app.callback(Output("url", "search", allow_duplicate=True), Input("transit-map", "clickData"),
                  prevent_initial_call=True)
    def drill_down(click):
        point = (click or {}).get("points", [{}])[0]
        custom = point.get("customdata")
        if not isinstance(custom, list) or len(custom) != 2:
            return no_update
        vehicle_id, route = custom
        return f"?route={route}&vehicle={vehicle_id}"
