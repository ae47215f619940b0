"""Status rules of kpis.md, pure and shared by the KPI engine and the read side.

ok meets the target; warn misses it but stays inside the warn edge; breach beyond it;
stale when the newest input is older than its freshness limit; no_data when no input.
"""
from __future__ import annotations

import math

OK, WARN, BREACH, STALE, NO_DATA = "ok", "warn", "breach", "stale", "no_data"
STATUSES = (OK, WARN, BREACH, STALE, NO_DATA)


def judge(value: float | None, direction: str, target: float | None, warn: float | None) -> str:
    """Status of a fresh value against its target (no freshness here)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_DATA
    if direction == "none" or target is None:
        return OK
    if direction == "lower":
        if value <= target:
            return OK
        return WARN if warn is not None and value <= warn else BREACH
    if value >= target:
        return OK
    return WARN if warn is not None and value >= warn else BREACH


def effective_status(stored: dict | None, now: float) -> str:
    """The status a reader shows: the stored one, unless the value has gone stale since."""
    if not stored or stored.get("value") is None:
        return NO_DATA
    fresh_until = stored.get("fresh_until")
    if fresh_until is not None and now > fresh_until:
        return STALE
    return stored.get("status", NO_DATA)


def score_of(value: float, direction: str, target: float, cap: float = 1.25) -> float:
    """Boston CityScore term: value/target (higher is better) or target/value, capped.

    A zero target (e.g. 0 unhealthy stations) scores 1/(1 + value): 1.0 on target,
    halving with the first miss, instead of the undefined target/value.
    """
    if direction == "higher":
        ratio = value / target if target else cap
    elif target == 0:
        ratio = 1.0 / (1.0 + value)
    else:
        ratio = target / value if value > 0 else cap
    return min(max(ratio, 0.0), cap)
