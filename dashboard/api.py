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
from feeds.plugins import package_modules
from feeds.timeparse import epoch_to_iso


log = logging.getLogger("citybrain.api")


def json_response(obj, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status=status, mimetype="application/json")


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def make_api(store: Store) -> tuple[Blueprint, Blueprint]:
    """(health blueprint at /, API blueprint at /api/v1)."""
    health = Blueprint("health", __name__)
    api = Blueprint("api_v1", __name__, url_prefix="/api/v1")

    @health.get("/healthz")
    def healthz():
        up = store.ping()
        return json_response({"status": "ok" if up else "unavailable", "redis": "up" if up else "down",
                      "time": epoch_to_iso(time.time())}, 200 if up else 503)

    @api.errorhandler(StoreUnavailable)
    def unavailable(e):
        return error_response(503, f"store unavailable: {e}")

    @api.errorhandler(Exception)
    def internal(e):
        if isinstance(e, HTTPException):
            return error_response(e.code or 500, e.description or e.name)
        log.exception("api: %s failed", request.path)
        return error_response(500, "internal error")  # JSON, no traceback: details are in the server log

    @api.app_errorhandler(404)
    @api.app_errorhandler(405)
    def api_not_routed(e):
        # A URL under /api/ that no rule matches even with the catch-all below (a path segment with a
        # newline in it): JSON like every other API answer, not Flask's HTML page.
        if request.path.startswith("/api/"):
            return error_response(e.code, e.description or e.name)
        return e

    @api.get("/openapi.json")
    def openapi():
        return json_response(openapi_document())

    @api.get("/kpis")
    def kpis():
        domain = request.args.get("domain")
        if domain is not None and domain not in (*DOMAIN_ORDER, "city"):
            return error_response(400, f"unknown domain {domain!r}; one of {', '.join((*DOMAIN_ORDER, 'city'))}")
        return json_response({"kpis": store.kpis(domain=domain)})

    @api.get("/kpis/<kpi_id>")
    def kpi(kpi_id: str):
        since = request.args.get("since")
        since_epoch = None
        if since:
            try:
                since_dt = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                return error_response(400, f"since must be an ISO-8601 time, got {since!r}")
            if since_dt.tzinfo is None:
                since_dt = since_dt.replace(tzinfo=timezone.utc)  # documented: no offset means UTC
            since_epoch = since_dt.timestamp()
        out = store.kpi(kpi_id, since=since_epoch)
        if out is None:
            return error_response(404, f"unknown KPI {kpi_id!r}")
        return json_response(out)

    @api.get("/feeds")
    def feeds():
        return json_response({"feeds": store.feeds()})

    @api.get("/districts")
    def districts():
        return json_response(districts_geojson(store.city.districts))

    @api.get("/deadletters")
    def dead_letters():
        try:
            count = int(request.args.get("count", 50))
        except ValueError:
            return error_response(400, "count must be an integer")
        if not 1 <= count <= 1000:
            return error_response(400, "count must be between 1 and 1000")
        return json_response({"deadletters": store.dead_letters(count)})

    # Each domain's routes, and any other module's (alerts, ...): dashboard.routes.<name>.register(api, store)
    # (see feeds.plugins).
    for mod in package_modules("dashboard.routes", "register").values():
        mod.register(api, store)

    @api.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(anything: str):
        # Without this, Dash's catch-all page route would answer unknown API paths with HTML and 200.
        return error_response(404, f"no API route /api/v1/{anything}; see /api/v1/openapi.json")

    return health, api
