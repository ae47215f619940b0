"""Every page's refresh callback at the large city, beside a naive version of the same page.

    .venv/bin/python -m bench.pages [--quick] [--repeat N]      (python -m bench.run calls figures(ctx))

The large city of bench/city.py (10,000 links, ~2,000 buses, 1,000 air + 500 noise stations, 300 units,
500 active incidents, 50 centres, 20,000 open requests), loaded through the real adapters. For each page
(``/``, ``/traffic``, ``/transit``, ``/environment``, ``/emergency``, ``/services``, ``/district/D5``), the
refresh callback through Flask's test client, signed in, as a wall of SCREENS screens would call it:
- first paint: every screen paints the page (the first computes, the others share its work);
- new data: the page's domain moves (the next simulator payload through the adapter and the KPI engine,
  not timed), then every screen refreshes from what it showed; repeated ``repeat`` times;
- nothing new: every screen refreshes again with nothing moved.
ms: p50 and p95 over all those calls; KiB: the median response after the first paint.

Beside each, in the same run, the naive page (``naive``): on every refresh it reads everything the
page shows, builds a ``plotly.graph_objects.Figure`` of the whole map (the domain page's own traces, the
dense traffic network drawn as band lines) and its KPI cards, and serialises it all, with no cache, no
Patch and no version check: what a refresh costs without the optimisations. It is timed as a plain
function call (no HTTP), which flatters it slightly.
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import plotly.graph_objects as go
from plotly.io.json import to_json_plotly

from bench.city import INTERVALS, LargeCityFeeds, large_city, load_state, morning
from bench.common import BenchContext, Figure, bench_redis, cleanup, dash_refresh, pct, print_figures, target_met
from feeds.config import Settings
from feeds.kpi.catalogue import CATALOGUE
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.schema import Keys

SCREENS = 50  # screens refreshing the same page each tick (the fifty; the first of each tick computes)
TARGET_MS, TARGET_KIB = "<= 50", "<= 48.8"  # the p95 <= 50 ms and <= 50 KB (50,000 bytes) per refresh


@dataclass
class PageSpec:
    path: str
    prefix: str                      # component id prefix
    outputs: list[str]               # "<id>.<prop>", all outputs of the refresh callback
    focus: tuple | None              # (store id, value) of the view's focus state, or None
    stores: list[str]                # ids of the version/digest stores (state that the response updates)
    moves: list[str]                 # feeds whose next payload is "new data" for this page
    layers: list[str]                # the city map layers the naive page draws
    extra_state: list[tuple] = field(default_factory=list)


def _outs(prefix: str, names: str) -> list[str]:
    return [f"{prefix}-{n}" for n in names.split()]


PAGES = [
    PageSpec("/traffic", "traffic", _outs("traffic", "cards.children map.figure side.children version.data"),
             ("traffic-focus", None), ["traffic-version"], ["traffic"], ["traffic"]),
    PageSpec("/transit", "transit", _outs("transit", "cards.children map.figure side.children detail.children "
                                                     "alerts.children version.data"),
             ("transit-focus", {"route": None, "vehicle": None, "sort": "on_time"}), ["transit-version"],
             ["transit"], ["buses"]),
    PageSpec("/environment", "environment", _outs("environment", "banner.children cards.children map.figure "
                                                                 "side.children station.children version.data"),
             ("environment-focus", {"district": None, "station": None}), ["environment-version"], ["air", "noise"],
             ["air"]),
    PageSpec("/emergency", "emergency", _outs("emergency", "cards.children asof.children detail.children "
                                                           "queue.children board.children districts.children "
                                                           "map.figure version.data digest.data"),
             ("emergency-focus", {"district": None, "incident": None}), ["emergency-version", "emergency-digest"],
             ["emergency"], ["incidents"]),
    PageSpec("/services", "services", _outs("services", "cards.children map.figure side.children heat.figure "
                                                        "backlog.figure version.data map-head.children "
                                                        "heat-head.children backlog-head.children"),
             ("services-focus", {}), ["services-version"], ["services", "queue-events"], ["services"]),
]


def _overview_outputs(prefix: str, domain_props: tuple[str, ...]) -> list[str]:
    from feeds.kpi.catalogue import DOMAIN_ORDER

    outs = [f"{prefix}-domain-{d}.{p}" for d in DOMAIN_ORDER for p in domain_props]
    return outs


def _all_pages() -> list[PageSpec]:
    overview = PageSpec("/", "overview",
                        ["overview-score.children", "overview-districts.children", "overview-map.figure",
                         "overview-map-ages.children", *_overview_outputs("overview", ("children", "className")),
                         "overview-feeds.children", "overview-version.data"],
                        None, ["overview-version"], ["traffic"],
                        ["traffic", "buses", "air", "incidents", "services"],
                        [("overview-view", "data", {"layers": ["traffic", "buses", "air", "incidents", "services"],
                                                    "focus": None}),
                         ("overview-map-size", "data", [1160, 620])])
    district = PageSpec("/district/D5", "district",
                        ["district-score.children", "district-map.figure", "district-map-ages.children",
                         *_overview_outputs("district", ("children",)), "district-version.data"],
                        None, ["district-version"], ["traffic"],
                        ["traffic", "buses", "air", "incidents", "services"],
                        [("district-id", "data", "D5"),
                         ("district-view", "data", {"layers": ["traffic", "buses", "air", "incidents", "services"],
                                                    "focus": None}),
                         ("district-map-size", "data", [1160, 620])])
    return [overview, *PAGES, district]


# ----------------------------------------------------------------------------- the naive page
@contextmanager
def naive_mode():
    """The product's pages as a naive app would run them: the page's own reads and renderers with no
    shared cache (every screen computes), no frames (every refresh is a first paint: no Patch, no version
    check), and the dense road network drawn as band lines."""
    from dashboard import maps, sharedcache

    saved = (sharedcache._shared, maps.dense_network)
    sharedcache._shared = lambda store: None
    maps.dense_network = lambda city: False
    import dashboard.citymap, dashboard.pages.traffic, callbacks.traffic  # noqa: E401  (their own imports of it)
    mods = (dashboard.citymap, dashboard.pages.traffic, callbacks.traffic)
    for m in mods:
        m.dense_network = maps.dense_network
    try:
        yield
    finally:
        sharedcache._shared, maps.dense_network = saved
        for m in mods:
            m.dense_network = saved[1]


def naive_refresh(client, spec: PageSpec) -> tuple[float, int]:
    """One naive refresh of ``spec``'s page: the whole page, its figures built as go.Figure objects and
    serialised through plotly's validator (no Patch ever: every refresh is a first paint)."""
    start = time.perf_counter()
    _, _, response = Screen(client, spec).refresh()
    parts = {}
    for cid, props in response.items():
        for prop, value in props.items():
            parts[f"{cid}.{prop}"] = go.Figure(value) if prop == "figure" and isinstance(value, dict) else value
    body = to_json_plotly(parts)  # go.Figure validated its data on construction
    return (time.perf_counter() - start) * 1000, len(body)


def naive_times(client, spec: PageSpec, n: int) -> tuple[list[float], float]:
    with naive_mode():
        samples = [naive_refresh(client, spec) for _ in range(n)]
    return [ms for ms, _ in samples], statistics.median(b for _, b in samples)


# ----------------------------------------------------------------------------- the optimised page
class Screen:
    """One screen showing ``spec``'s page: the state its page stores keep between refreshes."""

    def __init__(self, client, spec: PageSpec):
        self.client, self.spec = client, spec
        self.stores = {s: None for s in spec.stores}

    def refresh(self) -> tuple[float, int, dict]:
        spec = self.spec
        outputs = [tuple(o.rsplit(".", 1)) for o in spec.outputs]
        # In the callback's order of State: focus, then the page's own (view, id), the stores, the map size.
        state = [*([(spec.focus[0], "data", spec.focus[1])] if spec.focus else []),
                 *[x for x in spec.extra_state if not x[0].endswith("-map-size")],
                 *[(s, "data", v) for s, v in self.stores.items()],
                 *[x for x in spec.extra_state if x[0].endswith("-map-size")]]
        took, size, response = dash_refresh(self.client, outputs, state)
        for s in self.stores:
            if s in response:
                self.stores[s] = response[s]["data"]
        return took, size, response


def measure(client, spec: PageSpec, mover, ticks: int, n_screens: int) -> dict:
    """{"first"|"new"|"same": (ms samples, bytes samples, ms of each round's first screen)} for ``n_screens``
    screens of ``spec``'s page (the first screen of a round is the one that computes for the others)."""
    screens = [Screen(client, spec) for _ in range(n_screens)]
    out = {k: ([], [], []) for k in ("first", "new", "same")}

    def round_of(kind):
        for k, s in enumerate(screens):
            ms, size, _ = s.refresh()
            out[kind][0].append(ms)
            out[kind][1].append(size)
            if k == 0:
                out[kind][2].append(ms)
    round_of("first")
    for _ in range(ticks):
        mover(spec.moves)
        round_of("new")
        round_of("same")
    return out


def figures(ctx: BenchContext, quiet: bool = True) -> list[Figure]:
    from app import create_app
    from tests.auth_helpers import signed_in

    r = connect(ctx.url)
    city = large_city()
    keys = Keys(f"bench-pages-{uuid.uuid4().hex[:8]}")
    now = [morning(city)]
    engine = KpiEngine(r, keys, city)
    feeds = LargeCityFeeds(city)
    ticks = 2 if ctx.quick else ctx.repeat
    screens = 10 if ctx.quick else SCREENS
    figs: list[Figure] = []
    try:
        load_state(r, keys, city, now[0], engine=engine, feeds=feeds)
        from feeds.framework import Runner

        runner = Runner(r, keys, city, engine)

        def mover(names):
            now[0] += min(INTERVALS[n] for n in names)
            for name in names:
                runner.run_once(feeds.adapter(name), feeds.payload(name, now[0]), now=now[0])

        app = create_app(Settings(ctx.url, 8050, None, keys.prefix, 5, None), city)
        client = signed_in(app, r, keys, "viewer")
        client.get("/_dash-layout")
        for spec in _all_pages():
            started = time.perf_counter()
            got = measure(client, spec, mover, ticks, screens)
            n_naive = 3 if ctx.quick else max(5, ctx.repeat)
            naive_ms, naive_bytes = naive_times(client, spec, n_naive)
            base_p95 = pct(naive_ms, 95)
            for kind, label in (("first", "first paint"), ("new", "new data"), ("same", "nothing new")):
                ms, sizes, computing = got[kind]
                p95 = pct(ms, 95)
                figs.append(Figure(f"callback p95, {spec.path}, {label}, large city", "ms", p95,
                                   TARGET_MS if kind != "first" else "", target_met(p95, TARGET_MS)
                                   if kind != "first" else None, "naive page p95", base_p95,
                                   f"p50 {statistics.median(ms):.1f} ms over {len(ms)} calls ({screens} screens); "
                                   f"the screen that computes: median {statistics.median(computing):.0f} ms"))
                kib = statistics.median(sizes) / 1024
                if kind != "first":
                    figs.append(Figure(f"bytes per refresh, {spec.path}, {label}, large city", "KiB", kib,
                                       TARGET_KIB, target_met(kib, TARGET_KIB), "naive page", naive_bytes / 1024,
                                       f"max {max(sizes) / 1024:.1f} KiB"))
                else:
                    figs.append(Figure(f"bytes, {spec.path}, first paint, large city", "KiB", kib, "", None,
                                       "naive page", naive_bytes / 1024, ""))
            if not quiet:
                print_figures(figs[-6:])
                print(f"({spec.path}: {time.perf_counter() - started:.0f} s)\n", flush=True)
    finally:
        cleanup(r, keys)
    return figs


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="two ticks per page instead of --repeat")
    p.add_argument("--repeat", type=int, default=7, help="ticks of new data per page")
    p.add_argument("--only", default="", help="comma-separated page paths, e.g. /traffic,/")
    args = p.parse_args()
    if args.only:
        chosen = set(args.only.split(","))
        global _all_pages
        everything = _all_pages
        _all_pages = lambda: [s for s in everything() if s.path in chosen]  # noqa: E731
    with bench_redis() as url:
        start = time.perf_counter()
        figs = figures(BenchContext(url=url, repeat=args.repeat, quick=args.quick), quiet=False)
        print("\nAll pages:\n")
        print_figures(figs)
        print(f"\n{time.perf_counter() - start:.0f} s; load average {' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}")


if __name__ == "__main__":
    main()
