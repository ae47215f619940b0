"""The CAD adapter on the real SF Fire and Seattle Fire 911 fixtures, and the unit-event JSON form."""
from __future__ import annotations

import csv
import io
import json
import random

import orjson
import pytest

from feeds.adapters.emergency import EmergencyAdapter, audit_changes
from feeds.framework import Runner
from tests.emergency_helpers import SEATTLE_FILE, SF_FILE, pdt, source, west_coast_city

SF_NOW = pdt(2017, 6, 23, 21, 0)


@pytest.fixture(scope="module")
def city():
    return west_coast_city()


def run(r, keys, city, payload: bytes, fmt: str | None = "sf-fire", now: float = SF_NOW):
    adapter = EmergencyAdapter(city, source(fmt))
    return Runner(r, keys, city).run_once(adapter, payload, now=now)


def incident(r, keys, iid="17073664") -> dict:
    return orjson.loads(r.hget(keys.emergency_incidents(), iid))


def test_sf_call_intervals_and_first_arriving_unit_from_the_real_rows(r, keys, city):
    res = run(r, keys, city, SF_FILE.read_bytes())
    assert (res.stored, res.rejected) == (4, 0)
    inc = incident(r, keys)
    # Floating local times, Pacific Daylight Time (UTC-7) on 23 June 2017:
    # received 20:30:09, first dispatch 20:34:06 (B05, E06, T06); E05 dispatched and en route
    # 20:37:59, on scene 20:41:38, available 20:53:27 (the last unit to clear).
    assert inc["opened"] == pdt(2017, 6, 23, 20, 30, 9)
    assert inc["first_dispatch"] == pdt(2017, 6, 23, 20, 34, 6)
    assert inc["first_arriving"] == "E05"  # the only unit with an on-scene time
    assert inc["call_processing_s"] == 237  # 20:34:06 - 20:30:09
    assert inc["travel_s"] == 219  # E05: 20:41:38 - 20:37:59
    assert inc["response_s"] == 689  # 20:41:38 - 20:30:09
    assert inc["status"] == "closed" and inc["closed"] == pdt(2017, 6, 23, 20, 53, 27)
    assert inc["district"] == "haight" and inc["category"] == "fire" and inc["priority"] == 1
    units = {u["unit"]: u for u in inc["units"]}
    assert set(units) == {"B05", "E05", "E06", "T06"}
    # E06 went en route (20:36:08, turnout 122 s) but was cancelled before arriving; B05, T06 never rolled.
    assert units["E06"]["en_route"] - units["E06"]["dispatched"] == 122
    assert sorted(u for u, v in units.items() if v["cancelled"]) == ["B05", "E06", "T06"]
    assert not units["E05"]["cancelled"]
    assert units["T06"]["unit_type"] == "truck"


def test_audit_trail_has_every_time_once_and_the_unit_board_the_last_status(r, keys, city):
    run(r, keys, city, SF_FILE.read_bytes())
    audit = audit_changes(r.xrange(keys.emergency_audit()))
    # 2 call times (received, entry) + B05 2 + E05 4 + E06 3 + T06 2 unit times + the closing = 14
    assert len(audit) == 14
    assert len({(a["unit"], a["status"]) for a in audit}) == 14  # each change once
    assert [a["status"] for a in audit][:2] == ["received", "entry"]
    assert [a["t"] for a in audit] == sorted(a["t"] for a in audit)  # in time order
    board = {u: orjson.loads(v) for u, v in r.hgetall(keys.emergency_units()).items()}
    assert {u: b["status"] for u, b in board.items()} == {u: "available" for u in ("B05", "E05", "E06", "T06")}
    assert board["E05"]["since"] == pdt(2017, 6, 23, 20, 53, 27)


def test_the_same_rows_again_or_reordered_change_nothing(r, keys, city):
    rows = json.loads(SF_FILE.read_bytes())
    run(r, keys, city, SF_FILE.read_bytes())
    first = incident(r, keys)
    audit_len = r.xlen(keys.emergency_audit())
    res = run(r, keys, city, orjson.dumps(list(reversed(rows)) + rows[:1]))
    assert res.stored == 0 and res.duplicates == 5
    assert incident(r, keys) == first
    assert r.xlen(keys.emergency_audit()) == audit_len


def test_units_arriving_out_of_order_give_the_same_incident(r, keys, city, keys_factory=None):
    rows = json.loads(SF_FILE.read_bytes())
    # Row by row, shuffled, each in its own batch: a live CAD export delivering units late.
    random.Random(3).shuffle(rows)
    for row in rows:
        run(r, keys, city, orjson.dumps([row]))
    inc = incident(r, keys)
    assert (inc["first_arriving"], inc["travel_s"], inc["call_processing_s"]) == ("E05", 219, 237)
    assert len(audit_changes(r.xrange(keys.emergency_audit()))) == 14


def test_csv_display_names_and_us_dates_read_like_soda_json(r, keys, city):
    rows = json.loads(SF_FILE.read_bytes())
    names = {"call_number": "Call Number", "unit_id": "Unit ID", "incident_number": "Incident Number",
             "call_type": "Call Type", "received_dttm": "Received DtTm", "entry_dttm": "Entry DtTm",
             "dispatch_dttm": "Dispatch DtTm", "response_dttm": "Response DtTm", "on_scene_dttm": "On Scene DtTm",
             "available_dttm": "Available DtTm", "address": "Address", "priority": "Priority",
             "call_type_group": "Call Type Group", "unit_type": "Unit Type"}
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=[*names.values(), "Location"])
    w.writeheader()
    from datetime import datetime
    for row in rows:
        rec = {}
        for soda, display in names.items():
            v = row.get(soda, "")
            if soda.endswith("_dttm") and v:
                v = datetime.fromisoformat(v).strftime("%m/%d/%Y %I:%M:%S %p")
            rec[display] = v
        lon, lat = row["location"]["coordinates"]
        rec["Location"] = f"POINT ({lon} {lat})"
        w.writerow(rec)
    res = run(r, keys, city, out.getvalue().encode(), fmt="sf-fire")
    assert (res.stored, res.rejected) == (4, 0)
    inc = incident(r, keys)
    assert (inc["first_arriving"], inc["travel_s"], inc["response_s"], inc["district"]) == ("E05", 219, 689, "haight")


def test_bad_rows_go_to_dead_letters_and_the_rest_is_kept(r, keys, city):
    rows = json.loads(SF_FILE.read_bytes())
    no_unit = {k: v for k, v in rows[0].items() if k != "unit_id"}
    no_received = {k: v for k, v in rows[1].items() if k != "received_dttm"}
    bad_time = {**rows[2], "dispatch_dttm": "yesterday-ish"}
    backwards = {**rows[3], "unit_id": "Z99", "dispatch_dttm": "2017-06-23T20:20:00.000"}
    res = run(r, keys, city, orjson.dumps([*rows, no_unit, no_received, bad_time, backwards]))
    assert res.stored == 4 and res.rejected == 4
    reasons = sorted(f["reason"] for _, f in r.xrange(keys.deadletter()))
    assert reasons == ["dispatch time is before received time", "dispatch_dttm: unreadable time 'yesterday-ish'",
                       "missing received_dttm", "missing unit_id"]


def test_seattle_calls_counts_positions_and_districts(r, keys):
    city = west_coast_city(seattle_active_s=365 * 86400)  # keep every 2019 call active for the count
    res = run(r, keys, city, SEATTLE_FILE.read_bytes(), fmt="seattle-fire", now=pdt(2019, 8, 20, 2, 50))
    assert (res.stored, res.rejected) == (13, 0)
    all_ = {i: orjson.loads(v) for i, v in r.hgetall(keys.emergency_incidents()).items()}
    assert len(all_) == 13 and len(r.smembers(keys.emergency_incidents_active())) == 13
    inc = all_["F190056035"]
    assert (inc["lat"], inc["lon"], inc["type"]) == (47.608766, -122.336894, "Rescue Elevator")
    assert inc["opened"] == pdt(2019, 5, 30, 11, 22)
    assert inc["units"] == [] and inc["travel_s"] is None
    # Latitudes >= 47.62 are the northern district: 47.693978, 47.657942, 47.659307, 47.657086, 47.70673
    assert sum(1 for i in all_.values() if i["district"] == "sea-n") == 5
    assert sum(1 for i in all_.values() if i["district"] == "sea-s") == 8
    assert all_["F190056049"]["category"] == "ems" and all_["F190041663"]["category"] == "fire"


def test_a_one_timestamp_call_stops_counting_as_active_after_the_configured_time(r, keys, city):
    # Newest call F190088852 at 2019-08-20 02:40 local; 10 minutes later only it is within the
    # hour (default seattle_active_s) a call with no closing time counts as active.
    run(r, keys, city, SEATTLE_FILE.read_bytes(), fmt="seattle-fire", now=pdt(2019, 8, 20, 2, 50))
    assert r.smembers(keys.emergency_incidents_active()) == {"F190088852"}
    run(r, keys, city, b"[]", fmt="seattle-fire", now=pdt(2019, 8, 20, 3, 41))
    assert r.smembers(keys.emergency_incidents_active()) == set()
    inc = incident(r, keys, "F190088852")
    assert inc["closed"] == pdt(2019, 8, 20, 3, 40)


def test_unit_events_drive_the_board_with_positions_and_time_in_status(r, keys, city):
    t0 = pdt(2026, 11, 20, 10, 0)
    events = [
        {"kind": "incident", "incident": "I-1", "time": t0, "type": "Medical", "category": "ems", "priority": 1,
         "lat": 37.771, "lon": -122.43},
        {"kind": "call", "call": "C-1", "incident": "I-1", "ring": t0 - 9, "answered": t0 - 2},
        {"unit": "M1", "status": "dispatched", "incident": "I-1", "time": t0 + 40},
        {"unit": "M1", "status": "en route", "incident": "I-1", "time": t0 + 85, "lat": 37.77, "lon": -122.44},
        {"unit": "M1", "status": "en_route", "incident": "I-1", "time": t0 + 145, "lat": 37.7705, "lon": -122.435},
        {"unit": "E2", "status": "out_of_service", "time": t0 + 10},
    ]
    res = run(r, keys, city, orjson.dumps({"events": events}), fmt="unit-events", now=t0 + 150)
    # the two en-route reports of M1 are one status (the second a position ping)
    assert (res.stored, res.duplicates, res.rejected) == (5, 1, 0)
    board = {u: orjson.loads(v) for u, v in r.hgetall(keys.emergency_units()).items()}
    m1 = board["M1"]
    # en route since the FIRST en-route report; position from the newest ping
    assert (m1["status"], m1["since"], m1["incident"]) == ("en_route", t0 + 85, "I-1")
    assert (m1["lat"], m1["lon"]) == (37.7705, -122.435)
    assert (m1["station"], m1["type"]) == ("S1", "medic")
    assert board["E2"]["status"] == "out_of_service"
    inc = incident(r, keys, "I-1")
    assert inc["status"] == "active" and inc["call_processing_s"] == 40
    assert inc["units"][0]["en_route"] == t0 + 85
    assert r.zcard(keys.emergency_calls()) == 1


def test_an_older_report_never_overwrites_a_newer_unit_status(r, keys, city):
    t0 = pdt(2026, 11, 20, 10, 0)
    later = [{"unit": "E1", "status": "available", "time": t0 + 600}]
    older = [{"unit": "E1", "status": "dispatched", "incident": "I-9", "time": t0}]
    run(r, keys, city, orjson.dumps(later), fmt="unit-events", now=t0 + 700)
    run(r, keys, city, orjson.dumps(older), fmt="unit-events", now=t0 + 700)
    board = orjson.loads(r.hget(keys.emergency_units(), "E1"))
    assert (board["status"], board["since"]) == ("available", t0 + 600)


@pytest.mark.parametrize("event, reason", [
    ({"unit": "M1", "status": "napping", "time": 1}, "unit M1: unknown status 'napping'"),
    ({"unit": "M1", "status": "on_scene", "time": 1}, "unit M1: status on_scene needs an incident"),
    ({"status": "available", "time": 1}, "unit: missing unit id"),
    ({"unit": "M1", "status": "available"}, "unit: missing time"),
    ({"kind": "call", "call": "C", "ring": 10, "answered": 5}, "call: answered before the first ring"),
    ({"kind": "parade", "time": 1}, "kind 'parade' is not unit, incident or call"),
    ({"unit": "M1", "status": "available", "time": 1, "lat": 95, "lon": 0}, "unit M1: position out of range (95.0, 0.0)"),
])
def test_malformed_events_are_rejected_with_a_reason(r, keys, city, event, reason):
    res = run(r, keys, city, orjson.dumps([event]), fmt="unit-events", now=SF_NOW)
    assert res.rejected == 1
    assert r.xrange(keys.deadletter())[0][1]["reason"] == reason


def test_unreadable_payload_is_one_dead_letter(r, keys, city):
    res = run(r, keys, city, b"{not json", fmt="unit-events")
    assert res.payload_error and res.payload_error.startswith("payload: not valid JSON")


def test_incidents_closed_a_week_before_the_newest_are_forgotten_with_their_keys(r, keys, city):
    t0 = pdt(2026, 11, 1, 10, 0)
    old = [{"kind": "incident", "incident": "OLD", "time": t0, "type": "Fall", "category": "ems", "priority": 2},
           {"kind": "call", "call": "C-OLD", "incident": "OLD", "ring": t0 - 8, "answered": t0},
           {"unit": "M1", "status": "dispatched", "incident": "OLD", "time": t0 + 30},
           {"unit": "M1", "status": "available", "incident": "OLD", "time": t0 + 600}]
    run(r, keys, city, orjson.dumps(old), fmt="unit-events", now=t0 + 700)
    assert r.zscore(keys.emergency_incidents_closed(), "OLD") == t0 + 600
    later = t0 + 8 * 86400  # a call closed 8 days later pushes the old one out of the 7-day retention
    new = [{"kind": "incident", "incident": "NEW", "time": later, "type": "Fall", "category": "ems", "priority": 2},
           {"unit": "M1", "status": "dispatched", "incident": "NEW", "time": later + 30},
           {"unit": "M1", "status": "available", "incident": "NEW", "time": later + 600}]
    run(r, keys, city, orjson.dumps(new), fmt="unit-events", now=later + 700)
    assert r.hexists(keys.emergency_incidents(), "OLD") is False
    assert r.exists(keys.emergency_incident_times("OLD")) == 0
    assert r.zscore(keys.emergency_incidents_closed(), "OLD") is None
    assert r.zcard(keys.emergency_calls()) == 0
    seen = r.hkeys(keys.seen("emergency", "emergency"))
    assert not [k for k in seen if "OLD" in k]
    assert r.hexists(keys.emergency_incidents(), "NEW")


@pytest.mark.parametrize("text", ["2017-06-23T20:30:09.000", "2017-06-23T20:30:09", "06/23/2017 08:30:09 PM",
                                  "2017 Jun 23 08:30:09 PM", "2017-06-24T03:30:09Z", "2017-06-23T22:30:09-05:00"])
def test_every_time_spelling_names_the_same_instant(city, text):
    # Floating spellings are Pacific local time (UTC-7 in June): 20:30:09 PDT = 03:30:09 UTC next day.
    adapter = EmergencyAdapter(city, source("sf-fire"))
    assert adapter._local_time(text, "received_dttm") == pdt(2017, 6, 23, 20, 30, 9)


def test_the_feeds_own_time_zone_wins_over_the_citys(city):
    # The same floating time read as New York time (UTC-4 in June) is 3 hours earlier.
    adapter = EmergencyAdapter(city, source("sf-fire", timezone="America/New_York"))
    assert adapter._local_time("2017-06-23T20:30:09.000", "t") == pdt(2017, 6, 23, 20, 30, 9) - 3 * 3600


def test_a_units_own_status_changes_in_one_batch_are_each_audited_once(r, keys, city):
    # E2 goes out of service and comes back within one poll: two changes of its own (no incident).
    # The board ends available since the later report; the audit trail keeps BOTH changes, in order.
    t0 = pdt(2026, 11, 20, 10, 0)
    events = [{"unit": "E2", "status": "out_of_service", "time": t0 + 10},
              {"unit": "E2", "status": "available", "time": t0 + 100}]
    run(r, keys, city, orjson.dumps(events), fmt="unit-events", now=t0 + 150)
    board = orjson.loads(r.hget(keys.emergency_units(), "E2"))
    assert (board["status"], board["since"]) == ("available", t0 + 100)
    audit = [(a["unit"], a["status"], a["t"]) for a in audit_changes(r.xrange(keys.emergency_audit()))]
    assert audit == [("E2", "out_of_service", t0 + 10), ("E2", "available", t0 + 100)]
    # the same two reports again change nothing and write nothing
    run(r, keys, city, orjson.dumps(events), fmt="unit-events", now=t0 + 160)
    assert len(audit_changes(r.xrange(keys.emergency_audit()))) == 2


@pytest.mark.parametrize("call_type, group, ems", [
    ("Medical Incident", None, True),
    ("Traffic Collision", "Potentially Life-Threatening", True),
    ("Aid Response", None, True),                                # Seattle
    ("Medic Response- 7 per Rule", None, True),                  # Seattle
    ("Mutual Aid / Assist Outside Agency", "Fire", False),       # SF: a fire call, not "aid"
    ("Mutual Aid / Assist Outside Agency", None, False),
    ("Alarms", "Alarm", False),
    ("Structure Fire", "Fire", False),
    ("Rescue Elevator", None, False),
])
def test_ems_or_fire_from_the_call_type(call_type, group, ems):
    from feeds.adapters.emergency import is_ems
    assert is_ems(call_type, group) is ems


def test_an_own_change_before_a_dispatch_in_the_same_batch_is_audited(r, keys, city):
    # E2 back in service at +10, then dispatched to I-5 at +20, in one poll: both changes are on record
    # (the dispatch through the incident's times, the return to service as the unit's own change).
    t0 = pdt(2026, 11, 20, 10, 0)
    run(r, keys, city, orjson.dumps([{"unit": "E2", "status": "out_of_service", "time": t0}]), fmt="unit-events",
        now=t0 + 5)
    events = [{"unit": "E2", "status": "available", "time": t0 + 10},
              {"unit": "E2", "status": "dispatched", "incident": "I-5", "time": t0 + 20}]
    run(r, keys, city, orjson.dumps(events), fmt="unit-events", now=t0 + 30)
    audit = [(a["unit"], a["status"], a["t"]) for a in audit_changes(r.xrange(keys.emergency_audit()))]
    assert audit == [("E2", "out_of_service", t0), ("E2", "available", t0 + 10), ("E2", "dispatched", t0 + 20)]
    board = orjson.loads(r.hget(keys.emergency_units(), "E2"))
    assert (board["status"], board["since"], board["incident"]) == ("dispatched", t0 + 20, "I-5")


def test_a_call_across_the_repeated_dst_hour_keeps_its_real_intervals(r, keys, city):
    # Los Angeles, 1 Nov 2026: 01:00-02:00 happens twice (PDT UTC-7, then PST UTC-8). Received 01:58 and
    # dispatched 01:59 the first time round (08:58Z, 08:59Z); en route 01:01 and on scene 01:06 the
    # second time (09:01Z, 09:06Z); available 02:30 PST (10:30Z). Turnout 09:01 - 08:59 = 120 s,
    # travel 09:06 - 09:01 = 300 s, call processing 60 s. Taking every floating time the later way
    # round would put en route before dispatch and lose the row.
    from datetime import datetime, timezone
    utc = lambda h, m: datetime(2026, 11, 1, h, m, tzinfo=timezone.utc).timestamp()  # noqa: E731
    row = {"call_number": "1", "unit_id": "E1", "incident_number": "DST1", "call_type": "Structure Fire",
           "received_dttm": "2026-11-01T01:58:00.000", "dispatch_dttm": "2026-11-01T01:59:00.000",
           "response_dttm": "2026-11-01T01:01:00.000", "on_scene_dttm": "2026-11-01T01:06:00.000",
           "available_dttm": "2026-11-01T02:30:00.000", "priority": "3"}
    res = run(r, keys, city, orjson.dumps([row]), now=utc(11, 0))
    assert (res.stored, res.rejected) == (1, 0)
    inc = incident(r, keys, "DST1")
    assert inc["opened"] == utc(8, 58) and inc["first_on_scene"] == utc(9, 6)
    assert (inc["call_processing_s"], inc["travel_s"]) == (60, 300)
    assert inc["units"][0]["en_route"] - inc["units"][0]["dispatched"] == 120
    # a row that runs backwards for real is still a dead letter
    bad = {**row, "incident_number": "DST2", "response_dttm": "2026-11-01T00:30:00.000"}
    res = run(r, keys, city, orjson.dumps([bad]), now=utc(11, 0))
    assert res.rejected == 1


def test_a_later_stage_time_before_the_units_dispatch_is_dropped_and_the_row_kept(r, keys, city):
    # E05 is dispatched 20:37:59 and on scene 20:41:38; a garbled available_dttm of 20:20:00 would make
    # "dispatched" its latest status (the unit never clears, the call never closes). The time is dropped
    # with a reason in the dead letters ("record kept"); the row's good times stay.
    rows = json.loads(SF_FILE.read_bytes())
    e05 = next(i for i, row in enumerate(rows) if row["unit_id"] == "E05")
    rows[e05] = {**rows[e05], "available_dttm": "2017-06-23T20:20:00.000"}
    res = run(r, keys, city, orjson.dumps(rows))
    assert (res.stored, res.rejected, res.warnings) == (4, 0, 1)
    reason = r.xrange(keys.deadletter())[0][1]["reason"]
    assert reason == "available_dttm is before on scene time: time dropped (record kept)"
    units = {u["unit"]: u for u in incident(r, keys)["units"]}
    assert units["E05"]["status"] == "on_scene" and "available" not in units["E05"]
    assert units["E05"]["on_scene"] - units["E05"]["en_route"] == 219  # travel unchanged
    assert incident(r, keys)["status"] == "active"  # E05 has not cleared as far as the feed says
