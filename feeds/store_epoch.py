"""Noticing a Redis that lost its data (restarted without persistence, or flushed).

The first runner to reach a Redis writes an epoch marker (``Keys.store_epoch``, SET NX: a random id
and the time). Every runner reads it before each batch (one GET). When a runner that knew a marker
finds it gone, or replaced by another one, Redis lost what it held in between:
- the runner that writes the new marker logs one ERROR line and adds a note to the city timeline
  ("Redis restarted empty ... was lost"), shown on /timeline and on every KPI trend chart;
- every runner makes its adapters write again what they keep in Redis only once (the GTFS static
  schedule, learnt link and station metadata: ``Adapter.redis_lost``) and clears the module caches that
  mirror Redis (registered with ``on_loss``), so the next batch rebuilds the current picture.
What cannot be rebuilt from the feeds is said in the note: KPI history, readings streams, alerts,
notes, dead letters, and sign-in accounts and sessions (give Redis persistence in production).
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from typing import Callable

from feeds.timeparse import zone

log = logging.getLogger("feeds.store")

_ON_LOSS: list[Callable[[], None]] = []

LOST = ("KPI history, readings streams, alerts, notes, dead letters and sign-in sessions from before it "
        "were lost; feeds rebuild the current picture from their next batch")


def on_loss(fn: Callable[[], None]) -> Callable[[], None]:
    """Register a cache to clear when Redis lost its data (a module that mirrors Redis in memory)."""
    _ON_LOSS.append(fn)
    return fn


class StoreEpoch:
    def __init__(self, r, keys, tz: str = "UTC"):
        self.r, self.keys, self.tz = r, keys, tz
        self.known: str | None = None  # the marker this process last saw
        self.last_seen: float | None = None  # when it last saw it
        self.losses = 0

    def check(self, now: float | None = None) -> bool:
        """One GET (SET NX the first time). True when Redis lost its data since the last check."""
        now = time.time() if now is None else now
        current = self.r.get(self.keys.store_epoch())
        created = False
        if current is None:
            mine = f"{uuid.uuid4().hex[:12]}|{now:.3f}"
            created = bool(self.r.set(self.keys.store_epoch(), mine, nx=True))
            current = mine if created else self.r.get(self.keys.store_epoch())
        lost = self.known is not None and current != self.known
        before, self.known, self.last_seen = self.last_seen, current, now
        if lost:
            self.losses += 1
            for fn in _ON_LOSS:
                fn()
            if created:  # the first runner to notice says so, once
                self._say(before, now)
            else:
                log.warning("Redis lost its data (another runner noticed first); rebuilding this runner's state")
        return lost

    def _say(self, before: float | None, now: float) -> None:
        tz = zone(self.tz)

        def hhmm(t):
            return datetime.fromtimestamp(t, tz).strftime("%H:%M:%S")

        span = f"between {hhmm(before)} and {hhmm(now)}" if before is not None else f"before {hhmm(now)}"
        text = f"Redis restarted empty {span} ({self.tz}); {LOST}."
        log.error("%s", text)
        from feeds.annotations import Annotations  # imports this package's framework: not at module level

        try:
            Annotations(self.r, self.keys).add("timeline", text, by="system", at=now, now=now)
        except Exception:  # the note is a courtesy; the log line above is the record
            log.exception("could not add the restart note to the timeline")
