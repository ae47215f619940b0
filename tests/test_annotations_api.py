"""GET and POST /api/v1/annotations: coordinators add notes, everyone signed in reads them, bad bodies say
why; the page callbacks that write refuse anyone but a coordinator."""
from __future__ import annotations

import time

import orjson
import pytest

from app import create_app
from feeds.annotations import MAX_TEXT_CHARS
from feeds.config import Settings
from feeds.timeparse import epoch_to_iso
from tests.auth_helpers import bearer
from tests.notes_helpers import Roles

HOUR_AGO = epoch_to_iso(time.time() // 60 * 60 - 3600)


@pytest.fixture
def roles(r, keys, redis_url, sample_city):
    r.hset(keys.emergency_incidents(), "F-17", orjson.dumps({"id": "F-17", "status": "active"}))
    return Roles(create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), sample_city), r, keys)


@pytest.fixture
def client(roles):
    """A coordinator's session (the notes' author in these tests)."""
    return roles("coordinator")


def test_a_coordinator_adds_a_timeline_note_and_a_viewer_reads_it_with_who_and_when(roles, client):
    made = client.post("/api/v1/annotations", json={"target": "timeline", "text": "Stadium event ends",
                                                   "at": HOUR_AGO})
    assert made.status_code == 201, made.json
    note = made.json
    assert note["by"] == client.user_name and note["at"] == HOUR_AGO and note["created_at"].endswith("Z")
    listed = roles("viewer").get("/api/v1/annotations?target=timeline")
    assert listed.status_code == 200 and listed.json == {"annotations": [note]}
    audit = roles("viewer").get("/api/v1/annotations/audit").json["audit"]
    assert [(a["action"], a["by"], a["note"]) for a in audit] == [("added", client.user_name, note["id"])]


def test_a_program_with_a_coordinator_token_adds_a_note_and_a_kiosk_token_reads_it(roles, r, keys):
    app = roles.app.server.test_client()
    made = app.post("/api/v1/annotations", json={"target": "timeline", "text": "from the CAD bridge"},
                    headers=bearer(r, keys, "coordinator"))
    assert made.status_code == 201 and made.json["by"].startswith("token:")
    read = app.get("/api/v1/annotations", headers=bearer(r, keys, "kiosk"))
    assert [n["text"] for n in read.json["annotations"]] == ["from the CAD bridge"]


def test_notes_of_an_incident_and_since(client):
    client.post("/api/v1/annotations", json={"target": "timeline", "text": "old",
                                             "at": epoch_to_iso(time.time() - 86400)[:-1]})
    inc = client.post("/api/v1/annotations", json={"target": "incident:F-17", "text": "roof collapse risk"}).json
    assert client.get("/api/v1/annotations?target=incident:F-17").json["annotations"] == [inc]
    recent = client.get("/api/v1/annotations", query_string={"since": epoch_to_iso(time.time() - 3600)})
    assert [n["text"] for n in recent.json["annotations"]] == ["roof collapse risk"]


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
    res = client.post("/api/v1/annotations", json=body)
    assert res.status_code == 400 and words in res.json["error"]
    assert client.get("/api/v1/annotations").json == {"annotations": []}


def test_a_note_on_an_unknown_incident_is_404(client):
    res = client.post("/api/v1/annotations", json={"target": "incident:F-99", "text": "x"})
    assert res.status_code == 404 and res.json == {"error": "unknown incident 'F-99'"}


def test_a_bad_query_is_400(client):
    assert client.get("/api/v1/annotations?target=city").status_code == 400
    assert client.get("/api/v1/annotations?since=soon").status_code == 400


@pytest.mark.parametrize("who, status", [("viewer", 403), ("kiosk", 403), (None, 401)])
def test_viewers_kiosks_and_strangers_cannot_add_or_delete_notes(roles, client, who, status):
    res = roles(who).post("/api/v1/annotations", json={"target": "timeline", "text": "not allowed"})
    assert res.status_code == status and ("coordinator" in res.json["error"] if status == 403 else True)
    note = client.post("/api/v1/annotations", json={"target": "timeline", "text": "kept"}).json
    assert roles(who).delete(f"/api/v1/annotations/{note['id']}").status_code == status
    assert [n["text"] for n in client.get("/api/v1/annotations").json["annotations"]] == ["kept"]


def test_a_coordinator_deletes_a_note_and_the_audit_keeps_it(roles, client, r, keys):
    note = client.post("/api/v1/annotations", json={"target": "timeline", "text": "typo"}).json
    other = roles("admin")  # an admin holds the coordinator's rights too
    gone = other.delete(f"/api/v1/annotations/{note['id']}")
    assert gone.status_code == 200 and gone.json["text"] == "typo"
    assert client.get("/api/v1/annotations").json == {"annotations": []}
    audit = client.get("/api/v1/annotations/audit").json["audit"]
    assert [(a["action"], a["by"], a["text"]) for a in audit] == [("deleted", other.user_name, "typo"),
                                                                  ("added", client.user_name, "typo")]
    assert client.delete(f"/api/v1/annotations/{note['id']}").status_code == 404


def test_the_routes_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/annotations"])
    assert "delete" in spec["paths"]["/api/v1/annotations/{id}"]
    assert "/api/v1/kpis/{id}/history.csv" in spec["paths"]
    assert spec["components"]["schemas"]["Annotation"]["required"] == ["id", "target", "at", "text", "by", "created_at"]


def post_callback(client, outputs, inputs, state):
    body = {"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": inputs, "state": state, "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    return client.post("/_dash-update-component", json=body)


def add_through(client, prefix, target_state, text):
    outs = [(f"{prefix}-note-msg", "children"), (f"{prefix}-note-text", "value"), (f"{prefix}-note-saved", "data")]
    state = [{"id": f"{prefix}-note-text", "property": "value", "value": text},
             {"id": f"{prefix}-note-at", "property": "value", "value": None}, *target_state]
    return post_callback(client, outs, [{"id": f"{prefix}-note-add", "property": "n_clicks", "value": 1}], state)


INCIDENT = [{"id": "emergency-focus", "property": "data", "value": {"incident": "F-17", "district": None}}]


@pytest.mark.parametrize("who, status", [("viewer", 403), ("kiosk", 403), (None, 401)])
def test_the_page_callbacks_that_write_refuse_anyone_but_a_coordinator(roles, client, who, status):
    assert add_through(roles(who), "timeline", [], "x").status_code == status
    assert add_through(roles(who), "kpi", [], "x").status_code == status
    assert add_through(roles(who), "emergency", INCIDENT, "x").status_code == status
    note = client.post("/api/v1/annotations", json={"target": "timeline", "text": "kept"}).json
    [output] = [d["output"] for d in client.get("/_dash-dependencies").json
                if any("note-delete" in str(i["id"]) for i in d["inputs"])]
    body = {"output": output, "outputs": [{"id": "timeline-note-msg", "property": "children"},
                                          {"id": "timeline-note-saved", "property": "data"}],
            "inputs": [[{"id": {"type": "note-delete", "note": note["id"]}, "property": "n_clicks", "value": 1}]],
            "state": [], "changedPropIds": [f'{{"note":"{note["id"]}","type":"note-delete"}}.n_clicks']}
    assert roles(who).post("/_dash-update-component", json=body).status_code == status
    assert [n["text"] for n in client.get("/api/v1/annotations").json["annotations"]] == ["kept"]
    # The same request from a coordinator deletes it: the refusals above were the role check.
    assert client.post("/_dash-update-component", json=body).status_code == 200
    assert client.get("/api/v1/annotations").json["annotations"] == []


def test_a_coordinator_notes_an_incident_through_its_drill_down_callback(client):
    res = add_through(client, "emergency", INCIDENT, "Crew rotated")
    assert res.status_code == 200
    assert res.json["response"]["emergency-note-msg"]["children"].startswith(f"Added by {client.user_name}")
    assert [n["text"] for n in client.get("/api/v1/annotations?target=incident:F-17").json["annotations"]] == [
        "Crew rotated"]
    unknown = [{"id": "emergency-focus", "property": "data", "value": {"incident": "F-99", "district": None}}]
    msg = add_through(client, "emergency", unknown, "x").json["response"]["emergency-note-msg"]["children"]
    assert msg == "Not added: unknown incident 'F-99'."
