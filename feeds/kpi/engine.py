"""The KPI engine: computes each KPI once per input update and stores it for every reader.

Stored value (hash ``kpi_values``, JSON per KPI id):
  value, as_of (newest input time), computed_at, fresh_until (as_of + freshness limit; for a
  composite the earliest of its inputs), status (judged when computed), target, warn,
  by_district {district: {value, status}}, inputs (count), detail.
Readers only turn a value ``stale`` once ``fresh_until`` has passed (feeds.kpi.status).
"""
from __future__ import annotations

import math
import time

import orjson
import redis

from feeds.config import City
from feeds.geo import district_of, polyline_length_m, polyline_midpoint
from feeds.kpi.catalogue import CATALOGUE, resolve_target
from feeds.kpi.status import BREACH, NO_DATA, STALE, effective_status, judge, score_of
from feeds.kpi.base import Computed
from feeds.kpi.traffic import LinkInfo
from feeds.plugins import domain_modules
from feeds.schema import KPI_HISTORY_RETENTION_S, KPI_HISTORY_STEP_S, Keys

FRESHNESS_INTERVALS = 3  # kpis.md: stale when the newest input is older than 3 x the feed's interval
DEFAULT_INTERVAL_S = 60.0


def configured_links(city: City) -> dict[str, LinkInfo]:
    out = {}
    for link in city.traffic.links:
        district = link.district or district_of(polyline_midpoint(link.points), city.districts)
        out[link.id] = LinkInfo(link.id, district, polyline_length_m(link.points), link.free_flow_kmh)
    return out


class KpiEngine:
    def __init__(self, r: redis.Redis, keys: Keys, city: City):
        self.r = r
        self.keys = keys
        self.city = city
        self.links = configured_links(city)
        self.district_ids = city.district_ids()
        from feeds.alert_rules import Evaluator

        self.alerts = Evaluator(r, keys, city)  # alert rules judged after every recompute (a bad rule: ConfigError)

    # --- inputs -----------------------------------------------------------------------
    def freshness(self, health: dict) -> float:
        """Seconds a value stays fresh after its newest input: 3 x the feed's interval."""
        return FRESHNESS_INTERVALS * float(health.get("interval_s") or DEFAULT_INTERVAL_S)

    def feed_health(self, feed: str) -> dict:
        return self.r.hgetall(self.keys.feed_health(feed))

    # Each domain's computer is ``feeds.kpi.<domain>.compute(engine)`` (see feeds.plugins).
    COMPUTERS = {d: m.compute for d, m in domain_modules("feeds.kpi", "compute").items()}

    # --- compute and store --------------------------------------------------------------
    def recompute(self, domains=("traffic",), now: float | None = None) -> dict[str, dict]:
        """Recompute the KPIs of ``domains`` and ``city.score``; returns what was stored."""
        now = time.time() if now is None else now
        stored: dict[str, dict] = {}
        for domain in domains:
            compute = self.COMPUTERS.get(domain)
            if compute is None:
                continue
            for kpi_id, (c, freshness) in compute(self).items():
                stored[kpi_id] = self._judged(kpi_id, c, freshness, now)
        current = {k: orjson.loads(v) for k, v in self.r.hgetall(self.keys.kpi_values()).items()}
        current.update(stored)
        stored["city.score"] = self._city_score(current, now)
        self._store(stored)
        current["city.score"] = stored["city.score"]
        self.alerts.run(now, values=current)  # the values just read and written: no second read
        return stored

    def _judged(self, kpi_id: str, c: Computed, freshness: float, now: float) -> dict:
        kdef = CATALOGUE[kpi_id]
        target, warn = resolve_target(kdef, self.city.targets)
        value = _clean(c.value)
        return {
            "id": kpi_id, "value": value, "as_of": c.as_of, "computed_at": now,
            "fresh_until": c.as_of + freshness if c.as_of is not None else None,
            "status": judge(value, kdef.direction, target, warn), "target": target, "warn": warn,
            "by_district": {d: {"value": _clean(v), "status": judge(_clean(v), kdef.direction, target, warn)}
                            for d, v in c.by_district.items()},
            "inputs": c.inputs, "detail": c.detail,
        }

    def _city_score(self, values: dict[str, dict], now: float) -> dict:
        """Boston CityScore: mean of each targeted KPI's capped value/target; stale if any input is."""
        terms, fresh_until, as_of = [], [], []
        district_terms: dict[str, list[float]] = {d: [] for d in self.district_ids}
        for kpi_id, v in values.items():
            kdef = CATALOGUE.get(kpi_id)
            if kdef is None or kpi_id == "city.score" or kdef.direction == "none" or v.get("target") is None:
                continue
            if effective_status(v, now) == NO_DATA:
                continue
            s = score_of(v["value"], kdef.direction, v["target"])
            terms.append({"id": kpi_id, "score": round(s, 3), "status": effective_status(v, now)})
            fresh_until.append(v["fresh_until"])
            as_of.append(v["as_of"])
            for d, dv in v.get("by_district", {}).items():
                if dv.get("value") is not None and d in district_terms:
                    district_terms[d].append(score_of(dv["value"], kdef.direction, v["target"]))
        kdef = CATALOGUE["city.score"]
        target, warn = resolve_target(kdef, self.city.targets)
        value = sum(t["score"] for t in terms) / len(terms) if terms else None
        by_district = {}
        for d, ss in district_terms.items():
            dv = sum(ss) / len(ss) if ss else None
            by_district[d] = {"value": _clean(dv), "status": judge(_clean(dv), "higher", target, warn)}
        terms.sort(key=lambda t: t["score"])  # worst first: what drags the score down
        return {
            "id": "city.score", "value": _clean(value), "as_of": min(as_of) if as_of else None, "computed_at": now,
            "fresh_until": min(fresh_until) if fresh_until else None,
            "status": judge(_clean(value), "higher", target, warn), "target": target, "warn": warn,
            "by_district": by_district, "inputs": len(terms),
            "detail": {"breakdown": terms, "stale_inputs": [t["id"] for t in terms if t["status"] == STALE],
                       "breaching": [t["id"] for t in terms if t["status"] == BREACH]},
        }

    def _store(self, stored: dict[str, dict]) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(self.keys.kpi_values(), mapping={k: orjson.dumps(v) for k, v in stored.items()})
        for kpi_id, v in stored.items():
            if v["value"] is None or v["as_of"] is None:
                continue
            key = self.keys.kpi_history(kpi_id)
            # A KPI's trend runs on its data's time; the composite's on when it was computed, since its
            # as_of (the oldest input) stands still while any input is stale.
            t = v["computed_at"] if kpi_id == "city.score" else v["as_of"]
            bucket = math.floor(t / KPI_HISTORY_STEP_S) * KPI_HISTORY_STEP_S
            point = orjson.dumps({"t": t, "v": v["value"], "s": v["status"]})
            pipe.zremrangebyscore(key, bucket, bucket)  # the newest value of each step wins
            pipe.zadd(key, {point: bucket})
            pipe.zremrangebyscore(key, "-inf", f"({bucket - KPI_HISTORY_RETENTION_S}")
        pipe.incr(self.keys.kpi_version())
        for domain in {CATALOGUE[k].domain for k in stored if k in CATALOGUE} - {"city"}:
            pipe.incr(self.keys.kpi_version(domain))
        pipe.execute()


def _clean(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, 6)
