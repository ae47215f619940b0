"""Simulated service centres and 311 requests, in the real formats the adapters read.

- Queue snapshots as the Warsaw city-office CSV (one row per queue per centre each poll) and the
  visits as a queue-events CSV (issued, called, started, ended, no_show), from one simulation of
  every centre of ``city.services.centres``: opening hours, arrivals peaking on Monday morning and
  at lunch, one counter at a time away for lunch (12:00-14:00) and one off for an hour a day, and once
  a day a queue system outage of 40 minutes at one centre (its rows and events are missing meanwhile).
- 311 requests as Open311 GeoReport v2 JSON: types with their SLA, arrivals by time of day, closure
  times spread around 30 % of the SLA (a few late), integer ids as in the spec, 5 % sent with lat/long 0.

The first payload of each feed also carries the history a fresh demo needs: today since opening and
the same weekday last week (snapshots every 5 minutes), and the last 7 days of requests. After that
each payload holds what changed since the previous one. Deterministic for ``simulation.seed``.
"""
from __future__ import annotations

import csv
import io
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from feeds.config import City
from feeds.service_centres import Centre, services_config
from feeds.timeparse import zone

STEP_S = 60
QUEUES = [  # letter, name, share of arrivals, mean service minutes
    ("A", "Residency and ID cards", 0.40, 9.0),
    ("B", "Vehicles and driving licences", 0.35, 13.0),
    ("C", "Benefits and payments", 0.25, 7.0),
]
NO_SHOW_RATE = 0.04
OUTAGE_MIN = 40
WARSAW_HEADER = ["name", "date", "time", "status", "czasObslugi", "lp", "idGrupy", "liczbaCzynnychStan",
                 "nazwaGrupy", "literaGrupy", "liczbaKlwKolejce", "aktualnyNumer"]
REQUEST_TYPES = [  # code, name, SLA hours, share of requests
    ("POT", "Pothole", 72, 0.16), ("LGT", "Streetlight out", 48, 0.14), ("GRF", "Graffiti", 120, 0.08),
    ("MSW", "Missed waste collection", 24, 0.24), ("NOI", "Noise complaint", 8, 0.26),
    ("ABV", "Abandoned vehicle", 96, 0.06), ("TRE", "Fallen tree or branches", 168, 0.06),
]


def arrival_profile(hour: float, weekday: int) -> float:
    """Relative arrivals by local time: a morning wave, a lunch-hour wave, Monday mornings busiest;
    Saturday one rush in the late morning."""
    def bump(centre, width, height):
        return height * math.exp(-((hour - centre) / width) ** 2)
    if weekday == 5:  # Saturday morning (the centres that open then): people who work in the week, all at once
        return 0.45 + bump(10.6, 1.1, 1.0)
    monday = 1.6 if weekday == 0 else 1.0
    return 0.35 + monday * bump(9.8, 1.2, 0.9) + bump(12.7, 0.8, 0.7) + bump(16.3, 1.0, 0.35)


@dataclass
class Counter:
    home: int  # the queue this counter is staffed for
    busy_until: float = 0.0
    ticket: str | None = None
    queue: int = 0  # the queue of the ticket it is serving


@dataclass
class QueueSim:
    letter: str
    name: str
    share: float
    service_min: float
    waiting: deque = field(default_factory=deque)  # (ticket, arrival)
    issued: int = 0
    serving: str | None = None


class CentreSim:
    def __init__(self, centre: Centre, seed: int, day: datetime):
        self.c = centre
        self.day = day.date()
        self.rnd = random.Random(f"{seed}:{centre.id}:{self.day.isoformat()}")
        self.queues = [QueueSim(*q) for q in QUEUES]
        self.counters = [Counter(home=i % len(QUEUES), queue=i % len(QUEUES)) for i in range(centre.counters)]
        # The day's plan: one counter off for an hour at a random time; lunch breaks 12:00-14:00.
        self.off_counter = self.rnd.randrange(max(1, centre.counters))
        self.off_from = self.rnd.uniform(9.5, 15.5)

    def open_at(self, local: datetime) -> bool:
        return self.c.is_open(local)

    def counters_open(self, local: datetime) -> list[int]:
        if not self.open_at(local):
            return []
        h = local.hour + local.minute / 60
        out = []
        for i in range(len(self.counters)):
            if i == self.off_counter and self.off_from <= h < self.off_from + 1:
                continue
            if 12 <= h < 14 and i == int((h - 12) * 2) % len(self.counters) and len(self.counters) > 2:
                continue  # staggered lunch: one counter away at a time, each for 30 min
            out.append(i)
        return out

    def step(self, t: float, local: datetime, events: list | None) -> None:
        hours = self.c.hours_on(local.weekday())
        if self.open_at(local) and local.hour * 60 + local.minute < hours[1] - 15:
            rate_per_min = self.c.counters * 4.6 / 60 * arrival_profile(local.hour + local.minute / 60, local.weekday())
            for _ in range(self._poisson(rate_per_min)):
                qi = self.rnd.choices(range(len(self.queues)), [q.share for q in self.queues])[0]
                q = self.queues[qi]
                q.issued += 1
                ticket = f"{q.letter}{q.issued:03d}"
                at = t + self.rnd.uniform(0, STEP_S)
                q.waiting.append((ticket, at))
                self._emit(events, q, ticket, "issued", at)
        open_idx = set(self.counters_open(local))
        closing = not self.open_at(local)
        for i, counter in enumerate(self.counters):
            if counter.ticket and counter.busy_until <= t + STEP_S:
                self._emit(events, self.queues[counter.queue], counter.ticket, "ended", counter.busy_until, i)
                counter.ticket = None
            if counter.ticket or (i not in open_idx and not (closing and i < 2)):
                continue
            # A free counter calls the longest-waiting ticket, its own queue first.
            order = [counter.home] + sorted(range(len(self.queues)), key=lambda k: self._head(k))
            for qi in order:
                q = self.queues[qi]
                if q.waiting and q.waiting[0][1] <= t + STEP_S:
                    ticket, arrived = q.waiting.popleft()
                    called = max(t, arrived) + self.rnd.uniform(0, 20)
                    q.serving = ticket
                    self._emit(events, q, ticket, "called", called, i)
                    if self.rnd.random() < NO_SHOW_RATE:
                        self._emit(events, q, ticket, "no_show", called + 120, i)
                        break
                    self._emit(events, q, ticket, "started", called + 30, i)
                    counter.ticket, counter.queue = ticket, qi
                    counter.busy_until = called + 30 + 60 * self.rnd.expovariate(1 / q.service_min)
                    break

    def _head(self, k: int) -> float:
        q = self.queues[k]
        return q.waiting[0][1] if q.waiting else float("inf")

    def _poisson(self, lam: float) -> int:
        n, p, limit = 0, 1.0, math.exp(-lam)
        while True:
            p *= self.rnd.random()
            if p <= limit:
                return n
            n += 1

    def _emit(self, events, q: QueueSim, ticket: str, step: str, t: float, counter: int | None = None) -> None:
        if events is not None:
            events.append((t, self.c.id, q.letter, ticket, step, "" if counter is None else str(counter + 1)))

    def snapshot_rows(self, t: float, local: datetime, idx: int) -> list[list]:
        rows = []
        open_idx = self.counters_open(local)
        for k, q in enumerate(self.queues):
            n_open = sum(1 for i in open_idx if self.counters[i].home == k)
            waiting = sum(1 for _, at in q.waiting if at <= t)
            # Expected wait as a queue display shows it: people ahead x service time / counters that
            # can take them (every open counter helps a queue whose own counters are busy).
            wait = round(waiting * q.service_min / max(1, n_open, len(open_idx) // 2)) if open_idx else 0
            rows.append([self.c.id, local.strftime("%Y-%m-%d"), local.strftime("%H:%M"), "1" if open_idx else "0",
                         str(wait), str(k + 1), str(100 * (idx + 1) + k + 1), str(n_open if open_idx else 0),
                         q.name, q.letter, str(waiting), q.serving or ""])
        return rows


class CitySim:
    """Every centre, advanced minute by minute; each local day starts afresh at midnight."""

    def __init__(self, city: City, seed: int):
        self.city = city
        self.seed = seed
        self.cfg = services_config(city)
        self.tz = zone(city.timezone)
        self.centres: list[CentreSim] = []
        self.t: float | None = None
        self.events: list = []

    def outage(self, centre_idx: int, local: datetime) -> bool:
        """One centre a day loses its queue system for 40 minutes (which one and when: seeded)."""
        n = len(self.cfg.centres)
        if not n:
            return False
        rnd = random.Random(f"{self.seed}:outage:{local.date().isoformat()}")
        who, start = rnd.randrange(n), rnd.uniform(9.0, 16.0)
        h = local.hour + local.minute / 60
        return centre_idx == who and start <= h < start + OUTAGE_MIN / 60

    def _new_day(self, local: datetime) -> None:
        self.centres = [CentreSim(c, self.seed, local) for c in self.cfg.centres.values()]

    def advance(self, now: float, collect: bool = True, snapshots: list | None = None, snap_every_s: float = 300) -> None:
        if self.t is None:
            local = datetime.fromtimestamp(now, self.tz)
            start = local.replace(hour=0, minute=0, second=0, microsecond=0)
            self.t = start.timestamp()
            self._new_day(start)
        while self.t + STEP_S <= now:
            local = datetime.fromtimestamp(self.t, self.tz)
            if self.centres and local.date() != self.centres[0].day:
                self._new_day(local)
            for i, c in enumerate(self.centres):
                buf = [] if collect else None
                c.step(self.t, local, buf)
                if buf and not self.outage(i, local):
                    self.events.extend(buf)
                if snapshots is not None and self.t % snap_every_s < STEP_S and c.open_at(local) \
                        and not self.outage(i, local):
                    snapshots.extend(c.snapshot_rows(self.t, local, i))
            self.t += STEP_S

    def snapshot(self, now: float) -> list[list]:
        local = datetime.fromtimestamp(now, self.tz)
        rows = []
        for i, c in enumerate(self.centres):
            if not self.outage(i, local):
                rows.extend(c.snapshot_rows(now, local, i))
        return rows


def warsaw_csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(WARSAW_HEADER)
    w.writerows(rows)
    return out.getvalue().encode()


class SnapshotFeed:
    """Warsaw-format CSV: the centres' queues now (the first payload adds today and last week)."""

    def __init__(self, sim: CitySim):
        self.sim = sim
        self.first = True

    def payload(self, now: float) -> bytes:
        rows: list[list] = []
        if self.first:
            self.first = False
            week_ago = CitySim(self.sim.city, self.sim.seed)
            start = datetime.fromtimestamp(now, self.sim.tz) - timedelta(days=7)
            start = start.replace(hour=0, minute=0, second=0, microsecond=0)
            week_ago.advance(start.timestamp() + 1)
            week_ago.advance(start.timestamp() + 86400, collect=False, snapshots=rows)
            self.sim.advance(now, snapshots=rows)
        else:
            self.sim.advance(now)
        rows.extend(self.sim.snapshot(now))
        return warsaw_csv(rows)


class EventFeed:
    """Queue-events CSV: every visit step since the previous payload."""

    def __init__(self, sim: CitySim):
        self.sim = sim

    def payload(self, now: float) -> bytes:
        self.sim.advance(now)
        due = [e for e in self.sim.events if e[0] <= now]
        self.sim.events = [e for e in self.sim.events if e[0] > now]
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["centre", "queue", "ticket", "step", "time", "counter"])
        tz = self.sim.tz
        for t, centre, queue, ticket, step, counter in sorted(due):
            w.writerow([centre, queue, ticket, step, datetime.fromtimestamp(t, tz).strftime("%Y-%m-%dT%H:%M:%S"), counter])
        return out.getvalue().encode()


class RequestFeed:
    """Open311 GeoReport v2 JSON of the city's 311 requests."""

    def __init__(self, city: City, seed: int, rate_per_h: float = 12.0, history_days: float = 7):
        self.city = city
        self.rnd = random.Random(f"{seed}:requests")
        self.rate_per_h = rate_per_h
        self.history_s = history_days * 86400
        self.tz = zone(city.timezone)
        lons = [p[0] for d in city.districts for p in d.polygon]
        lats = [p[1] for d in city.districts for p in d.polygon]
        self.bounds = (min(lons), max(lons), min(lats), max(lats))
        self.requests: list[dict] = []
        self.next_id = 100001
        self.t: float | None = None
        self.last_payload: float | None = None

    def _iso(self, t: float | None) -> str | None:
        return None if t is None else datetime.fromtimestamp(t, self.tz).isoformat(timespec="seconds")

    def advance(self, now: float) -> None:
        if self.t is None:
            self.t = now - self.history_s
        while self.t < now:
            local = datetime.fromtimestamp(self.t, self.tz)
            h = local.hour + local.minute / 60
            day_factor = 0.25 + 1.5 * math.exp(-((h - 11) / 4) ** 2) + 0.5 * math.exp(-((h - 19) / 2) ** 2)
            step = min(600.0, now - self.t)
            n = sum(1 for _ in range(4) if self.rnd.random() < self.rate_per_h * day_factor * step / 3600 / 4)
            for _ in range(n):
                code, name, sla_h, _ = self.rnd.choices(REQUEST_TYPES, [t[3] for t in REQUEST_TYPES])[0]
                at = self.t + self.rnd.uniform(0, step)
                took = 3600 * sla_h * 0.3 * math.exp(self.rnd.gauss(0, 0.8))
                no_location = self.rnd.random() < 0.05
                self.requests.append({
                    "id": self.next_id, "code": code, "name": name, "requested": at, "expected": at + sla_h * 3600,
                    "closes": at + took,
                    "lat": 0 if no_location else round(self.rnd.uniform(self.bounds[2], self.bounds[3]), 6),
                    "lon": 0 if no_location else round(self.rnd.uniform(self.bounds[0], self.bounds[1]), 6)})
                self.next_id += 1
            self.t += step
        cutoff = now - 8 * 86400
        self.requests = [r for r in self.requests if r["closes"] > cutoff]

    def row(self, req: dict, now: float) -> dict:
        closed = req["closes"] <= now
        return {"service_request_id": req["id"], "status": "closed" if closed else "open",
                "status_notes": "Resolved" if closed else None, "service_name": req["name"],
                "service_code": req["code"], "description": None, "agency_responsible": "Public Works",
                "service_notice": None, "requested_datetime": self._iso(req["requested"]),
                "updated_datetime": self._iso(req["closes"] if closed else req["requested"]),
                "expected_datetime": self._iso(req["expected"]), "address": None, "address_id": None,
                "zipcode": None, "lat": req["lat"], "long": req["lon"], "media_url": None}

    def payload(self, now: float) -> bytes:
        self.advance(now)
        since = self.last_payload
        self.last_payload = now
        rows = []
        for req in self.requests:
            if req["requested"] > now:
                continue
            changed = since is None or req["requested"] > since or since < req["closes"] <= now
            if changed:
                rows.append(self.row(req, now))
        return orjson.dumps(rows)


def simulators(city: City):
    """The services domain's simulated feeds: (adapter, generator, interval)."""
    from feeds.adapters import ADAPTERS
    from feeds.config import FeedSource

    seed = city.simulation.seed
    out = []
    if services_config(city).centres:
        sim = CitySim(city, seed)
        for fmt, gen, interval in (("warsaw", SnapshotFeed(sim), 30.0), ("queue-events", EventFeed(sim), 30.0)):
            source = FeedSource(interval_s=interval, timezone=city.timezone, options={"format": fmt})
            out.append((ADAPTERS["services"](city, source), gen, interval))
    source = FeedSource(interval_s=60.0, timezone=city.timezone)
    out.append((ADAPTERS["requests"](city, source), RequestFeed(city, seed), 60.0))
    return out
