"""Emergency API routes (architecture.md, "Contracts"):

    GET /api/v1/incidents?status=active|closed[&district=D]   incidents, queue order or newest closed first
    GET /api/v1/incidents/{id}                                  one incident with its timeline
    GET /api/v1/units[?status=S][&station=ID]                   the unit status board
Times are ISO-8601 UTC; ``age_s`` and ``in_status_s`` are worked out at the time of the request.
"""
from __future__ import annotations

import time

from flask import Blueprint, request

from dashboard.api import error_response, json_response
from dashboard.openapi import BAD, NOT_FOUND, NUM, STR, TIME, ok, ref, wrap
from dashboard.pages.emergency import incident_stuck, queue_order, unit_stuck
from dashboard.reads import emergency as reads
from feeds.adapters.emergency import UNIT_STATUSES
from feeds.timeparse import epoch_to_iso

UNIT_TIME_FIELDS = ("dispatched", "en_route", "on_scene", "transporting", "at_hospital", "available")


def incident_row(inc: dict, now: float, conf) -> dict:
    return {
        "id": inc["id"], "status": inc["status"], "type": inc.get("type"), "category": inc.get("category"),
        "priority": inc.get("priority"), "priority_label": inc.get("priority_label"), "address": inc.get("address"),
        "lat": inc.get("lat"), "lon": inc.get("lon"), "district": inc.get("district"), "source": inc.get("source"),
        "opened": epoch_to_iso(inc.get("opened")), "closed": epoch_to_iso(inc.get("closed")),
        "updated": epoch_to_iso(inc.get("updated")),
        "age_s": round(now - inc["opened"], 1) if inc.get("opened") and inc["status"] == "active" else None,
        "no_update_flag": incident_stuck(inc, now, conf),
        "units": [u["unit"] for u in inc.get("units") or []],
        "first_arriving": inc.get("first_arriving"),
        "call_processing_s": inc.get("call_processing_s"), "travel_s": inc.get("travel_s"),
        "response_s": inc.get("response_s"),
    }


def timeline(inc: dict) -> dict:
    units = []
    for u in inc.get("units") or []:
        row = {"unit": u["unit"], "unit_type": u.get("unit_type"), "status": u.get("status"),
               "cancelled": bool(u.get("cancelled")), "first_arriving": u["unit"] == inc.get("first_arriving")}
        for f in UNIT_TIME_FIELDS:
            row[f] = epoch_to_iso(u.get(f))
        row["turnout_s"] = u["en_route"] - u["dispatched"] if u.get("en_route") and u.get("dispatched") else None
        row["travel_s"] = u["on_scene"] - u["en_route"] if u.get("on_scene") and u.get("en_route") else None
        units.append(row)
    events = []
    for member, t in sorted((inc.get("times") or {}).items(), key=lambda kv: kv[1]):
        unit, _, status = member.partition("|")
        events.append({"time": epoch_to_iso(t), "unit": unit or None, "status": status})
    return {"received": epoch_to_iso(inc.get("opened")), "entry": epoch_to_iso(inc.get("entry")),
            "first_dispatch": epoch_to_iso(inc.get("first_dispatch")),
            "first_on_scene": epoch_to_iso(inc.get("first_on_scene")), "units": units, "events": events}


def unit_row(u: dict, now: float, conf) -> dict:
    return {"id": u["id"], "type": u.get("type"), "station": u.get("station"), "station_name": u.get("station_name"),
            "district": u.get("district"), "status": u.get("status"), "since": epoch_to_iso(u.get("since")),
            "in_status_s": round(now - u["since"], 1) if u.get("since") else None,
            "stuck_flag": unit_stuck(u, now, conf), "incident": u.get("incident"),
            "lat": u.get("lat"), "lon": u.get("lon")}


def register(api: Blueprint, store) -> None:
    @api.get("/incidents")
    def incidents():
        status = request.args.get("status", "active")
        if status not in ("active", "closed"):
            return error_response(400, f"status must be active or closed, got {status!r}")
        district = request.args.get("district")
        if district is not None and district not in store.city.district_ids():
            return error_response(400, f"unknown district {district!r}")
        now, conf = time.time(), reads.config(store)
        rows = queue_order(reads.active_incidents(store)) if status == "active" else reads.closed_incidents(store)
        return json_response({"incidents": [incident_row(i, now, conf) for i in rows
                                            if district is None or i.get("district") == district]})

    @api.get("/incidents/<incident_id>")
    def incident(incident_id: str):
        inc = reads.incident(store, incident_id)
        if inc is None:
            return error_response(404, f"no incident {incident_id!r}")
        now, conf = time.time(), reads.config(store)
        return json_response({**incident_row(inc, now, conf), "timeline": timeline(inc)})

    @api.get("/units")
    def units():
        status = request.args.get("status")
        if status is not None and status not in UNIT_STATUSES:
            return error_response(400, f"status must be one of {', '.join(UNIT_STATUSES)}, got {status!r}")
        station = request.args.get("station")
        now, conf = time.time(), reads.config(store)
        rows = [unit_row(u, now, conf) for u in reads.units(store)
                if (status is None or u.get("status") == status) and (station is None or u.get("station") == station)]
        return json_response({"units": rows})


def openapi() -> dict:
    incident = {"type": "object",
                "required": ["id", "status", "type", "priority", "district", "opened", "closed", "units"],
                "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["active", "closed"]},
                               "type": STR, "category": {"type": ["string", "null"], "enum": ["ems", "fire", None]},
                               "priority": {"type": ["integer", "null"], "description": "1 is most urgent"},
                               "priority_label": STR, "address": STR, "lat": NUM, "lon": NUM, "district": STR,
                               "source": STR, "opened": TIME, "closed": TIME, "updated": TIME, "age_s": NUM,
                               "no_update_flag": {"type": "boolean"},
                               "units": {"type": "array", "items": {"type": "string"}}, "first_arriving": STR,
                               "call_processing_s": NUM, "travel_s": NUM, "response_s": NUM}}
    unit_times = {f: TIME for f in UNIT_TIME_FIELDS}
    timeline_schema = {"type": "object", "required": ["received", "units", "events"], "properties": {
        "received": TIME, "entry": TIME, "first_dispatch": TIME, "first_on_scene": TIME,
        "units": {"type": "array", "items": {"type": "object", "required": ["unit", "status"], "properties": {
            "unit": {"type": "string"}, "unit_type": STR, "status": STR, "cancelled": {"type": "boolean"},
            "first_arriving": {"type": "boolean"}, **unit_times, "turnout_s": NUM, "travel_s": NUM}}},
        "events": {"type": "array", "items": {"type": "object", "required": ["time", "status"], "properties": {
            "time": TIME, "unit": STR, "status": {"type": "string"}}}}}}
    unit = {"type": "object", "required": ["id", "status", "since", "in_status_s", "station"],
            "properties": {"id": {"type": "string"}, "type": STR, "station": STR, "station_name": STR, "district": STR,
                           "status": {"type": ["string", "null"], "enum": [*UNIT_STATUSES, None]}, "since": TIME,
                           "in_status_s": NUM, "stuck_flag": {"type": "boolean"}, "incident": STR,
                           "lat": NUM, "lon": NUM}}
    q = lambda name, schema: {"name": name, "in": "query", "required": False, "schema": schema}  # noqa: E731
    return {
        "paths": {
            "/api/v1/incidents": {"get": {
                "summary": "Emergency incidents: active in queue order (priority, then oldest), or the newest closed",
                "parameters": [q("status", {"type": "string", "enum": ["active", "closed"], "default": "active"}),
                               q("district", {"type": "string"})],
                "responses": {**ok("IncidentList", "Incidents"), **BAD}}},
            "/api/v1/incidents/{id}": {"get": {
                "summary": "One incident with its timeline (each unit's dispatch, en route, on scene, ...)",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {**ok("IncidentWithTimeline", "The incident"), **NOT_FOUND}}},
            "/api/v1/units": {"get": {
                "summary": "The unit status board with time in status",
                "parameters": [q("status", {"type": "string", "enum": list(UNIT_STATUSES)}),
                               q("station", {"type": "string"})],
                "responses": {**ok("UnitList", "Units"), **BAD}}},
        },
        "schemas": {
            "Incident": incident, "IncidentList": wrap("incidents", ref("Incident")),
            "IncidentWithTimeline": {"allOf": [ref("Incident"), {"type": "object", "required": ["timeline"],
                                                                 "properties": {"timeline": timeline_schema}}]},
            "Unit": unit, "UnitList": wrap("units", ref("Unit")),
        },
    }
