"""Redis stops and comes back: the runner keeps what it fetched meanwhile on disk (feeds.spool) and
delivers it when Redis answers again, in order, nothing lost below the bound; beyond the bound the
oldest batches are dropped, each with one log line. Each test stops a private Redis of its own."""
from __future__ import annotations

import logging
import threading
import time

import orjson
import pytest

from feeds.adapters.nyc_traffic import NycTrafficAdapter
from feeds.config import FeedSource
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import Keys
from feeds.simulate.traffic import TrafficSimulator
from feeds.spool import Spool
from tests.test_cli import feeds_cli


class LiveSpeeds(NycTrafficAdapter):
    """Road speeds from the simulator, a new snapshot 10 s of feed time later at each fetch; counts the
    records it sent."""

    def __init__(self, city, interval_s: float = 0.2):
        super().__init__(city, FeedSource(interval_s=interval_s))
        self.sim = TrafficSimulator(city, 7, no_data_rate=0, malformed_rate=0)
        self.t = time.time() - 3600
        self.sent = 0

    def fetch(self) -> bytes:
        self.t += 10
        payload = self.sim.payload(self.t)
        self.sent += len(orjson.loads(payload))
        return payload


def wait_until(check, timeout: float, what: str) -> float:
    """Seconds it took ``check`` to hold; AssertionError after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def private_redis():
    server = EmbeddedRedis()  # our own: these tests stop it
    yield server
    server.stop()


def stored(r, keys) -> int:
    return r.xlen(keys.readings("traffic"))


def test_every_record_fetched_during_an_outage_is_stored_when_redis_returns(private_redis, sample_city, tmp_path):
    r, keys = connect(private_redis.url), Keys("cbtest-spool")
    spool = Spool(tmp_path / "spool")
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city), spool)
    feed = LiveSpeeds(sample_city)
    stop = threading.Event()
    loop = threading.Thread(target=runner.run_forever, args=([feed], stop), daemon=True)
    loop.start()
    try:
        wait_until(lambda: stored(r, keys) > 0, 10, "the first batch")
        r.shutdown(save=True)  # Redis stops (with persistence: it comes back with what it held)
        private_redis.kill()
        wait_until(lambda: spool.spooled >= 5, 10, "five batches in the spool")
        assert list((tmp_path / "spool").glob("*.batch"))  # on disk, not in memory
        private_redis.start()
        took = wait_until(lambda: len(spool) == 0, 10, "the spool to be delivered")
        stop.set()
        loop.join(5)
    finally:
        stop.set()
    assert took < 3  # delivered within a second or two of Redis answering, not at the next backoff
    assert (stored(r, keys), spool.dropped) == (feed.sent, 0)  # sent == stored: nothing lost
    assert spool.replayed == spool.spooled >= 5
    assert runner.epoch.losses == 0  # it came back with its data: no rebuild, no notice
    assert not list((tmp_path / "spool").iterdir())


def test_beyond_the_bound_the_oldest_batches_are_dropped_with_a_log_line_and_the_rest_delivered(
        private_redis, sample_city, tmp_path, caplog):
    r, keys = connect(private_redis.url), Keys("cbtest-spool")
    feed = LiveSpeeds(sample_city)
    one = len(feed.sim.payload(feed.t)) + 100  # a batch and its header line
    spool = Spool(tmp_path, max_bytes=3 * one)  # room for three batches
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city), spool)
    runner.run_spooled(feed)
    private_redis.kill()
    with caplog.at_level(logging.ERROR, logger="feeds.spool"):
        for _ in range(5):
            assert runner.run_spooled(feed) is None  # kept, not raised: the feed keeps its interval
    drops = [rec.getMessage() for rec in caplog.records if "spool full" in rec.getMessage()]
    assert len(drops) == 2 == spool.dropped and len(spool) == 3
    assert all("dropped the oldest batch, traffic fetched at" in line for line in drops)
    private_redis.start()  # back empty (no persistence here): what the spool holds is all there is
    runner.spool_tick()  # the runner's loop does this every second while the spool holds batches
    assert len(spool) == 0
    assert stored(r, keys) == 3 * len(sample_city.traffic.links)  # the three newest outage batches
    runner.run_spooled(feed)
    newest = max(orjson.loads(v)["t"] for v in r.hgetall(keys.link_latest()).values())
    assert newest == pytest.approx(feed.t, abs=1)
    assert stored(r, keys) == 4 * len(sample_city.traffic.links)
    assert runner.epoch.losses == 1


def test_a_replayed_batch_is_stored_once(private_redis, sample_city, tmp_path):
    r, keys = connect(private_redis.url), Keys("cbtest-spool")
    feed = LiveSpeeds(sample_city)
    spool = Spool(tmp_path)
    runner = Runner(r, keys, sample_city, None, spool)
    payload = feed.fetch()
    runner.run_once(feed, payload)  # stored, but (say) the process died before deleting its spool file
    spool.put(feed.name, payload, time.time())
    runner.run_spooled(feed)
    assert stored(r, keys) == 2 * len(sample_city.traffic.links)
    assert len(spool) == 0


def test_batches_left_by_an_earlier_run_are_delivered_by_the_next(private_redis, sample_city, tmp_path, caplog):
    feed = LiveSpeeds(sample_city)
    Spool(tmp_path).put("traffic", feed.fetch(), time.time())  # a runner that stopped during an outage
    Spool(tmp_path).put("elsewhere", b"{}", time.time())  # a feed this runner does not run: left alone
    damaged = Spool(tmp_path).put("traffic", feed.fetch(), time.time())
    damaged.path.write_bytes(b"not a header")  # damaged by hand: skipped with a log line, never a block
    r, keys = connect(private_redis.url), Keys("cbtest-spool")
    with caplog.at_level(logging.WARNING):
        spool = Spool(tmp_path)
        assert "3 batches" in caplog.text and "from an earlier run" in caplog.text
        Runner(r, keys, sample_city, None, spool).run_spooled(feed)
    assert stored(r, keys) == 2 * len(sample_city.traffic.links)
    assert [b.feed for b in spool.pending()] == ["elsewhere"]
    assert f"spool: cannot read {damaged.path}" in caplog.text


@pytest.mark.parametrize("flags, message", [
    (["--spool-max-mb", "-1"], "error: --spool-max-mb must be between 0 and 1048576, got -1"),
    (["--spool-max-mb", "lots"],
     "error: argument --spool-max-mb: invalid float value: 'lots' (see python -m feeds --help)"),
    (["--spool-dir", "{file}"], "error: spool directory {file}: not a directory"),
    (["--spool-dir", "{file}/spool"], "error: spool directory {file}/spool: {file} is not a directory"),
])
def test_bad_spool_flags_exit_2_with_one_line(redis_url, keys, tmp_path, flags, message):
    file = tmp_path / "a-file"
    file.write_text("")
    out = feeds_cli("simulate", "--ticks", "1", *[f.replace("{file}", str(file)) for f in flags],
                    redis_url=redis_url, keys=keys)
    assert (out.returncode, out.stderr.splitlines()) == (2, [message.replace("{file}", str(file))])


def test_a_bad_spool_variable_exits_2_with_one_line(redis_url, keys):
    out = feeds_cli("simulate", "--ticks", "1", redis_url=redis_url, keys=keys, env_extra={"SPOOL_MAX_MB": "lots"})
    assert (out.returncode, out.stderr.splitlines()) == (2, ["error: SPOOL_MAX_MB must be a number, got 'lots'"])
