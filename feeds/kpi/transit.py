"""Bus KPIs (kpis.md "Buses"; feed-formats.md §3.2, §3.3). Pure: events in, numbers out.

Inputs, all written by the ``transit`` adapter:
- departures: {r, d, s, dl (s), t, tp (timepoint), ds} per trip and stop (GTFS-RT delay rules applied);
- passages: {r, d, s, v, t, H, ds}: a vehicle first reported at a stop, with the scheduled headway H
  of its route and direction at that time;
- vehicles: newest position per vehicle; scheduled: vehicles the schedule needs now, per route.
The window ends at the newest input (so a replayed file is judged on its own time).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import orjson

from feeds.adapters.transit_gtfs import TransitConfig, on_time, transit_config
from feeds.kpi.base import Computed

KPI_IDS = ("transit.on_time_pct", "transit.mean_delay_s", "transit.headway_cv", "transit.bunched_pct",
           "transit.service_delivered_pct", "transit.vehicles_in_service")


@dataclass(slots=True)
class Headway:
    route: str
    direction: int
    stop: str
    h: float  # observed: t_i - t_(i-1), consecutive vehicles of one route + direction at one stop
    H: float | None  # scheduled
    t: float
    district: str | None


def observed_headways(passages: list[dict], since: float | None = None) -> list[Headway]:
    """feed-formats.md §3.3: h_i = t_i - t_(i-1) at stop s for consecutive vehicles of the same
    route_id + direction_id. The same vehicle twice in a row (a restart, a loop) is not a headway.
    ``since``: only headways ending at or after it (earlier passages still serve as t_(i-1))."""
    if since is None:
        since = float("-inf")
    by_stop: dict[tuple, list[dict]] = defaultdict(list)
    for p in passages:
        by_stop[(p["r"], p["d"], p["s"])].append(p)
    out = []
    for (route, direction, stop), ps in by_stop.items():
        if len(ps) < 2:
            continue
        ps.sort(key=_t)
        if len({p["v"] for p in ps}) < len(ps):  # some bus seen here twice: one passage per visit
            ps = _first_of_each_visit(ps)
        for prev, cur in zip(ps, ps[1:]):
            t = cur["t"]
            if t < since or prev["v"] == cur["v"]:
                continue
            out.append(Headway(route, direction, stop, float(t - prev["t"]), cur.get("H"), float(t), cur.get("ds")))
    return out


def _t(p: dict) -> float:
    return p["t"]


SAME_VISIT_S = 900  # without a trip id: the same bus at the same stop again within this is one visit


def _first_of_each_visit(ps: list[dict]) -> list[dict]:
    """Passages of one stop in time order, each visit once, at its first time. A restarted adapter
    records the stop every bus is at or heading to again; that repeat is no passage (it made a
    headway of 0 s, "bunched", with the next bus first seen at the same instant). One visit: the same
    bus on the same trip (or, without trip ids, within SAME_VISIT_S)."""
    first: dict[str, tuple] = {}
    out = []
    for p in ps:
        v, trip, t = p["v"], p.get("trip"), p["t"]
        seen = first.get(v)
        if seen is not None and (seen[0] == trip if trip is not None else t - seen[1] < SAME_VISIT_S):
            continue
        first[v] = (trip, t)
        out.append(p)
    return out


def headway_cv(headways: list[Headway]) -> float | None:
    """TCQSM ch. 5: c_vh = standard deviation of (observed - scheduled headway) / mean scheduled
    headway (population standard deviation over the observed headways); None below two headways."""
    pairs = [(hw.h, hw.H) for hw in headways if hw.H]
    if len(pairs) < 2:
        return None
    deviations = [h - big_h for h, big_h in pairs]
    m = math.fsum(deviations) / len(deviations)
    sd = math.sqrt(math.fsum((d - m) ** 2 for d in deviations) / len(deviations))  # float, not Fractions: hot
    return sd / (math.fsum(big_h for _, big_h in pairs) / len(pairs))


def bunched_pct(headways: list[Headway], ratio: float) -> float | None:
    """% of observed headways with h / H < ratio (0.5 by default)."""
    judged = [hw for hw in headways if hw.H]
    if not judged:
        return None
    return 100.0 * sum(1 for hw in judged if hw.h / hw.H < ratio) / len(judged)


def on_time_pct(delays: list[float], cfg: TransitConfig) -> float | None:
    if not delays:
        return None
    return 100.0 * sum(1 for d in delays if on_time(d, cfg.on_time_early_s, cfg.on_time_late_s)) / len(delays)


def mean(xs: list[float]) -> float | None:
    return math.fsum(xs) / len(xs) if xs else None


def _grouped(items, key) -> dict:
    out = defaultdict(list)
    for x in items:
        out[key(x)].append(x)
    return out


def transit_kpis(vehicles: list[dict], scheduled: dict[str, dict], departures: list[dict], passages: list[dict],
                 as_of: float | None, cfg: TransitConfig, district_ids: list[str],
                 all_headways: list[Headway] | None = None) -> dict[str, Computed]:
    """All six bus KPIs with district and route breakdowns (``detail["by_route"]``).
    ``all_headways``: observed_headways(passages), when the caller has them already."""
    if as_of is None:
        return {kid: Computed(None, None) for kid in KPI_IDS}
    lo = as_of - cfg.window_s
    # On-time: timepoint departures (arrival at the terminal) in the window (TCQSM; kpis.md).
    events = [e for e in departures if e["tp"] and lo <= e["t"] <= as_of]
    if all_headways is None:
        all_headways = observed_headways(passages)
    headways = [hw for hw in all_headways if lo <= hw.t <= as_of]
    frequent = [hw for hw in headways if hw.H and hw.H <= cfg.frequent_headway_s]
    in_service = [v for v in vehicles if v["t"] >= as_of - cfg.vehicle_fresh_s]
    total_scheduled = sum(s["n"] for s in scheduled.values())

    def by(items, key, fn):
        groups = _grouped(items, key)
        return {k: fn(v) for k, v in groups.items() if k is not None}

    def delays(es):
        return [e["dl"] for e in es]

    def delivered(vs, sched_n):
        return 100.0 * min(len(vs), sched_n) / sched_n if sched_n else None

    def delivered_routes(route_ids):
        """Per route, buses beyond the schedule (a late bus still out) do not make up for a route
        that is short: sum over routes of min(in service, scheduled) / sum of scheduled."""
        n = sum(scheduled[r]["n"] for r in route_ids)
        got = sum(min(len(vehicles_by_route.get(r, [])), scheduled[r]["n"]) for r in route_ids)
        return 100.0 * got / n if n else None

    vehicles_by_district = _grouped(in_service, lambda v: v.get("ds"))
    vehicles_by_route = _grouped(in_service, lambda v: v["r"])
    routes = sorted(set(scheduled) | set(vehicles_by_route) | {e["r"] for e in events if e["r"]}
                    | {hw.route for hw in headways})

    ev_by_route = _grouped(events, lambda e: e["r"])
    hw_by_route = _grouped(headways, lambda h: h.route)

    def route_table(fn_events, fn_headways=None):
        if fn_headways is None:
            return {r: fn_events(ev_by_route.get(r, [])) for r in routes}
        return {r: fn_headways(hw_by_route.get(r, [])) for r in routes}

    def districts(values: dict) -> dict:
        return {d: values.get(d) for d in district_ids}

    ev_by_d = _grouped(events, lambda e: e.get("ds"))
    hw_by_d = _grouped(headways, lambda h: h.district)
    fq_by_d = _grouped(frequent, lambda h: h.district)
    otp = Computed(on_time_pct(delays(events), cfg), as_of, inputs=len(events),
                   by_district=districts({d: on_time_pct(delays(v), cfg) for d, v in ev_by_d.items()}),
                   detail={"by_route": route_table(lambda es: on_time_pct(delays(es), cfg)),
                           "events_by_route": route_table(len),
                           "window": [cfg.on_time_early_s, cfg.on_time_late_s]})
    mean_delay = Computed(mean(delays(events)), as_of, inputs=len(events),
                          by_district=districts({d: mean(delays(v)) for d, v in ev_by_d.items()}),
                          detail={"by_route": route_table(lambda es: mean(delays(es)))})
    cv = Computed(headway_cv(frequent), as_of, inputs=len(frequent),
                  by_district=districts({d: headway_cv(v) for d, v in fq_by_d.items()}),
                  detail={"by_route": route_table(None, lambda hs: headway_cv(
                      [h for h in hs if h.H and h.H <= cfg.frequent_headway_s])),
                          "frequent_headway_s": cfg.frequent_headway_s})
    bunched = Computed(bunched_pct(headways, cfg.bunched_ratio), as_of, inputs=sum(1 for h in headways if h.H),
                       by_district=districts({d: bunched_pct(v, cfg.bunched_ratio) for d, v in hw_by_d.items()}),
                       detail={"by_route": route_table(None, lambda hs: bunched_pct(hs, cfg.bunched_ratio)),
                               "headways_by_route": route_table(None, lambda hs: len(hs)),
                               "ratio": cfg.bunched_ratio})
    routes_of_district = _grouped(scheduled, lambda r: scheduled[r].get("ds"))
    service = Computed(delivered_routes(list(scheduled)), as_of, inputs=len(in_service),
                       by_district=districts({d: delivered_routes(rs) for d, rs in routes_of_district.items()}),
                       detail={"by_route": {r: delivered(vehicles_by_route.get(r, []), scheduled.get(r, {}).get("n", 0))
                                            for r in routes},
                               "scheduled": total_scheduled,
                               "scheduled_by_route": {r: s["n"] for r, s in scheduled.items()}})
    count = Computed(float(len(in_service)), as_of, inputs=len(in_service),
                     by_district={d: float(len(vehicles_by_district.get(d, []))) for d in district_ids},
                     detail={"by_route": {r: len(vehicles_by_route.get(r, [])) for r in routes}})
    if not scheduled:  # no schedule loaded: nothing to deliver against
        service.value = None
    return {"transit.on_time_pct": otp, "transit.mean_delay_s": mean_delay, "transit.headway_cv": cv,
            "transit.bunched_pct": bunched, "transit.service_delivered_pct": service,
            "transit.vehicles_in_service": count}


def route_stop_stats(departures: list[dict], all_headways: list[Headway], as_of: float | None,
                     cfg: TransitConfig) -> dict[str, dict]:
    """Per route and stop, over the KPI window: mean departure delay (all stops, not only
    timepoints), observed headways (mean, last) against the scheduled one, bunched (h/H < 0.5) and
    gapped (h/H > 1.5) headways."""
    if as_of is None:
        return {}
    lo = as_of - cfg.window_s
    # One pass over each list, summing as it goes (20,000 departures at the large city; README
    # "Performance"): the same sums in the same order as grouping first.
    delays: dict[tuple, list] = {}
    for e in departures:
        if e["r"] and lo <= e["t"] <= as_of:
            acc = delays.get((e["r"], e["s"]))
            if acc is None:
                delays[(e["r"], e["s"])] = [e["dl"], 1]
            else:
                acc[0] += e["dl"]
                acc[1] += 1
    out: dict[str, dict] = defaultdict(dict)
    for (route, stop), (total, n) in delays.items():
        out[route][stop] = {"delay": round(total / n, 1), "n": n}
    heads: dict[tuple, list] = {}  # h sum, count, last h, last t, H sum, judged, bunched, gapped
    for h in all_headways:
        if not lo <= h.t <= as_of:
            continue
        acc = heads.get((h.route, h.stop))
        if acc is None:
            acc = heads[(h.route, h.stop)] = [0.0, 0, h.h, h.t, 0.0, 0, 0, 0]
        elif h.t > acc[3]:
            acc[2], acc[3] = h.h, h.t
        acc[0] += h.h
        acc[1] += 1
        if h.H:
            acc[4] += h.H
            acc[5] += 1
            ratio = h.h / h.H
            acc[6] += ratio < cfg.bunched_ratio
            acc[7] += ratio > cfg.gapped_ratio
    for (route, stop), (h_sum, n, h_last, _, big_h_sum, judged, bunched, gapped) in heads.items():
        out[route].setdefault(stop, {}).update({
            "h": round(h_sum / n, 1), "h_last": h_last, "headways": n,
            "H": round(big_h_sum / judged, 1) if judged else None, "bunched": bunched, "gapped": gapped})
    return dict(out)


# The window's departures and passages, each as ONE JSON array built inside Redis: tens of thousands of
# small replies cost the Python client far more than the data (ZRANGEBYSCORE + HMGET of 16,000 events
# took ~150-400 ms; one bulk string and one orjson.loads take a few ms). HMGET in chunks: Lua's unpack()
# has a limited stack.
_WINDOW_SCRIPT = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2])
local out = {}
for i = 1, #ids, 4000 do
  local vals = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 3999, #ids)))
  for j = 1, #vals do
    if vals[j] then out[#out + 1] = vals[j] end
  end
end
local passages = redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[3], ARGV[2])
return {'[' .. table.concat(out, ',') .. ']', '[' .. table.concat(passages, ',') .. ']'}
"""


def read_inputs(r, keys, window_s: float):
    """The KPI inputs from Redis: (vehicles, scheduled, departures, passages, newest time)."""
    pipe = r.pipeline(transaction=False)
    pipe.hvals(keys.transit_vehicles())
    pipe.hgetall(keys.transit_scheduled())
    pipe.hget(keys.feed_health("transit"), "newest")
    vehicles_raw, scheduled_raw, newest = pipe.execute()
    as_of = float(newest) if newest else None
    if as_of is None:
        return [], {}, [], [], None
    deps_raw, passages_raw = r.eval(_WINDOW_SCRIPT, 3, keys.transit_departures_by_time(), keys.transit_departures(),
                                    keys.transit_passages(), as_of - window_s, as_of, as_of - 2 * window_s)
    scheduled = {k: orjson.loads(v) for k, v in scheduled_raw.items() if not k.startswith("_")}
    vehicles = orjson.loads("[" + ",".join(vehicles_raw) + "]")
    return vehicles, scheduled, orjson.loads(deps_raw), orjson.loads(passages_raw), as_of


def compute(engine) -> dict[str, tuple[Computed, float]]:
    """The transit domain's KPIs from Redis (called by the KPI engine)."""
    cfg = transit_config(engine.city)
    vehicles, scheduled, departures, passages, as_of = read_inputs(engine.r, engine.keys, cfg.window_s)
    health = engine.feed_health("transit")
    fresh = engine.freshness(health)
    headways = observed_headways(passages, as_of - cfg.window_s if as_of is not None else None)
    computed = transit_kpis(vehicles, scheduled, departures, passages, as_of, cfg, engine.district_ids, headways)
    # Per-stop figures of each route, for the drill-down: worked out here, once per update.
    stats = route_stop_stats(departures, headways, as_of, cfg)
    pipe = engine.r.pipeline(transaction=False)
    pipe.delete(engine.keys.transit_route_stats())
    if stats:
        pipe.hset(engine.keys.transit_route_stats(), mapping={r: orjson.dumps(v) for r, v in stats.items()})
    pipe.execute()
    return {kid: (c, fresh) for kid, c in computed.items()}
