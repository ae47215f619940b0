"""The simulated city: real-format payloads pushed through the real adapters.

For the demo and for load only: every feature also works from the real formats.
"""
from __future__ import annotations

import logging
import threading
import time

from feeds.adapters import ADAPTERS
from feeds.config import City, FeedSource
from feeds.framework import Runner
from feeds.simulate.traffic import IncidentSimulator, TrafficSimulator

log = logging.getLogger("feeds.simulate")


def simulators(city: City):
    """(adapter, simulator, interval) for every simulated feed."""
    sim = city.simulation
    incidents = IncidentSimulator(city, sim.seed)
    traffic = TrafficSimulator(city, sim.seed, incidents)
    out = []
    for name, gen, interval in (("traffic", traffic, sim.traffic_interval_s),
                                ("road-incidents", incidents, sim.incidents_interval_s)):
        # The incident simulator sends every current incident: a snapshot.
        source = FeedSource(interval_s=interval, timezone=city.timezone,
                            options={"snapshot": True} if name == "road-incidents" else {})
        out.append((ADAPTERS[name](city, source), gen, interval))
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
            due[i] = t + interval
            try:
                res = runner.run_once(adapter, payload=gen.payload(time.time()))
                log.debug(res.line())
            except Exception as e:  # keep the demo alive through a Redis restart
                log.error("simulated %s: %s: %s", adapter.name, type(e).__name__, e)
        rounds += 1
        if ticks is None or rounds < ticks:
            stop.wait(max(0.05, min(due) - time.monotonic()))
