"""The environment feed on the real OpenAQ v3 recordings and the Sensor.Community slice, plus the
noise and water forms: parsed values, rejected rows with reasons, the CLI."""
from __future__ import annotations

import http.server
import threading
import time

import orjson
import pytest

from feeds.adapters.environment import EnvironmentAdapter, openaq_endpoint
from feeds.config import ConfigError, FeedSource, parse_city
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from tests.conftest import FIXTURES, box
from tests.test_cli import feeds_cli

ENV = FIXTURES / "environment"


def recording(name: str) -> dict:
    return orjson.loads((ENV / name).read_bytes())


@pytest.fixture
def env_city():
    return parse_city({
        "name": "Env test", "timezone": "America/New_York", "center": [-71.1, 42.3], "zoom": 10,
        "districts": [{"id": "west", "name": "West", "polygon": box(-71.2, 42.2, -71.1, 42.4)},
                      {"id": "east", "name": "East", "polygon": box(-71.1, 42.2, -71.0, 42.4)}],
        "environment": {
            "air_stations": [{"id": "AQ-1", "lat": 42.30, "lon": -71.15}],
            "noise_sensors": [{"id": "NS-1", "lat": 42.30, "lon": -71.15}, {"id": "NS-2", "lat": 42.30, "lon": -71.05}],
            "water_points": [{"id": "WQ-1", "lat": 42.30, "lon": -71.05}],
        },
        "feeds": {"environment": {"interval_s": 60}},
    })


@pytest.fixture
def run(r, keys, env_city):
    runner = Runner(r, keys, env_city, KpiEngine(r, keys, env_city))

    def go(payload: bytes, fmt: str | None = None, adapter=None, now=None):
        adapter = adapter or EnvironmentAdapter(env_city, FeedSource(options={"format": fmt} if fmt else {}))
        return runner.run_once(adapter, payload, now=now)
    return go


def dead_letters(r, keys) -> list[dict]:
    return [fields for _, fields in r.xrange(keys.deadletter())]


def state(r, keys, sid: str) -> dict:
    raw = r.hget(keys.env_state(), sid)
    return orjson.loads(raw) if raw else None


def test_openaq_endpoints_are_told_apart_by_url():
    assert openaq_endpoint("https://api.openaq.org/v3/sensors/3/measurements?limit=100&page=1") == ("series", 3)
    assert openaq_endpoint("https://api.openaq.org/v3/sensors/3/hours") == ("series", 3)
    assert openaq_endpoint("https://api.openaq.org/v3/locations/1/latest") == ("latest", 1)
    assert openaq_endpoint("https://api.openaq.org/v3/locations?limit=100&page=1") == ("locations", None)
    assert openaq_endpoint("https://api.openaq.org/v3/parameters/2/latest") == ("param-latest", 2)
    assert openaq_endpoint("https://api.openaq.org/v3/sensors/5") == ("sensor", 5)


def test_real_measurements_become_hourly_means_and_a_nowcast_aqi(r, keys, run):
    # /v3/locations tells that sensor 3 is PM2.5 at location 3; then its 48 real 30-minute values.
    payload = orjson.dumps([recording("openaq_v3_locations.json"), recording("openaq_v3_sensors_3_measurements.json")])
    res = run(payload, "openaq")
    assert (res.fetched, res.stored, res.rejected) == (54, 54, 0)  # 6 locations + 48 measurements
    s = state(r, keys, "openaq-3")
    assert (s["lat"], s["lon"]) == (42.315, -71.104)
    # The values pair up per clock hour (7.00, 7.00 | 7.01, 7.01 | ... | 7.23, 7.23): 24 hourly means
    # 7.00 .. 7.23, the newest hour 2023-03-08T04:00Z with 7.23. NowCast over c1..c12 = 7.23 .. 7.12:
    # w = 7.12 / 7.23 = 0.98479; sum(w^i c_i) = 79.2686; sum(w^i) = 11.0451; NowCast = 7.1768
    # -> truncated 7.1 -> AQI 50 / 9.0 x 7.1 = 39.44 -> 39 (Good).
    assert s["pollutants"]["pm25"]["conc"]["nowcast"] == pytest.approx(7.1768, abs=1e-4)
    assert s["hour_means"]["pm25"] == pytest.approx(7.23)
    assert (s["aqi"], s["category"], s["pollutant"]) == (39, "Good", "pm25")
    hourly = orjson.loads(r.hget(keys.env_hourly(), "openaq-3"))["pm25"]
    assert len(hourly) == 24 and all(n == 2 for _, n in hourly.values())
    kpi = orjson.loads(r.hget(keys.kpi_values(), "environment.aqi"))
    assert kpi["value"] == 39 and kpi["detail"]["pollutant"] == "pm25" and kpi["detail"]["station"] == "openaq-3"
    # The same recording again: every observation is a duplicate, nothing counted twice.
    res = run(payload, "openaq")
    assert res.stored == 0
    assert orjson.loads(r.hget(keys.env_hourly(), "openaq-3"))["pm25"] == hourly


def test_longitude_185_is_a_dead_letter_and_the_other_rows_are_kept(r, keys, run):
    res = run((ENV / "openaq_v3_parameters_2_latest.json").read_bytes())
    assert (res.fetched, res.stored, res.rejected) == (7, 6, 1)
    (dl,) = dead_letters(r, keys)
    assert dl["adapter"] == "environment"
    assert dl["reason"] == "coordinates: longitude 185.199922 out of range -180..180"
    assert orjson.loads(dl["raw"])["record"]["sensorsId"] == 5
    s = state(r, keys, "openaq-1")  # location 1, sensor 1: 8.15 µg/m³ at 2025-07-09T01:30Z
    assert s["hour_means"]["pm25"] == 8.15 and s["aqi"] is None  # one hour: NowCast needs 2 of 3


def test_coverage_of_74450_percent_is_a_dead_letter(r, keys, run):
    res = run((ENV / "openaq_v3_sensors_5.json").read_bytes())
    assert (res.stored, res.rejected) == (0, 1)
    assert dead_letters(r, keys)[0]["reason"] == "coverage.percentComplete 74450 % out of range 0..100"


def test_location_latest_needs_the_location_read_first(r, keys, run, env_city):
    latest = (ENV / "openaq_v3_locations_1_latest.json").read_bytes()
    res = run(latest)
    assert res.rejected == 1
    assert "sensor 1 is in no location read so far" in dead_letters(r, keys)[0]["reason"]
    adapter = EnvironmentAdapter(env_city, FeedSource())
    res = run(orjson.dumps([recording("openaq_v3_locations_1.json"), recording("openaq_v3_locations_1_latest.json")]),
              adapter=adapter)
    assert (res.stored, res.rejected) == (2, 0)
    assert state(r, keys, "openaq-1")["hour_means"]["pm25"] == 8.15
    meta = orjson.loads(r.hget(keys.env_stations(), "openaq-1"))
    assert meta["name"] == "testing site 1" and meta["source"] == "OpenAQ AirNow"
    # The same adapter (a feed polling on its interval) knows the sensor from then on.
    res = run(latest, adapter=adapter)
    assert res.rejected == 0 and res.duplicates == 1


def test_sensor_community_slice_p1_is_pm10_p2_is_pm25(r, keys, run):
    res = run((ENV / "sensor_community_data_json_slice_2019-04-25.json").read_bytes())
    assert (res.fetched, res.stored, res.rejected) == (5, 2, 0)
    assert dict(res.skipped) == {"no particulate values (humidity, temperature)": 3}  # the DHT22 rows
    s = state(r, keys, "sc-1071")
    # Two SDS011 readings in the 01:00 UTC hour: PM2.5 (16.23 + 16.80) / 2 = 16.515; PM10 (19.13 + 18.40) / 2 = 18.765
    assert s["hour_means"] == {"pm25": pytest.approx(16.515), "pm10": pytest.approx(18.765)}
    assert (s["lat"], s["lon"]) == (52.544, 13.374)


def test_sensor_community_bad_values_are_rejected_with_reasons(r, keys, run):
    rows = orjson.loads((ENV / "sensor_community_data_json_slice_2019-04-25.json").read_bytes())
    bad_value, bad_lat, negative = orjson.loads(orjson.dumps([rows[0]] * 3))
    bad_value["sensordatavalues"][1]["value"] = "n/a"
    bad_lat["location"]["latitude"] = "95.1"
    negative["sensordatavalues"][0]["value"] = "-3.0"
    res = run(orjson.dumps([bad_value, bad_lat, negative, rows[3]]), "sensor-community")
    assert (res.stored, res.rejected) == (1, 3)
    assert [d["reason"] for d in dead_letters(r, keys)] == [
        "P2: not a number 'n/a'", "location: latitude 95.1 out of range -90..90",
        "P1: -3 out of range 0..2000 for pm10"]


def test_noise_and_water_json_and_csv(r, keys, run):
    now = time.time()
    noise = [{"id": "NS-1", "time": now - 60, "laeq_db": 70.0}, {"id": "NS-1", "time": now, "laeq_db": 60.0},
             {"id": "NS-2", "time": now, "laeq_db": "loud"}, {"id": "NS-9", "time": now, "laeq_db": 50}]
    res = run(orjson.dumps(noise), "noise")
    # NS-1's two readings are both kept (each counts in the LAeq); the other two rows are dead letters.
    assert (res.stored, res.rejected) == (2, 2)
    reasons = sorted(d["reason"] for d in dead_letters(r, keys))
    assert reasons == ["laeq_db: not a number 'loud'", "unknown noise station 'NS-9' and no lat/lon to place it"]
    csv_text = (f"id,time,free_chlorine_mg_l,turbidity_ntu\nWQ-1,{now:.0f},0.1,0.4\n"
                f"WQ-1,{now - 10:.0f},,5000\nWQ-7,{now:.0f},0.5,0.2\n")
    res = run(csv_text.encode(), "water")
    assert (res.stored, res.rejected) == (1, 2)
    s = state(r, keys, "WQ-1")
    assert s["alerts"] == ["free chlorine 0.1 mg/L < 0.2"] and s["district"] == "east"
    assert any(d["reason"] == "turbidity_ntu: 5000 out of range 0..1000 for turbidity" for d in dead_letters(r, keys))


def test_noise_laeq_is_the_energy_average_over_the_window(r, keys, run, env_city):
    # Two readings 70 and 60 dB(A) in the window: 10 log10((10^7 + 10^6) / 2) = 67.40 dB(A).
    adapter = EnvironmentAdapter(env_city, FeedSource(options={"format": "noise"}))
    now = time.time()
    run(orjson.dumps([{"id": "NS-1", "time": now - 120, "laeq_db": 70}]), adapter=adapter)
    run(orjson.dumps([{"id": "NS-1", "time": now - 60, "laeq_db": 60}]), adapter=adapter)
    assert state(r, keys, "NS-1")["laeq"] == 67.4


def test_a_payload_of_unknown_shape_is_one_dead_letter(r, keys, run):
    res = run(b'{"hello": 1}')
    assert res.payload_error == "payload: cannot tell the format: give --format openaq|sensor-community|noise|water"


def test_bad_city_environment_section_is_a_config_error(env_city):
    raw = env_city.model_dump()
    raw["environment"] = {"noise_day_limit_db": "loud"}
    with pytest.raises(ConfigError, match="environment.noise_day_limit_db"):
        EnvironmentAdapter(parse_city(raw), FeedSource())


class _OpenAQ(http.server.BaseHTTPRequestHandler):
    """A local stand-in for api.openaq.org: two pages of locations, then each location's latest."""
    seen: list = []

    def do_GET(self):
        self.seen.append((self.path, self.headers.get("X-API-Key")))
        loc1 = recording("openaq_v3_locations_1.json")["response"]
        if self.path.startswith("/v3/locations?"):
            page = 2 if "page=2" in self.path else 1
            row = dict(loc1["results"][0], id=page, name=f"site {page}")
            row["sensors"] = [dict(loc1["results"][0]["sensors"][0], id=page)]
            body = {"meta": {"name": "openaq-api", "page": page, "limit": 1, "found": 2}, "results": [row]}
        elif self.path.startswith("/v3/locations/"):
            loc = int(self.path.split("/")[3])
            latest = recording("openaq_v3_locations_1_latest.json")["response"]
            body = {"meta": latest["meta"], "results": [dict(latest["results"][0], sensorsId=loc, locationsId=loc)]}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = orjson.dumps(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_fetch_follows_pages_and_locations_latest_with_the_api_key(r, keys, run, env_city):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OpenAQ)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _OpenAQ.seen = []
        url = f"http://127.0.0.1:{server.server_port}/v3/locations?limit=1"
        adapter = EnvironmentAdapter(env_city, FeedSource(url=url, options={"format": "openaq", "api_key": "k-123"}))
        res = run(adapter.fetch(), adapter=adapter)
    finally:
        server.shutdown()
    paths = [p for p, _ in _OpenAQ.seen]
    assert paths == ["/v3/locations?limit=1", "/v3/locations?limit=1&page=2", "/v3/locations/1/latest",
                     "/v3/locations/2/latest"]
    assert {k for _, k in _OpenAQ.seen} == {"k-123"}
    assert (res.stored, res.rejected) == (4, 0)  # 2 locations + 2 latest values
    assert state(r, keys, "openaq-2")["hour_means"]["pm25"] == 8.15


def test_cli_runs_the_feed_once_and_rejects_a_bad_format(r, keys, redis_url, tmp_path):
    out = feeds_cli("run", "environment", "--once", "--format", "openaq", "--file",
                    str(ENV / "openaq_v3_parameters_2_latest.json"), redis_url=redis_url, keys=keys)
    assert out.returncode == 0, out.stderr
    assert "environment: 7 records, 6 stored, 1 rejected" in out.stdout
    out = feeds_cli("run", "environment", "--once", "--format", "csv", "--file",
                    str(ENV / "openaq_v3_parameters_2_latest.json"), redis_url=redis_url, keys=keys)
    assert out.returncode == 2
    assert out.stderr.strip() == ("error: environment: unknown format 'csv'; one of openaq, sensor-community, "
                                  "noise, water")


def test_a_bare_measurements_file_names_its_sensor_with_a_flag(r, keys, run, env_city, tmp_path):
    bare = recording("openaq_v3_sensors_3_measurements.json")["response"]
    adapter = EnvironmentAdapter(env_city, FeedSource(options={"format": "openaq", "sensor": "3"}))
    res = run(orjson.dumps([recording("openaq_v3_locations.json"), bare]), adapter=adapter)
    assert (res.stored, res.rejected) == (54, 0)
    assert state(r, keys, "openaq-3")["aqi"] == 39


def test_a_batch_of_noise_readings_of_one_sensor_all_count_in_the_laeq(r, keys, run):
    # A noise logger's CSV export holds one row per interval; all of them are the hour's LAeq:
    # 10 log10((10^7.0 + 10^6.0 + 10^6.1) / 3) = 10 log10(12258925.4 / 3) = 66.113 -> 66.1 dB(A).
    now = time.time()
    csv_text = (f"id,time,laeq_db\nNS-1,{now - 1200:.0f},70\nNS-1,{now - 600:.0f},60\nNS-1,{now:.0f},61\n")
    res = run(csv_text.encode(), "noise")
    assert (res.stored, res.duplicates, res.rejected) == (3, 0, 0)
    s = state(r, keys, "NS-1")
    assert (s["n"], s["laeq"], s["last"]) == (3, 66.1, 61.0)
    # The same file again is all duplicates and changes nothing.
    res = run(csv_text.encode(), "noise")
    assert (res.stored, res.duplicates) == (0, 3)
    assert state(r, keys, "NS-1")["laeq"] == 66.1


def test_a_late_older_noise_reading_joins_the_window_without_turning_the_state_back(r, keys, run, env_city):
    # 60 dB(A) now, then a late reading of 70 dB(A) from 10 minutes ago: the LAeq over the hour is
    # 10 log10((10^6 + 10^7) / 2) = 67.40 dB(A) and the state stays as of the newest reading.
    adapter = EnvironmentAdapter(env_city, FeedSource(options={"format": "noise"}))
    now = time.time()
    run(orjson.dumps([{"id": "NS-1", "time": now, "laeq_db": 60}]), adapter=adapter)
    res = run(orjson.dumps([{"id": "NS-1", "time": now - 600, "laeq_db": 70}]), adapter=adapter)
    assert res.stored == 1
    s = state(r, keys, "NS-1")
    assert (s["laeq"], s["last"], s["as_of"]) == (67.4, 60.0, pytest.approx(now))


def test_cli_sensor_flag_must_be_a_sensor_id(r, keys, redis_url):
    # --sensor abc used to be accepted and silently ignored.
    out = feeds_cli("run", "environment", "--once", "--sensor", "abc", "--file",
                    str(ENV / "openaq_v3_sensors_3_measurements.json"), redis_url=redis_url, keys=keys)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: environment: --sensor must be an OpenAQ sensor id (a whole number), got 'abc'"


def test_hourly_openaq_latest_values_stay_fresh_for_two_hours_when_polled_every_minute(r, keys, env_city):
    # OpenAQ /latest rows carry no period. A reference monitor reports hourly: successive values of
    # the station an hour apart. Polled every 60 s, the AQI must not turn stale 3 x 60 s after each
    # hourly update: it stays fresh for two of the data's own periods (2 x 3600 s after its as-of).
    runner = Runner(r, keys, env_city, KpiEngine(r, keys, env_city))
    adapter = EnvironmentAdapter(env_city, FeedSource(interval_s=60, options={"format": "openaq"}))
    loc = recording("openaq_v3_locations_1.json")
    latest = recording("openaq_v3_locations_1_latest.json")  # 8.15 µg/m³ at 2025-07-09T01:30:00Z
    t1 = 1752024600.0  # 2025-07-09T01:30:00Z
    runner.run_once(adapter, orjson.dumps([loc, latest]), now=t1 + 60)
    later = orjson.loads(orjson.dumps(latest))
    later["response"]["results"][0]["datetime"] = {"utc": "2025-07-09T02:30:00Z", "local": "2025-07-08T16:30:00-10:00"}
    later["response"]["results"][0]["value"] = 9.0
    runner.run_once(adapter, orjson.dumps([later]), now=t1 + 3600 + 60)
    kpi = orjson.loads(r.hget(keys.kpi_values(), "environment.aqi"))
    # NowCast of [9.0, 8.15]: w* = 8.15 / 9.0 = 0.906; (9.0 + 0.906 x 8.15) / 1.906 = 8.596 -> 8.5 ->
    # 50 / 9.0 x 8.5 = 47.2 -> 47
    assert kpi["value"] == 47
    assert kpi["as_of"] == t1 + 3600
    assert kpi["fresh_until"] == t1 + 3600 + 2 * 3600


def test_a_second_pollutant_at_the_same_time_keeps_the_hourly_period(r, keys, env_city):
    # After the hourly step above, another pollutant's row with the same time (a later poll) must not
    # reset the station's period to 0 (which would make the AQI stale 3 minutes later again).
    runner = Runner(r, keys, env_city, KpiEngine(r, keys, env_city))
    adapter = EnvironmentAdapter(env_city, FeedSource(interval_s=60, options={"format": "openaq"}))
    loc = recording("openaq_v3_locations_1.json")
    loc["response"]["results"][0]["sensors"].append(
        {"id": 901, "name": "o3 ppm", "parameter": {"id": 10, "name": "o3", "units": "ppm", "displayName": "O3"}})
    latest = recording("openaq_v3_locations_1_latest.json")
    t1 = 1752024600.0  # 2025-07-09T01:30:00Z
    runner.run_once(adapter, orjson.dumps([loc, latest]), now=t1 + 60)
    later = orjson.loads(orjson.dumps(latest))
    later["response"]["results"][0]["datetime"] = {"utc": "2025-07-09T02:30:00Z", "local": "2025-07-08T16:30:00-10:00"}
    runner.run_once(adapter, orjson.dumps([later]), now=t1 + 3600 + 60)
    o3 = orjson.loads(orjson.dumps(later))
    o3["response"]["results"][0].update(sensorsId=901, value=0.030)
    runner.run_once(adapter, orjson.dumps([o3]), now=t1 + 3600 + 120)
    assert state(r, keys, "openaq-1")["dur"] == 3600
    kpi = orjson.loads(r.hget(keys.kpi_values(), "environment.aqi"))
    assert kpi["fresh_until"] == t1 + 3600 + 2 * 3600


def _ten_minute_rows(start: float, values: list[float]) -> dict:
    """A /v3/sensors/3/measurements response of consecutive 10-minute PM2.5 means from ``start``."""
    from feeds.timeparse import epoch_to_iso
    base = recording("openaq_v3_sensors_3_measurements.json")
    row0 = base["response"]["results"][0]
    rows = []
    for i, v in enumerate(values):
        t0, t1 = start + 600 * i, start + 600 * (i + 1)
        period = {**row0["period"], "interval": "00:10:00", "datetimeFrom": {"utc": epoch_to_iso(t0)},
                  "datetimeTo": {"utc": epoch_to_iso(t1)}}
        rows.append({**row0, "value": v, "period": period, "coverage": None})
    base["response"]["results"] = rows
    base["response"]["meta"]["found"] = len(rows)
    return base


def test_a_few_minutes_of_the_current_hour_are_not_an_hourly_mean(r, keys, run, env_city):
    # The NowCast takes hourly means. Two full hours at 10 µg/m³ (six 10-minute means each), then ONE
    # 10-minute mean of 200 in the current hour: 10 of 60 minutes is no hourly mean (EPA: 75 %), so the
    # NowCast still ends at the last full hour: c = [10, 10] -> 10.0 -> 49 / 26.3 x 0.9 + 51 = 52.68 -> 53.
    h = 1752105600.0  # 2025-07-10T00:00:00Z (after the locations' datetimeLast)
    adapter = EnvironmentAdapter(env_city, FeedSource(options={"format": "openaq"}))
    payload = orjson.dumps([recording("openaq_v3_locations.json"), _ten_minute_rows(h - 7200, [10.0] * 12 + [200.0])])
    res = run(payload, adapter=adapter, now=h + 700)
    assert res.rejected == 0, dead_letters(r, keys)
    s = state(r, keys, "openaq-3")
    assert (s["aqi"], s["hour"]) == (53, h - 3600)
    # Five 10-minute means of 200 (50 of 60 minutes, over 75 %): the current hour is c1 now.
    # c = [200, 10, 10]: w* = 0.05 -> 0.5; (200 + 5 + 2.5) / 1.75 = 118.57 -> 118.5 ->
    # 49 / 69.9 x (118.5 - 55.5) + 151 = 195.16 -> 195 (Unhealthy).
    res = run(orjson.dumps([_ten_minute_rows(h + 600, [200.0] * 4)]), adapter=adapter, now=h + 3000)
    s = state(r, keys, "openaq-3")
    assert (s["aqi"], s["category"], s["hour"]) == (195, "Unhealthy", h)


def test_a_new_process_knows_the_sensors_an_earlier_run_stored(r, keys, redis_url, tmp_path):
    # One --once run reads the locations; a second --once run (a new process) reads /latest alone.
    # The sensor list stored by the first is loaded before the second parses, so no row is rejected.
    first = tmp_path / "locations.json"
    first.write_bytes(orjson.dumps(recording("openaq_v3_locations_1.json")))
    out = feeds_cli("run", "environment", "--once", "--format", "openaq", "--file", str(first),
                    redis_url=redis_url, keys=keys)
    assert out.returncode == 0, out.stderr
    out = feeds_cli("run", "environment", "--once", "--format", "openaq", "--file",
                    str(ENV / "openaq_v3_locations_1_latest.json"), redis_url=redis_url, keys=keys)
    assert out.returncode == 0, out.stderr
    assert "1 records, 1 stored, 0 rejected" in out.stdout, out.stdout
    assert state(r, keys, "openaq-1")["hour_means"]["pm25"] == 8.15


def test_a_flooding_sensor_keeps_a_bounded_series_and_the_laeq_of_its_newest(r, keys, run, env_city, monkeypatch):
    """Memory follows the city's size, not the feed's rate: a noise sensor sending every 6 s keeps its
    newest SERIES_MAX_ENTRIES readings (30 here, not the 26 h of them) and its LAeq is theirs; the
    de-duplication entries are counted down to about the readings kept; an air station keeps that many
    observations per parameter."""
    from feeds.adapters import environment as env_adapter

    monkeypatch.setattr(env_adapter, "SERIES_MAX_ENTRIES", 30)
    adapter = EnvironmentAdapter(env_city, FeedSource(options={"format": "noise"}))
    now = time.time()
    # 100 readings 6 s apart, in four batches: 90 dB(A) for the first 70, then 60 dB(A) for the last 30.
    rows = [{"id": "NS-1", "time": now - 6 * (99 - i), "laeq_db": 90 if i < 70 else 60} for i in range(100)]
    for k in range(4):
        assert run(orjson.dumps(rows[25 * k:25 * (k + 1)]), adapter=adapter).stored == 25
    kept = r.zrange(keys.env_series("NS-1"), 0, -1, withscores=True)
    assert len(kept) == 30 and kept[0][1] == pytest.approx(rows[70]["time"]) and kept[-1][1] == pytest.approx(now)
    # The LAeq over the hour is of what is kept: thirty readings of 60 dB(A) -> 60.0 (all 100 would give 88.5).
    assert state(r, keys, "NS-1")["laeq"] == 60.0
    # De-duplication entries: counted against the kept readings (30 x 1.1 + 1,000 slack) on the next batch.
    assert r.zcard(keys.env_seen_series()) == 100
    monkeypatch.setattr(env_adapter, "SEEN_COUNT_EVERY_S", 0)
    flood = [{"id": "NS-2", "time": now - (1199 - i), "laeq_db": 55} for i in range(1200)]
    assert run(orjson.dumps(flood), adapter=adapter).stored == 1200
    assert r.zcard(keys.env_series("NS-2")) == 30
    assert r.zcard(keys.env_seen_series()) == int(60 * 1.1) + 1000 == r.hlen(keys.seen("environment", adapter.name))
    assert r.zscore(keys.env_seen_series(), f"NS-2|noise@{now:.0f}") is not None  # the newest stay

    # Air: 40 ten-minute PM2.5 means of one sensor keep 30 observation entries (one parameter).
    h = 1752105600.0
    air = EnvironmentAdapter(env_city, FeedSource(options={"format": "openaq"}))
    payload = orjson.dumps([recording("openaq_v3_locations.json"), _ten_minute_rows(h - 24000, [10.0] * 40)])
    assert run(payload, adapter=air, now=h + 700).rejected == 0
    assert r.zcard(keys.env_obs_times("openaq-3")) == 30
