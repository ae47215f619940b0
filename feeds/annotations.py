"""Annotations: timestamped notes coordinators add to the city timeline and to emergency incidents.

A note is about a moment (``at``: when the thing it describes happened, by default when it was written)
and keeps who wrote it and when (``by``, ``created_at``). Targets:
  ``timeline``          the city timeline: shown on every KPI trend chart
  ``incident:<id>``     an emergency incident: shown on its drill-down and on the emergency KPIs' charts

Stored (``Keys.notes``, JSON per id): id, target, at, text, by, created_at. Each target has an index
by ``at`` (``Keys.notes_of``) and every note is in ``Keys.notes_by_time``. Every addition and deletion
is appended to the audit stream ``Keys.notes_audit`` as {note, action, by, at, target, text}; a deleted
note's text stays in the audit. Notes older than NOTES_RETENTION_S are forgotten when a new one is added.

Writers: operator actions from the web (the page's add box and ``POST /api/v1/annotations``), which
check the coordinator role before calling this module. It validates what it is given, so every
writer refuses the same bad notes with the same words.
"""
from __future__ import annotations

import time

import orjson
import redis

from feeds.framework import trim_args, trim_by_age
from feeds.schema import NOTES_AUDIT_RETENTION, NOTES_RETENTION_S, Keys

TIMELINE = "timeline"
INCIDENT = "incident:"
MAX_TEXT_CHARS = 1000
FUTURE_SLACK_S = 300  # a note may be about a moment up to 5 min ahead (clocks differ a little), not later


class AnnotationError(ValueError):
    """A note that cannot be added (empty or too long text, unknown target, a time out of range)."""


class UnknownIncident(AnnotationError):
    """The target names an incident the store does not know."""


def parse_target(target) -> tuple[str, str | None]:
    """("timeline", None) or ("incident", id); AnnotationError for anything else."""
    if target == TIMELINE:
        return TIMELINE, None
    if isinstance(target, str) and target.startswith(INCIDENT):
        ident = target[len(INCIDENT):].strip()
        if ident and len(ident) <= 100 and not any(c in ident for c in "{} \t\n"):
            return "incident", ident
    raise AnnotationError(f"target must be 'timeline' or 'incident:<id>', got {target!r}")


def clean_text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise AnnotationError("text must not be empty")
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise AnnotationError(f"text is {len(text)} characters; at most {MAX_TEXT_CHARS}")
    return text


class Annotations:
    def __init__(self, r: redis.Redis, keys: Keys):
        self.r = r
        self.keys = keys

    # --- writes -----------------------------------------------------------------------
    def add(self, target: str, text: str, by: str, at: float | None = None, now: float | None = None) -> dict:
        """Add a note (``at`` defaults to now). Raises AnnotationError / UnknownIncident."""
        kind, ident = parse_target(target)
        text = clean_text(text)
        if not by:
            raise AnnotationError("a note needs its author")
        now = time.time() if now is None else now
        at = now if at is None else float(at)
        if at > now + FUTURE_SLACK_S:
            raise AnnotationError("at is in the future")
        if at < now - NOTES_RETENTION_S:
            raise AnnotationError(f"at is older than the {NOTES_RETENTION_S // 86400} days notes are kept")
        if kind == "incident" and not self.r.hexists(self.keys.emergency_incidents(), ident):
            raise UnknownIncident(f"unknown incident {ident!r}")
        note_id = f"N{self.r.incr(self.keys.notes_seq())}"
        note = {"id": note_id, "target": target, "at": round(at, 3), "text": text, "by": by,
                "created_at": round(now, 3)}
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.keys.notes(), note_id, orjson.dumps(note))
        pipe.zadd(self.keys.notes_of(target), {note_id: note["at"]})
        pipe.zadd(self.keys.notes_by_time(), {note_id: note["at"]})
        self._audit(pipe, note, "added", by, now)
        pipe.incr(self.keys.notes_version())
        pipe.execute()
        self._forget_old(now)
        return note

    def delete(self, note_id: str, by: str, now: float | None = None) -> dict:
        """Delete a note; its text stays in the audit. AnnotationError when there is no such note."""
        now = time.time() if now is None else now
        raw = self.r.hget(self.keys.notes(), note_id)
        if raw is None:
            raise AnnotationError(f"no note {note_id!r}")
        note = orjson.loads(raw)
        pipe = self.r.pipeline(transaction=True)
        pipe.hdel(self.keys.notes(), note_id)
        pipe.zrem(self.keys.notes_of(note["target"]), note_id)
        pipe.zrem(self.keys.notes_by_time(), note_id)
        self._audit(pipe, note, "deleted", by, now)
        pipe.incr(self.keys.notes_version())
        pipe.execute()
        return note

    def _audit(self, pipe, note: dict, action: str, by: str, now: float) -> None:
        pipe.xadd(self.keys.notes_audit(), {"note": note["id"], "action": action, "by": by, "at": now,
                                            "target": note["target"], "text": note["text"]},
                  **trim_args(NOTES_AUDIT_RETENTION))
        trim_by_age(pipe, self.keys.notes_audit(), NOTES_AUDIT_RETENTION, now)

    def _forget_old(self, now: float) -> None:
        old = self.r.zrangebyscore(self.keys.notes_by_time(), "-inf", f"({now - NOTES_RETENTION_S}")
        if not old:
            return
        notes = [orjson.loads(v) for v in self.r.hmget(self.keys.notes(), old) if v]
        pipe = self.r.pipeline(transaction=False)
        pipe.hdel(self.keys.notes(), *old)
        pipe.zrem(self.keys.notes_by_time(), *old)
        for note in notes:
            pipe.zrem(self.keys.notes_of(note["target"]), note["id"])
        pipe.execute()

    # --- reads ------------------------------------------------------------------------
    def list(self, target: str | None = None, since: float | None = None, until: float | None = None,
             limit: int = 500) -> list[dict]:
        """Notes of one target (or of every target), newest ``at`` first."""
        index = self.keys.notes_by_time() if target is None else self.keys.notes_of(target)
        ids = self.r.zrevrangebyscore(index, "+inf" if until is None else until,
                                      "-inf" if since is None else since, start=0, num=limit)
        if not ids:
            return []
        return [orjson.loads(v) for v in self.r.hmget(self.keys.notes(), ids) if v]

    def audit(self, count: int = 200) -> list[dict]:
        """Additions and deletions, newest first."""
        rows = self.r.xrevrange(self.keys.notes_audit(), "+", "-", count)
        return [{"note": f["note"], "action": f["action"], "by": f["by"], "at": float(f["at"]),
                 "target": f["target"], "text": f["text"]} for _, f in rows]

    def version(self) -> int:
        return int(self.r.get(self.keys.notes_version()) or 0)
