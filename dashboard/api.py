"""GET /healthz and the read-only JSON API under /api/v1 (architecture.md, "Contracts")."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import orjson
from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from dashboard.openapi import openapi_document
from dashboard.store import Store, StoreUnavailable
from feeds.geo import districts_geojson
from feeds.kpi.catalogue import DOMAIN_ORDER
from feeds.timeparse import epoch_to_iso


log = logging.getLogger("citybrain.api")


def _json(obj, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status=status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def make_api(store: Store) -> tuple[Blueprint, Blueprint]:
    """(health blueprint at /, API blueprint at /api/v1)."""
    health = Blueprint("health", __name__)
    api = Blueprint("api_v1", __name__, url_prefix="/api/v1")

    @health.get("/healthz")
    def healthz():
        up = store.ping()
        return _json({"status": "ok" if up else "unavailable", "redis": "up" if up else "down",
                      "time": epoch_to_iso(time.time())}, 200 if up else 503)

    @api.errorhandler(StoreUnavailable)
    def unavailable(e):
        return _error(503, f"store unavailable: {e}")

    @api.errorhandler(Exception)
    def internal(e):
        if isinstance(e, HTTPException):
            return _error(e.code or 500, e.description or e.name)
        log.exception("api: %s failed", request.path)
        return _error(500, "internal error")  # JSON, no traceback: details are in the server log

    @api.get("/openapi.json")
    def openapi():
        return _json(openapi_document())

    @api.get("/kpis")
    def kpis():
        domain = request.args.get("domain")
        if domain is not None and domain not in (*DOMAIN_ORDER, "city"):
            return _error(400, f"unknown domain {domain!r}; one of {', '.join((*DOMAIN_ORDER, 'city'))}")
        return _json({"kpis": store.kpis(domain=domain)})

    @api.get("/kpis/<kpi_id>")
    def kpi(kpi_id: str):
        since = request.args.get("since")
        since_epoch = None
        if since:
            try:
                since_dt = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                return _error(400, f"since must be an ISO-8601 time, got {since!r}")
            if since_dt.tzinfo is None:
                since_dt = since_dt.replace(tzinfo=timezone.utc)  # documented: no offset means UTC
            since_epoch = since_dt.timestamp()
        out = store.kpi(kpi_id, since=since_epoch)
        if out is None:
            return _error(404, f"unknown KPI {kpi_id!r}")
        return _json(out)

    @api.get("/feeds")
    def feeds():
        return _json({"feeds": store.feeds()})

    @api.get("/links")
    def links():
        district = request.args.get("district")
        if district is not None and district not in store.city.district_ids():
            return _error(400, f"unknown district {district!r}")
        now = time.time()
        rows = [{"id": s.id, "name": s.name, "district": s.district, "speed_kmh": s.speed_kmh,
                 "free_flow_kmh": s.free_flow_kmh, "speed_ratio": round(s.ratio, 3) if s.ratio else None,
                 "as_of": epoch_to_iso(s.as_of), "age_s": round(now - s.as_of, 1) if s.as_of else None}
                for s in store.links() if district is None or s.district == district]
        return _json({"links": rows})

    @api.get("/road-incidents")
    def road_incidents():
        rows = [{**inc, "opened": epoch_to_iso(inc.get("opened")), "updated": epoch_to_iso(inc.get("updated")),
                 "closed": epoch_to_iso(inc.get("closed"))} for inc in store.open_road_incidents()]
        return _json({"incidents": rows})

    @api.get("/districts")
    def districts():
        return _json(districts_geojson(store.city.districts))

    @api.get("/deadletters")
    def dead_letters():
        try:
            count = int(request.args.get("count", 50))
        except ValueError:
            return _error(400, "count must be an integer")
        if not 1 <= count <= 1000:
            return _error(400, "count must be between 1 and 1000")
        return _json({"deadletters": store.dead_letters(count)})

    @api.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(anything: str):
        # Without this, Dash's catch-all page route would answer unknown API paths with HTML and 200.
        return _error(404, f"no API route /api/v1/{anything}; see /api/v1/openapi.json")

    return health, api
