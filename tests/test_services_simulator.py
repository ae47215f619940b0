"""The simulated centres and 311 requests: deterministic, real formats, peaks, outages."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson

from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.services import CitySim, EventFeed, RequestFeed, SnapshotFeed, arrival_profile, simulators

NY = ZoneInfo("America/New_York")
MONDAY_1030 = datetime(2026, 11, 16, 10, 30, tzinfo=NY).timestamp()
WEDNESDAY_1030 = datetime(2026, 11, 18, 10, 30, tzinfo=NY).timestamp()


def test_same_seed_same_payloads(sample_city):
    a = SnapshotFeed(CitySim(sample_city, 7)).payload(MONDAY_1030)
    assert a == SnapshotFeed(CitySim(sample_city, 7)).payload(MONDAY_1030)
    assert a != SnapshotFeed(CitySim(sample_city, 8)).payload(MONDAY_1030)
    assert RequestFeed(sample_city, 7).payload(MONDAY_1030) == RequestFeed(sample_city, 7).payload(MONDAY_1030)


def test_monday_morning_is_the_peak_and_lunch_is_busier_than_afternoon():
    assert arrival_profile(10, 0) > arrival_profile(10, 2) > arrival_profile(15, 2)
    assert arrival_profile(12.7, 2) > arrival_profile(14.5, 2)


def test_one_centre_a_day_has_a_queue_system_outage(sample_city):
    sim = CitySim(sample_city, 7)
    day = datetime(2026, 11, 16, tzinfo=NY)
    down = {(i, m) for i in range(5) for m in range(8 * 60, 18 * 60)
            if sim.outage(i, day.replace(hour=m // 60, minute=m % 60))}
    assert len({i for i, _ in down}) == 1 and len(down) == 40  # one centre, 40 minutes


def test_simulated_payloads_go_through_the_real_adapters_without_rejects(r, keys, sample_city):
    engine = KpiEngine(r, keys, sample_city)
    runner = Runner(r, keys, sample_city, engine)
    feeds = simulators(sample_city)
    assert [(a.name, a.source.options.get("format")) for a, _, _ in feeds] == [
        ("services", "warsaw"), ("services", "queue-events"), ("requests", None)]
    for adapter, gen, _ in feeds:
        res = runner.run_once(adapter, gen.payload(MONDAY_1030), now=MONDAY_1030)
        assert res.rejected == 0 and res.stored > 0, res.line()
    values = engine.recompute(("services",), now=MONDAY_1030)
    for kid in ("services.people_waiting", "services.wait_min", "services.served_within_target_pct",
                "services.open_counters", "services.requests_open", "services.requests_on_time_pct",
                "services.case_close_median_h"):
        assert values[kid]["value"] is not None, kid
    # The first snapshot payload carries last week's same weekday: its wait slots exist.
    assert r.hlen(keys.wait_slots("2026-11-09")) > 0
    assert r.hlen(keys.wait_slots("2026-11-16")) > 0


def test_events_are_real_queue_event_rows_in_time_order(sample_city):
    sim = CitySim(sample_city, 7)
    SnapshotFeed(sim).payload(WEDNESDAY_1030)
    rows = list(csv.DictReader(io.StringIO(EventFeed(sim).payload(WEDNESDAY_1030).decode())))
    assert rows and set(rows[0]) == {"centre", "queue", "ticket", "step", "time", "counter"}
    assert {row["step"] for row in rows} <= {"issued", "called", "started", "ended", "no_show"}
    assert [row["time"] for row in rows] == sorted(row["time"] for row in rows)
    first_call = next(row for row in rows if row["step"] == "called")
    issued = next(row for row in rows if row["ticket"] == first_call["ticket"] and row["centre"] == first_call["centre"]
                  and row["step"] == "issued")
    assert issued["time"] <= first_call["time"]


def test_requests_are_open311_rows_with_sla_deadlines(sample_city):
    rows = orjson.loads(RequestFeed(sample_city, 7).payload(WEDNESDAY_1030))
    assert len(rows) > 500  # a week of requests on the first poll
    assert all(isinstance(row["service_request_id"], int) for row in rows)
    closed = [row for row in rows if row["status"] == "closed"]
    late = [row for row in closed if row["updated_datetime"] > row["expected_datetime"]]
    assert 0 < len(late) < 0.2 * len(closed)  # some, not most, close after their deadline
    assert any(row["lat"] == 0 for row in rows)  # as real feeds send "no location"


def test_saturday_morning_has_people_waiting_at_the_centres_that_open(r, keys, sample_city):
    # The sample city's two one-stop centres open Saturday 09:00-13:00 and get a late-morning rush;
    # the offices stay shut. At 11:00 on a Saturday the demo must show queues, not an empty city.
    saturday_11 = datetime(2026, 11, 21, 11, 0, tzinfo=NY).timestamp()
    assert arrival_profile(10.6, 5) > arrival_profile(10.6, 2)  # the rush beats a weekday morning
    engine = KpiEngine(r, keys, sample_city)
    sim = CitySim(sample_city, 7)
    Runner(r, keys, sample_city, engine).run_once(simulators(sample_city)[0][0], SnapshotFeed(sim).payload(saturday_11),
                                                  now=saturday_11)
    values = engine.recompute(("services",), now=saturday_11)
    by_centre = values["services.people_waiting"]["detail"]["by_centre"]
    assert by_centre["C1"]["open_now"] and by_centre["C2"]["open_now"] and not by_centre["C3"]["open_now"]
    assert by_centre["C1"]["waiting"] + by_centre["C2"]["waiting"] > 0
    assert not by_centre["C3"]["waiting"]  # shut: nobody (or no queue data at all)
