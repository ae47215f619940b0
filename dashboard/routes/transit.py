"""Transit's API routes: /api/v1/vehicles, /api/v1/routes and /api/v1/routes/{route_id}."""
from __future__ import annotations

import time

from flask import Blueprint, request

from dashboard.api import error_response, json_response
from dashboard.openapi import BAD, NOT_FOUND, NUM, STR, TIME, ok, ref, wrap
from dashboard.pages.transit import alerts_in_force, route_rows
from dashboard.reads import transit as reads
from feeds.timeparse import epoch_to_iso

INT = {"type": ["integer", "null"]}


def vehicle_json(v: dict, now: float) -> dict:
    return {"id": v["id"], "label": v["label"], "route_id": v["r"], "trip_id": v.get("trip"),
            "direction_id": v.get("d"), "lat": v["lat"], "lon": v["lon"], "bearing": v.get("b"),
            "speed_ms": v.get("spd"), "occupancy": v.get("occ"), "stop_id": v.get("s"),
            "current_status": v.get("st"), "delay_s": v.get("dl"), "district": v.get("ds"),
            "as_of": epoch_to_iso(v["t"]), "age_s": round(now - v["t"], 1)}


def alert_json(a: dict) -> dict:
    return {"id": a["id"], "header": a["header"], "description": a["description"], "cause": a["cause"],
            "effect": a["effect"], "severity": a["severity"], "routes": a["routes"], "stops": a["stops"],
            "active_periods": [{"start": epoch_to_iso(s), "end": epoch_to_iso(e)} for s, e in a["periods"]],
            "as_of": epoch_to_iso(a["t"])}


def register(api: Blueprint, store) -> None:
    @api.get("/vehicles")
    def vehicles():
        route = request.args.get("route")
        district = request.args.get("district")
        if district is not None and district not in store.city.district_ids():
            return error_response(400, f"unknown district {district!r}")
        now = time.time()
        rows = [vehicle_json(v, now) for v in reads.vehicles(store, route)
                if district is None or v.get("ds") == district]
        rows.sort(key=lambda v: (v["route_id"], v["id"]))
        return json_response({"vehicles": rows})

    @api.get("/routes")
    def routes():
        kpis = {k["id"]: k for k in store.kpis(domain="transit")}
        routes_static, _, _ = reads.static(store)
        return json_response({"routes": route_rows(kpis, routes_static)})

    @api.get("/routes/<route_id>")
    def route(route_id: str):
        routes_static, stops, version = reads.static(store)
        if route_id not in routes_static:
            return error_response(404, f"unknown route {route_id!r}" + ("" if version else " (no schedule loaded)"))
        info = routes_static[route_id]
        now = time.time()
        kpis = {k["id"]: k for k in store.kpis(domain="transit")}
        row = next((r for r in route_rows(kpis, routes_static) if r["id"] == route_id), {})
        stats = reads.route_stats(store, route_id)
        stop_rows = []
        for sid in info.get("stops") or []:
            s, st = stops.get(sid, {}), stats.get(sid, {})
            stop_rows.append({"id": sid, "name": s.get("name"), "lat": s.get("lat"), "lon": s.get("lon"),
                              "district": s.get("district"), "mean_delay_s": st.get("delay"),
                              "departures": st.get("n", 0), "headway_mean_s": st.get("h"),
                              "headway_last_s": st.get("h_last"), "scheduled_headway_s": st.get("H"),
                              "headways": st.get("headways", 0), "bunched": st.get("bunched", 0),
                              "gapped": st.get("gapped", 0)})
        return json_response({
            "route": {"id": route_id, "short_name": info.get("short_name"), "long_name": info.get("long_name"),
                      "color": info.get("color") or None, "frequency_based": info.get("frequency_based", False),
                      "headway_s": info.get("headway_s"), "shape": info.get("shape") or []},
            "kpis": {k: row.get(k) for k in ("on_time_pct", "mean_delay_s", "bunched_pct", "headway_cv",
                                             "in_service", "scheduled")},
            "as_of": kpis["transit.on_time_pct"]["as_of"],
            "stops": stop_rows,
            "vehicles": [vehicle_json(v, now) for v in reads.vehicles(store, route_id)],
            "alerts": [alert_json(a) for a in alerts_in_force(reads.alerts(store, route_id), now)],
        })


def openapi() -> dict:
    vehicle = {"type": "object", "required": ["id", "route_id", "lat", "lon", "delay_s", "as_of"],
               "properties": {"id": {"type": "string"}, "label": {"type": "string"}, "route_id": {"type": "string"},
                              "trip_id": STR, "direction_id": INT, "lat": {"type": "number"},
                              "lon": {"type": "number"}, "bearing": NUM, "speed_ms": NUM, "occupancy": STR,
                              "stop_id": STR, "current_status": STR,
                              "delay_s": {**NUM, "description": "current delay of the bus's trip (GTFS-RT rules); "
                                                                "positive is late"},
                              "district": STR, "as_of": TIME, "age_s": NUM}}
    route_row = {"type": "object", "required": ["id", "name", "in_service", "on_time_pct", "bunched_pct"],
                 "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "long_name": {"type": "string"},
                                "in_service": {"type": "integer"}, "scheduled": INT, "on_time_pct": NUM,
                                "mean_delay_s": NUM, "bunched_pct": NUM, "headway_cv": NUM}}
    stop = {"type": "object", "required": ["id", "name", "mean_delay_s", "headway_mean_s", "scheduled_headway_s"],
            "properties": {"id": {"type": "string"}, "name": STR, "lat": NUM, "lon": NUM, "district": STR,
                           "mean_delay_s": NUM, "departures": {"type": "integer"}, "headway_mean_s": NUM,
                           "headway_last_s": NUM, "scheduled_headway_s": NUM, "headways": {"type": "integer"},
                           "bunched": {"type": "integer"}, "gapped": {"type": "integer"}}}
    alert = {"type": "object", "required": ["id", "header", "effect", "routes"],
             "properties": {"id": {"type": "string"}, "header": {"type": "string"},
                            "description": {"type": "string"}, "cause": {"type": "string"},
                            "effect": {"type": "string"}, "severity": {"type": "string"},
                            "routes": {"type": "array", "items": {"type": "string"}},
                            "stops": {"type": "array", "items": {"type": "string"}},
                            "active_periods": {"type": "array", "items": {"type": "object"}}, "as_of": TIME}}
    detail = {"type": "object", "required": ["route", "kpis", "stops", "vehicles", "alerts"],
              "properties": {"route": {"type": "object", "required": ["id", "short_name"]},
                             "kpis": {"type": "object"}, "as_of": TIME,
                             "stops": {"type": "array", "items": ref("TransitStop")},
                             "vehicles": {"type": "array", "items": ref("Vehicle")},
                             "alerts": {"type": "array", "items": ref("ServiceAlert")}}}
    return {
        "paths": {
            "/api/v1/vehicles": {"get": {
                "summary": "Every bus's newest position and current delay",
                "parameters": [{"name": "route", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "district", "in": "query", "required": False, "schema": {"type": "string"}}],
                "responses": {**ok("VehicleList", "Buses"), **BAD}}},
            "/api/v1/routes": {"get": {"summary": "Bus routes with on-time, delay, bunching and headway CV",
                                       "responses": ok("RouteList", "Routes")}},
            "/api/v1/routes/{route_id}": {"get": {
                "summary": "One route: its KPIs, stops (delay and headways), buses and the service alerts in force now",
                "parameters": [{"name": "route_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {**ok("RouteDetail", "The route"), **NOT_FOUND}}},
        },
        "schemas": {"Vehicle": vehicle, "VehicleList": wrap("vehicles", ref("Vehicle")),
                    "RouteRow": route_row, "RouteList": wrap("routes", ref("RouteRow")),
                    "TransitStop": stop, "ServiceAlert": alert, "RouteDetail": detail},
    }
