"""The emergency panel: one refresh for every tile; map and list clicks drill down.

A tick with no new data sends nothing, except once in each AGES_EVERY_S slot of the clock
(dashboard.refresh) when the cards go again (their ages move). Everything a view shows is drawn once per
(version, view, ages slot) for every screen (``content``); a screen is sent what differs from what it
shows. The queue, the drill-down panel and the district table go out only when the version moved, as a
Patch of what changed in them (digests of them are kept in the page); the unit board goes out whole only
when its layout (stations, units) changed, else as a Patch of the tiles whose status changed. Between
renders, timers and stuck flags run in the browser (assets/emergency.js), so a quiet minute costs fifty
wall screens almost nothing. The map's first paint (and a theme change) sends the whole figure; later
ticks send a Patch of its live arrays, and only when the KPI version changed.
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


def gather(store, focus: dict) -> dict:
    """Everything one view's content needs from Redis (raises StoreUnavailable); read once per (view,
    version) for every screen and worker (dashboard.sharedcache)."""
    focus = focus or {}
    version = store.version("emergency")

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
    return {"version": version, **shared}


def _hash(obj) -> str:
    return hashlib.blake2b(orjson.dumps(obj), digest_size=10).hexdigest()


def board_state(units: list[dict]) -> tuple[dict, list[tuple[int, int, dict]]]:
    """The board's layout digest, one digest per tile, and each unit's place (station, tile)."""
    groups = emergency_page.board_groups(units)
    places = [(g, i, u) for g, (_, members) in enumerate(groups) for i, u in enumerate(members)]
    layout = _hash([(name, [u["id"] for u in members]) for name, members in groups])
    return {"layout": layout, "tiles": [_hash(emergency_page.tile_key(u)) for _, _, u in places]}, places


PARTS = ("cards", "asof", "detail", "queue", "districts")


def content(store, focus: dict, now: float) -> dict:
    """Everything a screen of this view may be sent at the version read: each panel as a kept part (JSON
    and digest), the unit board whole with its tiles' digests, and the map's frame. Computed once per
    (version, view, ages slot) for every screen (the ages and timers drawn are the first asker's: a wall
    counts the ages on from their data-asof, and every screen the timers from data-since). What each
    screen needs of it is a diff (respond)."""
    focus = focus or {}
    data = gather(store, focus)
    conf = reads.config(store)
    district, incident_id = focus.get("district"), focus.get("incident")
    kpis, city = data["kpis"], store.city
    incidents, units = emergency_page.in_focus(data["incidents"], data["units"], district)
    if incident_id:
        detail = emergency_page.timeline(city, data["incident"], now, conf, incident_id)
    elif district:
        closed = [i for i in data["closed"] if i.get("district") == district]
        detail = [html_panel(emergency_page.district_incidents(city, incidents, closed, now, district))]
    else:
        detail = []
    board_now, places = board_state(units)
    inc = data["incident"]
    center = (inc["lon"], inc["lat"]) if inc and inc.get("lon") is not None else None
    frame = sharedcache.view_frame(
        store, "emergency-map", [district, incident_id], data["version"],
        lambda: (emergency_page.map_data(city, kpis, incidents if not inc else [*incidents, {**inc, "status": "active"}],
                                         units, now), {}))
    parts = sharedcache.kept_parts(store, {
        "cards": emergency_page.cards(kpis, data["histories"], district),
        "asof": emergency_page.as_of_line({"a": kpis["emergency.active_incidents"]}),
        "detail": detail, "queue": emergency_page.queue(city, incidents, now, conf, district),
        "districts": emergency_page.district_table(city, kpis)})
    return {"version": data["version"], "parts": parts, "board": sharedcache.as_json(emergency_page.board(units, now, conf)),
            "board_state": board_now, "places": places, "units": units, "conf": conf, "frame": frame, "center": center}


def html_panel(children):
    from dash import html

    return html.Div(children, className="panel")


def respond(store, settings, c: dict, theme, view: list, shown, shown_digest, theme_changed: bool, now: float) -> tuple:
    """The refresh's outputs for a screen showing version ``shown`` and ``shown_digest``, from this view's
    content ``c``: the cards and as-of line when their ages are due or the version moved (sent when they
    changed), the other panels, the board and the map only when the version moved, each as what differs
    from what the screen shows (a Patch, or nothing)."""
    first = shown is None or theme_changed
    moved = first or c["version"] != shown
    digest = shown_digest if isinstance(shown_digest, dict) and not first else {}
    sent = {n: c["parts"][n] for n in PARTS if moved or n in ("cards", "asof")}
    outs, parts = sharedcache.send_kept(store, first, list(PARTS), sent, digest.get("parts"))
    # Unit board: whole on first paint or when its layout changed, else a Patch of the changed tiles. Its
    # clock reference is this answer's time (the browser's timers run from it).
    board_shown, board = digest.get("board") or {}, no_update
    if first or (moved and board_shown.get("layout") != c["board_state"]["layout"]):
        board = list(c["board"])
        board[emergency_page.BOARD_CLOCK] = emergency_page.clock_ref(now)
    elif moved:
        changed = [place for place, old, new in zip(c["places"], board_shown.get("tiles", []), c["board_state"]["tiles"])
                   if old != new]
        board = emergency_page.board_patch(Patch(), c["units"], changed, now, c["conf"]) if changed else no_update
    figure, version, token = no_update, no_update, digest.get("map")
    if moved:
        version = refresh_state.showing(c["version"], view)
    if moved and (first or c["frame"]["token"] is None or c["frame"]["token"] != token):  # else: the same arrays
        figure, token = sharedcache.map_update(
            store, first, lambda: emergency_page.map_skeleton(store.city, view[0], theme or "dark", settings.map_tile_url,
                                                              c["center"]), c["frame"], token)
    stored = {"board": c["board_state"] if moved else board_shown, "map": token, "parts": parts}
    return (outs["cards"], outs["asof"], outs["detail"], outs["queue"], board, outs["districts"], figure, version,
            stored)


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

            def answer():
                c = sharedcache.compute(store, "emergency-content", [version, view[:2], refresh_state.ages_slot(now)],
                                        lambda: content(store, focus, now), ttl_s=refresh_state.slot_s())
                return respond(store, settings, c, theme, view, shown, shown_digest, theme_changed, now)
            out = sharedcache.compute(store, "emergency-refresh", key, answer)
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
