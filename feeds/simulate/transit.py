"""Simulated buses: a real GTFS zip for the city's routes, and real GTFS-RT protobuf each tick.

``city.transit.routes`` (stops, headway_s) become a GTFS Schedule: trips both ways every headway
from 05:00 to 24:00 and every three headways through the night (a service day runs 04:00-28:00, so
stop_times go beyond 24:00:00), timepoints at every third stop and the ends. Each tick emits one FeedMessage with VehiclePositions and TripUpdates of every trip on the
road (and Alerts while a bus is broken down), so the demo runs the real parsing path.

Deterministic: a trip instance's delays come from the seed, the trip and the service day; no state.
Realism: most buses run 0-3 min late and drift later along the route; some leave early; about one
trip in eight is held up so badly that the next bus catches it (bunching); one in twenty-five breaks
down part-way (it stops reporting and a service alert names the route).
"""
from __future__ import annotations

import csv
import io
import math
import random
import tempfile
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

from google.transit import gtfs_realtime_pb2 as rt

from feeds.adapters.transit_gtfs import TransitConfig, service_day_start, transit_config
from feeds.config import City
from feeds.geo import haversine_m
from feeds.timeparse import zone

# A service day runs 04:00 to 28:00 (04:00 the next morning): stop_times beyond 24:00:00, as real
# night services have. Day headways from 05:00 to 24:00, night buses at three times the headway.
FIRST_TRIP_S = 4 * 3600
LAST_TRIP_S = 28 * 3600
DAY_FROM_S, DAY_UNTIL_S = 5 * 3600, 24 * 3600
BUS_SPEED_MS = 20 / 3.6
DWELL_S = 20
LAYOVER_S = 300
SERVICE_ID = "WEEK"


def _hms(secs: int) -> str:
    return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


def _csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def route_run_times(stops: list[dict]) -> list[int]:
    """Scheduled seconds from the first stop to each stop (driving at 20 km/h plus dwell)."""
    out, t = [0], 0.0
    for a, b in zip(stops, stops[1:]):
        t += haversine_m((a["lon"], a["lat"]), (b["lon"], b["lat"])) / BUS_SPEED_MS + DWELL_S
        out.append(int(round(t / 10) * 10))
    return out


def schedule(cfg: TransitConfig) -> list[dict]:
    """Every trip of the sample schedule: {id, route, dir, start, stops, offsets, seq}."""
    trips = []
    for route in cfg.routes:
        for direction in (0, 1):
            stops = route.stops if direction == 0 else list(reversed(route.stops))
            offsets = route_run_times(stops)
            headway = int(route.headway_s)
            # the two directions are offset by half a headway; night buses every 3 headways
            start, k = FIRST_TRIP_S + direction * headway // 2, 0
            while start < LAST_TRIP_S:
                step = headway if DAY_FROM_S <= start < DAY_UNTIL_S else 3 * headway
                trips.append({"id": f"{route.id}-{direction}-{k:03d}", "route": route.id, "dir": direction,
                              "start": start, "stops": stops, "offsets": offsets, "headway": step})
                start += step
                k += 1
    return trips


def build_gtfs(city: City) -> bytes:
    """A GTFS zip for ``city.transit.routes`` (byte-for-byte the same for the same city)."""
    cfg = transit_config(city)
    files = {
        "agency.txt": [["agency_id", "agency_name", "agency_url", "agency_timezone"],
                       ["CB", f"{city.name} buses", "https://example.org", city.timezone]],
        "calendar.txt": [["service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                          "start_date", "end_date"], [SERVICE_ID, 1, 1, 1, 1, 1, 1, 1, "20200101", "20391231"]],
        "routes.txt": [["route_id", "agency_id", "route_short_name", "route_long_name", "route_type"]],
        "stops.txt": [["stop_id", "stop_name", "stop_lat", "stop_lon"]],
        "trips.txt": [["route_id", "service_id", "trip_id", "direction_id", "shape_id"]],
        "stop_times.txt": [["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence", "timepoint"]],
        "shapes.txt": [["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"]],
    }
    seen_stops = set()
    for route in cfg.routes:
        ends = f"{route.stops[0].get('name', route.stops[0]['id'])} – {route.stops[-1].get('name', route.stops[-1]['id'])}"
        files["routes.txt"].append([route.id, "CB", route.short_name or route.id, ends if route.stops else "", 3])
        for s in route.stops:
            if s["id"] not in seen_stops:
                seen_stops.add(s["id"])
                files["stops.txt"].append([s["id"], s.get("name", s["id"]), s["lat"], s["lon"]])
        for direction in (0, 1):
            stops = route.stops if direction == 0 else list(reversed(route.stops))
            for i, s in enumerate(stops, 1):
                files["shapes.txt"].append([f"{route.id}-{direction}", s["lat"], s["lon"], i])
    for trip in schedule(cfg):
        files["trips.txt"].append([trip["route"], SERVICE_ID, trip["id"], trip["dir"], f"{trip['route']}-{trip['dir']}"])
        last = len(trip["stops"]) - 1
        for i, (s, off) in enumerate(zip(trip["stops"], trip["offsets"])):
            t = _hms(trip["start"] + off)
            timepoint = 1 if i in (0, last) or i % 3 == 0 else 0
            files["stop_times.txt"].append([trip["id"], t, t, s["id"], i + 1, timepoint])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, rows in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, _csv(rows))
    return out.getvalue()


class TransitSimulator:
    def __init__(self, city: City, seed: int, unknown_route_rate: float = 0.01):
        self.city = city
        self.seed = seed
        self.cfg = transit_config(city)
        self.tz = city.timezone
        self.trips = schedule(self.cfg)
        self.unknown_route_rate = unknown_route_rate
        self.fleet = {}
        for route in self.cfg.routes:
            cycle = 2 * (route_run_times(route.stops)[-1] + LAYOVER_S)
            self.fleet[route.id] = math.ceil(cycle / route.headway_s) + 2
        self.by_route_index = {}
        counters: dict[str, int] = {}
        for trip in sorted(self.trips, key=lambda t: t["start"]):
            n = counters.get(trip["route"], 0)
            counters[trip["route"]] = n + 1
            self.by_route_index[trip["id"]] = n

    def profile(self, trip: dict, day: date) -> dict:
        """Delays (s) at each stop, and where the bus breaks down (stop index) if it does."""
        rnd = random.Random(f"{self.seed}:{trip['id']}:{day.isoformat()}")
        n = len(trip["stops"])
        roll = rnd.random()
        base = rnd.gauss(40, 50)
        step = rnd.gauss(12, 10)
        if roll < 0.12:  # held up (an incident, a crowd): the next bus catches up -> bunching
            step += 0.55 * trip["headway"] / n
        elif roll < 0.2:  # a driver running early
            base = rnd.uniform(-150, -70)
            step = rnd.uniform(-5, 5)
        delays = [round(base + step * i + rnd.gauss(0, 12)) for i in range(n)]
        breakdown = rnd.randrange(1, n - 1) if rnd.random() < 0.04 else None
        return {"delays": delays, "breakdown": breakdown}

    def vehicle_id(self, trip: dict) -> str:
        return f"{trip['route']}-{self.by_route_index[trip['id']] % self.fleet[trip['route']] + 1:02d}"

    def running(self, now: float):
        """(trip, service day, day start, profile) of every trip on the road at ``now``."""
        today = datetime.fromtimestamp(now, zone(self.tz)).date()
        for day in (today - timedelta(days=1), today):
            day_start = service_day_start(day, self.tz)
            secs = now - day_start
            for trip in self.trips:
                if trip["start"] - 120 > secs or trip["start"] + trip["offsets"][-1] + 1200 < secs:
                    continue
                prof = self.profile(trip, day)
                first = trip["start"] + prof["delays"][0]
                last = trip["start"] + trip["offsets"][-1] + prof["delays"][-1]
                if first - 60 <= secs <= last:
                    yield trip, day, day_start, prof

    def payload(self, now: float) -> bytes:
        msg = rt.FeedMessage()
        msg.header.gtfs_realtime_version = "2.0"
        msg.header.incrementality = rt.FeedHeader.FULL_DATASET
        msg.header.timestamp = int(now)
        t = int(now)
        for trip, day, day_start, prof in self.running(now):
            stops, offsets, delays = trip["stops"], trip["offsets"], prof["delays"]
            secs = now - day_start
            actual = [trip["start"] + off + d for off, d in zip(offsets, delays)]
            nxt = next((i for i, a in enumerate(actual) if a + DWELL_S > secs), len(stops) - 1)
            broken = prof["breakdown"] is not None and nxt > prof["breakdown"]
            if broken:
                stop = stops[prof["breakdown"]]
                a = msg.entity.add(id=f"alert-{trip['id']}-{day:%Y%m%d}").alert
                a.cause = rt.Alert.TECHNICAL_PROBLEM
                a.effect = rt.Alert.SIGNIFICANT_DELAYS
                a.severity_level = rt.Alert.WARNING
                a.informed_entity.add(route_id=trip["route"])
                a.informed_entity.add(stop_id=stop["id"])
                a.header_text.translation.add(text=f"Bus broken down on route {trip['route']}", language="en")
                a.description_text.translation.add(
                    text=f"A bus is out of service near {stop.get('name', stop['id'])}; expect longer waits.",
                    language="en")
                continue  # the broken bus stops reporting: its trip is not delivered
            vid = self.vehicle_id(trip)
            # position: at the stop while dwelling, else between the previous and next stop
            if nxt == 0 or actual[nxt] <= secs:
                lon, lat, status = stops[nxt]["lon"], stops[nxt]["lat"], rt.VehiclePosition.STOPPED_AT
            else:
                a0, a1 = actual[nxt - 1] + DWELL_S, actual[nxt]
                f = min(1.0, max(0.0, (secs - a0) / max(1.0, a1 - a0)))
                p0, p1 = stops[nxt - 1], stops[nxt]
                lon, lat = p0["lon"] + f * (p1["lon"] - p0["lon"]), p0["lat"] + f * (p1["lat"] - p0["lat"])
                status = rt.VehiclePosition.IN_TRANSIT_TO
            e = msg.entity.add(id=f"vp-{vid}")
            v = e.vehicle
            v.trip.trip_id, v.trip.route_id, v.trip.direction_id = trip["id"], trip["route"], trip["dir"]
            v.trip.start_date = day.strftime("%Y%m%d")
            v.vehicle.id, v.vehicle.label = vid, vid
            v.position.latitude, v.position.longitude = lat, lon
            v.position.speed = 0.0 if status == rt.VehiclePosition.STOPPED_AT else BUS_SPEED_MS
            v.current_stop_sequence, v.stop_id, v.current_status = nxt + 1, stops[nxt]["id"], status
            v.timestamp = t
            rnd = random.Random(f"{self.seed}:{vid}:{t // 300}")
            v.occupancy_status = rnd.choices([0, 1, 2, 3, 4], [2, 5, 4, 2, 1])[0]
            # TripUpdate: the next stop with absolute times (time wins), a later stop with a delay.
            tu = msg.entity.add(id=f"tu-{trip['id']}").trip_update
            tu.trip.trip_id, tu.trip.route_id, tu.trip.direction_id = trip["id"], trip["route"], trip["dir"]
            tu.trip.start_date = day.strftime("%Y%m%d")
            tu.vehicle.id = vid
            tu.timestamp = t
            u = tu.stop_time_update.add(stop_sequence=nxt + 1, stop_id=stops[nxt]["id"])
            u.arrival.time = int(day_start + actual[nxt])
            u.departure.time = int(day_start + actual[nxt])
            u.departure.delay = delays[nxt]
            if nxt + 3 < len(stops):
                later = tu.stop_time_update.add(stop_sequence=nxt + 4, stop_id=stops[nxt + 3]["id"])
                later.departure.delay = delays[nxt + 3]
        rnd = random.Random(f"{self.seed}:junk:{t}")
        if rnd.random() < self.unknown_route_rate:  # now and then a vehicle on a route the schedule lacks
            v = msg.entity.add(id=f"vp-ghost-{t}").vehicle
            v.trip.route_id = "X99"
            v.vehicle.id = "ghost"
            v.position.latitude, v.position.longitude = self.city.center[1], self.city.center[0]
            v.timestamp = t
        return msg.SerializeToString()


def gtfs_file(city: City) -> Path:
    """The sample schedule as a zip file the adapter reads like any GTFS (same bytes, same version)."""
    data = build_gtfs(city)
    import hashlib

    path = Path(tempfile.gettempdir()) / f"citybrain-gtfs-{hashlib.blake2b(data, digest_size=6).hexdigest()}.zip"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def simulators(city: City):
    """The transit domain's simulated feed: (adapter, simulator, interval)."""
    from feeds.adapters import ADAPTERS
    from feeds.config import FeedSource

    cfg = transit_config(city)
    if not cfg.routes:
        return []
    interval = cfg.simulation_interval_s
    source = FeedSource(interval_s=interval, timezone=city.timezone, options={"gtfs_static": str(gtfs_file(city))})
    return [(ADAPTERS["transit"](city, source), TransitSimulator(city, city.simulation.seed), interval)]
