"""The services section of CITY_CONFIG: service centres (opening hours, counters) and targets.

    "services": {
      "centres": [{"id": "C1", "name": "City Hall One-Stop", "lon": -75.0, "lat": 40.0,
                   "counters": 10, "opens": "08:00", "closes": "18:00", "days": [0, 1, 2, 3, 4]}],
      "target_wait_min": 20,
      "sla_h": {"Pothole": 72}
    }

``days`` are ISO weekdays counted from Monday = 0 (default Monday to Friday). ``sla_h`` gives the
hours a request type (service_code or service_name) has to close when the feed sends no
``expected_datetime``. A bad value is a ConfigError with one line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from feeds.config import City, ConfigError
from feeds.geo import district_of
from feeds.timeparse import zone

DEFAULT_TARGET_WAIT_MIN = 20.0  # kpis.md: served within the target wait, default 20 min from arrival


class Centre(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    name: str = ""
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    counters: int = Field(ge=0, le=500)  # counters (service windows) scheduled while open
    opens: str = "08:00"
    closes: str = "18:00"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    # Other hours on some weekdays, e.g. {"5": "09:00-13:00"} (Saturday morning): those days are open
    # with those hours, whether or not they are in ``days``.
    day_hours: dict[int, str] = {}
    district: str | None = None

    @field_validator("opens", "closes")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError(f"expected HH:MM, got {v!r}")
        return v

    @field_validator("days")
    @classmethod
    def _weekdays(cls, v):
        if any(d not in range(7) for d in v):
            raise ValueError("weekdays are 0 (Monday) .. 6 (Sunday)")
        return v

    @field_validator("day_hours")
    @classmethod
    def _day_hours(cls, v):
        for day, span in v.items():
            if day not in range(7):
                raise ValueError("weekdays are 0 (Monday) .. 6 (Sunday)")
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", span):
                raise ValueError(f"expected HH:MM-HH:MM, got {span!r}")
        return v

    def minutes(self, hhmm: str) -> int:
        h, m = hhmm.split(":")
        return int(h) * 60 + int(m)

    def hours_on(self, weekday: int) -> tuple[int, int] | None:
        """(opens, closes) in minutes of the day on this weekday (Monday = 0), None when closed all day."""
        if weekday in self.day_hours:
            opens, closes = self.day_hours[weekday].split("-")
            return self.minutes(opens), self.minutes(closes)
        if weekday in self.days:
            return self.minutes(self.opens), self.minutes(self.closes)
        return None

    def is_open(self, local: datetime) -> bool:
        """Open at this local time by its schedule."""
        hours = self.hours_on(local.weekday())
        m = local.hour * 60 + local.minute
        return hours is not None and hours[0] <= m < hours[1]

    def next_opening(self, local: datetime) -> datetime | None:
        """The next time it opens after this local time (within a week), None when it never opens."""
        from datetime import timedelta

        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for k in range(8):
            d = day + timedelta(days=k)
            hours = self.hours_on(d.weekday())
            if hours is None:
                continue
            at = d.replace(hour=hours[0] // 60, minute=hours[0] % 60)
            if at > local:
                return at
        return None

    def hours_text(self) -> str:
        """"Mon-Fri 08:00-18:00, Sat 09:00-13:00": the weekdays grouped by their hours."""
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        spans: list[tuple[str, list[int]]] = []
        for d in range(7):
            hours = self.hours_on(d)
            if hours is None:
                continue
            text = f"{hours[0] // 60:02d}:{hours[0] % 60:02d}-{hours[1] // 60:02d}:{hours[1] % 60:02d}"
            if spans and spans[-1][0] == text and spans[-1][1][-1] == d - 1:
                spans[-1][1].append(d)
            else:
                spans.append((text, [d]))
        return ", ".join((names[ds[0]] if len(ds) == 1 else f"{names[ds[0]]}-{names[ds[-1]]}") + " " + text
                         for text, ds in spans) or "closed"


class ServicesSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    centres: list[Centre] = []
    target_wait_min: float = Field(DEFAULT_TARGET_WAIT_MIN, gt=0, le=600)
    sla_h: dict[str, float] = {}


@dataclass(frozen=True)
class ServicesConfig:
    section: ServicesSection
    centres: dict[str, Centre]
    districts: dict[str, str | None]  # centre id -> district id
    timezone: str

    @property
    def target_wait_min(self) -> float:
        return self.section.target_wait_min

    def sla_hours(self, code: str | None, name: str | None) -> float | None:
        sla = self.section.sla_h
        return sla.get(code or "") or sla.get(name or "")

    def local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, zone(self.timezone))


def _parse(city: City) -> ServicesConfig:
    try:
        section = ServicesSection.model_validate(city.services or {})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"CITY_CONFIG services.{where}: {err['msg']}") from None
    ids = [c.id for c in section.centres]
    if len(set(ids)) != len(ids):
        raise ConfigError("CITY_CONFIG services.centres: centre ids must be unique")
    known = set(city.district_ids())
    districts = {}
    for c in section.centres:
        if c.district is not None and c.district not in known:
            raise ConfigError(f"CITY_CONFIG services.centres {c.id}: unknown district {c.district!r}")
        districts[c.id] = c.district or district_of((c.lon, c.lat), city.districts)
    return ServicesConfig(section, {c.id: c for c in section.centres}, districts, city.timezone)


_CACHE: dict[int, tuple[City, ServicesConfig]] = {}


def services_config(city: City) -> ServicesConfig:
    """The city's services section, validated once per City object."""
    hit = _CACHE.get(id(city))
    if hit is None or hit[0] is not city:
        hit = (city, _parse(city))
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[id(city)] = hit
    return hit[1]
