"""Simulated air, noise and water stations, emitting the real formats through the real adapter.

- Air: OpenAQ API v3 responses, as the live adapter fetches them: ``/v3/locations`` (the stations
  and their sensors, named like the configured stations), then each location's ``/latest``; the
  first payload also carries 12 hours of ``/v3/sensors/{id}/hours`` so the NowCast is valid at once.
  PM follows the traffic's rush hours and a night-time inversion; a pollution episode (a plume of
  PM) drifts across the districts; NO2 follows the traffic; O3 peaks in the afternoon sun.
- Noise: the generic JSON rows (LAeq dB(A)); louder by day, a few night-life sensors stay loud at night.
- Water: the generic JSON rows (free chlorine, turbidity); now and then one point has an excursion.

Deterministic: the same seed and the same times give the same payloads.
"""
from __future__ import annotations

import math
import random
from datetime import datetime, timezone

import orjson

from feeds.config import City, FeedSource
from feeds.environment import configured_stations
from feeds.geo import haversine_m
from feeds.simulate.traffic import congestion
from feeds.timeparse import zone

INTERVAL_S = 60.0  # one reading per station per minute (all three kinds: one feed, one interval)
API = "https://api.openaq.org"
SENSORS = (("pm25", 2, "µg/m³"), ("pm10", 1, "µg/m³"), ("o3", 10, "ppm"), ("no2", 7, "ppm"))
EPISODE_PERIOD_S = 6 * 3600  # the plume crosses the city in 6 hours, then a new one starts
EPISODE_RADIUS_M = 2200.0
EPISODE_PEAK_PM25 = 95.0  # µg/m³ at the plume's centre: "Unhealthy" under it
LOCATION_BASE_ID = 1000
LOCATIONS_EVERY = 10  # re-send /v3/locations every 10 payloads (new stations, names)


def _iso(t: float) -> dict:
    utc = datetime.fromtimestamp(t, timezone.utc)
    return {"utc": utc.strftime("%Y-%m-%dT%H:%M:%SZ"), "local": utc.isoformat()}


class _Places:
    def __init__(self, city: City, kind: str):
        self.city = city
        self.stations = [m for m in configured_stations(city).values() if m["kind"] == kind]
        lons = [p[0] for d in city.districts for p in d.polygon]
        lats = [p[1] for d in city.districts for p in d.polygon]
        self.bounds = (min(lons), max(lons), min(lats), max(lats))

    def local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, zone(self.city.timezone))

    def traffic(self, t: float) -> float:
        loc = self.local(t)
        return congestion(loc.hour + loc.minute / 60, loc.weekday())


class AirSimulator(_Places):
    def __init__(self, city: City, seed: int, stations: list[dict] | None = None):
        super().__init__(city, "air")
        if stations is not None:
            self.stations = stations
        self.seed = seed
        rnd = random.Random(f"{seed}:air")
        cx, cy = city.center
        self.character = []
        for s in self.stations:
            central = max(0.0, 1 - haversine_m((s["lon"], s["lat"]), (cx, cy)) / 6000)
            self.character.append((rnd.uniform(4.0, 7.0) + 3 * central, 0.6 + 0.8 * central, rnd.uniform(0, 6.28)))
        self.sent = 0

    def episode_centre(self, t: float) -> tuple[float, float]:
        """The plume drifts west to east along a line that shifts north or south with each episode."""
        lon0, lon1, lat0, lat1 = self.bounds
        k, phase = divmod(t / EPISODE_PERIOD_S, 1.0)
        lane = random.Random(f"{self.seed}:episode:{int(k)}").uniform(0.2, 0.8)
        lon = lon0 - 0.1 * (lon1 - lon0) + phase * 1.2 * (lon1 - lon0)
        lat = lat0 + (lane + 0.15 * math.sin(phase * math.pi * 2)) * (lat1 - lat0)
        return lon, lat

    def values(self, i: int, t: float) -> dict[str, float]:
        s = self.stations[i]
        base, traffic_weight, phase = self.character[i]
        rnd = random.Random(f"{self.seed}:air:{s['id']}:{int(t // 60)}")
        traffic = self.traffic(t)
        hour = self.local(t).hour + self.local(t).minute / 60
        inversion = 3.0 * math.exp(-((hour - 5) / 2.5) ** 2)  # still air before dawn traps particles
        d = haversine_m((s["lon"], s["lat"]), self.episode_centre(t))
        plume = EPISODE_PEAK_PM25 * math.exp(-((d / EPISODE_RADIUS_M) ** 2))
        pm25 = base * (1 + 1.4 * traffic * traffic_weight) + inversion + plume + rnd.gauss(0, 0.8)
        pm10 = pm25 * 1.5 + 6 + rnd.gauss(0, 1.5)
        sun = math.exp(-((hour - 15) / 3.5) ** 2)
        o3 = 0.018 + 0.040 * sun + 0.004 * math.sin(phase + t / 5000) + rnd.gauss(0, 0.001)
        no2_ppb = 6 + 70 * traffic * traffic_weight + rnd.gauss(0, 1.5)  # exhaust: follows the traffic
        return {"pm25": max(0.5, pm25), "pm10": max(1.0, pm10), "o3": max(0.001, o3), "no2": max(0.5, no2_ppb) / 1000}

    def loc_id(self, i: int) -> int:
        return LOCATION_BASE_ID + i

    def locations(self) -> dict:
        results = []
        for i, s in enumerate(self.stations):
            lid = self.loc_id(i)
            results.append({
                "id": lid, "name": s["id"], "locality": s.get("district"), "timezone": self.city.timezone,
                "country": {"id": 0, "code": "XX", "name": self.city.name}, "owner": {"id": 0, "name": self.city.name},
                "provider": {"id": 0, "name": "City network"}, "isMobile": False, "isMonitor": True,
                "instruments": [{"id": 2, "name": "Government Monitor"}],
                "sensors": [{"id": lid * 10 + k, "name": f"{p} {u}",
                             "parameter": {"id": pid, "name": p, "units": u, "displayName": p.upper()}}
                            for k, (p, pid, u) in enumerate(SENSORS)],
                "coordinates": {"latitude": s["lat"], "longitude": s["lon"]}, "licenses": [],
                "bounds": [s["lon"], s["lat"], s["lon"], s["lat"]], "distance": None,
                "datetimeFirst": None, "datetimeLast": None})
        return {"_request_uri": f"{API}/v3/locations?limit=1000&page=1",
                "response": {"meta": {"name": "openaq-api", "website": "/", "page": 1, "limit": 1000,
                                      "found": len(results)}, "results": results}}

    def hours(self, i: int, now: float, n: int = 12) -> list[dict]:
        """``/v3/sensors/{id}/hours`` of the ``n`` complete hours before ``now``, one per sensor."""
        lid = self.loc_id(i)
        s = self.stations[i]
        current = math.floor(now / 3600) * 3600
        out = []
        for k, (p, pid, u) in enumerate(SENSORS):
            rows = []
            for h in range(n, 0, -1):
                t0 = current - h * 3600
                v = self.values(i, t0 + 1800)[p]
                rows.append({"value": round(v, 4 if u == "ppm" else 2), "flagInfo": {"hasFlags": False},
                             "parameter": {"id": pid, "name": p, "units": u, "displayName": None},
                             "period": {"label": "1hour", "interval": "01:00:00", "datetimeFrom": _iso(t0),
                                        "datetimeTo": _iso(t0 + 3600)},
                             "coordinates": {"latitude": s["lat"], "longitude": s["lon"]}, "summary": None,
                             "coverage": {"expectedCount": 1, "expectedInterval": "01:00:00", "observedCount": 1,
                                          "observedInterval": "01:00:00", "percentComplete": 100.0,
                                          "percentCoverage": 100.0, "datetimeFrom": _iso(t0),
                                          "datetimeTo": _iso(t0 + 3600)}})
            out.append({"_request_uri": f"{API}/v3/sensors/{lid * 10 + k}/hours",
                        "response": {"meta": {"name": "openaq-api", "website": "/", "page": 1, "limit": 100,
                                              "found": len(rows)}, "results": rows}})
        return out

    def latest(self, i: int, now: float) -> dict:
        lid = self.loc_id(i)
        s = self.stations[i]
        vals = self.values(i, now)
        t = math.floor(now / 60) * 60
        results = [{"datetime": _iso(t), "value": round(vals[p], 4 if u == "ppm" else 2),
                    "coordinates": {"latitude": s["lat"], "longitude": s["lon"]},
                    "sensorsId": lid * 10 + k, "locationsId": lid} for k, (p, _, u) in enumerate(SENSORS)]
        return {"_request_uri": f"{API}/v3/locations/{lid}/latest",
                "response": {"meta": {"name": "openaq-api", "website": "/", "page": 1, "limit": 100,
                                      "found": len(results)}, "results": results}}

    def payload(self, now: float) -> bytes:
        out = []
        if self.sent % LOCATIONS_EVERY == 0:
            out.append(self.locations())
        if self.sent == 0:
            for i in range(len(self.stations)):
                out.extend(self.hours(i, now))
        out.extend(self.latest(i, now) for i in range(len(self.stations)))
        self.sent += 1
        return orjson.dumps(out)


class NoiseSimulator(_Places):
    def __init__(self, city: City, seed: int, malformed_rate: float = 0.002):
        super().__init__(city, "noise")
        self.seed = seed
        self.malformed_rate = malformed_rate
        rnd = random.Random(f"{seed}:noise")
        # (daytime level, night-life: stays loud until 2 am)
        self.character = [(rnd.uniform(55, 66), rnd.random() < 0.3) for _ in self.stations]

    def payload(self, now: float) -> bytes:
        loc = self.local(now)
        hour = loc.hour + loc.minute / 60
        traffic = self.traffic(now)
        rows = []
        for s, (level, nightlife) in zip(self.stations, self.character):
            rnd = random.Random(f"{self.seed}:noise:{s['id']}:{int(now // 60)}")
            night = hour >= 22 or hour < 6
            db = level - (12 if night else 0) + 5 * traffic + rnd.gauss(0, 1.5)
            if nightlife and (hour >= 21 or hour < 2):
                db = max(db, 58 + rnd.gauss(0, 1.5))  # bars and venues: over the 55 dB(A) night limit
            row = {"id": s["id"], "time": math.floor(now), "laeq_db": round(db, 1)}
            if rnd.random() < self.malformed_rate:
                row["laeq_db"] = 199.9  # a sensor fault, as real networks send now and then
            rows.append(row)
        return orjson.dumps(rows)


class WaterSimulator(_Places):
    def __init__(self, city: City, seed: int):
        super().__init__(city, "water")
        self.seed = seed
        rnd = random.Random(f"{seed}:water")
        self.character = [(rnd.uniform(0.6, 1.3), rnd.uniform(0.15, 0.45)) for _ in self.stations]

    def excursion(self, now: float) -> tuple[int | None, str | None]:
        """(station index, "chlorine" | "turbidity") of the excursion under way, if any: in each
        3-hour block one point has one for 45 minutes."""
        block, into = divmod(now, 3 * 3600)
        rnd = random.Random(f"{self.seed}:water:{int(block)}")
        start = rnd.uniform(0, 3 * 3600 - 2700)
        if not self.stations or not start <= into < start + 2700:
            return None, None
        return rnd.randrange(len(self.stations)), rnd.choice(["chlorine", "turbidity"])

    def payload(self, now: float) -> bytes:
        hit, what = self.excursion(now)
        rows = []
        for i, (s, (cl, ntu)) in enumerate(zip(self.stations, self.character)):
            rnd = random.Random(f"{self.seed}:water:{s['id']}:{int(now // 60)}")
            chlorine = cl + 0.1 * math.sin(now / 7200 + i) + rnd.gauss(0, 0.02)
            turbidity = ntu + rnd.gauss(0, 0.03)
            if i == hit:
                if what == "chlorine":
                    chlorine = 0.12 + rnd.gauss(0, 0.01)  # residual lost: below the WHO 0.2 mg/L
                else:
                    turbidity = 1.6 + rnd.gauss(0, 0.1)  # above the EPA 1 NTU
            rows.append({"id": s["id"], "time": math.floor(now), "free_chlorine_mg_l": round(max(0.0, chlorine), 2),
                         "turbidity_ntu": round(max(0.0, turbidity), 2)})
        return orjson.dumps(rows)


def simulators(city: City):
    """The environment domain's simulated feeds: (adapter, simulator, interval)."""
    from feeds.adapters.environment import EnvironmentAdapter

    seed = city.simulation.seed
    out = []
    for fmt, gen in (("openaq", AirSimulator(city, seed)), ("noise", NoiseSimulator(city, seed)),
                     ("water", WaterSimulator(city, seed))):
        if not gen.stations:
            continue
        source = FeedSource(interval_s=INTERVAL_S, timezone=city.timezone, options={"format": fmt})
        out.append((EnvironmentAdapter(city, source), gen, INTERVAL_S))
    return out
