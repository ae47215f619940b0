"""GET and POST /api/v1/annotations: coordinators add notes, everyone reads them, bad bodies say why."""
from __future__ import annotations

import time

import orjson
import pytest

from app import create_app
from feeds.annotations import MAX_TEXT_CHARS
from feeds.config import Settings
from feeds.timeparse import epoch_to_iso
from tests.notes_helpers import COORDINATOR, KIOSK, VIEWER, act_as

HOUR_AGO = epoch_to_iso(time.time() // 60 * 60 - 3600)


@pytest.fixture
def client(r, keys, redis_url, sample_city):
    r.hset(keys.emergency_incidents(), "F-17", orjson.dumps({"id": "F-17", "status": "active"}))
    app = act_as(create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), sample_city))
    return app.server.test_client()


def test_a_coordinator_adds_a_timeline_note_and_everyone_reads_it_with_who_and_when(client):
    made = client.post("/api/v1/annotations", json={"target": "timeline", "text": "Stadium event ends",
                                                   "at": HOUR_AGO}, headers=COORDINATOR)
    assert made.status_code == 201, made.json
    note = made.json
    assert note["by"] == "ana" and note["at"] == HOUR_AGO and note["created_at"].endswith("Z")
    listed = client.get("/api/v1/annotations?target=timeline", headers=VIEWER)
    assert listed.status_code == 200 and listed.json == {"annotations": [note]}
    audit = client.get("/api/v1/annotations/audit", headers=VIEWER).json["audit"]
    assert [(a["action"], a["by"], a["note"]) for a in audit] == [("added", "ana", note["id"])]


def test_notes_of_an_incident_and_since(client):
    client.post("/api/v1/annotations", json={"target": "timeline", "text": "old", "at": epoch_to_iso(time.time() - 86400)[:-1]},
                headers=COORDINATOR)
    inc = client.post("/api/v1/annotations", json={"target": "incident:F-17", "text": "roof collapse risk"},
                      headers=COORDINATOR).json
    assert client.get("/api/v1/annotations?target=incident:F-17").json["annotations"] == [inc]
    recent = client.get("/api/v1/annotations", query_string={"since": epoch_to_iso(time.time() - 3600)}).json["annotations"]
    assert [n["text"] for n in recent] == ["roof collapse risk"]


@pytest.mark.parametrize("body, words", [
    ({"target": "timeline", "text": ""}, "empty"),
    ({"target": "timeline", "text": "x" * (MAX_TEXT_CHARS + 1)}, "at most"),
    ({"target": "weather", "text": "rain"}, "target must be"),
    ({"text": "no target"}, "target must be"),
    ({"target": "timeline", "text": "t", "at": "yesterday"}, "ISO-8601"),
    ({"target": "timeline", "text": "t", "colour": "red"}, "unknown field"),
    (["timeline", "text"], "JSON object"),
])
def test_a_bad_body_is_400_with_the_reason(client, body, words):
    res = client.post("/api/v1/annotations", json=body, headers=COORDINATOR)
    assert res.status_code == 400 and words in res.json["error"]
    assert client.get("/api/v1/annotations").json == {"annotations": []}


def test_a_note_on_an_unknown_incident_is_404(client):
    res = client.post("/api/v1/annotations", json={"target": "incident:F-99", "text": "x"}, headers=COORDINATOR)
    assert res.status_code == 404 and res.json == {"error": "unknown incident 'F-99'"}


def test_a_bad_query_is_400(client):
    assert client.get("/api/v1/annotations?target=city").status_code == 400
    assert client.get("/api/v1/annotations?since=soon").status_code == 400


@pytest.mark.parametrize("who", [VIEWER, KIOSK, {}])
def test_viewers_kiosks_and_strangers_cannot_add_or_delete_notes(client, who):
    res = client.post("/api/v1/annotations", json={"target": "timeline", "text": "not allowed"}, headers=who)
    assert res.status_code == 403 and "coordinator" in res.json["error"]
    note = client.post("/api/v1/annotations", json={"target": "timeline", "text": "kept"}, headers=COORDINATOR).json
    assert client.delete(f"/api/v1/annotations/{note['id']}", headers=who).status_code == 403
    assert [n["text"] for n in client.get("/api/v1/annotations").json["annotations"]] == ["kept"]


def test_a_coordinator_deletes_a_note_and_the_audit_keeps_it(client):
    note = client.post("/api/v1/annotations", json={"target": "timeline", "text": "typo"}, headers=COORDINATOR).json
    gone = client.delete(f"/api/v1/annotations/{note['id']}", headers={"X-Test-As": "ben:coordinator"})
    assert gone.status_code == 200 and gone.json["text"] == "typo"
    assert client.get("/api/v1/annotations").json == {"annotations": []}
    audit = client.get("/api/v1/annotations/audit").json["audit"]
    assert [(a["action"], a["by"], a["text"]) for a in audit] == [("deleted", "ben", "typo"), ("added", "ana", "typo")]
    assert client.delete(f"/api/v1/annotations/{note['id']}", headers=COORDINATOR).status_code == 404


def test_the_routes_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/annotations"])
    assert "delete" in spec["paths"]["/api/v1/annotations/{id}"]
    assert "/api/v1/kpis/{id}/history.csv" in spec["paths"]
    assert spec["components"]["schemas"]["Annotation"]["required"] == ["id", "target", "at", "text", "by", "created_at"]


def post_callback(client, outputs, inputs, state, headers):
    body = {"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": inputs, "state": state, "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    return client.post("/_dash-update-component", json=body, headers=headers)


def add_through(client, output_prefix, target_state, text, headers):
    outs = [(f"{output_prefix}-note-msg", "children"), (f"{output_prefix}-note-text", "value"),
            (f"{output_prefix}-note-saved", "data")]
    state = [{"id": f"{output_prefix}-note-text", "property": "value", "value": text},
             {"id": f"{output_prefix}-note-at", "property": "value", "value": None}, *target_state]
    return post_callback(client, outs, [{"id": f"{output_prefix}-note-add", "property": "n_clicks", "value": 1}],
                         state, headers)


@pytest.mark.parametrize("who", [VIEWER, KIOSK, {}])
def test_the_page_callbacks_that_write_refuse_anyone_but_a_coordinator(client, r, keys, who):
    timeline = add_through(client, "timeline", [], "x", who)
    incident = add_through(client, "emergency", [{"id": "emergency-focus", "property": "data",
                                                  "value": {"incident": "F-17", "district": None}}], "x", who)
    assert timeline.status_code == incident.status_code == 403
    note = client.post("/api/v1/annotations", json={"target": "timeline", "text": "kept"}, headers=COORDINATOR).json
    [output] = [d["output"] for d in client.get("/_dash-dependencies").json
                if any(i["id"] == '{"note":["ALL"],"type":"note-delete"}' or "note-delete" in str(i["id"])
                       for i in d["inputs"])]
    body = {"output": output, "outputs": [{"id": "timeline-note-msg", "property": "children"},
                                          {"id": "timeline-note-saved", "property": "data"}],
            "inputs": [[{"id": {"type": "note-delete", "note": note["id"]}, "property": "n_clicks", "value": 1}]],
            "state": [], "changedPropIds": [f'{{"note":"{note["id"]}","type":"note-delete"}}.n_clicks']}
    assert client.post("/_dash-update-component", json=body, headers=who).status_code == 403
    assert [n["text"] for n in client.get("/api/v1/annotations").json["annotations"]] == ["kept"]
    # The same request from a coordinator deletes it: the refusals above were the role check.
    assert client.post("/_dash-update-component", json=body, headers=COORDINATOR).status_code == 200
    assert client.get("/api/v1/annotations").json["annotations"] == []


def test_a_coordinator_notes_an_incident_through_its_drill_down_callback(client):
    focus = [{"id": "emergency-focus", "property": "data", "value": {"incident": "F-17", "district": None}}]
    res = add_through(client, "emergency", focus, "Crew rotated", COORDINATOR)
    assert res.status_code == 200 and res.json["response"]["emergency-note-msg"]["children"].startswith("Added by ana")
    assert [n["text"] for n in client.get("/api/v1/annotations?target=incident:F-17").json["annotations"]] == [
        "Crew rotated"]
    unknown = [{"id": "emergency-focus", "property": "data", "value": {"incident": "F-99", "district": None}}]
    msg = add_through(client, "emergency", unknown, "x", COORDINATOR).json["response"]["emergency-note-msg"]["children"]
    assert msg == "Not added: unknown incident 'F-99'."
