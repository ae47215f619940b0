"""Configuration: the environment (and an optional .env file) plus the city description.

This is the only module that reads environment variables. Anything wrong raises
ConfigError with one line that says what and where; the CLIs print it and exit 2.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CITY = ROOT / "feeds" / "cities" / "sample.json"


class ConfigError(Exception):
    """A configuration problem, with a one-line human message."""


# ----------------------------------------------------------------------------- environment
def load_dotenv(path: Path = Path(".env")) -> None:
    """Set variables from a .env file (KEY=VALUE lines) that the environment does not set."""
    if not path.is_file():
        return
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", line)
        if not m:
            raise ConfigError(f"{path}:{n}: expected KEY=VALUE, got {line!r}")
        value = m.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(m.group(1), value)


@dataclass(frozen=True)
class Settings:
    redis_url: str | None  # None: start an embedded Redis (local run only)
    port: int
    city_config: Path
    key_prefix: str
    refresh_s: float  # page refresh tick
    map_tile_url: str | None  # raster tiles, e.g. https://tiles.example/{z}/{x}/{y}.png
    # Sign-in (dashboard.auth). New fields go at the end, with defaults: tests build Settings positionally.
    secret_key: str | None = None  # signs session cookies; None: one made and kept in Redis, shared by workers
    session_hours: float = 12  # a signed-in user's session ends this long after sign-in (kiosks never)
    session_cookie_secure: bool = False  # send session cookies over HTTPS only (set it behind TLS)
    # The feed runner's on-disk spool (feeds.spool): None = feeds.spool.default_dir(key_prefix); 0 MB = off.
    spool_dir: Path | None = None
    spool_max_mb: float = 1024

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        url = env.get("REDIS_URL") or None
        if url:
            from feeds.redis_conn import BadRedisUrl, check_url

            try:
                check_url(url)
            except BadRedisUrl as e:
                raise ConfigError(str(e)) from None
        port = _number(env, "PORT", "8050", int, 1, 65535)
        refresh = _number(env, "REFRESH_S", "2", float, 0.5, 3600)
        prefix = env.get("KEY_PREFIX", "city")
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", prefix):
            raise ConfigError(f"KEY_PREFIX may hold letters, digits, '_', '.', '-' only, got {prefix!r}")
        city = Path(env.get("CITY_CONFIG") or SAMPLE_CITY)
        secret = env.get("SECRET_KEY") or None
        if secret is not None and len(secret) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters (e.g. python -c 'import secrets; "
                              "print(secrets.token_hex(32))')")
        hours = _number(env, "SESSION_HOURS", "12", float, 0.05, 24 * 90)
        secure = env.get("SESSION_COOKIE_SECURE", "0").strip().lower()
        if secure not in ("0", "1", "true", "false", "yes", "no", ""):
            raise ConfigError(f"SESSION_COOKIE_SECURE must be 1 or 0, got {secure!r}")
        spool_dir = Path(env["SPOOL_DIR"]) if env.get("SPOOL_DIR") else None
        spool_mb = _number(env, "SPOOL_MAX_MB", "1024", float, 0, 1 << 20)
        return cls(url, port, city, prefix, refresh, env.get("MAP_TILE_URL") or None, secret, hours,
                   secure in ("1", "true", "yes"), spool_dir, spool_mb)


def _number(env, name, default, kind, lo, hi):
    raw = env.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {raw!r}")
    return value


# ----------------------------------------------------------------------------- city description
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LonLat = tuple[float, float]


class District(_Model):
    id: str
    name: str
    polygon: list[LonLat] = Field(min_length=3)  # outer ring, GeoJSON order [lon, lat]


class Link(_Model):
    id: str
    name: str = ""
    district: str | None = None  # None: found from the midpoint's district polygon
    points: list[LonLat] = Field(min_length=2)
    free_flow_kmh: float = Field(gt=0, le=200)
    road_class: str = "arterial"


class TrafficSection(_Model):
    links: list[Link] = []
    window_s: int = Field(900, gt=0)  # readings older than newest - window are not "fresh"


class FeedSource(_Model):
    url: str | None = None
    file: str | None = None
    interval_s: float = Field(60, gt=0)
    timezone: str | None = None  # local time zone of floating timestamps; default: the city's
    options: dict[str, Any] = {}


class Target(_Model):
    target: float
    warn: float  # the edge of the warn band; beyond it is breach


class Simulation(_Model):
    seed: int = 7
    traffic_interval_s: float = Field(10, gt=0)
    incidents_interval_s: float = Field(30, gt=0)


class City(_Model):
    name: str
    timezone: str = "UTC"
    center: LonLat
    zoom: float = 11
    districts: list[District] = Field(min_length=1)
    traffic: TrafficSection = TrafficSection()
    feeds: dict[str, FeedSource] = {}
    targets: dict[str, Target] = {}
    simulation: Simulation = Simulation()
    # Sections for later domains (stops, stations, units, centres): kept as given.
    transit: dict[str, Any] = {}
    environment: dict[str, Any] = {}
    emergency: dict[str, Any] = {}
    services: dict[str, Any] = {}
    # Operations centre: alert rules (feeds.alerts), the wall playlist (dashboard.wall), sign-in (dashboard.auth).
    alerts: dict[str, Any] = {}
    wall: dict[str, Any] = {}
    auth: dict[str, Any] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, tz: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        return tz

    @model_validator(mode="after")
    def _consistent(self) -> "City":
        ids = [d.id for d in self.districts]
        if len(set(ids)) != len(ids):
            raise ValueError("district ids must be unique")
        link_ids = [link.id for link in self.traffic.links]
        if len(set(link_ids)) != len(link_ids):
            raise ValueError("traffic link ids must be unique")
        for link in self.traffic.links:
            if link.district is not None and link.district not in ids:
                raise ValueError(f"traffic link {link.id}: unknown district {link.district!r}")
        from feeds.kpi.catalogue import CATALOGUE

        for kpi_id in self.targets:
            if kpi_id not in CATALOGUE:
                raise ValueError(f"targets: unknown KPI id {kpi_id!r}")
        return self

    def feed(self, name: str) -> FeedSource:
        return self.feeds.get(name) or FeedSource()

    def district_ids(self) -> list[str]:
        return [d.id for d in self.districts]


def load_city(path: Path | str) -> City:
    path = Path(path)
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"CITY_CONFIG: no such file {path}") from None
    except orjson.JSONDecodeError as e:
        raise ConfigError(f"CITY_CONFIG {path}: not valid JSON ({e})") from None
    return parse_city(raw, source=str(path))


def parse_city(raw: dict, source: str = "city") -> City:
    try:
        return City.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise ConfigError(f"CITY_CONFIG {source}: {where}: {err['msg']}{more}") from None

