"""Faults, broken on purpose on this machine (loopback only; every loop stops by itself):

    .venv/bin/python -m bench.faults [--quick] [--only outage,restart,flood]

(a) outage: Redis stops for 60 s (--quick: 15 s) and returns with its data, under the web app (gunicorn)
    with a desk page open in headless Chromium (REFRESH_S 5) and the feed runner (road speeds every
    10 s, with its spool): seconds until the page says Redis is unreachable, that its last picture stayed,
    seconds until it is live again after Redis returns (no reload), records the feed sent vs stored,
    the spool's peak bytes, and seconds until the spool was delivered.
(b) restart: Redis restarts EMPTY (no persistence) under the simulated city (``python -m feeds simulate``'s
    loop): seconds until the runner noticed and said so on the timeline, and until every domain's KPIs
    and the bus schedule are back.
(c) flood: 10x the large city's rate (links every 1 s, buses every 0.5 s, air and noise every 6 s) for
    5 min (--quick: 30 s) after a minute (--quick: 10 s) at the normal rate, the feed runner in its own
    process, gunicorn serving the overview to a client polling it: Redis used_memory over time (stream
    retention must hold it), the overview refresh p95 during the flood vs before it, the polls the
    runner skipped (back-pressure, logged) and whether it ran to the end.

Each scenario uses a redis-server of its own (feeds.redis_conn.EmbeddedRedis), never the shared one,
and web ports 18400-18499. The large city is bench/city.py's.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import orjson

from feeds.accounts import Accounts
from feeds.config import ROOT, SAMPLE_CITY, FeedSource, load_city, parse_city
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import EmbeddedRedis, connect
from feeds.schema import READINGS_RETENTION, Keys
from feeds.spool import Spool

from bench.city import INTERVALS, LargeCityFeeds, large_city, load_state
from bench.common import BenchContext, Figure, print_figures, target_met
from bench.memory import retention_of, snapshot

log = logging.getLogger("bench.faults")
PORT_BASE = 18400  # this bench's web servers listen on 18400-18499
REFRESH_S = 5.0  # the pages' default tick


def fig(name, unit, value, target="", **kw) -> Figure:
    return Figure(name, unit, value, target, target_met(value, target) if target else None, **kw)


def wait_for(check, timeout: float, step: float = 0.1):
    """Seconds until ``check()`` is truthy, or None after ``timeout`` (bounded: never loops forever)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(step)
    return None


# ------------------------------------------------------------------------------------------ the pieces
class SimulatedFeed:
    """An adapter whose fetch is a simulator's payload of now: a live feed on this machine. Counts the
    records it sent (the payload's top-level rows, or ``count(payload)``)."""

    def __init__(self, adapter, payload, count=None):
        self.adapter, self.payload, self.count = adapter, payload, count or (lambda p: len(orjson.loads(p)))
        self.sent = self.batches = 0
        adapter.fetch = self.fetch  # the runner polls it like any source

    def fetch(self) -> bytes:
        payload = self.payload(time.time())
        self.sent += self.count(payload)
        self.batches += 1
        return payload


@contextmanager
def web(redis_url: str, prefix: str, port: int, city_config: Path | None = None):
    """gunicorn serving the app (2 workers x 4 threads, as deployed) on 127.0.0.1:``port``."""
    env = {**os.environ, "REDIS_URL": redis_url, "KEY_PREFIX": prefix, "PORT": str(port), "HOST": "127.0.0.1",
           "SECRET_KEY": secrets.token_hex(32), "REFRESH_S": str(REFRESH_S), "WEB_CONCURRENCY": "2",
           "WEB_THREADS": "4"}
    if city_config:
        env["CITY_CONFIG"] = str(city_config)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen([str(gunicorn), "app:server", "-c", "gunicorn.conf.py", "--access-logfile", "/dev/null"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import requests

    try:
        up = wait_for(lambda: _ok(requests, f"http://127.0.0.1:{port}/healthz"), 120, 0.5)
        if up is None:
            raise RuntimeError(f"gunicorn did not answer on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ok(requests, url) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@contextmanager
def browser():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    if os.path.exists("/usr/bin/chromium"):
        options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000",
                "--disable-background-networking", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options)
    try:
        yield driver
    finally:
        driver.quit()


def text(driver, css: str) -> str:
    try:
        return driver.execute_script(f"var e = document.querySelector({css!r}); return e ? e.textContent : ''")
    except Exception:  # the page is being replaced
        return ""


class HttpClient:
    """What bench.common.dash_refresh needs of a client (post -> .status_code, .data), over real HTTP,
    signed in as a wall screen through its kiosk link."""

    def __init__(self, base: str, token: str):
        import requests

        self.base, self.s = base, requests.Session()
        self.s.get(f"{base}/?kiosk={token}", timeout=30)

    def post(self, path, data, content_type):
        from dashboard.auth import CSRF_COOKIE, CSRF_HEADER

        res = self.s.post(self.base + path, data=data, timeout=30,
                          headers={"Content-Type": content_type, CSRF_HEADER: self.s.cookies.get(CSRF_COOKIE, "")})
        res.data = res.content
        return res


@contextmanager
def private_store():
    """A redis-server of the scenario's own with its client and keys, a scratch folder and a stop event for
    the scenario's threads; afterwards the threads are told to stop, the server stopped, the folder removed."""
    server = EmbeddedRedis()
    tmp = tempfile.TemporaryDirectory(prefix="bench-faults-")
    stop = threading.Event()
    try:
        yield server, connect(server.url), Keys("bench-faults"), Path(tmp.name), stop
    finally:
        stop.set()
        server.stop()
        tmp.cleanup()


def used_mib(r) -> float:
    return r.info("memory")["used_memory"] / (1 << 20)


# --------------------------------------------------------------------------------------- (a) outage
def outage(ctx: BenchContext) -> list[Figure]:
    down_s = 15 if ctx.quick else 60
    interval = 2 if ctx.quick else 10
    city = load_city(SAMPLE_CITY)
    from feeds.adapters.nyc_traffic import NycTrafficAdapter
    from feeds.simulate.traffic import TrafficSimulator

    with private_store() as (server, r, keys, tmp, stop):
        token = Accounts(r, keys).add_kiosk("bench-desk", by="bench")
        spool = Spool(tmp / "spool")
        runner = Runner(r, keys, city, KpiEngine(r, keys, city), spool)
        sim = TrafficSimulator(city, 7, no_data_rate=0, malformed_rate=0)
        feed = SimulatedFeed(NycTrafficAdapter(city, FeedSource(interval_s=interval)), sim.payload)
        loop = threading.Thread(target=runner.run_forever, args=([feed.adapter], stop), daemon=True)
        loop.start()
        with web(server.url, keys.prefix, PORT_BASE + 1) as base, browser() as driver:
            driver.get(f"{base}/?kiosk={token}")
            score = "#kpi-city-score .kpi-value"
            wait_for(lambda: text(driver, "#conn") == "● LIVE" and text(driver, score) not in ("", "—"), 60)
            driver.execute_script("window.__sameDocument = true")
            r.shutdown(save=True)  # Redis stops; with persistence, it returns with what it held
            server.kill()
            stopped = time.monotonic()
            to_banner = wait_for(lambda: text(driver, "#conn") == "● OFFLINE", down_s)
            picture, peak = text(driver, score), 0
            while time.monotonic() - stopped < down_s:
                peak = max(peak, spool.bytes)
                time.sleep(0.2)
            kept = picture not in ("", "—") and text(driver, score) == picture  # the whole outage long
            spooled = spool.spooled
            server.start()
            back, to_live, to_delivered = time.monotonic(), None, None
            while time.monotonic() - back < 30 and (to_live is None or to_delivered is None):
                if to_live is None and text(driver, "#conn") == "● LIVE":
                    to_live = time.monotonic() - back
                if to_delivered is None and len(spool) == 0:
                    to_delivered = time.monotonic() - back
                time.sleep(0.05)
            same_page = driver.execute_script("return window.__sameDocument === true")
            sent_before = feed.sent
            wait_for(lambda: feed.sent > sent_before, interval + 5)  # one live batch after it
            stop.set()
            loop.join(30)
            stored = r.xlen(keys.readings("traffic"))
    lost = feed.sent - stored
    note = f"{down_s} s outage; speeds every {interval} s; REFRESH_S {REFRESH_S:g}"
    return [
        fig("outage: page says Redis unreachable (after it stops)", "s", _or(to_banner, down_s), "<= 5",
            baseline="REFRESH_S", baseline_value=REFRESH_S, note=f"{note}; last picture kept: {'yes' if kept else 'NO'}"),
        fig("outage: page live again (after Redis returns)", "s", _or(to_live, 30), "<= 5",
            baseline="REFRESH_S", baseline_value=REFRESH_S, note=f"no reload: {'yes' if same_page else 'NO'}"),
        fig("outage: records lost (sent - stored)", "records", lost, "<= 0",
            note=f"sent {feed.sent:,}, stored {stored:,}; {spooled} batches spooled, {spool.dropped} dropped"),
        fig("outage: spool peak", "KiB", peak / 1024, note=f"{spooled} batches of {len(city.traffic.links)} links"),
        fig("outage: spool delivered (after Redis returns)", "s", _or(to_delivered, 30), "<= 5"),
    ]


def _or(value, timeout):
    """A wait's seconds, or its timeout when it never happened (so the figure misses its target)."""
    return timeout if value is None else value


# -------------------------------------------------------------------------------------- (b) restart
def restart(ctx: BenchContext) -> list[Figure]:
    from feeds.annotations import Annotations
    from feeds.simulate import run_simulation

    city = load_city(SAMPLE_CITY)
    with private_store() as (server, r, keys, tmp, stop):
        runner = Runner(r, keys, city, KpiEngine(r, keys, city), Spool(tmp / "spool"))
        loop = threading.Thread(target=run_simulation, args=(runner, city, stop), daemon=True)
        loop.start()

        def domains() -> set[str]:
            return {k.split(".")[0] for k, v in r.hgetall(keys.kpi_values()).items() if orjson.loads(v).get("value") is not None}

        wait_for(lambda: len(domains()) >= 6 and r.exists(keys.transit_static()), 120, 0.5)
        before = domains()
        server.kill()
        server.start()  # no persistence: empty
        back = time.monotonic()
        noticed = wait_for(lambda: Annotations(r, keys).list("timeline"), 60)
        schedule = wait_for(lambda: r.exists(keys.transit_static()), 120) if noticed is not None else None
        rebuilt = wait_for(lambda: domains() >= before, 120, 0.5)
        rebuilt = None if rebuilt is None else time.monotonic() - back
        missing = sorted(before - domains())
        stop.set()
        loop.join(30)
    note = "simulated city; feeds every 5-60 s"
    return [
        fig("restart empty: noticed, said on the timeline", "s", _or(noticed, 60), note=note),
        fig("restart empty: bus schedule back", "s", _or(schedule, 120) + _or(noticed, 60)),
        fig("restart empty: every domain's KPIs back", "s", _or(rebuilt, 120),
            note="bounded by the slowest feed's interval" + (f"; still missing: {', '.join(missing)}" if missing else "")),
    ]


# ---------------------------------------------------------------------------------------- (c) flood
def flood(ctx: BenchContext) -> list[Figure]:
    before_s, flood_s = (10, 30) if ctx.quick else (60, 300)
    city = large_city()
    from tests.test_overview_callback import refresh

    with private_store() as (server, r, keys, tmp, stop):
        config = tmp / "city.json"
        config.write_bytes(orjson.dumps(city.model_dump(mode="json")))
        load_state(r, keys, city, now=time.time(), engine=KpiEngine(r, keys, city))
        token = Accounts(r, keys).add_kiosk("bench-flood", by="bench")
        with web(server.url, keys.prefix, PORT_BASE + 2, config) as base:
            client = HttpClient(base, token)
            phases, groups = {}, {}
            for phase, rate, seconds in (("before", 1, before_s), ("flood", 10, flood_s)):
                phases[phase] = _phase(r, keys, server.url, config, client, refresh, rate, seconds, tmp / phase)
                groups[phase] = snapshot(r, keys.prefix)
        streams = {d: r.xlen(keys.readings(d)) for d in ("traffic", "environment")}  # buses keep no stream
    b, f = phases["before"], phases["flood"]
    mem = f["memory"]
    half = mem[len(mem) // 2:]
    growth = (statistics.mean(half[-5:]) - statistics.mean(half[:5])) / max(statistics.mean(half[:5]), 1) * 100
    rate = (f"large city, {flood_s} s at 10x: {f['rate']:,.0f} records/s fetched and stored vs {b['rate']:,.0f} "
            f"before; batches {', '.join(f'{k} {v}' for k, v in sorted(f['batches'].items()))}")
    skipped = sum(f["skipped"].values())
    cap = READINGS_RETENTION[0]
    grew = sorted(((g, (size - groups["before"].get(g, (0, 0))[0]) / 2**20) for g, (size, _) in groups["flood"].items()),
                  key=lambda kv: -kv[1])
    print("  flood: key groups that grew most (MiB): " + ", ".join(f"{g} +{mib:,.1f}" for g, mib in grew[:8]), flush=True)
    unbounded = [g for g, mib in grew if mib > 0.1 and retention_of(g) is None]
    return [
        fig("flood: Redis used_memory, peak", "MiB", max(mem), baseline="before the flood",
            baseline_value=max(b["memory"]), note=rate),
        fig("flood: largest readings stream at the end", "entries", max(streams.values()), f"<= {cap * 1.01:.0f}",
            baseline="READINGS_RETENTION", baseline_value=cap,
            note=", ".join(f"{d} {n:,}" for d, n in streams.items()) + " (trimmed approximately, on every write)"),
        fig("flood: used_memory growth over its second half", "%", growth,
            note="grew most: " + ", ".join(f"{g} +{mib:,.0f} MiB" for g, mib in grew[:4])),
        fig("flood: key groups that grew with no bound", "groups", len(unbounded), "<= 0",
            note=(", ".join(unbounded) if unbounded else "every group that grew is capped by count or kept by the data's "
                  "own age (bench/memory.py RETENTION)")),
        fig("flood: overview refresh p95", "ms", f["p95"], "< 5000", baseline="before the flood",
            baseline_value=b["p95"], note=f"p50 {f['p50']:,.0f} ms (before {b['p50']:,.0f}); {f['polls']} polls, "
                                          f"{f['errors']} failed; gunicorn 2x4, a refresh every 0.5 s"),
        fig("flood: GET /healthz p95 (web + Redis PING)", "ms", f["healthz"], "< 1000", baseline="before the flood",
            baseline_value=b["healthz"]),
        fig("flood: polls skipped (back-pressure)", "polls", skipped,
            note=f"{f['log_lines']} back-pressure log lines; runner exit {f['exit']}; "
                 + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(f["skipped"].items()))),
        fig("flood: runner crashed", "runs", 0 if f["exit"] == 0 else 1, "<= 0"),
    ]


def _phase(r, keys, url, config, client, refresh, rate, seconds, out: Path) -> dict:
    """Run the feed runner at ``rate`` x the city's rate for ``seconds`` in its own process while polling
    the overview and sampling used_memory every half second."""
    out.mkdir(parents=True, exist_ok=True)
    stats, errlog, ready = out / "stats.json", out / "runner.log", out / "ready"
    with open(errlog, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bench.faults", "--flood-runner",
                                 json.dumps({"url": url, "prefix": keys.prefix, "config": str(config), "rate": rate,
                                             "seconds": seconds, "stats": str(stats), "ready": str(ready)})],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        wait_for(lambda: ready.exists() or proc.poll() is not None, 600, 0.5)  # its feeds are built
        memory, times, health, errors = [], [], [], 0
        _, _, first = refresh(client, None)  # the page's first paint, then refreshes as a screen makes them
        shown = (first.get("overview-version") or {}).get("data")
        end = time.monotonic() + seconds
        while time.monotonic() < end and proc.poll() is None:
            memory.append(used_mib(r))
            try:
                start = time.perf_counter()
                client.s.get(client.base + "/healthz", timeout=30)
                health.append((time.perf_counter() - start) * 1000)
                ms, _, response = refresh(client, shown)
                times.append(ms)
                shown = (response.get("overview-version") or {}).get("data", shown)
            except Exception:
                errors += 1
            time.sleep(0.5)
        try:
            code = proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "killed"
    s = json.loads(stats.read_text()) if stats.exists() else {"records": 0, "seconds": 1, "skipped": {}, "batches": {}}
    lines = errlog.read_text(errors="replace").count("back-pressure")
    return {"memory": memory or [0], "p95": _p95(times), "p50": statistics.median(times) if times else float("nan"),
            "healthz": _p95(health),
            "polls": len(times), "errors": errors, "exit": code, "rate": s["records"] / max(s["seconds"], 1),
            "skipped": s["skipped"], "batches": s["batches"], "log_lines": lines}


def _p95(xs: list[float]) -> float:
    return sorted(xs)[int(0.95 * (len(xs) - 1))] if xs else float("nan")


def flood_runner(spec: dict) -> int:
    """The runner process of a flood phase: the city's feeds at ``rate`` x their interval through
    Runner.run_forever for ``seconds``; writes what it sent and skipped to ``stats``."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    city = parse_city(orjson.loads(Path(spec["config"]).read_bytes()))
    r, keys = connect(spec["url"]), Keys(spec["prefix"])
    every = LargeCityFeeds(city)
    chosen = {n: (every.adapter(n), every.feeds[n][1], INTERVALS[n]) for n in ("traffic", "transit", "air", "noise")}
    feeds = []
    for name, (adapter, payload, interval) in chosen.items():
        adapter.name = name  # air and noise are both "environment": the loop schedules by name
        adapter.source = adapter.source.model_copy(update={"interval_s": interval / spec["rate"]})
        feeds.append(SimulatedFeed(adapter, payload, _records))
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    runner.back_pressure.every_s = min(30, spec["seconds"] / 3)
    stop = threading.Event()
    timer = threading.Timer(spec["seconds"], stop.set)
    timer.start()
    Path(spec["ready"]).touch()
    start = time.monotonic()
    runner.run_forever([f.adapter for f in feeds], stop)
    took = time.monotonic() - start
    # Polls the schedule asked for but the loop never made (also those still waiting at the end).
    skipped = {f.adapter.name: max(0.0, took / f.adapter.source.interval_s - f.batches) for f in feeds}
    Path(spec["stats"]).write_text(json.dumps({"records": sum(f.sent for f in feeds), "seconds": took,
                                               "batches": {f.adapter.name: f.batches for f in feeds},
                                               "skipped": skipped}))
    return 0


def _records(payload: bytes) -> int:
    """Records in a payload: JSON rows (a list, or OpenAQ's results), or a GTFS-Realtime message's entities."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        from google.transit import gtfs_realtime_pb2

        msg = gtfs_realtime_pb2.FeedMessage()
        try:
            msg.ParseFromString(payload)
        except Exception:  # a bundle of several messages: counted by size, roughly
            return 0
        return len(msg.entity)
    return len(doc.get("results", [])) if isinstance(doc, dict) else len(doc)


# ------------------------------------------------------------------------------------------ entry point
SCENARIOS = {"outage": outage, "restart": restart, "flood": flood}


def figures(ctx: BenchContext, only: list[str] | None = None) -> list[Figure]:
    """Every scenario's figures (ctx.url is not used: each scenario stops and empties a Redis of its own)."""
    out = []
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        try:
            out += scenario(ctx)
        except Exception as e:  # one broken scenario must not hide the others' figures
            log.exception("faults: %s failed", name)
            out.append(Figure(f"{name}: scenario failed", "", float("nan"), note=f"{type(e).__name__}: {e}"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="shorter scenarios, same code paths")
    p.add_argument("--only", default="", help="comma-separated: outage, restart, flood")
    p.add_argument("--flood-runner", metavar="JSON", help=argparse.SUPPRESS)  # a flood phase's runner process
    args = p.parse_args(argv)
    if args.flood_runner:
        return flood_runner(json.loads(args.flood_runner))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    figs = figures(BenchContext(url="", quick=args.quick), [s for s in args.only.split(",") if s])
    print_figures(figs)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
