"""Freshness: a record stored -> visible on a wall screen in a real browser.

    .venv/bin/python -m bench.freshness [--quick] [--samples 20] [--screens 0]

Serves the app with the project's gunicorn.conf.py (as bench/screens.py, port 18320, the refresh tick at
2 s) and opens a wall, ``/wall?views=emergency:3600`` through its kiosk link, in headless Chromium
(Debian's chromium + chromedriver, as the browser tests). Each sample hands one new incident
(``unit-events`` JSON, priority 1, a unique id) to the emergency adapter through the feed runner, with
the KPI engine, exactly as the feed process stores it; the clock starts just before the runner is
called. A MutationObserver in the page notes when the incident's row (``#incident-link-<id>``) appears
in the wall's incident queue; the probe is closed again after each sample. One probe before the
counted ones warms the page up (the first new row after the page opened). Target: p95 <= 2 x the
refresh tick. ``--screens N`` runs N simulated screens (bench/screens.py) against the same server
meanwhile, so the figure is taken under that load.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import threading
import time
import uuid

import orjson

from bench.common import BenchContext, Figure, bench_redis, cleanup, pct, print_figures, target_met
from bench.screens import PLAYLIST, REFRESH_S, Record, Screen, gunicorn
from feeds.redis_conn import connect
from feeds.schema import Keys

PORT = 18320
OBSERVE = """
window.freshSeen = window.freshSeen || {};
if (!window.freshObserver) {
  window.freshObserver = new MutationObserver(function () {
    document.querySelectorAll('[id^="incident-link-FRESH-"]').forEach(function (a) {
      var id = a.id.slice('incident-link-'.length);
      if (!window.freshSeen[id]) { window.freshSeen[id] = Date.now(); }
    });
  });
  window.freshObserver.observe(document.body, {childList: true, subtree: true});
}
"""


def chromium(width: int = 1920, height: int = 1080):
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options)


def incident(iid: str, city, status: str, now: float) -> bytes:
    lon, lat = city.center
    return orjson.dumps([{"kind": "incident", "incident": iid, "time": now, "status": status,
                          "type": "Freshness probe", "category": "ems", "priority": 1, "lat": lat, "lon": lon}])


class BackgroundScreens:
    """N simulated wall screens (bench/screens.py) in a thread of their own, until stopped."""

    def __init__(self, base: str, tokens: list[str], seconds: float):
        self.base, self.tokens, self.seconds = base, tokens, seconds
        self.rec = Record()
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run()), daemon=True)

    async def run(self):
        rnd = random.Random(1)
        screens = [Screen(self.base, f"views={PLAYLIST}", [], self.rec, rnd) for _ in self.tokens]
        await screens[0].open(self.tokens[0])
        for s in screens[1:]:
            s.graph = screens[0].graph
        sem = asyncio.Semaphore(8)

        async def open_one(s, t):
            async with sem:
                await s.open(t)

        await asyncio.gather(*(open_one(s, t) for s, t in zip(screens[1:], self.tokens[1:])))
        until = time.monotonic() + self.seconds
        await asyncio.gather(*(s.run(until) for s in screens))
        await asyncio.gather(*(s.close() for s in screens))


def measure(url: str, samples: int, screens: int = 0) -> tuple[list[float], dict]:
    """Seconds from handing each probe incident to the adapter until the wall shows it."""
    from feeds.accounts import Accounts
    from feeds.adapters.emergency import EmergencyAdapter
    from feeds.config import SAMPLE_CITY, load_city
    from feeds.framework import Runner
    from feeds.kpi.engine import KpiEngine

    keys = Keys(f"bench-fresh-{uuid.uuid4().hex[:6]}")
    r = connect(url)
    city = load_city(SAMPLE_CITY)
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    adapter = EmergencyAdapter(city, city.feed("emergency").model_copy(update={"options": {"format": "unit-events"}}))
    env = {"REDIS_URL": url, "KEY_PREFIX": keys.prefix, "REFRESH_S": str(REFRESH_S)}
    info: dict = {}
    try:
        accounts = Accounts(r, keys)
        runner.run_once(adapter, incident("FRESH-warm", city, "received", time.time()))
        runner.run_once(adapter, incident("FRESH-warm", city, "closed", time.time()))
        tokens = [accounts.add_kiosk(f"screen-{i}", by="bench") for i in range(screens + 1)]
        with gunicorn("app:server", env, PORT):
            base = f"http://127.0.0.1:{PORT}"
            load = None
            if screens:
                load = BackgroundScreens(base, tokens[1:], seconds=60 + samples * 8)
                load.thread.start()
                time.sleep(10)  # the screens are on
            driver = chromium()
            try:
                driver.get(f"{base}/wall?kiosk={tokens[0]}&views=emergency:3600")
                deadline = time.monotonic() + 30
                while not driver.execute_script("return !!document.querySelector('#emergency-queue')"):
                    assert time.monotonic() < deadline, "the wall did not show the emergency view in 30 s"
                    time.sleep(0.2)
                driver.execute_script(OBSERVE)
                out = []
                rnd = random.Random(7)
                for i in range(-1, samples):  # probe -1 warms the page up (its first new row): not counted
                    time.sleep(rnd.uniform(0, REFRESH_S))  # probes land at any phase of the screen's tick
                    iid = f"FRESH-{i + 1}" if i >= 0 else "FRESH-first"
                    start = time.time()
                    runner.run_once(adapter, incident(iid, city, "received", start))
                    deadline = time.monotonic() + 10 * REFRESH_S
                    seen = None
                    while seen is None and time.monotonic() < deadline:
                        time.sleep(0.05)
                        seen = driver.execute_script("return (window.freshSeen || {})[arguments[0]] || null", iid)
                    if i >= 0:
                        out.append(seen / 1000 - start if seen else float("inf"))
                    runner.run_once(adapter, incident(iid, city, "closed", time.time()))
                info["console"] = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            finally:
                driver.quit()
            if load is not None:
                load.thread.join(timeout=120)
                ms = [x[2] for x in load.rec.requests]
                info["load"] = (screens, pct(ms, 95) if ms else None, len(load.rec.errors))
    finally:
        cleanup(r, keys)
    return out, info


def figures_of(lag: list[float], info: dict, screens: int) -> list[Figure]:
    target = f"<= {2 * REFRESH_S:g}"
    p95 = pct(lag, 95)
    where = f", {screens} other screens" if screens else ""
    note = f"{len(lag)} probes; median {statistics.median(lag):.2f} s, max {max(lag):.2f} s; tick {REFRESH_S:g} s"
    if info.get("load"):
        n, p, errors = info["load"]
        note += f"; the {n} screens' callback p95 {p:.0f} ms, {errors} errors"
    if info.get("console"):
        note += f"; {len(info['console'])} console errors"
    return [Figure(f"freshness p95: incident stored -> on a wall in Chromium{where}", "s", p95, target,
                   target_met(p95, target), "refresh tick", REFRESH_S, note)]


def figures(ctx: BenchContext) -> list[Figure]:
    samples = 8 if ctx.quick else 20
    lag, info = measure(ctx.url, samples)
    return figures_of(lag, info, 0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.freshness", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="8 probes")
    p.add_argument("--samples", type=int, help="probes (default 20)")
    p.add_argument("--screens", type=int, default=0, help="simulated wall screens meanwhile (default 0)")
    args = p.parse_args(argv)
    samples = args.samples or (8 if args.quick else 20)
    if samples < 1 or args.screens < 0:
        print("error: --samples must be at least 1 and --screens at least 0", file=sys.stderr)
        return 2
    with bench_redis() as url:
        lag, info = measure(url, samples, args.screens)
    print("seconds:", " ".join(f"{x:.2f}" for x in lag))
    print_figures(figures_of(lag, info, args.screens))
    return 0


if __name__ == "__main__":
    sys.exit(main())
