"""Service-centre queues (feed-formats.md §1.5): snapshots and visit events.

``python -m feeds run services --file F [--format warsaw|queue-monitor|queue-events]``; without
``--format`` the payload's shape decides.

- ``warsaw``: the Warsaw city offices' queue API (api.um.warszawa.pl), either the CSV the
  kolejkeR project records (``name,date,time,status,czasObslugi,lp,idGrupy,liczbaCzynnychStan,
  nazwaGrupy,literaGrupy,liczbaKlwKolejce,aktualnyNumer``, one row per queue per snapshot) or the
  API's JSON ``{"result": {"date", "time", "grupy": [...]}}`` for one office (``--centre`` names it).
  ``liczbaKlwKolejce`` = people waiting, ``liczbaCzynnychStan`` = open counters, ``czasObslugi`` =
  expected wait in minutes (kolejkeR's reading; the dataset's own docs call it service time),
  ``status`` 1/0 = queue operating or not (empty in the recorded data: then a queue with an open
  counter is operating). ``date``/``time`` are Warsaw local time: floating, read in the feed's zone.
- ``queue-monitor``: FIWARE Smart Data Model ``QueueMonitor`` (key-values or normalized NGSI-LD), one
  entity or an array. ``ticketsToServe`` = people waiting, ``serviceStatus`` Open/Closed/Suspended.
  The model has no wait or counter fields; the extensions ``waitingTimeMinutes`` and
  ``openCounters`` are read when present.
- ``queue-events``: a queue system's visit log, CSV or a JSON array, one row per visit step:
  ``centre, queue, ticket, step, time[, counter]`` with step one of issued, called, started, ended,
  no_show. Waiting is measured from ``issued`` (arrival) to ``called``.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime

import orjson

from feeds.adapters.base_city import CityAdapter
from feeds.framework import Record, Rejected, number, record_time
from feeds.geo import valid_lonlat
from feeds.service_centres import services_config
from feeds.timeparse import local_to_epoch, zone

DAY_KEYS_TTL_S = 9 * 24 * 3600  # one day's visits and wait slots: kept for "same weekday last week"
VISITS_LOG_MAX = 20_000  # batches kept per day in the visits log; a reader further behind re-reads the day
SLOTS_VERSION_FIELD = "_v"  # in a day's wait-slots hash: bumped by every write to it
SLOT_MIN = 15  # wait curve and heat grid resolution
SNAPSHOT_SLOT_MIN = 5  # snapshots of a queue closer than this are one observation (bounds the seen hash)
STEPS = ("issued", "called", "started", "ended", "no_show")
STEP_ALIASES = {"ticket issued": "issued", "ticket_issued": "issued", "arrived": "issued", "created": "issued",
                "call": "called", "service started": "started", "service_started": "started",
                "service ended": "ended", "service_ended": "ended", "served": "ended", "finished": "ended",
                "no-show": "no_show", "noshow": "no_show", "no show": "no_show"}
WARSAW_COLUMNS = {"idGrupy", "liczbaKlwKolejce"}
WARSAW_TZ = "Europe/Warsaw"  # the zone of the Warsaw API's floating date/time
MAX_PEOPLE = 10_000


def _int(value, field: str, required: bool = True) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Rejected(f"missing {field}")
        return None
    x = number(value, field)
    if x < 0 or x != int(x):
        raise Rejected(f"{field}: not a count {value!r}")
    if x > MAX_PEOPLE:
        raise Rejected(f"{field}: {value!r} is out of range")
    return int(x)


def _minutes(value, field: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    x = number(value, field)
    if not 0 <= x <= 24 * 60:
        raise Rejected(f"{field}: {value!r} minutes is out of range")
    return x


def _ngsi_value(v):
    """NGSI-LD normalized attributes are {"type", "value"}; key-values are the value itself."""
    if isinstance(v, dict) and "value" in v and "type" in v:
        return v["value"]
    return v


class ServiceQueuesAdapter(CityAdapter):
    name = "services"
    domain = "services"
    title = "Service-centre queues (Warsaw API, FIWARE QueueMonitor, queue events)"
    formats = ("warsaw", "queue-monitor", "queue-events")
    kpi_domains = ("services",)
    cli_options = (("--centre", "centre", "centre id or name of a one-office payload (Warsaw API JSON)"),)

    def __init__(self, city, source):
        super().__init__(city, source)
        self.cfg = services_config(city)
        self.format = source.options.get("format")
        self.centre_option = source.options.get("centre")
        self._centre_names = {}
        for c in self.cfg.centres.values():
            self._centre_names[c.id.casefold()] = c.id
            if c.name:
                self._centre_names[c.name.casefold()] = c.id
        self._payload_format: str | None = None
        self._learnt_published: set[str] = set()
        # Arrival time of tickets seen by this process: a "called" event's wait sample needs it.
        self._issued: dict[tuple[str, str, str], float] = {}
        self._times: dict[tuple, float] = {}  # per payload: (date, time) -> epoch
        self._slots: dict[float, tuple[str, int]] = {}  # per payload: epoch -> (local day, minute of day)

    # --- parse ----------------------------------------------------------------------
    def parse(self, payload: bytes):
        self._times, self._slots = {}, {}
        text_head = payload.lstrip()[:1]
        if text_head in (b"[", b"{"):
            try:
                doc = orjson.loads(payload)
            except orjson.JSONDecodeError as e:
                raise Rejected(f"not valid JSON: {e}") from None
            return self._parse_json(doc)
        try:
            text = payload.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Rejected("not UTF-8 text") from None
        try:
            reader = csv.DictReader(io.StringIO(text))
            fields = {f.strip() for f in (reader.fieldnames or [])}
            rows = [{(k or "").strip(): v for k, v in row.items() if k} for row in reader]
        except csv.Error as e:
            raise Rejected(f"CSV unreadable: {e}") from None
        if WARSAW_COLUMNS <= fields:
            fmt = "warsaw"
        elif {"ticket", "step"} <= fields:
            fmt = "queue-events"
        else:
            raise Rejected("CSV with neither Warsaw queue columns (idGrupy, liczbaKlwKolejce) "
                           "nor queue events (ticket, step)")
        self._set_format(fmt)
        return rows

    def _set_format(self, fmt: str) -> None:
        if self.format and self.format != fmt:
            raise Rejected(f"payload looks like {fmt}, but the feed's format is {self.format}")
        self._payload_format = fmt

    def _parse_json(self, doc):
        if isinstance(doc, dict) and isinstance(doc.get("result"), dict) and "grupy" in doc["result"]:
            result = doc["result"]
            if not isinstance(result["grupy"], list):
                raise Rejected("result.grupy is not a list")
            self._set_format("warsaw")
            centre = self.centre_option or result.get("name") or result.get("office")
            if not centre:
                raise Rejected("Warsaw API JSON names no office: give --centre")
            return [{**g, "name": centre, "date": result.get("date"), "time": result.get("time")}
                    if isinstance(g, dict) else g for g in result["grupy"]]
        rows = doc if isinstance(doc, list) else [doc]
        first = next((r for r in rows if isinstance(r, dict)), {})
        if first.get("type") == "QueueMonitor" or "ticketsToServe" in first:
            self._set_format("queue-monitor")
        elif "step" in first and "ticket" in first:
            self._set_format("queue-events")
        elif WARSAW_COLUMNS <= set(first):
            self._set_format("warsaw")
        elif self.format:
            self._set_format(self.format)
        else:
            raise Rejected("JSON that is neither Warsaw queues, QueueMonitor entities nor queue events")
        return rows

    # --- validate -------------------------------------------------------------------
    def centre_id(self, named) -> str:
        text = str(named or "").strip()
        if not text:
            raise Rejected("missing centre")
        return self._centre_names.get(text.casefold(), text)

    def validate(self, raw) -> Record:
        if not isinstance(raw, dict):
            raise Rejected(f"row is a {type(raw).__name__}, not an object")
        fmt = self._payload_format
        if fmt == "warsaw":
            return self._warsaw(raw)
        if fmt == "queue-monitor":
            return self._queue_monitor(raw)
        return self._event(raw)

    def _local_time(self, day: str | None, hhmm: str | None) -> float:
        # A snapshot's rows share one date and time: convert each pair once per payload.
        key = (day, hhmm)
        hit = self._times.get(key)
        if hit is None:
            hit = self._times[key] = self._convert_local_time(day, hhmm)
        return hit

    def _convert_local_time(self, day: str | None, hhmm: str | None) -> float:
        if not day or not hhmm:
            raise Rejected("missing date or time")
        try:
            dt = datetime.fromisoformat(f"{str(day).strip()}T{str(hhmm).strip()}")
        except ValueError:
            raise Rejected(f"unreadable date/time {day!r} {hhmm!r}") from None
        if dt.tzinfo is not None:
            return dt.timestamp()
        # Warsaw's API writes Warsaw local time: that zone unless the feed names another (--tz).
        return local_to_epoch(dt, self.tz if self.source.timezone else WARSAW_TZ)

    def _time(self, value, field: str) -> float:
        if value is None or value == "":
            raise Rejected(f"missing {field}")
        return record_time(value, field, self.tz, epoch_text=True)

    def _day_slot(self, t: float) -> tuple[str, int]:
        """The city's local day and minute of day: "today" and the heat grid's hours are the city's,
        whatever zone a feed's floating times are written in."""
        hit = self._slots.get(t)
        if hit is None:
            local = datetime.fromtimestamp(t, zone(self.city.timezone))
            hit = self._slots[t] = (local.strftime("%Y-%m-%d"), local.hour * 60 + local.minute)
        return hit

    def _snapshot(self, centre, queue, name, waiting, counters, wait, status, t, extra=None) -> Record:
        day, minute = self._day_slot(t)
        fortnight_day = date.fromisoformat(day).toordinal() % 14
        data = {"kind": "snap", "centre": centre, "queue": queue, "name": name, "waiting": waiting,
                "counters": counters, "wait": wait, "status": status, "t": t, "day": day,
                "slot": minute // SLOT_MIN, **(extra or {})}
        # One observation per queue per 5 minutes of a day of a fortnight: replayed history (today and
        # the same weekday last week in one payload) keeps every slot, and the seen hash stays bounded
        # (14 x 288 fields per queue).
        return Record(f"{centre}|{queue}|{fortnight_day}:{minute // SNAPSHOT_SLOT_MIN}", t, data)

    def _warsaw(self, row: dict) -> Record:
        centre = self.centre_id(row.get("name") or row.get("Name") or self.centre_option)
        queue = str(row.get("idGrupy") or "").strip()
        if not queue:
            raise Rejected("missing idGrupy")
        t = self._local_time(row.get("date"), row.get("time"))
        waiting = _int(row.get("liczbaKlwKolejce"), "liczbaKlwKolejce")
        counters = _int(row.get("liczbaCzynnychStan"), "liczbaCzynnychStan", required=False)
        wait = _minutes(row.get("czasObslugi"), "czasObslugi")
        status_raw = str(row.get("status") if row.get("status") is not None else "").strip()
        if status_raw in ("1", "1.0"):
            status = "open"
        elif status_raw in ("0", "0.0"):
            status = "closed"
        elif status_raw == "":
            # The recorded data has no status: a queue with a counter open or people in it operates
            # (people waiting through a lunch break are still waiting); one with neither does not.
            status = "open" if (counters or 0) > 0 or waiting > 0 else "closed"
        else:
            raise Rejected(f"status {status_raw!r} is not 0 or 1")
        name = str(row.get("nazwaGrupy") or queue).strip()
        letter = str(row.get("literaGrupy") or "").strip()
        serving = str(row.get("aktualnyNumer") or "").strip() or None
        return self._snapshot(centre, queue, name, waiting, counters, wait, status, t,
                              {"letter": letter, "serving": serving})

    def _queue_monitor(self, entity: dict) -> Record:
        e = {k: _ngsi_value(v) for k, v in entity.items()}
        if e.get("type") not in (None, "QueueMonitor"):
            raise Rejected(f"entity type {e.get('type')!r} is not QueueMonitor")
        centre = self.centre_id(e.get("officeName") or self.centre_option)
        queue = str(e.get("serviceId") or e.get("localId") or e.get("id") or "").strip()
        if not queue:
            raise Rejected("missing serviceId")
        t = self._time(e.get("dateModified") or e.get("dateObserved"), "dateModified")
        waiting = e.get("ticketsToServe")
        if waiting is None and e.get("lastTicketIssued") is not None and e.get("ticketServed") is not None:
            waiting = max(0, int(_int(e["lastTicketIssued"], "lastTicketIssued")) - int(_int(e["ticketServed"], "ticketServed")))
        waiting = _int(waiting, "ticketsToServe")
        status = str(e.get("serviceStatus") or "Open").strip().lower()
        if status not in ("open", "closed", "suspended"):
            raise Rejected(f"serviceStatus {e.get('serviceStatus')!r} is not Open, Closed or Suspended")
        counters = _int(e.get("openCounters"), "openCounters", required=False)
        wait = _minutes(e.get("waitingTimeMinutes"), "waitingTimeMinutes")
        name = " — ".join(str(x).strip().rstrip(".") for x in (e.get("serviceName"), e.get("queueLine")) if x)
        extra = {"serving": str(e.get("ticketServedLabel") or e.get("ticketServed") or "") or None,
                 "note": str(e.get("serviceStatusNote") or "")[:200]}
        loc = e.get("location")
        if centre not in self.cfg.centres and isinstance(loc, dict) and loc.get("type") == "Point":
            try:
                lon, lat = float(loc["coordinates"][0]), float(loc["coordinates"][1])
                if valid_lonlat(lon, lat):
                    extra["centre_point"] = [lon, lat]
            except (KeyError, IndexError, TypeError, ValueError):
                pass
        extra["centre_name"] = str(e.get("officeName") or centre)
        return self._snapshot(centre, queue, name or queue, waiting, counters, wait, status, t, extra)

    def _event(self, row: dict) -> Record:
        centre = self.centre_id(row.get("centre") or row.get("branch"))
        ticket = str(row.get("ticket") or "").strip()
        if not ticket:
            raise Rejected("missing ticket")
        step = str(row.get("step") or "").strip().lower()
        step = STEP_ALIASES.get(step, step)
        if step not in STEPS:
            raise Rejected(f"step {row.get('step')!r} is not one of {', '.join(STEPS)}")
        queue = str(row.get("queue") or "").strip()
        t = self._time(row.get("time"), "time")
        day, minute = self._day_slot(t)
        counter = str(row.get("counter") or "").strip() or None
        if step == "issued":
            self._issued[(day, centre, ticket)] = t
        data = {"kind": "event", "centre": centre, "queue": queue, "ticket": ticket, "step": step, "t": t,
                "day": day, "slot": minute // SLOT_MIN, "counter": counter}
        if step == "called":
            arrived = self._issued.get((day, centre, ticket))
            if arrived is not None:
                if arrived > t:
                    raise Rejected(f"ticket {ticket} called before it was issued")
                data["wait"] = (t - arrived) / 60
        return Record(f"{centre}|{day}|{ticket}|{step}", t, data)

    # --- publish --------------------------------------------------------------------
    def publish(self, pipe, keys, records):
        latest: dict[str, Record] = {}
        slots: dict[tuple[str, str], float] = {}
        days = set()
        visits: dict[str, dict] = {}
        readings = []
        for rec in records:
            d = rec.data
            days.add(d["day"])
            if d["kind"] == "snap":
                qkey = f"{d['centre']}|{d['queue']}"
                if qkey not in latest or latest[qkey].version < rec.version:
                    latest[qkey] = rec
                if d["status"] == "open":
                    base = f"{d['centre']}|{d['slot']}"
                    slots[(d["day"], base + "|n")] = slots.get((d["day"], base + "|n"), 0) + 1
                    if d["wait"] is not None and d["waiting"]:
                        slots[(d["day"], base + "|s")] = slots.get((d["day"], base + "|s"), 0) + d["wait"] * d["waiting"]
                        slots[(d["day"], base + "|w")] = slots.get((d["day"], base + "|w"), 0) + d["waiting"]
                    elif d["wait"] is not None:
                        slots.setdefault((d["day"], base + "|w"), 0)
                readings.append({"centre": d["centre"], "queue": d["queue"], "waiting": d["waiting"], "t": d["t"]})
                learnt = d["centre"] not in self.cfg.centres and d["centre"] not in self._learnt_published
                if learnt:
                    meta = {"id": d["centre"], "name": d.get("centre_name") or d["centre"]}
                    if d.get("centre_point"):
                        meta["lon"], meta["lat"] = d["centre_point"]
                        meta["district"] = self.resolve_district(tuple(d["centre_point"]))
                    pipe.hset(keys.centres_learnt(), d["centre"], orjson.dumps(meta))
            else:
                day_visits = visits.setdefault(d["day"], {})
                day_visits[f"{d['centre']}|{d['ticket']}|{d['step']}"] = orjson.dumps(
                    {"t": d["t"], "q": d["queue"], "k": d["counter"]})
                if "wait" in d:  # measured wait of a called visit: the event form's wait sample
                    base = f"{d['centre']}|{d['slot']}"
                    slots[(d["day"], base + "|es")] = slots.get((d["day"], base + "|es"), 0) + d["wait"]
                    slots[(d["day"], base + "|ew")] = slots.get((d["day"], base + "|ew"), 0) + 1
                readings.append({"centre": d["centre"], "ticket": d["ticket"], "step": d["step"], "t": d["t"]})
        if latest:
            rows = {}
            for qkey, rec in latest.items():
                row = {k: v for k, v in rec.data.items() if k not in ("kind", "slot", "centre_point", "centre_name")}
                rows[qkey] = orjson.dumps(row)
            pipe.hset(keys.queue_latest(), mapping=rows)
        for day, mapping in visits.items():
            pipe.hset(keys.visits(day), mapping=mapping)
            # The same fields as one stream entry: the KPI engine applies only the entries it has not
            # seen instead of re-reading the whole day (tens of thousands of steps) after each batch.
            pipe.xadd(keys.visits_log(day), {"m": orjson.dumps({k: orjson.loads(v) for k, v in mapping.items()})},
                      maxlen=VISITS_LOG_MAX, approximate=True)
            pipe.expire(keys.visits_log(day), DAY_KEYS_TTL_S)
        for (day, field), value in slots.items():
            pipe.hincrbyfloat(keys.wait_slots(day), field, value)
        for day in {day for day, _ in slots}:
            # The day's version: a page that parsed this day's slots re-reads them only when it moved.
            pipe.hincrby(keys.wait_slots(day), SLOTS_VERSION_FIELD, 1)
        for day in days:
            pipe.expire(keys.visits(day), DAY_KEYS_TTL_S)
            pipe.expire(keys.wait_slots(day), DAY_KEYS_TTL_S)
        self.add_readings(pipe, keys, readings)

    def published(self, records):
        for rec in records:
            if rec.data["kind"] == "snap" and rec.data["centre"] not in self.cfg.centres:
                self._learnt_published.add(rec.data["centre"])
        if len(self._issued) > 200_000:  # a long-running process: keep the newest half
            for k in list(self._issued)[:100_000]:
                del self._issued[k]

    def redis_lost(self):
        self._learnt_published.clear()  # learnt centres go in again with their next snapshot

    def housekeeping(self, r, keys, now):
        if self._learnt_published and r.hlen(keys.centres_learnt()) < len(self._learnt_published):
            self._learnt_published.clear()  # Redis lost them: name them again
