"""Buses: GTFS Schedule + GTFS-Realtime (VehiclePositions, TripUpdates, Alerts), feed-formats.md §1.1.

One feed, ``transit``, reads up to three GTFS-RT sources (URL or file each) plus the GTFS static zip:

    python -m feeds run transit --gtfs-static gtfs.zip --vehicle-positions URL --trip-updates URL [--alerts URL]

``fetch`` reads every source and frames them into one payload (``BUNDLE``), so the runner's
de-duplication, dead letters and health stay one batch per poll; a payload that is a bare
GTFS-RT ``FeedMessage`` (any mix of vehicle / trip_update / alert entities) is read as well, which is
what the simulator sends. A malformed protobuf dead-letters that source only; the rest is kept.

The GTFS zip is read once per version (hash of its bytes) and written to Redis once per version.
"""
from __future__ import annotations

import bisect
import gc
import hashlib
import logging
import os
import statistics
import time
import urllib.request
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

import orjson
from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

from feeds.adapters.base_city import CityAdapter
from feeds.adapters.transit_gtfs import (Gtfs, StopUpdate, Trip, explicit_delays, load_gtfs,
                                         parse_gtfs_time, parse_yyyymmdd, scheduled_vehicles, service_day_start,
                                         simplify, stop_delays, transit_config)
from feeds.config import ConfigError
from feeds.framework import EPOCH_MAX, FETCH_TIMEOUT_S, Record, Rejected, Skipped, epoch_seconds
from feeds.geo import valid_lonlat
from feeds.timeparse import zone

log = logging.getLogger("feeds.transit")

BUNDLE = b"CITYBRAIN-GTFS-RT-BUNDLE/1\n"
KINDS = ("vehicle_positions", "trip_updates", "alerts")
VEHICLE_RETENTION_S = 3600  # a vehicle silent this long leaves the map
EVENT_RETENTION_FACTOR = 2  # departures and passages kept for 2 x the KPI window
OCCUPANCY = {v.number: v.name for v in rt.VehiclePosition.OccupancyStatus.DESCRIPTOR.values}
STATUS = {v.number: v.name for v in rt.VehiclePosition.VehicleStopStatus.DESCRIPTOR.values}
STU_REL = {v.number: v.name for v in rt.TripUpdate.StopTimeUpdate.ScheduleRelationship.DESCRIPTOR.values}
TRIP_REL = {v.number: v.name for v in rt.TripDescriptor.ScheduleRelationship.DESCRIPTOR.values}
CAUSE = {v.number: v.name for v in rt.Alert.Cause.DESCRIPTOR.values}
EFFECT = {v.number: v.name for v in rt.Alert.Effect.DESCRIPTOR.values}
SEVERITY = {v.number: v.name for v in rt.Alert.SeverityLevel.DESCRIPTOR.values}


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def read_source(where: str, headers: dict | None = None) -> bytes:
    if is_url(where):
        req = urllib.request.Request(where, headers=headers or {"User-Agent": "CityBrain/0.1"})
        with urllib.request.urlopen(req, timeout=FETCH_TIMEOUT_S) as resp:
            return resp.read()
    with open(where, "rb") as f:
        return f.read()


def bundle(parts: dict[str, bytes]) -> bytes:
    """Frame several GTFS-RT payloads into one: ``<kind> <length>\\n<bytes>`` after BUNDLE."""
    out = [BUNDLE]
    for kind, body in parts.items():
        out.append(f"{kind} {len(body)}\n".encode())
        out.append(body)
    return b"".join(out)


def unbundle(payload: bytes) -> list[tuple[str, bytes]]:
    parts, pos = [], len(BUNDLE)
    while pos < len(payload):
        nl = payload.find(b"\n", pos)
        kind, _, size = payload[pos:nl].decode("ascii", "replace").partition(" ")
        if nl < 0 or kind not in KINDS or not size.isdigit() or nl + 1 + int(size) > len(payload):
            raise Rejected(f"bundle: malformed part header at byte {pos}")
        body = payload[nl + 1:nl + 1 + int(size)]
        parts.append((kind, body))
        pos = nl + 1 + int(size)
    return parts


def _undecoded(msg, path: str = ""):
    """Paths of the string fields of ``msg`` whose bytes are not UTF-8 (protobuf hands those over as bytes)."""
    for f, value in msg.ListFields():
        name = f"{path}{f.name}"
        values = value if f.is_repeated else [value]
        if f.type == FieldDescriptor.TYPE_STRING:
            if any(isinstance(v, bytes) for v in values):
                yield name
        elif f.type == FieldDescriptor.TYPE_MESSAGE:
            for v in values:
                yield from _undecoded(v, name + ".")


@dataclass(slots=True)
class RawEntity:
    """One FeedEntity with its feed's header; shown as protobuf text in a dead letter."""
    source: str
    header_t: int
    entity: object

    def __str__(self) -> str:
        return f"[{self.source} @ {self.header_t}] " + text_format.MessageToString(self.entity, as_one_line=True)


@dataclass(slots=True)
class BadSource:
    """A source whose payload could not be read at all (dead-lettered alone)."""
    source: str
    reason: str
    body: bytes

    def __str__(self) -> str:
        return f"[{self.source}] {self.body[:2000]!r}"


class ScheduleIndex:
    """The loaded GTFS, indexed for the hot path: scheduled headway by route and direction."""

    def __init__(self, gtfs: Gtfs, tz: str):
        self.gtfs = gtfs
        self.tz = gtfs.timezone or tz
        starts: dict[tuple[str, int, str], list[int]] = defaultdict(list)
        freqs: dict[tuple[str, int], list[tuple[str, int, int, int]]] = defaultdict(list)
        self.by_route: dict[str, list[Trip]] = defaultdict(list)
        for trip in gtfs.trips.values():
            self.by_route[trip.route_id].append(trip)
            if trip.frequencies:
                for start, end, headway, _ in trip.frequencies:
                    freqs[(trip.route_id, trip.direction_id)].append((trip.service_id, start, end, headway))
            elif trip.start is not None:
                starts[(trip.route_id, trip.direction_id, trip.service_id)].append(trip.start)
        self.starts = {k: sorted(v) for k, v in starts.items()}
        self.freqs = dict(freqs)
        self.services_of: dict[tuple[str, int], set[str]] = defaultdict(set)
        for (route, direction, service) in self.starts:
            self.services_of[(route, direction)].add(service)

    def active_days(self, at: float) -> dict[str, list[date]]:
        out = {}
        for sid in self.gtfs.services:
            days = self.gtfs.service_days(sid, at, self.tz)
            if days:
                out[sid] = days
        return out

    def scheduled_headway(self, route: str, direction: int, at: float, active: dict[str, list[date]]) -> float | None:
        """H at ``at``: headway_secs of a running frequencies.txt row, else the median gap between the
        scheduled trip starts of the route and direction from 90 min before to 30 min after (a bus
        seen mid-route started up to that long ago)."""
        for service, start, end, headway in self.freqs.get((route, direction), ()):
            for day in active.get(service, ()):
                secs = at - service_day_start(day, self.tz)
                if start <= secs < end:
                    return float(headway)
        gaps = []
        for service in self.services_of.get((route, direction), ()):
            starts = self.starts[(route, direction, service)]
            for day in active.get(service, ()):
                secs = at - service_day_start(day, self.tz)
                lo = bisect.bisect_left(starts, secs - 5400)
                hi = bisect.bisect_right(starts, secs + 1800)
                near = starts[lo:hi]
                gaps.extend(b - a for a, b in zip(near, near[1:]) if b > a)
        return float(statistics.median(gaps)) if gaps else None


class TransitAdapter(CityAdapter):
    name = "transit"
    domain = "transit"
    title = "Buses (GTFS + GTFS-Realtime)"
    formats = ("gtfs-rt",)
    kpi_domains = ("transit",)
    cli_options = (
        ("--gtfs-static", "gtfs_static", "GTFS Schedule zip: path or URL"),
        ("--vehicle-positions", "vehicle_positions", "GTFS-RT VehiclePositions: URL or path"),
        ("--trip-updates", "trip_updates", "GTFS-RT TripUpdates: URL or path"),
        ("--alerts", "alerts", "GTFS-RT Alerts: URL or path"),
    )

    @classmethod
    def check_source(cls, source) -> None:
        opts = source.options
        fmt = opts.get("format")
        if fmt is not None and fmt not in cls.formats:
            raise ConfigError(f"{cls.name}: unknown format {fmt!r}; one of {', '.join(cls.formats)}")
        if not opts.get("gtfs_static"):
            raise ConfigError(f"{cls.name}: no schedule: give --gtfs-static PATH_OR_URL "
                              f"(or feeds.{cls.name}.options.gtfs_static in CITY_CONFIG)")
        if not (opts.get("vehicle_positions") or opts.get("trip_updates") or source.url or source.file):
            raise ConfigError(f"{cls.name}: no realtime source: give --vehicle-positions and/or --trip-updates")
        for key in ("gtfs_static", *KINDS):
            where = opts.get(key)
            if where is None:
                continue
            if not isinstance(where, str) or not where.strip():
                raise ConfigError(f"{cls.name}: {key} must be a path or URL")
            if not is_url(where):
                try:
                    with open(where, "rb"):
                        pass
                except OSError as e:
                    flag = "--" + key.replace("_", "-")
                    raise ConfigError(f"{cls.name}: cannot read {flag} {where}: {e.strerror}") from None
                if key == "gtfs_static" and not zipfile.is_zipfile(where):
                    raise ConfigError(f"{cls.name}: --gtfs-static {where} is not a GTFS zip file")

    def __init__(self, city, source, gtfs: Gtfs | None = None):
        super().__init__(city, source)
        self.config = transit_config(city)
        self.sched: ScheduleIndex | None = None
        self._static_checked = 0.0
        self._static_stamp = None  # (mtime, size) of a GTFS file
        self._static_error: str | None = None
        self._static_in_redis: str | None = None
        if gtfs is not None:
            self._use(gtfs)
        self._trip_delays: dict[str, int] = {}  # trip -> current delay, from its newest TripUpdate
        self._vp_delays: dict[str, int] = {}  # trip -> delay observed from positions (no TripUpdate)
        self._last_stop: dict[str, tuple] = {}  # vehicle -> (trip, stop) of its last recorded passage
        self._pending_stops: dict[str, tuple] = {}
        self._last_obs: dict[str, tuple] = {}  # vehicle -> (trip, stop index, stopped) of its last report
        self._pending_obs: dict[str, tuple] = {}
        self._alerts_seen: set[str] | None = None
        self._feed_t: float | None = None
        self._active_cache: tuple[int, dict] | None = None
        self._last_prune = 0.0
        self._scheduled_minute: tuple | None = None

    # --- static schedule ----------------------------------------------------------
    def _use(self, gtfs: Gtfs) -> None:
        self.sched = ScheduleIndex(gtfs, self.tz)
        self._active_cache = None
        # A big schedule is millions of long-lived objects: keep them out of the cyclic collector's
        # scans, which otherwise cost every batch and KPI recompute of this process hundreds of ms.
        gc.collect()
        gc.freeze()

    def ensure_static(self) -> None:
        """(Re)load the GTFS zip when its file changed, or every gtfs_refresh_s for a URL."""
        where = self.source.options.get("gtfs_static")
        if not where:
            return
        now = time.monotonic()
        if is_url(where):
            if self.sched is not None and now - self._static_checked < self.config.gtfs_refresh_s:
                return
        else:
            try:
                st = os.stat(where)
            except OSError as e:
                self._static_error = f"GTFS static {where}: {e.strerror}"
                return
            if self.sched is not None and self._static_stamp == (st.st_mtime, st.st_size):
                return
            self._static_stamp = (st.st_mtime, st.st_size)
        self._static_checked = now
        try:
            data = read_source(where)
            if self.sched is not None and self.sched.gtfs.version == hashlib.blake2b(data, digest_size=10).hexdigest():
                return
            self._use(load_gtfs(data))
            self._static_error = None
            log.info("transit: GTFS static %s loaded (%d routes, %d trips)", self.sched.gtfs.version,
                     len(self.sched.gtfs.routes), len(self.sched.gtfs.trips))
        except (OSError, ValueError, KeyError) as e:
            self._static_error = f"GTFS static {where}: {type(e).__name__}: {e}"
            log.error("transit: %s", self._static_error)

    # --- fetch / parse -------------------------------------------------------------
    def fetch(self) -> bytes:
        opts = self.source.options
        parts = {}
        for kind in KINDS:
            where = opts.get(kind)
            if where:
                try:
                    parts[kind] = read_source(where, self.request_headers())
                except OSError as e:
                    if kind == "alerts":  # no alerts is not worth failing the poll over
                        log.warning("transit: alerts: %s", e)
                        continue
                    raise OSError(f"transit: {kind} {where}: {e}") from None
        if not parts:
            return super().fetch()
        return bundle(parts)

    def request_headers(self) -> dict[str, str]:
        return {"User-Agent": "CityBrain/0.1", "Accept": "application/x-protobuf"}

    def parse(self, payload: bytes):
        self.ensure_static()
        self._alerts_seen = None
        self._feed_t = None
        parts = unbundle(payload) if payload.startswith(BUNDLE) else [("feed", payload)]
        raws: list = []
        if self._static_error:
            raws.append(BadSource("gtfs_static", self._static_error, b""))
        readable = 0
        for kind, body in parts:
            msg = rt.FeedMessage()
            try:
                msg.ParseFromString(body)
                if not msg.HasField("header"):
                    raise DecodeError("no FeedHeader")
            except (DecodeError, ValueError) as e:
                raws.append(BadSource(kind, f"{kind}: not a GTFS-RT FeedMessage ({e})", body))
                continue
            header_t = int(msg.header.timestamp)
            if header_t > EPOCH_MAX:  # every entity without a time of its own would take this one
                raws.append(BadSource(kind, f"{kind}: header timestamp {header_t} is not epoch seconds", body))
                continue
            readable += 1
            self._feed_t = max(self._feed_t or 0, header_t) or None
            # A full dataset of alerts is the complete list: alerts it no longer carries are over.
            if kind in ("alerts", "feed") and msg.header.incrementality == rt.FeedHeader.FULL_DATASET:
                self._alerts_seen = set() if self._alerts_seen is None else self._alerts_seen
            for entity in msg.entity:
                raws.append(RawEntity(kind, header_t, entity))
        if not readable and len(parts) == 1 and not payload.startswith(BUNDLE):
            raise Rejected(raws[-1].reason)
        return raws

    # --- validate -------------------------------------------------------------------
    def validate(self, raw) -> Record:
        if isinstance(raw, BadSource):
            raise Rejected(raw.reason)
        e = raw.entity
        not_text = next(_undecoded(e), None)
        if not_text:
            raise Rejected(f"{not_text}: not UTF-8 text")
        if e.is_deleted:
            raise Skipped("deleted entity")
        if e.HasField("vehicle"):
            return self._vehicle(raw, e.vehicle)
        if e.HasField("trip_update"):
            return self._trip_update(raw, e.trip_update)
        if e.HasField("alert"):
            return self._alert(raw, e.id, e.alert)
        raise Skipped("entity without vehicle, trip_update or alert")

    def _route_of(self, trip_desc) -> tuple[str | None, Trip | None]:
        """The trip's route, checked against the schedule: an unknown route is a dead letter."""
        trip = self.sched.gtfs.trips.get(trip_desc.trip_id) if self.sched and trip_desc.trip_id else None
        route = trip_desc.route_id or (trip.route_id if trip else None)
        if self.sched is not None and trip is None and trip_desc.trip_id and not trip_desc.route_id:
            raise Rejected(f"trip {trip_desc.trip_id!r} not in GTFS static {self.sched.gtfs.version} and no route_id")
        if self.sched is not None and route is not None and route not in self.sched.gtfs.routes:
            raise Rejected(f"unknown route {route!r}: not in GTFS static {self.sched.gtfs.version}")
        if trip is not None and trip_desc.route_id and trip.route_id != trip_desc.route_id:
            raise Rejected(f"trip {trip.id!r} belongs to route {trip.route_id!r}, feed says {trip_desc.route_id!r}")
        return route, trip

    def _vehicle(self, raw: RawEntity, v) -> Record:
        if not v.HasField("position"):
            raise Skipped("vehicle without position")
        lat, lon = v.position.latitude, v.position.longitude
        if not valid_lonlat(lon, lat):
            raise Rejected(f"position out of range ({lat}, {lon})")
        if lat == 0 and lon == 0:
            raise Skipped("no position (0, 0)")
        vid = v.vehicle.id or v.vehicle.label or raw.entity.id
        if not vid:
            raise Rejected("vehicle without id")
        t = int(v.timestamp) or raw.header_t
        if not t:
            raise Rejected("no timestamp (vehicle or header)")
        t = int(epoch_seconds(t, "timestamp"))
        route, trip = self._route_of(v.trip)
        if route is None:
            raise Skipped("not on a route (no trip)")
        direction = v.trip.direction_id if v.trip.HasField("direction_id") else (trip.direction_id if trip else 0)
        data = {"id": vid, "label": v.vehicle.label or vid, "r": route, "trip": v.trip.trip_id or None,
                "d": direction, "lat": round(lat, 6), "lon": round(lon, 6), "t": t,
                "b": round(v.position.bearing, 1) if v.position.HasField("bearing") else None,
                "spd": round(v.position.speed, 2) if v.position.HasField("speed") else None,
                "occ": OCCUPANCY.get(v.occupancy_status) if v.HasField("occupancy_status") else None,
                "s": v.stop_id or None, "seq": v.current_stop_sequence if v.HasField("current_stop_sequence") else None,
                "st": STATUS.get(v.current_status) if v.HasField("current_status") else None,
                "ds": self.resolve_district((lon, lat))}
        if trip is not None and not trip.frequency_based and (v.stop_id or v.HasField("current_stop_sequence")):
            # feed-formats.md §3.2, from VehiclePositions only: which stop of the trip the report names
            # (at it, or heading to it: current_status, absent = IN_TRANSIT_TO), judged in publish().
            if v.HasField("current_stop_sequence"):
                idx = next((i for i, x in enumerate(trip.stop_times) if x.seq == v.current_stop_sequence), None)
            else:
                last = self._last_obs.get(vid)
                after = last[1] if last and last[0] == trip.id else -1
                idx = next((i for i in range(after + 1, len(trip.stop_times)) if trip.stop_times[i].stop_id == v.stop_id),
                           None)
                if idx is None:
                    idx = next((i for i, x in enumerate(trip.stop_times) if x.stop_id == v.stop_id), None)
            if idx is not None:
                data["_obs"] = [idx, self._day_start(trip, v.trip, t), data["st"] == "STOPPED_AT"]
        return Record(f"v:{vid}", float(t), data)

    def _day_start(self, trip: Trip, desc, t: float) -> float:
        """Service day "noon minus 12h" of this trip instance: start_date if given, else the active
        service day (today or yesterday, for trips past 24:00:00) whose schedule is nearest ``t``."""
        tz = self.sched.tz
        if desc.start_date:
            try:
                return service_day_start(parse_yyyymmdd(desc.start_date), tz)
            except ValueError:
                raise Rejected(f"start_date {desc.start_date!r} is not YYYYMMDD") from None
        days = self.sched.gtfs.service_days(trip.service_id, t, tz) or [datetime.fromtimestamp(t, zone(tz)).date()]
        mid = ((trip.start or 0) + (trip.end or 0)) / 2
        return min((service_day_start(d, tz) for d in days), key=lambda s: abs(s + mid - t))

    def _trip_update(self, raw: RawEntity, tu) -> Record:
        desc = tu.trip
        t = int(tu.timestamp) or raw.header_t
        if not t:
            raise Rejected("no timestamp (trip update or header)")
        t = int(epoch_seconds(t, "timestamp"))
        relationship = TRIP_REL.get(desc.schedule_relationship, "SCHEDULED")
        if relationship == "CANCELED":
            raise Skipped("canceled trip")
        route, trip = self._route_of(desc)
        trip_id = desc.trip_id or raw.entity.id
        updates = []
        for stu in tu.stop_time_update:
            rel = STU_REL.get(stu.schedule_relationship, "SCHEDULED")
            upd = StopUpdate(stu.stop_sequence if stu.HasField("stop_sequence") else None, stu.stop_id or None, rel)
            if rel == "NO_DATA" and (stu.HasField("arrival") or stu.HasField("departure")):
                # The spec forbids times with NO_DATA: keep the stop as unknown, say so.
                pass
            elif rel != "NO_DATA":
                if stu.HasField("arrival"):
                    upd.arr_delay = stu.arrival.delay if stu.arrival.HasField("delay") else None
                    upd.arr_time = stu.arrival.time if stu.arrival.HasField("time") else None
                if stu.HasField("departure"):
                    upd.dep_delay = stu.departure.delay if stu.departure.HasField("delay") else None
                    upd.dep_time = stu.departure.time if stu.departure.HasField("time") else None
            updates.append(upd)
        trip_delay = tu.delay if tu.HasField("delay") else None
        events = []
        if trip is not None and trip.frequency_based:
            delays, day_start, times = [], None, None  # exact_times=0: judged by headway, not delay
        elif trip is not None:
            stop_times = trip.stop_times
            shift = 0
            if trip.frequencies and desc.start_time:  # exact_times=1: the instance starting at start_time
                shift = (parse_gtfs_time(desc.start_time) or 0) - (trip.start or 0)
            day_start = self._day_start(trip, desc, t) + shift
            delays = stop_delays(stop_times, updates, day_start, trip_delay)
            times = trip.by_seq
            last_seq = stop_times[-1].seq
            horizon = t + self.config.prediction_lookahead_s
            for sd in delays:
                st = times[sd.seq]
                # TCQSM: departure delay at timepoints; at the terminal, the arrival.
                terminal = sd.seq == last_seq
                delay = sd.arr_delay if terminal else sd.dep_delay
                sched = st.arr if terminal else (st.dep if st.dep is not None else st.arr)
                if delay is None or sd.skipped or sched is None:
                    continue
                when = day_start + sched + delay
                if when > horizon:
                    continue  # not departed yet: a later update will record it
                events.append({"k": f"{trip_id}|{sd.seq}", "s": sd.stop_id, "seq": sd.seq, "dl": round(delay),
                               "t": round(when), "tp": int(st.timepoint)})
        else:  # no schedule for this trip: the feed's own delay at its next stop, at the update's time
            delays = explicit_delays(updates, trip_delay)
            if delays:
                sd = delays[0]
                events.append({"k": f"{trip_id}|{sd.seq}", "s": sd.stop_id, "seq": sd.seq,
                               "dl": round(sd.dep_delay if sd.dep_delay is not None else sd.arr_delay), "t": t,
                               "tp": 1})
        upcoming = [sd for sd in delays if sd.dep_delay is not None and not sd.skipped]
        current = None
        if upcoming:
            future = [e for e in events if e["t"] >= t - 30]
            current = future[0]["dl"] if future else (events[-1]["dl"] if events else round(upcoming[0].dep_delay))
        data = {"trip": trip_id, "r": route, "d": trip.direction_id if trip else (desc.direction_id or 0),
                "vehicle": tu.vehicle.id or None, "t": t, "delay": current, "events": events,
                "stops": [[sd.seq, sd.stop_id, None if sd.arr_delay is None else round(sd.arr_delay),
                           None if sd.dep_delay is None else round(sd.dep_delay), int(sd.skipped)] for sd in delays],
                "rel": relationship}
        return Record(f"t:{trip_id}", float(t), data)

    def _alert(self, raw: RawEntity, alert_id: str, a) -> Record:
        def text(ts) -> str:
            tr = next((x for x in ts.translation if x.language in ("", "en")), ts.translation[0] if ts.translation else None)
            return tr.text if tr else ""
        routes = sorted({ie.route_id or ie.trip.route_id for ie in a.informed_entity if ie.route_id or ie.trip.route_id})
        if self.sched is not None and routes and not any(r in self.sched.gtfs.routes for r in routes):
            raise Rejected(f"alert names only unknown routes {routes}")
        data = {"id": alert_id, "header": text(a.header_text)[:300], "description": text(a.description_text)[:1000],
                "cause": CAUSE.get(a.cause, "UNKNOWN_CAUSE"), "effect": EFFECT.get(a.effect, "UNKNOWN_EFFECT"),
                "severity": SEVERITY.get(a.severity_level, "UNKNOWN_SEVERITY"), "routes": routes,
                "stops": sorted({ie.stop_id for ie in a.informed_entity if ie.stop_id}),
                "periods": [[p.start or None, p.end or None] for p in a.active_period], "t": raw.header_t}
        if self._alerts_seen is not None:
            self._alerts_seen.add(alert_id)
        fingerprint = hashlib.blake2b(orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
        return Record(f"a:{alert_id}", float(raw.header_t or time.time()), data, fingerprint=fingerprint)

    # --- publish --------------------------------------------------------------------
    def _active(self, at: float) -> dict[str, list[date]]:
        hour = int(at // 900)
        if self._active_cache is None or self._active_cache[0] != hour:
            self._active_cache = (hour, self.sched.active_days(at))
        return self._active_cache[1]

    def publish(self, pipe, keys, records):
        vehicles, trips, alerts, departures, passages = {}, {}, {}, {}, {}
        self._pending_stops = {}
        self._pending_obs = {}
        # The map colours each bus by its trip's current delay: join it here, once, not on every read.
        for rec in records:
            if rec.key[0] == "t" and rec.data["delay"] is not None:
                self._trip_delays[rec.data["trip"]] = rec.data["delay"]
        for rec in records:
            kind, d = rec.key[0], rec.data
            if kind == "v":
                obs = d.pop("_obs", None)
                d["dl"] = self._trip_delays.get(d["trip"]) if d["trip"] else None
                visit = (d["trip"], d["s"])
                if d["s"] and self._last_stop.get(d["id"]) != visit:
                    self._pending_stops[d["id"]] = visit
                    h = None
                    if self.sched is not None:
                        h = self.sched.scheduled_headway(d["r"], d["d"], d["t"], self._active(d["t"]))
                    member = {"r": d["r"], "d": d["d"], "s": d["s"], "v": d["id"], "trip": d["trip"], "t": d["t"],
                              "H": h, "ds": d["ds"]}
                    passages[orjson.dumps(member)] = d["t"]
                if obs is not None:
                    self._observe(d, obs, departures)
                if d["dl"] is None and d["trip"]:
                    d["dl"] = self._vp_delays.get(d["trip"])
                vehicles[d["id"]] = orjson.dumps(d)
            elif kind == "t":
                trips[d["trip"]] = orjson.dumps({k: v for k, v in d.items() if k != "events"})
                for ev in d["events"]:
                    departures[ev["k"]] = {"r": d["r"], "d": d["d"], "trip": d["trip"], "s": ev["s"],
                                           "dl": ev["dl"], "t": ev["t"], "tp": ev["tp"],
                                           "ds": self._stop_district(ev["s"])}
            else:
                alerts[d["id"]] = orjson.dumps(d)
        if vehicles:
            pipe.hset(keys.transit_vehicles(), mapping=vehicles)
        if passages:
            pipe.zadd(keys.transit_passages(), passages)
        if trips:
            pipe.hset(keys.transit_trip_updates(), mapping=trips)
        if departures:
            pipe.hset(keys.transit_departures(), mapping={k: orjson.dumps(v) for k, v in departures.items()})
            pipe.zadd(keys.transit_departures_by_time(), {k: v["t"] for k, v in departures.items()})
        if alerts:
            pipe.hset(keys.transit_alerts(), mapping=alerts)

    def _observe(self, d: dict, obs: list, departures: dict) -> None:
        """feed-formats.md §3.2 "from VehiclePositions only", for a trip without TripUpdates. GTFS-RT's
        stop_id / current_stop_sequence is the stop the bus is at (STOPPED_AT) or heading to
        (IN_TRANSIT_TO, the default, or INCOMING_AT), so:
        - the first report STOPPED_AT a stop is the observed arrival there: delay = t - scheduled arrival;
        - a report heading to a later stop of the same trip than the previous report means the bus has
          left the stop before it: delay = t - that stop's scheduled departure (TCQSM's event at a
          timepoint; it replaces the arrival's);
        - a first report heading to a stop says nothing about when the bus was anywhere: no event."""
        idx, day_start, stopped = obs
        trip = self.sched.gtfs.trips.get(d["trip"]) if self.sched else None
        if trip is None:
            return
        prev = self._last_obs.get(d["id"])
        self._pending_obs[d["id"]] = (d["trip"], idx, stopped)
        if d["trip"] in self._trip_delays:
            return  # the trip's TripUpdates judge it
        st, sched = None, None
        if stopped and prev != (d["trip"], idx, True):
            st = trip.stop_times[idx]
            sched = st.arr if st.arr is not None else st.dep
        elif not stopped and prev is not None and prev[0] == d["trip"] and prev[1] < idx:
            st = trip.stop_times[idx - 1]
            sched = st.dep if st.dep is not None else st.arr
        if st is None or sched is None:
            return
        delay = round(d["t"] - (day_start + sched))
        self._vp_delays[d["trip"]] = delay
        departures[f"{d['trip']}|{st.seq}"] = {"r": d["r"], "d": d["d"], "trip": d["trip"], "s": st.stop_id,
                                               "dl": delay, "t": d["t"], "tp": int(st.timepoint),
                                               "ds": self._stop_district(st.stop_id)}

    def _stop_district(self, stop_id: str) -> str | None:
        cache = getattr(self, "_stop_districts", None)
        if cache is None or cache[0] is not self.sched:
            cache = (self.sched, {})
            self._stop_districts = cache
        if stop_id not in cache[1]:
            stop = self.sched.gtfs.stops.get(stop_id) if self.sched else None
            cache[1][stop_id] = self.resolve_district((stop["lon"], stop["lat"])) if stop else None
        return cache[1][stop_id]

    def route_district(self, route: str) -> str | None:
        """The district most of a route's stops lie in (where its scheduled buses are counted)."""
        cache = getattr(self, "_route_districts", None)
        if cache is None or cache[0] is not self.sched:
            cache = (self.sched, {})
            self._route_districts = cache
        if route not in cache[1]:
            trips = self.sched.by_route.get(route, [])
            longest = max(trips, key=lambda t: len(t.stop_times), default=None)
            found = [self._stop_district(st.stop_id) for st in (longest.stop_times if longest else [])]
            found = [d for d in found if d]
            cache[1][route] = max(set(found), key=found.count) if found else None
        return cache[1][route]

    def published(self, records):
        self._last_stop.update(self._pending_stops)
        self._pending_stops = {}
        self._last_obs.update(self._pending_obs)
        self._pending_obs = {}

    # --- housekeeping ---------------------------------------------------------------
    def redis_lost(self):
        # The schedule (routes, stops, trips) and the buses it needs go in again after the next batch.
        self._static_in_redis = None
        self._scheduled_minute = None

    def housekeeping(self, r, keys, now):
        if self.sched is not None and self._static_in_redis != self.sched.gtfs.version:
            stored = r.hget(keys.transit_static(), "version")
            if stored != self.sched.gtfs.version:
                self._store_static(r, keys)
            self._static_in_redis = self.sched.gtfs.version
        feed_t = self._feed_t or now
        minute = int(feed_t // 60)
        if self.sched is not None and self._scheduled_minute != (self.sched.gtfs.version, minute):
            # The buses a schedule needs change by the minute, not by the batch.
            self._scheduled_minute = (self.sched.gtfs.version, minute)
            active = self._active(feed_t)
            counts = {route: orjson.dumps({"n": scheduled_vehicles(trips, active, feed_t, self.sched.tz),
                                           "ds": self.route_district(route)})
                      for route, trips in self.sched.by_route.items()}
            pipe = r.pipeline(transaction=False)
            pipe.delete(keys.transit_scheduled())
            pipe.hset(keys.transit_scheduled(), mapping={**counts, "_at": feed_t})
            pipe.execute()
        if self._alerts_seen is not None:
            gone = [a for a in r.hkeys(keys.transit_alerts()) if a not in self._alerts_seen]
            if gone:
                r.hdel(keys.transit_alerts(), *gone)
                r.hdel(keys.seen(self.domain, self.name), *[f"a:{a}" for a in gone])
        if now - self._last_prune >= 60:
            self._last_prune = now
            self.prune(r, keys, feed_t)

    def prune(self, r, keys, feed_t: float) -> None:
        keep_s = EVENT_RETENTION_FACTOR * self.config.window_s
        stale_trips = []
        for trip, raw in r.hscan_iter(keys.transit_trip_updates(), count=2000):
            if orjson.loads(raw)["t"] < feed_t - VEHICLE_RETENTION_S:
                stale_trips.append(trip)
        if stale_trips:
            r.hdel(keys.transit_trip_updates(), *stale_trips)
            r.hdel(keys.seen(self.domain, self.name), *[f"t:{t}" for t in stale_trips])
            for t in stale_trips:
                self._trip_delays.pop(t, None)
        if len(self._vp_delays) > 50_000:  # trips of past days
            self._vp_delays.clear()
        old = r.zrangebyscore(keys.transit_departures_by_time(), "-inf", feed_t - keep_s)
        pipe = r.pipeline(transaction=False)
        if old:
            pipe.hdel(keys.transit_departures(), *old)
            pipe.zrem(keys.transit_departures_by_time(), *old)
        pipe.zremrangebyscore(keys.transit_passages(), "-inf", feed_t - keep_s)
        pipe.execute()
        silent = []
        for vid, raw in r.hscan_iter(keys.transit_vehicles(), count=2000):
            if orjson.loads(raw)["t"] < feed_t - VEHICLE_RETENTION_S:
                silent.append(vid)
        if silent:
            r.hdel(keys.transit_vehicles(), *silent)
            r.hdel(keys.seen(self.domain, self.name), *[f"v:{v}" for v in silent])

    def _store_static(self, r, keys) -> None:
        """Write the schedule in the shapes the KPI engine, pages and API read, in one go."""
        g = self.sched.gtfs
        stops = {}
        for sid, s in g.stops.items():
            stops[sid] = orjson.dumps({**s, "district": self.resolve_district((s["lon"], s["lat"]))})
        routes = {}
        for rid, route in g.routes.items():
            trips = self.sched.by_route.get(rid, [])
            longest = max(trips, key=lambda t: (t.direction_id == 0, len(t.stop_times)), default=None)
            shape = simplify(g.shapes.get(longest.shape_id, [])) if longest else []
            stop_ids = [st.stop_id for st in longest.stop_times] if longest else []
            if not shape:
                shape = [(g.stops[s]["lon"], g.stops[s]["lat"]) for s in stop_ids if s in g.stops]
            headways = [f[2] for t in trips for f in t.frequencies]
            routes[rid] = orjson.dumps({"id": rid, **route, "shape": shape, "stops": stop_ids,
                                        "frequency_based": any(t.frequency_based for t in trips),
                                        "headway_s": min(headways) if headways else None})
        trips = {tid: orjson.dumps({"route_id": t.route_id, "direction_id": t.direction_id,
                                    "service_id": t.service_id,
                                    "stop_times": [[st.seq, st.stop_id, st.arr, st.dep] for st in t.stop_times]})
                 for tid, t in g.trips.items()}
        pipe = r.pipeline(transaction=False)
        for key in (keys.transit_routes(), keys.transit_stops(), keys.transit_trips()):
            pipe.delete(key)
        for key, mapping in ((keys.transit_routes(), routes), (keys.transit_stops(), stops),
                             (keys.transit_trips(), trips)):
            items = list(mapping.items())
            for i in range(0, len(items), 5000):
                pipe.hset(key, mapping=dict(items[i:i + 5000]))
        pipe.delete(keys.transit_static())
        pipe.hset(keys.transit_static(), mapping={
            "version": g.version, "loaded_at": time.time(), "timezone": self.sched.tz, "routes": len(routes),
            "stops": len(stops), "trips": len(trips), "files": ",".join(g.files)})
        pipe.execute()
        log.info("transit: GTFS static %s stored in Redis", g.version)
