"""The OpenAPI 3.1 document served at /api/v1/openapi.json."""
from __future__ import annotations

from feeds.kpi.catalogue import CATALOGUE
from feeds.kpi.status import STATUSES
from dashboard.store import FEED_STATUSES

NUM = {"type": ["number", "null"]}
STR = {"type": ["string", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}


def ok(ref: str, description: str) -> dict:
    return {"200": {"description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}},
            "503": {"description": "Redis unreachable", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}}


BAD = {"400": {"description": "Bad query parameter", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}}
NOT_FOUND = {"404": {"description": "Not found", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}}


def wrap(key: str, item: dict) -> dict:
    """An object with one required array ``key`` of ``item``."""
    return {"type": "object", "required": [key], "properties": {key: {"type": "array", "items": item}}}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def openapi_document() -> dict:
    status = {"type": "string", "enum": list(STATUSES)}
    district_value = {"type": "object", "required": ["value", "status"],
                      "properties": {"value": NUM, "status": status}}
    kpi = {
        "type": "object",
        "required": ["id", "domain", "name", "value", "unit", "target", "direction", "status", "as_of",
                     "window", "standard", "by_district"],
        "properties": {
            "id": {"type": "string", "enum": list(CATALOGUE)}, "domain": {"type": "string"},
            "name": {"type": "string"}, "value": NUM, "unit": {"type": "string"}, "target": NUM, "warn": NUM,
            "direction": {"type": "string", "enum": ["higher", "lower", "none"]}, "status": status,
            "as_of": TIME, "age_s": NUM, "window": {"type": "string"}, "standard": {"type": "string"},
            "definition": {"type": "string"}, "clock": {"type": "string"}, "decimals": {"type": "integer"},
            "by_district": {"type": "object", "additionalProperties": district_value},
            "detail": {"type": "object"},
        },
    }
    kpi_with_history = {"allOf": [{"$ref": "#/components/schemas/Kpi"}, {
        "type": "object", "required": ["history"], "properties": {"history": {"type": "array", "items": {
            "type": "object", "required": ["t", "value", "status"],
            "properties": {"t": TIME, "value": {"type": "number"}, "status": status}}}}}]}
    feed = {"type": "object",
            "required": ["name", "status", "last_success", "records", "rejected", "lag_s"],
            "properties": {"name": {"type": "string"}, "domain": {"type": "string"}, "title": {"type": "string"},
                           "status": {"type": "string", "enum": list(FEED_STATUSES)}, "last_success": TIME,
                           "last_error": STR, "records": {"type": "integer"}, "rejected": {"type": "integer"},
                           "duplicates": {"type": "integer"}, "skipped": {"type": "integer"},
                           "warnings": {"type": "integer"}, "newest": TIME, "lag_s": NUM,
                           "age_s": NUM, "interval_s": {"type": "number"},
                           "last_batch": {"type": ["object", "null"]}}}
    doc = {
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
                                     "responses": {**ok("KpiList", "KPIs"), **BAD}}},
            "/api/v1/kpis/{id}": {"get": {"summary": "One KPI with its history",
                                          "parameters": [{"name": "id", "in": "path", "required": True,
                                                          "schema": {"type": "string"}},
                                                         {"name": "since", "in": "query", "required": False,
                                                          "schema": {"type": "string", "format": "date-time"}}],
                                          "responses": {**ok("KpiWithHistory", "The KPI"), **BAD,
                                                        "404": {"description": "Unknown KPI id", "content": {
                                                            "application/json": {"schema": {
                                                                "$ref": "#/components/schemas/Error"}}}}}}},
            "/api/v1/feeds": {"get": {"summary": "Health of every feed", "responses": ok("FeedList", "Feeds")}},
            "/api/v1/districts": {"get": {"summary": "Districts and their outlines, as GeoJSON",
                                          "responses": ok("Districts", "A GeoJSON FeatureCollection")}},
            "/api/v1/deadletters": {"get": {"summary": "Newest rejected records, with reasons",
                                            "parameters": [{"name": "count", "in": "query", "required": False,
                                                            "schema": {"type": "integer", "minimum": 1,
                                                                       "maximum": 1000}}],
                                            "responses": {**ok("DeadLetterList", "Dead letters"), **BAD}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document",
                                             "responses": {"200": {"description": "OpenAPI document"}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "Health": {"type": "object", "required": ["status", "redis"],
                       "properties": {"status": {"type": "string"}, "redis": {"type": "string", "enum": ["up", "down"]},
                                      "time": TIME}},
            "Kpi": kpi, "KpiWithHistory": kpi_with_history, "KpiList": wrap("kpis", {"$ref": "#/components/schemas/Kpi"}),
            "Feed": feed, "FeedList": wrap("feeds", {"$ref": "#/components/schemas/Feed"}),
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
    # Each domain's paths and schemas: dashboard.routes.<domain>.openapi() (see feeds.plugins).
    from feeds.plugins import package_modules

    for mod in package_modules("dashboard.routes", "openapi").values():
        part = mod.openapi()
        doc["paths"].update(part.get("paths", {}))
        doc["components"]["schemas"].update(part.get("schemas", {}))
    return doc
