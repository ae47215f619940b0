"""Timestamps of real feeds -> epoch seconds."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


FUTURE_GRACE_S = 60


def local_to_epoch(dt: datetime, tz: str, now: float | None = None) -> float:
    """A floating (zone-less) local time -> epoch, using the feed's time zone.

    In the hour that repeats when clocks go back (01:00-02:00 twice in New York in November) a
    floating time names two instants. A live feed is reporting about now: take the later instant
    unless it lies in the future, else the earlier one.
    """
    first = dt.replace(tzinfo=zone(tz), fold=0).timestamp()
    second = dt.replace(tzinfo=zone(tz), fold=1).timestamp()
    if second <= first:  # not ambiguous (or a skipped spring-forward time, which zoneinfo resolves)
        return first
    now = time.time() if now is None else now
    return second if second <= now + FUTURE_GRACE_S else first


def iso_to_epoch(text: str, tz: str) -> float:
    """ISO-8601 with or without an offset; without one it is local time in ``tz``."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        return local_to_epoch(dt, tz)
    return dt.timestamp()


def epoch_to_iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
