"""The services page: one refresh for cards, map, side panel, heat grid and backlog; clicks drill down.

The first refresh (and a theme change) sends whole figures; later ones send a Patch of the map's
live arrays and fresh small charts, only when this domain's data is newer (its KPIs' as-of times;
other domains' updates do not count); otherwise only the cards (ages, statuses) change.
"""
from __future__ import annotations

from urllib.parse import urlencode

import time

import orjson
from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import sharedcache
from dashboard.pages import services as services_page
from dashboard.reads import services as reads
from dashboard.store import StoreUnavailable


def build(store, kpis: dict[str, dict], centres: list[dict], centre, centre_id, rtype, theme: str) -> tuple[dict, dict]:
    """One view's map arrays, side panel, charts and panel heads at the current data."""
    as_of = _as_of(kpis)
    requests = reads.open_requests(store, rtype) if rtype else []
    slots = reads.wait_slots(store, as_of)
    grid = reads.wait_grid(slots)
    if centre_id:
        queues = reads.queues(store, centre_id, as_of)
        curve = reads.wait_curve(slots, centre_id)
        side = services_page.centre_detail(centre, queues, services_page.curve_figure(curve, kpis, theme), kpis)
    else:
        side = services_page.centre_table(centres, kpis)
    waiting = kpis["services.people_waiting"]
    backlog = kpis["services.requests_open"]
    rows, with_data = services_page.heat_rows(grid, centres)
    heads = (
        services_page.panel_head("Centres by wait", waiting["age_s"],
                                 f" {len(requests)} open '{rtype}' requests on the map" if rtype else "",
                                 services_page.wait_legend(kpis)),
        services_page.panel_head("Wait by hour and centre", waiting["age_s"],
                                 f" the {len(rows)} of {with_data} centres that waited longest"
                                 if len(rows) < with_data else ""),
        services_page.panel_head("Open requests by type", backlog["age_s"]),
    )
    heat = services_page.heat_figure(grid, centres, kpis, theme)
    chart = services_page.backlog_figure(kpis, theme, rtype)
    return services_page.map_data(store.city, kpis, centres, requests), {
        "side": side, "heads": heads, "heat": heat, "heat_d": sharedcache.digest(heat),
        "backlog": chart, "backlog_d": sharedcache.digest(chart)}


def respond(store, settings, focus, theme, shown_version, theme_changed: bool) -> tuple:
    """The refresh's outputs for a screen showing ``shown_version`` (raises StoreUnavailable)."""
    focus = focus or {}
    centre_id, rtype = focus.get("centre"), focus.get("type")
    theme = theme or "dark"
    kpis = {k["id"]: k for k in store.kpis(domain="services")}
    # The view is part of the version: a refresh still in flight from the view before a click
    # may land on this view's components (same ids); its version then names the other view,
    # and the next tick repaints this one whole. After "#": the map frame and the two charts'
    # digests the screen shows (dashboard.sharedcache).
    view = f"{centre_id or ''}|{rtype or ''}|{theme}|"
    signature = services_page.services_signature(kpis)
    version = view + signature
    shown, shown_map, shown_heat, shown_backlog = ((shown_version or "").split("#") + ["", "", ""])[:4]
    shown_version = shown_version or ""
    histories = store.histories(list(services_page.SERVICES_KPIS))
    first = not shown or not shown.startswith(view) or theme_changed
    centres = reads.centres(store, kpis)
    centre = next((c for c in centres if c["id"] == centre_id), None)
    cards = services_page.cards(kpis, histories, centre if centre_id else None)
    parts = _parts(shown_version)
    if not (first or version != shown):
        outs, digests = sharedcache.send_parts(store, first, {"cards": cards}, parts)
        return (outs["cards"], *(no_update,) * 4, _stored((shown_version.split("#") + ["", "", ""])[:4], digests),
                *(no_update,) * 3)
    frame = sharedcache.view_frame(store, "services", view, signature,
                                   lambda: build(store, kpis, centres, centre, centre_id, rtype, theme))
    point = (centre["lon"], centre["lat"]) if centre and centre["lon"] is not None else None
    figure, token = sharedcache.map_update(
        store, first, lambda: services_page.map_skeleton(store.city, theme, settings.map_tile_url, kpis, point),
        frame, shown_map)
    heat = frame["heat"] if first or frame["heat_d"] != shown_heat else no_update
    backlog = frame["backlog"] if first or frame["backlog_d"] != shown_backlog else no_update
    names = ["cards", "side", "h0", "h1", "h2"]
    outs, digests = sharedcache.send_parts(store, first, dict(zip(names, [cards, frame["side"], *frame["heads"]])),
                                           parts)
    return (outs["cards"], figure, outs["side"], heat, backlog,
            _stored([version, token or "", frame["heat_d"], frame["backlog_d"]], digests),
            outs["h0"], outs["h1"], outs["h2"])


def register(app, store, settings) -> None:
    @app.callback(Output("services-cards", "children"), Output("services-map", "figure"),
                  Output("services-side", "children"), Output("services-heat", "figure"),
                  Output("services-backlog", "figure"), Output("services-version", "data"),
                  Output("services-map-head", "children"), Output("services-heat-head", "children"),
                  Output("services-backlog-head", "children"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("services-focus", "data"), State("services-version", "data"))
    def refresh(_, theme, focus, shown_version):
        try:
            # Screens that show the same, in the same second, get the same answer: computed once. The
            # domain's KPI version is in the key, so new data is a new answer.
            key = [store.version("services"), focus, theme, shown_version, ctx.triggered_id == "theme",
                   int(time.time())]
            return sharedcache.compute(store, "services-refresh", key,
                                       lambda: respond(store, settings, focus, theme, shown_version,
                                                       ctx.triggered_id == "theme"))
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner

    @app.callback(Output("url", "search", allow_duplicate=True),
                  Input("services-map", "clickData"), Input("services-backlog", "clickData"),
                  State("services-focus", "data"), prevent_initial_call=True)
    def drill_down(map_click, bar_click, focus):
        focus = dict(focus or {})
        if ctx.triggered_id == "services-map":
            point = (map_click or {}).get("points", [{}])[0]
            centre = point.get("customdata")
            if not isinstance(centre, str):
                return no_update
            focus["centre"] = centre
        else:
            point = (bar_click or {}).get("points", [{}])[0]
            rtype = point.get("customdata") or point.get("y")
            if not isinstance(rtype, str):
                return no_update
            focus["type"] = None if focus.get("type") == rtype else rtype
        query = {k: v for k, v in focus.items() if v}
        return "?" + urlencode(query) if query else ""


def _stored(fields: list[str], digests: dict) -> str:
    """The page's version store: version, map frame, the charts' digests, and the other outputs' digests."""
    return "#".join([*fields, orjson.dumps(digests).decode()])


def _parts(stored: str) -> dict | None:
    """The digests of the outputs the screen shows, from its version store (None: unknown, send whole)."""
    try:
        return orjson.loads(stored.split("#")[4])
    except (AttributeError, IndexError, orjson.JSONDecodeError):
        return None


def _as_of(kpis: dict[str, dict]) -> float | None:
    from datetime import datetime

    iso = kpis["services.people_waiting"]["as_of"]
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None
