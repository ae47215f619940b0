"""Services API: /api/v1/centres, /api/v1/centres/{id}, /api/v1/requests (architecture.md, "Contracts")."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, request

from dashboard.api import error_response, json_response
from dashboard.openapi import BAD, NOT_FOUND, NUM, STR, TIME, ok, ref, wrap
from dashboard.pages.services import centre_status
from dashboard.reads import services as reads
from feeds.adapters.service_queues import SLOT_MIN
from feeds.timeparse import epoch_to_iso

REQUEST_STATUSES = ("open", "closed", "all")
MAX_LIMIT = 100_000


def _kpis(store) -> dict[str, dict]:
    return {k["id"]: k for k in store.kpis(domain="services")}


def _as_of(kpis) -> float | None:
    iso = kpis["services.people_waiting"]["as_of"]
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def centre_out(row: dict, kpis: dict[str, dict]) -> dict:
    status = centre_status(row, kpis)
    return {"id": row["id"], "name": row["name"], "district": row["district"], "lon": row["lon"], "lat": row["lat"],
            "hours": row["hours"], "reporting": row["reporting"], "open_now": row["open_now"], "people_waiting": row["waiting"],
            "wait_min": row["wait_min"], "open_counters": row["open_counters"],
            "scheduled_counters": row["scheduled_counters"],
            "served_within_target_pct": row["served_within_target_pct"], "status": status,
            "as_of": kpis["services.people_waiting"]["as_of"]}


def request_out(r: dict) -> dict:
    return {"id": r["id"], "status": r["status"], "type": r["type"], "service_code": r.get("code"),
            "district": r.get("district"), "lat": r.get("lat"), "lon": r.get("lon"), "address": r.get("address"),
            "requested": epoch_to_iso(r.get("requested")), "updated": epoch_to_iso(r.get("updated")),
            "expected": epoch_to_iso(r.get("expected")), "closed": epoch_to_iso(r.get("closed"))}


def register(api: Blueprint, store) -> None:
    @api.get("/centres")
    def centres():
        district = request.args.get("district")
        if district is not None and district not in store.city.district_ids():
            return error_response(400, f"unknown district {district!r}")
        kpis = _kpis(store)
        rows = [centre_out(c, kpis) for c in reads.centres(store, kpis) if district is None or c["district"] == district]
        return json_response({"centres": rows})

    @api.get("/centres/<centre_id>")
    def centre(centre_id: str):
        kpis = _kpis(store)
        row = next((c for c in reads.centres(store, kpis) if c["id"] == centre_id), None)
        if row is None:
            return error_response(404, f"unknown centre {centre_id!r}")
        as_of = _as_of(kpis)
        out = centre_out(row, kpis)
        out["queues"] = [{"id": q.queue, "name": q.name, "status": q.status, "people_waiting": q.waiting,
                          "wait_min": q.wait, "open_counters": q.counters, "serving": q.serving, "source": q.source,
                          "as_of": epoch_to_iso(q.t)} for q in reads.queues(store, centre_id, as_of)]
        curve = reads.wait_curve(reads.wait_slots(store, as_of), centre_id)
        out["wait_today"] = [{"slot": f"{s * SLOT_MIN // 60:02d}:{s * SLOT_MIN % 60:02d}", "wait_min": round(v, 2)}
                             for s, v in sorted(curve["today"].items())]
        out["day"] = curve["days"][0] if curve["days"] else None
        return json_response(out)

    @api.get("/requests")
    def requests_():
        status = request.args.get("status", "open")
        if status not in REQUEST_STATUSES:
            return error_response(400, f"status must be one of {', '.join(REQUEST_STATUSES)}, got {status!r}")
        district = request.args.get("district")
        if district is not None and district not in store.city.district_ids():
            return error_response(400, f"unknown district {district!r}")
        try:
            limit = int(request.args.get("limit", "10000"))
        except ValueError:
            return error_response(400, "limit must be an integer")
        if not 1 <= limit <= MAX_LIMIT:
            return error_response(400, f"limit must be between 1 and {MAX_LIMIT}")
        rtype = request.args.get("type")
        rows = []
        for s in (("open", "closed") if status == "all" else (status,)):
            rows.extend(reads.requests_by_status(store, s))
        rows = [r for r in rows if (district is None or r.get("district") == district)
                and (rtype is None or r.get("type") == rtype)]
        rows.sort(key=lambda r: r.get("requested") or 0, reverse=True)
        return json_response({"total": len(rows), "requests": [request_out(r) for r in rows[:limit]]})


def openapi() -> dict:
    centre = {"type": "object",
              "required": ["id", "name", "district", "lon", "lat", "people_waiting", "wait_min", "open_counters",
                           "scheduled_counters", "status", "as_of"],
              "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "district": STR, "lon": NUM,
                             "lat": NUM, "hours": STR, "reporting": {"type": "boolean"}, "open_now": {"type": "boolean"}, "people_waiting": NUM,
                             "wait_min": NUM, "open_counters": NUM, "scheduled_counters": NUM,
                             "served_within_target_pct": NUM,
                             "status": {"type": "string", "enum": ["ok", "warn", "breach", "stale", "no_data", "closed"]},
                             "as_of": TIME}}
    queue = {"type": "object", "required": ["id", "name", "status", "people_waiting", "wait_min"],
             "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "status": {"type": "string"},
                            "people_waiting": {"type": "integer"}, "wait_min": NUM, "open_counters": NUM,
                            "serving": STR, "source": {"type": "string"}, "as_of": TIME}}
    detail = {"allOf": [ref("Centre"), {"type": "object", "required": ["queues", "wait_today"], "properties": {
        "queues": {"type": "array", "items": ref("Queue")}, "day": STR,
        "wait_today": {"type": "array", "items": {"type": "object", "required": ["slot", "wait_min"],
                                                  "properties": {"slot": {"type": "string"}, "wait_min": NUM}}}}}]}
    req = {"type": "object", "required": ["id", "status", "type", "requested", "closed"],
           "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["open", "closed"]},
                          "type": {"type": "string"}, "service_code": STR, "district": STR, "lat": NUM, "lon": NUM,
                          "address": STR, "requested": TIME, "updated": TIME, "expected": TIME, "closed": TIME}}
    q = {"in": "query", "required": False}
    return {
        "paths": {
            "/api/v1/centres": {"get": {"summary": "Service centres with people waiting, wait and counters now",
                                        "parameters": [{"name": "district", **q, "schema": {"type": "string"}}],
                                        "responses": {**ok("CentreList", "Centres"), **BAD}}},
            "/api/v1/centres/{id}": {"get": {"summary": "One centre: its queues and today's wait curve",
                                             "parameters": [{"name": "id", "in": "path", "required": True,
                                                             "schema": {"type": "string"}}],
                                             "responses": {**ok("CentreDetail", "The centre"), **NOT_FOUND}}},
            "/api/v1/requests": {"get": {"summary": "City service requests (Open311), newest first",
                                         "parameters": [
                                             {"name": "status", **q, "schema": {"type": "string",
                                                                                "enum": list(REQUEST_STATUSES),
                                                                                "default": "open"}},
                                             {"name": "type", **q, "schema": {"type": "string"}},
                                             {"name": "district", **q, "schema": {"type": "string"}},
                                             {"name": "limit", **q, "schema": {"type": "integer", "minimum": 1,
                                                                               "maximum": MAX_LIMIT,
                                                                               "default": 10000}}],
                                         "responses": {**ok("RequestList", "Requests"), **BAD}}},
        },
        "schemas": {
            "Centre": centre, "CentreList": wrap("centres", ref("Centre")), "Queue": queue, "CentreDetail": detail,
            "ServiceRequest": req,
            "RequestList": {"type": "object", "required": ["total", "requests"],
                            "properties": {"total": {"type": "integer"},
                                           "requests": {"type": "array", "items": ref("ServiceRequest")}}},
        },
    }
