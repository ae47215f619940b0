"""US EPA Air Quality Index with the 2024 PM2.5 breakpoints, and AirNow's PM NowCast.

Pure functions, no Redis (feed-formats.md §3.1). Units: PM in µg/m³, O3 and CO in ppm, SO2 and
NO2 in ppb. Every function takes the averaged concentration its breakpoint table is defined on:
PM2.5/PM10 24 h (or NowCast), O3 8 h and 1 h, CO 8 h, SO2 1 h (24 h above 304 ppb), NO2 1 h.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# AQI bands: (AQI low, AQI high, category, colour). EPA AQI technical assistance document.
BANDS = (
    (0, 50, "Good", "#00E400"),
    (51, 100, "Moderate", "#FFFF00"),
    (101, 150, "Unhealthy for Sensitive Groups", "#FF7E00"),
    (151, 200, "Unhealthy", "#FF0000"),
    (201, 300, "Very Unhealthy", "#8F3F97"),
    (301, 500, "Hazardous", "#7E0023"),
)
BEYOND = "Beyond the AQI"
BEYOND_COLOUR = "#7E0023"
NO_DATA_COLOUR = "#7c8799"
TOP_AQI = 500

# Breakpoints (concentration low, high) per band index; None where the table has no band.
# 89 FR 16202 (2024): PM2.5 0-9.0 / 9.1-35.4 / 35.5-55.4 / 55.5-125.4 / 125.5-225.4 / 225.5-325.4.
BREAKPOINTS: dict[str, tuple] = {
    "pm25": ((0.0, 9.0), (9.1, 35.4), (35.5, 55.4), (55.5, 125.4), (125.5, 225.4), (225.5, 325.4)),
    "pm10": ((0, 54), (55, 154), (155, 254), (255, 354), (355, 424), (425, 604)),
    "o3_8h": ((0.000, 0.054), (0.055, 0.070), (0.071, 0.085), (0.086, 0.105), (0.106, 0.200), None),
    "o3_1h": (None, None, (0.125, 0.164), (0.165, 0.204), (0.205, 0.404), (0.405, 0.604)),
    "co": ((0.0, 4.4), (4.5, 9.4), (9.5, 12.4), (12.5, 15.4), (15.5, 30.4), (30.5, 50.4)),
    "so2_1h": ((0, 35), (36, 75), (76, 185), (186, 304), None, None),
    "so2_24h": (None, None, None, None, (305, 604), (605, 1004)),
    "no2": ((0, 53), (54, 100), (101, 360), (361, 649), (650, 1249), (1250, 2049)),
}
# Truncation before the table lookup: PM2.5 0.1 µg/m³, PM10 1 µg/m³, O3 0.001 ppm, CO 0.1 ppm,
# SO2 and NO2 1 ppb (decimal places kept).
DECIMALS = {"pm25": 1, "pm10": 0, "o3_8h": 3, "o3_1h": 3, "co": 1, "so2_1h": 0, "so2_24h": 0, "no2": 0}

# The pollutants a station reports and what people call them.
POLLUTANTS = ("pm25", "pm10", "o3", "co", "so2", "no2")
LABELS = {"pm25": "PM2.5", "pm10": "PM10", "o3": "O₃", "co": "CO", "so2": "SO₂", "no2": "NO₂"}
UNITS = {"pm25": "µg/m³", "pm10": "µg/m³", "o3": "ppm", "co": "ppm", "so2": "ppb", "no2": "ppb"}


@dataclass(frozen=True)
class Aqi:
    value: int | None  # None: no valid concentration; 500 with beyond=True above the top band
    category: str
    colour: str
    beyond: bool = False

    @property
    def label(self) -> str:
        if self.value is None:
            return "no data"
        return f"{self.value}+" if self.beyond else str(self.value)


NO_AQI = Aqi(None, "No data", NO_DATA_COLOUR)


def truncate(c: float, decimals: int) -> float:
    """Cut (not round) to ``decimals`` places. The guard absorbs floating-point representation error
    only (35.4 x 10 = 353.99999999999994 must stay 354), so 35.49999999 still truncates to 35.4."""
    f = 10 ** decimals
    return math.floor(c * f + 1e-9) / f


def round_half_up(x: float) -> int:
    # EPA: "round to the nearest integer"; Python's round() would send 50.5 to 50.
    return int(math.floor(x + 0.5))


def category_of(aqi: int | None) -> tuple[str, str]:
    """(category, colour) of an AQI value."""
    if aqi is None:
        return NO_AQI.category, NO_AQI.colour
    if aqi > TOP_AQI:
        return BEYOND, BEYOND_COLOUR
    for lo, hi, name, colour in BANDS:
        if aqi <= hi:
            return name, colour
    return BEYOND, BEYOND_COLOUR


def _make(aqi: int) -> Aqi:
    name, colour = category_of(aqi)
    return Aqi(aqi, name, colour)


def index_of(table: str, c: float | None) -> Aqi:
    """AQI of one concentration on one breakpoint table: truncate, find the band, interpolate.

    I = (I_hi - I_lo) / (BP_hi - BP_lo) x (C - BP_lo) + I_lo, rounded to the nearest integer.
    Above the table's top band the result is "beyond the AQI" (shown as 500+). Below the first
    band a table defines (1 h O3 starts at 0.125 ppm) there is no index: NO_AQI.
    """
    if c is None or not math.isfinite(c) or c < 0:
        return NO_AQI
    c = truncate(c, DECIMALS[table])
    bps = BREAKPOINTS[table]
    for (i_lo, i_hi, _, _), bp in zip(BANDS, bps):
        if bp is None:
            continue
        lo, hi = bp
        if c < lo:
            return NO_AQI  # below the first band this table defines (1 h O3, 24 h SO2)
        if c <= hi:
            return _make(round_half_up((i_hi - i_lo) / (hi - lo) * (c - lo) + i_lo))
    top = next(bp for bp in reversed(bps) if bp is not None)
    if top is bps[-1]:
        return Aqi(TOP_AQI, BEYOND, BEYOND_COLOUR, beyond=True)
    return NO_AQI  # beyond a table that stops early (8 h O3 > 0.200, 1 h SO2 > 304): another table applies


O3_8H_TOP_PPM = 0.200  # the 8 h table ends here (AQI 300); above it the 1 h value decides


def ozone_aqi(o3_8h: float | None, o3_1h: float | None) -> Aqi:
    """EPA: O3 AQI is the higher of the 8 h and 1 h indexes where each is defined; 8 h above
    0.200 ppm has no 8 h index, so the 1 h value decides. When it cannot (no 1 h mean, or one below
    0.125 ppm), the 8 h value is still beyond the top of its scale: reported as 300, never as no data
    (the same choice as SO2 above 304 ppb without a 24 h mean)."""
    candidates = [a for a in (index_of("o3_8h", o3_8h), index_of("o3_1h", o3_1h)) if a.value is not None]
    if candidates:
        return max(candidates, key=lambda a: (a.value, a.beyond))
    if o3_8h is not None and math.isfinite(o3_8h) and truncate(o3_8h, DECIMALS["o3_8h"]) > O3_8H_TOP_PPM:
        return _make(300)
    return NO_AQI


def so2_aqi(so2_1h: float | None, so2_24h: float | None) -> Aqi:
    """SO2: the 1 h table up to 304 ppb (AQI 200). Above it, AQI 201+ comes from the 24 h mean;
    a 24 h mean below 305 ppb (or none) leaves the 1 h reading at the top of its scale, 200."""
    one = index_of("so2_1h", so2_1h)
    if one.value is not None or so2_1h is None or not math.isfinite(so2_1h) or so2_1h < 0:
        return one
    day = index_of("so2_24h", so2_24h)
    return day if day.value is not None else _make(200)


def pollutant_aqi(pollutant: str, conc: dict[str, float | None]) -> Aqi:
    """AQI of ``pollutant`` from its averaged concentrations ``conc``:
    pm25/pm10 -> {"nowcast"}; o3 -> {"8h", "1h"}; co -> {"8h"}; so2 -> {"1h", "24h"}; no2 -> {"1h"}."""
    if pollutant in ("pm25", "pm10"):
        return index_of(pollutant, conc.get("nowcast"))
    if pollutant == "o3":
        return ozone_aqi(conc.get("8h"), conc.get("1h"))
    if pollutant == "co":
        return index_of("co", conc.get("8h"))
    if pollutant == "so2":
        return so2_aqi(conc.get("1h"), conc.get("24h"))
    if pollutant == "no2":
        return index_of("no2", conc.get("1h"))
    raise ValueError(f"not an AQI pollutant: {pollutant!r}")


def overall(per_pollutant: dict[str, Aqi]) -> tuple[Aqi, str | None]:
    """The station's AQI is the maximum over pollutants; returns it and the pollutant responsible."""
    best, who = NO_AQI, None
    for pollutant, a in per_pollutant.items():
        if a.value is None:
            continue
        if best.value is None or (a.value, a.beyond) > (best.value, best.beyond):
            best, who = a, pollutant
    return best, who


# --- NowCast --------------------------------------------------------------------------------
def hourly_means(observations, hours: int | None = None, end_hour: float | None = None) -> dict[float, float]:
    """Average observations ``(t_start, value)`` into clock hours: {hour start epoch: mean}.

    AirNow's NowCast takes hourly means; OpenAQ's 30-minute raw values are averaged first.
    """
    sums: dict[float, list[float]] = {}
    for t, v in observations:
        h = math.floor(t / 3600) * 3600.0
        s = sums.setdefault(h, [0.0, 0])
        s[0] += v
        s[1] += 1
    out = {h: s[0] / s[1] for h, s in sums.items()}
    if hours is not None and end_hour is not None:
        out = {h: v for h, v in out.items() if end_hour - (hours - 1) * 3600 <= h <= end_hour}
    return out


def nowcast(hourly: list[float | None]) -> float | None:
    """EPA NowCast for PM2.5 and PM10 from up to 12 hourly means, ``hourly[0]`` the most recent hour.

    Valid only if at least 2 of the 3 most recent hours exist. w* = c_min / c_max over the hours
    present, w = max(w*, 0.5); NowCast = sum(w^(i-1) c_i) / sum(w^(i-1)) over the hours present
    (a missing hour drops out of both sums). Raw, untruncated means; the result is not truncated
    either (index_of truncates before the lookup).
    """
    hourly = list(hourly[:12])
    if sum(1 for c in hourly[:3] if c is not None) < 2:
        return None
    present = [c for c in hourly if c is not None]
    c_max, c_min = max(present), min(present)
    w = 1.0 if c_max <= 0 else max(c_min / c_max, 0.5)
    num = den = 0.0
    for i, c in enumerate(hourly):
        if c is None:
            continue
        num += w ** i * c
        den += w ** i
    return num / den


def hours_back(hourly: dict[float, float], end_hour: float, n: int) -> list[float | None]:
    """[c1 .. cn] with c1 the hour starting at ``end_hour``; None where an hour has no mean."""
    return [hourly.get(end_hour - i * 3600.0) for i in range(n)]


def rolling_mean(hourly: dict[float, float], end_hour: float, n: int, min_hours: int) -> float | None:
    """Mean of the n hourly means ending with ``end_hour``; None when fewer than ``min_hours`` exist.

    EPA's 8 h averages need at least 6 of 8 hours (75 %); the 24 h SO2 mean 18 of 24.
    """
    vals = [c for c in hours_back(hourly, end_hour, n) if c is not None]
    if len(vals) < min_hours:
        return None
    return sum(vals) / len(vals)


def station_concentrations(hourly: dict[str, dict[float, float]], end_hour: float) -> dict[str, dict[str, float | None]]:
    """The averaged concentrations the AQI needs, per pollutant, for the hour starting ``end_hour``.

    ``hourly``: pollutant -> {hour start: mean} in AQI units (µg/m³, ppm, ppb).
    """
    out: dict[str, dict[str, float | None]] = {}
    for p, means in hourly.items():
        if not means:
            continue
        if p in ("pm25", "pm10"):
            out[p] = {"nowcast": nowcast(hours_back(means, end_hour, 12)), "1h": means.get(end_hour)}
        elif p == "o3":
            out[p] = {"8h": rolling_mean(means, end_hour, 8, 6), "1h": means.get(end_hour)}
        elif p == "co":
            out[p] = {"8h": rolling_mean(means, end_hour, 8, 6), "1h": means.get(end_hour)}
        elif p == "so2":
            out[p] = {"1h": means.get(end_hour), "24h": rolling_mean(means, end_hour, 24, 18)}
        elif p == "no2":
            out[p] = {"1h": means.get(end_hour)}
    return out


def station_aqi(hourly: dict[str, dict[float, float]], end_hour: float) -> tuple[Aqi, str | None, dict]:
    """A station's AQI at the hour starting ``end_hour``: (AQI, responsible pollutant,
    {pollutant: {"aqi", "category", "conc": {...}}})."""
    conc = station_concentrations(hourly, end_hour)
    per = {p: pollutant_aqi(p, c) for p, c in conc.items()}
    best, who = overall(per)
    detail = {p: {"aqi": a.value, "beyond": a.beyond, "category": a.category,
                  "conc": {k: (round(v, 4) if v is not None else None) for k, v in conc[p].items()}}
              for p, a in per.items()}
    return best, who, detail
