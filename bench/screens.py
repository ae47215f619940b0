"""Many wall screens on gunicorn: latency of every screen's refresh, server CPU per extra screen, worker memory.

    .venv/bin/python -m bench.screens [--quick] [--screens 50,100,200] [--seconds 30] [--city sample|large]

Serves the app with the project's gunicorn.conf.py (2 workers x 4 threads, port 18310) on a Redis holding
the city under a bench key prefix (KEY_PREFIX), with the simulated feeds writing through the real adapters
the whole time in a process of their own, and the wall's refresh at 2 s (REFRESH_S=2). Each simulated screen is what a wall's
browser does, over HTTP (``Screen``): it signs in with its own kiosk link, loads the layout and the
callback graph, makes the initial callbacks, then every 2 s posts each callback the shell, the wall and the
view on screen have on the refresh tick (less those the wall answers in the browser, ``WALL_LOCAL`` in
assets/wall.js), with the state the browser holds (the stores updated from every answer, Patches applied),
so most answers are "nothing new" or a small Patch, and every 20 s it rotates to the next view (the wall's
render and the new view's first paint). Screens start at random phases of the tick and of the rotation, as
real screens do. The load is open-loop: a tick is sent on time whether or not the last one was answered.
Not played: clientside callbacks other than the rotation and the theme set on load.

Measured per N screens, over a window that starts once every screen has opened and the server has caught
up (``/healthz`` answered within 50 ms): p50/p95 of each callback request and
of each screen's whole tick (its callbacks sent together, until the last answer), errors (anything but
200/204, or no answer in 10 s), requests/s, the workers' CPU (cores, from /proc) and RSS (max, each
worker), the feeds' and Redis' CPU, and how late the screens' own event loop woke (its share of every
latency). The same screens against ``bench/hello.py`` (a plain Flask route under the same gunicorn, each
tick the same number of requests) are the ceiling for an HTTP request on this machine. The cost of an
extra screen is the slope of worker CPU (and of p95) against N, over the loads served without errors.
``BENCH_DUMP=/path/prefix`` writes each load's requests in the window (monotonic time, callback, ms,
bytes, status) and the wall-clock offset to ``<prefix>.<screens>.<epoch>.json``, for a timeline of
where the slow requests bunch up.
In one process, without gunicorn (``encoding``): each view's first paint with Dash's own JSON encoder and
with dashboard/fastjson.py, what gzip would save and cost, and the kiosk session check's cost.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import orjson

from bench.common import BenchContext, Figure, bench_redis, cleanup, pct, print_figures, target_met
from feeds.redis_conn import connect
from feeds.schema import Keys

ROOT = Path(__file__).resolve().parent.parent
PORT = 18310
REFRESH_S = 2.0
PLAYLIST = "overview:20,traffic:20,emergency:20,transit:20"
TIMEOUT_S = 10.0  # a request unanswered this long failed: the wall says SERVER UNREACHABLE by then
TARGET_P95_MS = 250
TARGET_RSS_MIB = 300
CLK = os.sysconf("SC_CLK_TCK")


def wall_local() -> tuple[str, ...]:
    """The callbacks the wall's browser answers itself (``WALL_LOCAL`` in assets/wall.js)."""
    import re

    found = re.search(r"var WALL_LOCAL = \[([^\]]*)\]", (ROOT / "assets" / "wall.js").read_text())
    return tuple(re.findall(r"'([^']+)'", found.group(1))) if found else ()


# ----------------------------------------------------------------------------- gunicorn and /proc
def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def workers(master: int) -> list[int]:
    """The gunicorn master's children (its workers), from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(_stat(int(d))[1]) == master:
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                continue
    return sorted(out)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    f = _stat(pid)
    return (int(f[11]) + int(f[12])) / CLK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def gunicorn(app: str, env: dict, port: int = PORT, extra: list[str] | None = None):
    """``gunicorn <app> -c gunicorn.conf.py`` (the Procfile's web process, 2 workers) on 127.0.0.1:port;
    yields the master's pid once both workers answer. Its log goes to a file (a pipe nobody reads would
    fill and stall the workers); warnings from it are printed at the end. Stopped (SIGTERM to its group)."""
    import tempfile
    import urllib.request

    env = {**os.environ, "WEB_CONCURRENCY": "2", **env, "PORT": str(port), "HOST": "127.0.0.1"}
    exe = Path(sys.executable).parent / "gunicorn"
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([str(exe), app, "-c", "gunicorn.conf.py", *(extra or [])],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                    pass
                if len(workers(proc.pid)) >= int(env["WEB_CONCURRENCY"]):
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError("gunicorn did not start: " + log.read().decode(errors="replace")[-2000:])
            time.sleep(0.3)
        time.sleep(1.0)  # both workers' warm-up (post_worker_init)
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.seek(0)
        bad = [line for line in log.read().decode(errors="replace").splitlines()
               if any(w in line for w in ("ERROR", "CRITICAL", "WARNING", "Traceback"))]
        if bad:
            print(f"  gunicorn ({app}) logged {len(bad)} warnings/errors, e.g.:", *bad[:5], sep="\n    ", flush=True)


# ----------------------------------------------------------------------------- what a screen records
@dataclass
class Record:
    requests: list = field(default_factory=list)  # (at, kind, ms, bytes, status) of each callback POST
    ticks: list = field(default_factory=list)     # (at, ms): a screen's whole tick, until its last answer
    errors: list = field(default_factory=list)    # (at, what)

    def window(self, start: float, end: float) -> "Record":
        return Record([x for x in self.requests if start <= x[0] < end], [x for x in self.ticks if start <= x[0] < end],
                      [x for x in self.errors if start <= x[0] < end])


# ----------------------------------------------------------------------------- the browser, over HTTP
@dataclass
class Callback:
    output: str                      # Dash's output string, sent back as it is
    outputs: list[tuple[str, str]]   # (id, property, "@hash" kept for allow_duplicate outputs)
    inputs: list[tuple[str, str]]
    state: list[tuple[str, str]]
    initial: bool                    # called when its component appears (not prevent_initial_call)

    @property
    def kind(self) -> str:
        return self.outputs[0][0]


def callbacks(deps: list[dict]) -> list[Callback]:
    """The server-side callbacks of Dash's callback graph (clientside ones run in the browser, for free)."""
    out = []
    for d in deps:
        if d.get("clientside_function"):
            continue
        ids = [x["id"] for x in d["inputs"] + d.get("state", [])]
        if any(not isinstance(i, str) or i.startswith("{") for i in ids):
            continue  # pattern-matching ids: none of the wall's views has them on the tick
        outs = d["output"].strip(".").split("...") if d["output"].startswith("..") else [d["output"]]
        out.append(Callback(d["output"], [tuple(o.rsplit(".", 1)) for o in outs],
                            [(x["id"], x["property"]) for x in d["inputs"]],
                            [(x["id"], x["property"]) for x in d.get("state", [])], not d.get("prevent_initial_call")))
    return out


def apply_patch(value, operations: list[dict]):
    """A Dash Patch's operations applied to the value the browser holds."""
    for op in operations:
        loc, params, name = op["location"], op.get("params", {}), op["operation"]
        if name in ("Assign", "Delete") and not loc:
            value = params.get("value") if name == "Assign" else None
            continue
        target = value
        try:
            for k in (loc[:-1] if name in ("Assign", "Delete") else loc):
                target = target[k]
            if name == "Assign":
                target[loc[-1]] = params["value"]
            elif name == "Delete":
                del target[loc[-1]]
            elif name == "Merge":
                target.update(params["value"])
            elif name == "Extend":
                target.extend(params["value"])
            elif name == "Append":
                target.append(params["value"])
            elif name == "Prepend":
                target.insert(0, params["value"])
            elif name == "Insert":
                target.insert(params["index"], params["value"])
            elif name == "Remove":
                target.remove(params["value"])
            elif name == "Clear":
                target.clear()
            elif name == "Reverse":
                target.reverse()
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            continue  # an operation on a part this screen does not hold; the browser would skip it too
    return value


def request_body(cb: Callback, comps: dict[str, dict], changed: list[str]) -> bytes:
    """The POST Dash's renderer makes for ``cb``, with the values the browser holds in ``comps``."""
    def item(i, p):
        d = {"id": i, "property": p}
        comp = comps.get(i, {})
        if p in comp:
            d["value"] = comp[p]
        return d

    outs = [{"id": i, "property": p} for i, p in cb.outputs]
    return orjson.dumps({"output": cb.output, "outputs": outs if cb.output.startswith("..") else outs[0],
                         "inputs": [item(*x) for x in cb.inputs], "changedPropIds": changed,
                         "state": [item(*x) for x in cb.state]})


def index(node, out: dict) -> dict:
    """id -> props of every component in a layout tree (following ``children``)."""
    if isinstance(node, list):
        for c in node:
            index(c, out)
    elif isinstance(node, dict) and "props" in node:
        props = node["props"]
        if isinstance(props.get("id"), str):
            out[props["id"]] = props
        index(props.get("children"), out)
    return out


def browser() -> aiohttp.ClientSession:
    """A screen's HTTP client: its own cookies (127.0.0.1 is an IP: ``unsafe`` keeps them), and at most 6
    connections to the server, as a browser opens to one host."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=6), cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))


class Screen:
    """One wall screen's browser: kiosk sign-in, the layout, the initial callbacks, then the 2 s tick and the
    playlist's rotation. Clientside callbacks are played by hand: the theme store is set on load, and the
    rotation sets ``wall-current`` the way assets/wall.js does."""

    def __init__(self, base: str, query: str, graph: list[Callback], rec: Record, rnd: random.Random):
        self.base, self.query, self.graph, self.rec, self.rnd = base, query, graph, rec, rnd
        self.root: dict = {"props": {"children": None}}
        self.comps: dict[str, dict] = {}
        self.tasks: set[asyncio.Task] = set()
        self.http: aiohttp.ClientSession | None = None
        self.csrf = ""
        self.playlist: list[dict] = []
        self.local = wall_local()

    async def open(self, token: str) -> None:
        self.http = browser()
        async with self.http.get(f"{self.base}/wall?{urlencode({'kiosk': token})}&{self.query}") as res:
            await res.read()
            assert res.status == 200 and "kiosk=" not in str(res.url), (res.status, res.url)
        self.csrf = next(c.value for c in self.http.cookie_jar if c.key == "_csrf_token")
        async with self.http.get(self.base + "/_dash-dependencies") as res:
            raw = await res.read()
        if not self.graph:  # the same for every screen: parsed by the first one
            self.graph = callbacks(orjson.loads(raw))
        async with self.http.get(self.base + "/_dash-layout") as res:
            self.root["props"]["children"] = orjson.loads(await res.read())
        self.reindex()
        # What the browser sets by itself on load: the address (dcc.Location) and the theme (a clientside callback).
        self.comps["url"].update(pathname="/wall", search="?" + self.query, href=f"{self.base}/wall?{self.query}")
        self.comps["theme"]["data"] = "dark"
        await self.fire([c for c in self.graph if c.initial and self.ready(c)], [], "initial")
        await self.settle()
        self.playlist = (self.comps.get("wall-playlist") or {}).get("data") or []
        if self.playlist:  # the first view's first paint, as the page loads
            self.rotate(1, self.playlist[0])
            await self.settle()

    async def settle(self) -> None:
        """Wait for the callbacks still running (chained ones, a new view's initial ones)."""
        while self.tasks:
            await asyncio.wait(list(self.tasks), timeout=TIMEOUT_S)

    def reindex(self) -> None:
        self.comps = index(self.root, {})

    def ready(self, cb: Callback) -> bool:
        return all(i in self.comps for i, _ in cb.inputs) and all(o in self.comps for o, _ in cb.outputs)

    def body(self, cb: Callback, changed: list[str]) -> bytes:
        return request_body(cb, self.comps, changed)

    async def call(self, cb: Callback, changed: list[str], why: str) -> list[str]:
        """POST one callback, record it, apply its answer; returns the props it changed."""
        start = time.perf_counter()
        at = time.monotonic()
        try:
            async with self.http.post(self.base + "/_dash-update-component", data=self.body(cb, changed),
                                      headers={"Content-Type": "application/json", "X-CSRFToken": self.csrf}) as res:
                raw = await res.read()
                status = res.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            self.rec.errors.append((at, f"{cb.kind}: {type(e).__name__}"))
            return []
        ms = (time.perf_counter() - start) * 1000
        self.rec.requests.append((at, f"{why} {cb.kind}", ms, len(raw), status))
        if status not in (200, 204):
            self.rec.errors.append((at, f"{cb.kind}: HTTP {status} {raw[:120]!r}"))
            return []
        if status == 204:
            return []
        changed_now, children = [], False
        for cid, props in orjson.loads(raw)["response"].items():
            comp = self.comps.get(cid)
            if comp is None:
                continue
            for prop, value in props.items():
                if isinstance(value, dict) and "__dash_patch_update" in value:
                    value = apply_patch(comp.get(prop), value["operations"])
                comp[prop] = value
                changed_now.append(f"{cid}.{prop}")
                children |= prop == "children"
        if children:
            before = set(self.comps)
            self.reindex()
            new = set(self.comps) - before
            if new:  # components that appeared: their initial callbacks (as Dash's renderer makes them)
                fresh = [c for c in self.graph if c.initial and self.ready(c)
                         and any(i in new for i, _ in c.inputs + c.outputs)]
                self.spawn(self.fire(fresh, [], "initial"))
        chained = [c for c in self.graph if self.ready(c) and any(f"{i}.{p}" in changed_now for i, p in c.inputs)]
        if chained:
            self.spawn(self.fire(chained, changed_now, "chained"))
        return changed_now

    async def fire(self, cbs: list[Callback], changed: list[str], why: str) -> None:
        cbs = [c for c in cbs if not c.output.startswith(self.local)]  # answered in the browser
        await asyncio.gather(*(self.call(c, changed, why) for c in cbs))

    def spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def tick(self, n: int) -> None:
        self.comps["tick"]["n_intervals"] = n
        cbs = [c for c in self.graph if self.ready(c) and ("tick", "n_intervals") in c.inputs]
        start, at = time.perf_counter(), time.monotonic()
        await self.fire(cbs, ["tick.n_intervals"], "tick")
        self.rec.ticks.append((at, (time.perf_counter() - start) * 1000))

    def rotate(self, seq: int, view: dict) -> None:
        """What assets/wall.js does when the playlist moves on: a new ``wall-current`` (the server renders it)."""
        current = self.comps.get("wall-current")
        if current is None:
            return
        current["data"] = {"key": view["path"] + "?" + urlencode(view.get("query") or {}), "seq": seq,
                           "path": view["path"], "query": view.get("query") or {}, "title": view["title"],
                           "pinned": False}
        cbs = [c for c in self.graph if self.ready(c) and ("wall-current", "data") in c.inputs]
        self.spawn(self.fire(cbs, ["wall-current.data"], "rotate"))

    async def run(self, until: float) -> None:
        """Tick every REFRESH_S from a random phase, rotate on the playlist's intervals, until ``until``."""
        now = time.monotonic()
        next_tick = now + self.rnd.uniform(0, REFRESH_S)
        playlist = self.playlist
        seq, index_ = 1, 0
        # Screens are out of step: each one is somewhere in its first view's interval.
        next_rotation = now + self.rnd.uniform(0, playlist[0]["interval_s"]) if playlist else float("inf")
        n = 0
        while True:
            wake = min(next_tick, next_rotation)
            if wake >= until:
                break
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
            if wake == next_tick:
                n += 1
                self.spawn(self.tick(n))
                next_tick += REFRESH_S
            else:
                index_, seq = (index_ + 1) % len(playlist), seq + 1
                self.rotate(seq, playlist[index_])
                next_rotation += playlist[index_]["interval_s"]

    async def close(self) -> None:
        await self.settle()
        if self.http:
            await self.http.close()


class HelloScreen(Screen):
    """The baseline screen: the same tick, the same number of requests per tick, to a plain Flask route."""

    per_tick = 5

    async def open(self, token: str) -> None:
        self.http = browser()
        self.comps = {"tick": {}}

    async def hello(self) -> None:
        start, at = time.perf_counter(), time.monotonic()
        try:
            async with self.http.post(self.base + "/hello", data=b'{"hello":1}',
                                      headers={"Content-Type": "application/json"}) as res:
                raw, status = await res.read(), res.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            self.rec.errors.append((at, f"hello: {type(e).__name__}"))
            return
        self.rec.requests.append((at, "tick hello", (time.perf_counter() - start) * 1000, len(raw), status))
        if status != 200:
            self.rec.errors.append((at, f"hello: HTTP {status}"))

    async def tick(self, n: int) -> None:
        start, at = time.perf_counter(), time.monotonic()
        await asyncio.gather(*(self.hello() for _ in range(self.per_tick)))
        self.rec.ticks.append((at, (time.perf_counter() - start) * 1000))


# ----------------------------------------------------------------------------- one load
@dataclass
class Load:
    n: int
    req_p50: float
    req_p95: float
    tick_p50: float
    tick_p95: float
    requests_s: float
    errors: int
    cpu_cores: float       # both workers together
    rss_mib: list[float]   # max per worker
    kib_per_tick: float    # per screen
    client_cpu: float      # this process (the screens), cores
    kinds: dict            # kind -> (count, p95 ms, median bytes)
    error_sample: list
    loop_lag_p95: float = 0.0  # ms the screens' own event loop was late (a busy client adds it to every figure)
    others: dict = field(default_factory=dict)  # the rest of the machine's CPU in the window: name -> cores


async def drive(base: str, n: int, seconds: float, master: int, make_screen, tokens: list[str],
                others_pids: dict[str, int] | None = None) -> Load:
    """Open ``n`` screens (a few at a time, as screens are switched on), let them settle, measure ``seconds``;
    ``others_pids`` (name -> pid: the feeds, Redis) have their CPU over the window measured too."""
    others_pids = others_pids or {}
    rec = Record()
    rnd = random.Random(n)
    screens = [make_screen(rec, rnd) for _ in range(n)]
    sem = asyncio.Semaphore(8)

    async def open_one(s, token) -> bool:
        async with sem:
            try:
                await s.open(token)
                return True
            except (aiohttp.ClientError, asyncio.TimeoutError, AssertionError) as e:
                rec.errors.append((time.monotonic(), f"opening: {type(e).__name__} {e}"[:200]))
                return False

    await drained(base)  # the last load's backlog is gone
    await screens[0].open(tokens[0])
    for s in screens[1:]:
        s.graph = screens[0].graph
    opened = [screens[0]] + [s for s, ok in zip(screens[1:], await asyncio.gather(
        *(open_one(s, t) for s, t in zip(screens[1:], tokens[1:])))) if ok]
    failed_to_open = len(screens) - len(opened)
    await drained(base)  # the first paints of the opening are answered
    start = time.monotonic() + 2 * REFRESH_S  # settle: every screen's first ticks and rotation are out
    end = start + seconds
    runs = [asyncio.ensure_future(s.run(end)) for s in opened]
    lags: list[float] = []

    async def watch_loop():  # how late this process wakes up: its own share of every latency measured
        while time.monotonic() < end:
            due = time.monotonic() + 0.05
            await asyncio.sleep(0.05)
            if due >= start:
                lags.append((time.monotonic() - due) * 1000)
    runs.append(asyncio.ensure_future(watch_loop()))
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    pids = workers(master)
    cpu0, me0 = sum(cpu_s(p) for p in pids), time.process_time()
    others0 = {name: cpu_s(pid) for name, pid in others_pids.items()}
    peak = {p: rss_mib(p) for p in pids}
    while time.monotonic() < end:
        await asyncio.sleep(min(1.0, max(0.0, end - time.monotonic())))
        for p in pids:
            peak[p] = max(peak[p], rss_mib(p))
    cpu1, me1 = sum(cpu_s(p) for p in pids), time.process_time()
    others = {name: (cpu_s(pid) - others0[name]) / seconds for name, pid in others_pids.items()}
    await asyncio.gather(*runs)
    await asyncio.gather(*(s.close() for s in screens))
    w = rec.window(start, end)
    if os.environ.get("BENCH_DUMP"):
        with open(os.environ["BENCH_DUMP"] + f".{n}.{int(time.time())}.json", "wb") as f:
            f.write(orjson.dumps({"start": start, "offset": time.time() - time.monotonic(), "requests": w.requests}))
    w.errors += [e for e in rec.errors if e[1].startswith("opening")][:failed_to_open]
    ms = [x[2] for x in w.requests] or [TIMEOUT_S * 1000]  # nothing answered: every request timed out
    ticks = [x[1] for x in w.ticks] or [TIMEOUT_S * 1000]
    kinds = {}
    for kind in sorted({x[1] for x in w.requests}):
        xs = [x for x in w.requests if x[1] == kind]
        kinds[kind] = (len(xs), pct([x[2] for x in xs], 95), statistics.median(x[3] for x in xs))
    return Load(n, statistics.median(ms), pct(ms, 95), statistics.median(ticks), pct(ticks, 95),
                len(w.requests) / seconds, len(w.errors), (cpu1 - cpu0) / seconds, [peak[p] for p in pids],
                sum(x[3] for x in w.requests) / 1024 / max(1, len(w.ticks)), (me1 - me0) / seconds, kinds,
                [e[1] for e in w.errors[:3]], pct(lags, 95) if lags else 0.0, others)


async def drained(base: str, limit_s: float = 90) -> None:
    """Until the server answers /healthz within 50 ms twice running (at most ``limit_s``)."""
    fast = 0
    deadline = time.monotonic() + limit_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as http:
        while fast < 2 and time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                async with http.get(base + "/healthz") as res:
                    await res.read()
                fast = fast + 1 if time.perf_counter() - start < 0.05 else 0
            except (aiohttp.ClientError, asyncio.TimeoutError):
                fast = 0
            await asyncio.sleep(0.5)


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys against xs."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


# ----------------------------------------------------------------------------- the city and the feeds
@contextmanager
def city_feeding(url: str, keys: Keys, which: str):
    """The city under ``keys`` with its feeds writing through the real adapters and the KPI engine in a
    process of their own the whole time (as the Procfile's ``feeds:`` process, on the same machine: in this
    process they would hold the screens' event loop up and count as the server's latency); yields the
    environment the web app needs for it and the pids of the feeds process and Redis (name -> pid). ``sample``: the sample city and its simulator (``python app.py``);
    ``large``: bench/city.py's large city, each feed on its interval."""
    import tempfile

    env = {"REDIS_URL": url, "KEY_PREFIX": keys.prefix, "REFRESH_S": str(REFRESH_S)}
    r = connect(url)
    config = None
    if which == "large":
        from bench.city import large_city_raw

        config = tempfile.NamedTemporaryFile("wb", suffix=".json")
        config.write(orjson.dumps(large_city_raw()))
        config.flush()
        env["CITY_CONFIG"] = config.name
    spec = {"url": url, "prefix": keys.prefix, "which": which, "config": config.name if config else None}
    proc = subprocess.Popen([sys.executable, "-m", "bench.screens", "--feeding", orjson.dumps(spec).decode()],
                            cwd=ROOT, stdin=subprocess.PIPE)
    pids = {"feeds": proc.pid}
    try:
        pids["redis"] = int(r.info("server")["process_id"])  # when it runs on this machine, as here
    except Exception:
        pass
    try:
        deadline = time.monotonic() + 120
        while not r.exists(keys.kpi_version("traffic")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(f"the city's feeds stopped at the start (exit {proc.returncode})")
        yield env, pids
    finally:
        proc.stdin.close()  # its end: it stops when its stdin closes
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if config is not None:
            config.close()


def feeding(spec: dict) -> int:
    """The feeds process of ``city_feeding``: runs until its stdin closes."""
    from feeds.config import SAMPLE_CITY, Settings, load_city

    stop = threading.Event()
    if spec["which"] == "sample":
        from app import start_simulation

        stop = start_simulation(Settings(spec["url"], PORT, SAMPLE_CITY, spec["prefix"], REFRESH_S, None),
                                load_city(SAMPLE_CITY))
    else:
        from feeds.config import parse_city

        city = parse_city(orjson.loads(Path(spec["config"]).read_bytes()))
        threading.Thread(target=feed_large, args=(connect(spec["url"]), Keys(spec["prefix"]), city, stop),
                         daemon=True).start()
    sys.stdin.read()
    stop.set()
    return 0


def feed_large(r, keys: Keys, city, stop: threading.Event) -> None:
    """bench/city.py's large city: its full state now, then every feed again on its own interval."""
    from bench.city import INTERVALS, LargeCityFeeds, load_state
    from feeds.framework import Runner
    from feeds.kpi.engine import KpiEngine

    engine = KpiEngine(r, keys, city)
    feeds = LargeCityFeeds(city)
    load_state(r, keys, city, now=time.time(), engine=engine, feeds=feeds)
    runner = Runner(r, keys, city, engine)
    due = {name: time.monotonic() + INTERVALS[name] for name in feeds.feeds}
    while not stop.is_set():
        name = min(due, key=due.get)
        if stop.wait(max(0.0, due[name] - time.monotonic())):
            break
        due[name] = time.monotonic() + INTERVALS[name]
        now = time.time()
        try:
            runner.run_once(feeds.adapter(name), feeds.payload(name, now), now=now)
        except Exception as e:  # a feed failing is the wall's "stale" banner, not the end of the bench
            print(f"  large city feed {name}: {type(e).__name__}: {e}", flush=True)


def run_loads(url: str, counts: list[int], seconds: float, which: str = "sample") -> tuple[list[Load], list[Load]]:
    """(wall loads, hello loads) for each N in ``counts``."""
    from feeds.accounts import Accounts

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    keys = Keys(f"bench-screens-{uuid.uuid4().hex[:6]}")
    r = connect(url)
    base = f"http://127.0.0.1:{PORT}"
    walls, hellos = [], []
    try:
        accounts = Accounts(r, keys)
        tokens = [accounts.add_kiosk(f"screen-{i}", by="bench") for i in range(max(counts))]
        with city_feeding(url, keys, which) as (env, pids):
            with gunicorn("app:server", env) as master:
                async def wall_loads():
                    out = []
                    for n in counts:
                        out.append(await drive(base, n, seconds, master,
                                               lambda rec, rnd: Screen(base, f"views={PLAYLIST}", [], rec, rnd),
                                               tokens, pids))
                        report(out[-1], "wall")
                    return out

                walls = asyncio.run(wall_loads())
        # Requests a wall screen makes a tick, from the lightest load (answered in full).
        light = walls[0]
        per_tick = max(1, round(sum(c for k, (c, _, _) in light.kinds.items() if k.startswith("tick "))
                                / max(1, light.n * seconds / REFRESH_S)))
        HelloScreen.per_tick = per_tick
        with gunicorn("bench.hello:server", {}) as master:
            async def hello_loads():
                out = []
                for n in counts:
                    out.append(await drive(base, n, seconds, master,
                                           lambda rec, rnd: HelloScreen(base, "", [], rec, rnd), tokens))
                    report(out[-1], f"hello x{per_tick}")
                return out

            hellos = asyncio.run(hello_loads())
    finally:
        cleanup(r, keys)
    return walls, hellos



# ----------------------------------------------------------------------------- in one process: the encoder
VIEWS = ("overview", "traffic", "emergency", "transit")


def encoding(url: str, repeat: int) -> list[Figure]:
    """Each wall view's first paint (its refresh callback with nothing shown yet) through Flask's test client:
    the server CPU of the whole request with Dash's own JSON encoder (plotly's) and with dashboard/fastjson.py,
    and the encoding alone. Same process, same answers, alternated."""
    import dash._callback
    from plotly.io.json import to_json_plotly

    from app import create_app
    from dashboard import fastjson
    from feeds.config import SAMPLE_CITY, Settings, load_city
    from feeds.framework import Runner
    from feeds.kpi.engine import KpiEngine
    from feeds.plugins import package_modules
    from feeds.simulate import run_simulation
    from tests.auth_helpers import signed_in

    keys = Keys(f"bench-screens-{uuid.uuid4().hex[:6]}")
    r = connect(url)
    city = load_city(SAMPLE_CITY)
    figs = []
    try:
        run_simulation(Runner(r, keys, city, KpiEngine(r, keys, city)), city, threading.Event(), ticks=2)
        app = create_app(Settings(url, PORT, None, keys.prefix, REFRESH_S, None), city)
        client = signed_in(app, r, keys, "kiosk")
        graph = callbacks(orjson.loads(client.get("/_dash-dependencies").data))
        pages = package_modules("dashboard.pages", "page")
        store = app.server.extensions["citybrain.auth"].store
        for view in VIEWS:
            comps = index(orjson.loads(fastjson.to_json(pages[view].page(store, {}))), {})
            comps.update(tick={"id": "tick", "n_intervals": 1}, theme={"id": "theme", "data": "dark"})
            cbs = [c for c in graph if ("tick", "n_intervals") in c.inputs and c.kind.startswith(view)
                   and all(i in comps for i, _ in c.inputs + c.state)]
            bodies = [request_body(c, comps, ["tick.n_intervals"]) for c in cbs]
            answers = []

            def keep(value):
                answers.append(value)
                return fastjson.to_json(value)

            dash._callback.to_json = keep
            for b in bodies:
                client.post("/_dash-update-component", data=b, content_type="application/json")
            cpu = {}
            for name, encoder in (("plotly", to_json_plotly), ("fast", fastjson.to_json)) * repeat:
                dash._callback.to_json = encoder
                start = time.process_time()
                for b in bodies:
                    res = client.post("/_dash-update-component", data=b, content_type="application/json")
                    assert res.status_code == 200, res.data[:200]
                cpu.setdefault(name, []).append((time.process_time() - start) * 1000)
            enc = {}
            for name, encoder in (("plotly", to_json_plotly), ("fast", fastjson.to_json)) * repeat:
                start = time.process_time()
                for a in answers:
                    encoder(a)
                enc.setdefault(name, []).append((time.process_time() - start) * 1000)
            dash._callback.to_json = fastjson.to_json
            texts = [fastjson.to_json(a).encode() for a in answers]
            size = sum(len(t) for t in texts) / 1024
            gz = {}
            for level in (1, 6):  # what compressing the answer would cost and save (not done: the CPU is short)
                start = time.process_time()
                for _ in range(repeat):
                    packed = sum(len(zlib.compress(t, level)) for t in texts)
                gz[level] = ((time.process_time() - start) / repeat * 1000, packed / 1024)
            figs.append(Figure(f"first paint of /{'' if view == 'overview' else view}: refresh callback CPU, one-pass "
                               "encoder", "ms", statistics.median(cpu["fast"]), "", None, "Dash's encoder (plotly)",
                               statistics.median(cpu["plotly"]),
                               f"{size:.0f} KiB; encoding alone {statistics.median(enc['fast']):.1f} ms vs "
                               f"{statistics.median(enc['plotly']):.1f} ms; gzip -1 {gz[1][1]:.0f} KiB in "
                               f"{gz[1][0]:.1f} ms, -6 {gz[6][1]:.0f} KiB in {gz[6][0]:.1f} ms; sample city; "
                               f"median of {repeat}"))
        figs.append(sign_in_check(app, client, repeat))
    finally:
        cleanup(r, keys)
    return figs


def sign_in_check(app, client, repeat: int) -> Figure:
    """A wall's small callback (its header's user badge) with the kiosk session checked in Redis on every
    request, and with the check kept for ``auth.kiosk_check_s`` (3 s) per worker, as the app does."""
    gate = app.server.extensions["citybrain.auth"]
    body = orjson.dumps({"output": "user-badge.children", "outputs": {"id": "user-badge", "property": "children"},
                         "inputs": [{"id": "url", "property": "pathname", "value": "/wall"}],
                         "changedPropIds": [], "state": []})
    ms: dict[str, list[float]] = {}
    for how in ("every request", "kept 3 s") * repeat:
        start = time.perf_counter()
        for _ in range(50):
            if how == "every request":
                gate.kiosk_seen.clear()
            res = client.post("/_dash-update-component", data=body, content_type="application/json")
            assert res.status_code == 200, res.data[:200]
        ms.setdefault(how, []).append((time.perf_counter() - start) / 50 * 1000)
    kept, every = statistics.median(ms["kept 3 s"]), statistics.median(ms["every request"])
    return Figure("small wall callback, kiosk session check kept 3 s per worker", "ms", kept, "", None,
                  "checked in Redis every request", every,
                  f"the check costs {every - kept:.2f} ms a request; median of {repeat} x 50")


def report(load: Load, what: str) -> None:
    print(f"  {what:10} {load.n:4} screens: request p50 {load.req_p50:6.1f} p95 {load.req_p95:6.1f} ms, "
          f"tick p95 {load.tick_p95:6.1f} ms, {load.requests_s:6.0f} req/s, {load.errors} errors, "
          f"workers {load.cpu_cores:.2f} cores, RSS {', '.join(f'{x:.0f}' for x in load.rss_mib)} MiB, "
          f"{load.kib_per_tick:.1f} KiB/tick, screens' own CPU {load.client_cpu:.2f} cores, "
          f"their loop late p95 {load.loop_lag_p95:.1f} ms"
          + "".join(f", {name} {cores:.2f} cores" for name, cores in load.others.items()), flush=True)
    if load.error_sample:
        print("     errors, e.g.:", load.error_sample, flush=True)


def figures_of(walls: list[Load], hellos: list[Load], which: str = "sample") -> list[Figure]:
    figs = []
    hello = {h.n: h for h in hellos}
    for w in walls:
        h = hello.get(w.n)
        figs.append(Figure(f"wall screens: callback request p95, {w.n} screens every {REFRESH_S:g} s, {which} city", "ms", w.req_p95,
                           f"<= {TARGET_P95_MS}", target_met(w.req_p95, f"<= {TARGET_P95_MS}") and w.errors == 0,
                           "Flask hello, same load", h.req_p95 if h else None,
                           f"p50 {w.req_p50:.1f} ms; whole tick p95 {w.tick_p95:.0f} ms; {w.requests_s:.0f} req/s; "
                           f"{w.errors} errors; workers {w.cpu_cores:.2f} cores; the screens' own loop late "
                           f"p95 {w.loop_lag_p95:.0f} ms"
                           + "".join(f"; {name} {cores:.2f} cores" for name, cores in w.others.items())))
        figs.append(Figure(f"wall screens: worker RSS (max of each), {w.n} screens, {which} city", "MiB", max(w.rss_mib),
                           f"<= {TARGET_RSS_MIB}", target_met(max(w.rss_mib), f"<= {TARGET_RSS_MIB}"), "", None,
                           ", ".join(f"{x:.0f}" for x in w.rss_mib)))
    coped = [w for w in walls if w.errors == 0]  # an overloaded server's CPU is its share, not its need
    if len(coped) >= 2:
        ns = [w.n for w in coped]
        cpu = slope(ns, [w.cpu_cores * 1000 for w in coped])
        p95 = slope(ns, [w.req_p95 for w in coped])
        hello_cpu = slope([h.n for h in hellos], [h.cpu_cores * 1000 for h in hellos]) if len(hellos) >= 2 else None
        figs.append(Figure(f"wall screens: server CPU per extra screen, {which} city", "ms CPU/s", cpu, "", None,
                           "Flask hello, same requests", hello_cpu, f"slope over {ns} (the loads without errors); p95 grows {p95:.2f} ms per screen"))
    return figs


def figures(ctx: BenchContext) -> list[Figure]:
    counts = [10, 50] if ctx.quick else [50, 100, 200]
    walls, hellos = run_loads(ctx.url, counts, 10 if ctx.quick else 30)
    return figures_of(walls, hellos) + encoding(ctx.url, ctx.repeat)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.screens", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="10 and 50 screens, 10 s each")
    p.add_argument("--screens", help="comma-separated screen counts (default 50,100,200)")
    p.add_argument("--seconds", type=float, help="measuring window per count (default 30; --quick 10)")
    p.add_argument("--city", choices=("sample", "large"), default="sample")
    p.add_argument("--feeding", metavar="JSON", help=argparse.SUPPRESS)  # city_feeding's feeds process
    args = p.parse_args(argv)
    if args.feeding:
        return feeding(orjson.loads(args.feeding))
    try:
        counts = [int(x) for x in args.screens.split(",")] if args.screens else ([10, 50] if args.quick else [50, 100, 200])
        if not counts or min(counts) < 1:
            raise ValueError
    except ValueError:
        print(f"error: --screens must be positive whole numbers separated by commas, got {args.screens!r}", file=sys.stderr)
        return 2
    seconds = args.seconds or (10 if args.quick else 30)
    with bench_redis() as url:
        print(f"wall screens on gunicorn (2 workers x {os.environ.get('WEB_THREADS', '4')} threads), "
              f"tick {REFRESH_S:g} s, playlist {PLAYLIST}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
              flush=True)
        walls, hellos = run_loads(url, counts, seconds, args.city)
        figs = figures_of(walls, hellos, args.city) + encoding(url, 3 if args.quick else 7)
    print()
    print_figures(figs)
    shown = max((w for w in walls if w.kinds), key=lambda w: w.n, default=walls[-1])
    print(f"\nper callback at {shown.n} screens (count in the window, p95 ms, median bytes):")
    for kind, (count, p95, size) in shown.kinds.items():
        print(f"  {kind:40} {count:6} {p95:8.1f} ms {size / 1024:8.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
