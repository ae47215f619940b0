"""gunicorn settings for ``web:`` in the Procfile. REDIS_URL must be set."""
import os
import re

from gunicorn.glogging import Logger

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8050')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30


def _refresh_s() -> float:
    try:
        return float(os.environ.get("REFRESH_S", "5"))
    except ValueError:
        return 5.0  # the app itself stops with one clear line about it


# Every screen polls on the refresh tick: its connections stay open from one tick to the next.
# gunicorn's default (2 s) closed them between ticks, so each tick paid a new connection, and a
# request sent as the server closed its idle connection failed (bench/screens.py counted them).
keepalive = int(min(75, max(5, 2 * _refresh_s() + 1)))
accesslog = "-"
_KIOSK_TOKEN = re.compile(r"(kiosk=)[^&\s\"]+")  # as dashboard.auth.redact


class RedactingLogger(Logger):
    """Access log lines never hold a kiosk token (a wall's first request carries one in its query)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "q", "f"):  # request line, query string, referer
            if isinstance(atoms.get(name), str):
                atoms[name] = _KIOSK_TOKEN.sub(r"\1[redacted]", atoms[name])
        return atoms


logger_class = RedactingLogger


def post_worker_init(worker):
    """Warm each worker with one layout request: Dash 4.4 under threaded workers can otherwise
    answer its first concurrent callbacks with "Callback function not found" (style.md)."""
    client = worker.wsgi.test_client()
    client.get("/_dash-layout")
    client.get("/_dash-dependencies")
    # What the worker holds from here on (the city, its 10,000 links, the app) lives as long as it does:
    # out of the garbage collector's full passes, which otherwise walk it all again every few seconds.
    import gc

    gc.freeze()
