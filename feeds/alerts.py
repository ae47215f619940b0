"""Alerts: the lifecycle every alert goes through, with who and when for every change.

Lifecycle (as the IoT alarm systems operators know): an alert is raised ``active`` and
unacknowledged; a coordinator acknowledges it (``acknowledged``); it is ``cleared`` when its
condition no longer holds (or an operator clears it). A cleared alert that nobody acknowledged keeps
``acknowledged: false`` so the history shows it was missed. While open it can be assigned and
commented on; if nobody acknowledges it in time it escalates one severity step at a time.

One open alert per (rule, scope): re-raising while open updates its value and message; once it has
cleared, the next breach raises a new alert with a new id.

Stored (hash ``Keys.alerts``, JSON per id):
  id, rule, scope, severity (now), base_severity (as raised), title, message, value,
  state (active | acknowledged | cleared), acknowledged (bool), raised_at, updated_at,
  acknowledged_at/by, cleared_at/by, assignee, comments [{at, by, text}],
  escalations (count), escalated_at, view (the page that explains it, e.g. "/emergency",
  "/district/D2"), focus ({lat, lon, zoom} the map zooms to, or null), kpi, district, feed.

Every change is appended to the audit stream ``Keys.alerts_audit`` as {alert, action, by, at, detail}.
Writers: the alert evaluator (by = "system") and operator actions from the web (by = the user).
Both go through this module; read-modify-write is guarded with WATCH so they never lose a change.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import orjson
import redis

from feeds.framework import trim_args
from feeds.schema import ALERT_AUDIT_RETENTION, ALERT_CLOSED_RETENTION_S, Keys

SEVERITIES = ("critical", "major", "minor", "warning")  # most severe first
SYSTEM = "system"
MAX_COMMENT_CHARS = 2000


class AlertError(Exception):
    """An operator action that cannot be done (unknown alert, already cleared, empty comment)."""


class UnknownAlert(AlertError):
    """No alert has this id (the API answers 404)."""


class AlertCleared(AlertError):
    """The alert has cleared: it can no longer be acknowledged or assigned (the API answers 409)."""


def more_severe(severity: str) -> str:
    """One step up the scale; critical stays critical."""
    i = SEVERITIES.index(severity)
    return SEVERITIES[max(0, i - 1)]


def severity_rank(severity: str) -> int:
    """0 for critical ... 3 for warning: sort key, most severe first."""
    return SEVERITIES.index(severity)


class AlertBook:
    def __init__(self, r: redis.Redis, keys: Keys):
        self.r = r
        self.keys = keys

    # --- reads ------------------------------------------------------------------------
    def get(self, alert_id: str) -> dict | None:
        raw = self.r.hget(self.keys.alerts(), alert_id)
        return orjson.loads(raw) if raw else None

    def open_alerts(self) -> list[dict]:
        """Alerts not cleared, most severe first, then oldest first."""
        ids = list(self.r.hvals(self.keys.alerts_open()))
        if not ids:
            return []
        alerts = [orjson.loads(v) for v in self.r.hmget(self.keys.alerts(), ids) if v]
        return sorted(alerts, key=lambda a: (severity_rank(a["severity"]), a["raised_at"]))

    def cleared_alerts(self, limit: int = 100) -> list[dict]:
        """The most recently cleared alerts, newest first."""
        ids = self.r.zrevrange(self.keys.alerts_cleared(), 0, limit - 1)
        if not ids:
            return []
        return [orjson.loads(v) for v in self.r.hmget(self.keys.alerts(), ids) if v]

    def audit(self, alert_id: str | None = None, count: int = 200) -> list[dict]:
        """State changes, newest first (of one alert, or of all)."""
        rows = self.r.xrevrange(self.keys.alerts_audit(), "+", "-", count if alert_id is None else 10 * count)
        out = []
        for rid, f in rows:
            if alert_id is not None and f.get("alert") != alert_id:
                continue
            out.append({"alert": f.get("alert"), "action": f.get("action"), "by": f.get("by"),
                        "at": float(f.get("at", 0)), "detail": orjson.loads(f["detail"]) if f.get("detail") else {}})
            if len(out) >= count:
                break
        return out

    def version(self) -> int:
        return int(self.r.get(self.keys.alerts_version()) or 0)

    # --- raised and cleared by the evaluator ------------------------------------------
    def raise_alert(self, rule: str, scope: str, severity: str, title: str, message: str,
                    now: float | None = None, **fields: Any) -> dict:
        """Open an alert for (rule, scope), or update the open one's value and message.
        ``fields``: value, view, focus, kpi, district, feed (stored as given)."""
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        now = time.time() if now is None else now
        slot = f"{rule}|{scope}"

        def change(pipe):
            open_id = pipe.hget(self.keys.alerts_open(), slot)
            current = pipe.hget(self.keys.alerts(), open_id) if open_id else None
            if current:
                alert = orjson.loads(current)
                changed = alert.get("message") != message or alert.get("value") != fields.get("value")
                alert.update(message=message, title=title, updated_at=now if changed else alert["updated_at"],
                             **fields)
                if severity_rank(severity) < severity_rank(alert["base_severity"]):
                    # The rule's severity went up (a worse band): take it, never lower an escalation.
                    alert["base_severity"] = severity
                    if severity_rank(severity) < severity_rank(alert["severity"]):
                        alert["severity"] = severity
                pipe.multi()
                pipe.hset(self.keys.alerts(), alert["id"], orjson.dumps(alert))
                if changed:
                    pipe.incr(self.keys.alerts_version())
                return alert
            alert = {"id": f"A{pipe.incr(self.keys.alerts_seq())}", "rule": rule, "scope": scope,
                     "severity": severity, "base_severity": severity,
                     "title": title, "message": message, "state": "active", "acknowledged": False,
                     "raised_at": now, "updated_at": now, "acknowledged_at": None, "acknowledged_by": None,
                     "cleared_at": None, "cleared_by": None, "assignee": None, "comments": [],
                     "escalations": 0, "escalated_at": None, "value": None, "view": "/", "focus": None,
                     "kpi": None, "district": None, "feed": None}
            alert.update(fields)
            pipe.multi()
            pipe.hset(self.keys.alerts(), alert["id"], orjson.dumps(alert))
            pipe.hset(self.keys.alerts_open(), slot, alert["id"])
            self._audit(pipe, alert["id"], "raised", SYSTEM, now,
                        {"severity": severity, "message": message, "value": alert.get("value")})
            pipe.incr(self.keys.alerts_version())
            return alert

        return self._transaction(change, self.keys.alerts_open(), self.keys.alerts())

    def clear(self, rule: str, scope: str, now: float | None = None, by: str = SYSTEM,
              reason: str = "condition no longer holds") -> dict | None:
        """Clear the open alert of (rule, scope), if any."""
        alert_id = self.r.hget(self.keys.alerts_open(), f"{rule}|{scope}")
        return self._clear_id(alert_id, now, by, reason) if alert_id else None

    def open_scopes(self, rule: str) -> list[str]:
        """Scopes with an open alert of ``rule`` (the evaluator clears those that no longer hold)."""
        prefix = rule + "|"
        return [slot[len(prefix):] for slot in self.r.hkeys(self.keys.alerts_open()) if slot.startswith(prefix)]

    def open_rules(self) -> set[str]:
        return {slot.split("|", 1)[0] for slot in self.r.hkeys(self.keys.alerts_open())}

    def escalate_due(self, after_s: Callable[[dict], float | None], now: float | None = None) -> list[dict]:
        """Raise the severity of every open, unacknowledged alert not acknowledged within ``after_s(alert)``
        seconds of being raised (and again after each further period). Returns the escalated alerts."""
        now = time.time() if now is None else now
        out = []
        for alert in self.open_alerts():
            limit = after_s(alert)
            if alert["acknowledged"] or not limit:
                continue
            since = alert["escalated_at"] or alert["raised_at"]
            if now - since < limit:
                continue

            def change(a):
                if a["acknowledged"] or a["state"] == "cleared" or now - (a["escalated_at"] or a["raised_at"]) < limit:
                    return None
                before = a["severity"]
                a["severity"] = more_severe(before)
                a["escalations"] += 1
                a["escalated_at"] = now
                a["updated_at"] = now
                return "escalated", {"from": before, "to": a["severity"],
                                     "unacknowledged_s": round(now - a["raised_at"])}

            done = self._change(alert["id"], SYSTEM, now, change)
            if done:
                out.append(done)
        return out

    # --- operator actions -------------------------------------------------------------
    def acknowledge(self, alert_id: str, by: str, now: float | None = None) -> dict:
        def change(a):
            if a["state"] == "cleared":
                raise AlertCleared(f"alert {alert_id} has cleared")
            if a["acknowledged"]:
                return None
            a.update(acknowledged=True, state="acknowledged", acknowledged_at=now_, acknowledged_by=by,
                     updated_at=now_)
            return "acknowledged", {}

        now_ = time.time() if now is None else now
        return self._must(self._change(alert_id, by, now_, change), alert_id)

    def assign(self, alert_id: str, assignee: str | None, by: str, now: float | None = None) -> dict:
        assignee = (assignee or "").strip() or None

        def change(a):
            if a["state"] == "cleared":
                raise AlertCleared(f"alert {alert_id} has cleared")
            if a["assignee"] == assignee:
                return None
            before = a["assignee"]
            a.update(assignee=assignee, updated_at=now_)
            return "assigned", {"from": before, "to": assignee}

        now_ = time.time() if now is None else now
        return self._must(self._change(alert_id, by, now_, change), alert_id)

    def comment(self, alert_id: str, text: str, by: str, now: float | None = None) -> dict:
        text = (text or "").strip()
        if not text:
            raise AlertError("a comment needs some text")
        if len(text) > MAX_COMMENT_CHARS:
            raise AlertError(f"a comment is at most {MAX_COMMENT_CHARS} characters")

        def change(a):
            if a["state"] == "cleared":
                raise AlertCleared(f"alert {alert_id} has cleared")
            a["comments"].append({"at": now_, "by": by, "text": text})
            a["updated_at"] = now_
            return "commented", {"text": text}

        now_ = time.time() if now is None else now
        return self._must(self._change(alert_id, by, now_, change), alert_id)

    def clear_by_operator(self, alert_id: str, by: str, now: float | None = None) -> dict:
        if self.get(alert_id) is None:
            raise UnknownAlert(f"no alert {alert_id}")
        return self._must(self._clear_id(alert_id, now, by, "cleared by an operator"), alert_id)

    # --- internals --------------------------------------------------------------------
    def _must(self, alert, alert_id):
        if alert is None:
            current = self.get(alert_id)
            if current is None:
                raise UnknownAlert(f"no alert {alert_id}")
            return current  # nothing to change (already acknowledged, same assignee)
        return alert

    def _clear_id(self, alert_id: str, now: float | None, by: str, reason: str) -> dict | None:
        now = time.time() if now is None else now

        def change(a):
            if a["state"] == "cleared":
                return None
            a.update(state="cleared", cleared_at=now, cleared_by=by, updated_at=now)
            return "cleared", {"reason": reason}

        def also(pipe, a):
            pipe.hdel(self.keys.alerts_open(), f"{a['rule']}|{a['scope']}")
            pipe.zadd(self.keys.alerts_cleared(), {a["id"]: now})

        out = self._change(alert_id, by, now, change, also)
        self._forget_old(now)
        return out

    def _change(self, alert_id: str, by: str, now: float, change, also=None) -> dict | None:
        """Apply ``change(alert) -> (action, detail) | None`` atomically; audit it; None if no change."""
        def tx(pipe):
            raw = pipe.hget(self.keys.alerts(), alert_id)
            if raw is None:
                return None
            alert = orjson.loads(raw)
            result = change(alert)
            if result is None:
                return None
            action, detail = result
            pipe.multi()
            pipe.hset(self.keys.alerts(), alert_id, orjson.dumps(alert))
            if also:
                also(pipe, alert)
            self._audit(pipe, alert_id, action, by, now, detail)
            pipe.incr(self.keys.alerts_version())
            return alert

        return self._transaction(tx, self.keys.alerts())

    def _transaction(self, func, *watches):
        return self.r.transaction(func, *watches, value_from_callable=True)

    def _audit(self, pipe, alert_id: str, action: str, by: str, now: float, detail: dict) -> None:
        pipe.xadd(self.keys.alerts_audit(), {"alert": alert_id, "action": action, "by": by, "at": now,
                                            "detail": orjson.dumps(detail)}, **trim_args(ALERT_AUDIT_RETENTION))

    def _forget_old(self, now: float) -> None:
        old = self.r.zrangebyscore(self.keys.alerts_cleared(), "-inf", now - ALERT_CLOSED_RETENTION_S)
        if old:
            pipe = self.r.pipeline(transaction=True)
            pipe.hdel(self.keys.alerts(), *old)
            pipe.zrem(self.keys.alerts_cleared(), *old)
            pipe.execute()
