"""Coordinators' notes on the city timeline and on incidents: who and when, every addition and deletion audited."""
from __future__ import annotations

import orjson
import pytest

from feeds.annotations import MAX_TEXT_CHARS, AnnotationError, Annotations, UnknownIncident, parse_target
from feeds.schema import NOTES_RETENTION_S

NOW = 1_800_000_000.0


@pytest.fixture
def notes(r, keys):
    r.hset(keys.emergency_incidents(), "F-17", orjson.dumps({"id": "F-17", "status": "active"}))
    return Annotations(r, keys)


def test_a_timeline_note_keeps_who_wrote_it_when_and_the_moment_it_is_about(notes):
    note = notes.add("timeline", "  Water main burst on 5th Ave  ", "ana", at=NOW - 600, now=NOW)
    assert note == {"id": note["id"], "target": "timeline", "at": NOW - 600, "text": "Water main burst on 5th Ave",
                    "by": "ana", "created_at": NOW}
    assert notes.list("timeline") == [note]


def test_notes_are_listed_newest_first_and_by_target(notes):
    first = notes.add("timeline", "shift change", "ana", at=NOW - 3600, now=NOW)
    second = notes.add("timeline", "storm warning issued", "ben", at=NOW - 60, now=NOW)
    on_incident = notes.add("incident:F-17", "second alarm requested", "ben", now=NOW)
    assert [n["text"] for n in notes.list("timeline")] == ["storm warning issued", "shift change"]
    assert notes.list("incident:F-17") == [on_incident]
    assert [n["id"] for n in notes.list()] == [on_incident["id"], second["id"], first["id"]]
    assert notes.list("timeline", since=NOW - 120) == [second]


def test_every_addition_and_deletion_is_audited_with_who_and_when(notes):
    v0 = notes.version()
    note = notes.add("timeline", "bridge closed", "ana", now=NOW)
    notes.delete(note["id"], "ben", now=NOW + 30)
    assert notes.list("timeline") == []
    assert notes.audit() == [
        {"note": note["id"], "action": "deleted", "by": "ben", "at": NOW + 30, "target": "timeline", "text": "bridge closed"},
        {"note": note["id"], "action": "added", "by": "ana", "at": NOW, "target": "timeline", "text": "bridge closed"},
    ]
    assert notes.version() == v0 + 2
    with pytest.raises(AnnotationError, match="no note"):
        notes.delete(note["id"], "ben")


@pytest.mark.parametrize("text, words", [("", "empty"), ("   ", "empty"), (None, "empty"),
                                         ("x" * (MAX_TEXT_CHARS + 1), "at most")])
def test_an_empty_or_too_long_note_is_refused(notes, text, words):
    with pytest.raises(AnnotationError, match=words):
        notes.add("timeline", text, "ana", now=NOW)
    assert notes.audit() == []


@pytest.mark.parametrize("target", ["", "city", "incident:", "incident: ", "incident:a b", None, 7])
def test_an_unknown_target_is_refused(target):
    with pytest.raises(AnnotationError, match="target must be"):
        parse_target(target)


def test_a_note_on_an_incident_the_city_never_had_is_refused(notes):
    with pytest.raises(UnknownIncident, match="unknown incident 'F-99'"):
        notes.add("incident:F-99", "wrong call", "ana", now=NOW)


def test_a_note_about_the_future_or_past_retention_is_refused(notes):
    with pytest.raises(AnnotationError, match="future"):
        notes.add("timeline", "later", "ana", at=NOW + 3600, now=NOW)
    with pytest.raises(AnnotationError, match="older than"):
        notes.add("timeline", "long ago", "ana", at=NOW - NOTES_RETENTION_S - 1, now=NOW)


def test_notes_past_retention_are_forgotten_when_a_new_one_is_added(notes):
    old = notes.add("timeline", "old", "ana", at=NOW - 100, now=NOW)
    later = NOW + NOTES_RETENTION_S + 1
    new = notes.add("timeline", "new", "ana", now=later)
    assert notes.list("timeline") == [new]
    assert old["id"] not in [n["id"] for n in notes.list()]
