"""Shared fixtures: a real Redis (the local server, else an embedded one), a key prefix per test."""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
import redis

from feeds.config import FeedSource, load_city, parse_city
from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import Keys

FIXTURES = Path(__file__).parent / "fixtures"
NYC_SNAPSHOT = FIXTURES / "nyc_dot_linkspeedquery_2017-10-23T2208.json"
SAMPLE_CITY = Path(__file__).parent.parent / "feeds" / "cities" / "sample.json"

# A page that changes a value the shared cache handed out (other screens hold the same object) fails the
# test that drew it (dashboard.sharedcache._Memo).
os.environ.setdefault("CITYBRAIN_CHECK_SHARED", "1")


def pytest_setup_options():
    """Chrome options for dash[testing]: Debian's chromium, no network chatter."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    if shutil.which("chromium"):
        options.binary_location = shutil.which("chromium")
    for arg in ("--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--disable-sync", "--window-size=1600,1000"):
        options.add_argument(arg)
    return options


@pytest.fixture(scope="session")
def redis_url():
    """TEST_REDIS_URL, else the machine's Redis at 127.0.0.1:6379, else an embedded server."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        connect(url).ping()
        yield url
        return
    except (redis.RedisError, OSError):
        pass
    server = EmbeddedRedis()
    yield server.url
    server.stop()


@pytest.fixture
def r(redis_url):
    client = connect(redis_url)
    yield client
    client.close()


@pytest.fixture
def keys(r):
    """A key prefix of this test's own; only its keys are deleted afterwards."""
    k = Keys(f"cbtest-{uuid.uuid4().hex[:12]}")
    yield k
    batch = list(r.scan_iter(match=k.pattern(), count=1000))
    if batch:
        r.delete(*batch)


@pytest.fixture
def steady_ages(monkeypatch):
    """Pages re-send their ages once in each AGES_EVERY_S slot of the clock (dashboard.refresh): a test
    that refreshes twice and expects nothing the second time must not straddle the end of a slot, so its
    slots are made 10^9 s long. A screen whose ages are due says it sent them at 0 (``"t": 0``)."""
    from dashboard import refresh

    monkeypatch.setattr(refresh, "AGES_EVERY_S", 10**9)


@pytest.fixture(scope="session")
def sample_city():
    return load_city(SAMPLE_CITY)


def north_line(lon: float, lat: float, length_m: float) -> list[list[float]]:
    """A north-south line of exactly ``length_m`` (haversine on a meridian is R x dlat)."""
    import math

    from feeds.geo import EARTH_RADIUS_M

    return [[lon, lat], [lon, lat + math.degrees(length_m / EARTH_RADIUS_M)]]


def box(lon0, lat0, lon1, lat1):
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


@pytest.fixture(scope="session")
def nyc_city():
    """Four real NYC DOT link ids from the fixture, with geometry of known length and chosen free-flow
    speeds, so KPI values can be derived by hand from the fixture's speeds."""
    return parse_city({
        "name": "NYC test", "timezone": "America/New_York", "center": [-73.95, 40.7], "zoom": 10,
        "districts": [
            {"id": "manhattan", "name": "Manhattan", "polygon": box(-74.03, 40.69, -73.90, 40.88)},
            {"id": "bronx", "name": "Bronx", "polygon": box(-73.93, 40.79, -73.74, 40.92)},
            {"id": "staten", "name": "Staten Island", "polygon": box(-74.26, 40.49, -74.04, 40.65)},
        ],
        "traffic": {"window_s": 900, "links": [
            {"id": "4616337", "district": "manhattan", "free_flow_kmh": 40, "points": north_line(-74.0, 40.74, 1000)},
            {"id": "4456502", "district": "manhattan", "free_flow_kmh": 60, "points": north_line(-74.01, 40.70, 2000)},
            {"id": "4616247", "district": "bronx", "free_flow_kmh": 88, "points": north_line(-73.84, 40.82, 3000)},
            {"id": "4616279", "district": "staten", "free_flow_kmh": 70, "points": north_line(-74.2, 40.6, 1500)},
        ]},
        "feeds": {"traffic": {"interval_s": 60}},
    })


@pytest.fixture
def nyc_rows():
    return json.loads(NYC_SNAPSHOT.read_text())


def source(**kw) -> FeedSource:
    return FeedSource(**kw)


def pytest_collection_modifyitems(config, items):
    """Browser tests need Debian's chromium and chromium-driver. Locally they are skipped with a
    clear reason when missing; in CI (CI=true) they run and fail, so nothing passes by accident."""
    if (shutil.which("chromium") and shutil.which("chromedriver")) or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="browser tests need chromium and chromium-driver (apt-get install them)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
