"""What adapters of city data share: the feed's time zone, districts, the readings stream."""
from __future__ import annotations

from feeds.framework import Adapter, xadd_many
from feeds.geo import district_of
from feeds.schema import READINGS_RETENTION


class CityAdapter(Adapter):
    def __init__(self, city, source):
        super().__init__(city, source)
        self.tz = source.timezone or city.timezone
        self._district_names = {}
        for d in city.districts:
            self._district_names[d.id.casefold()] = d.id
            self._district_names[d.name.casefold()] = d.id

    def resolve_district(self, point, named: object = None) -> str | None:
        """The district a feed names (by id or name, any case), else the one containing the point."""
        if isinstance(named, str) and named.strip().casefold() in self._district_names:
            return self._district_names[named.strip().casefold()]
        return district_of(point, self.city.districts)

    def add_readings(self, pipe, keys, rows: list[dict]) -> None:
        xadd_many(pipe, keys.readings(self.domain), rows, READINGS_RETENTION)
