"""Coverage-guided fuzzing (atheris / libFuzzer) of every feed parser, and the API contract run deeper.

    .venv/bin/python -m bench.fuzz [--quick] [--seconds N] [--target NAME ...] [--no-api]

One atheris target per parser (the seven feed adapters, and the GTFS static zip reader), each in a
subprocess of its own that libFuzzer stops after ``-max_total_time`` seconds (default 25 s a target,
``--quick`` 4 s, no API run: under a minute in all). The corpus is the real fixtures
(tests/fuzzing.py SEEDS). An input is either a payload as it is (libFuzzer mutates its bytes) or,
when it starts with a zero byte, the choices of tests/fuzzing.mutate over one of the feed's
seeds (fields of the wrong type, NaN, 1970/2100 dates, invalid UTF-8, unknown enums, deep nesting).

Each input goes through ``parse`` and ``validate``: anything but Rejected or Skipped is a crash. One
input in SAMPLE_EVERY also runs through ``Runner.run_once`` on Redis under a key prefix of its own,
with the checks of tests/fuzzing.check_batch (no exception out of the runner, every record
accounted for, every rejected one a dead letter with a reason). A crash stops the target and leaves
the input in the work directory (printed); it belongs in tests/test_fuzz_adapters.py as a regression.

Then (not with --quick) tests/test_api_contract.py runs with API_FUZZ_EXAMPLES=100 per operation.

Figures: executions (cases run), crashes (target 0), and libFuzzer's coverage (cov: edges, ft:
features, corpus units added) per target.
"""
from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_EVERY = 200  # one input in this many also runs the whole Runner path against Redis
# Target -> the modules atheris instruments for coverage (all of feeds/ would take seconds to rewrite).
MODULES = {"traffic": ["nyc_traffic"], "road-incidents": ["road_incidents"], "transit": ["transit", "transit_gtfs"],
           "gtfs-static": ["transit_gtfs"], "environment": ["environment"], "emergency": ["emergency"],
           "requests": ["open311"], "services": ["service_queues"]}
TARGETS = tuple(MODULES)

from bench.common import BenchContext, Figure, print_figures


# --- the fuzz target (runs in the subprocess) ----------------------------------------------------------
def seeds_of(target: str):
    from tests import fuzzing as fz

    if target == "gtfs-static":
        return [s for s in fz.SEEDS if s.kind == "gtfs-zip"]
    return [s for s in fz.SEEDS if s.feed == target and s.kind != "gtfs-zip"]


def child(target: str, redis_url: str, argv: list[str]) -> None:
    import atheris

    from feeds.adapters.transit_gtfs import load_gtfs
    from feeds.framework import Rejected, Skipped
    from feeds.redis_conn import connect
    from tests import fuzzing as fz

    for name in [f"feeds.adapters.{m}" for m in MODULES[target]] + ["feeds.framework", "feeds.timeparse", "feeds.geo"]:
        instrument_module(atheris, sys.modules[name])
    import logging

    logging.disable(logging.CRITICAL)  # dead letters log a warning each
    seeds = seeds_of(target)
    payloads = [s.payload() for s in seeds]
    adapters = [s.make() for s in seeds] if target != "gtfs-static" else []
    r = connect(redis_url)
    count = 0

    def one(data: bytes) -> None:
        nonlocal count
        count += 1
        if data[:1] == b"\0" and len(data) > 1:  # structure-aware: the bytes pick a mutation of a seed
            pick = fz.bytes_picker(data[1:])
            i = pick(len(seeds))
            payload, seed = fz.mutate(seeds[i], payloads[i], pick), seeds[i]
        else:
            payload, seed = data, seeds[count % len(seeds)]
        if target == "gtfs-static":
            try:
                load_gtfs(payload)
            except ValueError:  # the documented "not a usable GTFS feed"
                pass
        else:
            adapter = adapters[seeds.index(seed)]
            try:
                raws = list(adapter.parse(payload))
            except (Rejected, RecursionError):  # the runner rejects a payload on RecursionError too
                raws = []
            for raw in raws:
                try:
                    adapter.validate(raw)
                except (Rejected, Skipped, RecursionError):  # the runner dead-letters RecursionError too
                    pass
        if count % SAMPLE_EVERY == 0:
            fz.run_batch(r, seed, payload)  # raises Violation when a guarantee breaks

    atheris.Setup([sys.argv[0], *argv], one)
    atheris.Fuzz()


def instrument_module(atheris, module) -> None:
    """Coverage feedback for the functions and methods defined in ``module`` (in place, so every
    reference to them sees it); cheaper than instrumenting every import."""
    for obj in list(vars(module).values()):
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            atheris.instrument_func(obj)
        elif inspect.isclass(obj):
            for member in vars(obj).values():
                func = getattr(member, "__func__", member)
                if inspect.isfunction(func):
                    atheris.instrument_func(func)


# --- the driver ------------------------------------------------------------------------------------------
@dataclass
class Result:
    target: str
    cases: int
    crashes: int
    cov: int
    ft: int
    new_units: int
    seconds: float
    crash_file: str = ""
    tail: str = ""


STAT = re.compile(r"stat::(\w+):\s+(\d+)")
PROGRESS = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")


def run_target(target: str, seconds: int, redis_url: str, work: Path) -> Result:
    from tests import fuzzing as fz

    corpus = work / target / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds_of(target)):
        (corpus / f"seed-{i}").write_bytes(seed.payload())
        for j in range(4):  # structure-aware starting points: a zero byte, then the choices
            (corpus / f"mutate-{i}-{j}").write_bytes(b"\0" + bytes([i]) + os.urandom(64))
    n_seeds = len(list(corpus.iterdir()))
    max_len = max(len(s.payload()) for s in fz.SEEDS if s in seeds_of(target)) * 2
    args = [f"-max_total_time={seconds}", "-print_final_stats=1", f"-max_len={max_len}", "-timeout=20",
            f"-artifact_prefix={work / target}/", "-rss_limit_mb=4096", str(corpus)]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.fuzz", "--child", target, "--redis", redis_url, "--", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120)
    took = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    stats = {k: int(v) for k, v in STAT.findall(out)}
    progress = PROGRESS.findall(out)
    cov, ft, corp = (int(x) for x in progress[-1][1:]) if progress else (0, 0, n_seeds)
    crashed = proc.returncode != 0
    crash_file = next((str(p) for p in (work / target).glob("crash-*")), "")
    return Result(target, stats.get("number_of_executed_units", int(progress[-1][0]) if progress else 0),
                  int(crashed), cov, ft, stats.get("new_units_added", max(0, corp - n_seeds)), took, crash_file,
                  out[-3000:] if crashed else "")


def run_api_contract(examples: int) -> tuple[int, float, str]:
    """tests/test_api_contract.py with ``examples`` per operation: (failed operations, seconds, summary)."""
    t0 = time.perf_counter()
    env = {**os.environ, "API_FUZZ_EXAMPLES": str(examples), "API_FUZZ_RANDOM": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_api_contract.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    failed = int(found[0]) if (found := re.findall(r"(\d+) failed", summary)) else (0 if proc.returncode == 0 else 1)
    return failed, time.perf_counter() - t0, summary


def figures(ctx: BenchContext, seconds: int | None = None, targets=TARGETS, api: bool | None = None) -> list[Figure]:
    seconds = seconds or (4 if ctx.quick else 25)
    api = (not ctx.quick) if api is None else api
    out: list[Figure] = []
    crashes = 0
    with tempfile.TemporaryDirectory(prefix="cbfuzz-") as tmp:
        for target in targets:
            res = run_target(target, seconds, ctx.url, Path(tmp))
            crashes += res.crashes
            out.append(Figure(f"fuzz cases run, {target} ({seconds} s)", "cases", res.cases,
                              note=f"cov {res.cov} edges, ft {res.ft}, {res.new_units} new units, "
                                   f"{res.cases / seconds:,.0f}/s"))
            if res.crashes:
                print(f"CRASH in {target}: {res.crash_file}\n{res.tail}", file=sys.stderr)
                if res.crash_file:  # keep the input beyond the temporary directory
                    keep = ROOT / "bench" / f"fuzz-crash-{target}-{Path(res.crash_file).name}"
                    keep.write_bytes(Path(res.crash_file).read_bytes())
                    print(f"crashing input kept at {keep}", file=sys.stderr)
    out.append(Figure("fuzz crashes, all parsers", "crashes", crashes, target="0", met=crashes == 0,
                      note=f"{len(targets)} targets x {seconds} s"))
    if api:
        examples = 100
        failed, took, summary = run_api_contract(examples)
        out.append(Figure(f"API contract, operations failing ({examples} examples each)", "operations", failed,
                          target="0", met=failed == 0, note=f"{summary} in {took:.0f} s"))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # one target under atheris: --child NAME --redis URL -- libFuzzer args
        split = argv.index("--")
        child(argv[1], argv[3], argv[split + 1:])
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="4 s a target, no API run (under a minute)")
    p.add_argument("--seconds", type=int, help="seconds per target (default 25; 4 with --quick)")
    p.add_argument("--target", action="append", choices=TARGETS, help="only this target (repeatable)")
    p.add_argument("--no-api", action="store_true", help="skip the API contract run")
    args = p.parse_args(argv)
    if args.seconds is not None and args.seconds < 1:
        p.error("--seconds must be at least 1")
    from bench.common import bench_redis

    with bench_redis() as url:
        figs = figures(BenchContext(url=url, quick=args.quick), args.seconds, tuple(args.target or TARGETS),
                       False if args.no_api else None)
    print_figures(figs)
    return 0 if all(f.met is not False for f in figs) else 1


if __name__ == "__main__":
    sys.exit(main())
