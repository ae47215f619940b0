"""Services bench: ``python -m bench.run`` calls ``run(url, repeat)``; alone:

    .venv/bin/python -m bench.services [--repeat 7] [--centres 50] [--open-requests 20000]

A city of 50 service centres (3 queues each) and 20,000 open 311 requests (plus 5,000 closed in the
week), simulated through the real formats:
- adapter ingest (records/s, median and p5) of Warsaw snapshots, queue events and Open311 JSON,
  each beside a bare pipelined HSET + XADD of the same records in the same run (the Redis floor);
- KPI compute of the services domain + city.score (ms, median and p95);
- the /services refresh callback through Flask's test client (ms and bytes): first paint, a Patch
  after new data, and a tick with nothing new.
Uses its own key prefix and deletes only its own keys.
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import datetime

import orjson

from bench.city import open311_payload, sample_raw, with_centres
from bench.common import bench_redis, cleanup, dash_refresh, healthz_ms, pct, print_table
from tests.auth_helpers import signed_in
from feeds.adapters.open311 import Open311Adapter
from feeds.adapters.service_queues import ServiceQueuesAdapter
from feeds.config import FeedSource, Settings, parse_city
from feeds.framework import Runner, trim_args
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect
from feeds.schema import READINGS_RETENTION, Keys
from feeds.simulate.services import CitySim, EventFeed, SnapshotFeed
from feeds.timeparse import zone


def big_city(n_centres: int):
    return parse_city(with_centres(sample_raw(), n_centres))


def floor_rate(r, keys, records: list[dict]) -> float:
    """Records/s of writing the same records with one pipelined HSET + XADD each and nothing else."""
    start = time.perf_counter()
    pipe = r.pipeline(transaction=False)
    for k, rec in enumerate(records):
        pipe.hset(keys.queue_latest() + ":floor", str(k), orjson.dumps(rec))
        pipe.xadd(keys.readings("services") + ":floor", {"k": str(k)}, **trim_args(READINGS_RETENTION))
        if k % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    return len(records) / (time.perf_counter() - start)


def run(url: str, repeat: int = 7, n_centres: int = 50, n_open: int = 20_000) -> None:
    r = connect(url)
    city = big_city(n_centres)
    now = datetime(2026, 11, 16, 15, 0, tzinfo=zone(city.timezone)).timestamp()  # a Monday afternoon
    rows = []
    keys = Keys(f"bench-services-{uuid.uuid4().hex[:8]}")
    try:
        # Payloads: snapshots (first payload: today + last week's same day, every 5 min), a day of events.
        sim = CitySim(city, 7)
        snapshot_feed = SnapshotFeed(sim)
        snapshots = snapshot_feed.payload(now)
        events = EventFeed(sim).payload(now)
        requests = open311_payload(city, n_open, n_open // 4, now)
        feeds = [("services (Warsaw CSV)", ServiceQueuesAdapter, {"format": "warsaw"}, snapshots),
                 ("services (queue events CSV)", ServiceQueuesAdapter, {"format": "queue-events"}, events),
                 ("requests (Open311 JSON)", Open311Adapter, {}, requests)]
        runner = Runner(r, keys, city)  # no engine: ingest alone
        for label, cls, options, payload in feeds:
            rates, floors = [], []
            for i in range(repeat):
                cleanup(r, keys)
                adapter = cls(city, FeedSource(interval_s=30, timezone=city.timezone, options=options))
                start = time.perf_counter()
                res = runner.run_once(adapter, payload, now=now)
                rates.append(res.stored / (time.perf_counter() - start))
                floors.append(floor_rate(r, keys, [{"i": k} for k in range(res.stored)]))
            rows.append((f"{label}, {res.fetched:,} records", "records/s", statistics.median(rates), pct(rates, 5),
                         statistics.median(floors), f"{len(payload) / 1024:.0f} KiB payload"))
        # Everything in at once for the KPI and page figures.
        cleanup(r, keys)
        engine = KpiEngine(r, keys, city)
        for label, cls, options, payload in feeds:
            Runner(r, keys, city).run_once(cls(city, FeedSource(interval_s=30, timezone=city.timezone, options=options)),
                                           payload, now=now)
        from feeds.kpi import services as services_kpi

        engine.recompute(("services",), now=now)
        request_rows = orjson.loads(feeds[2][3])
        live_requests = Open311Adapter(city, FeedSource(interval_s=60, timezone=city.timezone))
        live_events = ServiceQueuesAdapter(city, FeedSource(interval_s=30, timezone=city.timezone,
                                                            options={"format": "queue-events"}))
        event_feed = EventFeed(CitySim(city, 7))
        event_feed.payload(now)  # the simulated centres at "now"; later payloads are the next 30 s of steps
        tick = [now]

        def new_batches():
            # What arrives between two recomputes: 50 requests closed and 30 s of visit steps.
            tick[0] += 30
            i = int((tick[0] - now) // 30)
            closed_at = datetime.fromtimestamp(tick[0], zone(city.timezone)).isoformat(timespec="seconds")
            batch = [dict(x, status="closed", updated_datetime=closed_at) for x in request_rows[50 * i:50 * (i + 1)]]
            Runner(r, keys, city).run_once(live_requests, orjson.dumps(batch), now=tick[0])
            Runner(r, keys, city).run_once(live_events, event_feed.payload(tick[0]), now=tick[0])

        for label, mode in (("first after a start (reads everything)", "cold"),
                            ("after a requests and an events batch", "batch"),
                            ("after a queue snapshot", "warm")):
            times = []
            for i in range(repeat):
                if mode == "cold":
                    services_kpi._MEMO.clear()
                elif mode == "batch":
                    new_batches()
                start = time.perf_counter()
                values = engine.recompute(("services",), now=tick[0])
                times.append((time.perf_counter() - start) * 1000)
            rows.append((f"KPI recompute, {label}", "ms", statistics.median(times), pct(times, 95), None,
                         f"{n_centres} centres, {values['services.requests_open']['value']:,.0f} open requests, "
                         f"{r.hlen(keys.visits('2026-11-16')):,} visit steps"))

        from app import create_app

        app = create_app(Settings(url, 8050, None, keys.prefix, 5, None), city)
        client = signed_in(app, r, keys, "viewer")
        client.get("/_dash-layout")
        from dashboard.pages.services import services_signature
        from dashboard.store import Store

        signature = "||dark|" + services_signature({k["id"]: k for k in Store(r, keys, city).kpis(domain="services")})
        outputs = [("services-cards", "children"), ("services-map", "figure"), ("services-side", "children"),
                   ("services-heat", "figure"), ("services-backlog", "figure"), ("services-version", "data"),
                   ("services-map-head", "children"), ("services-heat-head", "children"),
                   ("services-backlog-head", "children")]

        def call(shown, focus):
            took, size, _ = dash_refresh(client, outputs, [("services-focus", "data", focus),
                                                           ("services-version", "data", shown)])
            return took, size

        base = healthz_ms(client, repeat * 3)
        biggest = max(values["services.requests_open"]["detail"]["by_type"].items(), key=lambda kv: kv[1])[0]
        for label, shown, focus in (("first paint", None, {}), ("new data (Patch) after a snapshot batch", "||dark|older", {}),
                                    ("no new data", signature, {}),
                                    ("first paint, centre drill-down", None, {"centre": "C1"}),
                                    (f"first paint, {biggest} requests mapped", None, {"type": biggest})):
            samples = []
            for k in range(repeat * 3):
                if label.startswith("new data"):  # a real new snapshot batch: today's wait slots move
                    t = now + 60 * (k + 1)
                    Runner(r, keys, city).run_once(
                        ServiceQueuesAdapter(city, FeedSource(interval_s=30, timezone=city.timezone,
                                                              options={"format": "warsaw"})),
                        snapshot_feed.payload(t), now=t)
                samples.append(call(shown, focus))
            ms = [t for t, _ in samples]
            rows.append((f"services callback, {label}", "ms", statistics.median(ms), pct(ms, 95), base,
                         f"{statistics.median(b for _, b in samples) / 1024:.1f} KiB/response"))
    finally:
        cleanup(r, keys)
    print_table(rows, 58)
    print("\nrecords/s: p5 is the slow tail, baseline = bare pipelined HSET+XADD of as many records; "
          "ms: p95, baseline = GET /healthz through the same client.")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--centres", type=int, default=50)
    p.add_argument("--open-requests", type=int, default=20_000)
    a = p.parse_args()
    with bench_redis() as url:
        run(url, a.repeat, a.centres, a.open_requests)
