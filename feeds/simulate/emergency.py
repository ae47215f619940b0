"""Simulated dispatch centre, emitting the generic unit-event JSON (the real parsing path).

Calls arrive by time of day (quiet nights, a late-afternoon peak); each is answered after a
few seconds of ringing (NENA: with a tail past 15 and 20 s), processed, and the nearest free units
of the right type roll from their stations. Intervals are log-normal (a realistic right tail);
units drive on the map (straight lines at a random speed), EMS calls often transport to a
hospital; some units are cancelled en route; now and then a major incident takes several units,
sometimes two at once; units go out of service for a while; a few calls run long, so the panel's
"no change for too long" flags have something to show. Deterministic from the seed.
"""
from __future__ import annotations

import heapq
import math
import random
from datetime import datetime

import orjson

from feeds.adapters.emergency import EmergencyAdapter, emergency_config, unit_directory
from feeds.config import City
from feeds.geo import district_of, haversine_m
from feeds.timeparse import zone

WARM_START_S = 3 * 3600  # the first payload replays this much history so KPIs and the board have data
EMS_TYPES = ("medic", "ambulance", "rescue")
EMS_CALLS = ("Medical emergency", "Fall", "Breathing problem", "Chest pain", "Traffic collision with injury")
FIRE_CALLS = ("Structure fire", "Alarm", "Vehicle fire", "Outside fire", "Gas leak", "Rescue")


def calls_per_hour(hour: float, units: int) -> float:
    """Calls an hour: quiet at 4 am, peak around 6 pm (US EMS demand curve), scaled to the fleet."""
    day = 0.35 + 0.65 * math.exp(-((hour - 17.5) / 5.5) ** 2)
    return units * 0.7 * day


class DispatchSimulator:
    def __init__(self, city: City, seed: int):
        self.city = city
        self.conf = emergency_config(city)
        self.rnd = random.Random(f"{seed}:emergency")
        base = unit_directory(city, self.conf)
        self.units: dict[str, dict] = {}
        for n in range(self.conf.simulation_units_scale):
            for uid, u in base.items():
                sid = uid if n == 0 else f"{uid}-{n + 1}"
                self.units[sid] = {"id": sid, "type": u["type"], "station": u["station"], "home": u["home"],
                                   "free_at": 0.0, "legs": []}  # legs: (t0, t1, from, to) drives
        lons = [p[0] for d in city.districts for p in d.polygon]
        lats = [p[1] for d in city.districts for p in d.polygon]
        self.bounds = (min(lons), max(lons), min(lats), max(lats))
        self.hospitals = [(city.center[0] + 0.01, city.center[1] + 0.005),
                          (self.bounds[0] + 0.3 * (self.bounds[1] - self.bounds[0]),
                           self.bounds[2] + 0.7 * (self.bounds[3] - self.bounds[2]))]
        self.queue: list[tuple[float, int, dict]] = []
        self.seq = 0
        self.counter = 0
        self.clock: float | None = None

    # --- scheduling -------------------------------------------------------------------
    def emit(self, t: float, event: dict) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, {**event, "time": t}))

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(self.rnd.gauss(0, sigma))

    def place(self) -> tuple[float, float]:
        for _ in range(50):
            p = (self.rnd.uniform(self.bounds[0], self.bounds[1]), self.rnd.uniform(self.bounds[2], self.bounds[3]))
            if district_of(p, self.city.districts):
                return p
        return tuple(self.city.center)

    def drive_s(self, a, b, kmh_median: float) -> float:
        return 30 + haversine_m(a, b) / (self.lognormal(kmh_median, 0.22) / 3.6)

    def position(self, unit: dict, t: float) -> tuple[float, float]:
        pos = unit["home"]
        for t0, t1, a, b in unit["legs"]:
            if t < t0:
                break
            f = 1.0 if t >= t1 else (t - t0) / (t1 - t0)
            pos = (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
        return pos

    def pick_units(self, where, need: list[str], t: float) -> list[tuple[dict, float]]:
        """Nearest units of each needed type; a busy fleet means waiting for the first to clear."""
        chosen, taken = [], set()
        for kind in need:
            pool = [u for u in self.units.values() if u["id"] not in taken]
            typed = [u for u in pool if (u["type"] in EMS_TYPES) == (kind == "ems")] or pool
            if not typed:
                break
            u = min(typed, key=lambda u: (max(u["free_at"], t), haversine_m(self.position(u, t), where)))
            taken.add(u["id"])
            chosen.append((u, max(u["free_at"], t)))
        return chosen

    def new_call(self, t_ring: float, major: bool = False) -> None:
        self.counter += 1
        iid = f"INC-{self.counter:06d}"
        where = self.place()
        ems = not major and self.rnd.random() < 0.68
        kind = self.rnd.choice(EMS_CALLS if ems else FIRE_CALLS)
        priority = 1 if major else self.rnd.choices([1, 2, 3], [3, 4, 3])[0]
        answered = t_ring + self.lognormal(6.5, 0.55)  # NENA: ring -> answer
        received = answered
        self.emit(answered, {"kind": "call", "call": f"C-{self.counter:06d}", "incident": iid,
                             "ring": t_ring, "answered": answered})
        self.emit(received, {"kind": "incident", "incident": iid, "status": "received",
                             "type": ("Major " + kind.lower()) if major else kind,
                             "category": "ems" if ems else "fire", "priority": priority,
                             "lon": round(where[0], 6), "lat": round(where[1], 6)})
        if major:
            need = ["fire"] * 4 + ["ems"] * 2
        elif ems:
            need = ["ems"] + (["fire"] if priority == 1 and self.rnd.random() < 0.5 else [])
        else:
            need = ["fire"] * self.rnd.choice([1, 2, 2, 3])
        processing = self.lognormal(38 if priority == 1 else 52, 0.45)  # NFPA 1225 target 60 s
        long_call = self.rnd.random() < 0.04  # stands out on the board: no change for a long time
        cancel_last = len(need) >= 2 and self.rnd.random() < 0.3
        for i, (u, free) in enumerate(self.pick_units(where, need, received + processing)):
            dispatch = free + (i * self.rnd.uniform(0, 20))
            turnout = self.lognormal(42 if ems else 62, 0.3)
            start = self.position(u, dispatch)
            en_route = dispatch + turnout
            travel = self.drive_s(start, where, 42 if priority == 1 else 34)
            self.emit(dispatch, {"unit": u["id"], "status": "dispatched", "incident": iid})
            self.emit(en_route, {"unit": u["id"], "status": "en_route", "incident": iid,
                                 "lon": round(start[0], 6), "lat": round(start[1], 6)})
            if cancel_last and i == len(need) - 1:
                stop = en_route + travel * self.rnd.uniform(0.2, 0.7)
                u["legs"] = [(en_route, en_route + travel, start, where)]
                here = self.position(u, stop)
                u["legs"] = [(en_route, stop, start, here), (stop, stop + self.drive_s(here, u["home"], 30), here, u["home"])]
                self.emit(stop, {"unit": u["id"], "status": "available", "incident": iid})
                u["free_at"] = stop
                continue
            on_scene = en_route + travel
            stay = self.lognormal(75 * 60 if major else (16 * 60 if ems else 24 * 60), 0.35)
            if long_call:
                stay += 2 * 3600
            self.emit(on_scene, {"unit": u["id"], "status": "on_scene", "incident": iid,
                                 "lon": round(where[0], 6), "lat": round(where[1], 6)})
            legs = [(en_route, on_scene, start, where)]
            clear, last = on_scene + stay, where
            if u["type"] in EMS_TYPES and ems and self.rnd.random() < 0.6:
                hosp = min(self.hospitals, key=lambda h: haversine_m(h, where))
                at_hosp = clear + self.drive_s(where, hosp, 45)
                self.emit(clear, {"unit": u["id"], "status": "transporting", "incident": iid})
                self.emit(at_hosp, {"unit": u["id"], "status": "at_hospital", "incident": iid,
                                    "lon": round(hosp[0], 6), "lat": round(hosp[1], 6)})
                legs.append((clear, at_hosp, where, hosp))
                clear, last = at_hosp + self.lognormal(18 * 60, 0.3), hosp
            self.emit(clear, {"unit": u["id"], "status": "available", "incident": iid})
            legs.append((clear, clear + self.drive_s(last, u["home"], 30), last, u["home"]))
            u["legs"] = legs
            u["free_at"] = clear

    def out_of_service(self, t: float) -> None:
        free = [u for u in self.units.values() if u["free_at"] <= t]
        if not free:
            return
        u = self.rnd.choice(free)
        back = t + self.lognormal(45 * 60, 0.4)
        self.emit(t, {"unit": u["id"], "status": "out_of_service", "lon": u["home"][0], "lat": u["home"][1]})
        self.emit(back, {"unit": u["id"], "status": "available", "lon": u["home"][0], "lat": u["home"][1]})
        u["free_at"] = back
        u["legs"] = []

    def advance(self, t_from: float, t_to: float) -> None:
        """Plan every call starting in (t_from, t_to] (a Poisson process by the local hour)."""
        t = t_from
        while True:
            local = datetime.fromtimestamp(t, zone(self.city.timezone))
            rate = calls_per_hour(local.hour + local.minute / 60, len(self.units))
            t += self.rnd.expovariate(rate / 3600)
            if t > t_to:
                break
            if self.rnd.random() < 0.012:  # a major incident; sometimes two at once
                self.new_call(t, major=True)
                if self.rnd.random() < 0.5:
                    self.new_call(t + self.rnd.uniform(0, 90), major=True)
            else:
                self.new_call(t)
            if self.rnd.random() < 0.04:
                self.out_of_service(t + 1)

    # --- the feed -----------------------------------------------------------------------
    def payload(self, now: float) -> bytes:
        events: list[dict] = []
        if self.clock is None:
            start = now - WARM_START_S
            for u in self.units.values():  # every unit reports in at its station
                events.append({"unit": u["id"], "status": "available", "time": start, "station": u["station"],
                               "unit_type": u["type"], "lon": u["home"][0], "lat": u["home"][1]})
            self.clock = start
        self.advance(self.clock, now)
        self.clock = now
        while self.queue and self.queue[0][0] <= now:
            events.append(heapq.heappop(self.queue)[2])
        for e in events:
            u = self.units.get(e.get("unit"))
            if u is not None:
                u["last"] = {"status": e["status"], "incident": e.get("incident")}
        # position pings of units on the road
        for u in self.units.values():
            if u.get("last") and any(t0 <= now < t1 for t0, t1, _, _ in u["legs"]):
                lon, lat = self.position(u, now)
                ping = {"unit": u["id"], "status": u["last"]["status"], "time": now,
                        "lon": round(lon, 6), "lat": round(lat, 6)}
                if u["last"]["incident"]:
                    ping["incident"] = u["last"]["incident"]
                events.append(ping)
        tz = zone(self.city.timezone)
        out = []
        for e in events:
            e = dict(e)
            for k in ("time", "ring", "answered"):
                if k in e:
                    e[k] = datetime.fromtimestamp(e[k], tz).isoformat(timespec="seconds")
            out.append(e)
        return orjson.dumps({"events": out})


def simulators(city: City):
    conf = emergency_config(city)
    if not conf.stations:
        return []
    source = city.feed("emergency").model_copy(update={"options": {"format": "unit-events"},
                                                       "interval_s": conf.simulation_interval_s})
    return [(EmergencyAdapter(city, source), DispatchSimulator(city, city.simulation.seed),
             conf.simulation_interval_s)]
