"""The read side: every Redis read the pages and the API make. Never writes.

Raises StoreUnavailable when Redis does not answer; callers show "stale" and try again on
the next tick, so a Redis outage never crashes a page.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
import redis

from feeds.config import City
from feeds.geo import polyline_midpoint
from feeds.kpi.catalogue import CATALOGUE, resolve_target
from feeds.kpi.engine import FRESHNESS_INTERVALS, configured_links
from feeds.kpi.status import NO_DATA, STALE, effective_status
from feeds.kpi.traffic import speed_ratio
from feeds.schema import KPI_HISTORY_STEP_S, Keys
from feeds.timeparse import epoch_to_iso

FEED_STATUSES = ("ok", "stale", "error", "never")


class StoreUnavailable(Exception):
    """Redis did not answer."""


@dataclass(frozen=True)
class LinkState:
    id: str
    name: str
    district: str | None
    points: list
    mid: tuple[float, float]  # midpoint along the line (hover marker, GEO)
    free_flow_kmh: float | None
    speed_kmh: float | None
    ratio: float | None
    as_of: float | None


class Store:
    def __init__(self, r: redis.Redis, keys: Keys, city: City):
        self.r = r
        self.keys = keys
        self.city = city
        self.config_links = {link.id: link for link in city.traffic.links}
        self.link_districts = {lid: info.district for lid, info in configured_links(city).items()}
        self.link_midpoints = {link.id: polyline_midpoint(link.points) for link in city.traffic.links}
        self.shared = None  # the web workers' shared cache (dashboard.sharedcache.Shared), set by the app

    def call(self, fn, *args):
        """Run one Redis call; StoreUnavailable when Redis does not answer."""
        return self._call(fn, *args)

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except (redis.RedisError, OSError) as e:
            raise StoreUnavailable(f"{type(e).__name__}: {e}") from None

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except (redis.RedisError, OSError):
            return False

    # --- KPIs ---------------------------------------------------------------------
    def version(self, domain: str | None = None) -> int:
        """The KPI version counter: all KPIs, or one domain's (which other domains' writes leave alone)."""
        return int(self._call(self.r.get, self.keys.kpi_version(domain)) or 0)

    def kpi_values(self) -> dict[str, dict]:
        raw = self._call(self.r.hgetall, self.keys.kpi_values())
        return {k: orjson.loads(v) for k, v in raw.items()}

    def kpis(self, now: float | None = None, domain: str | None = None, values: dict | None = None) -> list[dict]:
        """Every catalogued KPI in the API shape, ``no_data`` where nothing was computed yet."""
        now = time.time() if now is None else now
        values = self.kpi_values() if values is None else values
        out = []
        for kdef in CATALOGUE.values():
            if domain and kdef.domain != domain:
                continue
            out.append(self._shape(kdef, values.get(kdef.id), now))
        return out

    def _shape(self, kdef, stored: dict | None, now: float) -> dict:
        target, warn = resolve_target(kdef, self.city.targets)
        status = effective_status(stored, now)
        by_district = {}
        for d in self.city.district_ids():
            dv = (stored or {}).get("by_district", {}).get(d)
            if dv is None or dv.get("value") is None:
                by_district[d] = {"value": None, "status": NO_DATA}
            else:
                by_district[d] = {"value": dv["value"], "status": STALE if status == STALE else dv["status"]}
        as_of = (stored or {}).get("as_of")
        return {
            "id": kdef.id, "domain": kdef.domain, "name": kdef.name,
            "value": (stored or {}).get("value"), "unit": kdef.unit, "target": target, "warn": warn,
            "direction": kdef.direction, "status": status, "as_of": epoch_to_iso(as_of),
            "age_s": round(now - as_of, 1) if as_of is not None else None,
            "window": kdef.window, "standard": kdef.standard, "definition": kdef.definition,
            "clock": kdef.clock, "decimals": kdef.decimals, "by_district": by_district,
            "detail": (stored or {}).get("detail", {}),
        }

    def kpi(self, kpi_id: str, since: float | None = None, now: float | None = None) -> dict | None:
        kdef = CATALOGUE.get(kpi_id)
        if kdef is None:
            return None
        now = time.time() if now is None else now
        stored = self.kpi_values().get(kpi_id)
        out = self._shape(kdef, stored, now)
        out["history"] = self.history(kpi_id, since)
        return out

    def history(self, kpi_id: str, since: float | None = None) -> list[dict]:
        # Scores are minute buckets; a point's own time can be later in its minute, so filter on it.
        lo = "-inf" if since is None else since - KPI_HISTORY_STEP_S
        points = [orjson.loads(p) for p in self._call(self.r.zrangebyscore, self.keys.kpi_history(kpi_id), lo, "+inf")]
        return [{"t": epoch_to_iso(p["t"]), "value": p["v"], "status": p["s"]} for p in points
                if since is None or p["t"] >= since]

    def histories(self, kpi_ids: list[str], last: int = 60) -> dict[str, list[float]]:
        """The last ``last`` values of several KPIs in one round trip (sparklines)."""
        pipe = self.r.pipeline(transaction=False)
        for kid in kpi_ids:
            pipe.zrange(self.keys.kpi_history(kid), -last, -1)
        rows = self._call(pipe.execute)
        return {kid: [orjson.loads(p)["v"] for p in pts] for kid, pts in zip(kpi_ids, rows)}

    # --- feeds --------------------------------------------------------------------
    def feeds(self, now: float | None = None) -> list[dict]:
        now = time.time() if now is None else now
        names = sorted(self._call(self.r.smembers, self.keys.feeds()))
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self.keys.feed_health(name))
        out = []
        for name, h in zip(names, self._call(pipe.execute)):
            out.append(feed_status(name, h, now))
        return out

    # --- traffic ------------------------------------------------------------------
    def link_readings(self) -> tuple[dict[str, dict], dict[str, str]]:
        """(link id -> newest reading {"v", "t", ...}, learnt link id -> its raw meta JSON), one round trip."""
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(self.keys.link_latest())
        pipe.hgetall(self.keys.link_meta())
        latest, meta = self._call(pipe.execute)
        return {lid: orjson.loads(v) for lid, v in latest.items()}, meta

    def links(self, district: str | None = None, readings=None) -> list[LinkState]:
        """Every link (configured, then learnt from a feed) with its newest reading; ``district``: only
        that district's; ``readings``: what link_readings() returned, if already read."""
        latest, meta = self.link_readings() if readings is None else readings
        out = []
        for lid, link in self.config_links.items():
            if district is not None and self.link_districts[lid] != district:
                continue
            reading = latest.get(lid)
            speed = reading["v"] if reading else None
            out.append(LinkState(lid, link.name, self.link_districts[lid], link.points, self.link_midpoints[lid],
                                 link.free_flow_kmh, speed,
                                 speed_ratio(speed, link.free_flow_kmh) if speed else None,
                                 reading["t"] if reading else None))
        for lid, m in meta.items():
            if lid in self.config_links:
                continue
            m = orjson.loads(m)
            if district is not None and m.get("district") != district:
                continue
            reading = latest.get(lid)
            mid = tuple(m["mid"]) if "mid" in m else polyline_midpoint(m["points"])
            out.append(LinkState(lid, m.get("name", ""), m.get("district"), m["points"], mid, None,
                                 reading["v"] if reading else None, None, reading["t"] if reading else None))
        return out

    def open_road_incidents(self) -> list[dict]:
        ids = sorted(self._call(self.r.smembers, self.keys.road_incidents_open()))
        if not ids:
            return []
        return [orjson.loads(v) for v in self._call(self.r.hmget, self.keys.road_incidents(), ids) if v]

    def dead_letters(self, count: int = 50) -> list[dict]:
        rows = self._call(self.r.xrevrange, self.keys.deadletter(), "+", "-", count)
        return [{"id": rid, **fields} for rid, fields in rows]


def feed_status(name: str, h: dict, now: float) -> dict:
    """A feed's health as shown: error (last poll failed), stale (no success, or for readings feeds
    no new data, within 3 intervals), never (not run yet), else ok."""
    interval = float(h.get("interval_s") or 60)
    limit = FRESHNESS_INTERVALS * interval
    last_success = float(h["last_success"]) if h.get("last_success") else None
    last_attempt = float(h["last_attempt"]) if h.get("last_attempt") else None
    newest = float(h["newest"]) if h.get("newest") else None
    lag = round(now - newest, 1) if newest is not None else None
    if h.get("last_error") and (last_success is None or (last_attempt or 0) > last_success):
        status = "error"
    elif last_success is None:
        status = "never"
    elif now - last_success > limit or (h.get("lag_means_stale", "1") == "1" and lag is not None and lag > limit):
        status = "stale"
    else:
        status = "ok"
    return {
        "name": name, "domain": h.get("domain", ""), "title": h.get("title", ""), "status": status,
        "last_success": epoch_to_iso(last_success), "last_error": h.get("last_error") or None,
        "records": int(h.get("records", 0)), "rejected": int(h.get("rejected", 0)),
        "duplicates": int(h.get("duplicates", 0)), "skipped": int(h.get("skipped", 0)),
        "warnings": int(h.get("warnings", 0)), "newest": epoch_to_iso(newest), "lag_s": lag,
        "interval_s": interval, "age_s": round(now - last_success, 1) if last_success is not None else None,
        "last_batch": orjson.loads(h["last_batch"]) if h.get("last_batch") else None,
    }
