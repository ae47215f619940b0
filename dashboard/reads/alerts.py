"""Alert reads for the pages, panels and the API: through the store (StoreUnavailable when Redis is down).

Operator actions (acknowledge, assign, comment) and admin rule changes are small audited writes through
feeds.alerts / feeds.alert_rules; callers check the role first.
"""
from __future__ import annotations

import time

from feeds.alert_rules import RuleBook, config_rules
from feeds.alerts import SEVERITIES, AlertBook, severity_rank
from feeds.timeparse import epoch_to_iso

STATES = ("open", "cleared", "all")
TIME_FIELDS = ("raised_at", "updated_at", "acknowledged_at", "cleared_at", "escalated_at")


def book(store) -> AlertBook:
    return AlertBook(store.r, store.keys)


def version(store) -> int:
    return store.call(book(store).version)


def open_alerts(store) -> list[dict]:
    """Open alerts, most severe first, then oldest first."""
    return store.call(book(store).open_alerts)


def cleared_alerts(store, limit: int = 50) -> list[dict]:
    return store.call(book(store).cleared_alerts, limit)


def alert(store, alert_id: str) -> dict | None:
    return store.call(book(store).get, alert_id)


def audit(store, alert_id: str) -> list[dict]:
    """The alert's state changes, oldest first."""
    return list(reversed(store.call(book(store).audit, alert_id)))


def alerts(store, state: str = "open", severity: str | None = None, district: str | None = None) -> list[dict]:
    rows = []
    if state in ("open", "all"):
        rows.extend(open_alerts(store))
    if state in ("cleared", "all"):
        rows.extend(cleared_alerts(store, 200))
    return [a for a in rows if (severity is None or a["severity"] == severity)
            and (district is None or a.get("district") == district)]


def counts(alerts_: list[dict]) -> dict[str, int]:
    """Open alerts per severity, most severe first."""
    out = {s: 0 for s in SEVERITIES}
    for a in alerts_:
        out[a["severity"]] += 1
    return out


def worst(alerts_: list[dict]) -> str | None:
    return min((a["severity"] for a in alerts_), key=severity_rank, default=None)


def pinning(open_alerts_: list[dict]) -> dict | None:
    """The alert a wall pins: the oldest unacknowledged critical one (open_alerts is most severe first, then
    oldest), or None; rotation resumes once it is acknowledged or clears."""
    return next((a for a in open_alerts_ if a["severity"] == "critical" and not a["acknowledged"]), None)


def rules(store) -> list[dict]:
    """Every rule (config read-only, runtime), enabled or not."""
    return store.call(RuleBook(store.r, store.keys, store.city).all)


def escalate_after_default(store) -> float:
    return config_rules(store.city)[0].escalate_after_s


def rule_audit(store, count: int = 50) -> list[dict]:
    return store.call(RuleBook(store.r, store.keys, store.city).audit, count)


def api_shape(a: dict, now: float | None = None) -> dict:
    """An alert for the API: times ISO-8601 UTC, plus its age."""
    now = time.time() if now is None else now
    out = dict(a)
    for f in TIME_FIELDS:
        out[f] = epoch_to_iso(a.get(f))
    out["comments"] = [{**c, "at": epoch_to_iso(c["at"])} for c in a.get("comments", [])]
    out["age_s"] = round(now - a["raised_at"], 1)
    if a.get("feed") and isinstance(a.get("value"), (int, float)):
        out["value"] = a["value"]  # a feed alert's value is its last success (epoch), kept as given
    return out


def audit_shape(e: dict) -> dict:
    return {**e, "at": epoch_to_iso(e["at"])}
