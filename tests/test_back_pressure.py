"""A feed that floods the runner (batches slower than its interval): the loop keeps going, skips the
polls it cannot make (the next poll takes the newest snapshot; nothing queues) and says so in the log.
The full flood, 10x the large city's rate with memory and page latency, is bench/faults.py."""
from __future__ import annotations

import logging
import threading
import time

from feeds.framework import BackPressure, Runner
from tests.test_spool import LiveSpeeds, wait_until


class SlowSpeeds(LiveSpeeds):
    """Each poll takes 0.25 s, four times the 0.06 s interval."""

    def fetch(self) -> bytes:
        time.sleep(0.25)
        return super().fetch()


def test_a_feed_faster_than_the_runner_is_coalesced_and_logged_not_queued(r, keys, sample_city, caplog):
    feed = SlowSpeeds(sample_city, interval_s=0.06)
    runner = Runner(r, keys, sample_city)
    runner.back_pressure = BackPressure(every_s=1)
    stop = threading.Event()
    loop = threading.Thread(target=runner.run_forever, args=([feed], stop), daemon=True)
    with caplog.at_level(logging.WARNING, logger="feeds"):
        loop.start()
        try:
            wait_until(lambda: "back-pressure" in caplog.text, 10, "the back-pressure line")
        finally:
            stop.set()
            loop.join(5)
    assert not loop.is_alive()  # stopped when told, never crashed
    (line,) = [rec.getMessage() for rec in caplog.records if "back-pressure" in rec.getMessage()][:1]
    assert line.startswith("traffic: back-pressure: ") and "polls skipped in the last 1 s" in line
    polls = feed.sent // len(sample_city.traffic.links)
    assert runner.back_pressure.skipped["traffic"] >= 2 * polls  # most polls were skipped, none queued
    assert r.xlen(keys.readings("traffic")) == feed.sent  # every snapshot fetched was stored
