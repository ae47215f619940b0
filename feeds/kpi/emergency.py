"""Emergency KPIs: NENA call answering, NFPA 1225 call processing, NFPA 1710 turnout and travel.

Intervals (feed-formats.md §3.5), each incident judged by its first-arriving unit (earliest
on scene); units with no on-scene time (cancelled) count toward volume, never toward travel:

    call processing  first dispatch - received        (NFPA 1225: <= 60 s at the 90th)
    turnout          en route - dispatch, every unit  (NFPA 1710: <= 60 s EMS, <= 80 s fire)
    travel           on scene - en route, first-arriving unit   (NFPA 1710: <= 240 s)
    total response   on scene - received, first-arriving unit   (informational)

Percentiles are nearest-rank 90th (kpis.md). The window is ``emergency.window_s`` (24 h) ending at
the newest report, so a replayed file gets the numbers of its own day.

Turnout with two targets (NFPA 1710: 60 s for EMS calls, 80 s for fire calls, both configurable):
each kind is judged on its own, as the standard does: the EMS 90th percentile against 60 s and the
fire 90th against 80 s. The KPI's one value is the WORSE of the two, each as a share of its own
target, put on the KPI's scale: ``max(ems_p90 / ems_target, fire_p90 / fire_target) x KPI target``.
So it meets the target only when both kinds do; pooling both kinds into one percentile would let
many compliant EMS turnouts hide a fire turnout that misses its target. The detail (and the panel)
carries the plain EMS and fire 90th percentiles in seconds, citywide and per district.
"""
from __future__ import annotations

import math

import orjson

from feeds.adapters.emergency import EmergencyConfig, emergency_config
from feeds.kpi.base import Computed
from feeds.kpi.catalogue import CATALOGUE, resolve_target

ANSWER_15_S = 15  # NENA-STA-020.1-2020: 90 % of 9-1-1 calls answered within 15 s
ANSWER_20_S = 20  # ... and 95 % within 20 s


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile: the ceil(0.9 n)-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.9 * len(ordered))) - 1]


def pct(hits: int, total: int) -> float | None:
    return 100.0 * hits / total if total else None


def turnouts(incident: dict) -> list[tuple[str, float]]:
    """(unit, en route - dispatch) of every unit that went en route."""
    out = []
    for u in incident.get("units", []):
        if u.get("dispatched") is not None and u.get("en_route") is not None:
            out.append((u["unit"], u["en_route"] - u["dispatched"]))
    return out


def in_window(incidents: list[dict], window_s: float, newest: float | None) -> list[dict]:
    if newest is None:
        return []
    return [i for i in incidents if i.get("opened") is not None and i["opened"] >= newest - window_s]


def _by_district(groups: dict[str | None, list[float]], fn, district_ids) -> dict[str, float | None]:
    return {d: fn(groups.get(d, [])) for d in district_ids}


def worse_turnout(ems_p90: float | None, fire_p90: float | None, conf: EmergencyConfig,
                  turnout_target: float) -> float | None:
    """The worse of the EMS and fire 90th percentiles, each relative to its own NFPA 1710 target, on
    the KPI's scale: <= the KPI target exactly when both kinds meet their own targets."""
    shares = [p / own for p, own in ((ems_p90, conf.turnout_ems_s), (fire_p90, conf.turnout_fire_s))
              if p is not None]
    return max(shares) * turnout_target if shares else None


def turnout_kpi(by_kind: dict[str, dict[str | None, list[float]]], conf: EmergencyConfig, turnout_target: float,
                district_ids, newest: float | None, incidents: int) -> Computed:
    """Turnout judged per kind of call (see the module's docstring)."""
    def kind_p90(kind, district=...):
        groups = by_kind[kind]
        return p90([v for vs in groups.values() for v in vs] if district is ... else groups.get(district, []))

    ems, fire = kind_p90("ems"), kind_p90("fire")
    n = {k: sum(len(vs) for vs in by_kind[k].values()) for k in by_kind}
    per_district = {d: {"ems": kind_p90("ems", d), "fire": kind_p90("fire", d)} for d in district_ids}
    detail = {
        "n": n["ems"] + n["fire"], "incidents": incidents,
        "ems": {"p90_s": ems, "target_s": conf.turnout_ems_s, "n": n["ems"]},
        "fire": {"p90_s": fire, "target_s": conf.turnout_fire_s, "n": n["fire"]},
        "by_district": per_district,
        "scale": "the worse of EMS 90th / EMS target and fire 90th / fire target, x the KPI target",
    }
    return Computed(worse_turnout(ems, fire, conf, turnout_target), newest if n["ems"] + n["fire"] or incidents else None,
                    {d: worse_turnout(v["ems"], v["fire"], conf, turnout_target) for d, v in per_district.items()},
                    n["ems"] + n["fire"], detail)


def emergency_kpis(incidents: list[dict], units: list[dict], calls: list[tuple[float, float, str | None]],
                   conf: EmergencyConfig, turnout_target: float, district_ids: list[str],
                   feed_as_of: float | None) -> dict[str, Computed]:
    """Every emergency KPI from incident summaries, the unit board and 911 calls (ring, answer s, incident).

    Pure: the numbers a test derives by hand from a fixture's timestamps."""
    newest_candidates = [i["updated"] for i in incidents if i.get("updated") is not None]
    newest_candidates += [ring for ring, _, _ in calls]
    newest = max(newest_candidates) if newest_candidates else None
    window = in_window(incidents, conf.window_s, newest)
    district_of_incident = {i["id"]: i.get("district") for i in incidents}

    processing: dict[str | None, list[float]] = {}
    travel: dict[str | None, list[float]] = {}
    response: dict[str | None, list[float]] = {}
    turnout_kind: dict[str, dict[str | None, list[float]]] = {"ems": {}, "fire": {}}
    for inc in window:
        d = inc.get("district")
        if inc.get("call_processing_s") is not None:
            processing.setdefault(d, []).append(inc["call_processing_s"])
        if inc.get("travel_s") is not None:
            travel.setdefault(d, []).append(inc["travel_s"])
        if inc.get("response_s") is not None:
            response.setdefault(d, []).append(inc["response_s"])
        kind = "ems" if inc.get("category") == "ems" else "fire"
        for _, t in turnouts(inc):
            turnout_kind[kind].setdefault(d, []).append(t)

    def flat(groups):
        return [v for vs in groups.values() for v in vs]

    def interval(groups, extra=None) -> Computed:
        values = flat(groups)
        detail = {"n": len(values), "incidents": len(window)}
        detail.update(extra or {})
        return Computed(p90(values), newest if values or window else None,
                        _by_district(groups, p90, district_ids), len(values), detail)

    out = {
        "emergency.call_processing_p90_s": interval(processing),
        "emergency.travel_p90_s": interval(travel, {
            "cancelled_units": sum(1 for i in window for u in i.get("units", []) if u.get("cancelled"))}),
        "emergency.response_p90_s": interval(response),
        "emergency.turnout_p90_s": turnout_kpi(turnout_kind, conf, turnout_target, district_ids,
                                               newest, len(window)),
    }

    # NENA: answer time from first ring, calls in the window
    recent = [(ring, ans, inc) for ring, ans, inc in calls if newest is not None and ring >= newest - conf.window_s]
    by_d: dict[str | None, list[float]] = {}
    for _, ans, inc in recent:
        by_d.setdefault(district_of_incident.get(inc) if inc else None, []).append(ans)
    answers = [a for _, a, _ in recent]
    calls_as_of = max((ring for ring, _, _ in recent), default=None)
    for kpi_id, limit in (("emergency.call_answer_15s_pct", ANSWER_15_S), ("emergency.call_answer_20s_pct", ANSWER_20_S)):
        def share(values, limit=limit):
            return pct(sum(1 for a in values if a <= limit), len(values))
        out[kpi_id] = Computed(share(answers), calls_as_of, _by_district(by_d, share, district_ids), len(answers),
                               {"calls": len(answers), "within": sum(1 for a in answers if a <= limit)})

    # Now: active incidents and units available (as of the feed's last report)
    active = [i for i in incidents if i.get("status") == "active"]
    act_by: dict[str, float] = {d: 0 for d in district_ids}
    for i in active:
        if i.get("district") in act_by:
            act_by[i["district"]] += 1
    out["emergency.active_incidents"] = Computed(
        float(len(active)), feed_as_of, act_by, len(active),
        {"by_priority": {str(p): sum(1 for i in active if i.get("priority") == p)
                         for p in sorted({i.get("priority") for i in active if i.get("priority") is not None})}})
    in_service = [u for u in units if u.get("status") and u["status"] != "out_of_service"]
    avail_groups: dict[str | None, list[bool]] = {}
    for u in in_service:
        avail_groups.setdefault(u.get("district"), []).append(u["status"] == "available")
    available = sum(1 for u in in_service if u["status"] == "available")
    out["emergency.units_available_pct"] = Computed(
        pct(available, len(in_service)), feed_as_of if units else None,
        _by_district(avail_groups, lambda v: pct(sum(v), len(v)), district_ids), len(in_service),
        {"available": available, "in_service": len(in_service),
         "out_of_service": sum(1 for u in units if u.get("status") == "out_of_service")})
    return out


def load_incidents(r, keys, window_s: float) -> list[dict]:
    """Active incidents and those closed within the window before the newest report."""
    active_ids = sorted(r.smembers(keys.emergency_incidents_active()))
    active = [orjson.loads(v) for v in r.hmget(keys.emergency_incidents(), active_ids) if v] if active_ids else []
    last_closed = r.zrevrange(keys.emergency_incidents_closed(), 0, 0, withscores=True)
    newest = max([i.get("updated") or 0 for i in active] + [last_closed[0][1] if last_closed else 0])
    closed_ids = r.zrangebyscore(keys.emergency_incidents_closed(), newest - window_s, "+inf") if last_closed else []
    closed = [orjson.loads(v) for v in r.hmget(keys.emergency_incidents(), closed_ids) if v] if closed_ids else []
    return active + closed


def load_calls(r, keys) -> list[tuple[float, float, str | None]]:
    newest = r.zrevrange(keys.emergency_calls(), 0, 0, withscores=True)
    if not newest:
        return []
    out = []
    for member, ring in r.zrangebyscore(keys.emergency_calls(), newest[0][1] - 8 * 24 * 3600, "+inf", withscores=True):
        call, answer, incident = (member.split("|") + ["", ""])[:3]
        out.append((float(ring), float(answer), incident or None))
    return out


def compute(engine) -> dict[str, tuple[Computed, float]]:
    """The emergency domain's KPIs from Redis (called by the KPI engine)."""
    keys, r = engine.keys, engine.r
    conf = emergency_config(engine.city)
    incidents = load_incidents(r, keys, conf.window_s)
    units = [orjson.loads(v) for v in r.hvals(keys.emergency_units())]
    calls = load_calls(r, keys)
    health = engine.feed_health("emergency")
    feed_as_of = float(health["last_success"]) if health.get("last_success") else None
    target, _ = resolve_target(CATALOGUE["emergency.turnout_p90_s"], engine.city.targets)
    computed = emergency_kpis(incidents, units, calls, conf, target or conf.turnout_ems_s,
                              engine.district_ids, feed_as_of)
    live = engine.freshness(health)
    intervals = max(live, conf.kpi_freshness_s)
    return {kid: (c, live if kid in ("emergency.active_incidents", "emergency.units_available_pct") else intervals)
            for kid, c in computed.items()}
