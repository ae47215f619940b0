"""Pure pieces of the /emergency panel: queue order, timers, stuck flags, cards that state their clock."""
from __future__ import annotations

from dash import html

from dashboard.pages.emergency import clock_text, incident_stuck, queue_order, unit_stuck
from feeds.adapters.emergency import emergency_config
from tests.emergency_helpers import west_coast_city

CONF = emergency_config(west_coast_city())


def test_queue_is_priority_first_then_oldest_first():
    incidents = [{"id": "a", "priority": 2, "opened": 100}, {"id": "b", "priority": 1, "opened": 300},
                 {"id": "c", "priority": 1, "opened": 200}, {"id": "d", "priority": 3, "opened": 50}]
    assert [i["id"] for i in queue_order(incidents)] == ["c", "b", "a", "d"]


def test_timers_read_like_a_stopwatch():
    assert [clock_text(s) for s in (0, 45, 605, 7390)] == ["0:00", "0:45", "10:05", "2:03:10"]
    assert clock_text(None) == "—" and clock_text(-3) == "0:00"


def test_a_unit_is_stuck_only_past_its_status_limit_and_never_when_available():
    # defaults: dispatched 120 s, on scene 3600 s
    assert not unit_stuck({"status": "dispatched", "since": 1000}, 1120, CONF)
    assert unit_stuck({"status": "dispatched", "since": 1000}, 1121, CONF)
    assert not unit_stuck({"status": "on_scene", "since": 1000}, 4500, CONF)
    assert not unit_stuck({"status": "available", "since": 0}, 10**6, CONF)
    assert not unit_stuck({"status": None, "since": None}, 10**6, CONF)


def test_an_active_call_without_a_change_for_30_minutes_is_flagged():
    assert incident_stuck({"status": "active", "updated": 1000}, 2801, CONF)
    assert not incident_stuck({"status": "active", "updated": 1000}, 2800, CONF)
    assert not incident_stuck({"status": "closed", "updated": 1000}, 10**6, CONF)


def test_every_interval_card_says_where_its_clock_starts_and_stops(sample_city):
    from dashboard.pages.emergency import EMERGENCY_KPIS, cards
    from dashboard.store import Store

    from feeds.kpi.catalogue import CATALOGUE
    from feeds.schema import Keys

    store = Store(None, Keys(), sample_city)  # shaping only: no Redis call
    kpis = {kid: store._shape(CATALOGUE[kid], None, 0) for kid in EMERGENCY_KPIS}

    def text(node) -> str:
        if isinstance(node, str):
            return node
        kids = getattr(node, "children", None)
        if kids is None:
            return ""
        return " ".join(text(k) for k in (kids if isinstance(kids, list) else [kids]))

    rendered = {kid: text(card) for kid, card in zip(EMERGENCY_KPIS, cards(kpis, {}, None))}
    assert "clock: first-arriving unit en route → on scene" in rendered["emergency.travel_p90_s"]
    assert "clock: unit dispatched → unit en route" in rendered["emergency.turnout_p90_s"]
    assert "clock: 911 call received → first unit dispatched" in rendered["emergency.call_processing_p90_s"]
    assert "clock: first ring → answer" in rendered["emergency.call_answer_15s_pct"]
    assert "EMS" in rendered["emergency.turnout_p90_s"] and "Fire" in rendered["emergency.turnout_p90_s"]
    assert isinstance(cards(kpis, {}, None)[0], html.Div)


def test_a_district_view_shows_its_units_and_the_units_working_its_calls():
    from dashboard.pages.emergency import in_focus

    incidents = [{"id": "I-1", "district": "D1"}, {"id": "I-2", "district": "D2"}]
    units = [{"id": "A", "district": "D1", "incident": None}, {"id": "B", "district": "D2", "incident": "I-1"},
             {"id": "C", "district": "D2", "incident": "I-2"}]
    shown, shown_units = in_focus(incidents, units, "D1")
    assert [i["id"] for i in shown] == ["I-1"] and [u["id"] for u in shown_units] == ["A", "B"]
    assert in_focus(incidents, units, None) == (incidents, units)


def test_map_clicks_lead_to_a_district_or_an_incident_timeline():
    from callbacks.emergency import drill_target
    from dashboard.pages.emergency import INCIDENTS, UNITS

    assert drill_target({"points": [{"location": "D3", "curveNumber": 0}]}, ["D3"]) == "?district=D3"
    assert drill_target({"points": [{"curveNumber": INCIDENTS, "customdata": "INC-7"}]}, ["D3"]) == "?incident=INC-7"
    assert drill_target({"points": [{"curveNumber": UNITS, "customdata": "M1"}]}, ["D3"]) is None
    assert drill_target(None, ["D3"]) is None and drill_target({"points": []}, ["D3"]) is None


def _text(node) -> str:
    if isinstance(node, str):
        return node
    kids = getattr(node, "children", None)
    if kids is None:
        return ""
    return " ".join(_text(k) for k in (kids if isinstance(kids, list) else [kids]))


def _find(node, class_part: str) -> list:
    out = []
    if getattr(node, "className", None) and class_part in node.className.split():
        out.append(node)
    kids = getattr(node, "children", None)
    for k in (kids if isinstance(kids, list) else [kids] if kids is not None else []):
        if not isinstance(k, str):
            out += _find(k, class_part)
    return out


def test_turnout_card_shows_ems_and_fire_in_real_seconds_against_their_own_targets(sample_city):
    # The KPI's value is 90 (fire 120 s x 60/80, on the EMS scale): a number no unit took. The card's big
    # figures are the real 90th percentiles: EMS 50 s (meets 60 s) and fire 120 s (misses 80 s).
    from dashboard.pages.emergency import EMERGENCY_KPIS, cards
    from dashboard.store import Store
    from feeds.kpi.catalogue import CATALOGUE
    from feeds.schema import Keys

    store = Store(None, Keys(), sample_city)
    kpis = {kid: store._shape(CATALOGUE[kid], None, 0) for kid in EMERGENCY_KPIS}
    d1 = sample_city.district_ids()[0]
    kpis["emergency.turnout_p90_s"].update(
        value=90, status="breach", age_s=12,
        by_district={d: {"value": None, "status": "no_data"} for d in sample_city.district_ids()} |
        {d1: {"value": 45, "status": "ok"}},
        detail={"ems": {"p90_s": 50, "target_s": 60, "n": 9}, "fire": {"p90_s": 120, "target_s": 80, "n": 1},
                "by_district": {d1: {"ems": 45, "fire": None}}})
    card = cards(kpis, {}, None)[EMERGENCY_KPIS.index("emergency.turnout_p90_s")]
    figures = [" ".join(_text(f).split()) for f in _find(card, "turnout-figure")]
    assert figures == ["EMS 50 s OK", "Fire 120 s MISS"]
    assert [f.className.split()[-1] for f in _find(card, "turnout-figure")] == ["meet", "miss"]
    assert "90" not in [_text(v).strip() for v in _find(card, "kpi-value")]
    assert "EMS ≤ 60 s" in _text(card) and "fire ≤ 80 s" in _text(card)
    # a district's card: that district's own split
    card = cards(kpis, {}, d1)[EMERGENCY_KPIS.index("emergency.turnout_p90_s")]
    assert [" ".join(_text(f).split()) for f in _find(card, "turnout-figure")] == ["EMS 45 s OK", "Fire —"]


def test_district_table_turnout_column_is_real_seconds_by_kind(sample_city):
    # The district's KPI value (90 = fire 120 s on the EMS scale) is not shown; its EMS and fire 90th are.
    from dashboard.pages.emergency import EMERGENCY_KPIS, district_table
    from dashboard.store import Store
    from feeds.kpi.catalogue import CATALOGUE
    from feeds.schema import Keys

    store = Store(None, Keys(), sample_city)
    kpis = {kid: store._shape(CATALOGUE[kid], None, 0) for kid in EMERGENCY_KPIS}
    d1 = sample_city.district_ids()[0]
    kpis["emergency.turnout_p90_s"]["by_district"][d1] = {"value": 90, "status": "breach"}
    kpis["emergency.turnout_p90_s"]["detail"] = {"ems": {"target_s": 60}, "fire": {"target_s": 80},
                                                 "by_district": {d1: {"ems": 50, "fire": 120}}}
    table = district_table(sample_city, kpis)[1]
    first_row = table.children[1].children[0]  # the worst district comes first
    cells = [_text(c).strip() for c in first_row.children]
    assert "50 / 120" in cells and "90" not in cells


def _wire(component):
    """What Dash sends for a component: its JSON, nested components included."""
    import json

    import plotly

    return json.loads(json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder))


def test_board_tiles_and_queue_rows_are_what_dash_components_would_send():
    # The board and the queue are built in Dash's wire form for speed; they must be exactly what the
    # equivalent html/dcc components serialise to (a drift in Dash's format would break the panel).
    from dash import dcc

    from dashboard.pages.emergency import queue, unit_tile

    u = {"id": "M1", "type": "medic", "status": "en_route", "since": 1000.0, "incident": "I-1"}
    expected = html.Div([
        html.Span("M1", className="unit-id"), html.Span("MEDIC", className="unit-type"),
        html.Span("EN ROUTE", className="unit-status", style={"background": "#fb923c"}),
        html.Span("STUCK 16:40", className="unit-time",
                  **{"data-since": 1000.0, "data-prefix": "STUCK ", "data-limit": 900}),
        dcc.Link("I-1", href="/emergency?incident=I-1", className="unit-incident"),
    ], className="unit-tile unit-stuck", id="unit-M1")
    assert _wire(unit_tile(u, 2000.0, CONF)) == _wire(expected)  # en route 1000 s > 900 s limit: STUCK

    city = west_coast_city()
    inc = {"id": "I-1", "priority": 1, "type": "Fall", "district": "haight", "opened": 1000.0, "updated": 1900.0,
           "status": "active", "units": [{"unit": "M1", "status": "on_scene"}]}
    row = queue(city, [inc], 2000.0, CONF, None)[1].children[1].children[0]
    expected_row = html.Tr([
        html.Td(html.Span("P1", className="prio prio-1")),
        html.Td(dcc.Link("I-1", href="/emergency?incident=I-1", id="incident-link-I-1", className="incident-link")),
        html.Td("Fall", className="inc-type"), html.Td("Haight"),
        html.Td("16:40", className="timer", **{"data-since": 1000.0}),
        html.Td("1/1", className=""),
        html.Td("1:40", className="timer", **{"data-since": 1900.0, "data-limit": 1800.0, "data-stuck": "NO UPDATE"}),
    ], className="row-p1")
    assert _wire(row) == _wire(expected_row)


def test_informational_cards_say_info_not_ok(sample_city):
    # Active incidents and total response have no target: the engine's "ok" must not read as a green OK.
    from dashboard.pages.emergency import EMERGENCY_KPIS, cards
    from dashboard.store import Store
    from feeds.kpi.catalogue import CATALOGUE
    from feeds.schema import Keys

    store = Store(None, Keys(), sample_city)
    kpis = {kid: store._shape(CATALOGUE[kid], None, 0) for kid in EMERGENCY_KPIS}
    for kid in ("emergency.active_incidents", "emergency.travel_p90_s"):
        kpis[kid].update(value=3, status="ok", age_s=5)
    rendered = dict(zip(EMERGENCY_KPIS, cards(kpis, {}, None)))
    head = rendered["emergency.active_incidents"].children[0]
    assert _text(head.children[1]) == "INFO" and "status-info" in rendered["emergency.active_incidents"].className
    assert _text(rendered["emergency.travel_p90_s"].children[0].children[1]) == "OK"  # a targeted KPI keeps it
