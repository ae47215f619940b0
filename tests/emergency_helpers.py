"""Shared pieces of the emergency tests: a city around the real fixtures' coordinates."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from feeds.config import FeedSource, parse_city

FIX = Path(__file__).parent / "fixtures" / "emergency"
SF_FILE = FIX / "sf_fire_calls_for_service_soda_call171743725.json"
SEATTLE_FILE = FIX / "seattle_fire_911_calls_soda_2019.json"
PDT = timezone(timedelta(hours=-7))  # June and August: Pacific Daylight Time, UTC-7


def box(lon0, lat0, lon1, lat1):
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


def pdt(y, mo, d, h, mi, s=0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=PDT).timestamp()


def west_coast_city(**emergency):
    """SF's Haight (the SF call) and Seattle split north / south at 47.62 N."""
    return parse_city({
        "name": "West coast test", "timezone": "America/Los_Angeles", "center": [-122.4, 40], "zoom": 6,
        "districts": [
            {"id": "haight", "name": "Haight", "polygon": box(-122.46, 37.76, -122.42, 37.78)},
            {"id": "sea-n", "name": "Seattle north", "polygon": box(-122.45, 47.62, -122.2, 47.75)},
            {"id": "sea-s", "name": "Seattle south", "polygon": box(-122.45, 47.45, -122.2, 47.62)},
        ],
        "feeds": {"emergency": {"interval_s": 30}},
        "emergency": {"stations": [
            {"id": "S1", "name": "Station 1", "lat": 37.77, "lon": -122.44, "units": [
                {"id": "E1", "type": "engine"}, {"id": "M1", "type": "medic"}]},
            {"id": "S2", "name": "Station 2", "lat": 47.6, "lon": -122.33, "units": [
                {"id": "E2", "type": "engine"}, {"id": "M2", "type": "medic"}]}],
            **emergency},
    })


def source(fmt: str | None = None, **kw) -> FeedSource:
    return FeedSource(options={"format": fmt} if fmt else {}, **kw)
