"""The emergency panel: one refresh for every tile; map and list clicks drill down.

A tick with no new data sends nothing, except once in each AGES_EVERY_S slot of the clock
(dashboard.refresh) when the cards go again (their ages move). The queue and the drill-down panel go out only when what they show changed
(digests of it are kept in the page); the unit board goes out whole only when its layout (stations,
units) changed, else as a Patch of the tiles whose status changed. Between renders, timers and stuck
flags run in the browser (assets/emergency.js), so a quiet minute costs fifty wall screens almost
nothing. The map's first paint (and a theme change) sends the
whole figure; later ticks send a Patch of its live arrays, and only when the KPI version changed.
"""
from __future__ import annotations

import hashlib
import time

import orjson
from dash import Input, Output, Patch, State, ctx, no_update
from dash.exceptions import PreventUpdate

from callbacks.timeline import save_note
from dashboard import refresh as refresh_state
from dashboard.auth import require_role
from dashboard import sharedcache
from dashboard.pages import emergency as emergency_page
from dashboard.pages.timeline import notes_table
from dashboard.reads import emergency as reads
from dashboard.store import StoreUnavailable
from feeds.annotations import Annotations


def gather(store, focus: dict, shown_version, theme_changed: bool) -> dict:
    """Everything one refresh needs from Redis (raises StoreUnavailable); read once per (view, version)
    for every screen and worker (dashboard.sharedcache)."""
    focus = focus or {}
    version = store.version("emergency")
    first = shown_version is None or theme_changed

    def read():
        return {
            "kpis": {k["id"]: k for k in store.kpis(domain="emergency")},
            "histories": store.histories(list(emergency_page.EMERGENCY_KPIS)),
            "incidents": reads.active_incidents(store),
            "units": reads.units(store),
            "closed": reads.closed_incidents(store) if focus.get("district") else [],
            "incident": reads.incident(store, focus["incident"]) if focus.get("incident") else None,
        }
    shared = sharedcache.compute(store, "emergency", [version, focus.get("district"), focus.get("incident")], read)
    return {"version": version, "first": first, **shared}


def _hash(obj) -> str:
    return hashlib.blake2b(orjson.dumps(obj), digest_size=10).hexdigest()


def queue_key(incidents: list[dict]) -> list:
    """What the queue shows of each active call (its timers run in the browser)."""
    return [(i["id"], i.get("priority"), i.get("type"), i.get("district"), i.get("opened"), i.get("updated"),
             [(u["unit"], u.get("status")) for u in i.get("units") or []]) for i in incidents]


def board_state(units: list[dict]) -> tuple[dict, list[tuple[int, int, dict]]]:
    """The board's layout digest, one digest per tile, and each unit's place (station, tile)."""
    groups = emergency_page.board_groups(units)
    places = [(g, i, u) for g, (_, members) in enumerate(groups) for i, u in enumerate(members)]
    layout = _hash([(name, [u["id"] for u in members]) for name, members in groups])
    return {"layout": layout, "tiles": [_hash(emergency_page.tile_key(u)) for _, _, u in places]}, places


def render(store, settings, data: dict, focus: dict, theme: str, now: float):
    """The callback's outputs from what ``gather`` read: pure, so the bench can time it."""
    focus = focus or {}
    shown = data.get("shown_digest") or {}
    first = data["first"]
    conf = reads.config(store)
    district, incident_id = focus.get("district"), focus.get("incident")
    kpis, city = data["kpis"], store.city
    incidents, units = emergency_page.in_focus(data["incidents"], data["units"], district)
    cards = emergency_page.cards(kpis, data["histories"], district)
    asof = emergency_page.as_of_line({"a": kpis["emergency.active_incidents"]})
    digests = {"queue": _hash(queue_key(incidents)), "detail": _hash([data["incident"], data["closed"]])}
    board_now, places = board_state(units)
    digests["board"] = board_now

    # Queue and drill-down panel: re-sent whole when what they show changed.
    queue = detail = no_update
    if first or shown.get("queue") != digests["queue"]:
        queue = emergency_page.queue(city, incidents, now, conf, district)
    if first or shown.get("detail") != digests["detail"] or shown.get("queue") != digests["queue"]:
        if incident_id:
            detail = emergency_page.timeline(city, data["incident"], now, conf, incident_id)
        elif district:
            closed = [i for i in data["closed"] if i.get("district") == district]
            detail = [html_panel(emergency_page.district_incidents(city, incidents, closed, now, district))]
        else:
            detail = []
    # Unit board: whole on first paint or when its layout changed, else a Patch of the changed tiles.
    board_shown = shown.get("board") or {}
    if first or board_shown.get("layout") != board_now["layout"]:
        board = emergency_page.board(units, now, conf)
    else:
        changed = [place for place, old, new in zip(places, board_shown.get("tiles", []), board_now["tiles"])
                   if old != new]
        board = emergency_page.board_patch(Patch(), units, changed, now, conf) if changed else no_update
    kpis_changed = first or data["version"] != data.get("shown_version")
    districts = emergency_page.district_table(city, kpis) if kpis_changed else no_update
    if kpis_changed:
        center = None
        inc = data["incident"]
        if inc and inc.get("lon") is not None:
            center = (inc["lon"], inc["lat"])
        frame = sharedcache.view_frame(
            store, "emergency-map", [district, incident_id], data["version"],
            lambda: (emergency_page.map_data(city, kpis, incidents if not inc else [*incidents, {**inc, "status": "active"}],
                                             units, now), {}))
        figure, token = sharedcache.map_update(
            store, first, lambda: emergency_page.map_skeleton(city, district, theme or "dark", settings.map_tile_url,
                                                              center), frame, data.get("shown_map"))
        version = data["version"]
    else:
        figure, version, token = no_update, no_update, data.get("shown_map")
    digests["map"] = token
    return cards, asof, detail, queue, board, districts, figure, version, digests


def html_panel(children):
    from dash import html

    return html.Div(children, className="panel")


def respond(store, settings, focus: dict, theme, view: list, shown, shown_digest, theme_changed: bool,
            now: float) -> tuple:
    """The refresh's outputs for a screen showing ``shown`` (raises StoreUnavailable)."""
    data = gather(store, focus, shown, theme_changed)
    data["shown_version"] = shown
    data["shown_digest"] = shown_digest if shown is not None else None
    data["shown_map"] = (shown_digest or {}).get("map") if shown is not None else None
    out = list(render(store, settings, data, focus, theme, now))
    if out[7] is not no_update:
        out[7] = refresh_state.showing(out[7], view)
    # Cards, as-of line, drill-down, queue and district table: a Patch of what changed in each.
    names = {0: "cards", 1: "asof", 2: "detail", 3: "queue", 5: "districts"}
    outs, digests = sharedcache.send_parts(store, data["first"], {n: out[i] for i, n in names.items()},
                                           (data["shown_digest"] or {}).get("parts"))
    for i, n in names.items():
        out[i] = outs[n]
    out[8] = {**out[8], "parts": digests}
    return tuple(out)


def register(app, store, settings) -> None:
    @app.callback(Output("emergency-cards", "children"), Output("emergency-asof", "children"),
                  Output("emergency-detail", "children"),
                  Output("emergency-queue", "children"), Output("emergency-board", "children"),
                  Output("emergency-districts", "children"), Output("emergency-map", "figure"),
                  Output("emergency-version", "data"), Output("emergency-digest", "data"),
                  Input("tick", "n_intervals"), Input("theme", "data"),
                  State("emergency-focus", "data"), State("emergency-version", "data"),
                  State("emergency-digest", "data"))
    def refresh(_, theme, focus, shown_version, shown_digest):
        # The panel shows (version, view): see dashboard.refresh. Another view's digests do not count either.
        focus = focus or {}
        view = [focus.get("district"), focus.get("incident"), theme or "dark"]
        shown = refresh_state.shown_version(shown_version, view)
        theme_changed = ctx.triggered_id == "theme"
        now = time.time()
        try:
            version = store.version("emergency")
            due = refresh_state.ages_due(shown_digest, now)
            if shown is not None and version == shown and not theme_changed and not due:
                raise PreventUpdate  # nothing new, ages not due: nothing sent (the timers run in the browser)
            # Screens that show the same, in the same second, get the same answer: computed once.
            same = {k: v for k, v in (shown_digest or {}).items() if k != "t"} if shown is not None else None
            key = [version, view, shown, same, theme_changed, int(now)]
            out = sharedcache.compute(store, "emergency-refresh", key,
                                      lambda: respond(store, settings, focus, theme, view, shown, shown_digest,
                                                      theme_changed, now))
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        # When the ages were last sent: the answer is shared, this screen's clock is its own.
        t = now if due or shown is None else (shown_digest or {}).get("t", now)
        return (*out[:8], {**out[8], "t": t})

    # Notes on the incident of the drill-down: the list re-sent only when the notes changed; the add box
    # saves through callbacks.timeline.save_note, which checks the coordinator role first.
    @app.callback(Output("emergency-notes-list", "children"), Output("emergency-notes-shown", "data"),
                  Input("tick", "n_intervals"), Input("emergency-note-saved", "data"),
                  State("emergency-focus", "data"), State("emergency-notes-shown", "data"))
    def incident_notes(_, __, focus, shown):
        incident = (focus or {}).get("incident")
        if not incident:
            raise PreventUpdate
        book = Annotations(store.r, store.keys)
        try:
            version = store.call(book.version)
            if refresh_state.shown_version(shown, [incident]) == version:
                raise PreventUpdate
            notes = store.call(book.list, f"incident:{incident}")
        except StoreUnavailable:
            raise PreventUpdate
        return (notes_table(store.city, notes, "emergency-notes-table"), refresh_state.showing(version, [incident]))

    @app.callback(Output("emergency-note-msg", "children"), Output("emergency-note-text", "value"),
                  Output("emergency-note-saved", "data"),
                  Input("emergency-note-add", "n_clicks"), State("emergency-note-text", "value"),
                  State("emergency-note-at", "value"), State("emergency-focus", "data"), prevent_initial_call=True)
    def add_incident_note(n_clicks, text, at_text, focus):
        require_role("coordinator")
        incident = (focus or {}).get("incident")
        if not n_clicks or not incident:
            raise PreventUpdate
        return save_note(store, f"incident:{incident}", text, at_text)

    @app.callback(Output("url", "search", allow_duplicate=True), Input("emergency-map", "clickData"),
                  prevent_initial_call=True)
    def drill_down(click):
        return drill_target(click, store.city.district_ids()) or no_update


def drill_target(click: dict | None, district_ids: list[str]) -> str | None:
    """The URL query a map click leads to: a district's view, or an incident's timeline."""
    point = ((click or {}).get("points") or [{}])[0]
    if point.get("location") in district_ids:
        return f"?district={point['location']}"
    if point.get("curveNumber") == emergency_page.INCIDENTS and point.get("customdata"):
        return f"?incident={point['customdata']}"
    return None
