"""Road incidents in a small generic JSON form, for a city's own traffic management system.

None of the public speed feeds carries incidents (feed-formats.md §1.2), so cities push them
as a JSON array (or {"incidents": [...]}) of objects:

    {"id": "RI-17", "type": "crash", "status": "open" | "closed", "severity": "minor",
     "lat": 40.71, "lon": -74.0, "opened": "2026-11-21T07:02:00-05:00",
     "updated": "...", "closed": "...", "description": "2 lanes blocked"}

Times are ISO-8601 (an offset-less time is local to the feed's time zone) or epoch seconds.
"""
from __future__ import annotations

import math

import orjson

from feeds.adapters.base_city import CityAdapter
from feeds.framework import Record, Rejected
from feeds.geo import valid_lonlat
from feeds.schema import ROAD_INCIDENT_RETENTION_S
from feeds.timeparse import iso_to_epoch

STATUSES = ("open", "closed")
SEVERITIES = ("minor", "major", "critical")


class RoadIncidentsAdapter(CityAdapter):
    name = "road-incidents"
    domain = "traffic"
    title = "Road incidents (generic JSON)"
    formats = ("incident-json",)
    kpi_domains = ("traffic",)

    def parse(self, payload: bytes):
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            raise Rejected(f"not valid JSON: {e}") from None
        if isinstance(doc, dict) and isinstance(doc.get("incidents"), list):
            doc = doc["incidents"]
        if not isinstance(doc, list):
            raise Rejected("expected a JSON array of incidents (or {\"incidents\": [...]})")
        return doc

    def _time(self, raw: dict, field: str, required: bool = False) -> float | None:
        value = raw.get(field)
        if value in (None, ""):
            if required:
                raise Rejected(f"missing {field}")
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise Rejected(f"{field}: not finite")
            return float(value)
        if isinstance(value, str):
            try:
                return iso_to_epoch(value, self.tz)
            except ValueError:
                pass
        raise Rejected(f"{field}: unreadable time {value!r}")

    def validate(self, raw) -> Record:
        if not isinstance(raw, dict):
            raise Rejected(f"incident is a {type(raw).__name__}, not an object")
        incident_id = str(raw.get("id") or "").strip()
        if not incident_id:
            raise Rejected("missing id")
        status = str(raw.get("status", "open")).lower()
        if status not in STATUSES:
            raise Rejected(f"status {raw.get('status')!r} is not open or closed")
        try:
            lat, lon = float(raw["lat"]), float(raw["lon"])
        except (KeyError, TypeError, ValueError):
            raise Rejected("lat/lon missing or not numbers") from None
        if not valid_lonlat(lon, lat):
            raise Rejected(f"lat/lon out of range ({lat}, {lon})")
        severity = str(raw.get("severity", "minor")).lower()
        if severity not in SEVERITIES:
            raise Rejected(f"severity {raw.get('severity')!r} is not one of {', '.join(SEVERITIES)}")
        opened = self._time(raw, "opened", required=True)
        closed = self._time(raw, "closed")
        updated = self._time(raw, "updated")
        version = max(t for t in (opened, closed, updated) if t is not None)
        data = {"id": incident_id, "type": str(raw.get("type") or "incident")[:60], "status": status,
                "severity": severity, "lat": lat, "lon": lon, "opened": opened, "closed": closed,
                "updated": version, "description": str(raw.get("description") or "")[:500],
                "district": self.resolve_district((lon, lat), raw.get("district"))}
        return Record(incident_id, version, data)

    def publish(self, pipe, keys, records):
        pipe.hset(keys.road_incidents(), mapping={rec.key: orjson.dumps(rec.data) for rec in records})
        opened = [rec.key for rec in records if rec.data["status"] == "open"]
        closed = [rec.key for rec in records if rec.data["status"] == "closed"]
        if opened:
            pipe.sadd(keys.road_incidents_open(), *opened)
            pipe.geoadd(keys.road_incidents_geo(),
                        [x for rec in records if rec.data["status"] == "open"
                         for x in (rec.data["lon"], rec.data["lat"], rec.key)])
        if closed:
            pipe.srem(keys.road_incidents_open(), *closed)
            pipe.zrem(keys.road_incidents_geo(), *closed)
            pipe.zadd(keys.road_incidents_closed(), {rec.key: rec.data["closed"] or rec.version
                                                     for rec in records if rec.data["status"] == "closed"})
        self.add_readings(pipe, keys, [{"incident": rec.key, "status": rec.data["status"], "t": rec.version}
                                       for rec in records])

    def housekeeping(self, r, keys, now):
        """Forget incidents closed more than ROAD_INCIDENT_RETENTION_S ago (their readings stay in the stream)."""
        old = r.zrangebyscore(keys.road_incidents_closed(), "-inf", now - ROAD_INCIDENT_RETENTION_S)
        if old:
            pipe = r.pipeline(transaction=False)
            pipe.hdel(keys.road_incidents(), *old)
            pipe.hdel(keys.seen(self.domain, self.name), *old)
            pipe.zrem(keys.road_incidents_closed(), *old)
            pipe.execute()
