"""A feed goes silent (its runner stopped, or its source sends nothing): both ends in one test. The
runner loop of another feed keeps judging the alert rules, so the feed-silence alert fires with no
batch arriving; the feeds API says the feed is stale, and so does the overview's feed table."""
from __future__ import annotations

import threading
import time

import orjson

from app import create_app
from feeds.adapters.road_incidents import RoadIncidentsAdapter
from feeds.alerts import AlertBook
from feeds.config import FeedSource, Settings
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from tests.auth_helpers import signed_in
from tests.test_overview_callback import refresh
from tests.test_spool import LiveSpeeds, wait_until


def test_a_silent_feed_shows_stale_in_the_api_and_on_the_page_and_its_alert_fires(r, keys, redis_url, sample_city, tmp_path):
    city = sample_city.model_copy(update={"alerts": {
        "rules": [{"id": "speeds-silent", "feed": "traffic", "no_data_s": 4, "severity": "major"}],
        "evaluate_every_s": 0.2}})
    speeds = LiveSpeeds(city, interval_s=0.5)  # fresh: 3 intervals (1.5 s) without news is stale
    speeds.t = time.time() - 10  # its one batch is a reading of now
    Runner(r, keys, city, KpiEngine(r, keys, city)).run_once(speeds)  # one batch, then silence
    client = signed_in(create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), city), r, keys, "viewer")

    def status():
        (feed,) = [f for f in client.get("/api/v1/feeds").get_json()["feeds"] if f["name"] == "traffic"]
        return feed["status"]

    assert status() == "ok"
    empty = tmp_path / "incidents.json"
    empty.write_text("[]")
    quiet = RoadIncidentsAdapter(city, FeedSource(file=str(empty), interval_s=3600))  # the loop still runs
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    stop = threading.Event()
    loop = threading.Thread(target=runner.run_forever, args=([quiet], stop), daemon=True)
    loop.start()
    try:
        wait_until(lambda: status() == "stale", 10, "the feed to show stale")
        assert not AlertBook(r, keys).open_alerts()  # stale first; the alert waits for no_data_s
        wait_until(lambda: AlertBook(r, keys).open_alerts(), 10, "the silence alert")
    finally:
        stop.set()
        loop.join(5)
    (alert,) = AlertBook(r, keys).open_alerts()
    assert (alert["feed"], alert["rule"], alert["severity"], alert["title"]) == (
        "traffic", "speeds-silent", "major", "Feed traffic silent")
    _, _, page = refresh(client, None)
    rows = page["overview-feeds"]["children"]
    row = next(tr for tr in find(rows, "Tr") if orjson.dumps(tr).decode().count('"traffic"'))
    assert "STALE" in orjson.dumps(row).decode().upper()


def find(tree, kind):
    """Every component of ``kind`` in a serialised Dash tree."""
    if isinstance(tree, dict):
        if tree.get("type") == kind:
            yield tree
        for value in tree.get("props", {}).values():
            yield from find(value, kind)
    elif isinstance(tree, list):
        for item in tree:
            yield from find(item, kind)
