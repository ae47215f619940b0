"""Road incidents in a small generic JSON form, for a city's own traffic management system.

None of the public speed feeds carries incidents (feed-formats.md §1.2), so cities push them
as a JSON array (or {"incidents": [...]}) of objects:

    {"id": "RI-17", "type": "crash", "status": "open" | "closed", "severity": "minor",
     "lat": 40.71, "lon": -74.0, "opened": "2026-11-21T07:02:00-05:00",
     "updated": "...", "closed": "...", "description": "2 lanes blocked"}

Times are ISO-8601 (an offset-less time is local to the feed's time zone) or epoch seconds.

With ``feeds.road-incidents.options.snapshot: true`` each payload is the complete list of current
incidents: an open incident missing from it is closed (a "current incidents" endpoint drops cleared
ones instead of sending them as closed). Without it, incidents close only by a "closed" row.
"""
from __future__ import annotations

import hashlib
import time

import orjson

from feeds.adapters.base_city import CityAdapter
from feeds.framework import Record, Rejected, Skipped, record_time
from feeds.geo import valid_lonlat
from feeds.schema import ROAD_INCIDENT_RETENTION_S

STATUSES = ("open", "closed")
SEVERITIES = ("minor", "major", "critical")


class RoadIncidentsAdapter(CityAdapter):
    name = "road-incidents"
    domain = "traffic"
    title = "Road incidents (generic JSON)"
    formats = ("incident-json",)
    kpi_domains = ("traffic",)
    lag_means_stale = False  # no new incident for an hour is good news, not a stale feed

    def __init__(self, city, source):
        super().__init__(city, source)
        self.snapshot = bool(source.options.get("snapshot", False))
        self._payload_ids: set[str] | None = None  # ids in the last readable payload (snapshot mode)

    def parse(self, payload: bytes):
        self._payload_ids = None
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            raise Rejected(f"not valid JSON: {e}") from None
        if isinstance(doc, dict) and isinstance(doc.get("incidents"), list):
            doc = doc["incidents"]
        if not isinstance(doc, list):
            raise Rejected("expected a JSON array of incidents (or {\"incidents\": [...]})")
        # Every id named, valid or not: a rejected row must not close its incident.
        self._payload_ids = {str(row.get("id")).strip() for row in doc if isinstance(row, dict) and row.get("id")}
        return doc

    def _time(self, raw: dict, field: str, required: bool = False) -> float | None:
        value = raw.get(field)
        if value in (None, ""):
            if required:
                raise Rejected(f"missing {field}")
            return None
        return record_time(value, field, self.tz)

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
        if status == "closed" and (closed or version) < time.time() - ROAD_INCIDENT_RETENTION_S:
            raise Skipped("closed before the retention window")
        data = {"id": incident_id, "type": str(raw.get("type") or "incident")[:60], "status": status,
                "severity": severity, "lat": lat, "lon": lon, "opened": opened, "closed": closed,
                "updated": version, "description": str(raw.get("description") or "")[:500],
                "district": self.resolve_district((lon, lat), raw.get("district"))}
        # Same time, other content (severity raised, no "updated" field) is an update, not a duplicate.
        fingerprint = hashlib.blake2b(orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
        return Record(incident_id, version, data, fingerprint=fingerprint)

    def publish(self, pipe, keys, records):
        pipe.hset(keys.road_incidents(), mapping={rec.key: orjson.dumps(rec.data) for rec in records})
        opened = [rec for rec in records if rec.data["status"] == "open"]
        closed = [rec for rec in records if rec.data["status"] == "closed"]
        if opened:
            ids = [rec.key for rec in opened]
            pipe.sadd(keys.road_incidents_open(), *ids)
            pipe.zrem(keys.road_incidents_closed(), *ids)  # reopened: no longer due for retention
            pipe.geoadd(keys.road_incidents_geo(), [x for rec in opened for x in (rec.data["lon"], rec.data["lat"], rec.key)])
        if closed:
            ids = [rec.key for rec in closed]
            pipe.srem(keys.road_incidents_open(), *ids)
            pipe.zrem(keys.road_incidents_geo(), *ids)
            pipe.zadd(keys.road_incidents_closed(), {rec.key: rec.data["closed"] or rec.version for rec in closed})
        self.add_readings(pipe, keys, [{"incident": rec.key, "status": rec.data["status"], "t": rec.version}
                                       for rec in records])

    def housekeeping(self, r, keys, now):
        """Close incidents a snapshot no longer lists; forget incidents closed over a week ago."""
        if self.snapshot and self._payload_ids is not None:
            gone = sorted(set(r.smembers(keys.road_incidents_open())) - self._payload_ids)
            if gone:
                pipe = r.pipeline(transaction=False)
                for iid, raw in zip(gone, r.hmget(keys.road_incidents(), gone)):
                    inc = orjson.loads(raw) if raw else {"id": iid}
                    inc.update(status="closed", closed=now, updated=now)
                    pipe.hset(keys.road_incidents(), iid, orjson.dumps(inc))
                    pipe.hset(keys.seen(self.domain, self.name), iid, repr(now))
                pipe.srem(keys.road_incidents_open(), *gone)
                pipe.zrem(keys.road_incidents_geo(), *gone)
                pipe.zadd(keys.road_incidents_closed(), {iid: now for iid in gone})
                pipe.execute()
        old = r.zrangebyscore(keys.road_incidents_closed(), "-inf", now - ROAD_INCIDENT_RETENTION_S)
        if old:
            pipe = r.pipeline(transaction=False)
            pipe.hdel(keys.road_incidents(), *old)
            pipe.hdel(keys.seen(self.domain, self.name), *old)
            pipe.zrem(keys.road_incidents_closed(), *old)
            pipe.execute()
