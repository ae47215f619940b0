"""Generates the shipped sample city, "Riverton": deterministic for a seed.

    python -m feeds.sample_city > feeds/cities/sample.json

Nine districts tiling a 12 x 10 km area, an arterial grid with a ring expressway (road links
with geometry and free-flow speeds), and what the later domains need: bus routes with stops,
air/noise/water sensors, fire stations with units, and service centres with counters.
"""
from __future__ import annotations

import random
import sys

import orjson

CENTER = (-75.00, 40.00)  # lon, lat of the fictional city centre
KM_LON = 1 / 85.0  # degrees of longitude per km at 40 N
KM_LAT = 1 / 111.0
WIDTH_KM, HEIGHT_KM = 12, 10
DISTRICT_NAMES = ["Westbrook", "Old Town", "Harbor", "Mill Hill", "Central", "Eastfield",
                  "Northgate", "Riverside", "Southport"]
STREETS_NS = ["1st Ave", "2nd Ave", "3rd Ave", "4th Ave", "5th Ave", "6th Ave", "7th Ave",
              "8th Ave", "9th Ave", "10th Ave", "11th Ave", "12th Ave", "13th Ave"]
STREETS_EW = ["Oak St", "Elm St", "Main St", "Pine St", "Cedar St", "Lake St", "Hill St",
              "Park St", "Mill St", "River St", "Bay St"]


def _pt(x_km: float, y_km: float) -> tuple[float, float]:
    return (round(CENTER[0] + (x_km - WIDTH_KM / 2) * KM_LON, 6),
            round(CENTER[1] + (y_km - HEIGHT_KM / 2) * KM_LAT, 6))


def generate(seed: int = 7) -> dict:
    rnd = random.Random(seed)
    # District grid: 4 x 4 vertices, interior ones jittered so the districts look like a city's.
    xs, ys = [0, 4, 8, 12], [0, 10 / 3, 20 / 3, 10]
    vert = {}
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            jitter = 0 < i < 3 and 0 < j < 3
            vert[i, j] = (x + (rnd.uniform(-0.6, 0.6) if jitter else 0), y + (rnd.uniform(-0.5, 0.5) if jitter else 0))
    districts = []
    for j in range(3):
        for i in range(3):
            ring = [vert[i, j], vert[i + 1, j], vert[i + 1, j + 1], vert[i, j + 1], vert[i, j]]
            districts.append({"id": f"D{j * 3 + i + 1}", "name": DISTRICT_NAMES[j * 3 + i],
                              "polygon": [_pt(*p) for p in ring]})

    links = []
    next_id = 1001

    def add_link(name, pts_km, free_flow, road_class):
        nonlocal next_id
        links.append({"id": str(next_id), "name": name, "points": [_pt(*p) for p in pts_km],
                      "free_flow_kmh": free_flow, "road_class": road_class})
        next_id += 1

    # Arterial grid: avenues every km (north-south), streets every km (east-west), one link per block.
    for a, x in enumerate(range(0, WIDTH_KM + 1)):
        if x in (0, WIDTH_KM):
            continue
        for y in range(0, HEIGHT_KM):
            wob = rnd.uniform(-0.05, 0.05)
            ff = 50 if a % 3 == 0 else 40
            add_link(f"{STREETS_NS[a]}: {STREETS_EW[y]} - {STREETS_EW[y + 1]}",
                     [(x, y + 0.05), (x + wob, y + 0.5), (x, y + 0.95)], ff, "arterial" if ff == 50 else "collector")
    for s, y in enumerate(range(0, HEIGHT_KM + 1)):
        if y in (0, HEIGHT_KM):
            continue
        for x in range(0, WIDTH_KM):
            wob = rnd.uniform(-0.05, 0.05)
            ff = 50 if s % 3 == 1 else 40
            add_link(f"{STREETS_EW[s]}: {STREETS_NS[x]} - {STREETS_NS[x + 1]}",
                     [(x + 0.05, y), (x + 0.5, y + wob), (x + 0.95, y)], ff, "arterial" if ff == 50 else "collector")
    # Ring expressway just inside the city edge, 2 km links, 90 km/h.
    ring = [(0.5, 0.5), (12 - 0.5, 0.5), (12 - 0.5, 10 - 0.5), (0.5, 10 - 0.5)]
    for k in range(4):
        (x0, y0), (x1, y1) = ring[k], ring[(k + 1) % 4]
        n = max(1, round(max(abs(x1 - x0), abs(y1 - y0)) / 2))
        for m in range(n):
            p0 = (x0 + (x1 - x0) * m / n, y0 + (y1 - y0) * m / n)
            p1 = (x0 + (x1 - x0) * (m + 1) / n, y0 + (y1 - y0) * (m + 1) / n)
            side = ["South", "East", "North", "West"][k]
            add_link(f"Ring Expwy {side} {m + 1}", [p0, p1], 90, "expressway")

    def spread(n, kind, **extra):
        out = []
        for i in range(n):
            out.append({"id": f"{kind}-{i + 1}", "lon": _pt(rnd.uniform(0.5, 11.5), 0)[0],
                        "lat": _pt(0, rnd.uniform(0.5, 9.5))[1], **extra})
        return out

    routes = []
    for r in range(6):
        horizontal = r % 2 == 0
        line = 1 + 2 * r if horizontal else 1 + 2 * r
        stops = []
        for k in range(11 if horizontal else 9):
            p = _pt(0.5 + k * 1.1, min(line, 9)) if horizontal else _pt(min(line, 11), 0.5 + k * 1.1)
            stops.append({"id": f"S{r + 1}{k:02d}", "name": f"Route {r + 1} stop {k + 1}", "lon": p[0], "lat": p[1]})
        routes.append({"id": f"R{r + 1}", "short_name": str(10 + r), "headway_s": 600 if r < 3 else 900,
                       "stops": stops})
    stations = []
    for i, (x, y) in enumerate([(2, 2), (6, 2), (10, 2), (2, 8), (6, 8), (10, 8)]):
        lon, lat = _pt(x, y)
        stations.append({"id": f"FS{i + 1}", "name": f"Station {i + 1}", "lon": lon, "lat": lat,
                         "units": [{"id": f"E{i + 1}", "type": "engine"}, {"id": f"M{i + 1}", "type": "medic"},
                                   {"id": f"M{i + 11}", "type": "medic"}]})
    centres = []
    for i, (x, y, name) in enumerate([(6, 5, "City Hall One-Stop"), (2, 8, "Northgate Service Centre"),
                                      (10, 2, "Southport Service Centre"), (3, 2, "Westbrook Office"),
                                      (9, 8, "Riverside Office")]):
        lon, lat = _pt(x, y)
        centre = {"id": f"C{i + 1}", "name": name, "lon": lon, "lat": lat, "counters": 4 + (i == 0) * 6,
                  "opens": "08:00", "closes": "18:00"}
        if i < 2:  # the two big one-stop centres also open on Saturday morning
            centre["day_hours"] = {"5": "09:00-13:00"}
        centres.append(centre)
    return {
        "name": "Riverton (sample city)",
        "timezone": "America/New_York",
        "center": list(CENTER),
        "zoom": 11.6,
        "districts": districts,
        "traffic": {"links": links, "window_s": 900},
        "feeds": {"traffic": {"interval_s": 10}, "road-incidents": {"interval_s": 30}},
        "targets": {},
        "simulation": {"seed": seed, "traffic_interval_s": 10, "incidents_interval_s": 30},
        "transit": {"routes": routes},
        "environment": {"air_stations": spread(12, "AQ"), "noise_sensors": spread(10, "NS"),
                        "water_points": spread(6, "WQ")},
        "emergency": {"stations": stations},
        "services": {"centres": centres},
        "alerts": alert_rules(),
    }


def alert_rules() -> dict:
    """The sample city's alert rules (docs/alerts.md): what an operations centre would page on."""
    return {
        "escalate_after_s": 600,
        "evaluate_every_s": 5,
        "rules": [
            {"id": "ems-turnout", "kpi": "emergency.turnout_p90_s", "when": "breach", "for_s": 60,
             "severity": "major", "title": "EMS turnout too slow"},
            {"id": "aqi-unhealthy", "kpi": "environment.aqi", "district": "*", "when": {"op": ">", "value": 150},
             "severity": "critical", "title": "Unhealthy air"},
            {"id": "feed-silent", "feed": "*", "no_data_s": 300, "severity": "major"},
            {"id": "tti-district", "kpi": "traffic.travel_time_index", "district": "*", "when": "breach",
             "for_s": 120, "severity": "minor", "title": "Traffic congested"},
            {"id": "service-wait", "kpi": "services.wait_min", "when": "breach", "for_s": 120,
             "severity": "warning", "title": "Long waits at service centres"},
        ],
    }


def dumps(city: dict) -> bytes:
    return orjson.dumps(city, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    sys.stdout.buffer.write(dumps(generate(seed)))
