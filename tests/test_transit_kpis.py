"""Bus KPIs from hand-built events: the numbers are derived in the comments from kpis.md / TCQSM."""
from __future__ import annotations

import pytest

from feeds.adapters.transit_gtfs import TransitConfig
from feeds.kpi.transit import headway_cv, observed_headways, transit_kpis

T0 = 1_800_000_000
CFG = TransitConfig()
DISTRICTS = ["D1", "D2"]


def passage(v, t, H=600, r="R1", d=0, s="S1", ds="D1"):
    return {"r": r, "d": d, "s": s, "v": v, "t": T0 + t, "H": H, "ds": ds}


def departure(dl, t=0, tp=1, r="R1", ds="D1"):
    return {"r": r, "d": 0, "trip": "x", "s": "S1", "dl": dl, "t": T0 + t, "tp": tp, "ds": ds}


def test_headway_cv_and_bunching_by_hand():
    # Vehicles a..e reach stop S1 at 0, 600, 700, 1500, 2100 s; scheduled headway H = 600 s.
    # Observed headways h = 600, 100, 800, 600; deviations h - H = 0, -500, 200, 0 (mean -75).
    # Population sd = sqrt(((75)^2 + (-425)^2 + (275)^2 + (75)^2) / 4) = sqrt(66875) = 258.602 s.
    # TCQSM c_vh = 258.602 / 600 = 0.43100. Bunched: h/H < 0.5 only for 100/600 -> 1 of 4 = 25 %.
    passages = [passage(v, t) for v, t in zip("abcde", (0, 600, 700, 1500, 2100))]
    out = transit_kpis([], {}, [], passages, T0 + 2100, CFG, DISTRICTS)
    assert out["transit.headway_cv"].value == pytest.approx(66875 ** 0.5 / 600, abs=1e-9)
    assert out["transit.headway_cv"].value == pytest.approx(0.43100, abs=1e-5)
    assert out["transit.bunched_pct"].value == pytest.approx(25.0)
    assert out["transit.bunched_pct"].by_district == {"D1": 25.0, "D2": None}
    assert out["transit.bunched_pct"].detail["by_route"]["R1"] == pytest.approx(25.0)


def test_the_same_bus_twice_is_not_a_headway():
    # a at 0, a again at 30 (no trip id; within 15 min: the same visit, recorded again), b at 400:
    # one headway, b - a's first time there = 400 s.
    hs = observed_headways([passage("a", 0), passage("a", 30), passage("b", 400)])
    assert [h.h for h in hs] == [400.0]


def test_infrequent_routes_do_not_count_toward_headway_cv_but_do_toward_bunching():
    # H = 900 s > 600 s (TCQSM headway adherence is for headways of 10 min or less).
    passages = [passage(v, t, H=900) for v, t in zip("abc", (0, 300, 1200))]
    out = transit_kpis([], {}, [], passages, T0 + 1200, CFG, DISTRICTS)
    assert out["transit.headway_cv"].value is None
    assert out["transit.bunched_pct"].value == pytest.approx(50.0)  # 300/900 < 0.5; 900/900 is not


def test_on_time_window_at_timepoints_by_hand():
    # Timepoint departures: -90 (early), -60 (on time, edge), 0, +300 (on time, edge), +301 (late);
    # +120 at a non-timepoint and +30 older than the 60-min window are left out.
    # On time (-60 <= delay <= +300): -60, 0, 300 -> 3 of 5 = 60 %. Mean = (-90-60+0+300+301)/5 = 90.2 s.
    deps = [departure(-90), departure(-60), departure(0), departure(300), departure(301),
            departure(120, tp=0), departure(30, t=-3700)]
    out = transit_kpis([], {}, deps, [], T0, CFG, DISTRICTS)
    assert out["transit.on_time_pct"].value == pytest.approx(60.0)
    assert out["transit.mean_delay_s"].value == pytest.approx(90.2)
    assert out["transit.on_time_pct"].inputs == 5


def test_on_time_window_is_configurable():
    # WMATA-style -120 .. +420 s: -90, -60, 0, 300, 301 are all on time -> 100 %.
    cfg = TransitConfig(on_time_early_s=120, on_time_late_s=420)
    out = transit_kpis([], {}, [departure(d) for d in (-90, -60, 0, 300, 301)], [], T0, cfg, DISTRICTS)
    assert out["transit.on_time_pct"].value == pytest.approx(100.0)


def test_service_delivered_counts_fresh_vehicles_against_the_schedule():
    # Schedule: R1 needs 4 buses (district D1), R2 needs 2 (D2). Reporting within 180 s: 3 on R1,
    # 1 on R2; a fourth R1 bus last seen 200 s ago is not in service. 4 / 6 = 66.67 %;
    # D1: 3/4 = 75 %, D2: 1/2 = 50 %.
    vehicles = [{"id": f"v{i}", "r": "R1", "t": T0 - 10, "ds": "D1"} for i in range(3)]
    vehicles += [{"id": "old", "r": "R1", "t": T0 - 200, "ds": "D1"}, {"id": "w", "r": "R2", "t": T0, "ds": "D2"}]
    # (a third route R3 with 2 buses out and 1 scheduled would count as 1 of 1: see the adapter test)
    scheduled = {"R1": {"n": 4, "ds": "D1"}, "R2": {"n": 2, "ds": "D2"}}
    out = transit_kpis(vehicles, scheduled, [], [], T0, CFG, DISTRICTS)
    assert out["transit.vehicles_in_service"].value == 4
    assert out["transit.service_delivered_pct"].value == pytest.approx(400 / 6)
    assert out["transit.service_delivered_pct"].by_district == {"D1": 75.0, "D2": 50.0}
    assert out["transit.service_delivered_pct"].detail["by_route"] == {"R1": 75.0, "R2": 50.0}


def test_no_input_is_no_data_not_zero():
    out = transit_kpis([], {}, [], [], None, CFG, DISTRICTS)
    assert all(c.value is None for c in out.values())
    assert headway_cv([]) is None


def test_headways_before_the_window_are_left_out_but_their_passages_still_count_as_predecessors():
    # Passages at 0, 500, 1300 s; since = 400: the headway ending at 500 (500 - 0 = 500) is kept, as
    # its end is after 400, and so is 1300 - 500 = 800; with since = 600 only the 800 s one.
    ps = [passage(v, t) for v, t in zip("abc", (0, 500, 1300))]
    assert [h.h for h in observed_headways(ps, since=T0 + 400)] == [500.0, 800.0]
    assert [h.h for h in observed_headways(ps, since=T0 + 600)] == [800.0]


def test_a_visit_recorded_again_after_a_restart_is_not_a_headway():
    # The adapter records a bus's first report at a stop; after a restart it has forgotten which stop
    # each bus was at, so bus a, still heading to S1 on trip T1, is recorded there again at 400 s (and
    # at 100 s in the second case, the very time bus b's first report arrives). The visit is a's first
    # time there: headways are b - a = 300 s (not 300 and a bogus 100), and 100 s (not 0 s, "bunched").
    def p(v, t, trip):
        return {**passage(v, t), "trip": trip}
    assert [h.h for h in observed_headways([p("a", 0, "T1"), p("b", 300, "T2"), p("a", 400, "T1")])] == [300.0]
    assert [h.h for h in observed_headways([p("a", 0, "T1"), p("a", 100, "T1"), p("b", 100, "T2")])] == [100.0]
    # The same bus on its next trip is a new visit: a (T1) at 0, b at 300, a (T3) at 1500 -> 300, 1200.
    assert [h.h for h in observed_headways([p("a", 0, "T1"), p("b", 300, "T2"), p("a", 1500, "T3")])] == \
        [300.0, 1200.0]
