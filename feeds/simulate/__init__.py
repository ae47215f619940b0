"""The simulated city: real-format payloads pushed through the real adapters.

For the demo and for load only: every feature also works from the real formats.
"""
from __future__ import annotations

import logging
import threading
import time

from feeds.config import City
from feeds.framework import Runner
from feeds.plugins import domain_modules

log = logging.getLogger("feeds.simulate")


def simulators(city: City):
    """(adapter, simulator, interval) for every simulated feed, from each domain's
    ``feeds.simulate.<domain>.simulators(city)`` (see feeds.plugins)."""
    out = []
    for mod in domain_modules("feeds.simulate", "simulators").values():
        out.extend(mod.simulators(city))
    return out


def run_simulation(runner: Runner, city: City, stop: threading.Event, ticks: int | None = None) -> None:
    """Emit every simulated feed on its interval until ``stop`` (or ``ticks`` rounds) ."""
    feeds = simulators(city)
    due = [0.0] * len(feeds)
    rounds = 0
    while not stop.is_set() and (ticks is None or rounds < ticks):
        t = time.monotonic()
        for i, (adapter, gen, interval) in enumerate(feeds):
            if t < due[i]:
                continue
            runner.back_pressure.started(adapter.name, due[i], interval)
            due[i] = t + interval
            try:
                res = runner.run_spooled(adapter, payload=gen.payload(time.time()))
                if res is not None:  # None: Redis is down and the batch waits in the spool
                    log.debug(res.line())
            except Exception as e:  # keep the demo alive through a Redis restart
                log.error("simulated %s: %s: %s", adapter.name, type(e).__name__, e)
        alerts = getattr(runner.engine, "alerts", None)
        wake = min(due)
        if alerts is not None:  # feed-silence alerts fire even when no batch arrives
            alerts.tick()
            wake = min(wake, time.monotonic() + alerts.next_due_in())
        wake = min(wake, runner.spool_tick())  # spooled batches go in as soon as Redis answers
        rounds += 1
        if ticks is None or rounds < ticks:
            stop.wait(max(0.05, wake - time.monotonic()))
