"""Redis Sentinel failover as the app and the runner see it. Not a test; figures go to the README.

    .venv/bin/python -m bench.failover [--quick] [--repeat N]

Each run starts its own master, replica and three sentinels on loopback (ports 18630-18637,
tests.redis_servers.SentinelSet: down-after 500 ms, failover timeout 3 s) and points the app and the
runner at them through ``REDIS_URL=redis+sentinel://...``. A writer thread runs one traffic batch of the
sample city (238 records) every 0.2 s through the real runner; a reader thread reads /api/v1/links
through the app (a signed-in client) every 0.1 s. After a warm-up the master is killed with SIGKILL.
Measured per run, medians over the runs:
- the time until the sentinels name the new master, until the app reads again (first 200 after the
  kill) and until the runner's next batch is stored;
- records acknowledged by Redis (batches that returned) against the records the new master holds: an
  acknowledged write lost in asynchronous replication shows here;
- batches refused during the failover (the runner saw an error: the sender knows, nothing is silently
  lost; keeping and re-sending them is the runner's spool's job).
The baseline is the sentinels' own detection delay (down-after-milliseconds): a failover cannot be
seen sooner than that.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.common import BenchContext, Figure, print_figures

BASE_PORT = 18630
DOWN_AFTER_MS = 500
WRITE_EVERY_S, READ_EVERY_S = 0.2, 0.1


def one_run(quick: bool) -> dict:
    """One failover; returns its measurements (seconds, counts)."""
    from app import create_app
    from feeds.config import SAMPLE_CITY, Settings, load_city
    from feeds.framework import Runner
    from feeds.redis_conn import connect
    from feeds.schema import Keys
    from tests.auth_helpers import signed_in
    from tests.redis_servers import SentinelSet, traffic_batch

    city = load_city(SAMPLE_CITY)
    with tempfile.TemporaryDirectory(prefix="citybrain-failover-") as tmp, \
            SentinelSet(Path(tmp), BASE_PORT, "bench-" + uuid.uuid4().hex[:8], down_after_ms=DOWN_AFTER_MS) as s:
        r = connect(s.url)
        keys = Keys("bench-failover")
        runner = Runner(r, keys, city)
        app = create_app(Settings(s.url, 8050, None, keys.prefix, 5, None), city)
        viewer = signed_in(app, r, keys, "viewer")
        stop = threading.Event()
        writes: list[tuple[float, int | None]] = []  # (time, records stored or None when refused)
        reads: list[tuple[float, int]] = []  # (time, status)
        start_at = time.time() - 600  # one simulated second per batch, so no batch repeats another

        def writer():
            i = 0
            while not stop.is_set():
                try:
                    stored = traffic_batch(runner, city, start_at + i).stored
                except Exception:  # the failover itself: counted as refused
                    stored = None
                writes.append((time.monotonic(), stored))
                i += 1
                stop.wait(WRITE_EVERY_S)

        def reader():
            while not stop.is_set():
                reads.append((time.monotonic(), viewer.get("/api/v1/links").status_code))
                stop.wait(READ_EVERY_S)

        threads = [threading.Thread(target=f, daemon=True) for f in (writer, reader)]
        for t in threads:
            t.start()
        time.sleep(1.0 if quick else 3.0)
        old = s.kill_master()
        killed = time.monotonic()
        promoted = None
        deadline = killed + 60
        while time.monotonic() < deadline:
            if promoted is None and s.master_port() not in (old, -1):
                promoted = time.monotonic() - killed
            read_ok = any(t > killed and st == 200 for t, st in reads[-50:])
            wrote = any(t > killed and n for t, n in writes[-50:])
            if promoted is not None and read_ok and wrote:
                break
            time.sleep(0.05)
        time.sleep(1.0 if quick else 3.0)  # steady again after the failover
        stop.set()
        for t in threads:
            t.join(30)
        first_read = min((t for t, st in reads if t > killed and st == 200), default=None)
        first_write = min((t for t, n in writes if t > killed and n), default=None)
        acknowledged = sum(n for _, n in writes if n)
        held = int(r.hget(keys.feed_health("traffic"), "records") or 0)
        in_stream = r.xlen(keys.readings("traffic"))
        return {"promoted_s": promoted, "read_s": first_read - killed if first_read else None,
                "write_s": first_write - killed if first_write else None,
                "acknowledged": acknowledged, "held": held, "in_stream": in_stream,
                "lost": acknowledged - held, "refused": sum(1 for _, n in writes if n is None),
                "batches": len(writes), "errors": sum(1 for _, st in reads if st not in (200, 503))}


def figures(ctx: BenchContext) -> list[Figure]:
    runs = [one_run(ctx.quick) for _ in range(1 if ctx.quick else max(1, min(ctx.repeat, 5)))]
    base = DOWN_AFTER_MS / 1000
    note = f"{len(runs)} run(s); master SIGKILL, 1 replica, 3 sentinels, down-after {DOWN_AFTER_MS} ms"

    def med(key):
        values = [run[key] for run in runs if run[key] is not None]
        return statistics.median(values) if values else float("nan")

    out = [
        Figure("failover: sentinels name the new master", "s", med("promoted_s"), "", None,
               "down-after-milliseconds", base, note),
        Figure("failover: the app reads again (/api/v1/links 200)", "s", med("read_s"), "<= 15",
               med("read_s") <= 15, "down-after-milliseconds", base, note),
        Figure("failover: the runner stores again", "s", med("write_s"), "<= 15", med("write_s") <= 15,
               "down-after-milliseconds", base, note),
        Figure("failover: records acknowledged, then lost", "records", max(run["lost"] for run in runs), "0",
               max(run["lost"] for run in runs) == 0, "", None,
               f"worst run; acknowledged {sum(r['acknowledged'] for r in runs):,} in all"),
        Figure("failover: batches refused during the failover", "batches", med("refused"), "", None, "", None,
               "the runner saw the error (its spool re-sends them)"),
        Figure("failover: reads answered other than 200/503", "responses", max(run["errors"] for run in runs), "0",
               max(run["errors"] for run in runs) == 0, "", None, "worst run"),
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run (a smoke test of the scenario)")
    parser.add_argument("--repeat", type=int, default=3, help="failovers to run (default 3, at most 5)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    figs = figures(BenchContext(url="", repeat=args.repeat, quick=args.quick))
    print_figures(figs)
    return 0 if all(f.met is not False for f in figs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
