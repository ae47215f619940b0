"""CSV downloads of a KPI's history and of its district breakdown (dashboard.reads.kpi).

Server-side, unlike the page tables' CSV (assets/export.js builds those from the cells in the
browser): a KPI's history holds up to 8 days of minute points, far more than any page draws, and a
program can fetch it with a token like any other API route."""
from __future__ import annotations

import time

from flask import Blueprint, Response, request

from dashboard.api import error_response
from dashboard.openapi import BAD, NOT_FOUND
from dashboard.reads import kpi as kpi_reads
from feeds.kpi.catalogue import CATALOGUE


def csv_response(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def register(api: Blueprint, store) -> None:
    @api.get("/kpis/<kpi_id>/history.csv")
    def kpi_history_csv(kpi_id: str):
        if kpi_id not in CATALOGUE:
            return error_response(404, f"unknown KPI {kpi_id!r}")
        range_name = kpi_reads.parse_range(request.args.get("range"))
        if range_name is None:
            return error_response(400, f"range must be one of {', '.join(kpi_reads.RANGES)}")
        now = time.time()
        points = kpi_reads.history_points(store, kpi_id, kpi_reads.since_of(range_name, now))
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        return csv_response(kpi_reads.history_csv(points), f"{kpi_id}-{range_name}-{day}.csv")

    @api.get("/kpis/<kpi_id>/districts.csv")
    def kpi_districts_csv(kpi_id: str):
        kpi = store.kpi(kpi_id, since=time.time())  # the history is not needed here
        if kpi is None:
            return error_response(404, f"unknown KPI {kpi_id!r}")
        day = time.strftime("%Y-%m-%d", time.gmtime())
        return csv_response(kpi_reads.districts_csv(store, kpi), f"{kpi_id}-districts-{day}.csv")


def openapi() -> dict:
    csv_ok = {"200": {"description": "CSV (text/csv, UTF-8), one header row"}}
    return {"paths": {
        "/api/v1/kpis/{id}/history.csv": {"get": {
            "summary": "A KPI's stored history as CSV: time_utc, epoch_s, value, status (one row a minute)",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "range", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": list(kpi_reads.RANGES), "default": "day"}}],
            "responses": {**csv_ok, **BAD, **NOT_FOUND}}},
        "/api/v1/kpis/{id}/districts.csv": {"get": {
            "summary": "A KPI's value and status per district as CSV, districts that miss the target first",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {**csv_ok, **NOT_FOUND}}},
    }, "schemas": {}}
