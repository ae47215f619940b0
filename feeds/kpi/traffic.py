"""Traffic KPIs (kpis.md, feed-formats.md §3.4). Pure: readings in, numbers out."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import orjson

from feeds.kpi.base import Computed

CONGESTED_RATIO = 0.6  # TomTom: speed / free-flow below 60 % is the red band


@dataclass(frozen=True)
class LinkInfo:
    id: str
    district: str | None
    length_m: float
    free_flow_kmh: float


def speed_ratio(speed_kmh: float, free_flow_kmh: float) -> float:
    return speed_kmh / free_flow_kmh


def _tti_and_congestion(pairs: list[tuple[LinkInfo, float]]) -> tuple[float | None, float | None]:
    """Length-weighted TTI = sum(len x TT) / sum(len x TT_ff), with TT = len / v; and the
    % of that length whose speed ratio is below 0.6."""
    num = den = total = congested = 0.0
    for link, v in pairs:
        tt = link.length_m / v
        tt_ff = link.length_m / link.free_flow_kmh
        num += link.length_m * tt
        den += link.length_m * tt_ff
        total += link.length_m
        if speed_ratio(v, link.free_flow_kmh) < CONGESTED_RATIO:
            congested += link.length_m
    if not den:
        return None, None
    return num / den, 100.0 * congested / total


def traffic_kpis(links: dict[str, LinkInfo], readings: dict[str, dict], window_s: float,
                 open_incidents: list[dict], incidents_as_of: float | None,
                 district_ids: list[str]) -> dict[str, Computed]:
    """All four traffic KPIs with their per-district breakdowns.

    ``readings``: link id -> {"v": km/h, "t": epoch}. Only configured links (known free-flow
    speed) count. The window ends at the newest reading, so a replayed file is judged on its own
    time; whether that time is recent enough is the freshness rule's business, not this one's.
    """
    configured = {lid: r for lid, r in readings.items() if lid in links}
    newest = max((r["t"] for r in configured.values()), default=None)
    fresh: list[tuple[LinkInfo, float]] = []
    if newest is not None:
        fresh = [(links[lid], r["v"]) for lid, r in configured.items() if r["t"] >= newest - window_s]
    per_district: dict[str, list[tuple[LinkInfo, float]]] = defaultdict(list)
    for pair in fresh:
        per_district[pair[0].district].append(pair)
    configured_per_district: dict[str, int] = defaultdict(int)
    for link in links.values():
        configured_per_district[link.district] += 1

    tti, congested = _tti_and_congestion(fresh)
    out = {
        "traffic.travel_time_index": Computed(tti, newest, inputs=len(fresh)),
        "traffic.congested_share_pct": Computed(congested, newest, inputs=len(fresh)),
        "traffic.coverage_pct": Computed(
            100.0 * len(fresh) / len(links) if links and newest is not None else None, newest,
            inputs=len(fresh), detail={"links_configured": len(links), "links_fresh": len(fresh)}),
    }
    for d in district_ids:
        d_tti, d_congested = _tti_and_congestion(per_district.get(d, []))
        out["traffic.travel_time_index"].by_district[d] = d_tti
        out["traffic.congested_share_pct"].by_district[d] = d_congested
        n_conf = configured_per_district.get(d, 0)
        out["traffic.coverage_pct"].by_district[d] = (
            100.0 * len(per_district.get(d, [])) / n_conf if n_conf and newest is not None else None)

    counts: dict[str, int] = defaultdict(int)
    for inc in open_incidents:
        counts[inc.get("district")] += 1
    out["traffic.open_incidents"] = Computed(
        float(len(open_incidents)) if incidents_as_of is not None else None, incidents_as_of,
        by_district={d: float(counts.get(d, 0)) for d in district_ids} if incidents_as_of is not None else {},
        inputs=len(open_incidents))
    return out


def compute(engine) -> dict[str, tuple[Computed, float]]:
    """The traffic domain's KPIs from Redis (called by the KPI engine)."""
    keys = engine.keys
    pipe = engine.r.pipeline(transaction=False)
    pipe.hgetall(keys.link_latest())
    pipe.smembers(keys.road_incidents_open())
    pipe.hgetall(keys.feed_health("traffic"))
    pipe.hgetall(keys.feed_health("road-incidents"))
    latest, open_ids, speeds_health, incidents_health = pipe.execute()
    readings = {lid: orjson.loads(v) for lid, v in latest.items()}
    open_incidents = []
    if open_ids:
        open_incidents = [orjson.loads(v) for v in engine.r.hmget(keys.road_incidents(), sorted(open_ids)) if v]
    incidents_as_of = float(incidents_health["last_success"]) if incidents_health.get("last_success") else None
    computed = traffic_kpis(engine.links, readings, engine.city.traffic.window_s, open_incidents,
                            incidents_as_of, engine.district_ids)
    speeds_fresh = engine.freshness(speeds_health)
    incidents_fresh = engine.freshness(incidents_health)
    return {kid: (c, incidents_fresh if kid == "traffic.open_incidents" else speeds_fresh)
            for kid, c in computed.items()}
