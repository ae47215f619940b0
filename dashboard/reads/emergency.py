"""The emergency domain's Redis reads, for the /emergency page and the API (read only).

Every function goes through ``store.call`` so an unreachable Redis raises StoreUnavailable.
"""
from __future__ import annotations

import orjson

from feeds.adapters.emergency import audit_changes, emergency_config, unit_directory

CLOSED_SHOWN = 200  # newest closed incidents a list returns at most


def _pipe(store, *calls):
    def run():
        pipe = store.r.pipeline(transaction=False)
        for fn, args in calls:
            getattr(pipe, fn)(*args)
        return pipe.execute()
    return store.call(run)


def active_incidents(store) -> list[dict]:
    k = store.keys

    def run():
        ids = sorted(store.r.smembers(k.emergency_incidents_active()))
        return [orjson.loads(v) for v in store.r.hmget(k.emergency_incidents(), ids) if v] if ids else []
    return store.call(run)


def closed_incidents(store, limit: int = CLOSED_SHOWN) -> list[dict]:
    """Newest closed first."""
    k = store.keys

    def run():
        ids = store.r.zrevrange(k.emergency_incidents_closed(), 0, limit - 1)
        return [orjson.loads(v) for v in store.r.hmget(k.emergency_incidents(), ids) if v] if ids else []
    return store.call(run)


def incident(store, incident_id: str) -> dict | None:
    raw = store.call(store.r.hget, store.keys.emergency_incidents(), incident_id)
    return orjson.loads(raw) if raw else None


def units(store) -> list[dict]:
    """The unit board, with configured units that have not reported yet as status None."""
    raw = store.call(store.r.hgetall, store.keys.emergency_units())
    board = {u: orjson.loads(v) for u, v in raw.items()}
    for uid, conf in unit_directory(store.city).items():
        if uid not in board:
            board[uid] = {"id": uid, "station": conf["station"], "station_name": conf["station_name"],
                          "type": conf["type"], "status": None, "since": None, "incident": None,
                          "lon": conf["home"][0], "lat": conf["home"][1], "district": conf["district"]}
        else:
            board[uid].setdefault("station_name", conf["station_name"])
            board[uid]["station_name"] = board[uid].get("station_name") or conf["station_name"]
    return sorted(board.values(), key=lambda u: (u.get("station") or "~", u["id"]))


def recent_audit(store, count: int = 40) -> list[dict]:
    """The newest changes, newest first (an audit entry holds one incident's changes of one batch)."""
    rows = store.call(store.r.xrevrange, store.keys.emergency_audit(), "+", "-", count)
    return sorted(audit_changes(rows), key=lambda a: -a["t"])[:count]


def config(store):
    return emergency_config(store.city)
