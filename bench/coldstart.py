"""Cold start bench: ``python app.py`` until ``GET /healthz`` answers 200.

    .venv/bin/python -m bench.coldstart [--quick] [--repeat 5]      (python -m bench.run runs figures())

Each run starts a new ``python app.py`` (the venv's interpreter, this checkout, ports 18150-18189)
and polls /healthz every 20 ms; the figure is the median time from the process's start to the first
200. Three ways it starts:
- without REDIS_URL: an embedded Redis, the simulated sample city and the demo accounts (the local run);
- with REDIS_URL (this bench's Redis, a fresh key prefix deleted after): the app alone;
- with REDIS_URL and CITY_CONFIG set to the large city (bench/city.py): 10,000 links and the rest.
Baseline, in the same run: a bare Flask app with one /healthz route started the same way (the
interpreter and Flask's own start: the floor of any Python web app here).
Each process is stopped by its PID (SIGTERM, then SIGKILL after 10 s).
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson

from bench.city import large_city_raw
from bench.common import BenchContext, Figure, bench_redis, cleanup, print_figures, target_met
from feeds.redis_conn import connect
from feeds.schema import Keys

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(18150, 18190)
TARGET = "<= 5"
TIMEOUT_S = 60
FLASK_HELLO = """
import os
from flask import Flask
app = Flask(__name__)
@app.get("/healthz")
def healthz():
    return {"ok": True}
app.run(host="127.0.0.1", port=int(os.environ["PORT"]))
"""
_port = iter(PORTS)


def free_port() -> int:
    global _port
    try:
        return next(_port)
    except StopIteration:
        _port = iter(PORTS)
        return next(_port)


def time_to_healthz(args: list[str], env: dict[str, str]) -> float:
    """Seconds from starting ``args`` until GET /healthz on env["PORT"] answers 200; stops the process."""
    url = f"http://127.0.0.1:{env['PORT']}/healthz"
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.read()[-500:]!r}")
            try:
                with urllib.request.urlopen(url, timeout=2) as res:
                    if res.status == 200:
                        return time.perf_counter() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.perf_counter() - start > TIMEOUT_S:
                raise RuntimeError(f"{url}: no 200 within {TIMEOUT_S} s")
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def base_env() -> dict[str, str]:
    """This environment without what would change how the app starts."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CITY_CONFIG", "KEY_PREFIX", "PORT")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def runs(n: int, args: list[str], **extra: str) -> list[float]:
    return [time_to_healthz(args, {**base_env(), **extra, "PORT": str(free_port())}) for _ in range(n)]


def figures(ctx: BenchContext) -> list[Figure]:
    n = 3 if ctx.quick else 5
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(FLASK_HELLO)
        large = Path(tmp) / "large.json"
        large.write_bytes(orjson.dumps(large_city_raw()))
        keys = Keys(f"bench-cold-{uuid.uuid4().hex[:8]}")
        try:
            base = runs(n, [py, str(hello)])
            cases = [("python app.py, no REDIS_URL (embedded Redis + simulator)", runs(n, [py, "app.py"])),
                     ("python app.py, REDIS_URL set", runs(n, [py, "app.py"], REDIS_URL=ctx.url, KEY_PREFIX=keys.prefix))]
            if not ctx.quick:
                cases.append(("python app.py, REDIS_URL set, the large city",
                              runs(n, [py, "app.py"], REDIS_URL=ctx.url, KEY_PREFIX=keys.prefix,
                                   CITY_CONFIG=str(large))))
            base += runs(n, [py, str(hello)])  # before and after: a load change shows in the note
        finally:
            cleanup(connect(ctx.url), keys)
    baseline = statistics.median(base)
    figs = []
    for label, xs in cases:
        value = statistics.median(xs)
        figs.append(Figure(f"cold start to /healthz 200, {label}", "s", value, TARGET, target_met(value, TARGET),
                           "bare Flask app", baseline, f"{n} runs: {', '.join(f'{x:.2f}' for x in xs)} s"))
    return figs


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.coldstart")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    with bench_redis() as url:
        print_figures(figures(BenchContext(url, quick=a.quick)))


if __name__ == "__main__":
    main()
