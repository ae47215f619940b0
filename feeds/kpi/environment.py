"""Environment KPIs (kpis.md): AQI, unhealthy stations, noise over limit, water alerts.

Two layers, both pure except ``compute``:
- each station's *state*, derived when its readings arrive (air: hourly means -> NowCast -> AQI;
  noise: LAeq over the window against the day/night limit; water: latest sample against the limits);
- the KPIs over the stations' states, with ``by_district``.
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

import orjson

from feeds.environment import EnvironmentConf, env_conf, noise_limit
from feeds.kpi.aqi import LABELS, category_of, station_aqi
from feeds.kpi.base import Computed
from feeds.timeparse import zone

UNHEALTHY_AQI = 150  # kpis.md: stations with AQI > 150 (EPA "Unhealthy" and worse)


# ----------------------------------------------------------------------------- station state
def hourly_means_of(sums: dict[str, dict[str, list]]) -> dict[str, dict[float, float]]:
    """{param: {hour: [sum, n]}} (as stored) -> {param: {hour start: mean}}."""
    return {p: {float(h): s / n for h, (s, n) in hours.items() if n} for p, hours in sums.items()}


# Hours before the end hour the AQI looks at: the 24 h SO2 mean; the NowCast's 12 (O3 and CO need 8).
HOURS_USED = {"so2": 24}
HOURS_USED_DEFAULT = 12


def window_means(sums: dict[str, dict[str, list]], end_hour: float) -> dict[str, dict[float, float]]:
    """Like hourly_means_of, only the hours the AQI at ``end_hour`` uses (the state is re-derived for
    every station touched by a batch; the other stored hours are the drill-down's)."""
    out = {}
    end = int(end_hour)
    for p, hours in sums.items():
        wanted = (str(end - i * 3600) for i in range(HOURS_USED.get(p, HOURS_USED_DEFAULT)))
        out[p] = {float(h): c[0] / c[1] for h in wanted if (c := hours.get(h)) and c[1]}
    return out


def air_state(sid: str, meta: dict, sums: dict, end_hour: float, as_of: float, t0: float, dur: float) -> dict:
    means = window_means(sums, end_hour)
    best, who, detail = station_aqi(means, end_hour)
    return {**_place(sid, meta, "air"), "as_of": as_of, "t0": t0, "dur": dur, "hour": end_hour,
            "aqi": best.value, "beyond": best.beyond, "category": best.category, "colour": best.colour,
            "pollutant": who, "pollutants": detail,
            "hour_means": {p: round(m[end_hour], 3) for p, m in means.items() if end_hour in m}}


def laeq(levels: list[float]) -> float | None:
    """Energy average of equal-length LAeq readings: 10 log10(mean(10^(L/10)))."""
    if not levels:
        return None
    return 10 * math.log10(sum(10 ** (x / 10) for x in levels) / len(levels))


def noise_state(sid: str, meta: dict, readings: list[dict], conf: EnvironmentConf, tz: str) -> dict:
    rows = sorted((r for r in readings if "laeq" in r), key=lambda r: r["t"])
    newest = rows[-1]["t"] if rows else None
    level = laeq([r["laeq"] for r in rows])
    limit, period = noise_limit(conf, datetime.fromtimestamp(newest, zone(tz)).hour) if newest else (None, None)
    return {**_place(sid, meta, "noise"), "as_of": newest, "laeq": round(level, 1) if level is not None else None,
            "last": rows[-1]["laeq"] if rows else None, "n": len(rows), "limit": limit, "period": period,
            "exceeds": bool(level is not None and limit is not None and level > limit)}


def water_alerts(chlorine: float | None, turbidity: float | None, conf: EnvironmentConf) -> list[str]:
    """Why a sampling point is out of range (WHO residual >= 0.2 mg/L, EPA MRDL 4.0 mg/L, EPA 1 NTU)."""
    out = []
    if chlorine is not None and chlorine < conf.chlorine_min_mg_l:
        out.append(f"free chlorine {chlorine:g} mg/L < {conf.chlorine_min_mg_l:g}")
    if chlorine is not None and chlorine > conf.chlorine_max_mg_l:
        out.append(f"free chlorine {chlorine:g} mg/L > {conf.chlorine_max_mg_l:g}")
    if turbidity is not None and turbidity > conf.turbidity_max_ntu:
        out.append(f"turbidity {turbidity:g} NTU > {conf.turbidity_max_ntu:g}")
    return out


def water_state(sid: str, meta: dict, readings: list[dict], conf: EnvironmentConf, tz: str) -> dict:
    rows = sorted(readings, key=lambda r: r["t"])
    latest: dict[str, tuple[float, float]] = {}
    for r in rows:
        for p in ("free_chlorine", "turbidity"):
            if p in r:
                latest[p] = (r[p], r["t"])
    chlorine = latest.get("free_chlorine", (None, None))[0]
    turbidity = latest.get("turbidity", (None, None))[0]
    alerts = water_alerts(chlorine, turbidity, conf)
    return {**_place(sid, meta, "water"), "as_of": rows[-1]["t"] if rows else None, "free_chlorine": chlorine,
            "turbidity": turbidity, "alerts": alerts, "alert": bool(alerts)}


def _place(sid: str, meta: dict, kind: str) -> dict:
    return {"id": sid, "kind": kind, "name": meta.get("name") or sid, "lat": meta.get("lat"), "lon": meta.get("lon"),
            "district": meta.get("district"), "source": meta.get("source", "")}


def station_history(sums: dict, end_hour: float, hours: int = 24) -> list[dict]:
    """An air station's last ``hours`` clock hours: raw hourly means, PM NowCast, AQI and category
    as they stood at each hour (the drill-down's charts)."""
    means = hourly_means_of(sums)
    out = []
    for i in range(hours - 1, -1, -1):
        h = end_hour - i * 3600
        if not any(h in m for m in means.values()):
            out.append({"hour": h, "means": {}, "nowcast": {}, "aqi": None, "category": category_of(None)[0],
                        "pollutant": None})
            continue
        best, who, detail = station_aqi(means, h)
        out.append({"hour": h, "means": {p: m[h] for p, m in means.items() if h in m},
                    "nowcast": {p: detail[p]["conc"].get("nowcast") for p in ("pm25", "pm10") if p in detail},
                    "aqi": best.value, "beyond": best.beyond, "category": best.category, "colour": best.colour,
                    "pollutant": who})
    return out


# ----------------------------------------------------------------------------- KPIs
def _current(states: list[dict], window_s: float) -> tuple[list[dict], float | None]:
    """The states whose newest reading is within ``window_s`` of the newest of all (the KPI window
    ends at the newest reading, as everywhere in City Brain), and that newest time."""
    times = [s["as_of"] for s in states if s.get("as_of") is not None]
    if not times:
        return [], None
    newest = max(times)
    return [s for s in states if s.get("as_of") is not None and s["as_of"] >= newest - window_s], newest


def environment_kpis(states: list[dict], conf: EnvironmentConf, district_ids: list[str]) -> dict[str, Computed]:
    air, air_as_of = _current([s for s in states if s["kind"] == "air"], conf.air_window_s)
    air = [s for s in air if s.get("aqi") is not None]
    noise, noise_as_of = _current([s for s in states if s["kind"] == "noise"], conf.noise_window_current_s)
    noise = [s for s in noise if s.get("laeq") is not None]
    water, water_as_of = _current([s for s in states if s["kind"] == "water"], conf.water_window_s)

    def by(group):
        out = defaultdict(list)
        for s in group:
            out[s.get("district")].append(s)
        return out

    air_d, noise_d, water_d = by(air), by(noise), by(water)
    worst = max(air, key=lambda s: (s["aqi"], s.get("beyond", False)), default=None)
    unhealthy = [s for s in air if s["aqi"] > UNHEALTHY_AQI]
    aqi = Computed(
        float(worst["aqi"]) if worst else None, air_as_of if air else None, inputs=len(air),
        by_district={d: float(max(s["aqi"] for s in air_d[d])) if air_d.get(d) else None for d in district_ids},
        detail={"pollutant": worst["pollutant"], "pollutant_label": LABELS.get(worst["pollutant"], worst["pollutant"]),
                "station": worst["id"], "station_name": worst["name"], "category": worst["category"],
                "colour": worst["colour"], "beyond": worst.get("beyond", False), "stations": len(air),
                "by_district_pollutant": {d: max(air_d[d], key=lambda s: s["aqi"])["pollutant"]
                                          for d in district_ids if air_d.get(d)}} if worst else {"stations": 0})
    stations_unhealthy = Computed(
        float(len(unhealthy)) if air else None, air_as_of if air else None, inputs=len(air),
        by_district={d: float(sum(1 for s in air_d[d] if s["aqi"] > UNHEALTHY_AQI)) if air_d.get(d) else None
                     for d in district_ids},
        detail={"stations": sorted(s["id"] for s in unhealthy)})
    over = [s for s in noise if s["exceeds"]]
    noise_pct = Computed(
        100.0 * len(over) / len(noise) if noise else None, noise_as_of if noise else None, inputs=len(noise),
        by_district={d: 100.0 * sum(1 for s in noise_d[d] if s["exceeds"]) / len(noise_d[d]) if noise_d.get(d) else None
                     for d in district_ids},
        detail={"sensors": len(noise), "exceeding": sorted(s["id"] for s in over),
                "period": max(noise, key=lambda s: s["as_of"])["period"] if noise else None,
                "limit_db": max(noise, key=lambda s: s["as_of"])["limit"] if noise else None})
    alerts = [s for s in water if s["alert"]]
    water_alerts_kpi = Computed(
        float(len(alerts)) if water else None, water_as_of if water else None, inputs=len(water),
        by_district={d: float(sum(1 for s in water_d[d] if s["alert"])) if water_d.get(d) else None
                     for d in district_ids},
        detail={"points": len(water), "alerts": [{"id": s["id"], "name": s["name"], "reasons": s["alerts"]}
                                                   for s in sorted(alerts, key=lambda s: s["id"])]})
    return {"environment.aqi": aqi, "environment.stations_unhealthy": stations_unhealthy,
            "environment.noise_exceedance_pct": noise_pct, "environment.water_alerts": water_alerts_kpi}


def compute(engine) -> dict[str, tuple[Computed, float]]:
    """The environment domain's KPIs from the stations' derived states (called by the KPI engine)."""
    pipe = engine.r.pipeline(transaction=False)
    pipe.hgetall(engine.keys.env_state())
    pipe.hgetall(engine.keys.feed_health("environment"))
    raw, health = pipe.execute()
    states = [orjson.loads(v) for v in raw.values()]
    computed = environment_kpis(states, env_conf(engine.city), engine.district_ids)
    fresh = engine.freshness(health)
    # An hourly or 30-minute value stays current for two of its own periods even if polled faster.
    air_dur = max((s.get("dur") or 0 for s in states if s["kind"] == "air"), default=0)
    air_fresh = max(fresh, 2 * air_dur)
    return {kid: (c, air_fresh if kid in ("environment.aqi", "environment.stations_unhealthy") else fresh)
            for kid, c in computed.items()}
