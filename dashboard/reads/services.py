"""Redis reads of the services page and API (read only; StoreUnavailable when Redis is down)."""
from __future__ import annotations

import time
from datetime import timedelta

import orjson

from feeds.adapters.service_queues import SLOT_MIN, SLOTS_VERSION_FIELD
from feeds.kpi.services import QueueState, event_queues, visits_from_hash
from feeds.service_centres import services_config

SLOTS_PER_HOUR = 60 // SLOT_MIN


def centres(store, kpis: dict[str, dict]) -> list[dict]:
    """Every centre (configured, then learnt from feeds) with its live figures from the KPI detail."""
    cfg = services_config(store.city)
    learnt = {k: orjson.loads(v) for k, v in store.call(store.r.hgetall, store.keys.centres_learnt()).items()}
    detail = (kpis.get("services.people_waiting") or {}).get("detail", {}).get("by_centre", {})
    served = (kpis.get("services.served_within_target_pct") or {}).get("detail", {}).get("by_centre", {})
    age = (kpis.get("services.people_waiting") or {}).get("age_s")
    out = []
    now_local = cfg.local(time.time())
    for c in cfg.centres.values():
        d = detail.get(c.id)
        if d is None:  # no figures yet (nothing ever reported): open or closed by its hours now
            d = {"reporting": False, "open_now": c.is_open(now_local)}
        row = _centre_row(c.id, c.name or c.id, c.lon, c.lat, cfg.districts.get(c.id), c.counters,
                          c.hours_text(), d, served.get(c.id), age)
        if not c.is_open(now_local):
            row["next_opens"] = c.next_opening(now_local)
        out.append(row)
    for cid, m in sorted(learnt.items()):
        if cid in cfg.centres:
            continue
        out.append(_centre_row(cid, m.get("name") or cid, m.get("lon"), m.get("lat"), m.get("district"), None, None,
                               detail.get(cid), served.get(cid), age))
    return out


def _centre_row(cid, name, lon, lat, district, counters, hours, d, served, age) -> dict:
    d = d or {}
    return {"id": cid, "name": name, "lon": lon, "lat": lat, "district": district, "hours": hours,
            "counters_configured": counters, "reporting": bool(d.get("reporting")),
            "open_now": bool(d.get("open_now", d.get("reporting"))),
            "waiting": d.get("waiting"), "wait_min": d.get("wait"), "open_counters": d.get("open_counters"),
            "scheduled_counters": d.get("scheduled"), "served_within_target_pct": served,
            "age_s": age}


def queues(store, centre: str, as_of: float | None) -> list[QueueState]:
    """A centre's queues: the snapshot feed's, else derived from today's visit events."""
    raw = store.call(store.r.hgetall, store.keys.queue_latest())
    out = []
    for v in raw.values():
        q = orjson.loads(v)
        if q["centre"] == centre:
            out.append(QueueState(q["centre"], q["queue"], q.get("name") or q["queue"], q["waiting"], q.get("counters"),
                                  q.get("wait"), q["status"], q["t"], "snapshot", q.get("serving")))
    if out or as_of is None:
        return sorted(out, key=lambda q: (-q.waiting, q.name))
    cfg = services_config(store.city)
    visits = visits_from_hash(store.call(store.r.hgetall, store.keys.visits(cfg.local(as_of).strftime("%Y-%m-%d"))))
    mine = {k: v for k, v in visits.items() if k[0] == centre}
    return sorted(event_queues(mine, as_of), key=lambda q: -q.waiting)


def _slot_means(raw: dict[str, str]) -> dict[str, dict[int, float]]:
    """Wait slots hash -> {centre: {slot: mean wait}}; snapshot samples win over event samples."""
    acc: dict[tuple[str, int], dict[str, float]] = {}
    for fld, v in raw.items():
        if fld == SLOTS_VERSION_FIELD:
            continue
        centre, slot, kind = fld.rsplit("|", 2)
        acc.setdefault((centre, int(slot)), {})[kind] = float(v)
    out: dict[str, dict[int, float]] = {}
    for (centre, slot), f in acc.items():
        if "n" in f and "w" in f:
            mean = f.get("s", 0.0) / f["w"] if f["w"] else 0.0
        elif f.get("ew"):
            mean = f.get("es", 0.0) / f["ew"]
        else:
            continue
        out.setdefault(centre, {})[slot] = mean
    return out


def _hourly(slots: dict[int, float]) -> dict[int, float]:
    by_hour: dict[int, list[float]] = {}
    for slot, mean in slots.items():
        by_hour.setdefault(slot // SLOTS_PER_HOUR, []).append(mean)
    return {h: sum(v) / len(v) for h, v in by_hour.items()}


def wait_days(store, as_of: float | None) -> tuple[str, str] | None:
    """The local day of the newest queue data, and the same weekday a week before it."""
    if as_of is None:
        return None
    local = services_config(store.city).local(as_of)
    return local.strftime("%Y-%m-%d"), (local - timedelta(days=7)).strftime("%Y-%m-%d")


def wait_slots(store, as_of: float | None) -> dict:
    """Mean wait per centre per 15-minute slot: {"today": {centre: {slot: min}}, "last_week": ..., "days"}."""
    days = wait_days(store, as_of)
    if days is None:
        return {"today": {}, "last_week": {}, "days": None}
    names = [store.keys.wait_slots(d) for d in days]
    pipe = store.r.pipeline(transaction=False)
    for name in names:
        pipe.hget(name, SLOTS_VERSION_FIELD)
    versions = store.call(pipe.execute)
    means = []
    for name, version in zip(names, versions):
        hit = _SLOTS_CACHE.get(name)
        if version is not None and hit is not None and hit[0] == version:
            means.append(hit[1])  # unchanged since parsed: a day's hash is tens of thousands of fields
            continue
        parsed = _slot_means(store.call(store.r.hgetall, name))
        if version is not None:
            if len(_SLOTS_CACHE) > 32:
                _SLOTS_CACHE.clear()
            _SLOTS_CACHE[name] = (version, parsed)
        means.append(parsed)
    return {"today": means[0], "last_week": means[1], "days": days}


_SLOTS_CACHE: dict[str, tuple[str, dict]] = {}  # wait-slots key -> (its version, parsed means); read only


def wait_grid(slots: dict) -> dict:
    """Mean wait by hour x centre from ``wait_slots``: {"today": {centre: {hour: min}}, "last_week", "days"}."""
    return {"today": {c: _hourly(s) for c, s in slots["today"].items()},
            "last_week": {c: _hourly(s) for c, s in slots["last_week"].items()}, "days": slots["days"]}


def wait_curve(slots: dict, centre: str) -> dict:
    """A centre's wait by 15-minute slot today and on the same weekday last week, from ``wait_slots``."""
    return {"today": slots["today"].get(centre, {}), "last_week": slots["last_week"].get(centre, {}),
            "days": slots["days"]}


def open_requests(store, type_name: str | None = None) -> list[dict]:
    """Open requests, all or of one type (then only that type's set is read)."""
    key = store.keys.service_requests_open() if type_name is None else store.keys.service_requests_open_of_type(type_name)
    ids = sorted(store.call(store.r.smembers, key))
    if not ids:
        return []
    rows = [orjson.loads(v) for v in store.call(store.r.hmget, store.keys.service_requests(), ids) if v]
    if type_name is not None:  # a request whose type changed while open may linger in its old set
        rows = [x for x in rows if x.get("type") == type_name and x.get("status") == "open"]
    return rows


def requests_by_status(store, status: str) -> list[dict]:
    if status == "open":
        return open_requests(store)
    ids = store.call(store.r.zrange, store.keys.service_requests_closed(), 0, -1)
    if not ids:
        return []
    return [orjson.loads(v) for v in store.call(store.r.hmget, store.keys.service_requests(), ids) if v]
