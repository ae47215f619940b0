"""The simulated environment stations: real formats through the real adapter, deterministic."""
from __future__ import annotations

import time

import orjson

from feeds.adapters.environment import openaq_endpoint
from feeds.framework import Runner
from feeds.geo import haversine_m
from feeds.kpi.engine import KpiEngine
from feeds.simulate.environment import AirSimulator, NoiseSimulator, WaterSimulator, simulators


def test_same_seed_same_time_same_payload(sample_city):
    now = 1_790_000_000.0
    for cls in (AirSimulator, NoiseSimulator, WaterSimulator):
        assert cls(sample_city, 7).payload(now) == cls(sample_city, 7).payload(now)


def test_air_payload_is_openaq_v3_and_backfills_twelve_hours(sample_city):
    doc = orjson.loads(AirSimulator(sample_city, 7).payload(1_790_000_000.0))
    kinds = [openaq_endpoint(rec["_request_uri"])[0] for rec in doc]
    n = len(sample_city.environment["air_stations"])
    assert kinds.count("locations") == 1 and kinds.count("series") == 4 * n and kinds.count("latest") == n
    for rec in doc:
        assert set(rec["response"]) == {"meta", "results"}
        assert rec["response"]["meta"]["found"] == len(rec["response"]["results"])


def test_the_episode_drifts_across_the_city(sample_city):
    sim = AirSimulator(sample_city, 7)
    a, b = sim.episode_centre(0.0 + 3600), sim.episode_centre(0.0 + 3 * 3600)
    assert haversine_m(a, b) > 3000


def test_a_water_excursion_happens_within_a_few_hours(sample_city):
    sim = WaterSimulator(sample_city, 7)
    assert any(sim.excursion(t)[0] is not None for t in range(0, 6 * 3600, 300))


def test_simulated_city_through_the_real_adapter_gives_every_environment_kpi(r, keys, sample_city):
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    now = time.time()
    for adapter, gen, _ in simulators(sample_city):
        res = runner.run_once(adapter, gen.payload(now), now=now)
        assert res.payload_error is None and res.stored > 0
    values = {k: orjson.loads(v) for k, v in r.hgetall(keys.kpi_values()).items()}
    for kid in ("environment.aqi", "environment.stations_unhealthy", "environment.noise_exceedance_pct",
                "environment.water_alerts"):
        assert values[kid]["value"] is not None, kid
    assert values["environment.aqi"]["inputs"] == len(sample_city.environment["air_stations"])
    assert values["environment.aqi"]["detail"]["pollutant"] in ("pm25", "pm10", "o3", "no2")
