"""KPI status rules, freshness, history and the city score (kpis.md)."""
from __future__ import annotations

import orjson
import pytest

from feeds.config import parse_city
from feeds.kpi.engine import KpiEngine
from feeds.kpi.status import effective_status, judge, score_of
from tests.conftest import box, north_line

NOW = 1_800_000_000.0


@pytest.mark.parametrize("value, status", [(1.2, "ok"), (1.2001, "warn"), (1.5, "warn"), (1.5001, "breach"),
                                           (None, "no_data")])
def test_tti_bands_ok_to_1_2_warn_to_1_5_breach_beyond(value, status):
    assert judge(value, "lower", 1.2, 1.5) == status


@pytest.mark.parametrize("value, status", [(95, "ok"), (94.9, "warn"), (90, "warn"), (89.9, "breach")])
def test_higher_is_better_bands(value, status):
    assert judge(value, "higher", 95, 90) == status


def test_a_value_goes_stale_after_its_freshness_limit():
    stored = {"value": 1.1, "status": "ok", "fresh_until": NOW}
    assert effective_status(stored, NOW) == "ok"
    assert effective_status(stored, NOW + 0.1) == "stale"
    assert effective_status(None, NOW) == "no_data"


def test_city_score_terms_are_capped_ratios():
    assert score_of(1.0, "lower", 1.2) == pytest.approx(1.2)
    assert score_of(0.5, "lower", 1.2) == 1.25  # capped
    assert score_of(76, "higher", 95) == pytest.approx(0.8)
    assert score_of(0, "lower", 0) == 1.0 and score_of(1, "lower", 0) == 0.5


def city(targets=None):
    return parse_city({
        "name": "t", "timezone": "UTC", "center": [0, 0],
        "districts": [{"id": "D1", "name": "One", "polygon": box(-1, -1, 0, 1)},
                      {"id": "D2", "name": "Two", "polygon": box(0, -1, 1, 1)}],
        "traffic": {"links": [
            {"id": "a", "district": "D1", "free_flow_kmh": 50, "points": north_line(-0.5, 0, 1000)},
            {"id": "b", "district": "D1", "free_flow_kmh": 50, "points": north_line(-0.4, 0, 2000)},
            {"id": "c", "district": "D2", "free_flow_kmh": 100, "points": north_line(0.5, 0, 1000)},
            {"id": "d", "district": "D2", "free_flow_kmh": 50, "points": north_line(0.6, 0, 500)}]},
        "targets": targets or {},
    })


def seed(r, keys, interval_s=10):
    r.hset(keys.link_latest(), mapping={"a": orjson.dumps({"v": 25, "t": NOW}), "b": orjson.dumps({"v": 50, "t": NOW}),
                                        "c": orjson.dumps({"v": 80, "t": NOW})})
    r.hset(keys.feed_health("traffic"), mapping={"interval_s": interval_s, "last_success": NOW})


def test_engine_stores_values_statuses_and_the_city_score(r, keys):
    seed(r, keys)
    values = KpiEngine(r, keys, city()).recompute(("traffic",), now=NOW)
    stored = {k: orjson.loads(v) for k, v in r.hgetall(keys.kpi_values()).items()}
    assert stored["traffic.travel_time_index"]["value"] == pytest.approx(132500 / 110000)
    assert stored["traffic.travel_time_index"]["status"] == "warn"  # 1.2045: past 1.2, inside 1.5
    assert stored["traffic.congested_share_pct"]["status"] == "breach"  # 25 % > 15 %
    assert stored["traffic.coverage_pct"]["status"] == "breach"  # 75 % < 90 %
    assert stored["traffic.travel_time_index"]["fresh_until"] == NOW + 30  # 3 x 10 s
    # City score: mean of (1.2 / 1.204545, 10 / 25, 75 / 95) = (0.99623 + 0.4 + 0.78947) / 3 = 0.72857
    score = values["city.score"]
    assert score["value"] == pytest.approx((1.2 / (132500 / 110000) + 0.4 + 75 / 95) / 3, abs=1e-3)
    assert score["status"] == "breach"  # < 0.9
    assert [t["id"] for t in score["detail"]["breakdown"]][0] == "traffic.congested_share_pct"  # drags most
    assert r.zcard(keys.kpi_history("traffic.travel_time_index")) == 1


def test_city_score_turns_stale_when_an_input_does(r, keys):
    seed(r, keys)
    engine = KpiEngine(r, keys, city())
    score = engine.recompute(("traffic",), now=NOW)["city.score"]
    assert effective_status(score, NOW + 29) != "stale"
    assert effective_status(score, NOW + 31) == "stale"


def test_city_targets_override_the_catalogue(r, keys):
    seed(r, keys)
    values = KpiEngine(r, keys, city({"traffic.travel_time_index": {"target": 1.3, "warn": 1.6}})).recompute(
        ("traffic",), now=NOW)
    assert values["traffic.travel_time_index"]["status"] == "ok"
    assert values["traffic.travel_time_index"]["target"] == 1.3


def test_history_keeps_the_newest_value_of_each_minute(r, keys):
    engine = KpiEngine(r, keys, city())
    seed(r, keys)
    engine.recompute(("traffic",), now=NOW)
    r.hset(keys.link_latest(), "a", orjson.dumps({"v": 50, "t": NOW + 10}))
    engine.recompute(("traffic",), now=NOW + 10)  # same minute bucket: replaces
    r.hset(keys.link_latest(), "a", orjson.dumps({"v": 50, "t": NOW + 70}))
    engine.recompute(("traffic",), now=NOW + 70)  # next minute: appends
    points = [orjson.loads(p) for p in r.zrange(keys.kpi_history("traffic.congested_share_pct"), 0, -1)]
    assert [p["v"] for p in points] == [0.0, 0.0]
    assert [p["t"] for p in points] == [NOW + 10, NOW + 70]


def test_city_score_history_runs_on_compute_time_while_an_input_stands_still(r, keys):
    seed(r, keys)
    engine = KpiEngine(r, keys, city())
    engine.recompute(("traffic",), now=NOW)
    engine.recompute(("traffic",), now=NOW + 120)  # no new readings: as_of stays NOW
    times = [orjson.loads(p)["t"] for p in r.zrange(keys.kpi_history("city.score"), 0, -1)]
    assert times == [NOW, NOW + 120]
    assert len(r.zrange(keys.kpi_history("traffic.travel_time_index"), 0, -1)) == 1


def test_each_domain_has_its_own_version_counter(r, keys):
    # Pages skip a refresh when their domain's counter has not moved; another domain's write must not
    # move it, while the all-KPI counter moves on every write.
    engine = KpiEngine(r, keys, city())
    engine.recompute(("traffic",), now=NOW)
    engine.recompute(("traffic",), now=NOW + 1)
    assert int(r.get(keys.kpi_version("traffic"))) == 2
    assert int(r.get(keys.kpi_version())) == 2
    assert r.get(keys.kpi_version("transit")) is None
    engine.recompute(("transit",), now=NOW + 2)  # no transit data: transit KPIs stored as no data
    assert int(r.get(keys.kpi_version("traffic"))) == 2
    assert int(r.get(keys.kpi_version())) == 3
