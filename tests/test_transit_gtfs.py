"""GTFS Schedule reading and the GTFS-RT delay rules (feed-formats.md §1.1, §3.2), without Redis."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from feeds.adapters.transit_gtfs import (NO_DATA, SKIPPED, StopTime, StopUpdate, load_gtfs, parse_gtfs_time,
                                         scheduled_vehicles, service_day_start, stop_delays)

FIX = Path(__file__).parent / "fixtures" / "transit"


@pytest.fixture(scope="module")
def usf():
    return load_gtfs((FIX / "usf_bullrunner_gtfs.zip").read_bytes())


def test_bull_runner_frequencies_header_with_a_leading_space_is_read(usf):
    # frequencies.txt header is "trip_id,start_time,end_time,headway_secs, exact_times" (leading space)
    trip = usf.trips["1"]
    assert trip.frequencies == [(7 * 3600, 24 * 3600, 600, False)]
    assert trip.frequency_based  # exact_times=0: judged by headway, not delay
    assert set(usf.routes) == {"A", "B", "C", "D", "E", "F"}
    assert "calendar_dates.txt" not in usf.files  # optional file missing: still loads
    assert len(usf.shapes["0"]) > 100


def test_caltrain_one_digit_hours_and_calendar_dates():
    cal = load_gtfs((FIX / "caltrain_gtfs_20160406.zip").read_bytes())
    assert cal.trips["23a"].stop_times[0].dep == 7 * 3600 + 33 * 60  # "7:33:00"
    weekday = cal.services["CT-16APR-Caltrain-Weekday-01"]
    assert weekday.active(date(2016, 5, 31))  # a Tuesday
    assert not weekday.active(date(2016, 5, 30))  # Memorial Day: exception_type 2 removes it


def test_times_past_midnight_count_from_the_service_day():
    assert parse_gtfs_time("25:10:05") == 25 * 3600 + 10 * 60 + 5
    assert parse_gtfs_time("") is None
    with pytest.raises(ValueError):
        parse_gtfs_time("12:75:00")


def test_service_day_is_noon_minus_twelve_hours_on_the_day_clocks_go_back():
    # 2026-11-01 in New York: clocks go back at 02:00. Noon is EST (UTC-5), so noon - 12 h is
    # 2026-11-01 05:00 UTC, one hour after local midnight (EDT, 04:00 UTC).
    start = service_day_start(date(2026, 11, 1), "America/New_York")
    assert start == datetime(2026, 11, 1, 5, 0, tzinfo=timezone.utc).timestamp()


def stops(n=5):
    # stop i scheduled at 1000 + 100 i (arrival = departure), all timepoints
    return [StopTime(i, f"S{i}", 1000 + 100 * i, 1000 + 100 * i, True) for i in range(1, n + 1)]


def test_time_wins_over_delay():
    # stop 2 scheduled at day + 1200; time says day + 1290 -> +90 s, whatever delay says (30).
    out = stop_delays(stops(), [StopUpdate(2, "S2", arr_delay=30, arr_time=10_000 + 1290)], 10_000)
    assert out[1].arr_delay == 90 and out[1].dep_delay == 90


def test_delay_propagates_downstream_until_the_next_update():
    out = stop_delays(stops(), [StopUpdate(2, "S2", dep_delay=120), StopUpdate(4, "S4", dep_delay=-30)], 0)
    assert [s.dep_delay for s in out] == [None, 120, 120, -30, -30]  # stop 1: before any data, unknown


def test_trip_delay_applies_only_until_the_first_stop_time_update():
    out = stop_delays(stops(), [StopUpdate(3, "S3", dep_delay=200)], 0, trip_delay=60)
    assert [s.dep_delay for s in out] == [60, 60, 200, 200, 200]


def test_delay_propagates_over_skipped_stops():
    out = stop_delays(stops(), [StopUpdate(2, "S2", dep_delay=240), StopUpdate(3, "S3", relationship=SKIPPED)], 0)
    assert out[2].skipped and out[2].dep_delay is None
    assert [s.dep_delay for s in out[3:]] == [240, 240]


def test_no_data_means_unknown_downstream():
    out = stop_delays(stops(), [StopUpdate(1, "S1", dep_delay=100), StopUpdate(3, "S3", relationship=NO_DATA)], 0)
    assert [s.dep_delay for s in out] == [100, 100, None, None, None]


def test_updates_matched_by_stop_id_when_no_sequence():
    out = stop_delays(stops(), [StopUpdate(None, "S4", arr_delay=75)], 0)
    assert [s.arr_delay for s in out] == [None, None, None, 75, 75]


def test_vehicles_the_bull_runner_schedule_needs_on_a_wednesday_morning(usf):
    # 2017-09-13 10:52:55 EDT (the VehiclePositions fixture's header time), a Wednesday: service "Mo"
    # (Mon-Thu). Running frequencies: A 600 s, B 540, C 720, D 600, E 600, F 600. Trip durations from
    # stop_times (first departure to last arrival): A 07:00:00-07:19:43 = 1183 s -> ceil(1183/600) = 2;
    # B 07:00:00-07:14:39 = 879 s -> ceil(879/540) = 2; C 1438/720 -> 2;
    # D 2004/600 -> 4; E 1565/600 -> 3; F 3402/600 -> 6. Total 19.
    at = 1505314375
    active = {sid: usf.service_days(sid, at, "America/New_York") for sid in usf.services}
    by_route = {}
    for trip in usf.trips.values():
        by_route.setdefault(trip.route_id, []).append(trip)
    counts = {r: scheduled_vehicles(ts, active, at, "America/New_York") for r, ts in by_route.items()}
    assert counts == {"A": 2, "B": 2, "C": 2, "D": 4, "E": 3, "F": 6}


def test_not_a_zip_is_a_clear_error():
    with pytest.raises(ValueError, match="not a zip"):
        load_gtfs(b"hello")


def test_a_loop_trip_matched_by_stop_id_finds_the_second_visit():
    # A loop S1 S2 S3 S1 (the Bull Runner's trips start and end at stop 222). Updates without
    # stop_sequence, in stop order (as the spec requires): S1 +60 (the start), then S1 +120 (the
    # return). The second one is the 4th stop, not the 1st again: delays 60, 60, 60, 120.
    loop = [StopTime(i, s, 100 * i, 100 * i, True) for i, s in enumerate(("S1", "S2", "S3", "S1"), start=1)]
    out = stop_delays(loop, [StopUpdate(None, "S1", dep_delay=60), StopUpdate(None, "S1", arr_delay=120)], 0)
    assert [s.dep_delay for s in out] == [60, 60, 60, 120]


def test_updates_keep_the_feed_order_when_some_have_a_sequence_and_some_only_a_stop_id():
    # Feed order is stop order: S2 (stop_id only) +60, then stop_sequence 4 +200. S2 is stop 2:
    # stops 2, 3 get +60 (3 inherits), 4, 5 get +200; stop 1 is before any data: unknown.
    out = stop_delays(stops(), [StopUpdate(None, "S2", dep_delay=60), StopUpdate(4, "S4", dep_delay=200)], 0)
    assert [s.dep_delay for s in out] == [None, 60, 60, 200, 200]
