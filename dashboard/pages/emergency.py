"""Emergency "/emergency": the coordinators' dispatch panel.

Whole city: response-time KPI cards (each says where its clock starts and stops), the incident
queue by priority then age, the map of incidents and units over districts coloured by travel
time, the unit status board by station with time in status, and compliance per district.
Drill-downs, in the URL so a view can be shared:
  ``/emergency?incident=ID``  the incident's timeline: each unit's dispatch, en route, on scene ...
  ``/emergency?district=D3``  the district's KPIs, its incidents, the map zoomed to it.
A unit or a call with no status change for longer than its limit (``emergency.stuck_after_s``,
``emergency.incident_stuck_after_s``) is flagged with the word STUCK / NO UPDATE and a colour.
"""
from __future__ import annotations

from datetime import datetime

from dash import dcc, html

from dashboard.components import (asof_attr, district_heading, format_age, format_value, kpi_card, newest,
                                  status_badge)
from dashboard.maps import base_layout, district_layer, district_values, map_graph
from dashboard.pages.timeline import can_annotate, note_box
from feeds.adapters.emergency import BUSY, EmergencyConfig
from feeds.config import City
from feeds.timeparse import zone

EMERGENCY_KPIS = ("emergency.active_incidents", "emergency.units_available_pct", "emergency.call_answer_15s_pct",
                  "emergency.call_answer_20s_pct", "emergency.call_processing_p90_s", "emergency.turnout_p90_s",
                  "emergency.travel_p90_s", "emergency.response_p90_s")
INTERVAL_KPIS = ("emergency.call_processing_p90_s", "emergency.turnout_p90_s", "emergency.travel_p90_s")
STATUS_WORD = {"available": "AVAILABLE", "dispatched": "DISPATCHED", "en_route": "EN ROUTE", "on_scene": "ON SCENE",
               "transporting": "TRANSPORTING", "at_hospital": "AT HOSPITAL", "out_of_service": "OUT OF SERVICE",
               None: "NO REPORT"}
STATUS_COLOUR = {"available": "#22c55e", "dispatched": "#facc15", "en_route": "#fb923c", "on_scene": "#ef4444",
                 "transporting": "#a855f7", "at_hospital": "#60a5fa", "out_of_service": "#64748b", None: "#475569"}
PRIORITY_COLOUR = {1: "#f43f5e", 2: "#fb923c", 3: "#facc15"}
TRAVEL_SCALE = [[0, "#1a9850"], [0.4, "#91cf60"], [0.55, "#fee08b"], [0.75, "#fc8d59"], [1, "#d73027"]]
QUEUE_SHOWN = 80  # rows of the incident queue drawn; the rest are counted
SEVERITY = ["no_data", "ok", "stale", "warn", "breach"]


def page(store, query: dict) -> html.Div:
    """The page at /emergency (see feeds.plugins); ``query`` is the URL's query string as a dict."""
    district = query.get("district")
    if district not in store.city.district_ids():
        district = None
    incident = (query.get("incident") or "").strip() or None
    return layout(store.city, district, incident, can_annotate())


def layout(city: City, district: str | None, incident: str | None, annotate: bool = False) -> html.Div:
    names = {d.id: d.name for d in city.districts}
    if incident:
        heading = [html.H1(["Emergency — incident ", html.Span(incident, id="emergency-incident-name")]),
                   dcc.Link("← dispatch panel", href="/emergency", className="back-link", id="emergency-back")]
    elif district:
        heading = district_heading("emergency", "Emergency", district, names[district])
    else:
        heading = [html.H1("Emergency dispatch — whole city"),
                   html.Span("Click an incident for its timeline, a district for its calls.", className="muted")]
    return html.Div(className="emergency-page", children=[
        dcc.Store(id="emergency-focus", data={"district": district, "incident": incident}),
        dcc.Store(id="emergency-version"),
        # What the panels show: {parts: {name: digest}, board: {layout, tiles}, map: frame token, t: ages sent}
        dcc.Store(id="emergency-digest"),
        html.Div([*heading, html.Div(id="emergency-asof", className="kpi-age")], className="page-head"),
        html.Div(id="emergency-cards", className="cards emergency-cards"),
        html.Div(id="emergency-detail", className="emergency-detail"),
        *([incident_notes(incident, annotate)] if incident else []),
        # The queue and the unit board first: on a 1920x1080 wall both are in view with the cards;
        # the map and the district compliance table follow.
        html.Div(className="emergency-body", children=[
            html.Div(id="emergency-queue", className="panel queue-panel"),
            html.Div(id="emergency-board", className="panel board-panel"),
        ]),
        html.Div(className="emergency-lower", children=[
            html.Div(map_graph("emergency-map"),
                     className="panel map-panel"),
            html.Div(id="emergency-districts", className="panel districts-panel"),
        ]),
    ])


def incident_notes(incident: str, annotate: bool) -> html.Div:
    """Coordinators' notes on the incident (callbacks/emergency.py fills the list); the add box only for a
    coordinator. Outside the drill-down panel, so a refresh of the panel never wipes a note being typed."""
    return html.Div(className="panel incident-notes", id="emergency-notes", children=[
        dcc.Store(id="emergency-note-saved"),
        dcc.Store(id="emergency-notes-shown"),
        html.H3("Notes on this incident"),
        html.Div(id="emergency-notes-list"),
        note_box("emergency", f"Add a note to incident {incident}") if annotate else html.Div(),
    ])


# ----------------------------------------------------------------------------- wire-form components
def _h(tag: str, children=None, **props) -> dict:
    """``html.<tag>(children, **props)`` in the form Dash sends it (its ``to_plotly_json()``), built as a
    plain dict: the board's hundreds of tiles and the queue's rows cost a fraction of the time of
    component objects (Dash validates every prop of every object). Same bytes on the wire."""
    if children is not None:
        props = {"children": children, **props}
    return {"props": props, "type": tag, "namespace": "dash_html_components"}


def _link(children, href: str, **props) -> dict:
    """``dcc.Link(children, href=..., **props)`` in wire form."""
    return {"props": {"children": children, "href": href, **props}, "type": "Link",
            "namespace": "dash_core_components"}


# ----------------------------------------------------------------------------- pure helpers
def minutes_text(seconds: float) -> str:
    """An age in whole minutes: 0 min, 12 min, 2 h 03 min."""
    m = max(0, int(seconds)) // 60
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


def clock_text(seconds: float | None) -> str:
    """A live timer: 0:45, 12:05, 2:03:10."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def local_time(city: City, t: float | None) -> str:
    if t is None:
        return "—"
    return datetime.fromtimestamp(t, zone(city.timezone)).strftime("%H:%M:%S")


def unit_stuck(unit: dict, now: float, conf: EmergencyConfig) -> bool:
    """No status change for longer than the status's limit (available units never are)."""
    limit = conf.stuck_after_s.get(unit.get("status") or "")
    return limit is not None and unit.get("since") is not None and now - unit["since"] > limit


def incident_stuck(inc: dict, now: float, conf: EmergencyConfig) -> bool:
    last = inc.get("updated") or inc.get("opened")
    return inc.get("status") == "active" and last is not None and now - last > conf.incident_stuck_after_s


def queue_order(incidents: list[dict]) -> list[dict]:
    """Priority first (1 is most urgent), then the oldest call first."""
    return sorted(incidents, key=lambda i: (i.get("priority") or 9, i.get("opened") or 0, i["id"]))


def in_focus(incidents: list[dict], units: list[dict], district: str | None):
    """A district's incidents, and its own units plus any unit working one of its incidents."""
    if not district:
        return incidents, units
    shown = [i for i in incidents if i.get("district") == district]
    ids = {i["id"] for i in shown}
    return shown, [u for u in units if u.get("district") == district or u.get("incident") in ids]


# ----------------------------------------------------------------------------- cards
def cards(kpis: dict[str, dict], histories: dict[str, list[float]], focus: str | None) -> list:
    out = []
    for kid in EMERGENCY_KPIS:
        k = kpis[kid]
        if focus:
            dv = k["by_district"].get(focus, {"value": None, "status": "no_data"})
            card = kpi_card(k, None, value=dv["value"], status=dv["status"])
        else:
            card = kpi_card(k, histories.get(kid))
        extra = []
        if kid == "emergency.turnout_p90_s":
            turnout_figures(card, k, focus)
        if k.get("clock"):
            extra.append(html.Div("clock: " + k["clock"].replace("->", "→"), className="kpi-clock"))
        elif k["window"] == "now":
            extra.append(html.Div("now, as last reported", className="kpi-clock"))
        card.children.extend(extra)
        out.append(card)
    return out


def turnout_split(k: dict, focus: str | None) -> list[tuple[str, float | None, float | None]]:
    """(label, 90th percentile s, own target s) for EMS and fire: citywide, or the focused district's."""
    d = k.get("detail") or {}
    per = (d.get("by_district") or {}).get(focus) or {} if focus else None
    out = []
    for kind, label in (("ems", "EMS"), ("fire", "Fire")):
        g = d.get(kind) or {}
        out.append((label, per.get(kind) if focus else g.get("p90_s"), g.get("target_s")))
    return out


def turnout_figures(card: html.Div, k: dict, focus: str | None) -> None:
    """NFPA 1710 sets two turnout targets: the card's big figures are the EMS and the fire 90th
    percentiles in real seconds, each coloured against its own target (the KPI's single value, the
    worse kind on the EMS scale, drives the status word and stays in the API)."""
    split = turnout_split(k, focus)
    figs = []
    for label, p, target in split:
        miss = p is not None and target is not None and p > target
        figs.append(html.Span([html.Span(label, className="turnout-kind"), " ",
                               html.Span(format_value(p), className="turnout-v"),
                               *([" ", html.Span("s", className="kpi-unit"), " ",
                                  html.Span("MISS" if miss else "OK", className="turnout-word")]
                                 if p is not None else [])],
                              className="turnout-figure " + ("none" if p is None else "miss" if miss else "meet")))
    card.children[1] = html.Div(figs, className="kpi-figure turnout-figures")
    known = all(t is not None for _, _, t in split)  # the targets come with the first computed value
    card.children[2] = html.Div("targets: " + " · ".join(
        f"{label if label == 'EMS' else label.lower()} ≤ {format_value(t)} s" for label, _, t in split)
        if known else "EMS and fire targets apart (NFPA 1710)", className="kpi-target")


# ----------------------------------------------------------------------------- queue
def queue(city: City, incidents: list[dict], now: float, conf: EmergencyConfig, focus: str | None) -> list:
    names = {d.id: d.name for d in city.districts}
    active = queue_order([i for i in incidents if i.get("status") == "active"])
    rows = []
    for inc in active[:QUEUE_SHOWN]:
        stuck = incident_stuck(inc, now, conf)
        units = inc.get("units") or []
        busy = [u for u in units if u.get("status") in BUSY]
        on_scene = sum(1 for u in busy if u.get("status") in ("on_scene", "transporting", "at_hospital"))
        prio = inc.get("priority") or 3
        rows.append(_h("Tr", [
            _h("Td", _h("Span", f"P{prio}", className=f"prio prio-{min(prio, 3)}")),
            _h("Td", _link(inc["id"], f"/emergency?incident={inc['id']}", id=f"incident-link-{inc['id']}",
                           className="incident-link")),
            _h("Td", inc.get("type") or "", className="inc-type"),
            _h("Td", names.get(inc.get("district"), inc.get("district") or "—")),
            _h("Td", clock_text(now - inc["opened"]) if inc.get("opened") else "—", className="timer",
               **({"data-since": inc["opened"]} if inc.get("opened") else {})),
            _h("Td", f"{on_scene}/{len(busy)}" if busy else "none", className="units-none" if not busy else ""),
            _h("Td", _h("Span", "NO UPDATE", className="flag") if stuck else
               clock_text(now - (inc.get("updated") or now)), className="timer",
               **{"data-since": inc.get("updated") or now, "data-limit": conf.incident_stuck_after_s,
                  "data-stuck": "NO UPDATE"}),
        ], className="row-stuck" if stuck else f"row-p{min(prio, 3)}"))
    more = len(active) - len(rows)
    title = f"Active incidents ({len(active)})" + (" in this district" if focus else "")
    return [html.H3(title),
            html.Table([html.Thead(html.Tr([html.Th(h) for h in ("", "incident", "type", "district", "age",
                                                                  "on scene", "last change")])),
                        html.Tbody(rows)], className="table queue-table", id="emergency-queue-table"),
            html.Div(f"+ {more} more, lower priority or newer" if more > 0 else
                     ("" if rows else "No active incidents."), className="muted")]


# ----------------------------------------------------------------------------- unit board
def board_groups(units: list[dict]) -> list[tuple[str, list[dict]]]:
    """Units by station (stations by name, units in board order): the board's fixed layout."""
    stations: dict[str, list[dict]] = {}
    for u in units:
        stations.setdefault(u.get("station_name") or u.get("station") or "No station", []).append(u)
    return [(name, stations[name]) for name in sorted(stations)]


def tile_key(u: dict) -> tuple:
    """What a unit's tile shows (its timer runs in the browser): a tile is re-sent only when this changes."""
    return (u["id"], u.get("type"), u.get("status"), u.get("since"), u.get("incident"))


def unit_tile(u: dict, now: float, conf: EmergencyConfig) -> dict:
    """One unit's tile (wire form: see ``_h``)."""
    stuck = unit_stuck(u, now, conf)
    status = u.get("status")
    inc = u.get("incident")
    return _h("Div", [
        _h("Span", u["id"], className="unit-id"),
        _h("Span", (u.get("type") or "").upper(), className="unit-type"),
        _h("Span", STATUS_WORD.get(status, str(status).upper()), className="unit-status",
           style={"background": STATUS_COLOUR.get(status, "#475569")}),
        _h("Span", ("STUCK " if stuck else "") + clock_text(now - u["since"]) if u.get("since") else "—",
           className="unit-time", **({"data-since": u["since"], "data-prefix": "STUCK ",
                                      "data-limit": conf.stuck_after_s.get(status or "", "")}
                                     if u.get("since") else {})),
        _link(inc, f"/emergency?incident={inc}", className="unit-incident") if inc else
        _h("Span", "", className="unit-incident"),
    ], className="unit-tile" + (" unit-stuck" if stuck else ""), id=f"unit-{u['id']}")


def board_head(units: list[dict], now: float, conf: EmergencyConfig) -> html.Div:
    counts = {s: sum(1 for u in units if u.get("status") == s) for s in STATUS_WORD if s}
    stuck_n = sum(1 for u in units if unit_stuck(u, now, conf))
    summary = " · ".join(f"{counts[s]} {STATUS_WORD[s].lower()}" for s in counts if counts[s])
    head = [html.H3(f"Units ({len(units)})"), html.Span(summary, className="muted")]
    if stuck_n:
        head.append(html.Span(f"{stuck_n} with no status change past the limit", className="flag"))
    return html.Div(head, className="board-head")


# Positions in the board's children, for a Patch of single tiles:
# [head, stations div -> [station -> [h4, tiles div -> [tile, ...]]], clock ref]
BOARD_HEAD, BOARD_STATIONS, BOARD_CLOCK = 0, 1, 2


def board(units: list[dict], now: float, conf: EmergencyConfig) -> list:
    groups = [_h("Div", [_h("H4", name), _h("Div", [unit_tile(u, now, conf) for u in members], className="unit-tiles")],
                 className="station") for name, members in board_groups(units)]
    return [board_head(units, now, conf), html.Div(groups, className="stations", id="emergency-unit-board"),
            clock_ref(now)]


def board_patch(patch, units: list[dict], changed: list[tuple[int, int, dict]], now: float, conf: EmergencyConfig):
    """Only the tiles that changed (station index, tile index, unit), the head and the clock reference."""
    patch[BOARD_HEAD] = board_head(units, now, conf)
    for g, i, u in changed:
        patch[BOARD_STATIONS]["props"]["children"][g]["props"]["children"][1]["props"]["children"][i] = \
            unit_tile(u, now, conf)
    patch[BOARD_CLOCK] = clock_ref(now)
    return patch


def clock_ref(now: float) -> html.Span:
    """The server's time at render: assets/emergency.js runs the timers between renders from it."""
    return html.Span(className="emergency-clock-ref", **{"data-now": round(now, 3)})


# ----------------------------------------------------------------------------- districts
def district_table(city: City, kpis: dict[str, dict]) -> list:
    """Compliance per district; a district that misses a target is flagged and sorted first."""
    cols = [("emergency.call_processing_p90_s", "processing"), ("emergency.turnout_p90_s", "turnout EMS / fire"),
            ("emergency.travel_p90_s", "travel"), ("emergency.response_p90_s", "response")]
    active = kpis["emergency.active_incidents"]["by_district"]
    worst = {}
    for d in city.districts:
        worst[d.id] = max((kpis[k]["by_district"][d.id]["status"] for k in INTERVAL_KPIS), key=SEVERITY.index)
    order = sorted(city.districts, key=lambda d: (-SEVERITY.index(worst[d.id]), d.id))
    rows = []
    for d in order:
        cells = [html.Td(dcc.Link(d.name, href=f"/emergency?district={d.id}", id=f"emergency-district-{d.id}"))]
        cells.append(html.Td(format_value(active[d.id]["value"])))
        for kid, _ in cols:
            dv = kpis[kid]["by_district"][d.id]
            if kid == "emergency.turnout_p90_s":  # real seconds by kind, not the KPI's EMS-scale value
                text = " / ".join(format_value(p) for _, p, _ in turnout_split(kpis[kid], d.id))
            else:
                text = format_value(dv["value"])
            cells.append(html.Td(text, className=f"cell-{dv['status']}"))
        missed = worst[d.id] in ("warn", "breach")
        cells.append(html.Td([status_badge(worst[d.id]), html.Span(" MISSES TARGET", className="flag")
                              if worst[d.id] == "breach" else ""]))
        rows.append(html.Tr(cells, className=f"row-{worst[d.id]}" + (" row-missed" if missed else "")))
    return [html.H3("Response compliance by district (90th percentile, s)"),
            html.Table([html.Thead(html.Tr([html.Th(h) for h in ("district", "active", *[c for _, c in cols], "")])),
                        html.Tbody(rows)], className="table", id="emergency-district-table")]


def district_incidents(city: City, incidents: list[dict], closed: list[dict], now: float, district: str) -> list:
    rows = []
    for inc in [*queue_order([i for i in incidents if i.get("status") == "active"]), *closed][:60]:
        rows.append(html.Tr([
            html.Td(dcc.Link(inc["id"], href=f"/emergency?incident={inc['id']}", id=f"district-incident-{inc['id']}")),
            html.Td(f"P{inc.get('priority') or 3}"), html.Td(inc.get("type") or ""),
            html.Td(inc["status"].upper()), html.Td(local_time(city, inc.get("opened"))),
            html.Td(format_value(inc.get("call_processing_s"))), html.Td(format_value(inc.get("travel_s"))),
            html.Td(format_value(inc.get("response_s"))),
        ]))
    return [html.H3("Incidents in this district (active, then the newest closed)"),
            html.Table([html.Thead(html.Tr([html.Th(h) for h in ("incident", "", "type", "status", "received",
                                                                  "processing s", "travel s", "response s")])),
                        html.Tbody(rows)], className="table", id="emergency-district-incidents"),
            html.Div("" if rows else "No incident in this district in the last week.", className="muted")]


# ----------------------------------------------------------------------------- incident timeline
def timeline(city: City, inc: dict | None, now: float, conf: EmergencyConfig, incident_id: str) -> list:
    if inc is None:
        return [html.Div(f"No incident {incident_id} (closed more than a week ago, or never reported).",
                         className="panel muted", id="emergency-timeline-missing")]
    names = {d.id: d.name for d in city.districts}
    stuck = incident_stuck(inc, now, conf)
    facts = [
        ("type", inc.get("type")), ("priority", f"P{inc.get('priority') or 3}"),
        ("kind", (inc.get("category") or "").upper()), ("address", inc.get("address") or "—"),
        ("district", names.get(inc.get("district"), inc.get("district") or "—")),
        ("status", inc["status"].upper() + (" — NO UPDATE" if stuck else "")),
        ("received", local_time(city, inc.get("opened"))),
    ]
    live_age = inc["status"] == "active" and inc.get("opened") is not None
    intervals = [("call processing", inc.get("call_processing_s"), "received → first dispatch"),
                 ("travel", inc.get("travel_s"), f"first-arriving {inc.get('first_arriving') or '—'}: en route → on scene"),
                 ("total response", inc.get("response_s"), "received → first unit on scene")]
    head = html.Div([
        html.Div([html.Div([html.Span(k, className="fact-k"), html.Span(str(v), className="fact-v")], className="fact")
                  for k, v in facts] + [html.Div([
                      html.Span("age" if live_age else "closed", className="fact-k"),
                      html.Span(clock_text(now - inc["opened"]), className="fact-v timer", **{"data-since": inc["opened"]})
                      if live_age else html.Span(local_time(city, inc.get("closed")), className="fact-v")],
                      className="fact")], className="facts"),
        html.Div([html.Div([html.Span(format_value(v), className="interval-v"), html.Span(" s", className="kpi-unit"),
                            html.Div(label, className="interval-k"), html.Div(clock, className="kpi-clock")],
                           className="interval") for label, v, clock in intervals], className="intervals"),
    ], className="incident-head")
    cols = ("dispatched", "en_route", "on_scene", "transporting", "at_hospital", "available")
    rows = []
    for u in inc.get("units") or []:
        turnout = (u["en_route"] - u["dispatched"]) if u.get("en_route") and u.get("dispatched") else None
        travel = (u["on_scene"] - u["en_route"]) if u.get("on_scene") and u.get("en_route") else None
        mark = "FIRST ON SCENE" if u["unit"] == inc.get("first_arriving") else ("CANCELLED" if u.get("cancelled") else "")
        rows.append(html.Tr([html.Td(u["unit"], className="unit-id"), html.Td((u.get("unit_type") or "").upper()),
                             html.Td(local_time(city, inc.get("opened"))),
                             *[html.Td(local_time(city, u.get(c))) for c in cols],
                             html.Td(format_value(turnout)), html.Td(format_value(travel)),
                             html.Td(mark, className="mark-first" if mark.startswith("FIRST") else "mark")],
                            id=f"timeline-{u['unit']}"))
    table = html.Table([html.Thead(html.Tr([html.Th(h) for h in (
        "unit", "type", "received", "dispatched", "en route", "on scene", "transporting", "at hospital", "available",
        "turnout s", "travel s", "")])), html.Tbody(rows)], className="table timeline-table", id="emergency-timeline")
    events = sorted((inc.get("times") or {}).items(), key=lambda kv: kv[1])
    log = html.Ol([html.Li([html.Span(local_time(city, t), className="log-t"),
                            html.Span(f" {m.partition('|')[0] or 'call'} ", className="log-unit"),
                            html.Span(STATUS_WORD.get(m.partition('|')[2], m.partition('|')[2].upper()))])
                   for m, t in events], className="event-log", id="emergency-event-log")
    return [html.Div([head, html.H3("Units on this incident"), table if rows else
                      html.Div("No unit dispatched yet.", className="muted"),
                      html.H3("Every change, in order"), log], className="panel incident-panel")]


# ----------------------------------------------------------------------------- map
DISTRICTS, INCIDENTS, UNITS = 0, 1, 2


def _polygon_view(city: City, district: str):
    d = next(d for d in city.districts if d.id == district)
    lons = [p[0] for p in d.polygon]
    lats = [p[1] for p in d.polygon]
    return ((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2), city.zoom + 1.2


def incident_unit_traces() -> list[dict]:
    """The empty incidents and units traces (map_data fills them); the integrated city map uses them too."""
    return [{"type": "scattermap", "mode": "markers", "name": "incidents (P1 red, P2 orange, P3 yellow)",
             "lon": [], "lat": [], "text": [], "customdata": [],
             "marker": {"size": [], "color": [], "opacity": 0.95},
             "hovertemplate": "%{text}<br>click for the timeline<extra></extra>"},
            {"type": "scattermap", "mode": "markers", "name": "units (green available)",
             "lon": [], "lat": [], "text": [], "customdata": [],
             "marker": {"size": 11, "color": [], "opacity": 0.9},
             "hovertemplate": "%{text}<extra></extra>"}]


def map_skeleton(city: City, focus: str | None, theme: str, tile_url: str | None, center=None) -> dict:
    c, zoom = _polygon_view(city, focus) if focus else (center, city.zoom + 1 if center else None)
    return {
        "data": [district_layer(city, {}, "travel 90th s", theme, TRAVEL_SCALE, 120, 420, focus),
                 *incident_unit_traces()],
        "layout": base_layout(city, theme, tile_url, c, zoom, uirevision=f"emergency-{focus or 'city'}"),
    }


def map_data(city: City, kpis: dict[str, dict], incidents: list[dict], units: list[dict], now: float) -> dict[int, dict]:
    travel = {d: v["value"] for d, v in kpis["emergency.travel_p90_s"]["by_district"].items()}
    located = [i for i in incidents if i.get("status") == "active" and i.get("lon") is not None]
    placed = [u for u in units if u.get("lon") is not None]
    return {
        DISTRICTS: district_values(city, travel, "travel 90th (s)", 120),
        INCIDENTS: {"lon": [i["lon"] for i in located], "lat": [i["lat"] for i in located],
                    # The age in whole minutes: a refresh then re-sends a call's hover text once a minute,
                    # not on every tick (the queue beside the map counts the seconds).
                    "text": [f"P{i.get('priority') or 3} {i['id']}: {i.get('type')}<br>age "
                             f"{minutes_text(now - i['opened']) if i.get('opened') else '—'}" for i in located],
                    "customdata": [i["id"] for i in located],
                    "marker.color": [PRIORITY_COLOUR.get(i.get("priority"), "#facc15") for i in located],
                    "marker.size": [22 if i.get("priority") == 1 else 17 for i in located]},
        UNITS: {"lon": [u["lon"] for u in placed], "lat": [u["lat"] for u in placed],
                "text": [f"{u['id']} {STATUS_WORD.get(u.get('status'), '')}" + (f" → {u['incident']}" if u.get("incident") else "")
                         for u in placed],
                "customdata": [u["id"] for u in placed],
                "marker.color": [STATUS_COLOUR.get(u.get("status"), "#475569") for u in placed]},
    }


def as_of_line(kpis: dict[str, dict]) -> html.Div:
    latest = newest(kpis.values())
    return html.Div("map and lists as of " + (format_age(latest["age_s"]) if latest else "no data yet"),
                    className="kpi-age", **asof_attr(latest and latest.get("as_of")))
