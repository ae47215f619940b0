"""Alert rules and the evaluator that raises, updates, clears and escalates alerts (feeds.alerts.AlertBook).

Rules come from CITY_CONFIG's ``alerts`` section (validated here; a bad rule is a one-line ConfigError
naming it) and from an admin at runtime (stored in Redis, audited). Two kinds (docs/alerts.md):

- KPI rules: ``{"id", "kpi", "district": null | "D2" | "*", "when": "breach" | "warn" |
  {"op": ">", "value": 150}, "for_s", "severity", "escalate_after_s"}``.
- Feed rules: ``{"id", "feed": "traffic" | "*", "no_data_s": 300, "severity", "escalate_after_s"}``.

A KPI value that is stale or has no data neither raises nor clears a KPI alert: the data stopped, and
saying so is the feed rules' job. An alert stays open through a gap and clears only on a fresh value
that no longer meets the condition.

``evaluate(r, keys, city, now)`` runs after every KPI recompute (feeds.kpi.engine), every few seconds in
the runner's and the simulator's loops (so a silent feed alerts even when no batch arrives), and alone
with ``python -m feeds alerts``.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Literal

import orjson
import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from feeds.alerts import AlertBook
from feeds.config import City, ConfigError
from feeds.framework import trim_args
from feeds.kpi.catalogue import CATALOGUE, resolve_target
from feeds.kpi.status import BREACH, NO_DATA, STALE, WARN
from feeds.schema import ALERT_AUDIT_RETENTION, Keys
from feeds.timeparse import zone

log = logging.getLogger("feeds.alerts")

DEFAULT_ESCALATE_AFTER_S = 600.0
DEFAULT_EVALUATE_EVERY_S = 5.0
DISTRICT_ZOOM = 13
CITY_SCOPE = "city"
Severity = Literal["critical", "major", "minor", "warning"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Model):
    op: Literal[">", ">=", "<", "<="]
    value: float


class KpiRule(_Model):
    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")
    kpi: str
    district: str | None = None  # None: the city-wide value; "D2": one district; "*": every district
    when: Literal["breach", "warn"] | Threshold = "breach"  # "warn" means warn or worse
    for_s: float = Field(0, ge=0)  # the condition must hold this long before the alert is raised
    severity: Severity
    escalate_after_s: float | None = Field(None, ge=0)  # None: the section's default; 0: never
    title: str | None = None  # in the city's words; default "<KPI name> [in <district>]"
    enabled: bool = True

    @property
    def kind(self) -> str:
        return "kpi"


class FeedRule(_Model):
    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")
    feed: str  # a feed name, or "*" for every feed that has run
    no_data_s: float = Field(gt=0)
    severity: Severity
    escalate_after_s: float | None = Field(None, ge=0)
    title: str | None = None
    enabled: bool = True

    @property
    def kind(self) -> str:
        return "feed"


def _rule_kind(raw: dict) -> str:
    return "feed" if "feed" in raw else "kpi"


class AlertsSection(_Model):
    escalate_after_s: float = Field(DEFAULT_ESCALATE_AFTER_S, ge=0)
    evaluate_every_s: float = Field(DEFAULT_EVALUATE_EVERY_S, gt=0, le=300)
    rules: list[dict[str, Any]] = []


def _rule_name(raw: Any, index: int | None) -> str:
    rid = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(rid, str) and rid:
        return f"rule {rid!r}"
    return f"rule #{index + 1}" if index is not None else "rule"


def parse_rule(raw: Any, city: City, index: int | None = None, where: str = "CITY_CONFIG alerts") -> KpiRule | FeedRule:
    """One rule, checked against the catalogue and the city; ConfigError (one line, naming it) if bad."""
    name = _rule_name(raw, index)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {name}: must be an object")
    model = FeedRule if _rule_kind(raw) == "feed" else KpiRule
    try:
        rule = model.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(rule)"
        raise ConfigError(f"{where}: {name}: {loc}: {err['msg']}") from None
    if isinstance(rule, KpiRule):
        kdef = CATALOGUE.get(rule.kpi)
        if kdef is None:
            raise ConfigError(f"{where}: {name}: unknown KPI {rule.kpi!r} (see feeds/kpi/catalogue.py)")
        if rule.district not in (None, "*") and rule.district not in city.district_ids():
            raise ConfigError(f"{where}: {name}: unknown district {rule.district!r}; "
                              f"one of {', '.join(city.district_ids())} or '*'")
        if isinstance(rule.when, str) and resolve_target(kdef, city.targets)[0] is None:
            raise ConfigError(f"{where}: {name}: {rule.kpi} is informational (no target), so it never reaches "
                              f"{rule.when!r}; use a threshold {{\"op\": \">\", \"value\": N}}")
    else:
        from feeds.adapters import ADAPTERS

        if rule.feed != "*" and rule.feed not in ADAPTERS:
            raise ConfigError(f"{where}: {name}: unknown feed {rule.feed!r}; one of {', '.join(ADAPTERS)} or '*'")
    return rule


def parse_section(city: City) -> tuple[AlertsSection, list]:
    """The city's alerts section and its rules, or ConfigError naming the bad part."""
    try:
        section = AlertsSection.model_validate(city.alerts)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(section)"
        raise ConfigError(f"CITY_CONFIG alerts: {loc}: {err['msg']}") from None
    rules, seen = [], set()
    for i, raw in enumerate(section.rules):
        rule = parse_rule(raw, city, i)
        if rule.id in seen:
            raise ConfigError(f"CITY_CONFIG alerts: rule {rule.id!r}: the id is used twice")
        seen.add(rule.id)
        rules.append(rule)
    return section, rules


_CONFIG: dict[int, tuple[City, AlertsSection, list]] = {}


def config_rules(city: City) -> tuple[AlertsSection, list]:
    """The city's alerts section and rules, parsed once per City object."""
    hit = _CONFIG.get(id(city))
    if hit is None or hit[0] is not city:
        section, rules = parse_section(city)
        hit = _CONFIG[id(city)] = (city, section, rules)
    return hit[1], hit[2]


# ----------------------------------------------------------------------------- runtime rules (admin)
class RuleBook:
    """The rules in force: CITY_CONFIG's (read-only) merged with those an admin added at runtime,
    minus the disabled ones. Every admin change is audited with who and when."""

    def __init__(self, r: redis.Redis, keys: Keys, city: City):
        self.r, self.keys, self.city = r, keys, city

    def runtime(self) -> dict[str, dict]:
        return {k: orjson.loads(v) for k, v in self.r.hgetall(self.keys.alert_rules()).items()}

    def disabled(self) -> dict[str, dict]:
        return {k: orjson.loads(v) for k, v in self.r.hgetall(self.keys.alert_rules_disabled()).items()}

    def all(self, runtime: dict | None = None, disabled: dict | None = None) -> list[dict]:
        """Every rule: {rule, source (config|runtime), enabled, disabled_by/at, added_by/at}."""
        _, config = config_rules(self.city)
        runtime = self.runtime() if runtime is None else runtime
        disabled = self.disabled() if disabled is None else disabled
        out = []
        for rule in config:
            off = disabled.get(rule.id)
            out.append({"rule": rule, "source": "config", "enabled": rule.enabled and off is None,
                        "disabled": off, "added": None})
        config_ids = {r.id for r in config}
        for rid, stored in sorted(runtime.items()):
            if rid in config_ids:
                continue
            try:
                rule = parse_rule(stored["rule"], self.city, where="runtime alerts")
            except ConfigError as e:  # a rule valid when added, no longer (a district removed): skip it
                log.warning("%s", e)
                continue
            off = disabled.get(rid)
            out.append({"rule": rule, "source": "runtime", "enabled": rule.enabled and off is None,
                        "disabled": off, "added": {"by": stored.get("by"), "at": stored.get("at")}})
        return out

    def add(self, raw: dict, by: str, now: float | None = None):
        now = time.time() if now is None else now
        rule = parse_rule(raw, self.city, where="new rule")
        _, config = config_rules(self.city)
        if any(r.id == rule.id for r in config) or self.r.hexists(self.keys.alert_rules(), rule.id):
            raise ConfigError(f"new rule: rule {rule.id!r}: a rule with this id exists")
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.keys.alert_rules(), rule.id,
                  orjson.dumps({"rule": rule.model_dump(mode="json"), "by": by, "at": now}))
        self._audit(pipe, rule.id, "added", by, now, rule.model_dump(mode="json"))
        pipe.execute()
        return rule

    def delete(self, rule_id: str, by: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if not self.r.hexists(self.keys.alert_rules(), rule_id):
            raise ConfigError(f"rule {rule_id!r} is not a runtime rule (CITY_CONFIG rules are changed in the file)")
        pipe = self.r.pipeline(transaction=True)
        pipe.hdel(self.keys.alert_rules(), rule_id)
        pipe.hdel(self.keys.alert_rules_disabled(), rule_id)
        self._audit(pipe, rule_id, "deleted", by, now, {})
        pipe.execute()

    def set_enabled(self, rule_id: str, enabled: bool, by: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if not any(e["rule"].id == rule_id for e in self.all()):
            raise ConfigError(f"no rule {rule_id!r}")
        pipe = self.r.pipeline(transaction=True)
        if enabled:
            pipe.hdel(self.keys.alert_rules_disabled(), rule_id)
        else:
            pipe.hset(self.keys.alert_rules_disabled(), rule_id, orjson.dumps({"by": by, "at": now}))
        self._audit(pipe, rule_id, "enabled" if enabled else "disabled", by, now, {})
        pipe.execute()

    def audit(self, count: int = 100) -> list[dict]:
        rows = self.r.xrevrange(self.keys.alert_rules_audit(), "+", "-", count)
        return [{"rule": f.get("rule"), "action": f.get("action"), "by": f.get("by"), "at": float(f.get("at", 0)),
                 "detail": orjson.loads(f["detail"]) if f.get("detail") else {}} for _, f in rows]

    def _audit(self, pipe, rule_id, action, by, now, detail):
        pipe.xadd(self.keys.alert_rules_audit(), {"rule": rule_id, "action": action, "by": by, "at": now,
                                                  "detail": orjson.dumps(detail)},
                  **trim_args(ALERT_AUDIT_RETENTION))


# ----------------------------------------------------------------------------- words and places
def district_focus(city: City, district_id: str) -> dict | None:
    """Where a map zooms to for a district: the centroid of its polygon (area-weighted), zoom 13."""
    d = next((d for d in city.districts if d.id == district_id), None)
    if d is None:
        return None
    ring = list(d.polygon)
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(a) < 1e-12:  # degenerate: the mean of the points
        lon = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
        lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
    else:
        lon, lat = cx / (3 * a), cy / (3 * a)
    return {"lat": round(lat, 6), "lon": round(lon, 6), "zoom": DISTRICT_ZOOM}


def _fmt(value: float, kdef) -> str:
    text = f"{value:,.{kdef.decimals}f}"
    return f"{text} {kdef.unit}" if kdef.unit and kdef.unit != "AQI" else text


def kpi_words(rule: KpiRule, city: City, value: float, district: str | None, status: str | None = None
              ) -> tuple[str, str]:
    """(title, message) in the city's words: "Turnout (90th) 75 s > target 60 s in Old Town"."""
    kdef = CATALOGUE[rule.kpi]
    where = ""
    if district:
        name = next((d.name for d in city.districts if d.id == district), district)
        where = f" in {name}"
    if isinstance(rule.when, Threshold):
        op, limit, what, word = rule.when.op, rule.when.value, "limit", ""
    else:
        target, _ = resolve_target(kdef, city.targets)
        op, limit, what = (">" if kdef.direction == "lower" else "<"), target, "target"
        word = f" ({status.upper()})" if status else ""
    title = (rule.title or kdef.name) + where
    message = f"{kdef.name} {_fmt(value, kdef)} {op} {what} {_fmt(limit, kdef)}{where}{word}"
    return title, message


def _holds(rule: KpiRule, value: float, status: str) -> bool:
    if isinstance(rule.when, Threshold):
        v, t = value, rule.when.value
        return {">": v > t, ">=": v >= t, "<": v < t, "<=": v <= t}[rule.when.op]
    if rule.when == "breach":
        return status == BREACH
    return status in (WARN, BREACH)


def _kpi_scopes(rule: KpiRule, stored: dict | None, city: City, now: float):
    """(scope, district, value, status) per scope of a KPI rule; status stale/no_data when unknown."""
    whole_stale = bool(stored and stored.get("fresh_until") is not None and now > stored["fresh_until"])
    if rule.district is None:
        if not stored or stored.get("value") is None:
            yield CITY_SCOPE, None, None, NO_DATA
        else:
            yield CITY_SCOPE, None, stored["value"], STALE if whole_stale else stored.get("status", NO_DATA)
        return
    districts = city.district_ids() if rule.district == "*" else [rule.district]
    by_district = (stored or {}).get("by_district") or {}
    for d in districts:
        dv = by_district.get(d)
        if not dv or dv.get("value") is None:
            yield d, d, None, NO_DATA
        else:
            yield d, d, dv["value"], STALE if whole_stale else dv.get("status", NO_DATA)


def _clock(t: float, city: City) -> str:
    return datetime.fromtimestamp(t, zone(city.timezone)).strftime("%H:%M:%S")


# ----------------------------------------------------------------------------- the evaluator
def evaluate(r: redis.Redis, keys: Keys, city: City, now: float | None = None,
             values: dict[str, dict] | None = None) -> dict:
    """Raise, update, clear and escalate every rule's alerts once. ``values``: the KPI values hash when the
    caller already has it (the KPI engine). Returns counts {raised, updated, cleared, escalated, pending}."""
    now = time.time() if now is None else now
    section, _ = config_rules(city)
    pipe = r.pipeline(transaction=False)
    pipe.hgetall(keys.alert_rules())
    pipe.hgetall(keys.alert_rules_disabled())
    pipe.hgetall(keys.alerts_open())
    pipe.hgetall(keys.alerts_pending())
    runtime, disabled, open_slots, pending = pipe.execute()
    runtime = {k: orjson.loads(v) for k, v in runtime.items()}
    disabled = {k: orjson.loads(v) for k, v in disabled.items()}
    book = AlertBook(r, keys)
    rules = [e["rule"] for e in RuleBook(r, keys, city).all(runtime, disabled) if e["enabled"]]
    summary = {"raised": 0, "updated": 0, "cleared": 0, "escalated": 0, "pending": 0, "rules": len(rules)}
    if not rules and not open_slots:
        return summary
    if values is None and any(isinstance(rule, KpiRule) for rule in rules):
        values = {k: orjson.loads(v) for k, v in r.hgetall(keys.kpi_values()).items()}
    feeds_health = None
    if any(isinstance(rule, FeedRule) for rule in rules):
        names = sorted(r.smembers(keys.feeds()))
        hp = r.pipeline(transaction=False)
        for name in names:
            hp.hgetall(keys.feed_health(name))
        feeds_health = dict(zip(names, hp.execute()))

    pending_set, pending_del = {}, []
    live_slots = set()

    def hold(slot: str, rule, raise_kw: dict, for_s: float) -> None:
        live_slots.add(slot)
        if slot not in open_slots and for_s:
            since = float(pending.get(slot) or now)
            if slot not in pending:
                pending_set[slot] = now
            if now - since < for_s:
                summary["pending"] += 1
                return
        if slot in pending:
            pending_del.append(slot)
        book.raise_alert(rule.id, slot.split("|", 1)[1], rule.severity, now=now, **raise_kw)
        summary["updated" if slot in open_slots else "raised"] += 1

    def release(slot: str, rule, reason: str) -> None:
        live_slots.add(slot)
        if slot in pending:
            pending_del.append(slot)
        if slot in open_slots:
            book.clear(rule.id, slot.split("|", 1)[1], now=now, reason=reason)
            summary["cleared"] += 1

    for rule in rules:
        if isinstance(rule, KpiRule):
            kdef = CATALOGUE[rule.kpi]
            for scope, district, value, status in _kpi_scopes(rule, (values or {}).get(rule.kpi), city, now):
                slot = f"{rule.id}|{scope}"
                if status in (STALE, NO_DATA):
                    live_slots.add(slot)  # unknown: neither raise nor clear (the feed rule says the data stopped)
                    continue
                if _holds(rule, value, status):
                    title, message = kpi_words(rule, city, value, district, status)
                    view = f"/district/{district}" if district else ("/" if kdef.domain == "city" else f"/{kdef.domain}")
                    hold(slot, rule, {"title": title, "message": message, "value": value, "view": view,
                                      "focus": district_focus(city, district) if district else None,
                                      "kpi": rule.kpi, "district": district, "feed": None}, rule.for_s)
                else:
                    release(slot, rule, f"{kdef.name} back within the rule ({value:,.{kdef.decimals}f})")
        else:
            names = sorted(feeds_health) if rule.feed == "*" else [rule.feed]
            for name in names:
                h = (feeds_health or {}).get(name) or {}
                slot = f"{rule.id}|{name}"
                if not h:
                    live_slots.add(slot)  # the feed has never run here: nothing to judge
                    continue
                last_success = float(h["last_success"]) if h.get("last_success") else None
                if last_success is None:
                    # Never succeeded: silent since the evaluator first saw it so.
                    since = float(pending.get(slot) or now)
                    if slot not in pending:
                        pending_set[slot] = now
                    silent = now - since
                else:
                    silent = now - last_success
                    if slot in pending:
                        pending_del.append(slot)
                if silent >= rule.no_data_s:
                    title = rule.title or f"Feed {name} silent"
                    last = f"last success {_clock(last_success, city)}" if last_success else "no success yet"
                    error = f"; last error: {h['last_error'][:120]}" if h.get("last_error") else ""
                    message = f"No data from {h.get('title') or name} for over {rule.no_data_s:,.0f} s ({last}{error})"
                    live_slots.add(slot)
                    book.raise_alert(rule.id, name, rule.severity, title, message, now=now, value=last_success,
                                     view="/", focus=None, kpi=None, district=None, feed=name)
                    summary["updated" if slot in open_slots else "raised"] += 1
                else:
                    release(slot, rule, f"{name} delivered data again")

    # An open alert whose rule was disabled or deleted (or whose scope is gone) has no condition left.
    active_ids = {rule.id for rule in rules}
    for slot in open_slots:
        if slot in live_slots:
            continue
        rule_id, scope = slot.split("|", 1)
        reason = "its rule was disabled or removed" if rule_id not in active_ids else "its scope no longer applies"
        book.clear(rule_id, scope, now=now, reason=reason)
        summary["cleared"] += 1

    if pending_set or pending_del:
        pp = r.pipeline(transaction=False)
        if pending_set:
            pp.hset(keys.alerts_pending(), mapping=pending_set)
        for slot in pending_del:
            pp.hdel(keys.alerts_pending(), slot)
        pp.execute()

    by_id = {rule.id: rule for rule in rules}

    def escalate_after(alert: dict) -> float | None:
        rule = by_id.get(alert["rule"])
        if rule is None:
            return None
        return section.escalate_after_s if rule.escalate_after_s is None else rule.escalate_after_s

    summary["escalated"] = len(book.escalate_due(escalate_after, now=now))
    return summary


class Evaluator:
    """Runs ``evaluate`` at most every ``evaluate_every_s`` seconds (the loops call ``tick`` each round)."""

    def __init__(self, r: redis.Redis, keys: Keys, city: City):
        self.r, self.keys, self.city = r, keys, city
        section, _ = config_rules(city)  # a bad rule stops the program at start, in one line
        self.every_s = section.evaluate_every_s
        self._last = float("-inf")

    def run(self, now: float | None = None, values: dict | None = None) -> dict | None:
        """Evaluate now; a failure is logged, never raised (alerts must not stop the KPIs)."""
        self._last = time.monotonic()
        try:
            return evaluate(self.r, self.keys, self.city, now, values)
        except Exception as e:
            log.error("alert evaluation failed: %s: %s", type(e).__name__, e)
            return None

    def tick(self) -> dict | None:
        """Evaluate if ``evaluate_every_s`` has passed since the last run."""
        if time.monotonic() - self._last < self.every_s:
            return None
        return self.run()

    def next_due_in(self) -> float:
        return max(0.0, self.every_s - (time.monotonic() - self._last))


__all__ = ["KpiRule", "FeedRule", "Threshold", "AlertsSection", "RuleBook", "Evaluator", "evaluate",
           "parse_rule", "config_rules", "district_focus", "kpi_words"]
