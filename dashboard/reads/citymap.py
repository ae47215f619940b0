"""The integrated city map's reads (overview and /district/<id>): each domain's version, and each layer's
entities through that domain's own reads. Read only; StoreUnavailable when Redis does not answer."""
from __future__ import annotations

from dashboard.pages import emergency as emergency_page
from dashboard.pages import traffic as traffic_page
from dashboard.reads import emergency as emergency_reads
from dashboard.reads import environment as env_reads
from dashboard.reads import services as services_reads
from dashboard.reads import transit as transit_reads
from feeds.adapters.transit_gtfs import transit_config

DOMAINS = ("traffic", "transit", "environment", "emergency", "services")


def versions(store) -> dict[str, int]:
    """Every domain's KPI version and the global one ("all"), in one round trip."""
    def run():
        pipe = store.r.pipeline(transaction=False)
        pipe.get(store.keys.kpi_version())
        for d in DOMAINS:
            pipe.get(store.keys.kpi_version(d))
        return pipe.execute()
    values = store.call(run)
    return {"all": int(values[0] or 0), **{d: int(v or 0) for d, v in zip(DOMAINS, values[1:])}}


def layer_entities(store, layer: str, kpis: dict[str, dict], district: str | None = None) -> dict:
    """What one layer draws, all of the city's or one district's."""
    if layer == "traffic":
        incidents = traffic_page.in_focus([], store.open_road_incidents(), district)[1]
        return {"links": traffic_page.map_links(store, district), "incidents": incidents}
    if layer == "buses":
        routes, _, _ = transit_reads.static(store)
        vehicles = transit_reads.vehicles(store)
        # Buses that report (the KPI's freshness limit, from the feed's newest time), as on /transit.
        newest = max((v["t"] for v in vehicles), default=0)
        oldest = newest - transit_config(store.city).vehicle_fresh_s  # once: it validates the city's transit section
        live = [v for v in vehicles if v["t"] >= oldest and (district is None or v.get("ds") == district)]
        names = {rid: r.get("short_name") or rid for rid, r in routes.items()}
        return {"vehicles": live, "names": names}
    if layer == "air":
        return {"stations": env_reads.stations(store, kind="air", district=district)}
    if layer == "incidents":
        incidents, units = emergency_page.in_focus(emergency_reads.active_incidents(store),
                                                   emergency_reads.units(store), district)
        return {"incidents": incidents, "units": units}
    centres = services_reads.centres(store, kpis)
    return {"centres": [c for c in centres if district is None or c.get("district") == district]}
