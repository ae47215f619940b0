"""What every bench (and the callback tests) share: the Figure each bench module reports and the context
it runs in, percentiles, key clean-up, a Dash refresh over HTTP, the /healthz baseline and the printed
tables."""
from __future__ import annotations

import os
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass

import orjson

from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import Keys


@dataclass
class Figure:
    """One line of the summary table (``python -m bench.run``); a bench module's ``figures(ctx)`` returns these."""
    name: str                 # e.g. "callback p95, /emergency, large city"
    unit: str                 # "ms", "records/s", "KiB", "MiB", "s"
    value: float              # the measured figure (median of runs, or the pXX named in `name`)
    target: str = ""          # e.g. "<= 50"; "" when there is no target
    met: bool | None = None   # None when there is no target
    baseline: str = ""        # e.g. "naive page" / "Flask hello" / "redis-benchmark XADD"
    baseline_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / baseline_value when both are set."""
        if self.baseline_value in (None, 0) or self.value is None:
            return None
        return self.value / self.baseline_value


@dataclass
class BenchContext:
    """What ``python -m bench.run`` hands every bench module's ``figures(ctx)``."""
    url: str                  # Redis URL to use (bench_redis() gives one)
    repeat: int = 7
    quick: bool = False       # --quick: shorter scenarios (for a smoke run), same code paths


def target_met(value: float, target: str) -> bool | None:
    """Whether ``value`` meets a target written as "<= 50", ">= 50000", "< 1" or "> 0"; None for ""."""
    target = target.strip()
    if not target:
        return None
    for op, test in (("<=", float.__le__), (">=", float.__ge__), ("<", float.__lt__), (">", float.__gt__)):
        if target.startswith(op):
            return test(float(value), float(target[len(op):].replace(",", "").replace("_", "")))
    raise ValueError(f"target {target!r}: expected <=, >=, < or > and a number")


def _num(x: float | None) -> str:
    if x is None:
        return ""
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.2f}" if abs(x) < 10 else f"{x:,.1f}"


def print_figures(figs: list[Figure]) -> None:
    """The summary table: figure | measured | unit | target | met | baseline | ratio | note (Markdown)."""
    head = ("figure", "measured", "unit", "target", "met", "baseline", "ratio", "note")
    rows = []
    for f in figs:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        base = f"{f.baseline} ({_num(f.baseline_value)})" if f.baseline and f.baseline_value is not None else f.baseline
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
        rows.append((f.name, _num(f.value), f.unit, f.target, met, base, ratio, f.note))
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head[:-1])]
    right = {1, 6}

    def line(cells):
        out = [(c.rjust(w) if i in right else c.ljust(w)) for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(out) + f" | {cells[-1]}"

    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|-----")
    for r in rows:
        print(line(r))


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
                 theme: str = "dark", inputs: list[tuple[str, str, object]] | None = None) -> tuple[float, int, dict]:
    """POST one page refresh (the shared 5 s tick) to Dash's update endpoint through a Flask test client
    signed in with tests.auth_helpers.signed_in (which sends the session's CSRF token, as the browser does).

    ``outputs``: (component id, property); ``state``: (component id, property, value); ``inputs``: the
    callback's Inputs after the tick, when they are not the theme (id, property, value). Returns
    (milliseconds, response bytes, the response's ``response`` dict; empty for a 204)."""
    body = orjson.dumps({
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": "tick", "property": "n_intervals", "value": 1},
                   *([{"id": i, "property": p, "value": v} for i, p, v in inputs] if inputs is not None
                     else [{"id": "theme", "property": "data", "value": theme}])],
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
