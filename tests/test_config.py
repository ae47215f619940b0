"""Configuration from the environment and the city description."""
from __future__ import annotations

from pathlib import Path

import pytest

from feeds import sample_city
from feeds.config import ConfigError, Settings, load_city, load_dotenv, parse_city
from tests.conftest import SAMPLE_CITY


def test_defaults_when_the_environment_is_empty():
    s = Settings.from_env({})
    assert (s.redis_url, s.port, s.key_prefix, s.refresh_s) == (None, 8050, "city", 2.0)
    assert s.city_config.name == "sample.json"


@pytest.mark.parametrize("env, message", [
    ({"PORT": "eighty"}, "PORT must be a number"),
    ({"PORT": "70000"}, "PORT must be between 1 and 65535"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with"),
    ({"KEY_PREFIX": "a b"}, "KEY_PREFIX may hold"),
    ({"REFRESH_S": "0"}, "REFRESH_S must be between"),
])
def test_bad_environment_is_one_clear_error(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_the_shipped_sample_city_is_what_the_generator_makes():
    assert SAMPLE_CITY.read_bytes() == sample_city.dumps(sample_city.generate(7))
    assert sample_city.generate(8) != sample_city.generate(7)


def test_sample_city_has_what_every_domain_needs():
    city = load_city(SAMPLE_CITY)
    assert len(city.districts) == 9 and len(city.traffic.links) == 238
    assert city.transit["routes"] and city.environment["air_stations"] and city.emergency["stations"]
    assert city.services["centres"]


@pytest.mark.parametrize("change, message", [
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"targets": {"traffic.speed": {"target": 1, "warn": 2}}}, "unknown KPI id 'traffic.speed'"),
    ({"districts": []}, "districts: List should have at least 1 item"),
])
def test_bad_city_descriptions_name_the_field(change, message):
    raw = {"name": "x", "center": [0, 0], "districts": [{"id": "D", "name": "D", "polygon": [[0, 0], [1, 0], [1, 1]]}]}
    with pytest.raises(ConfigError, match=message):
        parse_city({**raw, **change})


def test_dotenv_sets_only_what_the_environment_does_not(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("# comment\nCB_TEST_A=from-file\nexport CB_TEST_B='quoted'\n")
    monkeypatch.setenv("CB_TEST_A", "from-env")
    monkeypatch.delenv("CB_TEST_B", raising=False)
    load_dotenv(Path(env))
    import os

    assert os.environ["CB_TEST_A"] == "from-env" and os.environ["CB_TEST_B"] == "quoted"
    monkeypatch.delenv("CB_TEST_B")
    env.write_text("no equals sign here\n")
    with pytest.raises(ConfigError, match=r"\.env:1: expected KEY=VALUE"):
        load_dotenv(Path(env))
