"""The transit domain's Redis reads for the /transit page and the API (read only).

Every function takes the page's ``Store`` and raises StoreUnavailable (through ``store.call``) when
Redis does not answer.
"""
from __future__ import annotations

import orjson

from feeds.adapters.transit_gtfs import transit_config

_ROUTES_CACHE: dict[tuple[str, str], tuple[dict, dict]] = {}  # (prefix, GTFS version) -> (routes, stops)


def has_feed(store) -> bool:
    """True once the transit feed has reported (else the page is a placeholder, like the overview)."""
    return bool(store.call(store.r.exists, store.keys.feed_health("transit")))


def static(store) -> tuple[dict, dict, str | None]:
    """(routes, stops, GTFS version): the schedule's routes and stops, read once per version."""
    version = store.call(store.r.hget, store.keys.transit_static(), "version")
    if version is None:
        return {}, {}, None
    cached = _ROUTES_CACHE.get((store.keys.prefix, version))
    if cached is None:
        pipe = store.r.pipeline(transaction=False)
        pipe.hgetall(store.keys.transit_routes())
        pipe.hgetall(store.keys.transit_stops())
        routes_raw, stops_raw = store.call(pipe.execute)
        cached = ({k: orjson.loads(v) for k, v in routes_raw.items()},
                  {k: orjson.loads(v) for k, v in stops_raw.items()})
        if len(_ROUTES_CACHE) > 8:
            _ROUTES_CACHE.clear()
        _ROUTES_CACHE[(store.keys.prefix, version)] = cached
    return cached[0], cached[1], version


def vehicles(store, route: str | None = None) -> list[dict]:
    """Newest position of every bus (with its trip's current delay ``dl``), or one route's."""
    raw = store.call(store.r.hvals, store.keys.transit_vehicles())
    out = [orjson.loads(v) for v in raw]
    if route is not None:
        out = [v for v in out if v["r"] == route]
    return out


def vehicle(store, vehicle_id: str) -> dict | None:
    raw = store.call(store.r.hget, store.keys.transit_vehicles(), vehicle_id)
    return orjson.loads(raw) if raw else None


def trip(store, trip_id: str) -> tuple[dict | None, dict | None]:
    """(the trip's schedule, its newest TripUpdate) for the vehicle drill-down."""
    pipe = store.r.pipeline(transaction=False)
    pipe.hget(store.keys.transit_trips(), trip_id)
    pipe.hget(store.keys.transit_trip_updates(), trip_id)
    sched, update = store.call(pipe.execute)
    return (orjson.loads(sched) if sched else None), (orjson.loads(update) if update else None)


def alerts(store, route: str | None = None) -> list[dict]:
    out = [orjson.loads(v) for v in store.call(store.r.hvals, store.keys.transit_alerts())]
    if route is not None:
        out = [a for a in out if route in a["routes"]]
    return sorted(out, key=lambda a: (-a["t"], a["id"]))


def route_stats(store, route: str) -> dict:
    raw = store.call(store.r.hget, store.keys.transit_route_stats(), route)
    return orjson.loads(raw) if raw else {}


def vehicle_fresh_s(store) -> float:
    return transit_config(store.city).vehicle_fresh_s
