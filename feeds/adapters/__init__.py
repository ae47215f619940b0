"""The registry of feed adapters: ``python -m feeds list`` prints it."""
from __future__ import annotations

from feeds.adapters.nyc_traffic import NycTrafficAdapter
from feeds.adapters.road_incidents import RoadIncidentsAdapter

ADAPTERS = {cls.name: cls for cls in (NycTrafficAdapter, RoadIncidentsAdapter)}
