"""Services KPIs: numbers derived by hand from the real fixtures and from small stories."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from feeds.adapters.open311 import Open311Adapter
from feeds.adapters.service_queues import ServiceQueuesAdapter
from feeds.config import ConfigError, FeedSource, parse_city
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.kpi.services import QueueState, Visit, queue_kpis, request_kpis, served_within
from feeds.service_centres import services_config
from tests.test_services_adapters import BLOOMINGTON, CHICAGO, SF_XML, WARSAW, warsaw_epoch

NY = ZoneInfo("America/New_York")
MONDAY_10 = datetime(2026, 11, 16, 10, 0, tzinfo=NY).timestamp()


def test_warsaw_fixture_people_waiting_and_weighted_wait(r, keys, sample_city):
    engine = KpiEngine(r, keys, sample_city)
    a = ServiceQueuesAdapter(sample_city, FeedSource(timezone="Europe/Warsaw", options={"format": "warsaw"}))
    Runner(r, keys, sample_city, engine).run_once(a, WARSAW.read_bytes(), now=warsaw_epoch("11:00"))
    values = engine.recompute(("services",), now=warsaw_epoch("11:00"))
    # The 10:58 snapshot (the newest of each queue) has 63 people waiting:
    # E 10 + H 4 + I 37 + K 1 + L 2 + R 4 + S 5.
    assert values["services.people_waiting"]["value"] == 63
    assert values["services.people_waiting"]["as_of"] == warsaw_epoch("10:58")
    # Wait weighted by people, czasObslugi x people over people:
    # (4x10 + 6x4 + 21x37 + 5x1 + 8x2 + 14x4 + 2x5) / 63 = 928 / 63 = 14.7302 min.
    assert values["services.wait_min"]["value"] == pytest.approx(928 / 63, abs=1e-4)
    assert values["services.wait_min"]["status"] == "ok"  # <= 20 min
    # Open counters: liczbaCzynnychStan summed over the 26 operating queues = 120 (a counter serving
    # several queues counts once per queue); Warsaw publishes no schedule, so no % of scheduled.
    counters = values["services.open_counters"]
    assert counters["detail"]["by_centre"]["UD_Wola"] == {"open": 120, "scheduled": None}
    assert counters["value"] is None and counters["status"] == "no_data"
    # Snapshots carry no visits: the share served within target has no data, not a made-up number.
    assert values["services.served_within_target_pct"]["value"] is None


def q(centre, queue, waiting, counters, wait, t=MONDAY_10, status="open"):
    return QueueState(centre, queue, queue, waiting, counters, wait, status, t)


def test_breakdown_by_centre_and_district(sample_city):
    cfg = services_config(sample_city)
    queues = [q("C1", "A", 4, 3, 10), q("C1", "B", 6, 4, 20), q("C2", "A", 0, 2, 5),
              q("C3", "A", 9, 1, 30, t=MONDAY_10 - 3600)]  # C3 silent for an hour: system down
    out = queue_kpis(cfg, queues, {}, {}, sample_city.district_ids())
    # People: C1 4 + 6, C2 0; C3's hour-old 9 are not "now".
    assert out["services.people_waiting"].value == 10
    assert out["services.people_waiting"].by_district["D3"] is None  # C3's district: no data, not 0
    # Wait weighted by people: (4x10 + 6x20) / 10 = 16 min; C2 (D7) has nobody waiting: 0.
    assert out["services.wait_min"].value == pytest.approx(16.0)
    assert out["services.wait_min"].by_district["D5"] == pytest.approx(16.0)
    assert out["services.wait_min"].by_district["D7"] == 0.0
    # Monday 10:00, all centres scheduled open: C1 7 of 10 counters, C2 2 of 4 -> 9 / 14 = 64.29 %.
    assert out["services.open_counters"].value == pytest.approx(100 * 9 / 14)
    assert out["services.open_counters"].by_district["D5"] == pytest.approx(70.0)
    assert out["services.open_counters"].by_district["D7"] == pytest.approx(50.0)
    assert out["services.people_waiting"].detail["by_centre"]["C3"]["reporting"] is False


def test_centres_outside_their_hours_are_closed_and_not_scheduled(sample_city):
    cfg = services_config(sample_city)
    sunday = datetime(2026, 11, 22, 10, 0, tzinfo=NY).timestamp()  # the sample centres open Monday-Saturday
    out = queue_kpis(cfg, [q("C1", "A", 0, 0, None, t=sunday, status="closed")], {}, {}, sample_city.district_ids())
    row = out["services.people_waiting"].detail["by_centre"]["C1"]
    assert row["reporting"] is True and row["open_now"] is False and row["scheduled"] == 0
    assert out["services.open_counters"].value is None  # nothing scheduled: no data, not 0 %
    assert out["services.people_waiting"].value == 0


def test_saturday_morning_hours(sample_city):
    # The sample city's two one-stop centres (C1 10 counters, C2 4) open Saturday 09:00-13:00; the
    # three offices only Monday to Friday. Saturday 10:00, C1 with 6 counters open, C2 with 4, C3 (an
    # office, closed) with none: 10 of 14 scheduled = 71.43 %.
    cfg = services_config(sample_city)
    assert cfg.centres["C1"].hours_text() == "Mon-Fri 08:00-18:00, Sat 09:00-13:00"
    assert cfg.centres["C3"].hours_text() == "Mon-Fri 08:00-18:00"
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=NY).timestamp()
    out = queue_kpis(cfg, [q("C1", "A", 3, 6, 5, t=saturday), q("C2", "A", 1, 4, 5, t=saturday),
                           q("C3", "A", 0, 0, None, t=saturday, status="closed")], {}, {}, sample_city.district_ids())
    rows = out["services.people_waiting"].detail["by_centre"]
    assert (rows["C1"]["open_now"], rows["C2"]["open_now"], rows["C3"]["open_now"]) == (True, True, False)
    assert out["services.open_counters"].value == pytest.approx(100 * 10 / 14)
    one = datetime(2026, 11, 21, 13, 0, tzinfo=NY).timestamp()  # 13:00: closed again
    later = queue_kpis(cfg, [q("C1", "A", 0, 0, None, t=one, status="closed")], {}, {}, sample_city.district_ids())
    assert later["services.people_waiting"].detail["by_centre"]["C1"]["open_now"] is False


def test_served_within_target_counts_from_arrival_and_misses_still_waiting():
    t0 = MONDAY_10 - 3600
    visits = [
        Visit("C1", "A1", "A", {"issued": t0, "called": t0 + 19 * 60, "ended": t0 + 30 * 60}),  # 19 min: ok
        Visit("C1", "A2", "A", {"issued": t0, "called": t0 + 20 * 60}),  # exactly 20: ok
        Visit("C1", "A3", "A", {"issued": t0, "called": t0 + 21 * 60}),  # 21: miss
        Visit("C1", "A4", "A", {"issued": t0, "no_show": t0 + 40 * 60}),  # no-show: left out
        Visit("C1", "A5", "A", {"issued": MONDAY_10 - 25 * 60}),  # waiting 25 min so far: miss
        Visit("C1", "A6", "A", {"issued": MONDAY_10 - 5 * 60}),  # waiting 5 min: not judged yet
    ]
    assert served_within(visits, 20, MONDAY_10) == (2, 4)


def test_event_only_centre_gets_queues_and_served_share(sample_city):
    cfg = services_config(sample_city)
    t0 = MONDAY_10 - 1800
    visits = {("C2", "A1"): Visit("C2", "A1", "A", {"issued": t0, "called": t0 + 600}, "2"),
              ("C2", "A2"): Visit("C2", "A2", "A", {"issued": t0 + 60}),
              ("C2", "A3"): Visit("C2", "A3", "A", {"issued": MONDAY_10 - 120})}
    out = queue_kpis(cfg, [], visits, {}, sample_city.district_ids())
    # as_of is the newest step, MONDAY_10 - 120. Waiting: A2 (issued t0 + 60) and A3.
    as_of = MONDAY_10 - 120
    assert out["services.people_waiting"].value == 2
    # Their waits so far: (as_of - (t0 + 60)) = 1620 s = 27 min and 0 min -> mean 13.5 min.
    assert out["services.wait_min"].value == pytest.approx(((as_of - t0 - 60) / 60 + 0) / 2)
    # A1 called after 10 min (ok); A2 waiting 27 min (miss); A3 not yet judged: 1 of 2 = 50 %.
    assert out["services.served_within_target_pct"].value == pytest.approx(50.0)
    assert out["services.served_within_target_pct"].by_district["D7"] == pytest.approx(50.0)


def test_san_francisco_requests_open_on_time_and_median(r, keys, sample_city):
    engine = KpiEngine(r, keys, sample_city)
    a = Open311Adapter(sample_city, FeedSource(timezone="America/Los_Angeles"))
    Runner(r, keys, sample_city, engine).run_once(a, SF_XML.read_bytes(), now=1337760000.0)
    values = engine.recompute(("services",), now=1337760000.0)
    assert values["services.requests_open"]["value"] == 52  # 56 requests, 4 Closed
    # Closed, requested -> updated (Pacific time, all on 2012-05-22):
    #   1129684 17:17:22.87 -> 17:23:05.56  =   342.69 s
    #   1129724 18:47:19.12 -> 18:48:57.49  =    98.37 s
    #   1129720 18:32:53.793 -> 22:13:25.66 = 13231.867 s
    #   1129755 20:17:35.317 -> 22:27:21.237 = 7785.92 s
    # median of four = (342.69 + 7785.92) / 2 s = 1.128974 h
    assert values["services.case_close_median_h"]["value"] == pytest.approx((342.69 + 7785.92) / 2 / 3600, abs=1e-5)
    # On time: the three with expected_datetime 2012-05-31 08:30 closed before it; 1129684 has none
    # (and no SLA configured), so it is left out: 3 / 3 = 100 %.
    assert values["services.requests_on_time_pct"]["value"] == 100.0
    assert values["services.requests_on_time_pct"]["inputs"] == 4


def test_sla_judges_requests_without_expected_datetime(r, keys, sample_city):
    city = parse_city({**sample_city.model_dump(), "services": {**sample_city.services, "sla_h": {"Yard Waste": 0.001}}})
    engine = KpiEngine(r, keys, city)
    Runner(r, keys, city, engine).run_once(Open311Adapter(city, FeedSource()), BLOOMINGTON.read_bytes(),
                                           now=1337810000.0)
    values = engine.recompute(("services",), now=1337810000.0)
    # Bloomington: 3 closed "Yard Waste", each updated 4 s after it was requested: median 4 s.
    assert values["services.case_close_median_h"]["value"] == pytest.approx(4 / 3600, abs=1e-6)
    # SLA 0.001 h = 3.6 s: all three took 4 s -> 0 % on time.
    assert values["services.requests_on_time_pct"]["value"] == 0.0
    assert values["services.requests_on_time_pct"]["status"] == "breach"
    assert values["services.requests_open"]["detail"]["by_type"]["Weeds"] == 6  # six open "Weeds" rows in the fixture


def test_request_window_is_seven_days_to_the_newest_closure(sample_city):
    cfg = services_config(sample_city)
    day = 86400.0
    closed = [{"requested": 0.0, "closed": 2 * 3600.0, "type": "a"},  # 9 days before the newest: out
              {"requested": 8 * day, "closed": 8 * day + 3600, "expected": 8 * day + 7200, "type": "a"},
              {"requested": 9 * day, "closed": 9 * day + 3 * 3600, "expected": 9 * day + 7200, "type": "b"},
              {"requested": 10 * day, "closed": 11 * day, "type": "b"}]
    out = request_kpis(cfg, [], closed, 11 * day, sample_city.district_ids())
    assert out["services.case_close_median_h"].value == pytest.approx(3.0)  # median of 1, 3, 24 h
    assert out["services.requests_on_time_pct"].value == pytest.approx(50.0)  # 1 of the 2 with a deadline
    assert out["services.requests_on_time_pct"].detail["by_type"] == {"a": 100.0, "b": 0.0}


def test_bad_services_config_is_one_line(sample_city):
    bad = parse_city({**sample_city.model_dump(), "services": {"centres": [{"id": "X", "lon": 0, "lat": 0,
                                                                            "counters": 2, "opens": "25:00"}]}})
    with pytest.raises(ConfigError, match=r"services\.centres\.0\.opens: Value error, expected HH:MM, got '25:00'"):
        services_config(bad)


def test_open_counters_totals_count_the_same_centres_as_the_share(sample_city):
    cfg = services_config(sample_city)
    # C1 7 counters open of 10 scheduled, C2 2 of 4 (Monday 10:00, both open by their hours); a learnt
    # office "W" (no schedule) has 120 queue-counters and C3 is silent (not reporting): neither is in
    # the share, so neither may be in its totals: 9 open of 14 scheduled = 64.29 %.
    queues = [q("C1", "A", 4, 3, 10), q("C1", "B", 6, 4, 20), q("C2", "A", 0, 2, 5), q("W", "A", 1, 120, 5),
              q("C3", "A", 9, 1, 30, t=MONDAY_10 - 3600)]
    out = queue_kpis(cfg, queues, {}, {}, sample_city.district_ids())["services.open_counters"]
    assert out.value == pytest.approx(100 * 9 / 14)
    assert (out.detail["open"], out.detail["scheduled"]) == (9, 14)


def test_kpis_follow_new_batches_read_from_the_change_logs(r, keys, sample_city):
    # The engine keeps the parsed requests and visits and applies only new batches: after a request
    # closes and a visitor is called, the numbers must be what a fresh read of everything gives.
    from feeds.kpi import services as kpi

    engine = KpiEngine(r, keys, sample_city)
    runner = Runner(r, keys, sample_city, engine)
    rows = orjson.loads(CHICAGO.read_bytes())  # two open requests
    requests = Open311Adapter(sample_city, FeedSource())
    runner.run_once(requests, orjson.dumps(rows), now=1405190000.0)
    events = ServiceQueuesAdapter(sample_city, FeedSource(options={"format": "queue-events"}))
    t0 = MONDAY_10 - 1800
    runner.run_once(events, b"centre,queue,ticket,step,time\nC1,A,A1,issued,%d\nC1,A,A2,issued,%d\n" % (t0, t0 + 60),
                    now=MONDAY_10)
    first = engine.recompute(("services",), now=MONDAY_10)
    assert first["services.requests_open"]["value"] == 2 and first["services.people_waiting"]["value"] == 2
    # A1 is called after 10 min; 14-01100669 closes 2 h after it was requested (2014-07-12 10:58:43 -05:00).
    runner.run_once(events, b"centre,queue,ticket,step,time\nC1,A,A1,called,%d\n" % (t0 + 600), now=MONDAY_10 + 5)
    closed = {**rows[0], "status": "closed", "updated_datetime": "2014-07-12T12:58:43-05:00"}
    assert rows[0]["requested_datetime"] == "2014-07-12T10:58:43-05:00"
    runner.run_once(requests, orjson.dumps([closed]), now=1405190100.0)
    later = engine.recompute(("services",), now=MONDAY_10 + 5)
    assert later["services.requests_open"]["value"] == 1
    assert later["services.case_close_median_h"]["value"] == pytest.approx(2.0)
    assert later["services.people_waiting"]["value"] == 1  # A2 still waiting
    # "Now" is the newest observation, A1's call at t0 + 600: A1 called 10 min after arrival (within
    # 20), A2 waiting 9 min so far (not judged yet): 1 of 1. Before the call nobody was judged.
    assert first["services.served_within_target_pct"]["value"] is None
    assert later["services.served_within_target_pct"]["value"] == pytest.approx(100.0)
    kpi._MEMO.clear()  # everything read afresh gives the same
    fresh = engine.recompute(("services",), now=MONDAY_10 + 5)
    for kid in ("services.requests_open", "services.case_close_median_h", "services.people_waiting",
                "services.served_within_target_pct", "services.wait_min"):
        assert fresh[kid]["value"] == later[kid]["value"], kid
