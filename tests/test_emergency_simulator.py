"""The simulated dispatch centre speaks the real unit-event format and goes through the adapter."""
from __future__ import annotations

import orjson

from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.emergency import DispatchSimulator, calls_per_hour, simulators

NOW = 1_763_740_800.0  # 2025-11-21 16:00 UTC, 11:00 in the sample city (New York)


def test_same_seed_same_payloads(sample_city):
    a, b = DispatchSimulator(sample_city, 7), DispatchSimulator(sample_city, 7)
    assert a.payload(NOW) == b.payload(NOW)
    assert a.payload(NOW + 30) == b.payload(NOW + 30)
    assert DispatchSimulator(sample_city, 8).payload(NOW) != a.payload(NOW)


def test_calls_follow_the_time_of_day():
    assert calls_per_hour(17.5, 18) > 2.5 * calls_per_hour(4, 18)


def test_two_hours_of_simulation_go_through_the_adapter_without_dead_letters(r, keys, sample_city):
    (adapter, gen, interval), = simulators(sample_city)
    assert adapter.name == "emergency" and adapter.format == "unit-events"
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    for i in range(0, 7200, 600):  # warm start, then 12 ten-minute payloads
        runner.run_once(adapter, gen.payload(NOW + i), now=NOW + i)
    assert r.xlen(keys.deadletter()) == 0
    kpis = {k: orjson.loads(v) for k, v in r.hgetall(keys.kpi_values()).items()}
    for kid in ("emergency.call_answer_15s_pct", "emergency.call_processing_p90_s", "emergency.turnout_p90_s",
                "emergency.travel_p90_s", "emergency.response_p90_s", "emergency.units_available_pct"):
        assert kpis[kid]["value"] is not None, kid
    board = {u: orjson.loads(v) for u, v in r.hgetall(keys.emergency_units()).items()}
    configured = {u["id"] for s in sample_city.emergency["stations"] for u in s["units"]}
    assert set(board) == configured
    assert all(b["lon"] is not None for b in board.values())
    incidents = [orjson.loads(v) for v in r.hvals(keys.emergency_incidents())]
    assert len(incidents) >= 10
    # intervals are plausible: processing, turnout and travel positive and bounded
    for inc in incidents:
        if inc["travel_s"] is not None:
            assert 0 < inc["travel_s"] < 3600
        if inc["call_processing_s"] is not None:
            assert 0 < inc["call_processing_s"] < 7200
