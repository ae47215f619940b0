"""Redis restarts empty (no persistence) under a running city: the runner notices (feeds.store_epoch),
says what was lost (a log line and a note on the city timeline), writes again what the pages need that
only comes once (the GTFS static schedule), drops in-memory copies of what is gone (the open-requests
cache of the services KPIs), and the pages and API render from the next batch without an error."""
from __future__ import annotations

import logging
import time

import orjson
import pytest

from app import create_app
from dashboard.pages import overview, transit
from dashboard.store import Store
from feeds.annotations import Annotations
from feeds.config import Settings
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import Keys
from feeds.simulate import simulators
from tests.auth_helpers import signed_in


@pytest.fixture
def private_redis():
    server = EmbeddedRedis()  # our own: this test empties it by restarting it
    yield server
    server.stop()


def kpi(r, keys, kpi_id):
    return orjson.loads(r.hget(keys.kpi_values(), kpi_id))


def test_a_redis_that_restarts_empty_is_noticed_said_and_rebuilt(private_redis, sample_city, caplog):
    r, keys = connect(private_redis.url), Keys("cbtest-restart")
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    feeds = simulators(sample_city)

    def one_round():
        for adapter, gen, _ in feeds:
            runner.run_spooled(adapter, gen.payload(time.time()))

    one_round()
    assert kpi(r, keys, "services.requests_open")["value"] > 0
    assert r.hget(keys.transit_static(), "routes") == "6"
    assert Annotations(r, keys).list("timeline") == []  # the first contact is no loss

    private_redis.kill()
    private_redis.start()  # no persistence: everything is gone
    with caplog.at_level(logging.ERROR, logger="feeds.store"):
        one_round()

    assert runner.epoch.losses == 1
    (line,) = [rec.getMessage() for rec in caplog.records if rec.name == "feeds.store"]
    assert line.startswith("Redis restarted empty between ") and "KPI history" in line
    (note,) = Annotations(r, keys).list("timeline")
    assert (note["text"], note["by"]) == (line, "system")
    # Written once per schedule version, so only because the runner was told Redis lost it:
    assert r.hget(keys.transit_static(), "routes") == "6"
    # The simulated Open311 feed sends changes only: the requests before the restart are gone, and the
    # KPI says so instead of counting them from a copy in memory.
    assert kpi(r, keys, "services.requests_open")["value"] == 0

    store = Store(r, keys, sample_city)
    overview.page(store, {})
    transit.page(store, {"route": "R1"})
    client = signed_in(create_app(Settings(private_redis.url, 8050, None, keys.prefix, 5, None), sample_city),
                       r, keys, "viewer")
    for path in ("/api/v1/kpis", "/api/v1/feeds", "/api/v1/routes/R1", "/api/v1/annotations?target=timeline"):
        res = client.get(path)
        assert res.status_code == 200, (path, res.data[:200])
    assert "Redis restarted empty" in client.get("/api/v1/annotations?target=timeline").get_json()["annotations"][0]["text"]

    one_round()  # a later batch: no second notice
    assert runner.epoch.losses == 1 and len(Annotations(r, keys).list("timeline")) == 1
