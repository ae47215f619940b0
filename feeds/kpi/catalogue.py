"""The KPI catalogue of kpis.md: ids, definitions, default targets, standards.

The one place a KPI's target, warn edge, unit or standard is written. Cities override
``target``/``warn`` per KPI in CITY_CONFIG ``targets``.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KpiDef:
    id: str
    domain: str  # traffic | transit | environment | emergency | services | city
    name: str
    unit: str
    direction: str  # "lower" or "higher" is better; "none" = informational (no target)
    target: float | None
    warn: float | None  # edge of the warn band; past it the status is breach
    window: str
    standard: str
    definition: str
    clock: str = ""  # where the clock starts and stops, for interval KPIs
    decimals: int = 0


def _k(id, name, unit, direction, target, warn, window, standard, definition, clock="", decimals=0):
    return KpiDef(id, id.split(".")[0], name, unit, direction, target, warn, window, standard,
                  definition, clock, decimals)


_ALL = [
    # Traffic
    _k("traffic.travel_time_index", "Travel time index", "", "lower", 1.2, 1.5, "latest readings, 15 min",
       "FHWA / INRIX bands (DVRPC)",
       "Length-weighted: sum(length x travel time) / sum(length x free-flow travel time), links with fresh data",
       decimals=2),
    _k("traffic.congested_share_pct", "Congested roads", "%", "lower", 10, 15, "latest readings, 15 min",
       "TomTom speed-ratio bands", "% of monitored road length with speed / free-flow speed < 0.6", decimals=1),
    _k("traffic.coverage_pct", "Sensor coverage", "%", "higher", 95, 90, "latest readings, 15 min",
       "data quality", "% of configured links with a valid reading in the window", decimals=1),
    _k("traffic.open_incidents", "Road incidents", "", "none", None, None, "now", "",
       "Road incidents open now"),
    # Buses
    _k("transit.on_time_pct", "Buses on time", "%", "higher", 85, 75, "60 min", "TCQSM; agency practice",
       "% of timepoint departures with -60 s <= delay <= +300 s", decimals=1),
    _k("transit.mean_delay_s", "Mean bus delay", "s", "lower", 120, 180, "60 min", "GTFS-RT delay rules",
       "Mean departure delay, same events"),
    _k("transit.headway_cv", "Headway regularity (CV)", "", "lower", 0.30, 0.40, "60 min", "TCQSM ch. 5",
       "sd(observed - scheduled headway) / mean scheduled headway, frequent routes", decimals=2),
    _k("transit.bunched_pct", "Bunched buses", "%", "lower", 5, 10, "60 min", "common practice",
       "% of observed headways < 0.5 x scheduled", decimals=1),
    _k("transit.service_delivered_pct", "Service delivered", "%", "higher", 98, 95, "now", "",
       "Vehicles in service / vehicles scheduled now", decimals=1),
    _k("transit.vehicles_in_service", "Buses in service", "", "none", None, None, "now", "",
       "Vehicles reporting a position within the freshness limit"),
    # Environment
    _k("environment.aqi", "Air quality index", "AQI", "lower", 50, 100, "NowCast (12 h)",
       "EPA AQI (89 FR 16202)", "Citywide maximum of station AQI, PM via NowCast, max over pollutants"),
    _k("environment.stations_unhealthy", "Unhealthy stations", "", "lower", 0, 0, "now", "EPA",
       "Stations with AQI > 150"),
    _k("environment.noise_exceedance_pct", "Noise over limit", "%", "lower", 10, 20, "LAeq window",
       "city noise ordinance", "% of noise sensors whose LAeq exceeds the day/night limit", decimals=1),
    _k("environment.water_alerts", "Water alerts", "", "lower", 0, 0, "now", "WHO residual; EPA MRDL",
       "Sampling points with free chlorine < 0.2 or > 4.0 mg/L, or turbidity > 1 NTU"),
    # Emergency
    _k("emergency.active_incidents", "Active incidents", "", "none", None, None, "now", "",
       "Incidents not closed"),
    _k("emergency.call_answer_15s_pct", "911 answered in 15 s", "%", "higher", 90, 85, "24 h",
       "NENA-STA-020.1-2020", "% of 911 calls answered within 15 s", "first ring -> answer", 1),
    _k("emergency.call_answer_20s_pct", "911 answered in 20 s", "%", "higher", 95, 90, "24 h",
       "NENA-STA-020.1-2020", "% of 911 calls answered within 20 s", "first ring -> answer", 1),
    _k("emergency.call_processing_p90_s", "Call processing (90th)", "s", "lower", 60, 90, "24 h",
       "NFPA 1225 (2022)", "90th percentile of first dispatch - received, per incident",
       "911 call received -> first unit dispatched"),
    _k("emergency.turnout_p90_s", "Turnout (90th)", "s", "lower", 60, 80, "24 h", "NFPA 1710",
       "90th percentile of en route - dispatch, every unit, EMS and fire calls judged apart against their own "
       "targets (EMS 60 s, fire 80 s); the value is the worse kind on the EMS scale (fire 90th x 60/80)",
       "unit dispatched -> unit en route"),
    _k("emergency.travel_p90_s", "Travel (90th)", "s", "lower", 240, 300, "24 h", "NFPA 1710 first engine",
       "90th percentile of on scene - en route, first-arriving unit; cancelled units never count",
       "first-arriving unit en route -> on scene"),
    _k("emergency.response_p90_s", "Total response (90th)", "s", "none", None, None, "24 h", "",
       "90th percentile of on scene - received, first-arriving unit", "911 call received -> first unit on scene"),
    _k("emergency.units_available_pct", "Units available", "%", "higher", 25, 15, "now", "",
       "Units available / units in service", decimals=1),
    # Service windows and requests
    _k("services.people_waiting", "People waiting", "", "none", None, None, "now", "",
       "People waiting across all open service queues"),
    _k("services.wait_min", "Mean wait", "min", "lower", 20, 30, "now", "DMV-style service-centre targets",
       "Mean current waiting time across open queues, weighted by people waiting", decimals=1),
    _k("services.served_within_target_pct", "Served within target", "%", "higher", 80, 70, "today",
       "Wisconsin DMV practice", "% of visitors served within the target wait, from arrival",
       "arrival -> called", 1),
    _k("services.open_counters", "Open counters", "% of scheduled", "higher", 100, 90, "now", "",
       "Service windows open now vs scheduled", decimals=0),
    _k("services.requests_open", "Open requests", "", "none", None, None, "now", "Open311 GeoReport v2",
       "Open 311 / Open311 requests"),
    _k("services.requests_on_time_pct", "Requests closed on time", "%", "higher", 90, 80, "7 days", "",
       "Closed requests closed by their expected_datetime (or SLA)", decimals=1),
    _k("services.case_close_median_h", "Median time to close", "h", "lower", 10, 16, "7 days",
       "Hangzhou digital city management", "Median hours from requested to closed",
       "requested -> closed", 1),
    # City
    _k("city.score", "City score", "", "higher", 1.0, 0.9, "now", "Boston CityScore",
       "Mean over KPIs with targets of value/target (or target/value), each capped at 1.25", decimals=2),
]

CATALOGUE: dict[str, KpiDef] = {k.id: k for k in _ALL}
DOMAIN_ORDER = ("traffic", "transit", "environment", "emergency", "services")


def kpis_of(domain: str) -> list[KpiDef]:
    return [k for k in _ALL if k.domain == domain]


def resolve_target(kpi: KpiDef, targets: dict) -> tuple[float | None, float | None]:
    """(target, warn edge) for a KPI: the city's override if any, else the catalogue default."""
    override = targets.get(kpi.id)
    if override is not None:
        return override.target, override.warn
    return kpi.target, kpi.warn
