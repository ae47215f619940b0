"""The overview's refresh: one callback for every tile of the view; layer toggles and map clicks.

A tick first reads the six KPI version counters (one round trip). With nothing new it sends nothing
(204), except once in each AGES_EVERY_S slot of the clock (dashboard.refresh) when the cards, score,
tables and layer ages are re-sent so ages and stale statuses keep moving. When a domain's version moved, its cards and the map traces of its layer
(a Patch of those traces only) go out; the score, district table and district shading follow the
global version. The whole map goes out once per view (layers, focus, theme).
"""
from __future__ import annotations

import time

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import citymap
from dashboard import refresh as refresh_state
from dashboard import sharedcache
from dashboard.pages import overview as overview_page
from dashboard.reads import citymap as map_reads
from dashboard.store import StoreUnavailable
from feeds.kpi.catalogue import CATALOGUE, DOMAIN_ORDER


def plan(store, view: list, shown, theme_changed: bool, now: float) -> dict:
    """What this tick must send (raises StoreUnavailable): versions, first paint, changed domains, ages due."""
    painted = refresh_state.shown_version(shown, view)
    first = painted is None or theme_changed
    versions = map_reads.versions(store)
    ages_due = first or refresh_state.ages_due(shown, now)
    changed = {d for d in map_reads.DOMAINS if first or versions[d] != (painted or {}).get(d)}
    all_changed = first or versions["all"] != (painted or {}).get("all")
    return {"first": first, "versions": versions, "changed": changed, "all": all_changed, "ages": ages_due}


MAP_SHADING = "districts"  # the map's groups: the district shading, then each layer shown


def map_figure(store, settings, p: dict, kpis: dict[str, dict], layers: list[str], theme: str,
               district: str | None, focus: dict | None, now: float, zoom_offset: float = 0.0, shown_tokens=None):
    """(figure, {group: frame token}). The map is drawn in groups, the district shading and each layer,
    and each group's arrays are built once per its own version for every screen (group_frame). The whole
    map on first paint; else a Patch of the groups whose version moved against the frames this screen
    shows; (no_update, the shown tokens) when none moved. Screens at the same versions show the same
    tokens however they got there, so they share one answer (dashboard.sharedcache.group_update)."""
    shown_tokens = shown_tokens if isinstance(shown_tokens, dict) else {}
    groups = [MAP_SHADING, *layers]
    first = p["first"] or set(shown_tokens) != set(groups)
    moved = ({MAP_SHADING} if p["all"] else set()) | {g for g in layers if citymap.LAYER_DOMAIN[g] in p["changed"]}
    send = [g for g in groups if first or g in moved]
    if not send:
        return no_update, shown_tokens
    frames = {g: group_frame(store, g, layers, kpis, district, p["versions"], now) for g in send}
    return sharedcache.group_update(
        store, first, lambda: citymap.skeleton(store.city, layers, theme, settings.map_tile_url, district, focus,
                                               frames.get("buses", {}).get("n_buses", 0), zoom_offset),
        frames, shown_tokens)


def group_frame(store, group: str, layers: list[str], kpis: dict[str, dict], district: str | None,
                versions: dict, now: float) -> dict:
    """One group's frame (dashboard.sharedcache.view_frame) at its version: the district shading follows
    the global version, a layer its domain's. Its traces' indices are those of the map of ``layers``."""
    version = versions["all"] if group == MAP_SHADING else versions[citymap.LAYER_DOMAIN[group]]

    def build():
        if group == MAP_SHADING:
            return {citymap.DISTRICTS: citymap.district_fields(store.city, kpis)}, {}
        entities = map_reads.layer_entities(store, group, kpis, district)
        data = citymap.map_data(store.city, layers, kpis, {group: entities}, now, with_districts=False)
        return data, ({"n_buses": len(entities["vehicles"])} if group == "buses" else {})
    return sharedcache.view_frame(store, "citymap", [district, layers, group], version, build)


def measure_map(app, page: str) -> None:
    """The map's size in the browser, once per view: a 4K wall's larger map is zoomed in to match."""
    app.clientside_callback(
        f"""function(_) {{
            var g = document.getElementById('{page}-map');
            return g ? [g.clientWidth, g.clientHeight] : null;
        }}""",
        Output(f"{page}-map-size", "data"), Input(f"{page}-view", "data"))


def layers_search(chosen: list[str] | None, search: str | None) -> str:
    """The URL query after a layer toggle: the other parameters kept, ``layers`` set (dropped for all)."""
    from urllib.parse import parse_qs

    query = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}
    return citymap.query_with(query, layers=citymap.layers_param(chosen or []))


PART_NAMES = ["score", "districts", "ages", *[f"s{i}" for i in range(2 * len(DOMAIN_ORDER))], "feeds"]


def content(store, layers: list[str], now: float) -> dict:
    """Everything an overview screen of these layers may be sent, whatever it shows now: the KPIs, and
    every tile as a kept part (JSON and digest, dashboard.sharedcache.kept_parts). Computed once per
    (layers, versions, ages slot of the clock) for every screen; what each screen needs of it is a diff.
    So the tiles of screens at the same versions are the same whenever each got them, and their next
    refreshes are one computation, not one per second each screen happened to be sent a tile in. The ages
    drawn are those of the first screen that asked (at most a tick old when new data made every screen
    ask, at most a slot for a view painted later); the wall counts them from their data-asof at once."""
    kpis = {k["id"]: k for k in store.kpis(now=now)}
    histories = store.histories(list(CATALOGUE))
    feeds = store.feeds(now)
    city = store.city
    fed = {f["domain"] for f in feeds}
    sections = []
    for d in DOMAIN_ORDER:
        sections += list(overview_page.domain_section(d, kpis, histories, d in fed))
    tiles = [overview_page.score_panel(kpis, histories, city), overview_page.district_table(city, kpis),
             citymap.ages_line(kpis, layers), *sections, overview_page.feed_table(feeds)]
    return {"kpis": kpis, "table": overview_page.district_table_key(city, kpis),
            "parts": sharedcache.kept_parts(store, dict(zip(PART_NAMES, tiles)))}


def respond(store, settings, p: dict, layers: list[str], focus, theme: str, zoom_offset: float, view: list,
            shown, now: float) -> tuple:
    """The overview refresh's outputs for a screen showing ``shown`` (raises StoreUnavailable): of this
    ages slot's content, the tiles the plan says are due, each as a Patch of what changed in it since what
    this screen shows (dashboard.sharedcache)."""
    c = sharedcache.compute(store, "overview-content", [layers, p["versions"], refresh_state.ages_slot(now)],
                            lambda: content(store, layers, now), ttl_s=refresh_state.slot_s())
    figure, token = map_figure(store, settings, p, c["kpis"], layers, theme, None, focus, now, zoom_offset,
                               (shown or {}).get("map"))
    every = p["all"] or p["ages"]
    due = {"score": every, "ages": every, "feeds": every,
           "districts": p["first"] or c["table"] != (shown or {}).get("table")}
    for i, d in enumerate(DOMAIN_ORDER):
        due[f"s{2 * i}"] = due[f"s{2 * i + 1}"] = p["ages"] or d in p["changed"]
    sent = {name: c["parts"][name] for name in PART_NAMES if due[name]}
    out, parts = sharedcache.send_kept(store, p["first"], PART_NAMES, sent, (shown or {}).get("parts"))
    stored = refresh_state.showing(p["versions"], view)
    stored.update(table=c["table"], map=token, parts=parts)
    return (out["score"], out["districts"], figure, out["ages"], *[out[f"s{i}"] for i in range(2 * len(DOMAIN_ORDER))],
            out["feeds"], stored)


def register(app, store, settings) -> None:
    domain_outputs = []
    for d in DOMAIN_ORDER:
        domain_outputs += [Output(f"overview-domain-{d}", "children"), Output(f"overview-domain-{d}", "className")]

    @app.callback(Output("overview-score", "children"), Output("overview-districts", "children"),
                  Output("overview-map", "figure"), Output("overview-map-ages", "children"),
                  *domain_outputs, Output("overview-feeds", "children"), Output("overview-version", "data"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("overview-view", "data"), State("overview-version", "data"), State("overview-map-size", "data"))
    def refresh(_, theme, view_data, shown, size):
        theme = theme or "dark"
        layers, focus, zoom_offset, view = map_view(view_data, size, theme)
        return shared_refresh(store, "overview-refresh", view, shown, lambda p, now: respond(
            store, settings, p, layers, focus, theme, zoom_offset, view, shown, now), per_slot=True)

    map_controls(app, store, "overview")


def map_view(view_data, size, theme: str) -> tuple[list[str], dict | None, float, list]:
    """(layers, focus, zoom offset, view) of a city map from its page's view store and measured size; the
    view is what a screen's picture depends on (the shown version is kept per view)."""
    view_data = view_data or {}
    layers = [layer for layer in view_data.get("layers") or [] if layer in citymap.LAYERS]
    focus = citymap.focus_of(view_data.get("focus"))
    zoom_offset = 0.0 if focus else citymap.size_zoom(size)  # a focus zoom is taken as given
    return layers, focus, zoom_offset, [layers, focus and [focus["lat"], focus["lon"], focus["zoom"]], theme,
                                        zoom_offset]


def shared_refresh(store, name: str, view: list, shown, respond, per_slot: bool = False) -> tuple:
    """One tick of a city-map page (overview, district): nothing sent when nothing is new; else
    ``respond(plan, now)``'s outputs, computed once for the screens that show the same in the same
    second, or with ``per_slot`` in the same ages slot (an answer that depends on the time only through
    what is drawn once per slot: the overview's content). Redis down: the last picture stays (the shell
    shows the banner)."""
    now = time.time()
    try:
        p = plan(store, view, shown, ctx.triggered_id == "theme", now)
        if not (p["first"] or p["changed"] or p["all"] or p["ages"]):
            raise PreventUpdate  # nothing new: nothing sent
        same = {k: v for k, v in (shown or {}).items() if k != "t"}
        key = [view, {**p, "changed": sorted(p["changed"])}, same,
               refresh_state.ages_slot(now) if per_slot else int(now)]
        *outputs, stored = sharedcache.compute(store, name, key, lambda: respond(p, now))
    except StoreUnavailable:
        raise PreventUpdate  # keep the last picture; the shell shows the banner
    return (*outputs, {**stored, "t": now if p["ages"] else (shown or {}).get("t", now)})


def map_controls(app, store, page: str) -> None:
    """The city map's controls on a page (overview, district): its size, the layer toggles into the URL,
    and a click that drills down."""
    measure_map(app, page)

    @app.callback(Output("url", "search", allow_duplicate=True), Input(f"{page}-layers", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def toggle_layers(chosen, search):
        return layers_search(chosen, search)

    @app.callback(Output("url", "href", allow_duplicate=True), Input(f"{page}-map", "clickData"),
                  State(f"{page}-view", "data"), prevent_initial_call=True)
    def drill_down(click, view_data):
        point = ((click or {}).get("points") or [{}])[0]
        return drill_href(point, (view_data or {}).get("layers") or [], store.city.district_ids())


def drill_href(point: dict, layers: list[str], district_ids: list[str]):
    """Where a map click goes; a district keeps the map's layers in its URL."""
    target = citymap.click_target(point, layers, district_ids)
    if target is None:
        return no_update
    if target.startswith("/district/"):
        target += citymap.query_with({}, layers=citymap.layers_param(layers))
    return target
