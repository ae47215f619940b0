"""GTFS Schedule (static) reading, the transit section of CITY_CONFIG, and the GTFS-RT delay rules.

Pure functions, no Redis: the ``transit`` adapter (feeds/adapters/transit.py) loads a schedule
once per feed version (hash of the zip) and uses these to turn StopTimeUpdates into delays.
feed-formats.md §1.1, §3.2.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from feeds.config import City, ConfigError
from feeds.timeparse import zone


# ----------------------------------------------------------------------------- configuration
class TransitRoute(BaseModel):
    """A route of the sample city (the simulator builds a GTFS zip from these)."""
    model_config = ConfigDict(extra="allow", frozen=True)
    id: str
    short_name: str = ""
    headway_s: float = Field(600, gt=0)
    stops: list[dict] = []


class TransitConfig(BaseModel):
    """``city.transit``: thresholds of the transit KPIs (kpis.md; feed-formats.md §3.2, §3.3)."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    routes: list[TransitRoute] = []
    on_time_early_s: float = Field(60, ge=0)  # TCQSM / agency practice: -60 s .. +300 s is on time
    on_time_late_s: float = Field(300, ge=0)
    window_s: float = Field(3600, gt=0)  # on-time and headway events of the last 60 min
    bunched_ratio: float = Field(0.5, gt=0, lt=1)  # h / H below this is bunching
    gapped_ratio: float = Field(1.5, gt=1)  # h / H above this is a gap
    frequent_headway_s: float = Field(600, gt=0)  # TCQSM ch. 5: headway adherence for headways <= 10 min
    vehicle_fresh_s: float = Field(180, gt=0)  # a vehicle counts as in service if it reported within this
    prediction_lookahead_s: float = Field(120, ge=0)  # record a stop's departure once it is this close
    gtfs_refresh_s: float = Field(3600, gt=0)  # re-read a GTFS URL this often (a file: when it changes)
    simulation_interval_s: float = Field(10, gt=0)
    simulation_vehicles_per_route: int | None = Field(None, gt=0)


def transit_config(city: City) -> TransitConfig:
    try:
        return TransitConfig.model_validate(city.transit or {})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"CITY_CONFIG: transit.{where}: {err['msg']}") from None


# ----------------------------------------------------------------------------- GTFS static
def parse_gtfs_time(text: str) -> int | None:
    """"HH:MM:SS" (hours may be >= 24, or one digit) -> seconds after "noon minus 12h"; blank -> None."""
    text = (text or "").strip()
    if not text:
        return None
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"bad GTFS time {text!r}")
    h, m, s = (int(p) for p in parts)
    if not (0 <= m < 60 and 0 <= s < 61 and h >= 0):
        raise ValueError(f"bad GTFS time {text!r}")
    return h * 3600 + m * 60 + s


@lru_cache(maxsize=256)
def service_day_start(day: date, tz: str) -> float:
    """GTFS reference: times count from "noon minus 12h" of the service day (local), which differs
    from midnight on the days clocks change."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone(tz))
    return noon.timestamp() - 12 * 3600


@lru_cache(maxsize=256)
def parse_yyyymmdd(text: str) -> date:
    text = text.strip()
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


@dataclass(slots=True)
class StopTime:
    seq: int
    stop_id: str
    arr: int | None
    dep: int | None
    timepoint: bool


@dataclass
class Trip:
    id: str
    route_id: str
    service_id: str
    direction_id: int
    shape_id: str
    stop_times: list[StopTime] = field(default_factory=list)
    # frequencies.txt rows: (start_s, end_s, headway_s, exact_times)
    frequencies: list[tuple[int, int, int, bool]] = field(default_factory=list)

    @property
    def frequency_based(self) -> bool:
        """exact_times=0: no schedule to be late against; judged by headway (feed-formats.md §3.2)."""
        return bool(self.frequencies) and not any(f[3] for f in self.frequencies)

    @cached_property
    def start(self) -> int | None:
        return next((st.dep if st.dep is not None else st.arr for st in self.stop_times
                     if (st.dep if st.dep is not None else st.arr) is not None), None)

    @cached_property
    def by_seq(self) -> dict[int, StopTime]:
        return {st.seq: st for st in self.stop_times}

    @cached_property
    def end(self) -> int | None:
        return next((st.arr if st.arr is not None else st.dep for st in reversed(self.stop_times)
                     if (st.arr if st.arr is not None else st.dep) is not None), None)


@dataclass
class Service:
    days: tuple[bool, ...] = (False,) * 7  # Monday first
    start: date | None = None
    end: date | None = None
    added: set[date] = field(default_factory=set)
    removed: set[date] = field(default_factory=set)

    def active(self, day: date) -> bool:
        if day in self.removed:
            return False
        if day in self.added:
            return True
        if self.start is None or self.end is None:
            return False
        return self.start <= day <= self.end and self.days[day.weekday()]


@dataclass
class Gtfs:
    version: str
    timezone: str | None
    stops: dict[str, dict]  # id -> {name, lat, lon}
    routes: dict[str, dict]  # id -> {short_name, long_name, type, color}
    trips: dict[str, Trip]
    services: dict[str, Service]
    shapes: dict[str, list[tuple[float, float]]]  # id -> [(lon, lat), ...]
    files: tuple[str, ...] = ()

    def service_days(self, service_id: str, around: float, tz: str) -> list[date]:
        """Service days (yesterday, today) of ``service_id`` around an epoch: a trip may run past
        midnight on yesterday's service day."""
        today = datetime.fromtimestamp(around, zone(tz)).date()
        svc = self.services.get(service_id)
        return [d for d in (today - timedelta(days=1), today) if svc is not None and svc.active(d)]


def _rows(zf: zipfile.ZipFile, name: str) -> list[dict[str, str]] | None:
    """The rows of one file, headers stripped (real files have " exact_times"); None if absent."""
    member = next((n for n in zf.namelist() if n.rsplit("/", 1)[-1] == name), None)
    if member is None:
        return None
    try:
        text = zf.read(member).decode("utf-8-sig", "replace")
        reader = csv.reader(io.StringIO(text))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return []
        return [{h: (v.strip() if v else "") for h, v in zip(header, row)} for row in reader if row]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, csv.Error) as e:
        raise ValueError(f"GTFS: {name} unreadable: {e}") from None


REQUIRED = ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt")


def gtfs_version(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=10).hexdigest()


def load_gtfs(data: bytes) -> Gtfs:
    """Read a GTFS zip. Raises ValueError (one line) when it is not a usable GTFS feed."""
    try:
        return _load_gtfs(data)
    except KeyError as e:  # a table without a column its rows need
        raise ValueError(f"GTFS: a row without the required column {e.args[0]!r}") from None


def _load_gtfs(data: bytes) -> Gtfs:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValueError("GTFS: not a zip file") from None
    with zf:
        tables = {}
        for name in REQUIRED:
            rows = _rows(zf, name)
            if rows is None:
                raise ValueError(f"GTFS: {name} missing")
            tables[name] = rows
        agency = _rows(zf, "agency.txt") or []
        tz = next((a.get("agency_timezone") for a in agency if a.get("agency_timezone")), None)
        try:
            zone(tz) if tz else None
        except (ValueError, KeyError, OSError):
            tz = None  # an unusable agency_timezone: the feed's (or city's) time zone applies
        stops = {}
        for row in tables["stops.txt"]:
            try:
                stops[row["stop_id"]] = {"name": row.get("stop_name", "").strip(), "lat": float(row["stop_lat"]),
                                         "lon": float(row["stop_lon"])}
            except (KeyError, ValueError):
                continue  # stations or nodes without coordinates
        routes = {row["route_id"]: {"short_name": row.get("route_short_name", "").strip(),
                                    "long_name": row.get("route_long_name", "").strip() or row.get("route_desc", ""),
                                    "type": row.get("route_type", "3"), "color": row.get("route_color", "")}
                  for row in tables["routes.txt"]}
        trips = {}
        for row in tables["trips.txt"]:
            d = row.get("direction_id", "")
            trips[row["trip_id"]] = Trip(row["trip_id"], row["route_id"], row.get("service_id", ""),
                                         int(d) if d.isdigit() else 0, row.get("shape_id", ""))
        for row in tables["stop_times.txt"]:
            trip = trips.get(row.get("trip_id", ""))
            if trip is None:
                continue
            arr, dep = parse_gtfs_time(row.get("arrival_time", "")), parse_gtfs_time(row.get("departure_time", ""))
            tp = row.get("timepoint", "")
            # GTFS: timepoint absent means times are exact; blank times are never timepoints.
            timepoint = (tp != "0") and (arr is not None or dep is not None)
            trip.stop_times.append(StopTime(int(row["stop_sequence"]), row["stop_id"], arr, dep, timepoint))
        for trip in trips.values():
            trip.stop_times.sort(key=lambda st: st.seq)
        for row in _rows(zf, "frequencies.txt") or []:
            trip = trips.get(row.get("trip_id", ""))
            if trip is None:
                continue
            trip.frequencies.append((parse_gtfs_time(row["start_time"]), parse_gtfs_time(row["end_time"]),
                                     int(row["headway_secs"]), row.get("exact_times", "0") == "1"))
        services: dict[str, Service] = {}
        for row in _rows(zf, "calendar.txt") or []:
            services[row["service_id"]] = Service(
                tuple(row.get(d, "0") == "1" for d in ("monday", "tuesday", "wednesday", "thursday", "friday",
                                                        "saturday", "sunday")),
                parse_yyyymmdd(row["start_date"]), parse_yyyymmdd(row["end_date"]))
        for row in _rows(zf, "calendar_dates.txt") or []:
            svc = services.setdefault(row["service_id"], Service())
            (svc.added if row.get("exception_type") == "1" else svc.removed).add(parse_yyyymmdd(row["date"]))
        shapes: dict[str, list] = {}
        pts: dict[str, list] = {}
        for row in _rows(zf, "shapes.txt") or []:
            pts.setdefault(row["shape_id"], []).append(
                (int(row["shape_pt_sequence"]), float(row["shape_pt_lon"]), float(row["shape_pt_lat"])))
        for sid, ps in pts.items():
            ps.sort()
            shapes[sid] = [(lon, lat) for _, lon, lat in ps]
        return Gtfs(gtfs_version(data), tz, stops, routes, {t.id: t for t in trips.values() if t.stop_times},
                    services, shapes, tuple(n.rsplit("/", 1)[-1] for n in zf.namelist()))


def simplify(points: list[tuple[float, float]], max_points: int = 200) -> list[tuple[float, float]]:
    """Every k-th point (ends kept): route lines on a city map need no more."""
    if len(points) <= max_points:
        return points
    step = math.ceil(len(points) / max_points)
    out = points[::step]
    if out[-1] != points[-1]:
        out.append(points[-1])
    return out


# ----------------------------------------------------------------------------- GTFS-RT delay rules
NO_DATA, SKIPPED = "NO_DATA", "SKIPPED"


@dataclass(slots=True)
class StopUpdate:
    """One StopTimeUpdate, decoded: ``*_delay``/``*_time`` are None when the field is absent."""
    seq: int | None
    stop_id: str | None
    relationship: str = "SCHEDULED"  # SCHEDULED | SKIPPED | NO_DATA | UNSCHEDULED
    arr_delay: int | None = None
    arr_time: int | None = None
    dep_delay: int | None = None
    dep_time: int | None = None


@dataclass(slots=True)
class StopDelay:
    seq: int
    stop_id: str
    arr_delay: float | None
    dep_delay: float | None
    skipped: bool = False
    explicit: bool = False  # carried by a StopTimeUpdate (not propagated)


def _event_delay(delay: int | None, when: int | None, scheduled: float | None) -> float | None:
    """GTFS-RT: if both ``time`` and ``delay`` are given, ``time`` wins; delay = time - scheduled."""
    if when is not None and scheduled is not None:
        return float(when - scheduled)
    if delay is not None:
        return float(delay)
    return None


def _match(stop_times: list[StopTime], upd: StopUpdate, after: int) -> int | None:
    """The stop an update is for: by stop_sequence when given (unique in a trip), else the first stop
    with its stop_id after the previous update's stop (feeds list updates in stop order; a loop trip
    visits its first stop again at the end)."""
    if upd.seq is not None:
        return next((i for i, st in enumerate(stop_times) if st.seq == upd.seq), None)
    if upd.stop_id:
        return next((i for i in range(after + 1, len(stop_times)) if stop_times[i].stop_id == upd.stop_id), None)
    return None


def stop_delays(stop_times: list[StopTime], updates: list[StopUpdate], day_start: float | None,
                trip_delay: int | None = None) -> list[StopDelay]:
    """Per-stop arrival/departure delays of one trip, by the GTFS-RT spec (feed-formats.md §3.2):

    - a StopTimeUpdate's delay propagates downstream until the next StopTimeUpdate;
    - a trip-level ``delay`` applies only until the first StopTimeUpdate carrying a delay;
    - delay propagates over SKIPPED stops (which themselves have none);
    - NO_DATA means unknown, and stops after it are unknown until the next update with data;
    - ``time`` wins over ``delay``; ``delay = time - (service day start + scheduled seconds)``.
    """
    by_index: dict[int, StopUpdate] = {}
    pos = -1
    for upd in updates:  # in the feed's order, which the spec requires to be stop order
        i = _match(stop_times, upd, pos)
        if i is not None:
            by_index[i] = upd
            pos = i
    current: float | None = float(trip_delay) if trip_delay is not None else None
    out = []
    for i, st in enumerate(stop_times):
        upd = by_index.get(i)
        if upd is None:
            out.append(StopDelay(st.seq, st.stop_id, current, current))
            continue
        if upd.relationship == NO_DATA:
            current = None
            out.append(StopDelay(st.seq, st.stop_id, None, None, explicit=True))
            continue
        if upd.relationship == SKIPPED:
            out.append(StopDelay(st.seq, st.stop_id, None, None, skipped=True, explicit=True))
            continue  # the upstream delay carries on over the skipped stop
        sched_arr = day_start + st.arr if day_start is not None and st.arr is not None else None
        sched_dep = day_start + st.dep if day_start is not None and st.dep is not None else None
        arr = _event_delay(upd.arr_delay, upd.arr_time, sched_arr)
        dep = _event_delay(upd.dep_delay, upd.dep_time, sched_dep)
        if arr is None and dep is None:  # an update with no usable event: keep propagating
            out.append(StopDelay(st.seq, st.stop_id, current, current, explicit=True))
            continue
        if dep is None:
            dep = arr  # no departure prediction: it leaves as late as it arrives
        if arr is None:
            arr = current if current is not None else dep
        current = dep
        out.append(StopDelay(st.seq, st.stop_id, arr, dep, explicit=True))
    return out


def explicit_delays(updates: list[StopUpdate], trip_delay: int | None) -> list[StopDelay]:
    """Without a schedule for the trip: only what the feed states (``delay`` fields; a bare ``time``
    cannot be judged)."""
    out = []
    for upd in sorted(updates, key=lambda u: (u.seq is None, u.seq or 0)):
        if upd.relationship in (NO_DATA, SKIPPED):
            continue
        arr = upd.arr_delay if upd.arr_delay is not None else None
        dep = upd.dep_delay if upd.dep_delay is not None else arr
        if dep is None and arr is None:
            continue
        out.append(StopDelay(upd.seq or 0, upd.stop_id or "", arr if arr is not None else dep, dep, explicit=True))
    if not out and trip_delay is not None:
        out.append(StopDelay(0, "", float(trip_delay), float(trip_delay)))
    return out


def on_time(delay: float, early_s: float, late_s: float) -> bool:
    """TCQSM / agency practice: -60 s <= delay <= +300 s by default (configurable)."""
    return -early_s <= delay <= late_s


def scheduled_vehicles(trips: list[Trip], active: dict[str, list[date]], at: float, tz: str) -> int:
    """Vehicles a schedule needs on the road at ``at``: trips in progress, and for each running
    frequencies.txt row ceil(trip duration / headway)."""
    n = 0
    secs_of_day = {d: at - service_day_start(d, tz) for days in active.values() for d in days}
    for trip in trips:
        for day in active.get(trip.service_id, ()):
            secs = secs_of_day[day]
            if trip.frequencies:
                dur = (trip.end or 0) - (trip.start or 0)
                for start, end, headway, _ in trip.frequencies:
                    if start <= secs < end and headway > 0:
                        n += max(1, math.ceil(dur / headway))
            elif trip.start is not None and trip.end is not None and trip.start <= secs <= trip.end:
                n += 1
    return n
