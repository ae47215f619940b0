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
ALERT_AUDIT_RETENTION = (100_000, 90 * 24 * 3600)
AUTH_AUDIT_RETENTION = (100_000, 365 * 24 * 3600)
ALERT_CLOSED_RETENTION_S = 30 * 24 * 3600  # a cleared alert is kept this long for the history view
ROAD_INCIDENT_RETENTION_S = 7 * 24 * 3600
NOTES_RETENTION_S = 90 * 24 * 3600  # annotations (timeline and incident notes) are kept this long
NOTES_AUDIT_RETENTION = (100_000, 90 * 24 * 3600)  # a closed road incident is forgotten this long after closing
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
    def transit_static(self) -> str:
        """Hash of the loaded GTFS static: version (hash of the zip), loaded_at, timezone, counts."""
        return self._key("transit", "static", "meta")

    def transit_routes(self) -> str:
        """Hash route id -> JSON {id, short_name, long_name, color, shape, stops (ordered), district}."""
        return self._key("transit", "static", "routes")

    def transit_stops(self) -> str:
        """Hash stop id -> JSON {name, lat, lon, district}."""
        return self._key("transit", "static", "stops")

    def transit_trips(self) -> str:
        """Hash trip id -> JSON {route_id, direction_id, service_id, stop_times [[seq, stop, arr_s, dep_s]]}."""
        return self._key("transit", "static", "trips")

    def transit_scheduled(self) -> str:
        """Hash route id -> vehicles the schedule needs now; field "_at" = the time it was worked out."""
        return self._key("transit", "scheduled")

    def transit_vehicles(self) -> str:
        """Hash vehicle id -> JSON of its newest position (route, trip, lat, lon, stop, occupancy, t)."""
        return self._key("transit", "vehicles")

    def transit_trip_updates(self) -> str:
        """Hash trip id -> JSON of its newest TripUpdate: current delay, per-stop delays, t."""
        return self._key("transit", "trip_updates")

    def transit_departures(self) -> str:
        """Hash "trip|stop_sequence" -> JSON departure event {route, dir, stop, delay, t, timepoint, district}."""
        return self._key("transit", "departures")

    def transit_departures_by_time(self) -> str:
        """Sorted set "trip|stop_sequence" -> departure time (epoch s): the window index of departures."""
        return self._key("transit", "departures", "t")

    def transit_passages(self) -> str:
        """Sorted set, score = time a vehicle reached a stop, member = JSON {r, d, s, v, t, H, ds}."""
        return self._key("transit", "passages")

    def transit_route_stats(self) -> str:
        """Hash route id -> JSON per-stop figures of the KPI window {stop: {delay, n, h, H, bunched}}
        (written with the KPIs, read by the route drill-down and the API)."""
        return self._key("transit", "route_stats")

    def transit_alerts(self) -> str:
        """Hash alert id -> JSON of a service alert (header, description, cause, effect, routes, stops)."""
        return self._key("transit", "alerts")
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
    def queue_latest(self) -> str:
        """Hash "centre|queue" -> JSON of the queue's newest snapshot (waiting, open counters, wait)."""
        return self._key("services", "queue", "latest")

    def centres_learnt(self) -> str:
        """Hash centre id -> JSON of service centres a feed named that CITY_CONFIG does not list."""
        return self._key("services", "centre", "learnt")

    def visits(self, day: str) -> str:
        """Hash "centre|ticket|step" -> JSON {t, q, c} of one local day's visit steps (expires)."""
        return self._key("services", "visits", day)

    def visits_log(self, day: str) -> str:
        """Stream of one local day's visit-step batches ({m: JSON of the fields added to visits(day)}),
        so the KPI engine reads only what is new (expires with the day)."""
        return self._key("services", "visits-log", day)

    def wait_slots(self, day: str) -> str:
        """Hash "centre|slot|field" -> number: one local day's waits in 15-minute slots (expires);
        field "_v" counts the writes (readers re-read the day only when it moved)."""
        return self._key("services", "wait", day)

    def service_requests(self) -> str:
        """Hash request id -> JSON of the Open311 request's latest state."""
        return self._key("services", "request", "all")

    def service_request_changes(self) -> str:
        """Stream of batches of request ids written or forgotten ({ids: JSON list}): the KPI engine
        re-reads only those requests."""
        return self._key("services", "request", "changes")

    def service_requests_open(self) -> str:
        """Set of open request ids."""
        return self._key("services", "request", "open")

    def service_requests_open_since(self) -> str:
        """Sorted set open request id -> requested time: the ones older than a poll's window are asked
        for by id."""
        return self._key("services", "request", "open-since")

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

    # --- alerts (operations centre) ---
    # Keys of alerts use the tag {alerts}: written by the alert evaluator and by operator actions.
    def alerts(self) -> str:
        """Hash alert id -> JSON of the alert (see feeds.alerts: state, severity, who and when)."""
        return self._key("alerts", "all")

    def alerts_open(self) -> str:
        """Hash "rule|scope" -> id of the alert of that rule and scope not yet cleared."""
        return self._key("alerts", "open")

    def alerts_cleared(self) -> str:
        """Sorted set alert id -> time it cleared (history and retention)."""
        return self._key("alerts", "cleared")

    def alerts_audit(self) -> str:
        """Stream: every state change of every alert, with who and when (bounded by ALERT_AUDIT_RETENTION)."""
        return self._key("alerts", "audit")

    def alerts_seq(self) -> str:
        """Counter: the number part of the next alert id."""
        return self._key("alerts", "seq")

    def alerts_version(self) -> str:
        """Counter bumped on every alert change; pages and walls re-read alerts only when it moved."""
        return self._key("alerts", "version")

    def alerts_pending(self) -> str:
        """Hash "rule|scope" -> epoch since when its condition holds (rules with ``for_s``; silent feeds that
        never succeeded)."""
        return self._key("alerts", "pending")

    def alert_rules(self) -> str:
        """Hash rule id -> JSON of a rule an admin added at runtime (merged with CITY_CONFIG's rules)."""
        return self._key("alerts", "rules")

    def alert_rules_disabled(self) -> str:
        """Hash rule id -> JSON {by, at} of a rule an admin disabled (config or runtime rule)."""
        return self._key("alerts", "rules:disabled")

    def alert_rules_audit(self) -> str:
        """Stream: every rule added, deleted, enabled or disabled, with who and when."""
        return self._key("alerts", "rules:audit")
    # (end of alert keys)

    # --- notes (annotations of the city timeline and of incidents) ---
    # Keys of notes use the tag {notes}: written only by feeds.annotations (operator actions).
    def notes(self) -> str:
        """Hash note id -> JSON of the note {id, target, at, text, by, created_at}."""
        return self._key("notes", "all")

    def notes_of(self, target: str) -> str:
        """Sorted set note id -> the time the note is about (at), of one target ("timeline", "incident:<id>")."""
        return self._key("notes", "target", target)

    def notes_by_time(self) -> str:
        """Sorted set note id -> at, of every note (retention, and charts that show several targets)."""
        return self._key("notes", "time")

    def notes_audit(self) -> str:
        """Stream: every note added or deleted, with who and when (bounded by NOTES_AUDIT_RETENTION)."""
        return self._key("notes", "audit")

    def notes_seq(self) -> str:
        """Counter: the number part of the next note id."""
        return self._key("notes", "seq")

    def notes_version(self) -> str:
        """Counter bumped on every note change; trend charts re-read notes only when it moved."""
        return self._key("notes", "version")
    # (end of notes keys)

    # --- sign-in (accounts, kiosk and API tokens, sessions) ---
    # Keys of sign-in use the tag {auth}: written by feeds.accounts (the CLI and the admin page) and by
    # sign-in and sign-out. Tokens and session ids are stored only as their SHA-256.
    def auth_users(self) -> str:
        """Hash user name -> JSON {name, role, password (werkzeug hash), disabled, created_at/by, updated_at/by}."""
        return self._key("auth", "users")

    def auth_kiosks(self) -> str:
        """Hash screen name -> JSON {name, sha256, created_at/by, revoked_at/by} of its kiosk token."""
        return self._key("auth", "kiosks")

    def auth_kiosk_index(self) -> str:
        """Hash token SHA-256 -> screen name (a kiosk link or Bearer token finds its screen)."""
        return self._key("auth", "kiosks", "by-sha")

    def auth_api_tokens(self) -> str:
        """Hash token name -> JSON {name, role, sha256, created_at/by, revoked_at/by}."""
        return self._key("auth", "tokens")

    def auth_api_token_index(self) -> str:
        """Hash token SHA-256 -> token name."""
        return self._key("auth", "tokens", "by-sha")

    def auth_session(self, sid_sha: str) -> str:
        """Hash of one sign-in session {kind, name, created, sha256 (kiosk)}; expires with the session."""
        return self._key("auth", "session", sid_sha)

    def auth_sessions_of(self, kind: str, name: str) -> str:
        """Set of the session ids (SHA-256) of one user or kiosk, ended together on disable or revoke."""
        return self._key("auth", "sessions-of", kind, name)

    def auth_login_failures(self, name: str) -> str:
        """Counter of failed sign-ins for one name (expires; too many in a row lock the name out)."""
        return self._key("auth", "failures", name)

    def auth_secret(self) -> str:
        """The Flask secret key when SECRET_KEY is unset: made once (SET NX), shared by every worker."""
        return self._key("auth", "secret")

    def auth_audit(self) -> str:
        """Stream: every account, token and sign-in change with who and when (bounded by AUTH_AUDIT_RETENTION)."""
        return self._key("auth", "audit")
    # (end of sign-in keys)

    # --- KPIs -------------------------------------------------------------------------
    def kpi_values(self) -> str:
        """Hash KPI id -> JSON of the computed value (see feeds.kpi.engine)."""
        return self._key("kpi", "values")

    def kpi_history(self, kpi_id: str) -> str:
        """Sorted set, score = bucket start (epoch s), member = JSON point."""
        return self._key("kpi", "history", kpi_id)

    def kpi_version(self, domain: str | None = None) -> str:
        """Counter bumped on every KPI write (with ``domain``: on every write of that domain's KPIs);
        pages use it to skip unchanged refreshes."""
        return self._key("kpi", "version") if domain is None else self._key("kpi", "version", domain)

    def shared_cache(self) -> str:
        """Prefix of the web workers' shared cache (flask-caching on Redis): what one refresh tick computed
        for a view at a data version, so fifty screens compute it once; entries expire by themselves."""
        return self._key("cache", "")

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

    def store_epoch(self) -> str:
        """String "<random id>|<epoch s>" written (SET NX) by the first runner to reach this Redis: when a
        runner finds it gone or changed, Redis lost its data (restarted without persistence, or flushed)."""
        return self._key("ops", "epoch")

    def actions(self) -> str:
        """Stream of operator actions (audited small writes)."""
        return self._key("ops", "actions")

    def pattern(self) -> str:
        """SCAN pattern matching every key under this prefix."""
        return f"{self.prefix}:*"
