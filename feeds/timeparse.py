"""Timestamps of real feeds -> epoch seconds."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_to_epoch(dt: datetime, tz: str) -> float:
    """A floating (zone-less) local time -> epoch, using the feed's time zone."""
    return dt.replace(tzinfo=zone(tz)).timestamp()


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
