"""The environment domain's configuration (``city.environment``), units and plausible ranges.

Shared by the adapter, the KPI computer, the simulator and the read side. Pure: no Redis.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from feeds.config import City, ConfigError
from feeds.geo import district_of

# Retention of the domain's own time series (seconds).
AIR_HOURS_KEPT = 26  # hourly means: 24 h of history for the drill-down + the NowCast's 12 h
SERIES_RETENTION_S = 26 * 3600  # noise and water readings, air de-duplication entries
# And by count, so that a feed sending ten times as often cannot hold ten times the memory: a noise or water
# station keeps at most this many readings, an air station this many observations per parameter (26 h at
# one a minute; real sensors report every 1 to 60 min). A faster feed keeps a shorter history, its newest.
SERIES_MAX_ENTRIES = 1_600

KINDS = ("air", "noise", "water")

# Values no instrument can report: outside these a reading is rejected (dead letter with the reason).
# PM: optical sensors saturate near 1000 µg/m³ (SDS011: 999.9); the AQI itself ends at 325.4 / 604.
RANGES = {
    "pm25": (0.0, 1000.0), "pm10": (0.0, 2000.0),
    "o3": (0.0, 1.0), "co": (0.0, 200.0),  # ppm
    "so2": (0.0, 5000.0), "no2": (0.0, 5000.0),  # ppb
    "laeq": (10.0, 150.0),  # dB(A): below the quietest rural night, above a jet engine at 30 m
    "free_chlorine": (0.0, 20.0),  # mg/L
    "turbidity": (0.0, 1000.0),  # NTU
}
UNIT_OF = {"pm25": "µg/m³", "pm10": "µg/m³", "o3": "ppm", "co": "ppm", "so2": "ppb", "no2": "ppb",
           "laeq": "dB(A)", "free_chlorine": "mg/L", "turbidity": "NTU"}

# Molar masses for µg/m³ <-> ppb at 25 °C and 1 atm (EPA: ppb = µg/m³ x 24.45 / M).
MOLAR_MASS = {"o3": 48.00, "no2": 46.01, "so2": 64.07, "co": 28.01}
MOLAR_VOLUME_L = 24.45


def to_aqi_units(param: str, value: float, units: str) -> float:
    """Convert a concentration to the AQI table's units (PM µg/m³, O3/CO ppm, SO2/NO2 ppb).

    Raises ValueError on units that cannot be converted."""
    u = units.strip().lower().replace("ug", "µg").replace("μ", "µ").replace("m3", "m³")
    target = UNIT_OF[param]
    if param in ("pm25", "pm10"):
        if u in ("µg/m³",):
            return value
        raise ValueError(f"{param} in {units!r}, expected µg/m³")
    if u == target:
        return value
    if u == "ppm" and target == "ppb":
        return value * 1000.0
    if u == "ppb" and target == "ppm":
        return value / 1000.0
    if u == "µg/m³":
        ppb = value * MOLAR_VOLUME_L / MOLAR_MASS[param]
        return ppb if target == "ppb" else ppb / 1000.0
    if u == "mg/m³" and param == "co":
        return value * 1000.0 * MOLAR_VOLUME_L / MOLAR_MASS[param] / 1000.0
    raise ValueError(f"{param} in unknown units {units!r}")


# ----------------------------------------------------------------------------- configuration
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationConf(_Model):
    id: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    name: str = ""
    district: str | None = None


class EnvironmentConf(_Model):
    air_stations: list[StationConf] = []
    noise_sensors: list[StationConf] = []
    water_points: list[StationConf] = []
    # City noise ordinance (kpis.md defaults): LAeq limits by local time of day.
    noise_day_limit_db: float = Field(65, gt=0, le=150)
    noise_night_limit_db: float = Field(55, gt=0, le=150)
    day_starts_hour: int = Field(7, ge=0, le=23)
    night_starts_hour: int = Field(22, ge=0, le=23)
    noise_window_s: float = Field(3600, gt=0)  # the LAeq averaging window
    # WHO residual chlorine; EPA MRDL 4.0 mg/L; EPA turbidity rule 1 NTU.
    chlorine_min_mg_l: float = Field(0.2, ge=0)
    chlorine_max_mg_l: float = Field(4.0, gt=0)
    turbidity_max_ntu: float = Field(1.0, gt=0)
    # A station counts toward a KPI while its newest reading is this close to the feed's newest.
    air_window_s: float = Field(3 * 3600, gt=0)  # NowCast: 2 of the last 3 hours
    noise_window_current_s: float = Field(2 * 3600, gt=0)
    water_window_s: float = Field(24 * 3600, gt=0)

    @model_validator(mode="after")
    def _consistent(self):
        ids = [s.id for s in (*self.air_stations, *self.noise_sensors, *self.water_points)]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"station ids must be unique across air, noise and water, {dup[0]!r} repeats")
        if self.day_starts_hour == self.night_starts_hour:
            raise ValueError("day_starts_hour and night_starts_hour must differ")
        if self.chlorine_min_mg_l >= self.chlorine_max_mg_l:
            raise ValueError("chlorine_min_mg_l must be below chlorine_max_mg_l")
        return self


def env_conf(city: City) -> EnvironmentConf:
    """``city.environment`` validated; a bad value is a ConfigError naming the field."""
    hit = _CACHE.get(("conf", id(city)))
    if hit is not None and hit[0] is city:
        return hit[1]
    conf = _conf(city)
    _CACHE[("conf", id(city))] = (city, conf)
    return conf


_CACHE: dict = {}  # (what, id(city)) -> (city, value); the city is kept so its id is not reused


def _conf(city: City) -> EnvironmentConf:
    try:
        conf = EnvironmentConf.model_validate(city.environment)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(section)"
        raise ConfigError(f"CITY_CONFIG: environment.{where}: {err['msg']}") from None
    known = set(city.district_ids())
    for s in (*conf.air_stations, *conf.noise_sensors, *conf.water_points):
        if s.district is not None and s.district not in known:
            raise ConfigError(f"CITY_CONFIG: environment: station {s.id}: unknown district {s.district!r}")
    return conf


def configured_stations(city: City) -> dict[str, dict]:
    """Station id -> meta {id, name, kind, lat, lon, district, source} of the configured stations."""
    hit = _CACHE.get(("stations", id(city)))
    if hit is None or hit[0] is not city:
        hit = _CACHE[("stations", id(city))] = (city, dict(_configured(city)))
    return hit[1]


def _configured(city: City) -> tuple:
    conf = env_conf(city)
    out = []
    for kind, group in (("air", conf.air_stations), ("noise", conf.noise_sensors), ("water", conf.water_points)):
        for s in group:
            district = s.district or district_of((s.lon, s.lat), city.districts)
            out.append((s.id, {"id": s.id, "name": s.name or s.id, "kind": kind, "lat": s.lat, "lon": s.lon,
                               "district": district, "source": "config"}))
    return tuple(out)


def noise_limit(conf: EnvironmentConf, local_hour: int) -> tuple[float, str]:
    """(limit dB(A), "day" or "night") at a local hour of the day."""
    d, n = conf.day_starts_hour, conf.night_starts_hour
    is_day = d <= local_hour < n if d < n else not (n <= local_hour < d)
    return (conf.noise_day_limit_db, "day") if is_day else (conf.noise_night_limit_db, "night")

