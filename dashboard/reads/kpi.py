"""One KPI's history, district breakdown and notes, for the trend page /kpi/<id>, its CSV downloads and
the API (read only; every Redis call goes through ``store.call``).

Ranges: ``day`` (24 h, the default), ``week`` (7 days) and ``all`` (everything kept: the KPI history
keeps one point a minute for 8 days, KPI_HISTORY_RETENTION_S, so a month cannot be shown yet).
"""
from __future__ import annotations

import csv
import io
import time

import orjson

from feeds.annotations import INCIDENT, TIMELINE
from feeds.kpi.catalogue import CATALOGUE
from feeds.schema import KPI_HISTORY_RETENTION_S, KPI_HISTORY_STEP_S
from feeds.timeparse import epoch_to_iso

RANGES = {"day": 24 * 3600, "week": 7 * 24 * 3600, "all": KPI_HISTORY_RETENTION_S}
RANGE_LABEL = {"day": "last 24 h", "week": "last 7 days", "all": f"all kept ({KPI_HISTORY_RETENTION_S // 86400} days)"}
DEFAULT_RANGE = "day"
MISSES = ("warn", "breach")


def parse_range(value: str | None) -> str | None:
    """The range named in a URL; None when it names none we keep (callers say so)."""
    value = (value or DEFAULT_RANGE).strip().lower()
    return value if value in RANGES else None


def history_points(store, kpi_id: str, since: float | None = None) -> list[dict]:
    """Raw stored points {t (epoch s), v, s}, oldest first, with t >= since."""
    lo = "-inf" if since is None else since - KPI_HISTORY_STEP_S  # scores are minute buckets
    raw = store.call(store.r.zrangebyscore, store.keys.kpi_history(kpi_id), lo, "+inf")
    points = [orjson.loads(p) for p in raw]
    return [p for p in points if since is None or p["t"] >= since]


def since_of(range_name: str, now: float | None = None) -> float:
    return (time.time() if now is None else now) - RANGES[range_name]


def history_csv(points: list[dict]) -> str:
    """time_utc (ISO-8601), epoch_s (as stored), value (as stored), status: one row per stored point."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["time_utc", "epoch_s", "value", "status"])
    for p in points:
        w.writerow([epoch_to_iso(p["t"]), repr(float(p["t"])), repr(p["v"]), p["s"]])
    return out.getvalue()


def district_rows(store, kpi: dict) -> list[dict]:
    """Districts with their value and status, those that miss the target first (worst first)."""
    names = {d.id: d.name for d in store.city.districts}
    order = {"breach": 0, "warn": 1, "stale": 2, "ok": 3, "no_data": 4}
    rows = [{"district": d, "name": names[d], "value": v["value"], "status": v["status"],
             "misses": v["status"] in MISSES} for d, v in kpi["by_district"].items() if d in names]
    worse_high = kpi["direction"] == "lower"

    def key(row):
        v = row["value"]
        return (order.get(row["status"], 5), 0 if v is None else (-v if worse_high else v), row["district"])
    return sorted(rows, key=key)


def districts_csv(store, kpi: dict) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["kpi", "district", "name", "value", "status", "target", "warn", "misses_target", "as_of_utc"])
    for row in district_rows(store, kpi):
        w.writerow([kpi["id"], row["district"], row["name"], "" if row["value"] is None else repr(row["value"]),
                    row["status"], "" if kpi["target"] is None else repr(kpi["target"]),
                    "" if kpi["warn"] is None else repr(kpi["warn"]), "yes" if row["misses"] else "no",
                    kpi["as_of"] or ""])
    return out.getvalue()


def chart_notes(store, kpi_id: str, since: float, until: float | None = None) -> list[dict]:
    """The notes a KPI's trend chart shows, oldest first: the city timeline's on every KPI, and on the
    emergency KPIs every incident's too."""
    from feeds.annotations import Annotations

    book = Annotations(store.r, store.keys)
    notes = store.call(book.list, None if is_emergency(kpi_id) else TIMELINE, since, until, 500)
    notes = [n for n in notes if n["target"] == TIMELINE or n["target"].startswith(INCIDENT)]
    return sorted(notes, key=lambda n: (n["at"], n["id"]))


def is_emergency(kpi_id: str) -> bool:
    kdef = CATALOGUE.get(kpi_id)
    return kdef is not None and kdef.domain == "emergency"


def kpi_version(store, kpi_id: str) -> int:
    """The version counter that moves when this KPI can have changed (city.score moves with every domain)."""
    domain = CATALOGUE[kpi_id].domain
    return store.version(None if domain == "city" else domain)
