"""Every feed adapter under fuzzed payloads (hypothesis), through ``Runner.run_once`` on real Redis.

The payloads start from the real fixtures (tests/fuzzing.py SEEDS) and are damaged: protobuf cut
short or with out-of-range values and unknown enums, fields of the wrong type, huge strings, NaN and
infinity, dates in 1970 and 2100, invalid UTF-8, deeply nested JSON, empty payloads. Whatever arrives,
``check_batch`` holds (the runner does not raise, no parser crashes, every record is accounted for,
every rejected one is a dead letter with a reason) and the untouched records of the batch are stored.

CI runs the "ci" profile (FUZZ_EXAMPLES examples per feed, 40 by default); ``FUZZ_PROFILE=deep``
runs 2000 per feed. The coverage-guided run (atheris) is ``python -m bench.fuzz``.
Below the properties: one regression test per crash the fuzzing found.
"""
from __future__ import annotations

import io
import os
import zipfile

import orjson
import pytest
from google.transit import gtfs_realtime_pb2 as rt
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from feeds.adapters.environment import EnvironmentAdapter
from feeds.adapters.open311 import Open311Adapter
from feeds.adapters.road_incidents import RoadIncidentsAdapter
from feeds.adapters.transit import bundle
from feeds.adapters.transit_gtfs import load_gtfs
from feeds.config import FeedSource
from feeds.framework import Runner
from feeds.redis_conn import connect
from tests import fuzzing as fz

settings.register_profile("ci", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")), deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                          derandomize=os.environ.get("FUZZ_RANDOM") is None, database=None)
settings.register_profile("deep", parent=settings.get_profile("ci"), max_examples=2000, derandomize=False)
PROFILE = os.environ.get("FUZZ_PROFILE", "ci")

_baselines: dict[str, fz.Outcome] = {}


@pytest.fixture(scope="module")
def rc(redis_url):
    client = connect(redis_url)
    yield client
    client.close()


def baseline(r, seed: fz.Seed) -> fz.Outcome:
    if seed.name not in _baselines:
        _baselines[seed.name] = fz.run_batch(r, seed, seed.payload())
    return _baselines[seed.name]


def test_every_adapter_has_seeds_from_its_fixtures():
    from feeds.adapters import ADAPTERS

    assert set(fz.FEEDS) == set(ADAPTERS)
    assert {s.kind for s in fz.SEEDS} >= {"json", "csv", "tsv", "xml", "protobuf", "gtfs-zip"}


@pytest.mark.parametrize("seed", fz.SEEDS, ids=lambda s: s.name)
def test_each_seed_as_recorded_passes_the_checks_and_stores_records(rc, seed):
    out = baseline(rc, seed)
    assert out.payload_error is None and out.fetched > 0
    # SEPTA's trips are in no schedule we have; OpenAQ sensor 5 reports a coverage of 74450 %
    assert (out.stored > 0) == (seed.name not in ("transit/septa-trip-updates", "environment/openaq_v3_sensors_5"))


@pytest.mark.parametrize("feed", fz.FEEDS)
@settings(settings.get_profile(PROFILE))
@given(data=st.data())
def test_a_fuzzed_batch_keeps_the_guarantees_and_the_good_records(rc, feed, data):
    seeds = [s for s in fz.SEEDS if s.feed == feed]
    seed = data.draw(st.sampled_from(seeds), label="seed")
    payload = fz.mutate(seed, seed.payload(), lambda n: data.draw(st.integers(0, max(n - 1, 0))))
    out = fz.run_batch(rc, seed, payload)
    event("payload rejected whole" if out.payload_error else "some records rejected" if out.rejected
          else "every record stored, skipped or a repeat")
    if seed.independent:
        fz.check_good_records_kept(baseline(rc, seed), out)


def test_the_checks_catch_a_crashing_parser_and_a_lost_record(r, keys, sample_city):
    seed = fz.SEED_BY_NAME["road-incidents/documented"]
    """The property is worth something only if check_batch fails on the faults it looks for."""
    class Crashing(RoadIncidentsAdapter):
        def validate(self, raw):
            if raw.get("id") == "RI-18":
                raise KeyError("boom")
            return super().validate(raw)

    with pytest.raises(fz.Violation, match="a parser crashed"):
        fz.check_batch(r, keys, Crashing(sample_city, FeedSource()), seed.payload(), seed.now)

    base = fz.run_batch(r, seed, seed.payload())
    assert {"RI-17", "RI-18"} <= base.stored_keys  # RI-19 too until a week after it closed (wall clock)
    lost = fz.Outcome(base.fetched, 0, base.rejected, None, set(), base.parsed)
    with pytest.raises(fz.Violation, match="good record 'RI-17' not stored"):
        fz.check_good_records_kept(base, lost)


# --- regressions: each crash the fuzzing found, on the smallest payload that showed it --------------------
def dead_reasons(r, keys) -> list[str]:
    return [f["reason"] for _, f in r.xrange(keys.deadletter())]


def test_a_request_dated_9999_is_a_dead_letter_not_a_crash_of_the_runner(r, keys, sample_city):
    rows = orjson.loads((fz.FIX / "services" / "open311_georeport_v2_chicago_requests.json").read_bytes())
    rows[0]["requested_datetime"] = "9999-12-31T23:59:59"
    out = fz.check_batch(r, keys, Open311Adapter(sample_city, FeedSource()), orjson.dumps(rows), None)
    assert out.stored == 1 and out.rejected == 1
    assert any("is not a time (after 2100)" in x for x in dead_reasons(r, keys))


@pytest.mark.parametrize("depth, shown", [(300, "{'id': 'RI-17'"), (1020, "<a dict nested too deep to show>")])
def test_a_record_nested_deep_is_dead_lettered_not_a_crash_of_the_runner(r, keys, sample_city, depth, shown):
    rows = orjson.loads(fz.incidents_seed())
    payload = orjson.dumps(rows[:1]).replace(b"40.71", b"[" * depth + b"]" * depth)  # lat: a deep list
    out = fz.check_batch(r, keys, RoadIncidentsAdapter(sample_city, FeedSource()), payload, fz.INCIDENTS_NOW)
    assert out.rejected == 1
    (_, dead), = r.xrange(keys.deadletter())
    assert dead["reason"] == "lat/lon missing or not numbers" and dead["raw"].startswith(shown)


def transit_payload(mutate_entity=None, header_t=None) -> bytes:
    msg = rt.FeedMessage()
    msg.ParseFromString((fz.FIX / "transit" / "usf_bullrunner_vehicle_positions.pb").read_bytes())
    if header_t is not None:
        msg.header.timestamp = header_t
    if mutate_entity:
        mutate_entity(msg.entity[0])
    return msg.SerializeToString()


def run_transit(r, keys, payload: bytes) -> fz.Outcome:
    return fz.check_batch(r, keys, fz.transit("usf_bullrunner_gtfs.zip")(), payload, 1505314400.0)


def test_a_vehicle_timestamp_past_2100_is_rejected_and_the_others_stored(r, keys):
    out = run_transit(r, keys, transit_payload(lambda e: setattr(e.vehicle, "timestamp", 2**63)))
    assert (out.stored, out.rejected) == (9, 1)
    assert any(x.startswith("timestamp: 9223372036854775808 is not epoch seconds") for x in dead_reasons(r, keys))


def test_a_header_timestamp_past_2100_rejects_its_feed_not_the_runner(r, keys):
    out = run_transit(r, keys, transit_payload(header_t=2**64 - 1))
    assert out.payload_error and "header timestamp 18446744073709551615 is not epoch seconds" in out.payload_error


def test_a_stop_id_of_invalid_utf8_is_rejected_and_the_others_stored(r, keys):
    payload = transit_payload(lambda e: setattr(e.vehicle, "stop_id", "\u0001\u0001"))
    out = run_transit(r, keys, payload.replace(b"\x01\x01", b"\xc3\x28"))
    assert (out.stored, out.rejected) == (9, 1)
    assert "vehicle.stop_id: not UTF-8 text" in dead_reasons(r, keys)


@pytest.mark.parametrize("damage", [b"vehicle_positions x\n", b"vehicle_positions 99999\nshort", b"\xff\xfe 1\n"])
def test_a_malformed_bundle_is_one_payload_dead_letter(r, keys, damage):
    good = bundle({"vehicle_positions": transit_payload()})
    out = run_transit(r, keys, good + damage)
    assert out.payload_error and "bundle: malformed part header" in out.payload_error


def test_a_gtfs_zip_with_a_bad_crc_is_a_value_error_and_a_dead_letter(r, keys, tmp_path):
    data = (fz.FIX / "transit" / "usf_bullrunner_gtfs.zip").read_bytes()
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = zf.getinfo(next(n for n in zf.namelist() if n.endswith("stops.txt")))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    broken = bytearray(data)
    broken[start + 5] ^= 0xFF  # a byte of the compressed stops.txt: its CRC no longer matches
    with pytest.raises(ValueError, match="GTFS: stops.txt unreadable"):
        load_gtfs(bytes(broken))
    out = fz.run_batch(r, fz.SEED_BY_NAME["transit/usf-schedule"], bytes(broken), keys=keys)
    assert out.rejected == 1 and dead_reasons(r, keys)[0].startswith("GTFS static")  # the positions are kept


@pytest.mark.parametrize("path, value, reason", [
    (("sensors",), "pm25", "sensors: a str, not a list"),
    (("sensors", 0), 7, "sensors[]: a int, not an object"),
    (("coordinates",), "42.3,-71.1", "coordinates: a str, not an object"),
    (("provider",), ["x"], "provider: a list, not an object"),
])
def test_openaq_locations_of_the_wrong_shape_are_rejected_with_the_field(r, keys, sample_city, path, value, reason):
    doc = orjson.loads((fz.FIX / "environment" / "openaq_v3_locations.json").read_bytes())
    loc = doc["response"]["results"][0]
    fz.get_in(loc, path[:-1])[path[-1]] = value
    out = fz.check_batch(r, keys, EnvironmentAdapter(sample_city, FeedSource()), orjson.dumps(doc), None)
    assert out.rejected == 1 and out.stored == len(doc["response"]["results"]) - 1
    assert any(x == reason for x in dead_reasons(r, keys))


@pytest.mark.parametrize("item, reason", [
    ([1, 2], "sensordatavalues[]: a list, not an object"),
    ({"value_type": ["P1"], "value": 3}, "no particulate values"),
])
def test_sensor_community_values_of_the_wrong_shape_are_rejected_or_skipped(r, keys, sample_city, item, reason):
    rows = orjson.loads((fz.FIX / "environment" / "sensor_community_data_json_slice_2019-04-25.json").read_bytes())
    rows[0]["sensordatavalues"] = [item] + rows[0]["sensordatavalues"]
    adapter = EnvironmentAdapter(sample_city, FeedSource(options={"format": "sensor-community"}))
    res = Runner(r, keys, sample_city).run_once(adapter, orjson.dumps(rows), now=1556200000.0)
    assert "adapter error" not in " ".join(dead_reasons(r, keys))
    assert any(x.startswith(reason) for x in [*dead_reasons(r, keys), *res.skipped])


def test_an_openaq_request_uri_that_is_not_text_rejects_the_payload(r, keys, sample_city):
    doc = orjson.loads((fz.FIX / "environment" / "openaq_v3_locations.json").read_bytes())
    doc["_request_uri"] = True
    out = fz.check_batch(r, keys, EnvironmentAdapter(sample_city, FeedSource()), orjson.dumps(doc), None)
    assert out.payload_error == "payload: OpenAQ: _request_uri is a bool, not a URL"


def test_a_service_type_with_a_blank_code_is_rejected_not_a_crash_of_the_runner(r, keys, sample_city):
    rows = orjson.loads((fz.FIX / "services" / "open311_georeport_v2_bloomington_services.json").read_bytes())
    rows[0]["service_code"] = "  "
    out = fz.check_batch(r, keys, Open311Adapter(sample_city, FeedSource()), orjson.dumps(rows), None)
    assert (out.stored, out.rejected) == (len(rows) - 1, 1)
    assert dead_reasons(r, keys) == ["service type with an empty service_code '  '"]


def test_a_gtfs_frequencies_table_without_start_time_is_a_value_error(r, keys):
    """Found by bench/fuzz.py (atheris): a KeyError got out of load_gtfs."""
    src = zipfile.ZipFile(fz.FIX / "transit" / "usf_bullrunner_gtfs.zip")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data.replace(b"start_time", b"begin_time") if name.endswith("frequencies.txt") else data)
    with pytest.raises(ValueError, match="GTFS: a row without the required column 'start_time'"):
        load_gtfs(out.getvalue())
    fz.run_batch(r, fz.SEED_BY_NAME["transit/usf-schedule"], out.getvalue(), keys=keys)
    assert dead_reasons(r, keys)[0].startswith("GTFS static")


def test_a_csv_header_with_a_bare_carriage_return_is_an_unreadable_payload(r, keys, sample_city):
    """Found by bench/fuzz.py (atheris): csv.Error out of the header read of the noise/water CSV."""
    out = fz.check_batch(r, keys, EnvironmentAdapter(sample_city, FeedSource()), b"\r\0\0\0\0\0\0\0\0", None)
    assert out.payload_error.startswith("payload: CSV unreadable: new-line character seen in unquoted field")


@pytest.mark.parametrize("seed_name, field", [("requests/chicago_requests", "status"),
                                              ("emergency/seattle-fire", "address"),
                                              ("environment/sensor-community", "sensordatavalues")])
def test_a_value_nested_1020_deep_is_a_dead_letter_not_an_adapter_error(r, keys, seed_name, field):
    """Found by bench/fuzz.py (atheris): str() of such a value raises RecursionError in validate."""
    seed = fz.SEED_BY_NAME[seed_name]
    rows = orjson.loads(seed.payload())
    mark = fz.marker(0)
    rows[0][field] = [mark] if field == "sensordatavalues" else mark
    payload = fz.splice(orjson.dumps(rows), {mark: b'{"value_type":' + b"[" * 1020 + b"]" * 1020 + b"}"
                                             if field == "sensordatavalues" else b"[" * 1020 + b"]" * 1020},
                        quoted=True)
    fz.check_batch(r, keys, seed.make(), payload, seed.now)
    assert "nested too deep to read" in dead_reasons(r, keys)


def test_an_openaq_unit_that_is_not_text_is_dropped_not_an_adapter_error(r, keys):
    """Found by bench/fuzz.py (atheris): a sensor's parameter.units nested 300 deep reached the record's
    fingerprint, where orjson gave up (TypeError: recursion limit) and validate crashed."""
    seed = fz.SEED_BY_NAME["environment/openaq_v3_locations"]
    doc = orjson.loads(seed.payload())
    mark = fz.marker(0)
    doc["response"]["results"][0]["sensors"][0]["parameter"]["units"] = mark
    payload = fz.splice(orjson.dumps(doc), {mark: b"[" * 300 + b"]" * 300}, quoted=True)
    out = fz.check_batch(r, keys, seed.make(), payload, seed.now)  # no adapter error, every record accounted for
    assert out.stored >= 1 and not dead_reasons(r, keys)


@pytest.mark.parametrize("seed_name, payload", [
    ("road-incidents/documented", b'[{"id": ' + b"[" * 1020 + b"]" * 1020 + b"}]"),
    ("emergency/unit-events", b'[{"kind": ' + b"[" * 1020 + b"]" * 1020 + b"}]")])
def test_a_payload_nested_1020_deep_is_rejected_whole_not_an_adapter_error(r, keys, seed_name, payload):
    """Found by bench/fuzz.py (atheris): parse itself reads such a value (ids named, earliest reports)."""
    seed = fz.SEED_BY_NAME[seed_name]
    out = fz.check_batch(r, keys, seed.make(), payload, seed.now)
    assert out.payload_error == "payload: nested too deep to read"
