"""The runner's guarantees: nothing lost silently, no double counting, bounded storage."""
from __future__ import annotations

import orjson
import pytest

from feeds.adapters.nyc_traffic import NycTrafficAdapter
from feeds.adapters.road_incidents import RoadIncidentsAdapter
from feeds.config import FeedSource
from feeds.framework import Runner, xadd_many
from feeds.kpi.engine import KpiEngine
from feeds.schema import KPI_HISTORY_RETENTION_S, READINGS_RETENTION

NOW = 1_790_000_000.0  # 2026-09-21T14:13:20Z = 10:13:20 in New York (EDT)


def speed_row(link="4616337", speed="20.00", as_of="2026-09-21T08:00:00.000"):
    return {"link_id": link, "speed": speed, "status": "0", "data_as_of": as_of, "link_points": ""}


@pytest.fixture
def traffic(r, keys, sample_city):
    return Runner(r, keys, sample_city), NycTrafficAdapter(sample_city, FeedSource(timezone="America/New_York"))


def incident(iid="RI-1", **kw):
    return {"id": iid, "status": "open", "lat": 40.0, "lon": -75.0, "opened": NOW - 600, **kw}


@pytest.fixture
def incidents(r, keys, sample_city):
    return Runner(r, keys, sample_city), RoadIncidentsAdapter(sample_city, FeedSource())


def test_a_reading_stamped_in_the_future_is_a_dead_letter_not_a_poison(r, keys, traffic):
    runner, adapter = traffic
    # A year ahead is a broken clock; the other row (00:00 New York = 04:00Z) is ten hours old.
    rows = [speed_row("a", as_of="2027-09-21T08:00:00.000"), speed_row("b", as_of="2026-09-21T00:00:00.000")]
    res = runner.run_once(adapter, orjson.dumps(rows), now=NOW)
    assert (res.stored, res.rejected) == (1, 1)
    (_, letter), = r.xrange(keys.deadletter())
    assert letter["reason"].startswith("time 2027-09-21T12:00:00Z is ") and letter["reason"].endswith("s in the future")
    # "a" is not blocked: its next honest reading is stored.
    ok = runner.run_once(adapter, orjson.dumps([speed_row("a", as_of="2026-09-21T00:01:00.000")]), now=NOW)
    assert ok.stored == 1


def test_an_older_reading_never_overwrites_a_newer_one(r, keys, traffic):
    runner, adapter = traffic
    runner.run_once(adapter, orjson.dumps([speed_row(speed="30.00", as_of="2026-09-21T00:05:00.000")]), now=NOW)
    late = runner.run_once(adapter, orjson.dumps([speed_row(speed="10.00", as_of="2026-09-21T00:01:00.000")]), now=NOW)
    assert (late.stored, late.duplicates) == (0, 1)
    assert orjson.loads(r.hget(keys.link_latest(), "4616337"))["v"] == pytest.approx(30 * 1.609344, abs=0.01)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_two_rows_for_one_link_in_a_batch_keep_the_newest_whatever_the_order(r, keys, traffic, order):
    runner, adapter = traffic
    rows = [speed_row(speed="11.00", as_of="2026-09-21T00:01:00.000"),
            speed_row(speed="22.00", as_of="2026-09-21T00:02:00.000")]
    res = runner.run_once(adapter, orjson.dumps([rows[i] for i in order]), now=NOW)
    assert (res.stored, res.duplicates) == (1, 1)
    assert orjson.loads(r.hget(keys.link_latest(), "4616337"))["v"] == pytest.approx(22 * 1.609344, abs=0.01)


def test_an_incident_changed_without_a_newer_time_is_an_update(r, keys, incidents):
    runner, adapter = incidents
    runner.run_once(adapter, orjson.dumps([incident(severity="minor")]), now=NOW)
    res = runner.run_once(adapter, orjson.dumps([incident(severity="critical")]), now=NOW)
    assert res.stored == 1
    assert orjson.loads(r.hget(keys.road_incidents(), "RI-1"))["severity"] == "critical"
    again = runner.run_once(adapter, orjson.dumps([incident(severity="critical")]), now=NOW)
    assert (again.stored, again.duplicates) == (0, 1)  # the very same content is still a duplicate


def test_a_reopened_incident_is_not_forgotten_with_the_closed_ones(r, keys, incidents):
    runner, adapter = incidents
    runner.run_once(adapter, orjson.dumps([incident(status="closed", closed=NOW - 300)]), now=NOW)
    runner.run_once(adapter, orjson.dumps([incident(updated=NOW - 60)]), now=NOW)  # reopened
    runner.run_once(adapter, b"[]", now=NOW + 8 * 86400)
    assert r.smembers(keys.road_incidents_open()) == {"RI-1"}
    assert orjson.loads(r.hget(keys.road_incidents(), "RI-1"))["status"] == "open"


def test_snapshot_feeds_close_incidents_that_disappear_but_not_on_garbage(r, keys, sample_city):
    runner = Runner(r, keys, sample_city)
    adapter = RoadIncidentsAdapter(sample_city, FeedSource(options={"snapshot": True}))
    runner.run_once(adapter, orjson.dumps([incident("A"), incident("B"), incident("C")]), now=NOW)
    runner.run_once(adapter, b"<html>503</html>", now=NOW + 30)  # unreadable: closes nothing
    assert r.smembers(keys.road_incidents_open()) == {"A", "B", "C"}
    # B is gone from the snapshot; C is there but malformed this time, so it is not assumed cleared.
    runner.run_once(adapter, orjson.dumps([incident("A"), incident("C", lat="north")]), now=NOW + 60)
    assert r.smembers(keys.road_incidents_open()) == {"A", "C"}
    assert orjson.loads(r.hget(keys.road_incidents(), "B"))["status"] == "closed"
    push = RoadIncidentsAdapter(sample_city, FeedSource())  # without snapshot, absence means nothing
    runner.run_once(push, b"[]", now=NOW + 90)
    assert r.smembers(keys.road_incidents_open()) == {"A", "C"}


def test_epoch_milliseconds_are_rejected_with_a_reason(r, keys, incidents):
    runner, adapter = incidents
    res = runner.run_once(adapter, orjson.dumps([incident(opened=1717243200000)]), now=NOW)
    assert res.rejected == 1
    (_, letter), = r.xrange(keys.deadletter())
    assert letter["reason"] == "opened: 1717243200000 is not epoch seconds (milliseconds?)"


def test_old_readings_are_trimmed_from_the_stream(r, keys, traffic):
    runner, adapter = traffic
    stream = keys.readings("traffic")
    pipe = r.pipeline(transaction=False)
    for i in range(1, 501):  # 500 entries from 1970: far older than the 24 h retention
        pipe.xadd(stream, {"old": i}, id=f"{i}-0")
    pipe.execute()
    runner.run_once(adapter, orjson.dumps([speed_row()]), now=NOW)
    # Trimming is approximate (whole stream nodes of 100), so at most one node of old entries is left.
    left = [e for e in r.xrange(stream) if "old" in e[1]]
    assert len(left) <= 100
    assert READINGS_RETENTION[1] == 24 * 3600


def test_kpi_history_keeps_eight_days(r, keys, sample_city, traffic):
    runner, adapter = traffic
    engine = KpiEngine(r, keys, sample_city)
    key = keys.kpi_history("traffic.congested_share_pct")
    r.zadd(key, {b'{"t":1,"v":1,"s":"ok"}': NOW - KPI_HISTORY_RETENTION_S - 120,
                 b'{"t":2,"v":2,"s":"ok"}': NOW - KPI_HISTORY_RETENTION_S + 120})
    link = sample_city.traffic.links[0].id
    runner.run_once(adapter, orjson.dumps([speed_row(link, as_of="2026-09-21T10:13:20.000")]), now=NOW)
    engine.recompute(("traffic",), now=NOW)
    scores = [s for _, s in r.zrange(key, 0, -1, withscores=True)]
    assert min(scores) == NOW - KPI_HISTORY_RETENTION_S + 120  # the older point is gone, the younger stays
    assert len(scores) == 2


def test_city_score_is_as_fresh_as_its_stalest_input(r, keys, sample_city, traffic):
    runner, adapter = traffic
    # Another domain's KPI, computed earlier, expiring before the traffic KPIs do.
    r.hset(keys.kpi_values(), "transit.on_time_pct", orjson.dumps({
        "id": "transit.on_time_pct", "value": 85.0, "as_of": NOW - 100, "fresh_until": NOW + 5,
        "status": "ok", "target": 85, "warn": 75, "by_district": {}}))
    link = sample_city.traffic.links[0].id
    runner.run_once(adapter, orjson.dumps([speed_row(link, as_of="2026-09-21T10:13:20.000")]), now=NOW)
    score = KpiEngine(r, keys, sample_city).recompute(("traffic",), now=NOW)["city.score"]
    assert score["fresh_until"] == NOW + 5  # not the traffic KPIs' NOW + 180
    assert score["as_of"] == NOW - 100
    assert "transit.on_time_pct" in [t["id"] for t in score["detail"]["breakdown"]]


def test_xadd_many_stores_each_row_as_its_own_entry_in_order_and_bounded(r, keys):
    stream = keys.readings("traffic")
    rows = [{"link": "1", "v": 12.5, "t": NOW}, {"link": "2", "v": 30, "t": NOW},
            {"incident": "RI-1", "status": "open"}, {"link": "3", "v": 7.25, "t": NOW + 1}]
    pipe = r.pipeline(transaction=False)
    xadd_many(pipe, stream, rows, READINGS_RETENTION)
    pipe.execute()
    assert [fields for _, fields in r.xrange(stream)] == [{k: str(v) for k, v in row.items()} for row in rows]
    pipe = r.pipeline(transaction=False)
    xadd_many(pipe, stream, [{"n": i} for i in range(1000)], (150, 3600))  # MAXLEN ~ 150: whole nodes of 100
    pipe.execute()
    assert 150 <= r.xlen(stream) < 300
