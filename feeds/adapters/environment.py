"""Air quality, noise and water quality: one feed, ``environment``, four formats (feed-formats.md §1.3).

- ``openaq``: OpenAQ API v3 JSON, the ``{meta, results}`` envelope of ``/v3/locations[/{id}]``,
  ``/v3/locations/{id}/latest``, ``/v3/parameters/{id}/latest``, ``/v3/sensors/{id}``,
  ``/v3/sensors/{id}/measurements`` and ``/hours``. The endpoint is read from the URL (or from a
  recorded response ``{"_request_uri", "response"}``, or a JSON list of those). With ``--url`` the
  ``X-API-Key`` header comes from ``feeds.environment.options.api_key`` or the ``OPENAQ_API_KEY``
  environment variable, pages are followed while ``meta.found`` says there are more, and a
  ``/v3/locations`` URL also fetches each location's ``/latest``.
- ``sensor-community``: ``data.json`` of Sensor.Community (values are strings; ``P1`` = PM10,
  ``P2`` = PM2.5; timestamps UTC without a zone).
- ``noise``: JSON rows (or CSV with a header) ``id, time, laeq_db`` [+ ``lat, lon, name, district``].
- ``water``: JSON rows or CSV ``id, time, free_chlorine_mg_l, turbidity_ntu`` [+ the same].

Every reading is range checked: impossible values (a longitude of 185.2, a coverage of 74450 %, a
negative concentration) go to the dead-letter stream with the reason; the rest of the batch is kept.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import math
import os
import re
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import datetime, timezone

import orjson

from feeds.adapters.base_city import CityAdapter
from feeds.config import ConfigError
from feeds.environment import (AIR_HOURS_KEPT, RANGES, SERIES_MAX_ENTRIES, SERIES_RETENTION_S, configured_stations, env_conf,
                               to_aqi_units)
from feeds.framework import FETCH_TIMEOUT_S, Record, Rejected, Skipped, epoch_seconds, number
from feeds.kpi.environment import air_state, noise_state, water_state
from feeds.timeparse import iso_to_epoch

FORMATS = ("openaq", "sensor-community", "noise", "water")
MAX_PAGES = 50  # OpenAQ paging stops here (50 x limit rows): a runaway "found" must not loop forever
API_KEY_ENV = "OPENAQ_API_KEY"
# A new process knows only the locations of its own payloads until its first batch has loaded those
# stored by earlier runs (the adapter sees Redis only after a batch), so a --once run needs them inline.
UNKNOWN_SENSOR_HINT = "put the /v3/locations response in the same payload (a JSON list of responses)"
HOUR_COVERAGE = 0.75  # EPA: an hourly mean needs 75 % of the hour
AIR_PERIOD_MAX_S = 3600.0  # the AQI's hourly means: no air reading is taken to cover more than an hour

# OpenAQ parameter names -> our pollutant ids. Only AQI pollutants are kept.
OPENAQ_PARAMS = {"pm25": "pm25", "pm2.5": "pm25", "pm10": "pm10", "o3": "o3", "co": "co", "so2": "so2",
                 "no2": "no2"}
# OpenAQ v3 parameter ids of /v3/parameters/{id}/latest, whose rows do not name the parameter.
# 2 = pm25 (the recorded fixture); the others from OpenAQ's parameter list [U].
OPENAQ_PARAM_IDS = {1: ("pm10", "µg/m³"), 2: ("pm25", "µg/m³"), 3: ("o3", "µg/m³"), 4: ("co", "µg/m³"),
                    5: ("no2", "µg/m³"), 6: ("so2", "µg/m³"), 7: ("no2", "ppm"), 8: ("co", "ppm"),
                    9: ("so2", "ppm"), 10: ("o3", "ppm")}
SC_VALUES = {"P1": "pm10", "P2": "pm25"}  # Sensor.Community value_type -> pollutant

_ENDPOINTS = [  # (regex on the URL path, kind)
    (re.compile(r"/v3/locations/?$"), "locations"),
    (re.compile(r"/v3/locations/(\d+)/?$"), "locations"),
    (re.compile(r"/v3/locations/(\d+)/latest/?$"), "latest"),
    (re.compile(r"/v3/parameters/(\d+)/latest/?$"), "param-latest"),
    (re.compile(r"/v3/sensors/(\d+)/?$"), "sensor"),
    (re.compile(r"/v3/sensors/(\d+)/(?:measurements|hours)(?:/hourly)?/?$"), "series"),
    (re.compile(r"/v3/sensors/(\d+)/days"), "days"),
]


@functools.lru_cache(maxsize=8192)  # a feed asks about the same few thousand URLs every poll
def openaq_endpoint(uri: str | None) -> tuple[str | None, int | None]:
    """(kind, id in the path) of an OpenAQ v3 URL; (None, None) when it is not one we read."""
    if not uri:
        return None, None
    path = urllib.parse.urlparse(uri).path
    for rx, kind in _ENDPOINTS:
        m = rx.search(path)
        if m:
            return kind, int(m.group(1)) if m.groups() else None
    return None, None


def _guess_kind(results: list) -> str | None:
    """The endpoint of a bare envelope from its rows' shape (a --file without its URL)."""
    first = next((r for r in results if isinstance(r, dict)), None)
    if first is None:
        return None
    if "period" in first:
        return "series"
    if "sensors" in first and "coordinates" in first:
        return "locations"
    if "sensorsId" in first:
        return "latest"
    if "latest" in first and "parameter" in first:
        return "sensor"
    return None


def _utc(obj, field: str) -> float:
    """Epoch seconds of OpenAQ's ``{"utc": "...Z", "local": ...}`` (or a plain ISO string)."""
    value = obj.get("utc") if isinstance(obj, dict) else obj
    if not isinstance(value, str):
        raise Rejected(f"{field}: missing time")
    t = _utc_epoch(value)
    if t is None:
        raise Rejected(f"{field}: unreadable time {value!r}")
    return t


@functools.lru_cache(maxsize=8192)  # the rows of one poll share a handful of hour stamps
def _utc_epoch(value: str) -> float | None:
    try:
        return iso_to_epoch(value, "UTC")
    except ValueError:
        return None


def _coords(lat, lon, where: str) -> tuple[float, float]:
    lat, lon = number(lat, f"{where} latitude"), number(lon, f"{where} longitude")
    if not -90 <= lat <= 90:
        raise Rejected(f"{where}: latitude {lat} out of range -90..90")
    if not -180 <= lon <= 180:
        raise Rejected(f"{where}: longitude {lon} out of range -180..180")
    return lat, lon


def _obj(value, field: str) -> dict:
    """A nested JSON object of a record: {} when absent, Rejected when it is something else."""
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise Rejected(f"{field}: a {type(value).__name__}, not an object")
    return value


def _list(value, field: str) -> list:
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise Rejected(f"{field}: a {type(value).__name__}, not a list")
    return value


def check_range(param: str, value: float, field: str) -> float:
    lo, hi = RANGES[param]
    if not lo <= value <= hi:
        raise Rejected(f"{field}: {value:g} out of range {lo:g}..{hi:g} for {param}")
    return value


class EnvironmentAdapter(CityAdapter):
    name = "environment"
    domain = "environment"
    title = "Air quality, noise, water (OpenAQ v3, Sensor.Community, noise/water JSON or CSV)"
    formats = FORMATS
    kpi_domains = ("environment",)
    cli_options = (("--api-key-env", "api_key_env",
                    f"environment variable holding the OpenAQ API key (default {API_KEY_ENV})"),
                   ("--sensor", "sensor", "OpenAQ sensor id of a bare /measurements or /hours file (no URL in it)"))

    @classmethod
    def check_source(cls, source) -> None:
        super().check_source(source)
        if source.options.get("api_key") is not None and not isinstance(source.options["api_key"], str):
            raise ConfigError("environment: options.api_key must be a string")
        sensor = source.options.get("sensor")
        if sensor is not None and not str(sensor).strip().isdigit():
            raise ConfigError(f"environment: --sensor must be an OpenAQ sensor id (a whole number), got {sensor!r}")

    def __init__(self, city, source):
        super().__init__(city, source)
        self.conf = env_conf(city)
        self.fmt = source.options.get("format")
        self.stations = configured_stations(city)
        self._by_name = {}
        for sid, meta in self.stations.items():
            self._by_name[sid.casefold()] = sid
            self._by_name[meta["name"].casefold()] = sid
        self.sensors: dict[str, dict] = {}  # OpenAQ sensor id -> {station, param, units}
        self._sensors_loaded = False
        self._learnt: set[str] = set()  # station metas already written
        self._touched: dict[str, set] = defaultdict(set)  # kind -> station ids with new readings this batch
        self._pending: list[dict] = []  # accepted readings of this batch, for the derived state
        self._counted_at = float("-inf")  # when the de-duplication entries were last counted (_prune_seen)

    # --- fetch: OpenAQ paging, API key, locations -> latest -----------------------------------------
    def api_key(self) -> str | None:
        key = self.source.options.get("api_key")
        if key:
            return str(key)
        return os.environ.get(str(self.source.options.get("api_key_env") or API_KEY_ENV)) or None

    def request_headers(self) -> dict[str, str]:
        headers = super().request_headers()
        key = self.api_key()
        if key and self._is_openaq_url():
            headers["X-API-Key"] = key  # never logged: errors below name the URL only
        return headers

    def _is_openaq_url(self) -> bool:
        return self.fmt == "openaq" or openaq_endpoint(self.source.url)[0] is not None

    def fetch(self) -> bytes:
        if self.source.file or not self._is_openaq_url():
            return super().fetch()
        url = self.source.url
        recordings = self._get_pages(url)
        kind, ident = openaq_endpoint(url)
        if kind == "latest":  # its rows name only sensor ids: the location says what each sensor measures
            recordings = self._get_pages(url.split("/v3/")[0] + f"/v3/locations/{ident}") + recordings
        if kind == "locations" and self.source.options.get("follow_latest", True):
            ids = [row.get("id") for rec in recordings for row in rec["response"].get("results", [])
                   if isinstance(row, dict) and isinstance(row.get("id"), int)]
            base = url.split("/v3/")[0]
            for loc_id in ids:
                recordings.extend(self._get_pages(f"{base}/v3/locations/{loc_id}/latest"))
        return orjson.dumps(recordings)

    def _get_json(self, url: str) -> dict:
        req = urllib.request.Request(url, headers=self.request_headers())
        with urllib.request.urlopen(req, timeout=FETCH_TIMEOUT_S) as resp:
            return orjson.loads(resp.read())

    def _get_pages(self, url: str) -> list[dict]:
        """Every page of one endpoint, as recordings {_request_uri, response}."""
        out = []
        page_url = url
        for page in range(1, MAX_PAGES + 1):
            doc = self._get_json(page_url)
            out.append({"_request_uri": page_url, "response": doc})
            meta = doc.get("meta") if isinstance(doc, dict) else None
            results = doc.get("results") if isinstance(doc, dict) else None
            if not isinstance(meta, dict) or not isinstance(results, list) or not results:
                break
            if not _more_pages(meta, len(results)):
                break
            parts = urllib.parse.urlparse(page_url)
            query = dict(urllib.parse.parse_qsl(parts.query))
            query["page"] = str(int(meta.get("page") or page) + 1)
            query.setdefault("limit", str(meta.get("limit") or len(results)))
            page_url = urllib.parse.urlunparse(parts._replace(query=urllib.parse.urlencode(query)))
        return out

    # --- parse ----------------------------------------------------------------------------------
    def parse(self, payload: bytes):
        self._touched = defaultdict(set)
        self._pending = []
        fmt = self.fmt
        head = payload.lstrip()[:1]
        if head not in (b"[", b"{"):
            if fmt in (None, "noise", "water"):
                return self._parse_csv(payload, fmt)
            raise Rejected(f"not JSON, as the {fmt} format needs")
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            raise Rejected(f"not valid JSON: {e}") from None
        if fmt is None:
            fmt = _detect(doc)
        if fmt == "openaq":
            return self._parse_openaq(doc)
        if fmt == "sensor-community":
            if not isinstance(doc, list):
                raise Rejected("Sensor.Community data.json is a JSON array of records")
            return [("sensor-community", row) for row in doc]
        if fmt in ("noise", "water"):
            rows = doc.get("readings") if isinstance(doc, dict) else doc
            if not isinstance(rows, list):
                raise Rejected(f"expected a JSON array of {fmt} readings (or {{\"readings\": [...]}})")
            return [(fmt, row) for row in rows]
        raise Rejected("cannot tell the format: give --format openaq|sensor-community|noise|water")

    def _parse_csv(self, payload: bytes, fmt: str | None):
        try:
            text = payload.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Rejected("not UTF-8 text") from None
        reader = csv.DictReader(io.StringIO(text))
        try:
            fields = {f.strip() for f in (reader.fieldnames or [])}
        except csv.Error as e:
            raise Rejected(f"CSV unreadable: {e}") from None
        if fmt is None:
            fmt = "noise" if "laeq_db" in fields else "water" if fields & {"free_chlorine_mg_l", "turbidity_ntu"} else None
        need = {"noise": {"id", "laeq_db"}, "water": {"id"}}.get(fmt)
        if need is None or not need <= fields:
            raise Rejected("CSV needs a header with id, time and laeq_db (noise) or free_chlorine_mg_l/turbidity_ntu (water)")
        try:
            return [(fmt, {k.strip(): v for k, v in row.items() if k}) for row in reader]
        except csv.Error as e:
            raise Rejected(f"CSV unreadable: {e}") from None

    def _parse_openaq(self, doc):
        if isinstance(doc, dict):
            doc = [doc]
        if not isinstance(doc, list):
            raise Rejected("OpenAQ: expected a {meta, results} envelope")
        out = []
        for rec in doc:
            if not isinstance(rec, dict):
                raise Rejected("OpenAQ: expected {meta, results} envelopes")
            uri = rec.get("_request_uri")
            if uri is not None and not isinstance(uri, str):
                raise Rejected(f"OpenAQ: _request_uri is a {type(uri).__name__}, not a URL")
            env = rec["response"] if "response" in rec and isinstance(rec["response"], dict) else rec
            if uri is None and self.source.url:
                uri = self.source.url
            results = env.get("results")
            if not isinstance(env.get("meta"), dict) or not isinstance(results, list):
                raise Rejected("OpenAQ: envelope without meta and results[]")
            kind, ident = openaq_endpoint(uri)
            if kind is None:
                kind = _guess_kind(results)
                sensor = self.source.options.get("sensor")
                ident = int(sensor) if kind == "series" and str(sensor or "").isdigit() else None
            if kind is None:
                raise Rejected(f"OpenAQ: cannot tell which endpoint {uri or 'this payload'} is")
            # Locations first: their sensors tell the other rows which station and pollutant they are.
            rows = [{"openaq": kind, "id": ident, "uri": uri, "record": r} for r in results]
            out.extend(rows)
        out.sort(key=lambda r: r["openaq"] != "locations")
        return out

    # --- validate -------------------------------------------------------------------------------
    def validate(self, raw) -> Record:
        if isinstance(raw, dict) and "openaq" in raw:
            return self._validate_openaq(raw)
        fmt, row = raw
        if not isinstance(row, dict):
            raise Rejected(f"record is a {type(row).__name__}, not an object")
        if fmt == "sensor-community":
            return self._validate_sc(row)
        return self._validate_point(fmt, row)

    def _station_for_location(self, loc_id, name, lat, lon, provider: str = "") -> tuple[str, dict | None]:
        """The station an OpenAQ location is: a configured one named like it, else ``openaq-<id>``."""
        sid = self._by_name.get(str(name or "").strip().casefold())
        if sid is not None:
            return sid, None
        sid = f"openaq-{loc_id}"
        if sid in self._learnt or lat is None:
            return sid, None
        return sid, {"id": sid, "name": str(name or sid)[:80], "kind": "air", "lat": lat, "lon": lon,
                     "district": self.resolve_district((lon, lat)), "source": f"OpenAQ {provider}".strip()}

    def _validate_openaq(self, raw: dict) -> Record:
        kind, row = raw["openaq"], raw["record"]
        if not isinstance(row, dict):
            raise Rejected(f"OpenAQ {kind}: row is not an object")
        if kind == "locations":
            return self._openaq_location(row)
        if kind == "days":
            raise Skipped("OpenAQ daily means are not used (the AQI needs hourly means)")
        coverage = row.get("coverage")
        if isinstance(coverage, dict):
            for f in ("percentComplete", "percentCoverage"):
                if coverage.get(f) is not None:
                    pct = number(coverage[f], f"coverage.{f}")
                    if not 0 <= pct <= 100:
                        raise Rejected(f"coverage.{f} {pct:g} % out of range 0..100")
        coords = row.get("coordinates") or _obj(row.get("latest"), "latest").get("coordinates")
        lat = lon = None
        if isinstance(coords, dict):
            lat, lon = _coords(coords.get("latitude"), coords.get("longitude"), "coordinates")
        if kind == "series":
            sensor = raw["id"]
            p = _obj(row.get("parameter"), "parameter")
            param, units = OPENAQ_PARAMS.get(str(p.get("name", "")).lower()), p.get("units")
            period = _obj(row.get("period"), "period")
            t0 = _utc(period.get("datetimeFrom"), "period.datetimeFrom")
            t1 = _utc(period.get("datetimeTo"), "period.datetimeTo")
            if t1 < t0:
                raise Rejected("period ends before it starts")
            value = row.get("value")
        elif kind == "sensor":
            sensor = row.get("id")
            p = _obj(row.get("parameter"), "parameter")
            param, units = OPENAQ_PARAMS.get(str(p.get("name", "")).lower()), p.get("units")
            latest = _obj(row.get("latest"), "latest")
            t0 = t1 = _utc(latest.get("datetime"), "latest.datetime")
            value = latest.get("value")
        else:  # latest, param-latest
            sensor = row.get("sensorsId")
            t0 = t1 = _utc(row.get("datetime"), "datetime")
            value = row.get("value")
            if kind == "param-latest":
                param, units = OPENAQ_PARAM_IDS.get(raw["id"], (None, None))
                if param is None:
                    raise Skipped(f"OpenAQ parameter {raw['id']} is not an AQI pollutant")
            else:
                known = self.sensors.get(str(sensor))
                if known is None:
                    raise Rejected(f"OpenAQ sensor {sensor} is in no location read so far; {UNKNOWN_SENSOR_HINT}")
                param, units = known["param"], known["units"]
        if param is None:
            raise Skipped(f"OpenAQ parameter {_obj(row.get('parameter'), 'parameter').get('name')!r} is not an AQI pollutant")
        v = number(value, "value")
        try:
            v = to_aqi_units(param, v, str(units or ""))
        except ValueError as e:
            raise Rejected(str(e)) from None
        check_range(param, v, "value")
        if kind == "param-latest":
            loc = row.get("locationsId")
            if loc is None:
                raise Rejected("latest row without locationsId")
            station, meta = self._station_for_location(loc, None, lat, lon, "")
        else:
            known = self.sensors.get(str(sensor))
            if known is None:
                raise Rejected(f"OpenAQ sensor {sensor} is in no location read so far; {UNKNOWN_SENSOR_HINT}")
            station, meta = known["station"], None
        data = {"k": "air", "st": station, "t0": t0, "t": t1, "vals": {param: v}}
        if meta:
            data["meta"] = meta
        key = f"{station}|{param}@{int(t0)}" if kind == "series" else f"{station}|{param}"
        return Record(key, t1, data)

    def _openaq_location(self, row: dict) -> Record:
        loc_id = row.get("id")
        if not isinstance(loc_id, int):
            raise Rejected("location without an integer id")
        coords = _obj(row.get("coordinates"), "coordinates")
        lat, lon = _coords(coords.get("latitude"), coords.get("longitude"), f"location {loc_id} coordinates")
        if row.get("isMobile"):
            raise Skipped("mobile OpenAQ location (no fixed station)")
        station, meta = self._station_for_location(loc_id, row.get("name"), lat, lon,
                                                   str(_obj(row.get("provider"), "provider").get("name", "")))
        sensors = {}
        for s in _list(row.get("sensors"), "sensors"):
            s = _obj(s, "sensors[]")
            p = _obj(s.get("parameter"), "sensors[].parameter")
            param = OPENAQ_PARAMS.get(str(p.get("name", "")).lower())
            if param is not None and s.get("id") is not None:
                units = p.get("units")  # text such as "µg/m³"; anything else is not a unit
                sensors[str(s["id"])] = {"station": station, "param": param,
                                         "units": units[:40] if isinstance(units, str) else ""}
        self.sensors.update(sensors)  # rows after this one in the payload need them now
        data = {"k": "loc", "st": station, "sensors": sensors}
        if meta:
            data["meta"] = meta
        version = _utc(row["datetimeLast"], "datetimeLast") if row.get("datetimeLast") else 0.0
        fingerprint = hashlib.blake2b(orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
        return Record(f"location:{loc_id}", version, data, fingerprint=fingerprint)

    def _validate_sc(self, row: dict) -> Record:
        values = row.get("sensordatavalues")
        if not isinstance(values, list):
            raise Rejected("sensordatavalues missing")
        vals = {}
        values = [_obj(item, "sensordatavalues[]") for item in values]
        for item in values:
            param = SC_VALUES.get(str(item.get("value_type")))
            if param is not None:
                vals[param] = check_range(param, number(item.get("value"), item["value_type"]), item["value_type"])
        if not vals:
            kinds = ", ".join(sorted(str(i.get("value_type")) for i in values)) or "none"
            raise Skipped(f"no particulate values ({kinds})")
        loc = _obj(row.get("location"), "location")
        if loc.get("indoor") in (1, "1", True):
            raise Skipped("indoor sensor")
        lat, lon = _coords(loc.get("latitude"), loc.get("longitude"), "location")
        ts = row.get("timestamp")
        try:  # "YYYY-MM-DD HH:MM:SS", UTC without a zone
            t = datetime.strptime(str(ts), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise Rejected(f"timestamp: unreadable {ts!r}") from None
        if loc.get("id") is None:
            raise Rejected("location.id missing")
        sid = f"sc-{loc['id']}"
        sensor = _obj(row.get("sensor"), "sensor")
        data = {"k": "air", "st": sid, "t0": t, "t": t, "vals": vals}
        if sid not in self._learnt:
            stype = _obj(sensor.get("sensor_type"), "sensor.sensor_type").get("name") or "sensor"
            data["meta"] = {"id": sid, "name": f"Sensor.Community {loc['id']} ({stype})", "kind": "air",
                            "lat": lat, "lon": lon, "district": self.resolve_district((lon, lat)),
                            "source": "Sensor.Community"}
        # data.json holds several readings of one sensor (5-minute means): each is kept for the hour's mean.
        return Record(f"{sid}|{sensor.get('id')}@{int(t)}", t, data)

    def _time(self, value) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return epoch_seconds(value, "time")
        if isinstance(value, str) and value.strip():
            v = value.strip()
            if re.fullmatch(r"\d+(\.\d+)?", v):
                return self._time(float(v))
            try:
                return iso_to_epoch(v, self.tz)
            except ValueError:
                pass
        raise Rejected(f"time: unreadable {value!r}")

    def _validate_point(self, fmt: str, row: dict) -> Record:
        sid = str(row.get("id") or row.get("station") or "").strip()
        if not sid:
            raise Rejected("missing id")
        t = self._time(row.get("time") if row.get("time") not in (None, "") else row.get("timestamp"))
        if fmt == "noise":
            if row.get("laeq_db") in (None, ""):
                raise Skipped("no LAeq reading")
            vals = {"laeq": check_range("laeq", number(row["laeq_db"], "laeq_db"), "laeq_db")}
        else:
            vals = {}
            for field, param in (("free_chlorine_mg_l", "free_chlorine"), ("turbidity_ntu", "turbidity")):
                if row.get(field) not in (None, ""):
                    vals[param] = check_range(param, number(row[field], field), field)
            if not vals:
                raise Skipped("no chlorine or turbidity value")
        known = self.stations.get(sid)
        data = {"k": fmt, "st": sid, "t0": t, "t": t, "vals": vals}
        if known is not None:
            if known["kind"] != fmt:
                raise Rejected(f"{sid} is a configured {known['kind']} station, not {fmt}")
        elif sid not in self._learnt:
            if row.get("lat") in (None, "") or row.get("lon") in (None, ""):
                raise Rejected(f"unknown {fmt} station {sid!r} and no lat/lon to place it")
            lat, lon = _coords(row["lat"], row["lon"], "lat/lon")
            data["meta"] = {"id": sid, "name": str(row.get("name") or sid)[:80], "kind": fmt, "lat": lat,
                            "lon": lon, "district": self.resolve_district((lon, lat), row.get("district")),
                            "source": f"{fmt} feed"}
        # One record per reading (a logger's export has one row per interval; each counts in the LAeq),
        # so a late older reading is kept too; the same reading again is a duplicate.
        return Record(f"{sid}|{fmt}@{t:.0f}", t, data)

    # --- publish ----------------------------------------------------------------------------------
    def publish(self, pipe, keys, records):
        metas, sensors, rows = {}, {}, []
        for rec in records:
            d = rec.data
            if d.get("meta"):
                metas[d["meta"]["id"]] = orjson.dumps(d["meta"])
            if d["k"] == "loc":
                sensors.update({sid: orjson.dumps(s) for sid, s in d["sensors"].items()})
                continue
            self._pending.append(d)
            self._touched[d["k"]].add(d["st"])
            for param, v in d["vals"].items():
                rows.append({"st": d["st"], "p": param, "v": v, "t": d["t"]})
            if "@" in rec.key:  # one observation of a time series: its seen entry is pruned with it
                pipe.zadd(keys.env_seen_series(), {rec.key: d["t"]})
        if metas:
            pipe.hset(keys.env_stations(), mapping=metas)
        if sensors:
            pipe.hset(keys.env_openaq_sensors(), mapping=sensors)
        self.add_readings(pipe, keys, rows)

    def published(self, records):
        self._learnt.update(rec.data["meta"]["id"] for rec in records if rec.data.get("meta"))

    def redis_lost(self):
        self._learnt.clear()  # learnt stations' metadata goes in again with their next reading

    # --- derived state: hourly means, NowCast, AQI, LAeq, water alerts (compute on write) ---------------
    def prepare(self, r, keys):
        # Sensor ids an earlier run learnt from /v3/locations: a later /latest or /measurements payload
        # (even a --once run of a file) names only sensor ids.
        if not self._sensors_loaded:
            self._sensors_loaded = True
            for sid, raw in r.hgetall(keys.env_openaq_sensors()).items():
                self.sensors.setdefault(sid, orjson.loads(raw))

    def housekeeping(self, r, keys, now):
        pending, self._pending = self._pending, []
        touched, self._touched = self._touched, defaultdict(set)
        if pending:
            update_states(r, keys, self.city, pending, touched, now)
        self._prune_seen(r, keys, now)

    def _prune_seen(self, r, keys, now):
        """Forget the de-duplication entries of series observations older than the retention,
        counted back from the newest observation (not the wall clock: a replayed file stays de-duplicated);
        and, once a minute, the oldest beyond the observations the stations still keep (their series and
        observation sets are capped by count), so a flood's entries do not outlive what they stand for."""
        newest = r.zrange(keys.env_seen_series(), -1, -1, withscores=True)
        if not newest:
            return
        old = r.zrangebyscore(keys.env_seen_series(), "-inf", f"({newest[0][1] - SERIES_RETENTION_S}", start=0, num=5000)
        if now - self._counted_at >= SEEN_COUNT_EVERY_S:
            self._counted_at = now
            old += self._beyond_kept(r, keys)
        if old:
            pipe = r.pipeline(transaction=False)
            for i in range(0, len(old), 5000):
                pipe.hdel(keys.seen(self.domain, self.name), *old[i:i + 5000])
                pipe.zrem(keys.env_seen_series(), *old[i:i + 5000])
            pipe.execute()

    @staticmethod
    def _beyond_kept(r, keys) -> list[str]:
        """The oldest de-duplication entries beyond the number of observations kept (every station's series
        and observation set), plus a tenth for entries whose observation was rejected or is arriving."""
        sids = r.hkeys(keys.env_state())
        pipe = r.pipeline(transaction=False)
        for sid in sids:
            pipe.zcard(keys.env_obs_times(sid))
            pipe.zcard(keys.env_series(sid))
        pipe.zcard(keys.env_seen_series())
        *counts, n = pipe.execute()
        over = n - int(sum(counts) * 1.1) - 1000
        return r.zrange(keys.env_seen_series(), 0, over - 1) if over > 0 else []


def _more_pages(meta: dict, n_results: int) -> bool:
    """OpenAQ's ``found`` is an int, or a string such as ">1000" when the count is not exact."""
    found, page, limit = meta.get("found"), int(meta.get("page") or 1), int(meta.get("limit") or n_results or 1)
    if isinstance(found, str):
        if found.startswith(">"):
            return n_results >= limit
        found = int(found) if found.isdigit() else 0
    return isinstance(found, int) and found > page * limit and n_results >= limit


def _detect(doc) -> str | None:
    """The format of a JSON payload from its shape."""
    if isinstance(doc, dict) and ("response" in doc or ("meta" in doc and "results" in doc)):
        return "openaq"
    if isinstance(doc, dict) and isinstance(doc.get("readings"), list):
        doc = doc["readings"]
    if isinstance(doc, list) and doc:
        first = doc[0]
        if isinstance(first, dict):
            if "_request_uri" in first or "results" in first:
                return "openaq"
            if "sensordatavalues" in first:
                return "sensor-community"
            if "laeq_db" in first:
                return "noise"
            if "free_chlorine_mg_l" in first or "turbidity_ntu" in first:
                return "water"
    return None


# ----------------------------------------------------------------------------- derived state
# Each air observation is counted once: ZADD NX of "<param>@<period start>" (scored by that start)
# into the station's set, 1 where it is new; then the set's retention (by age, then by count: SERIES_MAX_ENTRIES
# per parameter). One script call per chunk of stations instead of a
# command per observation (the adapter's hot spot at 1,000 stations).
_COUNT_ONCE_LUA = """
local out, a = {}, 1
for i = 1, #KEYS do
  local n, cut, most = tonumber(ARGV[a]), ARGV[a + 1], tonumber(ARGV[a + 2])
  a = a + 3
  for _ = 1, n do
    local member = ARGV[a]
    out[#out + 1] = redis.call('ZADD', KEYS[i], 'NX', string.match(member, '@(-?%d+)$'), member)
    a = a + 1
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', cut)
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(most + 1))
end
return out
"""
SEEN_COUNT_EVERY_S = 60  # how often the de-duplication entries are counted against the observations kept
_SCRIPT_ARGS = 20_000  # arguments per script call: a 12 h backfill of 1,000 stations is split


def aqi_hour(sums: dict, newest_hour: float, period: float) -> float:
    """The clock hour the NowCast and the AQI end at: the newest one once it is an hourly mean, i.e. its
    readings cover 75 % of it (EPA's completeness) or each reading is an hour's mean; until then the
    hour before. A period of 0 (not known yet) counts as an hour's mean."""
    if not 0 < period < 3600:
        return newest_hour
    h = str(int(newest_hour))
    n = max((hours[h][1] for hours in sums.values() if h in hours), default=0)
    return newest_hour if n * period >= HOUR_COVERAGE * 3600 else newest_hour - 3600


def _count_once(r, keys, air: list[str], by_station: dict, newest_t0: dict, n_params: dict) -> dict[str, list[dict]]:
    """Per station, per reading of this batch: {param: True} where the observation was not counted before.
    A station's set keeps SERIES_MAX_ENTRIES observations per parameter (``n_params``), the newest. An
    observation re-sent after its entry went is counted again only if its hour is still kept, which takes
    a station reporting every minute for more than a day, or a flood."""
    script = r.register_script(_COUNT_ONCE_LUA)
    out: dict[str, list[dict]] = {}
    chunk_keys, args, layout = [], [], []

    def flush():
        if not chunk_keys:
            return
        res = iter(script(keys=chunk_keys, args=args))
        for sid, members in layout:
            out[sid] = [{p: bool(next(res)) for p in params} for params in members]
        chunk_keys.clear(), args.clear(), layout.clear()

    for sid in air:
        members, obs = [], []
        for d in by_station[sid]:
            params = list(d["vals"])
            members.append(params)
            obs += [f"{p}@{d['t0']:.0f}" for p in params]
        chunk_keys.append(keys.env_obs_times(sid))
        args += [len(obs), f"({newest_t0[sid] - SERIES_RETENTION_S!r}", SERIES_MAX_ENTRIES * n_params[sid]] + obs
        layout.append((sid, members))
        if len(args) >= _SCRIPT_ARGS:
            flush()
    flush()
    return out


def update_states(r, keys, city, pending: list[dict], touched: dict[str, set], now: float) -> None:
    """Fold this batch's readings into each station's derived state (hash ``env_state``)."""
    conf = env_conf(city)
    metas = configured_stations(city)
    learnt = {}
    ids = sorted(set().union(*touched.values()) - set(metas))
    if ids:
        learnt = {sid: orjson.loads(v) for sid, v in zip(ids, r.hmget(keys.env_stations(), ids)) if v}
    by_station: dict[str, list[dict]] = defaultdict(list)
    for d in pending:
        by_station[d["st"]].append(d)
    states: dict[str, bytes] = {}

    # Air: each observation once (first arrival wins), into clock-hour sums; then NowCast and AQI.
    air = sorted(touched.get("air", ()))
    if air:
        pipe = r.pipeline(transaction=False)
        pipe.hmget(keys.env_air_clock(), air)
        pipe.hmget(keys.env_hourly(), air)
        clock_raw, hourly_raw = pipe.execute()
        clock = {sid: orjson.loads(v) for sid, v in zip(air, clock_raw) if v}
        missing = [sid for sid in air if sid not in clock]
        if missing:  # stations derived before the clock hash existed: their state holds the same times
            for sid, v in zip(missing, r.hmget(keys.env_state(), missing)):
                if v:
                    st = orjson.loads(v)
                    clock[sid] = [st.get("t0") or 0, st.get("as_of") or 0, st.get("dur") or 0]
        hourly = {sid: orjson.loads(v) if v else {} for sid, v in zip(air, hourly_raw)}
        newest_t0, newest_t, period = {}, {}, {}
        for sid in air:
            t0s, ts, prev_period = (list(clock.get(sid, ())) + [0, 0, 0])[:3]
            prev_t = ts
            for d in by_station[sid]:
                t0s, ts = max(t0s, d["t0"]), max(ts, d["t"])
            newest_t0[sid], newest_t[sid] = t0s, ts
            # The data's own period: a measurement's, else (OpenAQ /latest says none) the step from the
            # station's previous newest reading, up to an hour (an hourly monitor's /latest moves hourly).
            own = max(d["t"] - d["t0"] for d in by_station[sid])
            step = min(ts - prev_t, AIR_PERIOD_MAX_S) if prev_t and ts > prev_t else prev_period
            period[sid] = max(own, step)
        n_params = {sid: len(set(hourly[sid]).union(*(d["vals"] for d in by_station[sid]))) or 1 for sid in air}
        flags = _count_once(r, keys, air, by_station, newest_t0, n_params)
        for sid in air:
            sums = hourly[sid]
            for d, new in zip(by_station[sid], flags[sid]):
                h = str(int(math.floor(d["t0"] / 3600) * 3600))
                for param, v in d["vals"].items():
                    if not new.get(param):
                        continue
                    cell = sums.setdefault(param, {}).setdefault(h, [0.0, 0])
                    cell[0] += v
                    cell[1] += 1
            end_hour = math.floor(newest_t0[sid] / 3600) * 3600
            cut = end_hour - (AIR_HOURS_KEPT - 1) * 3600
            for param in list(sums):
                sums[param] = {h: c for h, c in sums[param].items() if int(h) >= cut}
            end_hour = aqi_hour(sums, end_hour, period[sid])
            meta = metas.get(sid) or learnt.get(sid) or {}
            state = air_state(sid, meta, sums, end_hour, newest_t[sid], newest_t0[sid], period[sid])
            states[sid] = orjson.dumps(state)
        pipe = r.pipeline(transaction=False)
        pipe.hset(keys.env_hourly(), mapping={sid: orjson.dumps(hourly[sid]) for sid in air})
        pipe.hset(keys.env_air_clock(), mapping={sid: orjson.dumps([newest_t0[sid], newest_t[sid], period[sid]])
                                                          for sid in air})
        pipe.execute()

    # Noise and water: a short series per station, then the window's LAeq or the latest sample.
    for kind in ("noise", "water"):
        sids = sorted(touched.get(kind, ()))
        if not sids:
            continue
        pipe = r.pipeline(transaction=False)
        for sid in sids:
            for d in by_station[sid]:
                pipe.zadd(keys.env_series(sid), {orjson.dumps({"t": d["t"], **d["vals"]}): d["t"]})
            newest = max(d["t"] for d in by_station[sid])
            pipe.zremrangebyscore(keys.env_series(sid), "-inf", f"({newest - SERIES_RETENTION_S}")
            pipe.zremrangebyrank(keys.env_series(sid), 0, -(SERIES_MAX_ENTRIES + 1))
            pipe.zrange(keys.env_series(sid), -1, -1, withscores=True)
        # The window ends at the station's newest stored reading, not this batch's (a late batch of
        # older readings must not turn the state back).
        results = pipe.execute()
        ends, i = [], 0
        for sid in sids:
            i += len(by_station[sid]) + 3
            ends.append(results[i - 1][0][1])
        pipe = r.pipeline(transaction=False)
        for sid, end in zip(sids, ends):
            lo = end - (conf.noise_window_s if kind == "noise" else conf.water_window_s)
            pipe.zrangebyscore(keys.env_series(sid), lo, "+inf")
        for sid, rows in zip(sids, pipe.execute()):
            readings = [orjson.loads(x) for x in rows]
            meta = metas.get(sid) or learnt.get(sid) or {}
            fn = noise_state if kind == "noise" else water_state
            states[sid] = orjson.dumps(fn(sid, meta, readings, conf, city.timezone))
    if states:
        r.hset(keys.env_state(), mapping=states)
