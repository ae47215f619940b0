"""Traffic KPIs checked against numbers derived by hand from kpis.md and feed-formats.md §3.4."""
from __future__ import annotations

import pytest

from feeds.adapters.nyc_traffic import NycTrafficAdapter
from feeds.config import FeedSource
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.kpi.traffic import LinkInfo, traffic_kpis
from tests.conftest import NYC_SNAPSHOT

NOW = 1_800_000_000.0


def test_tti_congestion_and_coverage_by_hand():
    links = {
        "a": LinkInfo("a", "D1", 1000, 50),  # 25 km/h -> ratio 0.5: congested
        "b": LinkInfo("b", "D1", 2000, 50),  # 50 km/h -> ratio 1.0
        "c": LinkInfo("c", "D2", 1000, 100),  # 80 km/h -> ratio 0.8
        "d": LinkInfo("d", "D2", 500, 50),  # no reading
        "e": LinkInfo("e", "D2", 700, 50),  # reading older than the 900 s window
    }
    readings = {"a": {"v": 25, "t": NOW}, "b": {"v": 50, "t": NOW - 60}, "c": {"v": 80, "t": NOW - 899},
                "e": {"v": 5, "t": NOW - 901}, "unknown-link": {"v": 3, "t": NOW}}
    out = traffic_kpis(links, readings, 900, [], None, ["D1", "D2"])
    # TTI = sum(L x TT) / sum(L x TT_ff), TT = L / v:
    #   (1000^2/25 + 2000^2/50 + 1000^2/80) / (1000^2/50 + 2000^2/50 + 1000^2/100)
    #   = (40000 + 80000 + 12500) / (20000 + 80000 + 10000) = 132500 / 110000 = 1.204545...
    assert out["traffic.travel_time_index"].value == pytest.approx(132500 / 110000)
    # Congested: only "a" (0.5 < 0.6): 1000 m of 4000 m monitored = 25 %.
    assert out["traffic.congested_share_pct"].value == pytest.approx(25.0)
    # Coverage: 3 of 5 configured links fresh ("d" silent, "e" too old) = 60 %.
    assert out["traffic.coverage_pct"].value == pytest.approx(60.0)
    # D1: (40000 + 80000) / (20000 + 80000) = 1.2; D2: 12500 / 10000 = 1.25.
    assert out["traffic.travel_time_index"].by_district == pytest.approx({"D1": 1.2, "D2": 1.25})
    assert out["traffic.congested_share_pct"].by_district == pytest.approx({"D1": 100 / 3, "D2": 0.0})
    assert out["traffic.coverage_pct"].by_district == pytest.approx({"D1": 100.0, "D2": 100 / 3})
    assert out["traffic.travel_time_index"].as_of == NOW


def test_open_incidents_count_per_district_and_no_data_without_the_feed():
    incidents = [{"district": "D1"}, {"district": "D1"}, {"district": "D2"}, {"district": None}]
    out = traffic_kpis({}, {}, 900, incidents, NOW, ["D1", "D2"])
    assert out["traffic.open_incidents"].value == 4
    assert out["traffic.open_incidents"].by_district == {"D1": 2, "D2": 1}
    assert traffic_kpis({}, {}, 900, [], None, ["D1"])["traffic.open_incidents"].value is None
    assert out["traffic.travel_time_index"].value is None  # no readings at all: no data, not zero


def test_real_nyc_snapshot_through_the_runner_gives_hand_derived_kpis(r, keys, nyc_city):
    engine = KpiEngine(r, keys, nyc_city)
    Runner(r, keys, nyc_city, engine).run_once(NycTrafficAdapter(nyc_city, FeedSource(interval_s=60)),
                                               NYC_SNAPSHOT.read_bytes(), now=1508810905.0 + 30)
    values = engine.recompute(("traffic",), now=1508810905.0 + 30)
    # Fixture speeds: 4616337 19.26 mph = 31.00 km/h, 4456502 3.72 mph = 5.99, 4616247 51.57 mph = 82.99;
    # 4616279 is status -101. Configured lengths 1000, 2000, 3000 m; free flow 40, 60, 88 km/h.
    # TTI = (1000^2/31.00 + 2000^2/5.99 + 3000^2/82.99) / (1000^2/40 + 2000^2/60 + 3000^2/88)
    #     = (32258.06 + 667779.63 + 108446.80) / (25000 + 66666.67 + 102272.73) = 808484.50 / 193939.39 = 4.1687
    tti = values["traffic.travel_time_index"]
    assert tti["value"] == pytest.approx(4.1687, abs=1e-4)
    assert tti["status"] == "breach"  # > 1.5
    # Congested: 5.99 / 60 = 0.10 < 0.6 -> 2000 m of 6000 m = 33.3 %.
    assert values["traffic.congested_share_pct"]["value"] == pytest.approx(100 / 3, abs=1e-4)
    # Coverage: 3 of 4 configured links have a valid reading = 75 %.
    assert values["traffic.coverage_pct"]["value"] == pytest.approx(75.0)
    # Manhattan: (32258.06 + 667779.63) / (25000 + 66666.67) = 7.6368; Bronx: 108446.80 / 102272.73 = 1.0604
    by = tti["by_district"]
    assert by["manhattan"]["value"] == pytest.approx(7.6368, abs=1e-4)
    assert by["bronx"] == {"value": pytest.approx(1.0604, abs=1e-4), "status": "ok"}
    assert by["staten"] == {"value": None, "status": "no_data"}
    assert values["traffic.coverage_pct"]["by_district"]["staten"]["value"] == 0.0
    # as_of is the newest reading, 22:08:25 EDT; stale after 3 x the 60 s interval.
    assert tti["as_of"] == 1508810905.0
    assert tti["fresh_until"] == 1508810905.0 + 180


def test_exactly_sixty_percent_of_free_flow_is_not_congested():
    links = {"a": LinkInfo("a", "D1", 1000, 50), "b": LinkInfo("b", "D1", 1000, 50)}
    readings = {"a": {"v": 30.0, "t": NOW}, "b": {"v": 29.9, "t": NOW}}  # ratios 0.6 and 0.598
    out = traffic_kpis(links, readings, 900, [], None, ["D1"])
    assert out["traffic.congested_share_pct"].value == pytest.approx(50.0)  # "< 0.6": only b
