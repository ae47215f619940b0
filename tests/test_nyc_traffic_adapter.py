"""The NYC DOT speed adapter on the real snapshot (feed-formats.md §1.2, §3.4)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import orjson
import pytest

from feeds.adapters.nyc_traffic import LEGACY, NycTrafficAdapter, parse_link_points
from feeds.config import FeedSource
from feeds.framework import Rejected, Runner, Skipped
from tests.conftest import NYC_SNAPSHOT


@pytest.fixture
def adapter(sample_city):
    return NycTrafficAdapter(sample_city, FeedSource(timezone="America/New_York"))


def socrata(rows: list[dict]) -> list[dict]:
    """The same rows under the Socrata i4gi-tjb9 names, data_as_of as a floating ISO timestamp."""
    out = []
    for row in rows:
        s = {LEGACY.get(k, k): v for k, v in row.items()}
        dt = datetime.strptime(row["DataAsOf"], "%m/%d/%Y %H:%M:%S")
        s["data_as_of"] = dt.strftime("%Y-%m-%dT%H:%M:%S.000")
        out.append(s)
    return out


def tsv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def test_real_snapshot_keeps_every_valid_reading_and_counts_the_rest(r, keys, sample_city, adapter):
    res = Runner(r, keys, sample_city).run_once(adapter, NYC_SNAPSHOT.read_bytes())
    # 153 rows: 92 with status 0 and a speed; all 61 others carry status -101 ("no data").
    assert (res.fetched, res.stored, res.rejected) == (153, 92, 0)
    assert res.skipped == {"no data (status -101)": 61}
    assert r.hlen(keys.link_latest()) == 92
    health = r.hgetall(keys.feed_health("traffic"))
    assert (health["records"], health["rejected"], health["skipped"]) == ("92", "0", "61")


def test_speed_is_converted_from_mph_and_time_from_new_york_local(r, keys, sample_city, adapter):
    Runner(r, keys, sample_city).run_once(adapter, NYC_SNAPSHOT.read_bytes())
    reading = orjson.loads(r.hget(keys.link_latest(), "4616337"))
    # Speed "19.26" mph x 1.609344 = 30.996 km/h; DataAsOf 10/23/2017 22:08:19 is EDT (UTC-4).
    assert reading["v"] == pytest.approx(31.00, abs=0.005)
    assert reading["t"] == datetime(2017, 10, 24, 2, 8, 19, tzinfo=timezone.utc).timestamp()
    assert reading["tt"] == 280


def test_glued_coordinate_pairs_keep_the_reading_and_leave_a_dead_letter(r, keys, sample_city, adapter):
    res = Runner(r, keys, sample_city).run_once(adapter, NYC_SNAPSHOT.read_bytes())
    assert res.warnings == 2
    letters = r.xrange(keys.deadletter())
    assert len(letters) == 2
    for _, fields in letters:
        assert fields["adapter"] == "traffic"
        assert fields["reason"].startswith("link_points: malformed pair")
        assert fields["reason"].endswith("(record kept)")
        raw = json.loads(fields["raw"])
        assert r.hexists(keys.link_latest(), raw["linkId"])  # the speed was stored anyway


def test_link_points_cut_at_the_255_character_cap_lose_only_the_cut_pair(nyc_rows):
    row = next(r for r in nyc_rows if r["linkId"] == "4616337")
    assert len(row["linkPoints"]) == 255 and row["linkPoints"].endswith("40.7607405,-7")
    points = parse_link_points(row["linkPoints"])
    assert len(points) == 12  # 13 tokens, the cut "40.7607405,-7" dropped
    assert points[0] == (-74.009251, 40.74047)
    assert points[-1] == (-74.002631, 40.76003)
    # A string shorter than the cap is complete: its last pair stays.
    assert parse_link_points("40.1,-73.1 40.2,-73.2")[-1] == (-73.2, 40.2)


def test_unconfigured_links_are_learnt_with_geometry_and_district_from_borough(r, keys, nyc_city):
    adapter = NycTrafficAdapter(nyc_city, FeedSource())
    Runner(r, keys, nyc_city).run_once(adapter, NYC_SNAPSHOT.read_bytes())
    meta = orjson.loads(r.hget(keys.link_meta(), "4616323"))  # 12th Ave S 57th St - 45th St, Manhattan
    assert meta["district"] == "manhattan"
    assert meta["length_m"] > 500
    assert not r.hexists(keys.link_meta(), "4616337")  # configured: geometry comes from CITY_CONFIG
    # "Staten island" (lower-case i in the feed) still finds the district by name.
    si = [row["linkId"] for row in json.loads(NYC_SNAPSHOT.read_text())
          if row["Borough"] == "Staten island" and row["Status"] == "0"]
    for link_id in si:
        assert orjson.loads(r.hget(keys.link_meta(), link_id))["district"] == "staten"


@pytest.mark.parametrize("shape", ["socrata-json", "legacy-tsv"])
def test_socrata_json_and_legacy_tsv_give_the_same_readings(r, keys, sample_city, adapter, nyc_rows, shape):
    payload = orjson.dumps(socrata(nyc_rows)) if shape == "socrata-json" else tsv(nyc_rows)
    res = Runner(r, keys, sample_city).run_once(adapter, payload)
    assert (res.stored, sum(res.skipped.values())) == (92, 61)
    reading = orjson.loads(r.hget(keys.link_latest(), "4616247"))
    assert reading["v"] == pytest.approx(51.57 * 1.609344, abs=0.005)


def test_the_same_snapshot_twice_stores_nothing_new(r, keys, sample_city, adapter):
    runner = Runner(r, keys, sample_city)
    runner.run_once(adapter, NYC_SNAPSHOT.read_bytes())
    entries = r.xlen(keys.readings("traffic"))
    again = runner.run_once(adapter, NYC_SNAPSHOT.read_bytes())
    assert (again.stored, again.duplicates) == (0, 92)
    assert r.xlen(keys.readings("traffic")) == entries


def test_malformed_rows_go_to_dead_letters_with_reasons_and_the_batch_is_kept(r, keys, sample_city, adapter, nyc_rows):
    valid = [row for row in nyc_rows if row["Status"] == "0"]
    valid[0]["Speed"] = "fast"
    valid[1]["DataAsOf"] = "yesterday"
    valid[2]["Speed"] = "612.0"
    nyc_rows.append(["not", "an", "object"])
    nyc_rows.append({"Speed": "20"})
    res = Runner(r, keys, sample_city).run_once(adapter, orjson.dumps(nyc_rows))
    assert res.rejected == 5
    assert res.stored == 92 - 3
    reasons = sorted(f["reason"] for _, f in r.xrange(keys.deadletter()) if "record kept" not in f["reason"])
    assert reasons == ["data_as_of: unreadable time 'yesterday'", "missing link_id",
                       "row is a list, not an object", "speed 612.0 mph out of range 0-150",
                       "speed: not a number 'fast'"]
    raws = [f["raw"] for _, f in r.xrange(keys.deadletter())]
    assert any('"fast"' in raw for raw in raws)  # the raw record is kept, not just the reason


def test_an_unreadable_payload_is_one_dead_letter_and_a_health_entry(r, keys, sample_city, adapter):
    res = Runner(r, keys, sample_city).run_once(adapter, b"<html>502 Bad Gateway</html>")
    assert (res.fetched, res.rejected) == (0, 1)
    (_, letter), = r.xrange(keys.deadletter())
    assert letter["reason"].startswith("payload: neither JSON nor a tab-separated LinkSpeedQuery")
    assert "502 Bad Gateway" in letter["raw"]
    assert r.hget(keys.feed_health("traffic"), "rejected") == "1"


@pytest.mark.parametrize("change, reason", [
    ({"Status": "0", "DataAsOf": "1/1/1978 00:00:00"}, "no data (1978 sentinel time)"),
    ({"Status": "0", "Speed": "0.00"}, "no data (speed 0)"),
    ({"Status": "-101"}, "no data (status -101)"),
])
def test_no_data_markers_are_skipped_not_stored(adapter, nyc_rows, change, reason):
    row = {**next(r for r in nyc_rows if r["Status"] == "0"), **change}
    with pytest.raises(Skipped, match=reason.replace("(", r"\(").replace(")", r"\)")):
        adapter.validate(row)


def test_nan_speed_is_rejected(adapter, nyc_rows):
    row = {**next(r for r in nyc_rows if r["Status"] == "0"), "Speed": "NaN"}
    with pytest.raises(Rejected, match="not finite"):
        adapter.validate(row)


def test_learnt_geometry_survives_a_failed_write_and_a_redis_flush(r, keys, sample_city, adapter, monkeypatch):
    runner = Runner(r, keys, sample_city)
    real_execute = type(r.pipeline()).execute

    def failing_execute(pipe, *a, **kw):
        raise __import__("redis").ConnectionError("Redis went away")

    monkeypatch.setattr(type(r.pipeline()), "execute", failing_execute)
    with pytest.raises(Exception):
        runner.run_once(adapter, NYC_SNAPSHOT.read_bytes())
    monkeypatch.setattr(type(r.pipeline()), "execute", real_execute)
    runner.run_once(adapter, NYC_SNAPSHOT.read_bytes())
    assert r.hlen(keys.link_meta()) == 92  # nothing was marked as learnt by the failed batch
    r.delete(keys.link_meta(), keys.seen("traffic", "traffic"))  # as after a restart without persistence
    runner.run_once(adapter, NYC_SNAPSHOT.read_bytes())  # notices the loss ...
    runner.run_once(adapter, NYC_SNAPSHOT.read_bytes().replace(b"22:08", b"22:09"))  # ... and learns again
    assert r.hlen(keys.link_meta()) == 92


def test_a_tsv_the_csv_reader_cannot_read_is_one_dead_letter(r, keys, sample_city, adapter):
    payload = b"linkId\tSpeed\n1\t\"" + b"x" * 200_000 + b"\n"
    res = Runner(r, keys, sample_city).run_once(adapter, payload)
    assert res.rejected == 1 and res.payload_error.startswith("payload: tab-separated text unreadable")
    assert r.hget(keys.feed_health("traffic"), "last_success") is None  # a failed poll, not a success
    assert r.hget(keys.feed_health("traffic"), "last_error").startswith("payload:")
