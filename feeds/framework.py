"""The adapter contract and the runner that drives adapters.

An adapter is ``fetch -> parse -> validate -> publish``. The runner owns everything else:
scheduling, retry with backoff, de-duplication, dead letters, feed health, and the KPI
recompute after each batch (compute on write), so adapters stay short.
"""
from __future__ import annotations

import logging
import math
import re
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import orjson
import redis

from feeds.config import City, ConfigError, FeedSource
from feeds.schema import DEADLETTER_RETENTION, READINGS_RETENTION, Keys
from feeds.spool import STORE_DOWN, Spool
from feeds.store_epoch import StoreEpoch
from feeds.timeparse import epoch_to_iso, iso_to_epoch

log = logging.getLogger("feeds")

BATCH = 2000  # records per pipelined round trip
MAX_FUTURE_S = 300  # an observation stamped further ahead than this is a broken clock, not data
MAX_RAW_BYTES = 1 << 20  # a dead letter keeps at most 1 MiB of raw payload
FETCH_TIMEOUT_S = 20
TOO_DEEP = "nested too deep to read"  # the reason of a record or payload whose reading hit Python's recursion limit


class Rejected(Exception):
    """A malformed record or payload. Goes to the dead-letter stream with this reason."""


class Skipped(Exception):
    """A well-formed record that carries no observation (e.g. a sensor's 'no data' status).

    Counted per reason in feed health; not a dead letter, because nothing is wrong with it.
    """


def number(value, field: str) -> float:
    """``value`` as a finite float, or Rejected with the field's name (strings like "12.5" are numbers;
    booleans, NaN and infinity are not)."""
    if isinstance(value, bool):
        raise Rejected(f"{field}: not a number {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise Rejected(f"{field}: not a number {value!r}") from None
    if not math.isfinite(x):
        raise Rejected(f"{field}: not finite {value!r}")
    return x


EPOCH_MAX = 4_102_444_800  # 2100-01-01: larger numbers are milliseconds or garbage, not seconds
_EPOCH_TEXT = re.compile(r"\d{9,10}(\.\d+)?")


def epoch_seconds(value: float, field: str) -> float:
    """A number that must be epoch seconds (finite, 1970..2100), or Rejected."""
    if not (math.isfinite(value) and 0 <= value <= EPOCH_MAX):
        raise Rejected(f"{field}: {value!r} is not epoch seconds (milliseconds?)")
    return float(value)


def record_time(value, field: str, tz, epoch_text: bool = False) -> float:
    """A record's time: epoch seconds (a number, or with ``epoch_text`` digits as text, as every CSV value
    is) or ISO-8601 (floating local times read in ``tz``); anything else is Rejected with the field."""
    if epoch_text and isinstance(value, str) and _EPOCH_TEXT.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch_seconds(value, field)
    if isinstance(value, str):
        try:
            return iso_to_epoch(value, tz)
        except ValueError:
            pass
    raise Rejected(f"{field}: unreadable time {value!r}")


@dataclass(slots=True)
class Record:
    key: str  # the entity observed (link id, incident id, ...): unit of de-duplication
    version: float  # observation time, epoch s; a record not newer than the stored one is a duplicate
    data: dict[str, Any]
    # Defects in a record that is still kept (e.g. a broken geometry beside a valid speed):
    # each goes to the dead-letter stream with the raw record, marked "record kept".
    warnings: list[str] = field(default_factory=list)
    # Content digest for feeds whose records can change without a newer time (an incident whose
    # severity changes, no "updated" field): same version + other fingerprint is an update.
    fingerprint: str | None = None

    def seen_value(self) -> str:
        return f"{self.version!r}|{self.fingerprint}" if self.fingerprint else repr(self.version)

    def is_duplicate_of(self, seen: str) -> bool:
        """Not newer than what was stored (or the very same content at the same time)."""
        version, _, fingerprint = seen.partition("|")
        stored = float(version)
        if self.version != stored:
            return self.version < stored
        return not self.fingerprint or self.fingerprint == (fingerprint or None)


class Adapter:
    """Base of every feed adapter. Subclasses set the class attributes and parse/validate/publish."""

    name: str = ""
    domain: str = ""
    title: str = ""
    formats: tuple[str, ...] = ()
    kpi_domains: tuple[str, ...] = ()
    # True for feeds of periodic readings (speeds): data older than 3 intervals means the feed is
    # stale even if it answers. False for event feeds (incidents), where no news is normal.
    lag_means_stale: bool = True
    # Extra ``python -m feeds run`` flags of this adapter: (flag, options key, help). The value lands
    # in ``source.options[key]``; CITY_CONFIG's ``feeds.<name>.options.<key>`` sets the same.
    cli_options: tuple[tuple[str, str, str], ...] = ()

    @classmethod
    def check_source(cls, source: FeedSource) -> None:
        """Raise ConfigError (one line) when ``source`` cannot work. Default: a URL or a readable file,
        and ``options.format``, when given, one of ``formats``."""
        fmt = source.options.get("format")
        if fmt is not None and fmt not in cls.formats:
            raise ConfigError(f"{cls.name}: unknown format {fmt!r}; one of {', '.join(cls.formats)}")
        if not (source.url or source.file):
            raise ConfigError(f"{cls.name}: no source: give --url or --file, or set feeds.{cls.name}.url in CITY_CONFIG")
        if source.file:
            try:
                with open(source.file, "rb"):
                    pass
            except OSError as e:
                raise ConfigError(f"{cls.name}: cannot read --file {source.file}: {e.strerror}") from None

    def __init__(self, city: City, source: FeedSource):
        self.city = city
        self.source = source

    # fetch ------------------------------------------------------------------------
    def fetch(self) -> bytes:
        if self.source.file:
            try:
                return Path(self.source.file).read_bytes()
            except OSError as e:  # at run time a missing file is a failed poll: retried with backoff
                raise OSError(f"{self.name}: cannot read {self.source.file}: {e.strerror}") from None
        if self.source.url:
            req = urllib.request.Request(self.source.url, headers=self.request_headers())
            with urllib.request.urlopen(req, timeout=FETCH_TIMEOUT_S) as resp:
                return resp.read()
        raise ConfigError(f"{self.name}: no source: give --url or --file, or set feeds.{self.name}.url in CITY_CONFIG")

    def request_headers(self) -> dict[str, str]:
        return {"User-Agent": "CityBrain/0.1", "Accept": "application/json"}

    # the three steps an adapter writes ----------------------------------------------------------
    def parse(self, payload: bytes) -> Iterable[Any]:
        """Split a payload into raw records. Raise Rejected if the payload as a whole is unreadable."""
        raise NotImplementedError

    def validate(self, raw: Any) -> Record:
        """Turn one raw record into a Record, or raise Rejected / Skipped with a reason."""
        raise NotImplementedError

    def publish(self, pipe: redis.client.Pipeline, keys: Keys, records: list[Record]) -> None:
        """Queue the writes of accepted, de-duplicated records on a pipeline."""
        raise NotImplementedError

    def prepare(self, r: redis.Redis, keys: Keys) -> None:
        """Before each batch is parsed: read what parsing needs from Redis (optional; e.g. a lookup table
        an earlier run stored). A Redis error here fails the batch like any other Redis error."""

    def published(self, records: list[Record]) -> None:
        """Called once Redis has accepted ``records`` (for adapter-side bookkeeping)."""

    def housekeeping(self, r: redis.Redis, keys: Keys, now: float) -> None:
        """After each batch: drop what this feed's retention says is too old (optional)."""

    def redis_lost(self) -> None:
        """Redis lost its data (feeds.store_epoch): forget what this adapter believes is already stored
        (a schedule, learnt metadata), so its next batch writes it again (optional)."""


@dataclass
class BatchResult:
    feed: str
    fetched: int = 0  # raw records parsed from the payload
    stored: int = 0
    rejected: int = 0
    warnings: int = 0  # stored, with a defect written to the dead-letter stream
    duplicates: int = 0
    skipped: Counter = field(default_factory=Counter)
    newest: float | None = None  # newest observation time stored
    payload_error: str | None = None  # the payload as a whole was unreadable
    seconds: float = 0.0

    def line(self) -> str:
        skipped = sum(self.skipped.values())
        return (f"{self.feed}: {self.fetched} records, {self.stored} stored, {self.rejected} rejected, "
                f"{self.duplicates} duplicate, {skipped} without data, {self.warnings} kept with a defect in {self.seconds * 1000:.0f} ms")


def _future_reason(version: float, now: float) -> str:
    """Why a record's time is not believable: too far ahead, or not a time at all."""
    if not math.isfinite(version):
        return f"time {version!r} is not a number"
    if version > EPOCH_MAX:
        return f"time {version!r} is not a time (after 2100)"
    return f"time {epoch_to_iso(version)} is {version - now:,.0f} s in the future"


def _record_text(raw) -> str:
    """A raw record as JSON text for its dead letter; its repr when orjson cannot write it (nested over
    254 levels), only its type when even repr cannot (nested near 1000, as JSON may be)."""
    try:
        return orjson.dumps(raw, default=str).decode()
    except orjson.JSONEncodeError:
        pass
    try:
        return repr(raw)
    except RecursionError:
        return f"<a {type(raw).__name__} nested too deep to show>"


def trim_args(retention: tuple[int, int]) -> dict:
    """XADD arguments that bound a stream by count (the age bound is applied by trim_by_age)."""
    return {"maxlen": retention[0], "approximate": True}


# XADD of many entries in one command: ARGV = maxlen, number of fields, the field names, then the values
# of each entry in turn. Redis has no multi-entry XADD; one script call per group of rows saves the
# client the per-command cost (packing, a reply to read) of one XADD per record, the largest part of
# an adapter's time before (README "Performance").
XADD_MANY = """
local nf = tonumber(ARGV[2])
local args = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*'}
for j = 1, nf do args[5 + 2 * j] = ARGV[2 + j] end
local n = 0
for i = 3 + nf, #ARGV, nf do
  for j = 1, nf do args[6 + 2 * j] = ARGV[i + j - 1] end
  redis.call(unpack(args))
  n = n + 1
end
return n
"""


def xadd_many(pipe, stream: str, rows: list[dict], retention: tuple[int, int]) -> None:
    """Queue one XADD per row (fields and values as ``pipe.xadd`` takes them, bounded by ``retention``'s
    count) as one script call per run of rows with the same field names, in order."""
    fields: tuple | None = None
    values: list = []
    for row in rows:
        names = tuple(row)
        if names != fields:
            if values:
                pipe.eval(XADD_MANY, 1, stream, retention[0], len(fields), *fields, *values)
            fields, values = names, []
        values.extend(row.values())
    if values:
        pipe.eval(XADD_MANY, 1, stream, retention[0], len(fields), *fields, *values)


def trim_by_age(pipe, key: str, retention: tuple[int, int], now: float) -> None:
    min_ms = int((now - retention[1]) * 1000)
    pipe.xtrim(key, minid=f"{min_ms}-0", approximate=True)


class BackPressure:
    """A polling loop that cannot keep up with its feeds (a flood, a slow Redis) falls behind schedule.
    Polls are never queued: the next poll fetches the newest snapshot, so intermediate snapshots are
    skipped (coalesced) and memory stays flat. This counts the polls skipped per feed (how late each
    poll started, in intervals) and logs them, one line per feed at most every ``every_s``."""

    def __init__(self, every_s: float = 30):
        self.every_s = every_s
        self.skipped: Counter = Counter()  # polls skipped since the process started (fractions count)
        self._window: Counter = Counter()
        self._since: dict[str, float] = {}
        self._last: dict[str, float] = {}  # when each feed's previous poll started

    def started(self, name: str, due: float, interval_s: float, now: float | None = None) -> None:
        """A poll of ``name`` due at ``due`` (monotonic; 0 for the first) starts now."""
        now = time.monotonic() if now is None else now
        self._since.setdefault(name, now)
        last, self._last[name] = self._last.get(name), now
        if last is not None and now > due:  # the polls that fitted since the previous one, less this one
            missed = min((now - last) / interval_s - 1, (now - due) / interval_s)  # (a backoff is no skip)
            self.skipped[name] += missed
            self._window[name] += missed
        if now - self._since[name] >= self.every_s:
            if self._window[name] >= 1:
                log.warning("%s: back-pressure: %d of %d polls skipped in the last %.0f s (batches take longer than "
                            "the %g s interval); each poll fetches the newest snapshot, nothing queues",
                            name, self._window[name], (now - self._since[name]) / interval_s,
                            now - self._since[name], interval_s)
            self._window[name], self._since[name] = 0, now


class Runner:
    """Runs adapters against one Redis: one batch at a time, or forever on an interval."""

    def __init__(self, r: redis.Redis, keys: Keys, city: City, engine=None, spool: Spool | None = None):
        self.r = r
        self.keys = keys
        self.city = city
        self.engine = engine  # feeds.kpi.engine.KpiEngine; None in adapter-only tests
        self.spool = spool  # feeds.spool.Spool: payloads fetched while Redis is down; None: not kept
        self.epoch = StoreEpoch(r, keys, city.timezone)
        self._adapters: dict[str, Adapter] = {}  # by name, for replaying the spool
        self._spool_probe = 0.0
        self.back_pressure = BackPressure()

    # one batch -----------------------------------------------------------------------
    def run_once(self, adapter: Adapter, payload: bytes | None = None, now: float | None = None) -> BatchResult:
        t0 = time.perf_counter()
        now = time.time() if now is None else now
        result = BatchResult(adapter.name)
        if payload is None:
            payload = self.fetch_with_retry(adapter)
        dead: list[tuple[str, Any]] = []
        kept: list[tuple[str, Any]] = []  # defects of records that were stored anyway
        good: dict[str, Record] = {}
        adapter.prepare(self.r, self.keys)
        try:
            raws = list(adapter.parse(payload))
        except Exception as e:  # Rejected, or a parser that crashed: the payload is kept either way
            if isinstance(e, RecursionError):  # str() of a value nested near the 1024 levels JSON may have
                e = Rejected(TOO_DEEP)
            reason = f"payload: {e}" if isinstance(e, Rejected) else f"payload: adapter error: {type(e).__name__}: {e}"
            if not isinstance(e, Rejected):
                log.exception("%s: parse crashed", adapter.name)
            raws = []
            result.payload_error = reason
            dead.append((reason, payload[:MAX_RAW_BYTES].decode("utf-8", "replace")))
        result.fetched = len(raws)
        for raw in raws:
            try:
                rec = adapter.validate(raw)
            except Rejected as e:
                dead.append((str(e), raw))
                continue
            except Skipped as e:
                result.skipped[str(e)] += 1
                continue
            except RecursionError:  # as in parse
                dead.append((TOO_DEEP, raw))
                continue
            except Exception as e:  # an adapter bug must not lose the rest of the batch
                log.exception("%s: validate crashed", adapter.name)
                dead.append((f"adapter error: {type(e).__name__}: {e}", raw))
                continue
            if not math.isfinite(rec.version) or rec.version > now + MAX_FUTURE_S:
                dead.append((_future_reason(rec.version, now), raw))
                continue
            for warning in rec.warnings:
                kept.append((f"{warning} (record kept)", raw))
            prev = good.get(rec.key)
            if prev is not None:
                result.duplicates += 1
                if prev.version > rec.version:
                    continue  # an older row of the same entity later in the payload
            good[rec.key] = rec
        fresh = self._drop_seen(adapter, list(good.values()), result)
        result.rejected = len(dead)
        result.warnings = len(kept)
        self._write(adapter, fresh, dead + kept, now)
        result.stored = len(fresh)
        if fresh:
            result.newest = max(rec.version for rec in fresh)
        adapter.housekeeping(self.r, self.keys, now)
        self._health(adapter, result, now)
        if self.engine is not None and adapter.kpi_domains:
            self.engine.recompute(adapter.kpi_domains, now=now)
        result.seconds = time.perf_counter() - t0
        return result

    # one batch, behind the spool and the store check ----------------------------------------------
    def run_spooled(self, adapter: Adapter, payload: bytes | None = None) -> BatchResult | None:
        """Fetch (unless given) and store one batch like run_once, checking first that Redis still holds
        its data (feeds.store_epoch). With a spool, a batch Redis cannot take is kept on disk and None
        returned (not a failure: the feed keeps its interval); while older batches wait in the spool the
        new one queues behind them, so feeds are delivered in the order fetched."""
        self._adapters[adapter.name] = adapter
        if payload is None:
            payload = self.fetch_with_retry(adapter)
        now = time.time()
        if self.spool is None:
            self.check_store(now)
            return self.run_once(adapter, payload, now)
        if not self.spool.pending(self._adapters):
            try:
                self.check_store(now)
                return self.run_once(adapter, payload, now)
            except STORE_DOWN as e:
                log.warning("%s: Redis unreachable (%s: %s); batch kept in the spool", adapter.name,
                            type(e).__name__, e)
        self.spool.put(adapter.name, payload, now)
        try:
            return self.replay_spool().get(adapter.name)
        except STORE_DOWN:
            return None

    def check_store(self, now: float | None = None) -> None:
        """Before a batch: if Redis lost its data, make every adapter write again what it keeps there."""
        if self.epoch.check(now):
            for a in self._adapters.values():
                a.redis_lost()

    def replay_spool(self, budget_s: float = 5.0) -> dict[str, BatchResult]:
        """Deliver spooled batches of this runner's feeds, oldest first, for up to ``budget_s`` (the rest
        at the next call). A batch is deleted only once stored; Redis going away again raises STORE_DOWN
        with the rest kept. Returns the newest result per feed."""
        results: dict[str, BatchResult] = {}
        if self.spool is None:
            return results
        t0 = time.monotonic()
        for batch in self.spool.pending(self._adapters):
            if time.monotonic() - t0 > budget_s:
                break
            adapter = self._adapters[batch.feed]
            try:
                payload, fetched_at = batch.read()
            except (OSError, ValueError, KeyError) as e:  # removed or damaged by hand: never blocks the rest
                log.error("spool: cannot read %s (%s); skipped", batch.path, e)
                self.spool.done(batch)
                continue
            self.check_store()
            try:
                results[batch.feed] = res = self.run_once(adapter, payload, now=fetched_at)
            except STORE_DOWN:
                raise
            except Exception as e:  # an adapter bug: never replay it forever; the payload goes to dead letters
                log.exception("%s: spooled batch failed on replay", batch.feed)
                pipe = self.r.pipeline(transaction=False)
                self._dead_letter(pipe, batch.feed, f"spooled batch failed on replay: {type(e).__name__}: {e}",
                                  payload, time.time())
                pipe.execute()
            else:
                log.info("from the spool: %s", res.line())
            self.spool.done(batch)
        return results

    def spool_tick(self, every_s: float = 1.0) -> float:
        """Between batches: while batches wait in the spool, try delivering them every ``every_s``.
        Returns the monotonic time of the next try (inf when the spool is empty)."""
        if self.spool is None or not self.spool.pending(self._adapters):
            return math.inf
        t = time.monotonic()
        if t - self._spool_probe >= every_s:
            self._spool_probe = t
            try:
                self.replay_spool()
            except STORE_DOWN:
                pass
            except redis.RedisError as e:
                log.error("spool replay: %s: %s", type(e).__name__, e)
        return self._spool_probe + every_s if self.spool.pending(self._adapters) else math.inf

    def fetch_with_retry(self, adapter: Adapter, attempts: int = 3, first_wait: float = 0.5) -> bytes:
        for i in range(attempts):
            try:
                return adapter.fetch()
            except ConfigError:
                raise
            except OSError as e:
                if i == attempts - 1:
                    raise
                wait = first_wait * 2**i
                log.warning("%s: fetch failed (%s), retry in %.1f s", adapter.name, e, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _drop_seen(self, adapter: Adapter, records: list[Record], result: BatchResult) -> list[Record]:
        if not records:
            return records
        seen_key = self.keys.seen(adapter.domain, adapter.name)
        fresh: list[Record] = []
        for i in range(0, len(records), BATCH):
            chunk = records[i:i + BATCH]
            stored = self.r.hmget(seen_key, [rec.key for rec in chunk])
            for rec, seen in zip(chunk, stored):
                if seen is not None and rec.is_duplicate_of(seen):
                    result.duplicates += 1
                else:
                    fresh.append(rec)
        return fresh

    def _write(self, adapter: Adapter, records: list[Record], dead: list[tuple[str, Any]], now: float) -> None:
        seen_key = self.keys.seen(adapter.domain, adapter.name)
        for i in range(0, max(len(records), 1), BATCH):
            chunk = records[i:i + BATCH]
            pipe = self.r.pipeline(transaction=False)
            if chunk:
                adapter.publish(pipe, self.keys, chunk)
                pipe.hset(seen_key, mapping={rec.key: rec.seen_value() for rec in chunk})
            if i == 0:
                for reason, raw in dead:
                    self._dead_letter(pipe, adapter.name, reason, raw, now)
                if dead:
                    trim_by_age(pipe, self.keys.deadletter(), DEADLETTER_RETENTION, now)
                trim_by_age(pipe, self.keys.readings(adapter.domain), READINGS_RETENTION, now)
            pipe.execute()
            if chunk:
                adapter.published(chunk)

    def _dead_letter(self, pipe, feed: str, reason: str, raw: Any, now: float) -> None:
        if isinstance(raw, (bytes, bytearray)):
            raw_text = bytes(raw[:MAX_RAW_BYTES]).decode("utf-8", "replace")
        elif isinstance(raw, str):
            raw_text = raw[:MAX_RAW_BYTES]
        else:
            raw_text = _record_text(raw)[:MAX_RAW_BYTES]
        pipe.xadd(self.keys.deadletter(), {"adapter": feed, "reason": reason, "raw": raw_text, "at": f"{now:.3f}"},
                  **trim_args(DEADLETTER_RETENTION))
        log.warning("%s: dead letter: %s", feed, reason)

    def _health(self, adapter: Adapter, result: BatchResult, now: float) -> None:
        key = self.keys.feed_health(adapter.name)
        previous_newest = self.r.hget(key, "newest")
        pipe = self.r.pipeline(transaction=False)
        pipe.sadd(self.keys.feeds(), adapter.name)
        fields = {
            "domain": adapter.domain,
            "title": adapter.title,
            "interval_s": adapter.source.interval_s,
            "lag_means_stale": int(adapter.lag_means_stale),
            "last_attempt": now,
            "last_batch": orjson.dumps({
                "fetched": result.fetched, "stored": result.stored, "rejected": result.rejected,
                "warnings": result.warnings, "duplicates": result.duplicates,
                "skipped": dict(result.skipped)}).decode(),
        }
        if result.payload_error:  # an unreadable payload is a failed poll, not a success
            fields["last_error"] = result.payload_error[:500]
        else:
            fields["last_success"] = now
            fields["last_error"] = ""
        if result.newest is not None and (previous_newest is None or result.newest > float(previous_newest)):
            fields["newest"] = result.newest  # lag is now - newest, worked out when read
        pipe.hset(key, mapping=fields)
        pipe.hincrby(key, "records", result.stored)
        pipe.hincrby(key, "rejected", result.rejected)
        pipe.hincrby(key, "duplicates", result.duplicates)
        pipe.hincrby(key, "skipped", sum(result.skipped.values()))
        pipe.hincrby(key, "warnings", result.warnings)
        pipe.execute()

    def record_failure(self, adapter: Adapter, error: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        try:
            self.r.sadd(self.keys.feeds(), adapter.name)
            self.r.hset(self.keys.feed_health(adapter.name), mapping={
                "domain": adapter.domain, "title": adapter.title, "interval_s": adapter.source.interval_s,
                "lag_means_stale": int(adapter.lag_means_stale), "last_attempt": now, "last_error": error[:500]})
        except redis.RedisError:
            log.error("%s: cannot record failure, Redis unreachable", adapter.name)

    # forever -------------------------------------------------------------------------
    def run_forever(self, adapters: list[Adapter], stop: threading.Event, max_backoff_s: float = 300) -> None:
        """Run each adapter on its interval until ``stop`` is set; failures back off exponentially."""
        due = {a.name: 0.0 for a in adapters}
        failures = Counter()
        while not stop.is_set():
            t = time.monotonic()
            for a in adapters:
                if t < due[a.name]:
                    continue
                self.back_pressure.started(a.name, due[a.name], a.source.interval_s)
                try:
                    res = self.run_spooled(a)
                    failures[a.name] = 0
                    if res is not None:
                        log.info(res.line())
                    due[a.name] = t + a.source.interval_s
                except Exception as e:  # network, Redis, adapter: log, back off, go on
                    failures[a.name] += 1
                    wait = min(max_backoff_s, a.source.interval_s * 2 ** (failures[a.name] - 1))
                    log.error("%s: batch failed (%s: %s); next try in %.0f s", a.name, type(e).__name__, e, wait)
                    self.record_failure(a, f"{type(e).__name__}: {e}")
                    due[a.name] = t + wait
            alerts = getattr(self.engine, "alerts", None)
            if alerts is not None:  # feed-silence alerts fire even when no batch arrives
                alerts.tick()
                due["(alerts)"] = time.monotonic() + alerts.next_due_in()
            due["(spool)"] = self.spool_tick()
            stop.wait(max(0.05, min(due.values()) - time.monotonic()))
