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
    # (end of emergency keys)

    # --- environment (air, noise, water) ---
    # Keys of the environment domain use the tag {environment}: self._key("environment", ...).
    # (end of environment keys)

    # --- services (service windows and requests) ---
    # Keys of the services domain use the tag {services}: self._key("services", ...).
    def queue_latest(self) -> str:
        """Hash "centre|queue" -> JSON of the queue's newest snapshot (waiting, open counters, wait)."""
        return self._key("services", "queue", "latest")

    def centres_learnt(self) -> str:
        """Hash centre id -> JSON of service centres a feed named that CITY_CONFIG does not list."""
        return self._key("services", "centre", "learnt")

    def visits(self, day: str) -> str:
        """Hash "centre|ticket|step" -> JSON {t, q, c} of one local day's visit steps (expires)."""
        return self._key("services", "visits", day)

    def wait_slots(self, day: str) -> str:
        """Hash "centre|slot|field" -> number: one local day's waits in 15-minute slots (expires)."""
        return self._key("services", "wait", day)

    def service_requests(self) -> str:
        """Hash request id -> JSON of the Open311 request's latest state."""
        return self._key("services", "request", "all")

    def service_requests_open(self) -> str:
        """Set of open request ids."""
        return self._key("services", "request", "open")

    def service_requests_open_of_type(self, type_name: str) -> str:
        """Set of open request ids of one type (service_name): the map of one type reads only these."""
        return self._key("services", "request", "open-type", type_name)

    def service_requests_closed(self) -> str:
        """Sorted set request id -> closing time (7-day KPIs and retention)."""
        return self._key("services", "request", "closed")

    def request_types(self) -> str:
        """Hash service_code -> JSON {name, group} from Open311 services.json."""
        return self._key("services", "request", "types")
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
