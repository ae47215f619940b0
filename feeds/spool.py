"""The on-disk spool: payloads fetched while Redis cannot store them, delivered when it can again.

When Redis is unreachable (connection refused or timed out, loading, read-only, out of memory) the
runner keeps each fetched payload here, as it came from the source, with its feed and fetch time.
When Redis answers again the runner replays the spooled batches oldest first through the same
``Runner.run_once`` path (with the fetch time as the batch's time), so de-duplication makes a replay
idempotent, and deletes each file only after Redis stored it. A runner that restarts finds the files
of its feeds left by the previous run and delivers them too.

One file per batch, ``<fetch time ns>-<pid>-<feed>.batch``: a JSON header line ``{"feed", "fetched_at",
"size"}`` then the raw payload. Each is written to a temporary name, fsync'd, renamed into place and
the directory fsync'd, so a crash never leaves half a batch that looks whole.

The spool is bounded in bytes (``SPOOL_MAX_MB``, ``--spool-max-mb``). When a new batch does not fit,
the OLDEST batches are dropped until it does, each with one log line saying which feed, when it was
fetched and how big it was: in an operations centre the newest picture is the one that matters, and a
snapshot feed's newer batch supersedes its older ones. Below the bound nothing is lost.

One spool directory per runner process: a process replays only the batches of the feeds it runs.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis

log = logging.getLogger("feeds.spool")

DEFAULT_MAX_BYTES = 1024 << 20
SUFFIX = ".batch"

# Errors that mean "Redis cannot store this now" (keep the payload), not "this payload is bad".
STORE_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ReadOnlyError,
              redis.exceptions.OutOfMemoryError)


def default_dir(prefix: str) -> Path:
    """``$XDG_STATE_HOME/citybrain/spool/<KEY_PREFIX>`` (``~/.local/state/...`` without it)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "citybrain" / "spool" / prefix


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    path: Path
    feed: str
    size: int  # bytes on disk

    @property
    def fetched_ns(self) -> int:
        return int(self.path.name.split("-", 1)[0])

    def read(self) -> tuple[bytes, float]:
        """(payload, fetch time in epoch s)."""
        data = self.path.read_bytes()
        head, _, payload = data.partition(b"\n")
        return payload, float(orjson.loads(head)["fetched_at"])


def check_dir(directory: Path) -> str | None:
    """Why ``directory`` cannot hold a spool (one line), or None when it can (it need not exist yet)."""
    directory = Path(directory)
    if directory.exists():
        if not directory.is_dir():
            return "not a directory"
        return None if os.access(directory, os.W_OK | os.X_OK) else "not writable"
    parent = directory.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    return None if os.access(parent, os.W_OK | os.X_OK) else f"cannot create it: {parent} is not writable"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A bounded directory of fetched payloads, oldest first."""

    def __init__(self, directory: Path | str, max_bytes: int = DEFAULT_MAX_BYTES):
        self.dir = Path(directory)
        self.max_bytes = int(max_bytes)
        # Counters of this process, for logs, tests and the faults bench.
        self.spooled = self.replayed = self.dropped = 0
        self.dropped_bytes = 0
        self._batches: list[SpooledBatch] = []
        for path in sorted(self.dir.glob(f"*{SUFFIX}")):  # (made on the first put, not before)  # left by an earlier run: delivered too
            parts = path.name[:-len(SUFFIX)].split("-", 2)
            if len(parts) == 3 and parts[0].isdigit():
                self._batches.append(SpooledBatch(path, parts[2], path.stat().st_size))
        for tmp in self.dir.glob("*.tmp"):  # a crash mid-write: never renamed, so never a whole batch
            tmp.unlink(missing_ok=True)
        self._bytes = sum(b.size for b in self._batches)
        if self._batches:
            log.warning("spool %s: %d batches (%s) from an earlier run, delivered when Redis answers",
                        self.dir, len(self._batches), _size(self.bytes))

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._batches)

    def pending(self, feeds=None) -> list[SpooledBatch]:
        """Spooled batches, oldest first (only those of ``feeds`` when given)."""
        return [b for b in self._batches if feeds is None or b.feed in feeds]

    def put(self, feed: str, payload: bytes, fetched_at: float) -> SpooledBatch | None:
        """Keep one fetched payload (fsync'd). Drops the oldest batches when it would not fit;
        a payload larger than the whole bound is refused (logged) and None returned."""
        head = orjson.dumps({"feed": feed, "fetched_at": fetched_at, "size": len(payload)}) + b"\n"
        size = len(head) + len(payload)
        if size > self.max_bytes:
            self.dropped += 1
            self.dropped_bytes += size
            log.error("spool full: a %s batch of %s is larger than the whole spool (%s); not kept",
                      feed, _size(size), _size(self.max_bytes))
            return None
        while self._batches and self.bytes + size > self.max_bytes:
            self._drop_oldest()
        ns = max(int(fetched_at * 1e9), self._batches[-1].fetched_ns + 1 if self._batches else 0)
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{ns:020d}-{os.getpid()}-{feed}{SUFFIX}"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(head)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.dir)
        batch = SpooledBatch(path, feed, size)
        self._batches.append(batch)
        self._bytes += size
        self.spooled += 1
        return batch

    def done(self, batch: SpooledBatch) -> None:
        """Redis stored it (or it was dead-lettered): forget it."""
        batch.path.unlink(missing_ok=True)
        self._batches.remove(batch)
        self._bytes -= batch.size
        self.replayed += 1

    def _drop_oldest(self) -> None:
        old = self._batches.pop(0)
        self._bytes -= old.size
        old.path.unlink(missing_ok=True)
        self.dropped += 1
        self.dropped_bytes += old.size
        when = time.strftime("%H:%M:%S", time.localtime(old.fetched_ns / 1e9))
        log.error("spool full (%s bound): dropped the oldest batch, %s fetched at %s (%s); "
                  "dropped so far: %d", _size(self.max_bytes), old.feed, when, _size(old.size), self.dropped)


def _size(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.1f} KiB"
