"""Emergency dispatch (CAD) feeds: SF Fire Calls for Service, Seattle Real-Time Fire 911, and a
generic JSON event form for a city's own CAD. One feed, ``emergency``, three formats.

- ``sf-fire`` (DataSF ``nuek-vuh3``): one row per unit per call, SODA JSON (``received_dttm`` ...)
  or CSV with display names (``Received DtTm`` ...). Timestamps are floating local times
  (converted with the feed's time zone), numbers come as strings. Incident = ``incident_number``.
- ``seattle-fire`` (``kzjm-xkqj``): one row per call with ONE timestamp: counts and the map only.
  Such a call has no closing time; it counts as active for ``emergency.seattle_active_s``.
- ``unit-events``: a JSON array (or ``{"events": [...]}``) of objects, ``kind`` one of
    unit      {"unit": "M1", "status": "en_route", "time": ISO or epoch, "incident": "I-7",
               "lat": .., "lon": .., "station": "FS1", "unit_type": "medic"}
    incident  {"incident": "I-7", "time": .., "status": "received" | "closed", "type": "..",
               "category": "ems" | "fire", "priority": 1, "lat": .., "lon": .., "address": "..",
               "district": "D3"}
    call      {"call": "C-9", "ring": .., "answered": .., "incident": "I-7"}   (911 answer time)
  ``kind`` defaults to ``unit``. Statuses: see UNIT_STATUSES.

Storage (compute on write): every time is a member ``unit|status`` of the incident's times sorted
set, written with ZADD LT, so the EARLIEST report of each status wins whatever order rows arrive
in, and a repeated row changes nothing (no double counting). After each batch the touched
incidents are re-summarised (units, first-arriving unit, intervals, open/closed), the unit board
is updated (a report older than the board's is ignored), and every new time goes to the audit
stream (one entry per incident per batch listing its changes; see ``audit_changes``).
"""
from __future__ import annotations

import csv
import functools
import io
import math
import re
from datetime import datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from feeds.adapters.base_city import CityAdapter
from feeds.config import ConfigError
from feeds.framework import Record, Rejected, epoch_seconds, trim_args, trim_by_age
from feeds.geo import district_of, valid_lonlat
from feeds.schema import AUDIT_RETENTION
from feeds.timeparse import local_to_epoch, zone

# Lifecycle order of a unit on a call; a tie in time goes to the later stage.
UNIT_STATUSES = ("dispatched", "en_route", "on_scene", "transporting", "at_hospital", "available", "out_of_service")
RANK = {s: i for i, s in enumerate(UNIT_STATUSES)}
BUSY = ("dispatched", "en_route", "on_scene", "transporting", "at_hospital")
INCIDENT_MARKS = ("received", "entry", "closed")  # incident-level times, member "|<mark>"
STATUS_ALIASES = {"enroute": "en_route", "en route": "en_route", "responding": "en_route", "onscene": "on_scene",
                  "on scene": "on_scene", "arrived": "on_scene", "transport": "transporting",
                  "athospital": "at_hospital", "at hospital": "at_hospital", "hospital": "at_hospital",
                  "in_service": "available", "in service": "available", "cleared": "available",
                  "oos": "out_of_service", "out of service": "out_of_service", "assigned": "dispatched"}
RETENTION_S = 7 * 24 * 3600  # a closed incident is forgotten this long after the newest closing

# SF Fire: row field -> unit status (NFPA 1710 names in feed-formats.md §3.5).
SF_TIMES = (("dispatch_dttm", "dispatched"), ("response_dttm", "en_route"), ("on_scene_dttm", "on_scene"),
            ("transport_dttm", "transporting"), ("hospital_dttm", "at_hospital"), ("available_dttm", "available"))
SF_INCIDENT_TIMES = (("received_dttm", "received"), ("entry_dttm", "entry"))
SF_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%Y %b %d %I:%M:%S %p",
                   "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S")
# DataSF data dictionary: priority 3 = emergency (lights and siren), 2 = non-emergency.
SF_PRIORITY = {"3": 1, "E": 1, "2": 2, "A": 2, "B": 2, "C": 2, "1": 3, "I": 3}
EMS_GROUPS = ("potentially life-threatening", "non life-threatening")
FIRE_GROUPS = ("fire", "alarm")
EMS_WORDS = re.compile(r"\b(medical|medic|aid|ems|ambulance)\b")
NOT_EMS = re.compile(r"\bmutual aid\b")  # help to another agency: a fire call, whatever it says


# ----------------------------------------------------------------------------- city.emergency
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitConf(_Model):
    id: str
    type: str = "engine"


class StationConf(_Model):
    id: str
    name: str = ""
    lat: float
    lon: float
    district: str | None = None
    units: list[UnitConf] = []


class EmergencyConfig(_Model):
    stations: list[StationConf] = []
    # NFPA 1710 turnout targets by kind of call (the KPI compares each unit with its own)
    turnout_ems_s: float = Field(60, gt=0)
    turnout_fire_s: float = Field(80, gt=0)
    window_s: float = Field(24 * 3600, gt=0)  # KPI window, ending at the newest report
    # A unit or call with no status change for longer than this stands out on the panel.
    stuck_after_s: dict[str, float] = {"dispatched": 120, "en_route": 900, "on_scene": 3600,
                                       "transporting": 1800, "at_hospital": 2700, "out_of_service": 8 * 3600}
    incident_stuck_after_s: float = Field(1800, gt=0)  # an active call with no change this long
    seattle_active_s: float = Field(3600, gt=0)  # a one-timestamp call counts as active this long
    simulation_interval_s: float = Field(10, gt=0)
    simulation_units_scale: int = Field(1, ge=1, le=50)  # demo/load: copies of each configured unit
    kpi_freshness_s: float = Field(3600, gt=0)  # interval KPIs stay fresh this long after the newest report


def emergency_config(city) -> EmergencyConfig:
    try:
        return EmergencyConfig.model_validate(city.emergency or {})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"CITY_CONFIG: emergency.{where}: {err['msg']}") from None


def unit_directory(city, conf: EmergencyConfig | None = None) -> dict[str, dict]:
    """Configured units: id -> {station, station_name, type, home (lon, lat), district}."""
    conf = conf or emergency_config(city)
    out = {}
    for st in conf.stations:
        district = st.district or district_of((st.lon, st.lat), city.districts)
        for u in st.units:
            out[u.id] = {"station": st.id, "station_name": st.name or st.id, "type": u.type,
                         "home": (st.lon, st.lat), "district": district}
    return out


def is_ems(call_type: str | None, group: str | None = None) -> bool:
    """NFPA 1710 turnout: 60 s for EMS calls, 80 s for fire and special operations."""
    g = (group or "").strip().lower()
    if g in EMS_GROUPS:
        return True
    if g in FIRE_GROUPS:
        return False
    text = (call_type or "").lower()
    return bool(EMS_WORDS.search(text)) and not NOT_EMS.search(text)


# ----------------------------------------------------------------------------- incident summary
def unit_state_on(times: dict[str, float]) -> tuple[str, float] | None:
    """A unit's latest status on one call: the status with the latest time (a tie: the later stage)."""
    if not times:
        return None
    status = max(times, key=lambda s: (times[s], RANK.get(s, -1)))
    return status, times[status]


def summarise(incident_id: str, meta: dict, members: list[tuple[str, float]], conf: EmergencyConfig,
              now: float) -> dict:
    """The incident from what the feeds said (``meta``) and its times (``unit|status`` -> earliest)."""
    marks: dict[str, float] = {}
    units: dict[str, dict[str, float]] = {}
    for member, t in members:
        unit, _, status = member.partition("|")
        if unit:
            units.setdefault(unit, {})[status] = t
        else:
            marks[status] = t
    all_times = [t for _, t in members]
    opened = marks.get("received") or (min(all_times) if all_times else meta.get("opened"))
    rows = []
    for unit, ts in units.items():
        status, since = unit_state_on(ts)
        rows.append({"unit": unit, "unit_type": (meta.get("unit_types") or {}).get(unit), **ts,
                     "status": status, "since": since, "cancelled": "on_scene" not in ts and status == "available"})
    rows.sort(key=lambda u: (u.get("dispatched") or math.inf, u["unit"]))
    dispatched = [u["dispatched"] for u in rows if u.get("dispatched") is not None]
    arrivals = [u for u in rows if u.get("on_scene") is not None]
    first = min(arrivals, key=lambda u: (u["on_scene"], u["unit"])) if arrivals else None
    closed = marks.get("closed")
    if closed is None and rows and all(u["status"] == "available" for u in rows):
        closed = max(u["available"] for u in rows)  # every unit cleared the call
    if closed is None and not rows and meta.get("source") == "seattle-fire" and opened is not None:
        if now >= opened + conf.seattle_active_s:  # one timestamp per call: active for a set time
            closed = opened + conf.seattle_active_s
    first_dispatch = min(dispatched) if dispatched else None
    # The processing and total-response clocks start at the call's received time. Without one (a CAD
    # that pushes only unit events) they have no start: missing, never the first dispatch standing in.
    received = marks.get("received")
    processing = first_dispatch - received if first_dispatch is not None and received is not None else None
    travel = (first["on_scene"] - first["en_route"]) if first and first.get("en_route") is not None else None
    response = first["on_scene"] - received if first and received is not None else None
    return {
        "id": incident_id, "type": meta.get("type") or "incident", "category": meta.get("category") or "fire",
        "priority": meta.get("priority") or 3, "priority_label": meta.get("priority_label"),
        "address": meta.get("address") or "", "lat": meta.get("lat"), "lon": meta.get("lon"),
        "district": meta.get("district"), "source": meta.get("source"),
        "opened": opened, "entry": marks.get("entry"), "closed": closed,
        "status": "closed" if closed is not None else "active",
        "updated": max(all_times + ([closed] if closed else [])) if all_times or closed else opened,
        "units": rows, "first_dispatch": first_dispatch,
        "first_arriving": first["unit"] if first else None,
        "first_on_scene": first["on_scene"] if first else None,
        "call_processing_s": processing, "travel_s": travel, "response_s": response,
        "times": {m: t for m, t in members},
    }


# ----------------------------------------------------------------------------- parsing helpers
@functools.lru_cache(maxsize=1024)
def _key_name(name: str) -> str:
    """'Received DtTm' -> 'received_dttm', 'Unit ID' -> 'unit_id': CSV display names to SODA names."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _text(raw: dict, *names: str) -> str | None:
    for n in names:
        v = raw.get(n)
        if v is not None and str(v).strip() != "":
            return str(v).strip()
    return None


def _point(raw: dict, *names: str) -> tuple[float, float] | None:
    """GeoJSON Point, 'POINT (lon lat)', '(lat, lon)', or latitude/longitude strings."""
    for n in names:
        v = raw.get(n)
        if isinstance(v, dict) and isinstance(v.get("coordinates"), list) and len(v["coordinates"]) >= 2:
            try:
                return float(v["coordinates"][0]), float(v["coordinates"][1])
            except (TypeError, ValueError):
                continue
        if isinstance(v, str):
            nums = re.findall(r"-?\d+(?:\.\d+)?", v)
            if len(nums) >= 2:
                a, b = float(nums[0]), float(nums[1])
                return (a, b) if v.strip().upper().startswith("POINT") else (b, a)
    lat, lon = _text(raw, "latitude", "lat"), _text(raw, "longitude", "lon")
    if lat is not None and lon is not None:
        try:
            return float(lon), float(lat)
        except ValueError:
            return None
    return None


class EmergencyAdapter(CityAdapter):
    name = "emergency"
    domain = "emergency"
    title = "Emergency dispatch (SF Fire CAD, Seattle Fire 911, unit events)"
    formats = ("sf-fire", "seattle-fire", "unit-events")
    kpi_domains = ("emergency",)
    lag_means_stale = False  # a quiet hour is good news, not a dead feed

    def __init__(self, city, source):
        super().__init__(city, source)
        self.conf = emergency_config(city)
        self.units_conf = unit_directory(city, self.conf)
        self.format = source.options.get("format")
        self._detected: str | None = None
        self._earliest: dict[str, float] = {}
        self._times_seen: dict[str, float] = {}  # time text -> epoch, for one payload

    # parse ---------------------------------------------------------------------------
    def parse(self, payload: bytes):
        self._times_seen = {}  # "now" decides the repeated DST hour: never reuse across payloads
        text = payload.lstrip()
        if text[:1] in (b"[", b"{"):
            try:
                doc = orjson.loads(payload)
            except orjson.JSONDecodeError as e:
                raise Rejected(f"not valid JSON: {e}") from None
            if isinstance(doc, dict):
                doc = doc.get("events", doc.get("data", doc.get("rows")))
            if not isinstance(doc, list):
                raise Rejected("expected a JSON array of rows (or {\"events\": [...]})")
            self._detected = self.format or self._guess(doc)
            if self._detected == "unit-events":
                self._earliest = self._earliest_reports(doc)
            return doc
        if self.format == "unit-events":
            raise Rejected("unit-events must be JSON")
        try:
            reader = csv.DictReader(io.StringIO(payload.decode("utf-8-sig")))
            rows = [{_key_name(k): v for k, v in row.items() if k} for row in reader]
        except (UnicodeDecodeError, csv.Error) as e:
            raise Rejected(f"unreadable CSV: {e}") from None
        self._detected = self.format or self._guess(rows)
        return rows

    def _earliest_reports(self, rows: list) -> dict[str, float]:
        """Earliest time of each unit|incident|status in one payload. The runner keeps only the newest
        row of a key (a position ping repeats its status later); the status's time is the first."""
        out: dict[str, float] = {}
        for row in rows:
            if not isinstance(row, dict) or str(row.get("kind") or "unit").lower() != "unit":
                continue
            try:
                t = self._local_time(row.get("time"), "time")
            except Rejected:
                continue
            status = str(row.get("status") or "").strip().lower()
            key = f"{_text(row, 'incident') or '-'}|{_text(row, 'unit', 'unit_id')}|{STATUS_ALIASES.get(status, status.replace(' ', '_'))}"
            if t is not None and (key not in out or t < out[key]):
                out[key] = t
        return out

    def _guess(self, rows: list) -> str:
        for row in rows[:20]:
            if isinstance(row, dict):
                if "unit_id" in row or "call_number" in row:
                    return "sf-fire"
                if "report_location" in row or ("datetime" in row and "incident_number" in row):
                    return "seattle-fire"
                if "kind" in row or "unit" in row or "call" in row:
                    return "unit-events"
        return "unit-events"

    # validate -------------------------------------------------------------------------
    def validate(self, raw) -> Record:
        if not isinstance(raw, dict):
            raise Rejected(f"row is a {type(raw).__name__}, not an object")
        fmt = self._detected or self.format
        if fmt == "sf-fire":
            return self._sf_row({_key_name(k): v for k, v in raw.items()})
        if fmt == "seattle-fire":
            return self._seattle_row({_key_name(k): v for k, v in raw.items()})
        return self._event(raw)

    def _local_time(self, value, field: str) -> float | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return epoch_seconds(value, field)
        if not isinstance(value, str):
            raise Rejected(f"{field}: unreadable time {value!r}")
        known = self._times_seen.get(value)  # a call's times repeat on each of its unit rows
        if known is not None:
            return known
        t = self._parse_time(value, field)
        if len(self._times_seen) < 100_000:
            self._times_seen[value] = t
        return t

    def _parse_time(self, value: str, field: str) -> float:
        text = value.strip()
        try:  # ISO with an offset is an instant; without one, local time in the feed's zone
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return dt.timestamp() if dt.tzinfo else local_to_epoch(dt, self.tz)
        except ValueError:
            pass
        for fmt in SF_TIME_FORMATS:
            try:
                return local_to_epoch(datetime.strptime(text, fmt), self.tz)
            except ValueError:
                continue
        raise Rejected(f"{field}: unreadable time {value!r}")

    def _instants(self, value) -> list[float]:
        """Every instant a time can name: two for a floating time in the hour that repeats when the
        clocks go back, else one (empty if unreadable; _local_time gives the reason)."""
        if not isinstance(value, str) or not value.strip():
            return []
        text = value.strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            dt = None
            for fmt in SF_TIME_FORMATS:
                try:
                    dt = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if dt is None:
            return []
        if dt.tzinfo:
            return [dt.timestamp()]
        return sorted({dt.replace(tzinfo=zone(self.tz), fold=f).timestamp() for f in (0, 1)})

    def _refold(self, raw: dict, unit: str, times: dict[str, float]) -> dict[str, float]:
        """A row whose times run backwards only because some fall in the repeated DST hour (received
        01:58 the first time round, en route 01:01 the second): take, stage by stage, the earliest
        instant not before the previous stage. Unchanged if that does not make them run forward."""
        chain = [("received_dttm", "|received"), ("entry_dttm", "|entry"),
                 *[(f, f"{unit}|{status}") for f, status in SF_TIMES]]
        out, prev = dict(times), -math.inf
        for field, member in chain:
            options = self._instants(raw.get(field))
            if member not in times or not options:
                continue
            later = [t for t in options if t >= prev]
            if not later:
                return times
            out[member] = prev = later[0]
        return out

    def _place(self, raw: dict, named_district, *point_fields) -> tuple[float | None, float | None, str | None]:
        p = _point(raw, *point_fields)
        if p is not None and not valid_lonlat(*p):
            raise Rejected(f"position out of range ({p[1]}, {p[0]})")
        if p is not None and p == (0.0, 0.0):
            p = None  # a CAD's "no geocode"
        district = self.resolve_district(p, named_district) if p else self.resolve_district((0.0, 0.0), named_district)
        return (p[0] if p else None), (p[1] if p else None), district

    def _sf_row(self, raw: dict) -> Record:
        unit = _text(raw, "unit_id")
        incident = _text(raw, "incident_number", "call_number")
        if not unit:
            raise Rejected("missing unit_id")
        if not incident:
            raise Rejected("missing incident_number and call_number")
        times = {}
        for field, mark in SF_INCIDENT_TIMES:
            t = self._local_time(raw.get(field), field)
            if t is not None:
                times["|" + mark] = t
        if "|received" not in times:
            raise Rejected("missing received_dttm")
        for field, status in SF_TIMES:
            t = self._local_time(raw.get(field), field)
            if t is not None:
                times[f"{unit}|{status}"] = t
        order = [("|received", "received"), (f"{unit}|dispatched", "dispatch"), (f"{unit}|en_route", "response"),
                 (f"{unit}|on_scene", "on scene")]

        def backwards():
            seen = [(times[m], label) for m, label in order if m in times]
            return next((f"{lb} time is before {la} time" for (a, la), (b, lb) in zip(seen, seen[1:]) if b < a), None)

        if backwards():
            times = self._refold(raw, unit, times)  # the repeated hour of a DST change?
            if reason := backwards():
                raise Rejected(reason)
        # Transport, hospital and available come after the rest: one before them is dropped (it would
        # make an earlier stage the unit's latest status), the row's good times kept.
        warnings = []
        last, last_label = max((times[m], label) for m, label in order if m in times)
        for field, status in SF_TIMES[3:]:
            member = f"{unit}|{status}"
            if member not in times:
                continue
            if times[member] < last:
                warnings.append(f"{field} is before {last_label} time: time dropped")
                del times[member]
            else:
                last, last_label = times[member], field.removesuffix("_dttm").replace("_", " ")
        lon, lat, district = self._place(raw, _text(raw, "district"), "case_location", "location", "point")
        prio_raw = _text(raw, "final_priority", "priority", "original_priority")
        call_type = _text(raw, "call_type") or "incident"
        meta = {"type": call_type, "priority": SF_PRIORITY.get((prio_raw or "").upper(), 3),
                "priority_label": prio_raw,
                "category": "ems" if is_ems(call_type, _text(raw, "call_type_group")) else "fire",
                "address": _text(raw, "address") or "", "lat": lat, "lon": lon, "district": district,
                "source": "sf-fire", "unit_type": (_text(raw, "unit_type") or "").lower() or None}
        unit_times = {m.partition("|")[2]: t for m, t in times.items() if not m.startswith("|")}
        state = unit_state_on(unit_times)
        report = None
        if state is not None:  # the unit board learns the unit's type and its latest status on this call
            report = {"unit": unit, "status": state[0], "t": state[1], "incident": incident, "lon": None,
                      "lat": None, "station": None, "unit_type": meta.pop("unit_type")}
        return Record(f"{incident}|{unit}", max(times.values()), {"incident": incident, "unit": unit,
                                                                 "times": times, "meta": meta, "report": report},
                      warnings=warnings)

    def _seattle_row(self, raw: dict) -> Record:
        incident = _text(raw, "incident_number")
        if not incident:
            raise Rejected("missing incident_number")
        t = self._local_time(raw.get("datetime"), "datetime")
        if t is None:
            raise Rejected("missing datetime")
        lon, lat, district = self._place(raw, None, "report_location")
        call_type = _text(raw, "type") or "incident"
        meta = {"type": call_type, "priority": 2, "priority_label": None,
                "category": "ems" if is_ems(call_type) else "fire", "address": _text(raw, "address") or "",
                "lat": lat, "lon": lon, "district": district, "source": "seattle-fire"}
        return Record(incident, t, {"incident": incident, "unit": None, "times": {"|received": t}, "meta": meta})

    def _event(self, raw: dict) -> Record:
        kind = str(raw.get("kind") or ("call" if "ring" in raw else "unit")).lower()
        if kind == "call":
            call = _text(raw, "call", "id")
            if not call:
                raise Rejected("call: missing call id")
            ring = self._local_time(raw.get("ring"), "ring")
            answered = self._local_time(raw.get("answered"), "answered")
            if ring is None or answered is None:
                raise Rejected("call: needs ring and answered times")
            if answered < ring:
                raise Rejected("call: answered before the first ring")
            return Record(f"call|{call}", answered, {"call": call, "ring": ring, "answer_s": answered - ring,
                                                     "incident": _text(raw, "incident")})
        t = self._local_time(raw.get("time"), "time")
        if t is None:
            raise Rejected(f"{kind}: missing time")
        if kind == "incident":
            incident = _text(raw, "incident", "id")
            if not incident:
                raise Rejected("incident: missing incident id")
            status = str(raw.get("status") or "received").lower()
            if status not in ("received", "closed", "open"):
                raise Rejected(f"incident: status {raw.get('status')!r} is not received or closed")
            mark = "closed" if status == "closed" else "received"
            lon, lat, district = self._place(raw, raw.get("district"), "location")
            meta = None
            if status != "closed" or raw.get("type"):
                prio = raw.get("priority", 3)
                try:
                    prio = int(prio)
                except (TypeError, ValueError):
                    raise Rejected(f"incident: priority {prio!r} is not a number") from None
                category = str(raw.get("category") or "").lower() or ("ems" if is_ems(raw.get("type")) else "fire")
                if category not in ("ems", "fire"):
                    raise Rejected(f"incident: category {category!r} is not ems or fire")
                meta = {"type": str(raw.get("type") or "incident")[:80], "priority": prio, "priority_label": str(prio),
                        "category": category, "address": str(raw.get("address") or "")[:200], "lat": lat,
                        "lon": lon, "district": district, "source": "unit-events"}
            return Record(f"{incident}|{mark}", t, {"incident": incident, "unit": None,
                                                    "times": {"|" + mark: t}, "meta": meta})
        if kind != "unit":
            raise Rejected(f"kind {kind!r} is not unit, incident or call")
        unit = _text(raw, "unit", "unit_id")
        if not unit:
            raise Rejected("unit: missing unit id")
        status = str(raw.get("status") or "").strip().lower()
        status = STATUS_ALIASES.get(status, status.replace(" ", "_"))
        if status not in RANK:
            raise Rejected(f"unit {unit}: unknown status {raw.get('status')!r}")
        incident = _text(raw, "incident")
        if status in BUSY and not incident:
            raise Rejected(f"unit {unit}: status {status} needs an incident")
        p = _point(raw, "location")
        if p is not None and not valid_lonlat(*p):
            raise Rejected(f"unit {unit}: position out of range ({p[1]}, {p[0]})")
        report = {"unit": unit, "status": status, "t": t, "incident": incident,
                  "lon": p[0] if p else None, "lat": p[1] if p else None,
                  "station": _text(raw, "station"), "unit_type": _text(raw, "unit_type")}
        key = f"{incident or '-'}|{unit}|{status}"
        first = min(t, self._earliest.get(key, t))
        times = {f"{unit}|{status}": first} if incident else {}
        # A position ping repeats a status with a later time: a newer version of the same key.
        return Record(key, t,
                      {"incident": incident, "unit": unit, "times": times, "meta": None, "report": report})

    # publish --------------------------------------------------------------------------
    def publish(self, pipe, keys, records):
        readings = []
        reports = {}
        own: dict[str, list] = {}  # unit -> its own status changes (no incident) in this batch, oldest first
        # One ZADD per incident, one HSET of metas and one SADD for the whole batch (not one each per row).
        times: dict[str, dict[str, float]] = {}
        metas: dict[str, bytes] = {}
        for rec in sorted(records, key=lambda r: r.version):
            d = rec.data
            if "call" in d:
                pipe.zadd(keys.emergency_calls(), {f"{d['call']}|{d['answer_s']:.1f}|{d['incident'] or ''}": d["ring"]})
                readings.append({"call": d["call"], "answer_s": round(d["answer_s"], 1), "t": d["ring"]})
                continue
            incident = d["incident"]
            if incident:
                into = times.setdefault(incident, {})
                for member, t in d["times"].items():
                    into[member] = min(t, into.get(member, t))
                if d["meta"]:
                    metas[incident] = orjson.dumps(d["meta"])  # sorted by version: the newest row's wins
            if d.get("report"):
                reports[d["unit"]] = d["report"]  # sorted by time: the newest of the batch wins
                if not d["report"].get("incident"):  # ... but each own change is kept for the audit trail
                    own.setdefault(d["unit"], []).append([d["report"]["t"], d["report"]["status"]])
            if d["times"]:  # one reading per record (the audit stream lists each time)
                readings.append({"incident": incident or "", "unit": d["unit"] or "", "t": rec.version,
                                 "n": len(d["times"])})
        for incident, members in times.items():
            if members:
                # ZADD LT: the earliest report of each status wins, in any arrival order.
                pipe.zadd(keys.emergency_incident_times(incident), members, lt=True)
        if metas:
            pipe.hset(keys.emergency_incident_meta(), mapping=metas)
        if times:
            pipe.sadd(keys.emergency_dirty(), *times)
        if reports:
            pipe.hset(keys.emergency_unit_reports(),
                      mapping={u: orjson.dumps({**r, "own": own.get(u, [])}) for u, r in reports.items()})
            pipe.sadd(keys.emergency_dirty(), *[f"unit:{u}" for u in reports])
        if readings:
            self.add_readings(pipe, keys, readings)

    # after each batch: summaries, unit board, audit, retention -------------------------------------
    def housekeeping(self, r, keys, now):
        rebuild_state(r, keys, self.city, self.conf, self.units_conf, now, feed=self.name)


def rebuild_state(r, keys, city, conf: EmergencyConfig, units_conf: dict, now: float, feed: str = "emergency") -> None:
    """Re-summarise touched incidents, move the unit board, write the audit trail, apply retention."""
    dirty = r.smembers(keys.emergency_dirty())
    # One-timestamp calls (Seattle) close by age: re-summarise those due.
    due = set(r.zrangebyscore(keys.emergency_autoclose(), "-inf", now))
    incident_ids = sorted({d for d in dirty if not d.startswith("unit:")} | due)
    unit_ids = sorted(d[5:] for d in dirty if d.startswith("unit:"))
    if not incident_ids and not unit_ids:
        return
    pipe = r.pipeline(transaction=False)
    for iid in incident_ids:
        pipe.zrange(keys.emergency_incident_times(iid), 0, -1, withscores=True)
    got = pipe.execute() if incident_ids else []
    metas = r.hmget(keys.emergency_incident_meta(), incident_ids) if incident_ids else []
    olds = r.hmget(keys.emergency_incidents(), incident_ids) if incident_ids else []
    audit: list[dict] = []
    summaries: dict[str, dict] = {}
    unit_candidates: dict[str, dict] = {}
    for iid, members, meta_raw, old_raw in zip(incident_ids, got, metas, olds):
        old = orjson.loads(old_raw) if old_raw else None
        meta = orjson.loads(meta_raw) if meta_raw else {}
        s = summarise(iid, meta, [(m, float(t)) for m, t in members], conf, now)
        for u in s["units"]:
            u["unit_type"] = (units_conf.get(u["unit"]) or {}).get("type")
        if old is not None and old == s:
            continue
        summaries[iid] = s
        old_times = (old or {}).get("times", {})
        for m, t in sorted(s["times"].items(), key=lambda kv: kv[1]):
            if m not in old_times or old_times[m] != t:
                unit, _, status = m.partition("|")
                audit.append({"t": t, "incident": iid, "unit": unit, "status": status, "feed": feed})
        if s["status"] == "closed" and (old or {}).get("status") != "closed" and "|closed" not in s["times"]:
            audit.append({"t": s["closed"], "incident": iid, "unit": "", "status": "closed", "feed": feed})
        for u in s["units"]:
            cand = {"status": u["status"], "t": u["since"], "incident": iid if u["status"] in BUSY else None,
                    "last_incident": iid, "lon": None, "lat": None}
            if u["status"] in ("on_scene",) and s["lon"] is not None:
                cand["lon"], cand["lat"] = s["lon"], s["lat"]
            prev = unit_candidates.get(u["unit"])
            if prev is None or (cand["t"], RANK[cand["status"]]) > (prev["t"], RANK[prev["status"]]):
                unit_candidates[u["unit"]] = cand
    reports = {}
    if unit_ids:
        for uid, raw in zip(unit_ids, r.hmget(keys.emergency_unit_reports(), unit_ids)):
            if raw:
                reports[uid] = orjson.loads(raw)
    # Unit types the feed named (SF rows) fill the timeline where the city does not configure the unit.
    untyped = sorted({u["unit"] for s in summaries.values() for u in s["units"] if not u["unit_type"]})
    if untyped:
        named = dict(zip(untyped, r.hmget(keys.emergency_unit_reports(), untyped)))
        for s in summaries.values():
            for u in s["units"]:
                if not u["unit_type"] and named.get(u["unit"]):
                    u["unit_type"] = orjson.loads(named[u["unit"]]).get("unit_type")
    touched = sorted(set(unit_candidates) | set(reports))
    board_old = dict(zip(touched, r.hmget(keys.emergency_units(), touched))) if touched else {}
    board_new = {}
    for uid in touched:
        entry = orjson.loads(board_old[uid]) if board_old.get(uid) else None
        conf_u = units_conf.get(uid, {})
        if entry is None:
            home = conf_u.get("home")
            entry = {"id": uid, "station": conf_u.get("station"), "station_name": conf_u.get("station_name"),
                     "type": conf_u.get("type"), "status": None, "since": None, "t": None, "incident": None,
                     "lon": home[0] if home else None, "lat": home[1] if home else None, "pos_t": None,
                     "district": conf_u.get("district")}
        before = (entry["status"], entry["since"], entry["lon"], entry["lat"], entry["incident"])
        report = reports.get(uid)
        # A unit's own changes of the batch (out of service, back in service), oldest first, then its
        # newest report: each change the board had not seen is audited once.
        steps = [{"status": st, "t": t, "incident": None, "lon": None, "lat": None, "own": True}
                 for t, st in (report or {}).get("own", []) if [t, st] != [report["t"], report["status"]]]
        if report is not None:
            report = {**report, "own": not report.get("incident")}
        cands = sorted((c for c in (unit_candidates.get(uid), *steps, report) if c is not None),
                       key=lambda c: (c["t"], RANK[c["status"]]))  # oldest first: every step is seen
        for cand in cands:
            newer = entry["t"] is None or (cand["t"], RANK[cand["status"]]) > (entry["t"], RANK.get(entry["status"], -1))
            if newer:
                if cand["status"] != entry["status"]:
                    entry["since"] = cand["t"]
                    if cand.get("own"):
                        audit.append({"t": cand["t"], "incident": "", "unit": uid, "status": cand["status"],
                                      "feed": feed})
                entry["status"] = cand["status"]
                entry["t"] = cand["t"]
                entry["incident"] = cand.get("incident") if cand["status"] in BUSY else None
                if cand["status"] in ("available", "out_of_service") and cand.get("lon") is None \
                        and conf_u.get("home") and entry.get("pos_t") is None:
                    entry["lon"], entry["lat"] = conf_u["home"]
            if cand.get("lon") is not None and (entry.get("pos_t") is None or cand["t"] >= entry["pos_t"]):
                entry["lon"], entry["lat"], entry["pos_t"] = cand["lon"], cand["lat"], cand["t"]
            if cand.get("station") and not entry.get("station"):
                entry["station"] = cand["station"]
            if cand.get("unit_type") and not entry.get("type"):
                entry["type"] = cand["unit_type"]
        if (entry["status"], entry["since"], entry["lon"], entry["lat"], entry["incident"]) != before or not board_old.get(uid):
            board_new[uid] = entry
    pipe = r.pipeline(transaction=False)
    if summaries:
        pipe.hset(keys.emergency_incidents(), mapping={i: orjson.dumps(s) for i, s in summaries.items()})
        act = [i for i, s in summaries.items() if s["status"] == "active"]
        clo = {i: s["closed"] for i, s in summaries.items() if s["status"] == "closed"}
        if act:
            pipe.sadd(keys.emergency_incidents_active(), *act)
            pipe.zrem(keys.emergency_incidents_closed(), *act)
        if clo:
            pipe.srem(keys.emergency_incidents_active(), *clo)
            pipe.zadd(keys.emergency_incidents_closed(), clo)
            pipe.zrem(keys.emergency_autoclose(), *clo)
        auto = {i: s["opened"] + conf.seattle_active_s for i, s in summaries.items()
                if s["status"] == "active" and s["source"] == "seattle-fire" and not s["units"]}
        if auto:
            pipe.zadd(keys.emergency_autoclose(), auto)
    if board_new:
        pipe.hset(keys.emergency_units(), mapping={u: orjson.dumps(e) for u, e in board_new.items()})
    # One stream entry per incident (or per unit, for its own changes) per batch, holding each of its
    # changes in time order: every change once, at a tenth of the writes of one entry per change.
    groups: dict[tuple[str, str], list] = {}
    for a in sorted(audit, key=lambda a: a["t"]):
        groups.setdefault((a["incident"], "" if a["incident"] else a["unit"]), []).append(
            [a["t"], a["unit"], a["status"]])
    for (iid, uid), changes in sorted(groups.items(), key=lambda kv: (kv[1][0][0], kv[0])):
        pipe.xadd(keys.emergency_audit(), {"t": changes[0][0], "incident": iid, "unit": uid, "feed": feed,
                                           "changes": orjson.dumps(changes)}, **trim_args(AUDIT_RETENTION))
    if audit:
        trim_by_age(pipe, keys.emergency_audit(), AUDIT_RETENTION, now)
    if dirty:
        pipe.srem(keys.emergency_dirty(), *dirty)
    pipe.execute()
    _retention(r, keys, feed)


def audit_changes(entries) -> list[dict]:
    """The audit stream's entries (XRANGE rows) as one dict per change, oldest entry first:
    {t, incident, unit, status, feed}. An entry holds one incident's (or one unit's own) changes
    of one batch in time order."""
    out = []
    for _, f in entries:
        for t, unit, status in orjson.loads(f["changes"]):
            out.append({"t": float(t), "incident": f["incident"], "unit": unit, "status": status, "feed": f["feed"]})
    return out


def _retention(r, keys, feed: str) -> None:
    """Forget incidents closed a week before the newest closing (replayed files keep their week)."""
    newest = r.zrevrange(keys.emergency_incidents_closed(), 0, 0, withscores=True)
    if not newest:
        return
    cutoff = newest[0][1] - RETENTION_S
    old = r.zrangebyscore(keys.emergency_incidents_closed(), "-inf", f"({cutoff}")
    if not old:
        return
    pipe = r.pipeline(transaction=False)
    seen_fields = []
    for iid in old:
        for m in r.zrange(keys.emergency_incident_times(iid), 0, -1):
            unit, _, status = m.partition("|")
            seen_fields += [f"{iid}|{unit}|{status}", f"{iid}|{unit}", f"{iid}|{status}"]
        seen_fields.append(iid)
        pipe.delete(keys.emergency_incident_times(iid))
    pipe.hdel(keys.emergency_incidents(), *old)
    pipe.hdel(keys.emergency_incident_meta(), *old)
    pipe.zrem(keys.emergency_incidents_closed(), *old)
    old_calls = r.zrangebyscore(keys.emergency_calls(), "-inf", f"({cutoff}")
    seen_fields += [f"call|{m.split('|')[0]}" for m in old_calls]
    pipe.hdel(keys.seen("emergency", feed), *seen_fields)
    pipe.zremrangebyscore(keys.emergency_calls(), "-inf", f"({cutoff}")
    pipe.execute()
