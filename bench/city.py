"""The large city of the benchmarks, and its full state loaded into Redis through the real adapters.

    large_city()                     -> City: the sample city's nine districts with
                                        10,000 road links, ~2,000 buses on the road, 1,000 air stations,
                                        500 noise sensors, 50 water points, 30 fire stations of 10 units
                                        (300 units), 50 service centres
    load_state(r, keys, city, now)   -> every feed's first batches run through the real adapters on
                                        simulator payloads (500 active incidents, 20,000 open service
                                        requests, ...), so pages and KPIs have everything

The domain benches build smaller variants with the same pieces (``with_links``, ``with_routes``,
``with_environment``, ``with_stations``, ``with_centres`` on the sample city's raw config).
Feed intervals of the large city (the benchmarks' targets): links every 10 s, buses every 5 s, air and noise
every 60 s (``INTERVALS``).
"""
from __future__ import annotations

import random
from datetime import datetime

import orjson

from feeds.config import SAMPLE_CITY, City, FeedSource, parse_city
from feeds.framework import BatchResult, Runner
from feeds.schema import Keys
from feeds.timeparse import zone

N_LINKS, N_BUSES, N_AIR, N_NOISE, N_WATER = 10_000, 2_000, 1_000, 500, 50
N_STATIONS, UNITS_PER_STATION, N_ACTIVE, N_CLOSED = 30, 10, 500, 1_500
N_CENTRES, N_OPEN_REQUESTS = 50, 20_000
REQUESTS_CLOSED_A_POLL = 50
# Seconds between two batches of each feed in the large city.
INTERVALS = {"traffic": 10, "road-incidents": 30, "transit": 5, "air": 60, "noise": 60, "water": 60,
             "emergency": 10, "services": 30, "queue-events": 30, "requests": 60}


def sample_raw() -> dict:
    """The sample city's raw config (a fresh copy)."""
    return orjson.loads(SAMPLE_CITY.read_bytes())


def bounds(raw: dict) -> tuple[float, float, float, float]:
    """(min lon, max lon, min lat, max lat) of the districts."""
    lons = [p[0] for d in raw["districts"] for p in d["polygon"]]
    lats = [p[1] for d in raw["districts"] for p in d["polygon"]]
    return min(lons), max(lons), min(lats), max(lats)


def morning(city_or_raw) -> float:
    """The benches' "now": Wednesday 18 Nov 2026, 09:00 in the city's zone (rush hour, centres open)."""
    tz = city_or_raw["timezone"] if isinstance(city_or_raw, dict) else city_or_raw.timezone
    return datetime(2026, 11, 18, 9, 0, tzinfo=zone(tz)).timestamp()


def with_links(raw: dict, n_links: int) -> dict:
    """``n_links`` one-block links on a square grid over the districts (speeds keyed by link id)."""
    x0, x1, y0, y1 = bounds(raw)
    side = int((n_links / 2) ** 0.5) + 1
    dx, dy = (x1 - x0) / side, (y1 - y0) / side
    rnd = random.Random(1)
    links = []
    for k in range(n_links):
        horizontal = k % 2 == 0
        a, b = divmod(k // 2, side)
        col, row = (b, a) if horizontal else (a, b)
        lon, lat = x0 + (col + 0.05) * dx, y0 + (row + 0.05) * dy
        end = [lon + 0.9 * dx, lat] if horizontal else [lon, lat + 0.9 * dy]
        links.append({"id": str(100000 + k), "name": f"link {k}", "points": [[round(lon, 6), round(lat, 6)],
                                                                            [round(end[0], 6), round(end[1], 6)]],
                      "free_flow_kmh": rnd.choice([40, 50, 90])})
    raw["traffic"] = {"links": links}
    return raw


def with_routes(raw: dict, n_routes: int) -> dict:
    """``n_routes`` generated straight routes of 15 stops across the districts, headway 4 min."""
    x0, x1, y0, y1 = bounds(raw)
    rnd = random.Random(3)
    routes = []
    for k in range(n_routes):
        a = (rnd.uniform(x0, x1), rnd.uniform(y0, y1))
        b = (rnd.uniform(x0, x1), rnd.uniform(y0, y1))
        stops = [{"id": f"B{k}-{i}", "name": f"Route {k} stop {i + 1}",
                  "lon": round(a[0] + (b[0] - a[0]) * i / 14, 6), "lat": round(a[1] + (b[1] - a[1]) * i / 14, 6)}
                 for i in range(15)]
        routes.append({"id": f"B{k}", "short_name": str(100 + k), "headway_s": 240, "stops": stops})
    raw["transit"] = {"routes": routes}
    return raw


def with_environment(raw: dict, n_air: int = N_AIR, n_noise: int = N_NOISE, n_water: int = N_WATER) -> dict:
    """``n_air`` + ``n_noise`` + ``n_water`` stations spread over the districts."""
    x0, x1, y0, y1 = bounds(raw)
    rnd = random.Random(11)

    def spread(n, prefix):
        return [{"id": f"{prefix}-{i + 1}", "lat": round(rnd.uniform(y0, y1), 6),
                 "lon": round(rnd.uniform(x0, x1), 6)} for i in range(n)]
    raw["environment"] = {"air_stations": spread(n_air, "AQ"), "noise_sensors": spread(n_noise, "NS"),
                          "water_points": spread(n_water, "WQ")}
    return raw


def with_stations(raw: dict, n_stations: int = N_STATIONS, units_per_station: int = UNITS_PER_STATION) -> dict:
    """``n_stations`` fire stations of ``units_per_station`` units (engines and medics)."""
    x0, x1, y0, y1 = bounds(raw)
    rnd = random.Random(2)
    raw["emergency"] = {"stations": [
        {"id": f"S{s + 1}", "name": f"Station {s + 1}", "lon": rnd.uniform(x0, x1), "lat": rnd.uniform(y0, y1),
         "units": [{"id": f"U{s + 1}-{u + 1}", "type": "medic" if u % 2 else "engine"}
                   for u in range(units_per_station)]} for s in range(n_stations)]}
    raw.setdefault("feeds", {})["emergency"] = {"interval_s": INTERVALS["emergency"]}
    return raw


def with_centres(raw: dict, n_centres: int = N_CENTRES) -> dict:
    """``n_centres`` service centres open 08:00-18:00 with 4-10 counters."""
    x0, x1, y0, y1 = bounds(raw)
    rnd = random.Random(3)
    raw["services"] = {"centres": [
        {"id": f"C{i + 1}", "name": f"Service centre {i + 1}", "lon": round(rnd.uniform(x0, x1), 6),
         "lat": round(rnd.uniform(y0, y1), 6), "counters": rnd.choice([4, 4, 6, 8, 10]),
         "opens": "08:00", "closes": "18:00"} for i in range(n_centres)]}
    return raw


def buses_on_road(city: City, t: float) -> int:
    from google.transit import gtfs_realtime_pb2 as rt

    from feeds.simulate.transit import TransitSimulator

    msg = rt.FeedMessage()
    msg.ParseFromString(TransitSimulator(city, 7, unknown_route_rate=0).payload(t))
    return sum(1 for e in msg.entity if e.HasField("vehicle"))


def routes_for_buses(target: int, t: float | None = None) -> tuple[int, int]:
    """(routes, buses): the fewest generated routes that put at least ``target`` buses on the road at ``t``."""
    raw = sample_raw()
    t = morning(raw) if t is None else t
    n = 40
    while True:
        city = parse_city(with_routes(sample_raw(), n))
        buses = buses_on_road(city, t)
        if buses >= target:
            return n, buses
        n = int(n * target / max(buses, 1)) + 1


def large_city(n_links: int = N_LINKS, n_buses: int = N_BUSES) -> City:
    """The benchmarks' large city (see the module's docstring)."""
    return parse_city(large_city_raw(n_links, n_buses))


def large_city_raw(n_links: int = N_LINKS, n_buses: int = N_BUSES) -> dict:
    """The large city's raw config (what CITY_CONFIG would hold)."""
    n_routes = routes_for_buses(n_buses)[0]
    raw = sample_raw()
    for add in (lambda r: with_links(r, n_links), lambda r: with_routes(r, n_routes), with_environment,
                with_stations, with_centres):
        raw = add(raw)
    raw["name"] = f"large city: {n_links:,} links, {n_buses:,} buses"
    raw["feeds"] = {**raw.get("feeds", {}), "traffic": {"interval_s": INTERVALS["traffic"]}}
    return raw


# payloads -----------------------------------------------------------------------------------------
def sf_rows(city: City, now: float, seed: int, n_active: int = N_ACTIVE, n_closed: int = N_CLOSED) -> list[dict]:
    """SF Fire SODA rows (one per unit per call, floating local times, numbers as strings) of ``n_active``
    active and ``n_closed`` closed calls."""
    rnd = random.Random(seed)
    tz = zone(city.timezone)
    x0, x1, y0, y1 = bounds({"districts": [{"polygon": d.polygon} for d in city.districts]})
    units = [u["id"] for s in city.emergency["stations"] for u in s["units"]]

    def ts(t):
        return datetime.fromtimestamp(t, tz).replace(tzinfo=None).isoformat(timespec="milliseconds")

    rows = []
    for n in range(n_active + n_closed):
        active = n < n_active
        received = now - (rnd.uniform(60, 3 * 3600) if active else rnd.uniform(3 * 3600, 20 * 3600))
        lon, lat = rnd.uniform(x0, x1), rnd.uniform(y0, y1)
        dispatch = received + rnd.lognormvariate(3.8, 0.4)
        for k in range(rnd.choice([1, 2, 2, 3])):
            row = {"call_number": f"{seed}{n:07d}", "incident_number": f"B{seed}-{n:07d}",
                   "unit_id": units[(n * 3 + k) % len(units)], "call_type": rnd.choice(["Medical Incident", "Alarms"]),
                   "priority": rnd.choice(["2", "3"]), "received_dttm": ts(received), "entry_dttm": ts(received + 20),
                   "dispatch_dttm": ts(dispatch + k * 5), "address": f"{n} Block of MAIN ST", "unit_type": "ENGINE",
                   "location": {"type": "Point", "coordinates": [lon, lat]}}
            en_route = dispatch + k * 5 + rnd.lognormvariate(3.9, 0.3)
            on_scene = en_route + rnd.lognormvariate(5.3, 0.35)
            if min(en_route, on_scene) < now:
                row["response_dttm"] = ts(en_route)
            if on_scene < now:
                row["on_scene_dttm"] = ts(on_scene)
            if not active:
                row["available_dttm"] = ts(on_scene + rnd.uniform(600, 2400))
            rows.append(row)
    return rows


def open311_payload(city: City, n_open: int, n_closed: int, now: float) -> bytes:
    """Open311 GeoReport v2 JSON of ``n_open`` open and ``n_closed`` closed requests of the last week."""
    from feeds.simulate.services import REQUEST_TYPES

    rnd = random.Random(5)
    tz = zone(city.timezone)
    lons = [p[0] for d in city.districts for p in d.polygon]
    lats = [p[1] for d in city.districts for p in d.polygon]

    def iso(t):
        return datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")

    rows = []
    for i in range(n_open + n_closed):
        code, name, sla, _ = rnd.choice(REQUEST_TYPES)
        req = now - rnd.uniform(0, 6.5 * 86400)
        closed = i >= n_open
        upd = min(now, req + rnd.uniform(0.1, 2) * sla * 1800) if closed else req
        rows.append({"service_request_id": 500000 + i, "status": "closed" if closed else "open", "service_name": name,
                     "service_code": code, "requested_datetime": iso(req), "updated_datetime": iso(upd),
                     "expected_datetime": iso(req + sla * 3600), "address": f"{i} Main St",
                     "lat": round(rnd.uniform(min(lats), max(lats)), 6), "long": round(rnd.uniform(min(lons), max(lons)), 6)})
    return orjson.dumps(rows)


class LargeCityFeeds:
    """Every feed of the large city: (name, adapter, payload(now)) with the simulators' state kept between
    calls, so successive payloads move on as the live feeds do."""

    def __init__(self, city: City, seed: int = 7, malformed: bool = False):
        from feeds.adapters import ADAPTERS
        from feeds.adapters.emergency import EmergencyAdapter
        from feeds.adapters.environment import EnvironmentAdapter
        from feeds.simulate.environment import AirSimulator, NoiseSimulator, WaterSimulator
        from feeds.simulate.services import CitySim, EventFeed, SnapshotFeed
        from feeds.simulate.traffic import IncidentSimulator, TrafficSimulator
        from feeds.simulate.transit import TransitSimulator, gtfs_file

        self.city = city
        bad = 1 if malformed else 0
        incidents = IncidentSimulator(city, seed)
        sim = CitySim(city, seed)
        tz = city.timezone

        def src(name, **options):
            return FeedSource(interval_s=INTERVALS[name], timezone=tz, options=options)

        self.seed = seed
        self.feeds = {
            "traffic": (ADAPTERS["traffic"](city, src("traffic")),
                        TrafficSimulator(city, seed, incidents, no_data_rate=0.02 * bad, malformed_rate=0.001 * bad).payload),
            "road-incidents": (ADAPTERS["road-incidents"](city, src("road-incidents", snapshot=True)), incidents.payload),
            "transit": (ADAPTERS["transit"](city, src("transit", gtfs_static=str(gtfs_file(city)))),
                        TransitSimulator(city, seed, unknown_route_rate=0).payload),
            "air": (EnvironmentAdapter(city, src("air", format="openaq")), AirSimulator(city, seed).payload),
            "noise": (EnvironmentAdapter(city, src("noise", format="noise")),
                      NoiseSimulator(city, seed, malformed_rate=0.002 * bad).payload),
            "water": (EnvironmentAdapter(city, src("water", format="water")), WaterSimulator(city, seed).payload),
            "emergency": (EmergencyAdapter(city, src("emergency", format="sf-fire")),
                          lambda now: orjson.dumps(sf_rows(city, now, seed))),
            "services": (ADAPTERS["services"](city, src("services", format="warsaw")), SnapshotFeed(sim).payload),
            "queue-events": (ADAPTERS["services"](city, src("queue-events", format="queue-events")),
                             EventFeed(sim).payload),
            "requests": (ADAPTERS["requests"](city, src("requests")), self._requests),
        }
        self._request_rows: list[dict] | None = None
        self._closed = 0

    def _requests(self, now: float) -> bytes:
        """The first payload: every request of the week (20,000 open); each later one, as a city's Open311
        poll of changes: the next 50 open requests, closed at ``now``."""
        if self._request_rows is None:
            payload = open311_payload(self.city, N_OPEN_REQUESTS, N_OPEN_REQUESTS // 4, now)
            self._request_rows = orjson.loads(payload)
            return payload
        closed_at = datetime.fromtimestamp(now, zone(self.city.timezone)).isoformat(timespec="seconds")
        batch = self._request_rows[self._closed:self._closed + REQUESTS_CLOSED_A_POLL]
        self._closed = (self._closed + REQUESTS_CLOSED_A_POLL) % N_OPEN_REQUESTS
        return orjson.dumps([dict(x, status="closed", updated_datetime=closed_at) for x in batch])

    def adapter(self, name: str):
        return self.feeds[name][0]

    def payload(self, name: str, now: float) -> bytes:
        return self.feeds[name][1](now)


def load_state(r, keys: Keys, city: City, now: float | None = None, engine=None,
               feeds: LargeCityFeeds | None = None) -> dict[str, BatchResult]:
    """Run every feed of ``city`` once through the real adapters (Runner) at ``now`` (default: ``morning``),
    after a few minutes of transit history, so KPIs and pages see a full city. ``engine`` (a KpiEngine)
    recomputes after each batch as in production; None leaves the KPIs to the caller."""
    now = morning(city) if now is None else now
    feeds = feeds or LargeCityFeeds(city)
    runner = Runner(r, keys, city, engine)
    results = {}
    for i in range(-300, 0, 30):  # a few minutes of buses fill the departures and passages windows
        runner.run_once(feeds.adapter("transit"), feeds.payload("transit", now + i), now=now + i)
    for name in feeds.feeds:
        results[name] = runner.run_once(feeds.adapter(name), feeds.payload(name, now), now=now)
    return results


if __name__ == "__main__":  # build the large city, load it once, print what each feed stored
    import time
    import uuid

    from bench.common import bench_redis, cleanup
    from feeds.kpi.engine import KpiEngine
    from feeds.redis_conn import connect

    start = time.perf_counter()
    c = large_city()
    print(f"{c.name}: built in {time.perf_counter() - start:.1f} s")
    with bench_redis() as url:
        r, k = connect(url), Keys(f"bench-city-{uuid.uuid4().hex[:8]}")
        try:
            start = time.perf_counter()
            for res in load_state(r, k, c, engine=KpiEngine(r, k, c)).values():
                print(res.line())
            print(f"loaded in {time.perf_counter() - start:.1f} s")
        finally:
            cleanup(r, k)
