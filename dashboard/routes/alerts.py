"""Alerts API: GET /api/v1/alerts, GET /api/v1/alerts/{id}, POST .../ack, .../assign, .../comment.

Every POST checks the coordinator role first (dashboard.auth.require_role), then the body: 400 for a bad
body, 404 for an unknown alert, 409 when the alert has already cleared. See docs/alerts.md.
"""
from __future__ import annotations

from flask import Blueprint, request

from dashboard.api import error_response, json_response
from dashboard.auth import require_role
from dashboard.openapi import BAD, NOT_FOUND, NUM, STR, TIME, ok, ref, wrap
from dashboard.reads import alerts as reads
from feeds.alerts import MAX_COMMENT_CHARS, SEVERITIES, AlertCleared, AlertError, UnknownAlert


def register(api: Blueprint, store) -> None:
    @api.get("/alerts")
    def alerts():
        state = request.args.get("state", "open")
        if state not in reads.STATES:
            return error_response(400, f"state must be one of {', '.join(reads.STATES)}, got {state!r}")
        severity = request.args.get("severity") or None
        if severity is not None and severity not in SEVERITIES:
            return error_response(400, f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        district = request.args.get("district") or None
        if district is not None and district not in store.city.district_ids():
            return error_response(400, f"unknown district {district!r}")
        rows = reads.alerts(store, state, severity, district)
        return json_response({"alerts": [reads.api_shape(a) for a in rows]})

    @api.get("/alerts/<alert_id>")
    def alert(alert_id: str):
        a = reads.alert(store, alert_id)
        if a is None:
            return error_response(404, f"unknown alert {alert_id!r}")
        out = reads.api_shape(a)
        out["audit"] = [reads.audit_shape(e) for e in reads.audit(store, alert_id)]
        return json_response(out)

    def act(alert_id: str, action):
        try:
            a = store.call(action)
        except UnknownAlert:
            return error_response(404, f"unknown alert {alert_id!r}")
        except AlertCleared:
            return error_response(409, f"alert {alert_id} has already cleared")
        except AlertError as e:
            return error_response(400, str(e))
        return json_response(reads.api_shape(a))

    def body() -> dict | None:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else None

    @api.post("/alerts/<alert_id>/ack")
    def acknowledge(alert_id: str):
        user = require_role("coordinator")
        return act(alert_id, lambda: reads.book(store).acknowledge(alert_id, user.name))

    @api.post("/alerts/<alert_id>/assign")
    def assign(alert_id: str):
        user = require_role("coordinator")
        data = body()
        assignee = (data or {}).get("assignee", ...)
        if data is None or not (assignee is None or isinstance(assignee, str)) or assignee is ...:
            return error_response(400, 'body must be JSON {"assignee": "name"} (null or "" unassigns)')
        if assignee and len(assignee) > 100:
            return error_response(400, "assignee is at most 100 characters")
        return act(alert_id, lambda: reads.book(store).assign(alert_id, assignee, user.name))

    @api.post("/alerts/<alert_id>/comment")
    def comment(alert_id: str):
        user = require_role("coordinator")
        data = body()
        text = (data or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            return error_response(400, 'body must be JSON {"text": "..."} with some text')
        if len(text.strip()) > MAX_COMMENT_CHARS:
            return error_response(400, f"text is at most {MAX_COMMENT_CHARS} characters")
        return act(alert_id, lambda: reads.book(store).comment(alert_id, text, user.name))


def openapi() -> dict:
    severity = {"type": "string", "enum": list(SEVERITIES)}
    focus = {"type": ["object", "null"], "required": ["lat", "lon", "zoom"],
             "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}, "zoom": {"type": "number"}}}
    alert = {"type": "object",
             "required": ["id", "rule", "scope", "severity", "base_severity", "title", "message", "state",
                          "acknowledged", "raised_at", "view", "focus"],
             "properties": {
                 "id": {"type": "string"}, "rule": {"type": "string"}, "scope": {"type": "string"},
                 "severity": severity, "base_severity": severity, "title": {"type": "string"},
                 "message": {"type": "string"}, "value": NUM,
                 "state": {"type": "string", "enum": ["active", "acknowledged", "cleared"]},
                 "acknowledged": {"type": "boolean"}, "raised_at": TIME, "updated_at": TIME,
                 "acknowledged_at": TIME, "acknowledged_by": STR, "cleared_at": TIME, "cleared_by": STR,
                 "assignee": STR, "escalations": {"type": "integer"}, "escalated_at": TIME, "age_s": NUM,
                 "comments": {"type": "array", "items": {"type": "object", "required": ["at", "by", "text"],
                                                         "properties": {"at": TIME, "by": {"type": "string"},
                                                                        "text": {"type": "string"}}}},
                 "view": {"type": "string", "description": "the page that explains it, e.g. /district/D2"},
                 "focus": focus, "kpi": STR, "district": STR, "feed": STR}}
    entry = {"type": "object", "required": ["alert", "action", "by", "at"],
             "properties": {"alert": {"type": "string"}, "action": {"type": "string",
                            "enum": ["raised", "escalated", "acknowledged", "assigned", "commented", "cleared"]},
                            "by": {"type": "string"}, "at": TIME, "detail": {"type": "object"}}}
    detail = {"allOf": [ref("Alert"), {"type": "object", "required": ["audit"],
                                        "properties": {"audit": {"type": "array", "items": ref("AlertAuditEntry")}}}]}
    q = {"in": "query", "required": False}
    path_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    err = {"content": {"application/json": {"schema": ref("Error")}}}
    acts = {"403": {"description": "Needs the coordinator role", **err},
            "409": {"description": "The alert has already cleared", **err}}

    def post(summary, body_schema=None):
        op = {"summary": summary, "parameters": [path_id],
              "responses": {**ok("Alert", "The alert after the change"), **BAD, **NOT_FOUND, **acts}}
        if body_schema:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
        return {"post": op}

    return {
        "paths": {
            "/api/v1/alerts": {"get": {
                "summary": "Alerts, most severe first (open), or newest cleared first",
                "parameters": [{"name": "state", **q, "schema": {"type": "string", "enum": list(reads.STATES),
                                                                  "default": "open"}},
                               {"name": "severity", **q, "schema": severity},
                               {"name": "district", **q, "schema": {"type": "string"}}],
                "responses": {**ok("AlertList", "Alerts"), **BAD}}},
            "/api/v1/alerts/{id}": {"get": {"summary": "One alert with its audit trail (who and when)",
                                            "parameters": [path_id],
                                            "responses": {**ok("AlertDetail", "The alert"), **NOT_FOUND}}},
            "/api/v1/alerts/{id}/ack": post("Acknowledge an alert (coordinator)"),
            "/api/v1/alerts/{id}/assign": post("Assign an alert to someone (coordinator)", {
                "type": "object", "required": ["assignee"], "properties": {"assignee": STR}}),
            "/api/v1/alerts/{id}/comment": post("Comment on an alert (coordinator)", {
                "type": "object", "required": ["text"],
                "properties": {"text": {"type": "string", "minLength": 1, "maxLength": MAX_COMMENT_CHARS}}}),
        },
        "schemas": {"Alert": alert, "AlertList": wrap("alerts", ref("Alert")), "AlertDetail": detail,
                    "AlertAuditEntry": entry},
    }
