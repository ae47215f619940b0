"""The environment domain's Redis reads (page and API). Read only; StoreUnavailable when Redis is down."""
from __future__ import annotations

import math
import time

import orjson

from feeds.environment import configured_stations, env_conf
from feeds.kpi.environment import station_history

HISTORY_HOURS = 24


def _current_flags(stations: list[dict], city) -> None:
    """Mark each station ``current`` when it counts toward the KPIs (same windows as the KPIs)."""
    conf = env_conf(city)
    window = {"air": conf.air_window_s, "noise": conf.noise_window_current_s, "water": conf.water_window_s}
    newest = {}
    for s in stations:
        if s.get("as_of") is not None:
            newest[s["kind"]] = max(newest.get(s["kind"], 0), s["as_of"])
    for s in stations:
        t = s.get("as_of")
        s["current"] = t is not None and t >= newest[s["kind"]] - window[s["kind"]]


def stations(store, kind: str | None = None, district: str | None = None) -> list[dict]:
    """Every station (configured or learnt from a feed) with its derived state; configured stations
    without any reading yet are listed with ``as_of`` None."""
    pipe = store.r.pipeline(transaction=False)
    pipe.hgetall(store.keys.env_state())
    pipe.hgetall(store.keys.env_stations())
    raw_states, raw_meta = store.call(pipe.execute)
    out: dict[str, dict] = {}
    for sid, meta in configured_stations(store.city).items():
        out[sid] = {**meta, "as_of": None}
    for sid, v in raw_meta.items():
        out.setdefault(sid, {**orjson.loads(v), "as_of": None})
    for sid, v in raw_states.items():
        state = orjson.loads(v)
        base = out.get(sid, {})
        # The state carries the place as known when it was derived; configured meta wins for names.
        out[sid] = {**state, **{k: base[k] for k in ("name", "lat", "lon", "district") if base.get(k) is not None}}
    rows = list(out.values())
    _current_flags(rows, store.city)
    return [s for s in rows if (kind is None or s["kind"] == kind) and (district is None or s.get("district") == district)]


def station(store, sid: str, rows: list[dict] | None = None) -> dict | None:
    """One station with its history: air -> hourly means, NowCast and AQI per clock hour (24 h);
    noise and water -> their readings of the last 24 h. ``rows``: every station, when the caller has
    just read them (the page refresh does), so they are not read and decoded twice."""
    found = next((s for s in (stations(store) if rows is None else rows) if s["id"] == sid), None)
    if found is not None:
        found = dict(found)
    if found is None:
        return None
    if found["kind"] == "air":
        raw = store.call(store.r.hget, store.keys.env_hourly(), sid)
        sums = orjson.loads(raw) if raw else {}
        end = found.get("hour")
        if end is None:
            end = math.floor(time.time() / 3600) * 3600
        found["history"] = station_history(sums, end, HISTORY_HOURS) if sums else []
    else:
        end = found.get("as_of") or time.time()
        rows = store.call(store.r.zrangebyscore, store.keys.env_series(sid), end - HISTORY_HOURS * 3600, "+inf")
        found["history"] = [orjson.loads(x) for x in rows]
    return found
