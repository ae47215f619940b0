"""City Brain benchmarks, the one entry point: runs every bench and prints one summary table.

    .venv/bin/python -m bench.run [--quick] [--only NAME,...] [--repeat N] [--detail]

Every module of ``bench/`` that defines ``figures(ctx: BenchContext) -> list[Figure]`` is a bench
(found by name, as feeds.plugins.package_modules finds plug-ins); ``--only ingest,kpi`` runs those
alone. Each figure is a median of ``--repeat`` runs (or the percentile its name says), with its
target, whether it is met, and a ratio against a baseline measured in the same run. ``--quick`` runs
shorter scenarios through the same code paths (a smoke run). ``--detail`` also prints each domain's
own tables (bench/<domain>.py ``run(url, repeat)``).

Needs a Redis: REDIS_URL, else 127.0.0.1:6379, else an embedded one. Every bench uses its own key
prefix (or its own redis-server) and deletes only its own keys. The first and last lines say what
the machine was doing: cores, load average at the start and the end, Redis version.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback

from bench.common import BenchContext, Figure, bench_redis, print_figures
from feeds.plugins import domain_modules, package_modules
from feeds.redis_conn import connect


def benches() -> dict:
    """{name: module} of every bench module with ``figures(ctx)``."""
    return package_modules("bench", "figures")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def environment(url: str) -> str:
    info = connect(url).info("server")
    return (f"{os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
            f"Redis {info.get('redis_version')} at {url.split('@')[-1]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="shorter scenarios, same code paths (a smoke run)")
    p.add_argument("--only", default="", help="comma-separated bench names (modules of bench/ with figures())")
    p.add_argument("--repeat", type=int, default=None, help="runs per figure (default 7, --quick 3)")
    p.add_argument("--detail", action="store_true", help="also print each domain's own tables")
    args = p.parse_args(argv)
    found = benches()
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in only if n not in found]
    if unknown:
        p.exit(2, f"bench.run: unknown bench {', '.join(unknown)}; one of {', '.join(found)}\n")
    if args.repeat is not None and args.repeat < 1:
        p.exit(2, "bench.run: --repeat must be at least 1\n")
    chosen = {n: m for n, m in found.items() if not only or n in only}
    repeat = args.repeat or (3 if args.quick else 7)
    started = time.monotonic()
    load_start = load()
    figs: list[Figure] = []
    failed = []
    with bench_redis() as url:
        env = environment(url)
        print(f"City Brain bench{' (quick)' if args.quick else ''}: {env}; load average {load_start} at the start",
              flush=True)
        ctx = BenchContext(url=url, repeat=repeat, quick=args.quick)
        for name, mod in chosen.items():
            t0 = time.monotonic()
            print(f"\n## {name}", flush=True)
            try:
                got = list(mod.figures(ctx))
            except Exception as e:  # one broken bench must not hide the others' figures
                traceback.print_exc()
                failed.append(name)
                got = [Figure(f"{name}: bench failed", "", float("nan"), note=f"{type(e).__name__}: {e}"[:200])]
            print_figures(got)
            print(f"({name}: {time.monotonic() - t0:.0f} s)", flush=True)
            figs.extend(got)
        if args.detail:
            for domain, mod in domain_modules("bench", "run").items():
                print(f"\n## {domain} (detail)\n", flush=True)
                mod.run(url, repeat)
    met = [f for f in figs if f.met is not None]
    print(f"\n# Summary: {sum(1 for f in met if f.met)} of {len(met)} targets met"
          f"{'; failed: ' + ', '.join(failed) if failed else ''}\n")
    print_figures(figs)
    print(f"\n{env}; load average {load_start} at the start, {load()} at the end; "
          f"{repeat} runs per figure; {time.monotonic() - started:.0f} s in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
