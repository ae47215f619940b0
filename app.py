"""City Brain: builds the Dash app and exposes ``server`` (Flask) for gunicorn.

    python app.py              # REDIS_URL unset: embedded Redis + the simulated city + the app
    python app.py --simulate   # REDIS_URL set: also run the simulated city in this process
    gunicorn app:server -c gunicorn.conf.py   # REDIS_URL required
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading

from dash import Dash
from dash.exceptions import DependencyException

from callbacks import register_all
from dashboard import auth, fastjson
from dashboard.api import make_api
from dashboard.shell import shell
from dashboard.store import Store
from feeds.config import ROOT, City, ConfigError, Settings, load_city, load_dotenv
from feeds.redis_conn import EmbeddedRedis, connect, safe_url
from feeds.schema import Keys

log = logging.getLogger("citybrain")


def create_app(settings: Settings, city: City | None = None) -> Dash:
    if not settings.redis_url:
        raise ConfigError("REDIS_URL is not set (python app.py starts an embedded Redis; gunicorn needs REDIS_URL)")
    city = city or load_city(settings.city_config)
    fastjson.install()  # Dash's answers encoded in one orjson pass (dashboard/fastjson.py)
    store = Store(connect(settings.redis_url), Keys(settings.key_prefix), city)
    app = Dash(__name__, title="City Brain", update_title=None, assets_folder=str(ROOT / "assets"),
               suppress_callback_exceptions=True)
    app.layout = shell(city.name, city.timezone, int(settings.refresh_s * 1000))
    health, api = make_api(store)
    app.server.register_blueprint(health)
    app.server.register_blueprint(api)
    # An unknown path under /_dash-component-suites/ is a 404, not a server error with a traceback per request.
    app.server.register_error_handler(DependencyException, lambda e: ("Not found", 404, {"Content-Type": "text/plain"}))
    register_all(app, store, settings)
    auth.install(app, store, settings)  # sign-in on every page, callback and API route; CSRF; headers
    return app


def create_demo_accounts(settings: Settings, port: int, host: str) -> None:
    """The local demo (embedded Redis): one account per role and one wall screen, printed once."""
    import secrets

    from feeds.accounts import Accounts, AccountError

    accounts = Accounts(connect(settings.redis_url), Keys(settings.key_prefix))
    lines = []
    for role in ("admin", "coordinator", "viewer"):
        password = secrets.token_urlsafe(12)
        try:
            accounts.add_user(role, role, password, by="demo")
        except AccountError:
            continue  # kept from an earlier run
        lines.append(f"  {role:12} password {password}")
    try:
        token = accounts.add_kiosk("wall", by="demo")
        lines.append(f"  wall screen  http://{host}:{port}/wall?kiosk={token}")
    except AccountError:
        pass
    if lines:
        log.info("demo accounts (shown once; sign in at http://%s:%d/login):\n%s", host, port, "\n".join(lines))


def start_simulation(settings: Settings, city: City) -> threading.Event:
    """The simulated city in a background thread of this process, through the real adapters."""
    from feeds.framework import Runner
    from feeds.kpi.engine import KpiEngine
    from feeds.simulate import run_simulation

    r = connect(settings.redis_url)
    keys = Keys(settings.key_prefix)
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    stop = threading.Event()
    threading.Thread(target=run_simulation, args=(runner, city, stop), name="simulator", daemon=True).start()
    return stop


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python app.py", description="Run City Brain locally.")
    parser.add_argument("--simulate", action="store_true", help="also run the simulated city (implied without REDIS_URL)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.error = lambda message: (print(f"error: {message} (see python app.py --help)", file=sys.stderr),
                                    sys.exit(2))
    args = parser.parse_args(argv)
    try:
        load_dotenv()
        settings = Settings.from_env()
        city = load_city(settings.city_config)
        simulate, demo = args.simulate, False
        if not settings.redis_url:
            embedded = EmbeddedRedis()
            settings = dataclasses.replace(settings, redis_url=embedded.url)
            simulate = demo = True
            log.info("REDIS_URL unset: embedded Redis at %s, simulating %s", embedded.url, city.name)
        app = create_app(settings, city)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # A process manager stops us with SIGTERM: leave through atexit, which stops the embedded Redis.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _: sys.exit(128 + signum))
    if demo:
        create_demo_accounts(settings, settings.port, args.host)
    if simulate:
        start_simulation(settings, city)
    log.info("City Brain on http://%s:%d/ (Redis %s)", args.host, settings.port, safe_url(settings.redis_url))
    app.run(host=args.host, port=settings.port, debug=False)
    return 0


def __getattr__(name: str):
    """``app:server`` for gunicorn: built on first access from the environment."""
    if name == "server":
        global server
        load_dotenv()
        server = create_app(Settings.from_env()).server
        return server
    raise AttributeError(name)


if __name__ == "__main__":
    sys.exit(main())
