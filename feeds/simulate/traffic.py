"""Simulated road speeds (as NYC DOT Socrata JSON) and road incidents (generic JSON).

Deterministic: the same seed and the same times give the same payloads.
"""
from __future__ import annotations

import math
import random
from datetime import datetime

import orjson

from feeds.adapters.nyc_traffic import MPH_TO_KMH
from feeds.config import City
from feeds.geo import district_of, haversine_m, polyline_midpoint
from feeds.timeparse import zone

INCIDENT_SLOWDOWN_M = 600  # links this close to an open incident crawl


def congestion(hour: float, weekday: int) -> float:
    """0 (empty roads) .. 1 (gridlock) by local time: rush hours on weekdays, calm nights."""
    def bump(centre, width, height):
        return height * math.exp(-((hour - centre) / width) ** 2)
    if weekday >= 5:
        return 0.08 + bump(13, 3, 0.25)
    return 0.06 + bump(8, 1.1, 0.55) + bump(17.5, 1.4, 0.6) + bump(12.5, 2.0, 0.15)


class IncidentSimulator:
    def __init__(self, city: City, seed: int):
        self.city = city
        self.rnd = random.Random(f"{seed}:incidents")
        self.open: dict[str, dict] = {}
        self.closed: list[dict] = []
        self.counter = 0
        self.last_t: float | None = None
        lons = [p[0] for d in city.districts for p in d.polygon]
        lats = [p[1] for d in city.districts for p in d.polygon]
        self.bounds = (min(lons), max(lons), min(lats), max(lats))

    def step(self, now: float) -> None:
        dt = 30.0 if self.last_t is None else max(0.0, now - self.last_t)
        self.last_t = now
        local = datetime.fromtimestamp(now, zone(self.city.timezone))
        rate_per_h = 1.5 + 6 * congestion(local.hour + local.minute / 60, local.weekday())
        if self.counter == 0:
            n_new = 2  # a fresh demo starts with something on the map
        else:
            n_new = sum(1 for _ in range(3) if self.rnd.random() < rate_per_h * dt / 3600 / 3)
        for _ in range(n_new):
            self.counter += 1
            lon = self.rnd.uniform(self.bounds[0], self.bounds[1])
            lat = self.rnd.uniform(self.bounds[2], self.bounds[3])
            kind = self.rnd.choices(["crash", "breakdown", "roadworks", "flooding"], [5, 3, 2, 1])[0]
            severity = self.rnd.choices(["minor", "major", "critical"], [6, 3, 1])[0]
            self.open[f"RI-{self.counter}"] = {
                "id": f"RI-{self.counter}", "type": kind, "severity": severity, "status": "open",
                "lat": round(lat, 6), "lon": round(lon, 6), "opened": now,
                "description": f"{kind} ({severity})", "clears_at": now + self.rnd.uniform(600, 3600)}
        for iid in [i for i, inc in self.open.items() if inc["clears_at"] <= now]:
            inc = self.open.pop(iid)
            self.closed = (self.closed + [{**inc, "status": "closed", "closed": now}])[-20:]

    def payload(self, now: float) -> bytes:
        self.step(now)
        rows = [{k: v for k, v in inc.items() if k != "clears_at"} for inc in [*self.open.values(), *self.closed]]
        return orjson.dumps(rows)


class TrafficSimulator:
    def __init__(self, city: City, seed: int, incidents: IncidentSimulator | None = None,
                 no_data_rate: float = 0.02, malformed_rate: float = 0.001):
        self.city = city
        self.seed = seed
        self.incidents = incidents
        self.no_data_rate = no_data_rate
        self.malformed_rate = malformed_rate
        rnd = random.Random(f"{seed}:links")
        self.links = []
        for link in city.traffic.links:
            mid = polyline_midpoint(link.points)
            district = link.district or district_of(mid, city.districts)
            # Central districts congest more; each link has its own character and phase.
            centrality = 1.0 if district in ("D5",) else 0.8 if district in ("D2", "D4", "D6", "D8") else 0.6
            points = " ".join(f"{lat},{lon}" for lon, lat in link.points) + " "
            self.links.append((link, mid, centrality * rnd.uniform(0.7, 1.2), rnd.uniform(0, 2 * math.pi), points))

    def payload(self, now: float, tick: int | None = None) -> bytes:
        local = datetime.fromtimestamp(now, zone(self.city.timezone))
        base = congestion(local.hour + local.minute / 60, local.weekday())
        rnd = random.Random(f"{self.seed}:{int(now)}")
        as_of = local.strftime("%Y-%m-%dT%H:%M:%S.000")
        hot = [((inc["lon"], inc["lat"]), inc["severity"]) for inc in (self.incidents.open.values() if self.incidents else [])]
        rows = []
        for link, mid, weight, phase, points in self.links:
            load = base * weight * (1 + 0.25 * math.sin(phase + now / 420)) + rnd.gauss(0, 0.03)
            for where, severity in hot:
                if haversine_m(mid, where) < INCIDENT_SLOWDOWN_M:
                    load += {"minor": 0.25, "major": 0.45, "critical": 0.7}[severity]
            ratio = min(1.0, max(0.08, 1.0 - load))
            speed_mph = link.free_flow_kmh * ratio / MPH_TO_KMH
            length_m = sum(haversine_m(a, b) for a, b in zip(link.points, link.points[1:]))
            row = {"id": link.id, "link_id": link.id, "speed": f"{speed_mph:.2f}",
                   "travel_time": str(round(length_m / (speed_mph * MPH_TO_KMH / 3.6))),
                   "status": "0", "data_as_of": as_of, "link_points": points, "owner": "SIM",
                   "borough": "", "link_name": link.name}
            roll = rnd.random()
            if roll < self.no_data_rate:
                row.update(status="-101", speed="0.00", travel_time="0")
            elif roll < self.no_data_rate + self.malformed_rate:
                row["speed"] = "n/a"  # a garbled row, as real feeds send now and then
            rows.append(row)
        return orjson.dumps(rows)


def simulators(city: City):
    """The traffic domain's simulated feeds: (adapter, simulator, interval)."""
    from feeds.adapters import ADAPTERS
    from feeds.config import FeedSource

    sim = city.simulation
    incidents = IncidentSimulator(city, sim.seed)
    traffic = TrafficSimulator(city, sim.seed, incidents)
    out = []
    for name, gen, interval in (("traffic", traffic, sim.traffic_interval_s),
                                ("road-incidents", incidents, sim.incidents_interval_s)):
        # The incident simulator sends every current incident: a snapshot.
        source = FeedSource(interval_s=interval, timezone=city.timezone,
                            options={"snapshot": True} if name == "road-incidents" else {})
        out.append((ADAPTERS[name](city, source), gen, interval))
    return out
