"""The services page: one refresh for cards, map, side panel, heat grid and backlog; clicks drill down.

The first refresh (and a theme change) sends whole figures; later ones send a Patch of the map's
live arrays and fresh small charts, only when this domain's data is newer (its KPIs' as-of times;
other domains' updates do not count); otherwise only the cards (ages, statuses) change.
"""
from __future__ import annotations

from urllib.parse import urlencode

from dash import Input, Output, Patch, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard.maps import apply_map_data
from dashboard.pages import services as services_page
from dashboard.reads import services as reads
from dashboard.store import StoreUnavailable


def register(app, store, settings) -> None:
    @app.callback(Output("services-cards", "children"), Output("services-map", "figure"),
                  Output("services-side", "children"), Output("services-heat", "figure"),
                  Output("services-backlog", "figure"), Output("services-version", "data"),
                  Output("services-map-head", "children"), Output("services-heat-head", "children"),
                  Output("services-backlog-head", "children"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("services-focus", "data"), State("services-version", "data"))
    def refresh(_, theme, focus, shown_version):
        focus = focus or {}
        centre_id, rtype = focus.get("centre"), focus.get("type")
        theme = theme or "dark"
        try:
            kpis = {k["id"]: k for k in store.kpis(domain="services")}
            # The view is part of the version: a refresh still in flight from the view before a click
            # may land on this view's components (same ids); its version then names the other view,
            # and the next tick repaints this one whole.
            view = f"{centre_id or ''}|{rtype or ''}|{theme}|"
            version = view + services_page.services_signature(kpis)
            histories = store.histories(list(services_page.SERVICES_KPIS))
            first = shown_version is None or not shown_version.startswith(view) or ctx.triggered_id == "theme"
            centres = reads.centres(store, kpis)
            centre = next((c for c in centres if c["id"] == centre_id), None)
            if first or version != shown_version:
                as_of = _as_of(kpis)
                requests = reads.open_requests(store, rtype) if rtype else []
                slots = reads.wait_slots(store, as_of)
                grid = reads.wait_grid(slots)
                queues = reads.queues(store, centre_id, as_of) if centre_id else []
                curve = reads.wait_curve(slots, centre_id) if centre_id else None
            else:
                requests = None
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        cards = services_page.cards(kpis, histories, centre if centre_id else None)
        if requests is None:
            return (cards,) + (no_update,) * 8
        data = services_page.map_data(store.city, kpis, centres, requests)
        point = (centre["lon"], centre["lat"]) if centre and centre["lon"] is not None else None
        base = (services_page.map_skeleton(store.city, theme, settings.map_tile_url, kpis, point) if first
                else Patch())
        figure = apply_map_data(base, data)
        if centre_id:
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
        return (cards, figure, side, services_page.heat_figure(grid, centres, kpis, theme),
                services_page.backlog_figure(kpis, theme, rtype), version, *heads)

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


def _as_of(kpis: dict[str, dict]) -> float | None:
    from datetime import datetime

    iso = kpis["services.people_waiting"]["as_of"]
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None
