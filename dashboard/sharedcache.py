"""What every screen and web worker share within a refresh tick: flask-caching on the Redis backend.

A page's heavy part (reading every link, bus or station and shaping the map's live arrays and the side
panel) depends only on its view and on its domain's data version, so it is computed once per (view,
version) by whichever screen asks first and read by the other forty-nine from the cache. Keyed by the
version, never by time alone: new data is a new key, so no screen is ever handed the old picture.

The map's live arrays are also kept by their digest (a "frame"). A page stores the digest of the frame
it shows; the next refresh looks that frame up and sends a Patch of only the fields and items that
differ (``diff_patch``). A frame no longer in the cache (expired, or another view) means the arrays go
whole, as before. Entries expire by themselves; the cache lives under the deployment's key prefix
(``Keys.shared_cache``), so tests and benches each have their own.

Frames and parts are kept ten minutes, and also by count (``KEEP_MAX``): a feed that floods at ten
times its rate makes ten times the versions, and the oldest beyond the count are dropped at once, so the
cache's size follows the city's size, never the feeds' rate.
"""
from __future__ import annotations

import array
import base64
import hashlib
import os
import pickle
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager

import orjson
from dash import Patch, no_update
from flask_caching import Cache

from dashboard.store import StoreUnavailable
from feeds.redis_conn import connect
from feeds.schema import Keys

FRAME_TTL_S = 600  # a screen that missed ten minutes of ticks repaints its arrays whole
# The most frames (a map's live arrays: up to a megabyte at 10,000 links) and parts (a card, a table) kept
# at once; the least recently kept go first. A screen whose frame went repaints its arrays whole.
KEEP_MAX = {"frame": 96, "part": 4096}
# This worker's own copies of entries it read or made (``_Memo``), in front of Redis: the most kept of each
# kind, and for how long at most. A copy is the same value as the entry (its key holds all it depends
# on), so it may outlive the entry; it saves the round trip and, above all, the unpickling (a quarter of a
# worker's time at 100 large-city screens without it). Values over LOCAL_OBJECT_MAX bytes pickled are
# kept pickled (see _Memo).
LOCAL_MOST = {"compute": 256, "frame": 24, "part": 2048}
LOCAL_FRAME_S = 60
LOCAL_OBJECT_MAX = 32 * 1024
# A worker computing a shared entry claims it in Redis for CLAIM_HOLD_S at most; the other worker polls for
# it every CLAIM_POLL_S and computes it itself after CLAIM_WAIT_S (the claimer died, or is that slow).
CLAIM_HOLD_S, CLAIM_WAIT_S, CLAIM_POLL_S = 10.0, 3.0, 0.02
ASSIGN_COST = 100  # bytes of one Patch assignment of a single list item (location, operation, value)
_JSON_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def digest(obj) -> str:
    """A short content digest of any JSON-able value (dict keys may be ints)."""
    return hashlib.blake2b(orjson.dumps(obj, option=_JSON_OPTS), digest_size=12).hexdigest()


class Shared:
    """The shared cache of one app: ``tick_s`` is the page refresh tick (what a view's render may lag)."""

    def __init__(self, server, redis_url: str, keys: Keys, tick_s: float):
        self.tick_s = max(1, int(round(tick_s)))
        # The store's own client (any REDIS_URL form: TLS, unix, Sentinel; its timeouts, so a Redis that
        # hangs costs a refresh a recompute, never a stuck worker), with replies as bytes for pickled values.
        self.r, self.prefix = connect(redis_url, False), keys.shared_cache()
        self.cache = Cache(config={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_HOST": self.r,
                                   "CACHE_KEY_PREFIX": self.prefix, "CACHE_DEFAULT_TIMEOUT": self.tick_s * 3})
        self.cache.init_app(server)
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()
        self.local = {kind: _Memo(most) for kind, most in LOCAL_MOST.items()}

    def bound(self, kind: str, tokens) -> int:
        """Count ``tokens`` as the newest entries ``kind:<token>`` and drop the least recently kept beyond
        ``KEEP_MAX[kind]``; returns how many went. A cache that does not answer drops nothing."""
        tokens = list(tokens)
        if not tokens:
            return 0
        index = f"{self.prefix}kept:{kind}"
        try:
            gone = self.r.eval(_BOUND_LUA, 1, index, KEEP_MAX[kind], time.time(), FRAME_TTL_S, f"{self.prefix}{kind}:",
                               *tokens)
        except Exception:  # redis errors, a refused script: the entries' TTL still bounds them
            return 0
        return int(gone or 0)

    def compute(self, name: str, key, fn, ttl_s: float | None = None):
        """``fn()``, computed once per ``(name, key)`` across workers while the entry lives (``ttl_s``,
        default three ticks). ``key`` must hold whatever the result depends on: the data version and the
        view. A cache that does not answer costs a recompute, never an error.

        Computed once also when many screens ask at the same moment (new data reaches every screen's next
        tick together): the worker's other threads wait for the one computing, and the other worker waits
        for the claim this one put in Redis (``CLAIM_WAIT_S`` at most, then it computes the entry itself)."""
        ck, ttl = f"{name}:{digest(key)}", int(ttl_s or self.tick_s * 3)
        local = self.local["compute"]
        hit = local.get(ck)
        if hit is not None:
            return hit
        with self._flight(ck) as flight:
            hit = local.get(ck)
            if hit is None:
                hit = self.cache.get(ck)
            if hit is None and flight.failed is not None:  # the thread this one waited for failed: so would this one
                raise flight.failed
            claim = self._claim(ck) if hit is None else None
            if hit is None and claim is None:
                hit = self._await(ck)
            if hit is not None:
                local.put(ck, hit, ttl)
                return hit
            try:
                value = fn()
            except Exception as e:
                flight.failed = e
                raise
            finally:
                if claim is not None:
                    self._unclaim(claim)
            self.cache.set(ck, value, timeout=ttl)
            local.put(ck, value, ttl)
            return value

    @contextmanager
    def _flight(self, ck: str):
        """Held by one thread of this worker per entry at a time; the others queue behind it."""
        with self._flights_lock:
            flight = self._flights.get(ck)
            if flight is None:
                flight = self._flights[ck] = _Flight()
            flight.waiting += 1
        try:
            with flight.lock:
                yield flight
        finally:
            with self._flights_lock:
                flight.waiting -= 1
                if flight.waiting == 0:
                    self._flights.pop(ck, None)

    def _claim(self, ck: str) -> str | None:
        """This worker's claim to compute ``ck`` (its Redis key), or None when another worker holds it. A
        cache that does not answer: this worker computes (claims nothing)."""
        claim = f"{self.prefix}claim:{ck}"
        try:
            return claim if self.r.set(claim, b"1", nx=True, px=int(CLAIM_HOLD_S * 1000)) else None
        except Exception:
            return claim

    def _unclaim(self, claim: str) -> None:
        try:
            self.r.delete(claim)
        except Exception:
            pass  # it expires by itself (CLAIM_HOLD_S)

    def _await(self, ck: str):
        """The entry another worker is computing, polled until it is there, its claim is gone (it failed)
        or CLAIM_WAIT_S passed; None then (this worker computes it)."""
        claim, deadline = f"{self.prefix}claim:{ck}", time.monotonic() + CLAIM_WAIT_S
        while time.monotonic() < deadline:
            time.sleep(CLAIM_POLL_S)
            hit = self.cache.get(ck)
            if hit is not None:
                return hit
            try:
                if not self.r.exists(claim):
                    return self.cache.get(ck)
            except Exception:
                return None
        return None

    def frame(self, data: dict) -> str:
        """Keep a map's live arrays under their digest (what a screen that shows them will be diffed
        against); returns the digest."""
        return self.keep_frame(data)[0]

    def keep_frame(self, data: dict) -> tuple[str, bool]:
        """(digest, whether the cache took the arrays)."""
        token = digest(data)
        kept = bool(self.cache.set(f"frame:{token}", data, timeout=FRAME_TTL_S))
        if kept:
            self.bound("frame", [token])
            self.local["frame"].put(token, data, LOCAL_FRAME_S)
        return token, kept

    def shown_frame(self, token) -> dict | None:
        """The arrays a screen says it shows, or None when they are not (or no longer) kept."""
        if not isinstance(token, str) or not token.isalnum() or len(token) > 64:
            return None
        return self._kept("frame", token, LOCAL_FRAME_S)

    def part(self, token) -> object | None:
        """A page part's JSON kept under its digest (kept_parts), or None."""
        if not isinstance(token, str) or not token.isalnum() or len(token) > 64:
            return None
        return self._kept("part", token, FRAME_TTL_S)

    def keep_parts(self, parts: dict[str, object]) -> None:
        """Keep page parts' JSON under their digests (``{token: JSON}``)."""
        self.cache.set_many({f"part:{token}": js for token, js in parts.items()}, timeout=FRAME_TTL_S)
        self.bound("part", list(parts))
        for token, js in parts.items():
            self.local["part"].put(token, js, FRAME_TTL_S)

    def _kept(self, kind: str, token: str, local_s: float):
        hit = self.local[kind].get(token)
        if hit is None:
            hit = self.cache.get(f"{kind}:{token}")
            if hit is not None:
                self.local[kind].put(token, hit, local_s)
        return hit


class _Memo:
    """A worker's copies of cache entries: the ``most`` recently used, each for at most its own seconds.
    A small value is kept as the object itself, shared by the worker's threads as it is: whoever gets
    one must not change it (with ``CITYBRAIN_CHECK_SHARED=1``, as the tests run, a copy changed after it
    was kept raises on its next read). A large one (over LOCAL_OBJECT_MAX pickled: a first paint's whole
    map, a frame) is kept pickled and read back fresh: as objects, their long lists made each of the
    worker's full garbage collections walk millions of items, 200-450 ms with every thread stopped."""

    def __init__(self, most: int):
        self.most, self.lock, self.items = most, threading.Lock(), OrderedDict()
        self.check = os.environ.get("CITYBRAIN_CHECK_SHARED") == "1"

    def get(self, key: str):
        with self.lock:
            item = self.items.get(key)
            if item is None:
                return None
            until, value, packed, fingerprint = item
            if time.monotonic() > until:
                del self.items[key]
                return None
            self.items.move_to_end(key)
        if packed:
            return pickle.loads(value)
        if fingerprint is not None and _fingerprint(value) != fingerprint:
            raise SharedEntryChanged(f"the shared entry {key} was changed by a reader after it was kept")
        return value

    def put(self, key: str, value, ttl_s: float) -> None:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        packed = len(data) > LOCAL_OBJECT_MAX
        fingerprint = _digest_bytes(data) if self.check and not packed else None
        with self.lock:
            self.items[key] = (time.monotonic() + ttl_s, data if packed else value, packed, fingerprint)
            self.items.move_to_end(key)
            while len(self.items) > self.most:
                self.items.popitem(last=False)


class SharedEntryChanged(AssertionError):
    """A caller changed a value the shared cache handed out (a bug: others hold the same object)."""


def _fingerprint(value) -> bytes:
    return _digest_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _digest_bytes(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class _Flight:
    """The threads of one worker computing or waiting for the same entry."""

    def __init__(self):
        self.lock, self.waiting, self.failed = threading.Lock(), 0, None


# KEYS[1] the index (sorted set token -> when kept); ARGV: the most kept, now, TTL, the entries' key prefix,
# the tokens kept now. Index entries past the TTL are gone from the cache already; the rest beyond the most
# kept are deleted, oldest first. Returns how many were deleted.
_BOUND_LUA = """
local most, now, ttl, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
for i = 5, #ARGV do redis.call('ZADD', KEYS[1], now, ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - ttl))
local over = redis.call('ZCARD', KEYS[1]) - most
if over <= 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  return 0
end
local old = redis.call('ZRANGE', KEYS[1], 0, over - 1)
for _, t in ipairs(old) do redis.call('DEL', prefix .. t) end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
redis.call('EXPIRE', KEYS[1], ttl)
return #old
"""


def diff_patch(previous: dict | None, data: dict[int, dict], patch=None):
    """A Patch taking a map from ``previous`` live arrays to ``data`` (both ``{trace: {field: value}}``, as
    dashboard.maps.apply_map_data takes them): unchanged fields are left out; a list with few changed
    items gets those items only (and the items it gained or lost at its end); anything else goes whole.
    ``previous`` None: every field whole."""
    patch = Patch() if patch is None else patch
    for i, fields in data.items():
        old_fields = (previous or {}).get(i) or {}
        for field, value in fields.items():
            old = old_fields.get(field, _MISSING)
            if old == value:
                continue
            *path, last = field.split(".")
            target = patch["data"][i]
            for part in path:
                target = target[part]
            typed = typed_array(value)
            if typed is not None:  # always whole: the browser then holds a typed array, not a list
                target[last] = typed
            elif not _patch_items(target[last], old, value):
                target[last] = value
    return patch


TYPED_MIN = 64  # numeric arrays at least this long go as plotly typed arrays (base64), not JSON numbers
_TYPECODES = (("u1", "B", 0, 255), ("i2", "h", -32768, 32767), ("i4", "i", -2**31, 2**31 - 1))


def typed_array(value):
    """A long list of numbers as a plotly.js typed array spec ``{"dtype", "bdata"}`` (whole numbers in the
    smallest integer type, others as float32: 1 m at any longitude); None for anything else. A bus's
    position then costs 5.3 bytes instead of ~10, a link's colour 1.3 instead of 3."""
    if not isinstance(value, list) or len(value) < TYPED_MIN:
        return None
    if all(type(v) is int for v in value):
        lo, hi = min(value), max(value)
        dtype, code = next(((d, c) for d, c, a, b in _TYPECODES if a <= lo and hi <= b), (None, None))
        if dtype is None:
            return None
    elif all(type(v) in (int, float) for v in value):
        dtype, code = "f4", "f"
    else:
        return None
    data = array.array(code, value)
    if sys.byteorder != "little":
        data.byteswap()
    return {"dtype": dtype, "bdata": base64.b64encode(data.tobytes()).decode()}


def _patch_items(target, old, new) -> bool:
    """Put on ``target`` (a Patch location) the item changes taking list ``old`` to list ``new``, when they
    make a smaller message than ``new`` whole; False (nothing put) otherwise."""
    if not (isinstance(old, list) and isinstance(new, list) and new and old):
        return False
    common = min(len(old), len(new))
    changed = [k for k in range(common) if old[k] != new[k]]
    ops = len(changed) + (len(old) - common) + (1 if len(new) > common else 0)
    whole = len(orjson.dumps(new, option=_JSON_OPTS))
    if ops * ASSIGN_COST + (len(orjson.dumps(new[common:], option=_JSON_OPTS)) if len(new) > common else 0) >= whole:
        return False
    for k in changed:
        target[k] = new[k]
    for k in range(len(old) - 1, common - 1, -1):  # lost at the end: from the last, so indices hold
        del target[k]
    if len(new) > common:
        target.extend(new[common:])
    return True


def keep_slots(previous: dict | None, data: dict[int, dict], key: str = "customdata") -> dict[int, dict]:
    """``data`` with each trace's entries reordered so that an entity (named by its ``key`` item) keeps the
    index it had in ``previous``'s same trace: one that left frees its slot for one that arrived (or for
    the trace's last entry), arrivals beyond that go at the end. Then a marker that moves from one trace to
    another (a bus turning late) costs a few items in each, not the rest of both traces (diff_patch).
    The list fields as long as the trace's ``key`` list are reordered together; the rest is kept."""
    out = {}
    for i, fields in data.items():
        keys = fields.get(key)
        old = ((previous or {}).get(i) or {}).get(key)
        if not (isinstance(keys, list) and isinstance(old, list) and keys):
            out[i] = fields
            continue
        ident = [tuple(k) if isinstance(k, list) else k for k in keys]
        where = {k: j for j, k in enumerate(ident)}
        old_ids = [tuple(k) if isinstance(k, list) else k for k in old]
        kept = set(old_ids) & set(where)
        arrivals = iter([j for j, k in enumerate(ident) if k not in kept])
        order = [where[k] if k in kept else next(arrivals, None) for k in old_ids]
        for h in range(len(order)):  # a slot still free: the last entry moves into it
            while order and order[-1] is None:
                order.pop()
            if h < len(order) and order[h] is None:
                order[h] = order.pop()
        order += list(arrivals)
        n = len(keys)
        out[i] = {f: ([v[j] for j in order] if isinstance(v, list) and len(v) == n else v) for f, v in fields.items()}
    return out


_MISSING = object()


def _shared(store) -> Shared | None:
    """The app's shared cache (None for a bare Store: everything is computed in place)."""
    return getattr(store, "shared", None)


def compute(store, name: str, key, fn, ttl_s: float | None = None):
    """``store.shared.compute`` when the app has a shared cache, else ``fn()`` (a bare Store)."""
    shared = _shared(store)
    return shared.compute(name, key, fn, ttl_s) if shared else fn()


def view_frame(store, name: str, view, version, build, slots: bool = True) -> dict:
    """What a page shows of ``view`` at data ``version``, computed once for every screen and worker:
    ``build()`` -> (map live arrays, {other parts}); returns ``{"data", "token", **other parts}``.
    ``slots``: markers keep the trace index they had in this view's previous frame (keep_slots)."""
    def make():
        data, parts = build()
        shared = _shared(store)
        if shared is None:
            return {"data": data, "token": None, **parts}
        last_key = f"last:{name}:{digest(view)}"
        if slots:
            data = keep_slots(shared.shown_frame(shared.cache.get(last_key)), data)
        token, kept = shared.keep_frame(data)
        shared.cache.set(last_key, token, timeout=FRAME_TTL_S)
        # The arrays stay under their token only: a screen reads them on its first paint (or a diff not yet
        # made), not on every refresh (10,000 links' roads are a megabyte). Kept with the entry when the
        # cache refused them.
        return {"token": token, **parts, **({} if kept else {"data": data})}
    return compute(store, name, [version, view], make)


class FrameLost(StoreUnavailable):
    """A frame's arrays are no longer in the cache (evicted): the page keeps its picture this tick."""


def map_update(store, first: bool, skeleton, frame: dict, shown_token, apply=None):
    """The map output of a refresh and the token of the frame the screen will show: on first paint the
    skeleton with the live arrays (``skeleton`` is called then only), else a Patch of what differs from the
    frame the screen shows. Screens that show the same frame get the same Patch, computed once.

    ``apply``: the page's own apply_map_data when its arrays carry more than traces (keys that are not
    trace indices, e.g. an annotation); such entries go through it, whole, when they changed."""
    from dashboard.maps import apply_map_data

    apply = apply or apply_map_data
    if first:
        return apply(skeleton(), frame_arrays(store, frame)), frame["token"]

    def diff():
        previous = _shown_arrays(store, shown_token)
        data = frame_arrays(store, frame)
        patch = diff_patch(previous, {i: f for i, f in data.items() if isinstance(i, int)})
        other = {k: v for k, v in data.items() if not isinstance(k, int) and (previous or {}).get(k) != v}
        if other:
            apply(patch, other)
        return patch, frame["token"]
    return compute(store, "patch", [shown_token, frame["token"]], diff)


def group_update(store, first: bool, skeleton, frames: dict[str, dict], shown: dict):
    """The output of a map drawn in groups of traces (the city map: the district shading and each layer),
    each group's frame made once per its own version (view_frame), and the ``{group: token}`` the screen
    will show. ``frames``: the groups sent this time (every group on first paint); ``shown``: the tokens
    the screen shows. First paint: the skeleton with every group's arrays. Else a Patch of each group whose
    token moved, against the frame the screen shows of it; each group's Patch is computed once per (shown
    token, new token) for every screen, and no_update when no token moved."""
    from dashboard.maps import apply_map_data

    tokens = {**({} if first else shown), **{g: f["token"] for g, f in frames.items()}}
    if first:  # every group of the view is in frames: no token of another view is carried on
        data = {}
        for frame in frames.values():
            data.update(frame_arrays(store, frame))
        return apply_map_data(skeleton(), data), tokens
    moved = [g for g, f in frames.items() if f["token"] is None or f["token"] != shown.get(g)]
    if not moved:
        return no_update, tokens
    patches = [compute(store, "group-patch", [shown.get(g), frames[g]["token"]],
                       lambda g=g: diff_patch(_shown_arrays(store, shown.get(g)), frame_arrays(store, frames[g])))
               for g in moved]
    if len(patches) == 1:
        return patches[0], tokens
    patch = Patch()
    for one in patches:  # Dash's Patch is a list of operations (nested Patches share their parent's);
        patch._operations.extend(one._operations)  # tests/test_overview_callback.py checks the merged result
    return patch, tokens


def frame_arrays(store, frame: dict) -> dict:
    """A frame's live arrays: held in the frame's entry, or kept under its token (FrameLost when evicted)."""
    if "data" in frame:
        return frame["data"]
    data = _shared(store).shown_frame(frame["token"])
    if data is None:  # evicted from the cache (it outlives the frame's entry): the screen repaints next tick
        raise FrameLost(frame["token"])
    return data


def _shown_arrays(store, token) -> dict | None:
    """The arrays of the frame a screen says it shows; None when not kept (the Patch then sends them whole)."""
    shared = _shared(store)
    return shared.shown_frame(token) if shared else None


# ----------------------------------------------------------------------------- the page's other outputs
def as_json(value):
    """A Dash output (components, figures, lists of them) as the plain JSON the browser holds."""
    return orjson.loads(orjson.dumps(value, default=_component_json, option=_JSON_OPTS))


def _component_json(obj):
    if hasattr(obj, "to_plotly_json"):
        return obj.to_plotly_json()
    raise TypeError(f"not JSON: {type(obj).__name__}")


def kept_parts(store, parts: dict[str, object], known: dict | None = None) -> dict[str, tuple[object, str]]:
    """``{name: (its JSON, its digest)}`` of a page's outputs, each kept by digest for the next refresh's
    diff (parts_update), in one round trip; a part whose digest is in ``known`` (what the screen shows) is
    kept already."""
    out = {name: (js, digest(js)) for name, js in ((n, as_json(v)) for n, v in parts.items())}
    shared = _shared(store)
    seen = set((known or {}).values()) if isinstance(known, dict) else set()
    new = {token: js for js, token in out.values() if token not in seen}
    if shared is not None and new:
        shared.keep_parts(new)
    return out


def parts_update(store, first: bool, parts: dict[str, tuple[object, str]], shown: dict | None):
    """Each output of ``parts`` (from kept_parts) as this screen needs it: whole on first paint or when the
    screen's copy is unknown, nothing (no_update) when unchanged, else a Patch of the changed leaves of its
    component tree (a table's changed cells, a card's age), whichever is smaller. Returns ({name: output},
    {name: digest}: what the screen shows next). Each part's Patch is computed once per (the copy shown,
    the new one) for every screen (part_patch), so screens that got their parts at different moments share
    them."""
    shown = shown if isinstance(shown, dict) and not first else {}
    digests = {name: token for name, (_, token) in parts.items()}
    if first or not shown:
        return {name: js for name, (js, _) in parts.items()}, digests
    return {name: no_update if shown.get(name) == token else part_patch(store, shown.get(name), token, js)
            for name, (js, token) in parts.items()}, digests


def part_patch(store, before, token: str, js):
    """Part ``token`` (its JSON ``js``) for a screen showing part ``before``: a Patch of the changed leaves
    or the whole JSON (tree_patch), computed once per (before, token); whole when ``before`` is not kept."""
    shared = _shared(store)
    if shared is None or not isinstance(before, str):
        return js

    def make():
        old = shared.part(before)
        return js if old is None else tree_patch(old, js)
    return compute(store, "part-patch", [before, token], make)


def tree_patch(old, new):
    """``new`` whole, or a Patch of the leaves where it differs from ``old`` when that is smaller."""
    ops: list[tuple[str, list, object]] = []
    _differences(old, new, [], ops)
    if not ops:
        return Patch()
    cost = sum(ASSIGN_COST + (len(orjson.dumps(v, option=_JSON_OPTS)) if v is not _MISSING else 0) for _, _, v in ops)
    if cost >= len(orjson.dumps(new, option=_JSON_OPTS)) or any(not path for _, path, _ in ops):
        return new
    patch = Patch()
    for op, path, value in ops:
        target = patch
        for part in path[:-1]:
            target = target[part]
        if op == "delete":
            del target[path[-1]]
        elif op == "insert":
            target.insert(path[-1], value)
        else:
            target[path[-1]] = value
    return patch


def _differences(old, new, path: list, out: list) -> None:
    """The operations taking JSON ``old`` to ``new``, appended to ``out`` as (op, path, value), in the order
    the browser applies them."""
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict) and \
            (old.get("type"), old.get("namespace")) == (new.get("type"), new.get("namespace")):
        for k, v in new.items():
            if k not in old:
                out.append(("set", path + [k], v))
            elif old[k] != v:
                _differences(old[k], v, path + [k], out)
        out.extend(("delete", path + [k], _MISSING) for k in old if k not in new)
        return
    if isinstance(old, list) and isinstance(new, list):
        if len(old) == len(new) and not _reordered(old, new):
            for i, (a, b) in enumerate(zip(old, new)):
                _differences(a, b, path + [i], out)
            return
        if _keyed_moves(old, new, path, out):
            return
    out.append(("set", path, new))


def _key(node) -> str | None:
    """A component's identity in a list (a table row): the first ``id`` in its subtree."""
    if isinstance(node, dict):
        props = node.get("props") if isinstance(node.get("props"), dict) else node
        if isinstance(props.get("id"), str):
            return props["id"]
        for v in props.values():
            k = _key(v)
            if k is not None:
                return k
    elif isinstance(node, list):
        for v in node:
            k = _key(v)
            if k is not None:
                return k
    return None


def _reordered(old: list, new: list) -> bool:
    keys = [_key(x) for x in old]
    return all(k is not None for k in keys) and len(set(keys)) == len(keys) and keys != [_key(x) for x in new]


def _keyed_moves(old: list, new: list, path: list, out: list) -> bool:
    """A list of keyed components (rows) that gained, lost or reordered items: the rows off the longest
    common subsequence are deleted and inserted where they now stand (the rows between them shift by
    themselves), the others diffed in place. False when the items have no unique keys."""
    ko, kn = [_key(x) for x in old], [_key(x) for x in new]
    if None in ko or None in kn or len(set(ko)) != len(ko) or len(set(kn)) != len(kn):
        return False
    # Longest common subsequence of the keys (lists of tens of rows: the quadratic table is small).
    n, m = len(ko), len(kn)
    lcs = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            lcs[i][j] = lcs[i + 1][j + 1] + 1 if ko[i] == kn[j] else max(lcs[i + 1][j], lcs[i][j + 1])
    keep, i, j = set(), 0, 0
    while i < n and j < m:
        if ko[i] == kn[j]:
            keep.add(ko[i])
            i, j = i + 1, j + 1
        elif lcs[i + 1][j] >= lcs[i][j + 1]:
            i += 1
        else:
            j += 1
    for i in range(n - 1, -1, -1):  # from the last, so the indices still to delete hold
        if ko[i] not in keep:
            out.append(("delete", path + [i], _MISSING))
    for j in range(m):  # ascending: each lands at its final index
        if kn[j] not in keep:
            out.append(("insert", path + [j], new[j]))
    where = {k: i for i, k in enumerate(ko)}
    for j in range(m):
        if kn[j] in keep:
            _differences(old[where[kn[j]]], new[j], path + [j], out)
    return True


def send_parts(store, first: bool, values: dict[str, object], shown: dict | None):
    """parts_update for outputs computed in this refresh; a value that is already no_update stays so.
    Returns ({name: output}, {name: digest} of every part the screen shows next)."""
    live = {name: v for name, v in values.items() if v is not no_update}
    return send_kept(store, first, list(values), kept_parts(store, live, None if first else shown), shown)


def send_kept(store, first: bool, names: list[str], parts: dict[str, tuple[object, str]], shown: dict | None):
    """parts_update for ``parts`` kept already (kept_parts: {name: (JSON, digest)}), the page's other outputs
    of ``names`` left as they are (no_update). Returns ({name: output}, {name: digest} of every part the
    screen shows next)."""
    outs, digests = parts_update(store, first, parts, shown)
    kept = {} if first or not isinstance(shown, dict) else dict(shown)
    return {name: outs.get(name, no_update) for name in names}, {**kept, **digests}
