"""The OpenAPI 3.1 document served at /api/v1/openapi.json."""
from __future__ import annotations

from feeds.kpi.catalogue import CATALOGUE
from feeds.kpi.status import STATUSES
from dashboard.store import FEED_STATUSES

_NUM = {"type": ["number", "null"]}
_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ok(ref: str, description: str) -> dict:
    return {"200": {"description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}},
            "503": {"description": "Redis unreachable", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}}


def openapi_document() -> dict:
    status = {"type": "string", "enum": list(STATUSES)}
    district_value = {"type": "object", "required": ["value", "status"],
                      "properties": {"value": _NUM, "status": status}}
    kpi = {
        "type": "object",
        "required": ["id", "domain", "name", "value", "unit", "target", "direction", "status", "as_of",
                     "window", "standard", "by_district"],
        "properties": {
            "id": {"type": "string", "enum": list(CATALOGUE)}, "domain": {"type": "string"},
            "name": {"type": "string"}, "value": _NUM, "unit": {"type": "string"}, "target": _NUM, "warn": _NUM,
            "direction": {"type": "string", "enum": ["higher", "lower", "none"]}, "status": status,
            "as_of": _TIME, "age_s": _NUM, "window": {"type": "string"}, "standard": {"type": "string"},
            "definition": {"type": "string"}, "clock": {"type": "string"}, "decimals": {"type": "integer"},
            "by_district": {"type": "object", "additionalProperties": district_value},
            "detail": {"type": "object"},
        },
    }
    kpi_with_history = {"allOf": [{"$ref": "#/components/schemas/Kpi"}, {
        "type": "object", "required": ["history"], "properties": {"history": {"type": "array", "items": {
            "type": "object", "required": ["t", "value", "status"],
            "properties": {"t": _TIME, "value": {"type": "number"}, "status": status}}}}}]}
    feed = {"type": "object",
            "required": ["name", "status", "last_success", "records", "rejected", "lag_s"],
            "properties": {"name": {"type": "string"}, "domain": {"type": "string"}, "title": {"type": "string"},
                           "status": {"type": "string", "enum": list(FEED_STATUSES)}, "last_success": _TIME,
                           "last_error": _STR, "records": {"type": "integer"}, "rejected": {"type": "integer"},
                           "duplicates": {"type": "integer"}, "skipped": {"type": "integer"},
                           "warnings": {"type": "integer"}, "newest": _TIME, "lag_s": _NUM,
                           "age_s": _NUM, "interval_s": {"type": "number"},
                           "last_batch": {"type": ["object", "null"]}}}
    link = {"type": "object", "required": ["id", "name", "district", "speed_kmh", "speed_ratio", "as_of"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "district": _STR,
                           "speed_kmh": _NUM, "free_flow_kmh": _NUM, "speed_ratio": _NUM, "as_of": _TIME,
                           "age_s": _NUM}}
    wrap = lambda key, item: {"type": "object", "required": [key],  # noqa: E731
                              "properties": {key: {"type": "array", "items": item}}}
    bad = {"400": {"description": "Bad query parameter", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "City Brain API", "version": "1.0.0",
                 "description": "Read-only JSON view of the city's KPIs, feeds and live entities."},
        "servers": [{"url": "/"}],
        "paths": {
            "/healthz": {"get": {"summary": "Liveness: 200 when Redis answers, 503 when not",
                                 "responses": {"200": {"description": "Redis answers", "content": {"application/json": {
                                     "schema": {"$ref": "#/components/schemas/Health"}}}},
                                     "503": {"description": "Redis down", "content": {"application/json": {
                                         "schema": {"$ref": "#/components/schemas/Health"}}}}}}},
            "/api/v1/kpis": {"get": {"summary": "Every KPI with status and district breakdown",
                                     "parameters": [{"name": "domain", "in": "query", "required": False,
                                                     "schema": {"type": "string"}}],
                                     "responses": {**_ok("KpiList", "KPIs"), **bad}}},
            "/api/v1/kpis/{id}": {"get": {"summary": "One KPI with its history",
                                          "parameters": [{"name": "id", "in": "path", "required": True,
                                                          "schema": {"type": "string"}},
                                                         {"name": "since", "in": "query", "required": False,
                                                          "schema": {"type": "string", "format": "date-time"}}],
                                          "responses": {**_ok("KpiWithHistory", "The KPI"), **bad,
                                                        "404": {"description": "Unknown KPI id", "content": {
                                                            "application/json": {"schema": {
                                                                "$ref": "#/components/schemas/Error"}}}}}}},
            "/api/v1/feeds": {"get": {"summary": "Health of every feed", "responses": _ok("FeedList", "Feeds")}},
            "/api/v1/links": {"get": {"summary": "Road links with their latest speed",
                                      "parameters": [{"name": "district", "in": "query", "required": False,
                                                      "schema": {"type": "string"}}],
                                      "responses": {**_ok("LinkList", "Links"), **bad}}},
            "/api/v1/road-incidents": {"get": {"summary": "Open road incidents",
                                               "responses": _ok("RoadIncidentList", "Incidents")}},
            "/api/v1/districts": {"get": {"summary": "Districts and their outlines, as GeoJSON",
                                          "responses": _ok("Districts", "A GeoJSON FeatureCollection")}},
            "/api/v1/deadletters": {"get": {"summary": "Newest rejected records, with reasons",
                                            "parameters": [{"name": "count", "in": "query", "required": False,
                                                            "schema": {"type": "integer", "minimum": 1,
                                                                       "maximum": 1000}}],
                                            "responses": {**_ok("DeadLetterList", "Dead letters"), **bad}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document",
                                             "responses": {"200": {"description": "OpenAPI document"}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "Health": {"type": "object", "required": ["status", "redis"],
                       "properties": {"status": {"type": "string"}, "redis": {"type": "string", "enum": ["up", "down"]},
                                      "time": _TIME}},
            "Kpi": kpi, "KpiWithHistory": kpi_with_history, "KpiList": wrap("kpis", {"$ref": "#/components/schemas/Kpi"}),
            "Feed": feed, "FeedList": wrap("feeds", {"$ref": "#/components/schemas/Feed"}),
            "Link": link, "LinkList": wrap("links", {"$ref": "#/components/schemas/Link"}),
            "RoadIncidentList": wrap("incidents", {"type": "object", "required": ["id", "status"],
                                                   "properties": {"id": {"type": "string"},
                                                                  "status": {"type": "string"}}}),
            "Districts": {"type": "object", "required": ["type", "features"], "properties": {
                "type": {"const": "FeatureCollection"},
                "features": {"type": "array", "items": {
                    "type": "object", "required": ["type", "id", "properties", "geometry"],
                    "properties": {"type": {"const": "Feature"}, "id": {"type": "string"},
                                   "properties": {"type": "object", "required": ["id", "name"]},
                                   "geometry": {"type": "object", "required": ["type", "coordinates"]}}}}}},
            "DeadLetterList": wrap("deadletters", {"type": "object", "required": ["id", "adapter", "reason", "raw"],
                                                   "properties": {"id": {"type": "string"},
                                                                  "adapter": {"type": "string"},
                                                                  "reason": {"type": "string"},
                                                                  "raw": {"type": "string"},
                                                                  "at": {"type": "string"}}}),
        }},
    }
