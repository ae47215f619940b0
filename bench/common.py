"""What every bench (and the callback tests) share: percentiles, key clean-up, a Dash refresh over
HTTP, the /healthz baseline and the printed table."""
from __future__ import annotations

import os
import statistics
import time
from contextlib import contextmanager

import orjson

from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import Keys


@contextmanager
def bench_redis():
    """The Redis a bench uses: REDIS_URL, else 127.0.0.1:6379, else an embedded one (stopped on exit)."""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    embedded = None
    try:
        connect(url).ping()
    except Exception:
        embedded = EmbeddedRedis()
        url = embedded.url
    try:
        yield url
    finally:
        if embedded:
            embedded.stop()


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))]


def cleanup(r, keys: Keys) -> None:
    """Delete every key under ``keys``' prefix (and only those)."""
    batch = list(r.scan_iter(match=keys.pattern(), count=5000))
    for i in range(0, len(batch), 1000):
        r.delete(*batch[i:i + 1000])


def dash_refresh(client, outputs: list[tuple[str, str]], state: list[tuple[str, str, object]],
                 theme: str = "dark") -> tuple[float, int, dict]:
    """POST one page refresh (the shared 5 s tick) to Dash's update endpoint through a Flask test client
    signed in with tests.auth_helpers.signed_in (which sends the session's CSRF token, as the browser does).

    ``outputs``: (component id, property); ``state``: (component id, property, value). Returns
    (milliseconds, response bytes, the response's ``response`` dict; empty for a 204)."""
    body = orjson.dumps({
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": "tick", "property": "n_intervals", "value": 1},
                   {"id": "theme", "property": "data", "value": theme}],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": ["tick.n_intervals"]})
    start = time.perf_counter()
    res = client.post("/_dash-update-component", data=body, content_type="application/json")
    took = (time.perf_counter() - start) * 1000
    assert res.status_code in (200, 204), res.data[:300]
    return took, len(res.data), (orjson.loads(res.data)["response"] if res.status_code == 200 else {})


def healthz_ms(client, n: int) -> float:
    """Median of ``n`` GET /healthz through the same client: the floor of an HTTP request here."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        client.get("/healthz")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def print_table(rows: list[tuple], width: int = 50) -> None:
    """Rows of (figure, unit, median, tail, baseline, note) as a Markdown table with the ratio to the baseline."""
    unit_w = max([9, *(len(r[1]) for r in rows)])
    print(f"| {'figure':{width}} | {'unit':{unit_w}} | {'median':>10} | {'p95/p5':>10} | {'baseline':>10} | {'ratio':>6} | note")
    print(f"|{'-' * (width + 2)}|{'-' * (unit_w + 2)}|{'-' * 12}|{'-' * 12}|{'-' * 12}|{'-' * 8}|-----")
    for name, unit, med, tail, base, note in rows:
        ratio = f"{med / base:.2f}" if base else ""
        base_s = f"{base:,.1f}" if base else ""
        tail_s = f"{tail:,.1f}" if tail is not None else ""
        print(f"| {name:{width}} | {unit:{unit_w}} | {med:>10,.1f} | {tail_s:>10} | {base_s:>10} | {ratio:>6} | {note}")
