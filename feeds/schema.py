"""Every Redis key name City Brain uses. No other module spells a key.

Layout: ``{prefix}:{<domain>}:<name>``. The braces are a Redis Cluster hash tag, so all
keys of one domain live on one shard and multi-key reads of a domain stay on one node.
"""
from __future__ import annotations

DOMAINS = ("traffic", "transit", "environment", "emergency", "services")

# Retention of bounded streams and histories: (max entries, max age in seconds).
READINGS_RETENTION = (200_000, 24 * 3600)
DEADLETTER_RETENTION = (20_000, 7 * 24 * 3600)
AUDIT_RETENTION = (100_000, 30 * 24 * 3600)
ROAD_INCIDENT_RETENTION_S = 7 * 24 * 3600  # a closed road incident is forgotten this long after closing
# KPI history: at most one point per step, kept for this long.
KPI_HISTORY_STEP_S = 60
KPI_HISTORY_RETENTION_S = 8 * 24 * 3600


class Keys:
    """Key names under one prefix (``city`` in production, a unique one per test)."""

    def __init__(self, prefix: str = "city"):
        if not prefix or any(c in prefix for c in "{} "):
            raise ValueError(f"invalid key prefix {prefix!r}: must be non-empty, no braces or spaces")
        self.prefix = prefix

    def _key(self, tag: str, *parts: str) -> str:
        return f"{self.prefix}:{{{tag}}}:" + ":".join(parts)

    # --- any domain -------------------------------------------------------------------
    def readings(self, domain: str) -> str:
        """Stream of accepted observations of a domain (bounded by READINGS_RETENTION)."""
        return self._key(domain, "readings")

    def seen(self, domain: str, feed: str) -> str:
        """Hash entity id -> newest version (epoch s) stored, for de-duplication."""
        return self._key(domain, "seen", feed)

    # --- traffic ----------------------------------------------------------------------
    def link_latest(self) -> str:
        """Hash link id -> JSON of the newest reading {v: km/h, tt: s, t: epoch}."""
        return self._key("traffic", "link", "latest")

    def link_meta(self) -> str:
        """Hash link id -> JSON of links learnt from a feed (not in CITY_CONFIG)."""
        return self._key("traffic", "link", "meta")

    def link_geo(self) -> str:
        """GEO set of link midpoints."""
        return self._key("traffic", "link", "geo")

    def road_incidents(self) -> str:
        """Hash incident id -> JSON of the road incident's latest state."""
        return self._key("traffic", "incident", "all")

    def road_incidents_open(self) -> str:
        """Set of open road incident ids."""
        return self._key("traffic", "incident", "open")

    def road_incidents_geo(self) -> str:
        """GEO set of open road incidents."""
        return self._key("traffic", "incident", "geo")

    def road_incidents_closed(self) -> str:
        """Sorted set incident id -> closing time, for retention."""
        return self._key("traffic", "incident", "closed")

    # --- transit (buses) ---
    # Keys of the transit domain use the tag {transit}: self._key("transit", ...).
    # (end of transit keys)

    # --- emergency (dispatch) ---
    # Keys of the emergency domain use the tag {emergency}: self._key("emergency", ...).
    def emergency_incidents(self) -> str:
        """Hash incident id -> JSON of the incident (type, priority, place, district, opened, closed, units)."""
        return self._key("emergency", "incident", "all")

    def emergency_incidents_active(self) -> str:
        """Set of incident ids not closed."""
        return self._key("emergency", "incident", "active")

    def emergency_incidents_closed(self) -> str:
        """Sorted set incident id -> closing time (closed list and retention)."""
        return self._key("emergency", "incident", "closed")

    def emergency_incident_meta(self) -> str:
        """Hash incident id -> JSON of what the feeds said about the call (type, priority, place)."""
        return self._key("emergency", "incident", "meta")

    def emergency_incident_times(self, incident_id: str) -> str:
        """Sorted set "unit|status" -> earliest time that unit reached that status on this incident."""
        return self._key("emergency", "incident", "times", incident_id)

    def emergency_dirty(self) -> str:
        """Set of incident ids (and "unit:<id>") written since their summary was last rebuilt."""
        return self._key("emergency", "dirty")

    def emergency_autoclose(self) -> str:
        """Sorted set incident id -> time a one-timestamp call (no units) stops counting as active."""
        return self._key("emergency", "incident", "autoclose")

    def emergency_units(self) -> str:
        """Hash unit id -> JSON of the unit's board entry (status, since, incident, position, station)."""
        return self._key("emergency", "unit", "all")

    def emergency_unit_reports(self) -> str:
        """Hash unit id -> JSON of the newest report not tied to an incident (available, out of service, position)."""
        return self._key("emergency", "unit", "reports")

    def emergency_calls(self) -> str:
        """Sorted set "call id|answer seconds|incident" -> first ring time (911 answer times)."""
        return self._key("emergency", "calls")

    def emergency_audit(self) -> str:
        """Stream: every status change of a unit or an incident (bounded by AUDIT_RETENTION)."""
        return self._key("emergency", "audit")
    # (end of emergency keys)

    # --- environment (air, noise, water) ---
    # Keys of the environment domain use the tag {environment}: self._key("environment", ...).
    def env_stations(self) -> str:
        """Hash station id -> JSON of stations learnt from a feed (not in CITY_CONFIG)."""
        return self._key("environment", "station", "meta")

    def env_openaq_sensors(self) -> str:
        """Hash OpenAQ sensor id -> JSON {station, param, units}, learnt from /v3/locations."""
        return self._key("environment", "openaq", "sensors")

    def env_obs_times(self, station: str) -> str:
        """Sorted set "<param>@<period start>" -> period start: each air observation counted once."""
        return self._key("environment", "obs", station)

    def env_hourly(self) -> str:
        """Hash air station id -> JSON {param: {hour start: [sum, count]}} (clock-hour means)."""
        return self._key("environment", "hourly")

    def env_air_clock(self) -> str:
        """Hash air station id -> JSON [newest period start, newest observation time, data period s]."""
        return self._key("environment", "air", "clock")

    def env_series(self, station: str) -> str:
        """Sorted set of a noise or water station's readings, score = time, member = JSON."""
        return self._key("environment", "series", station)

    def env_state(self) -> str:
        """Hash station id -> JSON of its derived state (AQI and category, LAeq vs limit, water alerts)."""
        return self._key("environment", "state")

    def env_seen_series(self) -> str:
        """Sorted set of de-duplication entries of time-series records, by time (pruned with them)."""
        return self._key("environment", "seen-series")

    # (end of environment keys)

    # --- services (service windows and requests) ---
    # Keys of the services domain use the tag {services}: self._key("services", ...).
    # (end of services keys)

    # --- KPIs -------------------------------------------------------------------------
    def kpi_values(self) -> str:
        """Hash KPI id -> JSON of the computed value (see feeds.kpi.engine)."""
        return self._key("kpi", "values")

    def kpi_history(self, kpi_id: str) -> str:
        """Sorted set, score = bucket start (epoch s), member = JSON point."""
        return self._key("kpi", "history", kpi_id)

    def kpi_version(self) -> str:
        """Counter bumped on every KPI write; pages use it to skip unchanged refreshes."""
        return self._key("kpi", "version")

    # --- operations -------------------------------------------------------------------
    def deadletter(self) -> str:
        """Stream of rejected records: adapter, reason, raw payload, time."""
        return self._key("ops", "deadletter")

    def feeds(self) -> str:
        """Set of feed names that have reported health."""
        return self._key("ops", "feeds")

    def feed_health(self, feed: str) -> str:
        """Hash of one feed's health: last_success, records, rejected, lag_s, ..."""
        return self._key("ops", "feed", feed)

    def actions(self) -> str:
        """Stream of operator actions (audited small writes)."""
        return self._key("ops", "actions")

    def pattern(self) -> str:
        """SCAN pattern matching every key under this prefix."""
        return f"{self.prefix}:*"
