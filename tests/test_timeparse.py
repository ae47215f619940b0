"""Floating local timestamps of real feeds, including the hour that happens twice."""
from __future__ import annotations

from datetime import datetime, timezone

from feeds.timeparse import iso_to_epoch, local_to_epoch

NY = "America/New_York"


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_summer_and_winter_offsets():
    assert local_to_epoch(datetime(2017, 10, 23, 22, 8, 19), NY) == utc(2017, 10, 24, 2, 8, 19)  # EDT, UTC-4
    assert local_to_epoch(datetime(2024, 1, 15, 8, 0), NY) == utc(2024, 1, 15, 13, 0)  # EST, UTC-5


def test_the_repeated_fall_back_hour_follows_the_clock_of_a_live_feed():
    # 3 Nov 2024: 01:05 happens at 05:05Z (EDT) and again at 06:05Z (EST).
    first, second = utc(2024, 11, 3, 5, 5), utc(2024, 11, 3, 6, 5)
    reading = datetime(2024, 11, 3, 1, 5)
    assert local_to_epoch(reading, NY, now=first + 10) == first  # during the first pass, EST would be the future
    assert local_to_epoch(reading, NY, now=second + 10) == second  # during the second pass, the later instant
    assert local_to_epoch(reading, NY, now=second + 86400) == second  # replayed later: the later instant


def test_iso_with_offset_ignores_the_feed_zone():
    assert iso_to_epoch("2026-11-18T08:00:00-05:00", "Asia/Tokyo") == utc(2026, 11, 18, 13, 0)
    assert iso_to_epoch("2026-11-18T13:00:00Z", NY) == utc(2026, 11, 18, 13, 0)
    assert iso_to_epoch("2026-11-18T08:00:00", NY) == utc(2026, 11, 18, 13, 0)
