"""NYC DOT real-time traffic speeds (feed-formats.md §1.2).

Reads both shapes of the same feed:
- Socrata ``i4gi-tjb9`` JSON: ``id, speed, travel_time, status, data_as_of, link_id, link_points, ...``
  (every column text; ``data_as_of`` a floating local timestamp "2017-10-23T22:08:19.000");
- the legacy ``LinkSpeedQuery`` names (``Id, Speed, TravelTime, Status, DataAsOf, linkId, linkPoints``
  ..., DataAsOf "10/23/2017 22:08:19"), as tab-separated text or as JSON rows.
Speeds are mph; stored as km/h.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime

import orjson

from feeds.adapters.base_city import CityAdapter
from feeds.framework import Record, Rejected, Skipped, number
from feeds.geo import polyline_length_m, polyline_midpoint, valid_lonlat
from feeds.timeparse import local_to_epoch

MPH_TO_KMH = 1.609344
MAX_SPEED_MPH = 150.0  # anything faster is a broken sensor, not traffic
NO_DATA_STATUS = "-101"
SENTINEL_YEAR = 1978  # DataAsOf 1/1/1978 00:00:00 marks "never measured"
LINK_POINTS_CAP = 255  # the feed cuts link_points at 255 characters, often mid-pair

# Legacy LinkSpeedQuery header -> Socrata column name.
LEGACY = {"Id": "id", "Speed": "speed", "TravelTime": "travel_time", "Status": "status",
          "DataAsOf": "data_as_of", "linkId": "link_id", "linkPoints": "link_points",
          "EncodedPolyLine": "encoded_poly_line", "EncodedPolyLineLvls": "encoded_poly_line_lvls",
          "Owner": "owner", "Transcom_id": "transcom_id", "Borough": "borough", "linkName": "link_name"}


class GeometryDefect(ValueError):
    """link_points holds a malformed pair; ``points`` are the good ones before it."""

    def __init__(self, message: str, points: list[tuple[float, float]]):
        super().__init__(message)
        self.points = points


def parse_link_points(text: str) -> list[tuple[float, float]]:
    """"lat,lon lat,lon ..." -> [(lon, lat), ...]; a final pair cut by the 255-character cap is dropped.

    Raises GeometryDefect at a malformed pair inside the list (real rows glue two pairs together,
    "-73.83621140.81201"), carrying the points before it.
    """
    tokens = text.split()
    if len(text) >= LINK_POINTS_CAP and not text.endswith(" ") and tokens:
        tokens = tokens[:-1]  # cut at the cap: the last pair may be "40.76,-7"
    points = []
    for i, tok in enumerate(tokens):
        lat_s, _, lon_s = tok.partition(",")
        try:
            lat, lon = float(lat_s), float(lon_s)
        except ValueError:
            if i == len(tokens) - 1:
                break  # a cut final pair in a feed that trimmed its trailing space
            raise GeometryDefect(f"link_points: malformed pair {tok!r}", points) from None
        if not valid_lonlat(lon, lat):
            raise GeometryDefect(f"link_points: coordinate out of range {tok!r}", points)
        points.append((lon, lat))
    return points


def parse_as_of(text: str, tz: str) -> float:
    text = text.strip()
    try:
        if "T" in text or "-" in text[:5]:
            dt = datetime.fromisoformat(text)
        else:
            dt = datetime.strptime(text, "%m/%d/%Y %H:%M:%S")
    except ValueError:
        raise Rejected(f"data_as_of: unreadable time {text!r}") from None
    if dt.year == SENTINEL_YEAR:
        raise Skipped("no data (1978 sentinel time)")
    if dt.tzinfo is not None:
        return dt.timestamp()
    return local_to_epoch(dt, tz)


class NycTrafficAdapter(CityAdapter):
    name = "traffic"
    domain = "traffic"
    title = "Road speeds (NYC DOT real-time speeds)"
    formats = ("socrata-json", "linkspeedquery")
    kpi_domains = ("traffic",)

    def __init__(self, city, source):
        super().__init__(city, source)
        self.links = {link.id: link for link in city.traffic.links}
        self._meta_published: set[str] = set()
        self._as_of: dict[str, float] = {}

    def parse(self, payload: bytes):
        # A payload's rows share few distinct data_as_of texts (the simulator's and often the real
        # feed's rows all carry one): each is read once per payload.
        self._as_of = {}
        head = payload.lstrip()[:1]
        if head in (b"[", b"{"):
            try:
                rows = orjson.loads(payload)
            except orjson.JSONDecodeError as e:
                raise Rejected(f"not valid JSON: {e}") from None
            if isinstance(rows, dict):  # tolerate a {"data": [...]}-style wrapper
                rows = next((v for v in rows.values() if isinstance(v, list)), None)
            if not isinstance(rows, list):
                raise Rejected("expected a JSON array of link rows")
            return rows
        try:
            text = payload.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Rejected("not UTF-8 text") from None
        try:
            reader = csv.DictReader(io.StringIO(text), delimiter="\t")
            if not reader.fieldnames or not {"linkId", "Speed"} <= {f.strip() for f in reader.fieldnames}:
                raise Rejected("neither JSON nor a tab-separated LinkSpeedQuery with linkId and Speed columns")
            return [{k.strip(): v for k, v in row.items() if k} for row in reader]
        except csv.Error as e:
            raise Rejected(f"tab-separated text unreadable: {e}") from None

    def validate(self, raw) -> Record:
        if not isinstance(raw, dict):
            raise Rejected(f"row is a {type(raw).__name__}, not an object")
        row = raw if LEGACY.keys().isdisjoint(raw) else {LEGACY.get(k, k): v for k, v in raw.items()}
        link_id = str(row.get("link_id") or "").strip()
        if not link_id:
            raise Rejected("missing link_id")
        status = str(row.get("status", "0")).strip()
        if status == NO_DATA_STATUS:
            raise Skipped("no data (status -101)")
        if status not in ("0", ""):
            raise Skipped(f"status {status}")
        speed_mph = number(row.get("speed"), "speed")
        if speed_mph == 0:
            raise Skipped("no data (speed 0)")
        if not 0 < speed_mph <= MAX_SPEED_MPH:
            raise Rejected(f"speed {speed_mph} mph out of range 0-{MAX_SPEED_MPH:g}")
        travel_time = row.get("travel_time")
        travel_time_s = number(travel_time, "travel_time") if travel_time not in (None, "") else None
        as_of_text = row.get("data_as_of")
        if not isinstance(as_of_text, str):
            raise Rejected("missing data_as_of")
        as_of = self._as_of.get(as_of_text)
        if as_of is None:
            as_of = self._as_of[as_of_text] = parse_as_of(as_of_text, self.tz)
        data = {"v": round(speed_mph * MPH_TO_KMH, 2), "t": as_of}
        if travel_time_s is not None:
            data["tt"] = travel_time_s
        warnings = []
        if link_id not in self.links and link_id not in self._meta_published:
            try:
                points = parse_link_points(str(row.get("link_points") or ""))
            except GeometryDefect as e:  # the speed is good; keep it, and the geometry up to the defect
                points = e.points
                warnings.append(f"{e}; geometry cut there")
            if len(points) >= 2:
                mid = polyline_midpoint(points)
                data["meta"] = {"name": str(row.get("link_name") or ""), "points": points, "mid": mid,
                                "district": self.resolve_district(mid, row.get("borough")),
                                "length_m": round(polyline_length_m(points), 1)}
        return Record(link_id, as_of, data, warnings)

    def publish(self, pipe, keys, records):
        latest, stream_rows = {}, []
        for rec in records:
            d = rec.data
            reading = {"v": d["v"], "t": d["t"]}
            if "tt" in d:
                reading["tt"] = d["tt"]
            latest[rec.key] = orjson.dumps(reading)
            meta = d.get("meta")
            if meta is not None:
                pipe.hset(keys.link_meta(), rec.key, orjson.dumps(meta))
                pipe.geoadd(keys.link_geo(), (*meta["mid"], rec.key))
            stream_rows.append({"link": rec.key, "v": d["v"], "t": d["t"]})
        pipe.hset(keys.link_latest(), mapping=latest)
        self.add_readings(pipe, keys, stream_rows)

    def published(self, records):
        self._meta_published.update(rec.key for rec in records if "meta" in rec.data)

    def redis_lost(self):
        self._meta_published.clear()  # learnt links' geometry goes in again with the next batch

    def housekeeping(self, r, keys, now):
        # Redis restarted without persistence (or was flushed): learn the links' geometry again.
        if self._meta_published and r.hlen(keys.link_meta()) < len(self._meta_published):
            self._meta_published.clear()


