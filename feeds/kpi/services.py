"""Service windows and city service requests KPIs (kpis.md, "Service windows and requests").

Pure functions: queue snapshots, visit steps and Open311 requests in, numbers out. ``compute``
at the end reads Redis for the KPI engine.

Where the clocks start and stop:
- wait: a queue's current expected wait (snapshot feeds), or for event feeds the time the people
  still waiting have waited so far (as of the newest event), weighted by people waiting;
- served within target: arrival (ticket issued) -> called; a visitor still waiting past the target
  has already missed it and counts as a miss; no-shows are left out;
- requests: requested_datetime -> closing time (updated_datetime of a closed request); on time when
  closed by expected_datetime, else by the city's SLA for the type (``services.sla_h``); requests
  with neither are left out of the on-time share but counted in the median.
"""
from __future__ import annotations

import statistics
import threading
from collections import defaultdict
from dataclasses import dataclass, field

import orjson

from feeds.kpi.base import Computed
from feeds.service_centres import ServicesConfig, services_config
from feeds.store_epoch import on_loss

QUEUE_STALE_S = 900  # a queue not reported for 15 min (centre system down) is not "now"
WINDOW_S = 7 * 86400  # requests_on_time_pct and case_close_median_h


@dataclass
class QueueState:
    centre: str
    queue: str
    name: str
    waiting: int
    counters: int | None
    wait: float | None  # minutes
    status: str  # open | closed | suspended
    t: float
    source: str = "snapshot"  # or "events"
    serving: str | None = None


@dataclass
class Visit:
    centre: str
    ticket: str
    queue: str = ""
    steps: dict[str, float] = field(default_factory=dict)
    counter: str | None = None


def visits_from_hash(raw: dict[str, bytes | str]) -> dict[tuple[str, str], Visit]:
    """One day's visits hash ("centre|ticket|step" -> {t, q, k}) grouped into visits."""
    out: dict[tuple[str, str], Visit] = {}
    _apply_visit_fields(out, {fld: orjson.loads(value) for fld, value in raw.items()})
    return out


def event_queues(visits: dict[tuple[str, str], Visit], as_of: float) -> list[QueueState]:
    """Queue states derived from visit steps: who is waiting now and for how long so far."""
    groups: dict[tuple[str, str], list[Visit]] = defaultdict(list)
    newest: dict[tuple[str, str], float] = {}
    for v in visits.values():
        key = (v.centre, v.queue or "-")
        groups[key].append(v)
        newest[key] = max(newest.get(key, 0.0), max(v.steps.values()))
    out = []
    for (centre, queue), vs in groups.items():
        waiting = [v for v in vs if "issued" in v.steps and "called" not in v.steps and "no_show" not in v.steps
                   and "ended" not in v.steps]
        waits = [(as_of - v.steps["issued"]) / 60 for v in waiting]
        recent = {v.counter for v in vs if v.counter and max(v.steps.values()) >= as_of - QUEUE_STALE_S}
        out.append(QueueState(centre, queue, queue, len(waiting), len(recent) or None,
                              sum(waits) / len(waits) if waits else 0.0, "open", newest[(centre, queue)], "events"))
    return out


def served_within(visits, target_min: float, as_of: float) -> tuple[int, int]:
    """(served within target, counted): called within target_min of arrival, or still waiting past it."""
    ok = n = 0
    for v in visits:
        issued = v.steps.get("issued")
        if issued is None or "no_show" in v.steps:
            continue
        called = v.steps.get("called", v.steps.get("started"))
        if called is not None:
            n += 1
            ok += (called - issued) / 60 <= target_min
        elif "ended" not in v.steps and (as_of - issued) / 60 > target_min:
            n += 1  # still waiting and already past the target
    return ok, n


def _weighted_wait(queues: list[QueueState]) -> float | None:
    num = den = 0.0
    known = False
    for q in queues:
        if q.wait is None:
            continue
        known = True
        num += q.wait * q.waiting
        den += q.waiting
    if not known:
        return None
    return num / den if den else 0.0


def queue_kpis(cfg: ServicesConfig, queues: list[QueueState], visits: dict[tuple[str, str], Visit],
               learnt: dict[str, dict], district_ids: list[str]) -> dict[str, Computed]:
    """people_waiting, wait_min, served_within_target_pct, open_counters with their breakdowns.

    ``queues`` are the snapshot queues; centres that only send visit events get queues derived from
    them. The "now" is the newest observation; queues older than 15 min before it are left out (a
    centre whose queue system is down shows as "no data", not as empty)."""
    snap_centres = {q.centre for q in queues}
    as_of = max([q.t for q in queues] + [max(v.steps.values()) for v in visits.values() if v.steps], default=None)
    if as_of is None:
        return {k: Computed(None, None) for k in ("services.people_waiting", "services.wait_min",
                                                  "services.served_within_target_pct", "services.open_counters")}
    event_only = {k: v for k, v in visits.items() if k[0] not in snap_centres}
    derived = event_queues(event_only, as_of) if event_only else []
    current = [q for q in queues + derived if q.t >= as_of - QUEUE_STALE_S]
    open_queues = [q for q in current if q.status == "open"]

    def district(centre: str) -> str | None:
        if centre in cfg.districts:
            return cfg.districts[centre]
        return (learnt.get(centre) or {}).get("district")

    centres = sorted(set(cfg.centres) | {q.centre for q in queues + derived})
    by_centre: dict[str, dict] = {}
    local = cfg.local(as_of)
    visits_by_centre: dict[str, list[Visit]] = defaultdict(list)
    for v in visits.values():
        visits_by_centre[v.centre].append(v)
    for c in centres:
        cq = [q for q in open_queues if q.centre == c]
        reporting = any(q.centre == c for q in current)
        conf = cfg.centres.get(c)
        scheduled = conf.counters if conf is not None and conf.is_open(local) else (0 if conf is not None else None)
        counters = [q.counters for q in cq if q.counters is not None]
        ok, n = served_within(visits_by_centre.get(c, []), cfg.target_wait_min, as_of)
        by_centre[c] = {
            "reporting": reporting,
            # By its hours when configured; a learnt centre is open when one of its queues operates.
            "open_now": conf.is_open(local) if conf is not None else bool(cq),
            "waiting": sum(q.waiting for q in cq) if reporting else None,
            "wait": _weighted_wait(cq) if reporting else None,
            "open_counters": sum(counters) if reporting and counters else (0 if reporting else None),
            "scheduled": scheduled,
            "served_ok": ok, "served_n": n,
            "district": district(c),
        }

    def pct_open(rows) -> float | None:
        rows = [r for r in rows if r["scheduled"] and r["reporting"]]
        sched = sum(r["scheduled"] for r in rows)
        return 100.0 * sum(r["open_counters"] for r in rows) / sched if sched else None

    def served(rows) -> float | None:
        n = sum(r["served_n"] for r in rows)
        return 100.0 * sum(r["served_ok"] for r in rows) / n if n else None

    per_district: dict[str, list[str]] = defaultdict(list)
    for c, row in by_centre.items():
        per_district[row["district"]].append(c)

    def districts(fn) -> dict[str, float | None]:
        return {d: fn(per_district.get(d, [])) for d in district_ids}

    def dq(cs):
        return [q for q in open_queues if q.centre in cs]

    people = Computed(float(sum(q.waiting for q in open_queues)), as_of,
                      districts(lambda cs: float(sum(q.waiting for q in dq(cs))) if any(by_centre[c]["reporting"] for c in cs) else None),
                      inputs=len(current), detail={"by_centre": by_centre})
    wait = Computed(_weighted_wait(open_queues), as_of, districts(lambda cs: _weighted_wait(dq(cs)) if dq(cs) else None),
                    inputs=len(open_queues), detail={"by_centre": {c: r["wait"] for c, r in by_centre.items()}})
    served_pct = Computed(served(by_centre.values()), as_of,
                          districts(lambda cs: served([by_centre[c] for c in cs])),
                          inputs=sum(r["served_n"] for r in by_centre.values()),
                          detail={"by_centre": {c: (100.0 * r["served_ok"] / r["served_n"] if r["served_n"] else None)
                                                for c, r in by_centre.items()},
                                  "target_wait_min": cfg.target_wait_min})
    counters = Computed(pct_open(by_centre.values()), as_of, districts(lambda cs: pct_open([by_centre[c] for c in cs])),
                        inputs=len(cfg.centres),
                        detail={"by_centre": {c: {"open": r["open_counters"], "scheduled": r["scheduled"]}
                                              for c, r in by_centre.items()},
                                # The same centres as the share: scheduled now and reporting.
                                "open": sum(r["open_counters"] or 0 for r in by_centre.values()
                                            if r["scheduled"] and r["reporting"]),
                                "scheduled": sum(r["scheduled"] for r in by_centre.values()
                                                 if r["scheduled"] and r["reporting"])})
    return {"services.people_waiting": people, "services.wait_min": wait,
            "services.served_within_target_pct": served_pct, "services.open_counters": counters}


def request_kpis(cfg: ServicesConfig, open_requests: list[dict], closed_requests: list[dict],
                 as_of: float | None, district_ids: list[str]) -> dict[str, Computed]:
    """requests_open (now), requests_on_time_pct and case_close_median_h (7 days to the newest closure)."""
    if as_of is None:
        return {k: Computed(None, None) for k in ("services.requests_open", "services.requests_on_time_pct",
                                                  "services.case_close_median_h")}
    newest_close = max((r["closed"] for r in closed_requests if r.get("closed") is not None), default=None)
    # One pass over each list (25,000 requests at the large city; README "Performance"): counts, and per
    # group (city, district, type) the on-time judgements and close times of the window.
    open_d: dict[str, int] = defaultdict(int)
    open_t: dict[str, int] = defaultdict(int)
    without_location = 0
    for r in open_requests:
        open_d[r.get("district")] += 1
        open_t[r.get("type")] += 1
        if r.get("lat") is None:
            without_location += 1
    opened = Computed(float(len(open_requests)), as_of, {d: float(open_d.get(d, 0)) for d in district_ids},
                      inputs=len(open_requests),
                      detail={"by_type": dict(sorted(open_t.items(), key=lambda kv: -kv[1])),
                              "without_location": without_location})

    def deadline(r) -> float | None:
        if r.get("expected") is not None:
            return r["expected"]
        sla = cfg.sla_hours(r.get("code"), r.get("type"))
        return r["requested"] + sla * 3600 if sla is not None else None

    whole = _Window()
    win_d: dict[str, _Window] = {}
    win_t: dict[str, _Window] = {}
    if newest_close is not None:
        since = newest_close - WINDOW_S
        for r in closed_requests:
            closed = r.get("closed")
            if closed is None or closed <= since:
                continue
            dl = deadline(r)
            on_time = None if dl is None else closed <= dl
            hours = (closed - r["requested"]) / 3600
            d, t = r.get("district"), r.get("type")
            for w in (whole, win_d.get(d) or win_d.setdefault(d, _Window()),
                      win_t.get(t) or win_t.setdefault(t, _Window())):
                w.add(on_time, hours)
    none = _Window()
    on_time_c = Computed(whole.on_time(), as_of, {d: win_d.get(d, none).on_time() for d in district_ids},
                         inputs=whole.n, detail={"by_type": {t: w.on_time() for t, w in win_t.items()},
                                                 "window_end": newest_close})
    median_c = Computed(whole.median_h(), as_of, {d: win_d.get(d, none).median_h() for d in district_ids},
                        inputs=whole.n, detail={"by_type": {t: w.median_h() for t, w in win_t.items()},
                                                "window_end": newest_close})
    return {"services.requests_open": opened, "services.requests_on_time_pct": on_time_c,
            "services.case_close_median_h": median_c}


class _Window:
    """Closed requests of the 7-day window in one group: on-time judgements and close times."""
    __slots__ = ("n", "judged", "met", "hours")

    def __init__(self):
        self.n, self.judged, self.met, self.hours = 0, 0, 0, []

    def add(self, on_time: bool | None, hours: float) -> None:
        self.n += 1
        self.hours.append(hours)
        if on_time is not None:
            self.judged += 1
            self.met += on_time

    def on_time(self) -> float | None:
        return 100.0 * self.met / self.judged if self.judged else None

    def median_h(self) -> float | None:
        return statistics.median(self.hours) if self.hours else None


def load_queue_inputs(r, keys):
    """Snapshot queues and learnt centres: one round trip."""
    pipe = r.pipeline(transaction=False)
    pipe.hgetall(keys.queue_latest())
    pipe.hgetall(keys.centres_learnt())
    latest, learnt = pipe.execute()
    queues = []
    for raw in latest.values():
        q = orjson.loads(raw)
        queues.append(QueueState(q["centre"], q["queue"], q.get("name") or q["queue"], q["waiting"], q.get("counters"),
                                 q.get("wait"), q["status"], q["t"], "snapshot", q.get("serving")))
    return queues, {k: orjson.loads(v) for k, v in learnt.items()}


def load_requests(r, keys) -> tuple[list[dict], list[dict]]:
    """Every stored request, split open / closed (a full read; ``RequestCache`` keeps it up to date)."""
    rows = [orjson.loads(v) for v in r.hvals(keys.service_requests())]
    return [x for x in rows if x.get("status") == "open"], [x for x in rows if x.get("status") != "open"]


def _apply_visit_fields(visits: dict[tuple[str, str], Visit], fields: dict) -> None:
    for fld, v in fields.items():
        centre, ticket, step = fld.rsplit("|", 2)
        visit = visits.get((centre, ticket))
        if visit is None:
            visit = visits[(centre, ticket)] = Visit(centre, ticket)
        visit.steps[step] = v["t"]
        if v.get("q"):
            visit.queue = v["q"]
        if v.get("k"):
            visit.counter = v["k"]


class _Incremental:
    """A parsed copy of a Redis structure kept up to date from its change stream.

    The first read (or a reader that fell behind the stream's trimming) loads everything; later
    reads apply only the stream entries after the last one applied. The stream's newest id is read
    before a full load, so a change landing during the load is applied again (idempotently) next
    time, never lost."""

    def __init__(self):
        self.last: str | None = None
        self.value = None
        self.version = 0  # bumped whenever the value changed
        self.computed: tuple = (None, None)  # (stamp, KPIs computed from this value)

    def refresh(self, r, stream: str, full_load, apply) -> None:
        if self.last is not None:
            entries = r.xrange(stream, min=f"({self.last}", max="+")
            first = r.xrange(stream, count=1) if entries else None
            # Entries older than the stream's first were trimmed: if that first is past the last one
            # applied, some changes may be lost, so read everything again.
            behind = bool(first) and self.last != "0-0" and _id_lt(self.last, first[0][0])
            if not behind:
                if entries:
                    for _, fields in entries:
                        apply(self.value, fields)
                    self.last = entries[-1][0]
                    self.version += 1
                return
        newest = r.xrevrange(stream, count=1)
        self.value = full_load()
        self.last = newest[0][0] if newest else "0-0"
        self.version += 1


def _id_lt(a: str, b: str) -> bool:
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq or 0)) < (int(bms), int(bseq or 0))


# Parsed inputs per key prefix (and per day for visits), kept up to date from the change streams:
# a batch of new requests or visit steps costs reading that batch, not 25,000 requests or a day of
# visits again.
_MEMO: dict[tuple, object] = {}
on_loss(_MEMO.clear)  # Redis lost its data: these copies describe what is gone


def _cache(key: tuple) -> _Incremental:
    hit = _MEMO.get(key)
    if hit is None:
        if len(_MEMO) > 64:
            _MEMO.clear()
        hit = _MEMO[key] = _Incremental()
    return hit


def current_visits(r, keys, day: str) -> dict[tuple[str, str], Visit]:
    cache = _cache(("visits", keys.visits(day)))

    def apply(visits, fields):
        _apply_visit_fields(visits, orjson.loads(fields["m"]))

    cache.refresh(r, keys.visits_log(day), lambda: visits_from_hash(r.hgetall(keys.visits(day))), apply)
    return cache.value


def current_requests(r, keys) -> _Incremental:
    """The parsed requests (id -> row), kept up to date from the change log."""
    cache = _cache(("requests", keys.prefix))

    def full():
        return {x["id"]: x for x in (orjson.loads(v) for v in r.hvals(keys.service_requests()))}

    def apply(rows, fields):
        ids = orjson.loads(fields["ids"])
        for rid, raw in zip(ids, r.hmget(keys.service_requests(), ids) if ids else []):
            if raw is None:
                rows.pop(rid, None)
            else:
                rows[rid] = orjson.loads(raw)

    cache.refresh(r, keys.service_request_changes(), full, apply)
    return cache


_LOCK = threading.RLock()  # the caches are shared by the feed threads of one process (the demo runs several)


def compute(engine) -> dict[str, tuple[Computed, float]]:
    """The services domain's KPIs from Redis (called by the KPI engine)."""
    with _LOCK:
        return _compute(engine)


def _compute(engine) -> dict[str, tuple[Computed, float]]:
    cfg = services_config(engine.city)
    keys = engine.keys
    queues, learnt = load_queue_inputs(engine.r, keys)
    newest = max((q.t for q in queues), default=None)
    health_q = engine.feed_health("services")
    if health_q.get("newest"):
        newest = max(newest or 0, float(health_q["newest"]))
    visits = {}
    if newest is not None:
        visits = current_visits(engine.r, keys, cfg.local(newest).strftime("%Y-%m-%d"))
    out = {}
    q_fresh = engine.freshness(health_q)
    for kid, c in queue_kpis(cfg, queues, visits, learnt, engine.district_ids).items():
        out[kid] = (c, q_fresh)
    health_r = engine.feed_health("requests")
    as_of = float(health_r["last_success"]) if health_r.get("last_success") else None
    cache = current_requests(engine.r, keys)
    # The request KPIs change only with the requests (or the feed's as_of): reuse them otherwise.
    stamp = (cache.version, as_of)
    if cache.computed[0] != stamp:
        open_rows, closed_rows = [], []
        for x in cache.value.values():
            (open_rows if x.get("status") == "open" else closed_rows).append(x)
        cache.computed = (stamp, request_kpis(cfg, open_rows, closed_rows, as_of, engine.district_ids))
    computed = cache.computed[1]
    for kid, c in computed.items():
        out[kid] = (c, engine.freshness(health_r))
    return out
