"""The feed runner CLI: ``python -m feeds list | run | simulate | alerts``, and the accounts of sign-in:
``python -m feeds users | kiosk | tokens`` (see feeds.accounts).

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


def add_spool_flags(p) -> None:
    p.add_argument("--spool-dir", metavar="DIR",
                   help="keep batches fetched while Redis is down here (default: SPOOL_DIR, else "
                        "~/.local/state/citybrain/spool/<KEY_PREFIX>)")
    p.add_argument("--spool-max-mb", type=float, metavar="MB",
                   help="bound of the spool; the oldest batches are dropped beyond it (default: SPOOL_MAX_MB, "
                        "else 1024; 0 turns the spool off)")


def make_spool(args, settings: Settings):
    """The runner's spool from the flags and the environment, or None when turned off (ConfigError: one line)."""
    from feeds.spool import Spool, check_dir, default_dir

    max_mb = settings.spool_max_mb if args.spool_max_mb is None else args.spool_max_mb
    if not 0 <= max_mb <= 1 << 20:
        raise ConfigError(f"--spool-max-mb must be between 0 and {1 << 20}, got {max_mb:g}")
    if max_mb == 0:
        return None
    directory = args.spool_dir or settings.spool_dir or default_dir(settings.key_prefix)
    problem = check_dir(directory)
    if problem:
        raise ConfigError(f"spool directory {directory}: {problem}")
    return Spool(directory, int(max_mb * (1 << 20)))


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
    add_spool_flags(run)
    seen = set()
    for cls in ADAPTERS.values():  # each adapter's own flags (Adapter.cli_options)
        for flag, key, help_ in cls.cli_options:
            if flag not in seen:
                seen.add(flag)
                run.add_argument(flag, dest=f"opt_{key}", help=f"{help_} [{cls.name}]")
    sim = sub.add_parser("simulate", help="run the simulated city")
    sim.add_argument("--ticks", type=int, metavar="N", help="stop after N rounds (default: run until stopped)")
    add_spool_flags(sim)
    alerts = sub.add_parser("alerts", help="evaluate the alert rules (also done by run and simulate)")
    alerts.add_argument("--once", action="store_true", help="evaluate once, print what changed, then exit")
    alerts.add_argument("--interval", type=float, metavar="S",
                        help="seconds between evaluations (default: CITY_CONFIG alerts.evaluate_every_s)")
    add_account_commands(sub)
    return p


def add_account_commands(sub) -> None:
    users = sub.add_parser("users", help="sign-in accounts: add, list, disable, enable, passwd")
    u = users.add_subparsers(dest="action", required=True, parser_class=OneLineParser)
    add = u.add_parser("add", help="add a user (password from stdin, or asked for on a terminal)")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="viewer, coordinator or admin")
    u.add_parser("list", help="list users with their role and state")
    for action, text in (("disable", "stop a user signing in (ends their sessions)"),
                         ("enable", "let a disabled user sign in again"),
                         ("passwd", "set a new password (from stdin, or asked for; ends their sessions)")):
        u.add_parser(action, help=text).add_argument("name")
    role = u.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", help="viewer, coordinator or admin")
    kiosk = sub.add_parser("kiosk", help="kiosk tokens of wall screens: add, list, revoke")
    k = kiosk.add_subparsers(dest="action", required=True, parser_class=OneLineParser)
    kadd = k.add_parser("add", help="a new token for a screen; prints it and the wall link once")
    kadd.add_argument("name")
    kadd.add_argument("--base-url", help="the address the wall opens (default http://127.0.0.1:$PORT)")
    k.add_parser("list", help="list screens (never their tokens)")
    k.add_parser("revoke", help="revoke a screen's token: it is signed out at once").add_argument("name")
    tokens = sub.add_parser("tokens", help="API tokens: add, list, revoke")
    t = tokens.add_subparsers(dest="action", required=True, parser_class=OneLineParser)
    tadd = t.add_parser("add", help="a new API token with a role; prints it once")
    tadd.add_argument("name")
    tadd.add_argument("--role", required=True, help="viewer, coordinator or admin")
    t.add_parser("list", help="list API tokens (never the tokens themselves)")
    t.add_parser("revoke", help="revoke an API token").add_argument("name")


def _read_password() -> str:
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ConfigError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _when(epoch) -> str:
    from feeds.timeparse import epoch_to_iso

    return epoch_to_iso(epoch) if epoch else "-"


def run_accounts(args, settings: Settings) -> int:
    import getpass

    from feeds.accounts import AccountError, Accounts, check_name, check_role

    accounts = Accounts(_connect(settings), Keys(settings.key_prefix))
    try:
        who = getpass.getuser()
    except Exception:  # no user name in a bare container
        who = "unknown"
    by = f"cli:{who}"
    try:
        if args.command == "users":
            if args.action == "add":
                check_name(args.name, "user name")
                check_role(args.role)  # before asking for a password
                user = accounts.add_user(args.name, args.role, _read_password(), by=by)
                print(f"user {user['name']} added ({user['role']})")
            elif args.action == "list":
                for u in accounts.users():
                    state = "disabled" if u.get("disabled") else "enabled"
                    created = f"created {_when(u['created_at'])} by {u['created_by']}"
                    print(f"{u['name']:24} {u['role']:12} {state:9} {created}")
            elif args.action == "role":
                accounts.set_role(args.name, args.role, by=by)
                print(f"user {args.name} is now {args.role}")
            elif args.action == "disable":
                accounts.disable(args.name, by=by)
                print(f"user {args.name} disabled (signed out everywhere)")
            elif args.action == "enable":
                accounts.enable(args.name, by=by)
                print(f"user {args.name} enabled")
            elif args.action == "passwd":
                accounts.set_password(args.name, _read_password(), by=by)
                print(f"password of {args.name} changed (signed out everywhere)")
        elif args.command == "kiosk":
            if args.action == "add":
                token = accounts.add_kiosk(args.name, by=by)
                base = (args.base_url or f"http://127.0.0.1:{settings.port}").rstrip("/")
                print(f"kiosk token of screen {args.name} (shown once, keep it like a password):\n{token}")
                print(f"wall link: {base}/wall?kiosk={token}")
            elif args.action == "list":
                for kiosk in accounts.kiosks():
                    state = (f"revoked {_when(kiosk['revoked_at'])} by {kiosk['revoked_by']}"
                             if kiosk.get("revoked_at") else "live")
                    print(f"{kiosk['name']:24} created {_when(kiosk['created_at'])} by {kiosk['created_by']}  {state}")
            elif args.action == "revoke":
                accounts.revoke_kiosk(args.name, by=by)
                print(f"kiosk token of screen {args.name} revoked")
        elif args.command == "tokens":
            if args.action == "add":
                token = accounts.add_api_token(args.name, args.role, by=by)
                print(f"API token {args.name} ({args.role}; shown once, send it as 'Authorization: Bearer <token>'):")
                print(token)
            elif args.action == "list":
                for tok in accounts.api_tokens():
                    state = f"revoked {_when(tok['revoked_at'])} by {tok['revoked_by']}" if tok.get("revoked_at") \
                        else "live"
                    created = f"created {_when(tok['created_at'])} by {tok['created_by']}"
                    print(f"{tok['name']:24} {tok['role']:12} {created}  {state}")
            elif args.action == "revoke":
                accounts.revoke_api_token(args.name, by=by)
                print(f"API token {args.name} revoked")
    except AccountError as e:
        raise ConfigError(str(e)) from None
    return 0


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

        if args.command in ("run", "simulate", "alerts"):
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
            spool = make_spool(args, settings)
            r = _connect(settings)
            keys = Keys(settings.key_prefix)
            runner = Runner(r, keys, city, KpiEngine(r, keys, city), spool)
            if args.once:
                failed = 0
                for a in adapters:
                    try:
                        res = runner.run_spooled(a)
                        if res is None:
                            failed += 1
                            print(f"{a.name}: Redis unreachable; batch kept in the spool {spool.dir}", file=sys.stderr)
                        else:
                            print(res.line())
                    except (OSError, redis.RedisError) as e:
                        failed += 1
                        runner.record_failure(a, f"{type(e).__name__}: {e}")
                        print(f"{a.name}: failed: {type(e).__name__}: {e}", file=sys.stderr)
                return 1 if failed else 0
            runner.run_forever(adapters, _stop_on_signals())
            return 0
        if args.command in ("users", "kiosk", "tokens"):
            return run_accounts(args, settings)
        if args.command == "simulate":
            from feeds.simulate import run_simulation

            spool = make_spool(args, settings)
            r = _connect(settings)
            keys = Keys(settings.key_prefix)
            runner = Runner(r, keys, city, KpiEngine(r, keys, city), spool)
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
