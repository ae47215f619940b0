"""The feed runner CLI: ``python -m feeds list | run | simulate | alerts``.

Exit codes: 0 success; 1 a batch failed (source or Redis unreachable); 2 bad flags or
configuration. Every failure is one line on stderr.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

import redis

from feeds.adapters import ADAPTERS
from feeds.config import ConfigError, FeedSource, Settings, load_city, load_dotenv
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect, safe_url
from feeds.schema import Keys


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + error; operators get one line
        raise ConfigError(f"{message} (see python -m feeds --help)")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m feeds", description="City Brain feed runner")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    sub.add_parser("list", help="list the feed adapters")
    run = sub.add_parser("run", help="run feed adapters (polling, or once)")
    run.add_argument("names", nargs="+", metavar="NAME")
    run.add_argument("--once", action="store_true", help="one batch per feed, then exit")
    run.add_argument("--interval", type=float, metavar="S", help="seconds between polls (overrides CITY_CONFIG)")
    src = run.add_mutually_exclusive_group()
    src.add_argument("--url", help="fetch from this URL (one feed only)")
    src.add_argument("--file", help="read this file (one feed only)")
    run.add_argument("--tz", help="time zone of the feed's floating timestamps (default: the city's)")
    run.add_argument("--format", help="the payload's format, for feeds that read several (see list)")
    seen = set()
    for cls in ADAPTERS.values():  # each adapter's own flags (Adapter.cli_options)
        for flag, key, help_ in cls.cli_options:
            if flag not in seen:
                seen.add(flag)
                run.add_argument(flag, dest=f"opt_{key}", help=f"{help_} [{cls.name}]")
    sim = sub.add_parser("simulate", help="run the simulated city")
    sim.add_argument("--ticks", type=int, metavar="N", help="stop after N rounds (default: run until stopped)")
    alerts = sub.add_parser("alerts", help="evaluate the alert rules (also done by run and simulate)")
    alerts.add_argument("--once", action="store_true", help="evaluate once, print what changed, then exit")
    alerts.add_argument("--interval", type=float, metavar="S",
                        help="seconds between evaluations (default: CITY_CONFIG alerts.evaluate_every_s)")
    return p


def _connect(settings: Settings) -> redis.Redis:
    if not settings.redis_url:
        raise ConfigError("REDIS_URL is not set: the feed runner writes to the Redis the web app reads "
                          "(python app.py alone starts an embedded one and simulates the city)")
    r = connect(settings.redis_url)
    try:
        r.ping()
    except redis.RedisError as e:
        raise ConfigError(f"cannot reach Redis at {safe_url(settings.redis_url)}: {e}") from None
    return r


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            for name, cls in ADAPTERS.items():
                print(f"{name:16} {cls.domain:12} {cls.title}  [formats: {', '.join(cls.formats)}]")
            return 0
        load_dotenv()
        settings = Settings.from_env()
        city = load_city(settings.city_config)
        from feeds.alert_rules import config_rules

        config_rules(city)  # a bad alert rule: one line, exit 2, before anything runs
        if args.command == "run":
            unknown = [n for n in args.names if n not in ADAPTERS]
            if unknown:
                raise ConfigError(f"unknown feed {unknown[0]!r}; known: {', '.join(ADAPTERS)}")
            if (args.url or args.file) and len(args.names) > 1:
                raise ConfigError("--url/--file name the source of one feed; run one feed per command")
            if args.interval is not None and args.interval <= 0:
                raise ConfigError(f"--interval must be positive, got {args.interval:g}")
            adapters = []
            for name in args.names:
                base = city.feed(name)
                overrides = {k: v for k, v in (("url", args.url), ("file", args.file), ("interval_s", args.interval),
                                               ("timezone", args.tz)) if v is not None}
                if args.url:
                    overrides["file"] = None
                if args.file:
                    overrides["url"] = None
                options = dict(base.options)
                if args.format is not None:
                    options["format"] = args.format
                cls = ADAPTERS[name]
                own = {key for _, key, _ in cls.cli_options}
                for dest, value in vars(args).items():
                    if dest.startswith("opt_") and value is not None:
                        if dest[4:] not in own:
                            flag = "--" + dest[4:].replace("_", "-")
                            raise ConfigError(f"{flag} is not an option of feed {name!r}")
                        options[dest[4:]] = value
                overrides["options"] = options
                source = FeedSource.model_validate({**base.model_dump(), **overrides})
                if source.timezone:
                    from feeds.timeparse import zone
                    try:
                        zone(source.timezone)
                    except Exception:
                        raise ConfigError(f"{name}: unknown time zone {source.timezone!r}") from None
                cls.check_source(source)
                adapters.append(ADAPTERS[name](city, source))
            r = _connect(settings)
            keys = Keys(settings.key_prefix)
            runner = Runner(r, keys, city, KpiEngine(r, keys, city))
            if args.once:
                failed = 0
                for a in adapters:
                    try:
                        print(runner.run_once(a).line())
                    except (OSError, redis.RedisError) as e:
                        failed += 1
                        runner.record_failure(a, f"{type(e).__name__}: {e}")
                        print(f"{a.name}: failed: {type(e).__name__}: {e}", file=sys.stderr)
                return 1 if failed else 0
            runner.run_forever(adapters, _stop_on_signals())
            return 0
        if args.command == "simulate":
            from feeds.simulate import run_simulation

            r = _connect(settings)
            keys = Keys(settings.key_prefix)
            runner = Runner(r, keys, city, KpiEngine(r, keys, city))
            run_simulation(runner, city, _stop_on_signals(), ticks=args.ticks)
            return 0
        if args.command == "alerts":
            return _alerts(args, settings, city)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _alerts(args, settings: Settings, city) -> int:
    """``python -m feeds alerts [--once] [--interval S]``: the alert evaluator on its own."""
    from feeds.alert_rules import config_rules, evaluate

    if args.interval is not None and args.interval <= 0:
        raise ConfigError(f"--interval must be positive, got {args.interval:g}")
    section, _ = config_rules(city)  # a bad rule: one line, exit 2, before connecting
    r = _connect(settings)
    keys = Keys(settings.key_prefix)
    if args.once:
        try:
            s = evaluate(r, keys, city)
        except redis.RedisError as e:
            print(f"alerts: failed: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        print(f"alerts: {s['rules']} rules, {s['raised']} raised, {s['updated']} still open, "
              f"{s['cleared']} cleared, {s['escalated']} escalated, {s['pending']} pending")
        return 0
    interval = args.interval or section.evaluate_every_s
    stop = _stop_on_signals()
    while not stop.is_set():
        try:
            s = evaluate(r, keys, city)
            if s["raised"] or s["cleared"] or s["escalated"]:
                logging.getLogger("feeds.alerts").info("%d raised, %d cleared, %d escalated",
                                                       s["raised"], s["cleared"], s["escalated"])
        except redis.RedisError as e:
            logging.getLogger("feeds.alerts").error("evaluation failed: %s: %s", type(e).__name__, e)
        stop.wait(interval)
    return 0
