"""Notes on the city timeline and on incidents: GET and POST /api/v1/annotations, DELETE one note,
and the audit of additions and deletions (feeds.annotations)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, request

from dashboard.api import error_response, json_response
from dashboard.auth import require_role
from dashboard.openapi import BAD, NOT_FOUND, TIME, ok, ref, wrap
from feeds.annotations import AnnotationError, Annotations, UnknownIncident, parse_target
from feeds.timeparse import epoch_to_iso

FORBIDDEN = {"403": {"description": "Needs the coordinator role", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}}


def parse_iso(text: str, name: str) -> float:
    """ISO-8601 -> epoch; without an offset it is UTC (as ``since`` of /kpis/{id})."""
    try:
        dt = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise AnnotationError(f"{name} must be an ISO-8601 time, got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def shape(note: dict) -> dict:
    return {**note, "at": epoch_to_iso(note["at"]), "created_at": epoch_to_iso(note["created_at"])}


def register(api: Blueprint, store) -> None:
    def book() -> Annotations:
        return Annotations(store.r, store.keys)

    @api.get("/annotations")
    def annotations_list():
        target = request.args.get("target")
        since = request.args.get("since")
        try:
            if target is not None:
                parse_target(target)
            since_epoch = parse_iso(since, "since") if since else None
        except AnnotationError as e:
            return error_response(400, str(e))
        notes = store.call(book().list, target, since_epoch)
        return json_response({"annotations": [shape(n) for n in notes]})

    @api.post("/annotations")
    def annotations_add():
        user = require_role("coordinator")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error_response(400, "body must be a JSON object {target, text, at?}")
        unknown = set(body) - {"target", "text", "at"}
        if unknown:
            return error_response(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        try:
            at = parse_iso(body["at"], "at") if body.get("at") is not None else None
            note = store.call(book().add, body.get("target"), body.get("text"), user.name, at)
        except UnknownIncident as e:
            return error_response(404, str(e))
        except AnnotationError as e:
            return error_response(400, str(e))
        return json_response(shape(note), 201)

    @api.delete("/annotations/<note_id>")
    def annotations_delete(note_id: str):
        user = require_role("coordinator")
        try:
            note = store.call(book().delete, note_id, user.name)
        except AnnotationError as e:
            return error_response(404, str(e))
        return json_response(shape(note))

    @api.get("/annotations/audit")
    def annotations_audit():
        rows = store.call(book().audit, 200)
        return json_response({"audit": [{**a, "at": epoch_to_iso(a["at"])} for a in rows]})


def openapi() -> dict:
    note = {"type": "object", "required": ["id", "target", "at", "text", "by", "created_at"],
            "properties": {"id": {"type": "string"},
                           "target": {"type": "string", "description": "timeline, or incident:<id>"},
                           "at": TIME, "text": {"type": "string", "maxLength": 1000}, "by": {"type": "string"},
                           "created_at": TIME}}
    new_note = {"type": "object", "required": ["target", "text"], "additionalProperties": False,
                "properties": {"target": {"type": "string"}, "text": {"type": "string", "minLength": 1,
                                                                      "maxLength": 1000},
                               "at": {"type": "string", "format": "date-time",
                                      "description": "the moment the note is about; default now; no offset = UTC"}}}
    audit = {"type": "object", "required": ["note", "action", "by", "at", "target", "text"],
             "properties": {"note": {"type": "string"}, "action": {"type": "string", "enum": ["added", "deleted"]},
                            "by": {"type": "string"}, "at": TIME, "target": {"type": "string"},
                            "text": {"type": "string"}}}
    created = {"201": {"description": "The note, as stored", "content": {"application/json": {"schema": ref("Annotation")}}}}
    return {
        "paths": {
            "/api/v1/annotations": {
                "get": {"summary": "Notes of the city timeline or of one incident, newest first",
                        "parameters": [{"name": "target", "in": "query", "required": False,
                                        "schema": {"type": "string"}, "description": "timeline or incident:<id>; "
                                                                                     "without it, every note"},
                                       {"name": "since", "in": "query", "required": False,
                                        "schema": {"type": "string", "format": "date-time"}}],
                        "responses": {**ok("AnnotationList", "Notes"), **BAD}},
                "post": {"summary": "Add a note (coordinator)",
                         "requestBody": {"required": True, "content": {"application/json": {"schema": ref("NewAnnotation")}}},
                         "responses": {**created, **BAD, **FORBIDDEN,
                                       "404": {"description": "Unknown incident", "content": {"application/json": {
                                           "schema": ref("Error")}}}}}},
            "/api/v1/annotations/{id}": {
                "delete": {"summary": "Delete a note (coordinator); its text stays in the audit",
                           "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                           "responses": {**ok("Annotation", "The deleted note"), **FORBIDDEN, **NOT_FOUND}}},
            "/api/v1/annotations/audit": {
                "get": {"summary": "Every note added or deleted, with who and when, newest first",
                        "responses": ok("AnnotationAudit", "The audit")}},
        },
        "schemas": {"Annotation": note, "NewAnnotation": new_note, "AnnotationList": wrap("annotations", ref("Annotation")),
                    "AnnotationAudit": wrap("audit", audit)},
    }
