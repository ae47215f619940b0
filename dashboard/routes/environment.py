"""Environment API routes: /api/v1/stations and /api/v1/stations/{id} (history)."""
from __future__ import annotations

import time

from flask import Blueprint, request

from dashboard.api import error_response, json_response
from dashboard.openapi import BAD, NOT_FOUND, NUM, STR, TIME, ok, ref, wrap
from dashboard.reads import environment as env_reads
from feeds.environment import KINDS
from feeds.timeparse import epoch_to_iso

_KEEP = ("id", "name", "kind", "district", "lat", "lon", "source", "aqi", "beyond", "category", "colour",
         "pollutant", "pollutants", "hour_means", "laeq", "last", "limit", "period", "exceeds",
         "free_chlorine", "turbidity", "alerts", "alert", "current")


def station_json(s: dict, now: float) -> dict:
    out = {k: s.get(k) for k in _KEEP if k in s}
    out.setdefault("current", False)
    out["as_of"] = epoch_to_iso(s.get("as_of"))
    out["age_s"] = round(now - s["as_of"], 1) if s.get("as_of") else None
    if s["kind"] == "air":
        out["hour"] = epoch_to_iso(s.get("hour"))
    return out


def history_json(s: dict) -> list[dict]:
    if s["kind"] == "air":
        return [{"hour": epoch_to_iso(h["hour"]), "means": h["means"], "nowcast": h["nowcast"], "aqi": h["aqi"],
                 "beyond": h.get("beyond", False), "category": h["category"], "pollutant": h["pollutant"]}
                for h in s.get("history", [])]
    return [{**{k: v for k, v in h.items() if k != "t"}, "t": epoch_to_iso(h["t"])} for h in s.get("history", [])]


def register(api: Blueprint, store) -> None:
    @api.get("/stations")
    def stations():
        kind = request.args.get("kind")
        district = request.args.get("district")
        if kind is not None and kind not in KINDS:
            return error_response(400, f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
        if district is not None and district not in store.city.district_ids():
            return error_response(400, f"unknown district {district!r}")
        now = time.time()
        rows = [station_json(s, now) for s in env_reads.stations(store, kind, district)]
        rows.sort(key=lambda s: (s["kind"], s["id"]))
        return json_response({"stations": rows})

    @api.get("/stations/<path:station_id>")
    def station(station_id):
        s = env_reads.station(store, station_id)
        if s is None:
            return error_response(404, f"unknown station {station_id!r}")
        return json_response({**station_json(s, time.time()), "history": history_json(s)})


def openapi() -> dict:
    station = {
        "type": "object", "required": ["id", "name", "kind", "district", "as_of", "current"],
        "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS)},
            "district": STR, "lat": NUM, "lon": NUM, "source": STR, "as_of": TIME, "age_s": NUM,
            "current": {"type": "boolean", "description": "counts toward the KPIs (recent enough)"},
            "aqi": {"type": ["integer", "null"], "description": "EPA AQI (NowCast for PM); 500 with beyond=true above the top band"},
            "beyond": {"type": "boolean"}, "category": STR, "colour": STR,
            "pollutant": {"type": ["string", "null"], "description": "the pollutant responsible for the AQI"},
            "pollutants": {"type": "object", "description": "per pollutant: aqi, category, averaged concentrations"},
            "hour": TIME, "hour_means": {"type": "object"},
            "laeq": NUM, "last": NUM, "limit": NUM, "period": STR, "exceeds": {"type": "boolean"},
            "free_chlorine": NUM, "turbidity": NUM, "alerts": {"type": "array", "items": {"type": "string"}},
            "alert": {"type": "boolean"},
        },
    }
    with_history = {"allOf": [ref("Station"), {
        "type": "object", "required": ["history"],
        "properties": {"history": {"type": "array", "description": (
            "air: one entry per clock hour of the last 24 (hour, means, nowcast, aqi, category, pollutant); "
            "noise and water: their readings of the last 24 h (t, laeq | free_chlorine, turbidity)"),
            "items": {"type": "object"}}}}]}
    params = [{"name": "kind", "in": "query", "required": False, "schema": {"type": "string", "enum": list(KINDS)}},
              {"name": "district", "in": "query", "required": False, "schema": {"type": "string"}}]
    return {
        "paths": {
            "/api/v1/stations": {"get": {"summary": "Air, noise and water stations with their current state",
                                         "parameters": params,
                                         "responses": {**ok("StationList", "Stations"), **BAD}}},
            "/api/v1/stations/{id}": {"get": {
                "summary": "One station with its last 24 hours",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {**ok("StationWithHistory", "The station"), **NOT_FOUND}}},
        },
        "schemas": {"Station": station, "StationList": wrap("stations", ref("Station")),
                    "StationWithHistory": with_history},
    }
