"""Traffic's API routes: /api/v1/links and /api/v1/road-incidents (architecture.md, "Contracts")."""
from __future__ import annotations

import time

from flask import Blueprint, request

from dashboard.api import error_response, json_response
from dashboard.openapi import BAD, NUM, STR, TIME, ok, ref, wrap
from feeds.timeparse import epoch_to_iso


def register(api: Blueprint, store) -> None:
    @api.get("/links")
    def links():
        district = request.args.get("district")
        if district is not None and district not in store.city.district_ids():
            return error_response(400, f"unknown district {district!r}")
        now = time.time()
        rows = [{"id": s.id, "name": s.name, "district": s.district, "speed_kmh": s.speed_kmh,
                 "free_flow_kmh": s.free_flow_kmh, "speed_ratio": round(s.ratio, 3) if s.ratio else None,
                 "as_of": epoch_to_iso(s.as_of), "age_s": round(now - s.as_of, 1) if s.as_of else None}
                for s in store.links() if district is None or s.district == district]
        return json_response({"links": rows})

    @api.get("/road-incidents")
    def road_incidents():
        rows = [{**inc, "opened": epoch_to_iso(inc.get("opened")), "updated": epoch_to_iso(inc.get("updated")),
                 "closed": epoch_to_iso(inc.get("closed"))} for inc in store.open_road_incidents()]
        return json_response({"incidents": rows})


def openapi() -> dict:
    link = {"type": "object", "required": ["id", "name", "district", "speed_kmh", "speed_ratio", "as_of"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "district": STR,
                           "speed_kmh": NUM, "free_flow_kmh": NUM, "speed_ratio": NUM, "as_of": TIME,
                           "age_s": NUM}}
    return {
        "paths": {
            "/api/v1/links": {"get": {"summary": "Road links with their latest speed",
                                      "parameters": [{"name": "district", "in": "query", "required": False,
                                                      "schema": {"type": "string"}}],
                                      "responses": {**ok("LinkList", "Links"), **BAD}}},
            "/api/v1/road-incidents": {"get": {"summary": "Open road incidents",
                                               "responses": ok("RoadIncidentList", "Incidents")}},
        },
        "schemas": {
            "Link": link, "LinkList": wrap("links", ref("Link")),
            "RoadIncidentList": wrap("incidents", {"type": "object", "required": ["id", "status"],
                                                   "properties": {"id": {"type": "string"},
                                                                  "status": {"type": "string"}}}),
        },
    }
