"""Fuzzing the feed adapters: seeds from the real fixtures, mutations of them, and what a batch must
guarantee whatever its payload. Shared by tests/test_fuzz_adapters.py (hypothesis) and bench/fuzz.py
(atheris).

The guarantees (``check_batch``), for any payload:
- ``Runner.run_once`` returns: an unreadable payload is one dead letter whose reason starts with
  "payload:" and the feed's health gets ``last_error``; nothing raises out of the runner;
- no record or payload is dead-lettered as "adapter error" (that is a parser that crashed);
- every record parsed is stored, rejected, a repeat of one stored or skipped: nothing is lost silently;
- every rejected record is in the dead-letter stream with a non-empty reason;
- the records of the batch that were not touched, and were stored from the unmutated seed, are stored.
"""
from __future__ import annotations

import copy
import csv
import functools
import io
import math
import tempfile
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import orjson
from google.protobuf.descriptor import FieldDescriptor
from google.transit import gtfs_realtime_pb2 as rt

from feeds.adapters.emergency import EmergencyAdapter
from feeds.adapters.environment import EnvironmentAdapter
from feeds.adapters.nyc_traffic import NycTrafficAdapter
from feeds.adapters.open311 import Open311Adapter, loads_tolerant
from feeds.adapters.road_incidents import RoadIncidentsAdapter
from feeds.adapters.service_queues import ServiceQueuesAdapter
from feeds.adapters.transit import TransitAdapter
from feeds.adapters.transit_gtfs import load_gtfs
from feeds.config import FeedSource, load_city
from feeds.framework import Adapter, Runner
from feeds.schema import Keys
from tests.test_nyc_traffic_adapter import tsv  # the NYC DOT snapshot as the feed's TSV

ROOT = Path(__file__).resolve().parent
FIX = ROOT / "fixtures"
SAMPLE_CITY = ROOT.parent / "feeds" / "cities" / "sample.json"

# --- the values a hostile or broken feed sends -----------------------------------------------------
HUGE = "x" * 100_000


def nested(depth: int):
    """A list nested ``depth`` deep (valid JSON below orjson's read limit of 1024)."""
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


WRONG_TYPES = [None, True, False, 0, -1, 1.5, 2**63 - 1, -(2**63), "", "abc", [], {}, [1, 2], {"a": {"b": 1}}]
NOT_FINITE = ["NaN", "nan", "Infinity", "-inf", "1e999", 1e308, -1e308, 5e-324]
DATES = ["1970-01-01T00:00:00", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2100-01-01T00:00:00",
         "2100-12-31T23:59:59Z", "0001-01-01T00:00:00", "9999-12-31T23:59:59", "2100-02-29T00:00:00",
         "01/01/1970 00:00:00", "12/31/2100 23:59:59", "1970-01-01", "20991231", 0, 4102444800,
         4102444801, 1.7e12, -1, "1970-01-01T00:00:00+25:00", "T", "2017-13-45T25:61:61"]
ENUMS = ["UNKNOWN_ENUM", "zzz", "Open", "CLOSED", "\U0001f692", "null", "-101", "99", " "]
ODD_TEXT = [HUGE, "\u0000", "\u202e\u202d", "\ufeff1", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "12abc", " 12 ", "0x1F", "1_000", "1,5",
            "-0", "٣", "\n\r\t", "'; DROP", "<x/>", '{"a":1}', "%s%n"]
VALUES: list[Any] = WRONG_TYPES + NOT_FINITE + DATES + ENUMS + ODD_TEXT + [nested(100), {"a": nested(200)}]

# Byte sequences that no JSON encoder writes: spliced into a payload in place of a marker string.
TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"123456789012345678901234567890",
          b'"\xff\xfe\xfd"', b'"\\ud800"', b'"\xc3"', b"00012", b"+1", b".5",
          # deeply nested: within orjson's read limit (1024) but not its write limit (254), and beyond both
          b"[" * 300 + b"]" * 300, b'{"a":' * 600 + b"1" + b"}" * 600, b"[" * 1020 + b"]" * 1020,
          b"[" * 2000 + b"]" * 2000]
INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]


def marker(i: int) -> str:
    return f"\u0001FUZZ{i}\u0001"


def splice(payload: bytes, tokens: dict[str, bytes], quoted: bool) -> bytes:
    """Replace each marker (a JSON string when ``quoted``, else bare text) with its raw bytes."""
    for mark, raw in tokens.items():
        text = orjson.dumps(mark) if quoted else mark.encode()
        payload = payload.replace(text, raw)
    return payload


# --- seeds -----------------------------------------------------------------------------------------
@functools.cache
def sample_city():
    return load_city(SAMPLE_CITY)


@functools.cache
def west_coast():
    from tests.emergency_helpers import west_coast_city

    return west_coast_city()


@functools.cache
def gtfs(name: str):
    return load_gtfs((FIX / "transit" / name).read_bytes())


def transit(schedule: str) -> Callable[[], Adapter]:
    return lambda: TransitAdapter(sample_city(), FeedSource(interval_s=30), gtfs=gtfs(schedule))


def plain(cls, city=sample_city, **options) -> Callable[[], Adapter]:
    return lambda: cls(city(), FeedSource(interval_s=60, options=dict(options)))


def incidents_seed() -> bytes:
    """Road incidents have no public feed (feed-formats.md 1.2): the documented form, three rows."""
    rows = [{"id": "RI-17", "type": "crash", "status": "open", "severity": "major", "lat": 40.71, "lon": -74.0,
             "opened": "2026-11-21T07:02:00-05:00", "description": "2 lanes blocked"},
            {"id": "RI-18", "type": "works", "status": "open", "severity": "minor", "lat": 40.73, "lon": -73.99,
             "opened": 1763700000, "updated": "2026-11-21T08:00:00"},
            {"id": "RI-19", "type": "crash", "status": "closed", "severity": "critical", "lat": 40.75,
             "lon": -73.98, "opened": "2026-11-21T06:00:00Z", "closed": "2026-11-21T06:40:00Z"}]
    return orjson.dumps(rows)


INCIDENTS_NOW = 1795269600.0  # 2026-11-21T14:00Z, after every time in incidents_seed()


@dataclass(frozen=True)
class Seed:
    name: str  # "<feed>/<fixture>"
    make: Callable[[], Adapter]  # a fresh adapter
    payload: Callable[[], bytes]
    kind: str  # json | csv | tsv | xml | protobuf | gtfs-zip
    now: float | None = None  # the batch's clock (None: now); old recordings need theirs
    # False when records of a batch depend on each other (a schedule and the positions on it), so a
    # mutated record may rightly take good ones down with it.
    independent: bool = True

    @property
    def feed(self) -> str:
        return self.name.split("/")[0]


def _file(domain: str, name: str) -> Callable[[], bytes]:
    return lambda: (FIX / domain / name).read_bytes()


def _openaq_pair(locations: str, name: str) -> Callable[[], bytes]:
    env = FIX / "environment"
    return lambda: b"[" + (env / f"{locations}.json").read_bytes() + b"," + (env / f"{name}.json").read_bytes() + b"]"


SEEDS: list[Seed] = [
    Seed("traffic/nyc-json", plain(NycTrafficAdapter), _file("", "nyc_dot_linkspeedquery_2017-10-23T2208.json"),
         "json", now=1508811000.0),
    Seed("traffic/nyc-tsv", plain(NycTrafficAdapter),
         lambda: tsv(orjson.loads((FIX / "nyc_dot_linkspeedquery_2017-10-23T2208.json").read_bytes())),
         "tsv", now=1508811000.0),
    Seed("road-incidents/documented", plain(RoadIncidentsAdapter), incidents_seed, "json", now=INCIDENTS_NOW),
    Seed("transit/usf-vehicles", transit("usf_bullrunner_gtfs.zip"),
         _file("transit", "usf_bullrunner_vehicle_positions.pb"), "protobuf", now=1505314400.0),
    Seed("transit/septa-trip-updates", transit("usf_bullrunner_gtfs.zip"),
         _file("transit", "septa_regional_rail_trip_updates.pb"), "protobuf"),
    Seed("transit/kcm-vehicles", transit("kcm_gtfs_2016.zip"),
         _file("transit", "kcm_vehicle_positions_1.pb"), "protobuf", independent=False),
    Seed("transit/usf-schedule", lambda: None, _file("transit", "usf_bullrunner_gtfs.zip"), "gtfs-zip",
         now=1505314400.0, independent=False),
    *[Seed(f"environment/{n}", plain(EnvironmentAdapter), _file("environment", f"{n}.json"), "json",
           independent=False)
      for n in ("openaq_v3_locations", "openaq_v3_parameters_2_latest", "openaq_v3_sensors_5")],
    # Rows that name a sensor need its location read first: the two responses in one payload.
    *[Seed(f"environment/{loc}+{n}", plain(EnvironmentAdapter), _openaq_pair(loc, n), "json", independent=False)
      for loc, n in (("openaq_v3_locations_1", "openaq_v3_locations_1_latest"),
                     ("openaq_v3_locations", "openaq_v3_sensors_3_measurements"))],
    Seed("environment/sensor-community", plain(EnvironmentAdapter),
         _file("environment", "sensor_community_data_json_slice_2019-04-25.json"), "json", now=1556200000.0),
    Seed("emergency/sf-fire", plain(EmergencyAdapter, west_coast, format="sf-fire"),
         _file("emergency", "sf_fire_calls_for_service_soda_call171743725.json"), "json", now=1498276800.0,
         independent=False),
    Seed("emergency/seattle-fire", plain(EmergencyAdapter, west_coast, format="seattle-fire"),
         _file("emergency", "seattle_fire_911_calls_soda_2019.json"), "json", now=1566294600.0),
    Seed("emergency/unit-events", plain(EmergencyAdapter, west_coast),
         lambda: orjson.dumps([{"kind": "unit", "unit": "E1", "status": "dispatched", "incident": "I-1",
                                "time": "2026-11-21T07:00:00", "lat": 37.77, "lon": -122.44},
                               {"kind": "unit", "unit": "M1", "status": "on scene", "incident": "I-1",
                                "time": "2026-11-21T07:06:00"},
                               {"kind": "call", "call": "C-1", "ring": "2026-11-21T06:58:00",
                                "answered": "2026-11-21T06:58:09"}]),
         "json", now=1795273800.0, independent=False),
    *[Seed(f"requests/{n}", plain(Open311Adapter), _file("services", f"open311_georeport_v2_{n}.json"), "json")
      for n in ("bloomington_requests", "bloomington_services", "chicago_requests")],
    Seed("requests/spec-example", plain(Open311Adapter), _file("services", "open311_spec_example_requests.json"),
         "json"),
    Seed("requests/sf-xml", plain(Open311Adapter), _file("services", "open311_georeport_v2_san_francisco_requests.xml"),
         "xml"),
    Seed("services/warsaw", plain(ServiceQueuesAdapter, format="warsaw"),
         _file("services", "warsaw_um_queue_snapshots_UD_Wola_2020-01-02_0800-1100.csv"), "csv",
         now=1577959200.0),
    Seed("services/queue-monitor", plain(ServiceQueuesAdapter), _file("services", "fiware_QueueMonitor_example_keyvalues.json"),
         "json"),
    Seed("services/queue-monitor-normalized", plain(ServiceQueuesAdapter),
         _file("services", "fiware_QueueMonitor_example_normalized.json"), "json"),
]
SEED_BY_NAME = {s.name: s for s in SEEDS}
FEEDS = sorted({s.feed for s in SEEDS})


# --- one batch and its guarantees --------------------------------------------------------------------
class Violation(AssertionError):
    """A guarantee of the runner broke for one payload."""


@dataclass
class Outcome:
    fetched: int
    stored: int
    rejected: int
    payload_error: str | None
    stored_keys: set[str] = field(default_factory=set)
    parsed: dict[bytes, str] = field(default_factory=dict)  # canonical raw record -> its key when stored


def canonical(raw) -> bytes:
    """A raw record as bytes, to tell records untouched by a mutation from the others."""
    def default(o):
        if hasattr(o, "SerializeToString"):
            return o.SerializeToString().hex()
        if isinstance(o, (bytes, bytearray)):
            return bytes(o).hex()
        return repr(o)
    try:
        return orjson.dumps(raw, default=default, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS)
    except (orjson.JSONEncodeError, TypeError):
        return repr(raw).encode("utf-8", "backslashreplace")


def batch_input(seed: Seed, payload: bytes, tmp: Path) -> tuple[Adapter, bytes]:
    """The adapter and the runner's payload of one fuzzed batch of ``seed``."""
    if seed.kind == "gtfs-zip":  # a fuzzed schedule, with the real positions on it
        path = tmp / "gtfs.zip"
        path.write_bytes(payload)
        adapter = TransitAdapter(sample_city(), FeedSource(interval_s=30, options={"gtfs_static": str(path)}))
        return adapter, (FIX / "transit" / "usf_bullrunner_vehicle_positions.pb").read_bytes()
    return seed.make(), payload


def run_batch(r, seed: Seed, payload: bytes, keys: Keys | None = None) -> Outcome:
    """One ``run_once`` of a fuzzed payload under a key prefix of its own, checked; its keys deleted after
    (unless ``keys`` is given)."""
    own = keys is None
    keys = keys or Keys(f"cbfuzz-{uuid.uuid4().hex[:12]}")
    try:
        with tempfile.TemporaryDirectory(prefix="cbfuzz-") as tmp:
            adapter, body = batch_input(seed, payload, Path(tmp))
            return check_batch(r, keys, adapter, body, seed.now)
    finally:
        if own:
            stale = list(r.scan_iter(match=keys.pattern(), count=1000))
            if stale:
                r.delete(*stale)


def check_batch(r, keys: Keys, adapter: Adapter, payload: bytes, now: float | None) -> Outcome:
    parsed: dict[bytes, str | None] = {}
    validate = adapter.validate

    def recording(raw):  # remember each raw record and the key it validated to
        rec = validate(raw)
        parsed[canonical(raw)] = rec.key
        return rec
    adapter.validate = recording
    try:
        res = Runner(r, keys, adapter.city).run_once(adapter, payload, now=now)
    except Exception as e:  # noqa: BLE001 - the guarantee is that nothing gets out
        raise Violation(f"run_once raised {type(e).__name__}: {e}") from e
    dead = [f for _, f in r.xrange(keys.deadletter())]
    reasons = [d.get("reason", "") for d in dead]
    crashed = [x for x in reasons if "adapter error" in x]
    if crashed:
        raise Violation(f"a parser crashed: {crashed[0][:300]}")
    if not all(x.strip() for x in reasons):
        raise Violation("a dead letter without a reason")
    rejected = [x for x in reasons if not x.endswith("(record kept)")]
    if len(rejected) != res.rejected or len(reasons) - len(rejected) != res.warnings:
        raise Violation(f"{res.rejected} rejected and {res.warnings} kept with a defect, "
                        f"but {len(rejected)} + {len(reasons) - len(rejected)} dead letters")
    skipped = sum(res.skipped.values())
    if res.fetched + bool(res.payload_error) != res.stored + res.rejected + res.duplicates + skipped:
        raise Violation(f"records unaccounted for: {res.line()}")
    health = r.hgetall(keys.feed_health(adapter.name))
    if res.payload_error:
        if not (reasons and any(x.startswith("payload:") for x in reasons) and health.get("last_error")):
            raise Violation(f"unreadable payload without its dead letter and health error: {res.payload_error}")
    elif health.get("last_error"):
        raise Violation(f"health error {health['last_error']!r} on a readable payload")
    stored_keys = set(r.hkeys(keys.seen(adapter.domain, adapter.name))) if res.stored else set()
    return Outcome(res.fetched, res.stored, res.rejected, res.payload_error, stored_keys,
                   {raw: key for raw, key in parsed.items() if key is not None})


def check_good_records_kept(base: Outcome, fuzzed: Outcome) -> None:
    """Records parsed unchanged from the seed, stored from the seed, are stored from the fuzzed batch."""
    for raw, key in fuzzed.parsed.items():
        if base.parsed.get(raw) == key and key in base.stored_keys and key not in fuzzed.stored_keys:
            raise Violation(f"good record {key!r} not stored beside the fuzzed ones")


# --- mutations ---------------------------------------------------------------------------------------
# Each mutation draws its choices from ``pick(n) -> int in [0, n)`` so hypothesis and atheris both drive it.
# Hypothesis favours 0 and n - 1: those pick the mutations that keep the payload readable.
Pick = Callable[[int], int]


def choose(pick: Pick, items):
    return items[pick(len(items))]


def record_lists(doc, path=()) -> list[tuple]:
    """Paths to every list of objects in a JSON document (the records, wherever the envelope keeps them)."""
    out = []
    if isinstance(doc, list):
        if any(isinstance(x, dict) for x in doc):
            out.append(path)
        for i, x in enumerate(doc[:3]):
            out.extend(record_lists(x, (*path, i)))
    elif isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(record_lists(v, (*path, k)))
    return out


def leaves(obj, path=()) -> list[tuple]:
    if isinstance(obj, dict) and obj:
        return [p for k, v in obj.items() for p in leaves(v, (*path, k))] + ([path] if path else [])
    if isinstance(obj, list) and obj and len(path) < 6:
        return [p for i, v in enumerate(obj[:4]) for p in leaves(v, (*path, i))] + ([path] if path else [])
    return [path] if path else []


def get_in(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def odd_value(pick: Pick, tokens: dict[str, bytes]) -> Any:
    """A hostile value: from VALUES, or (1 in 4) a marker for raw bytes no encoder writes."""
    if pick(4) == 1:
        mark = marker(len(tokens))
        tokens[mark] = choose(pick, TOKENS + [b'"' + b + b'"' for b in INVALID_UTF8])
        return mark
    return choose(pick, VALUES)


def mutate_record(rec, pick: Pick, tokens: dict[str, bytes]):
    """One record with one field changed, dropped or added, or the record itself replaced."""
    op = pick(10)
    if not isinstance(rec, dict) or op == 3:
        return odd_value(pick, tokens)
    rec = copy.deepcopy(rec)
    paths = leaves(rec)
    if op == 1 or not paths:
        rec[choose(pick, ["unknown_field", "", "id", "time"])] = odd_value(pick, tokens)
        return rec
    path = choose(pick, paths)
    parent = get_in(rec, path[:-1])
    if op == 2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = odd_value(pick, tokens)
    return rec


def mutate_rows(rows: list, pick: Pick, tokens: dict[str, bytes]) -> tuple[list, set[int]]:
    """Some rows mutated (the others untouched), sometimes reordered or repeated."""
    rows = list(rows)
    touched = set()
    for _ in range(1 + pick(3)):
        if not rows:
            break
        i = pick(len(rows))
        rows[i] = mutate_record(rows[i], pick, tokens)
        touched.add(i)
    if pick(6) == 2 and rows:
        rows.append(rows[pick(len(rows))])
    return rows, touched


def mutate_json(payload: bytes, pick: Pick) -> bytes:
    doc = loads_tolerant(payload)  # the Open311 spec's example has numbers like 006
    tokens: dict[str, bytes] = {}
    lists = record_lists(doc)
    if not lists:
        return mutate_bytes(payload, pick)
    path = choose(pick, lists)
    rows, _ = mutate_rows(get_in(doc, path), pick, tokens)
    if path:
        get_in(doc, path[:-1])[path[-1]] = rows
    else:
        doc = rows
    return splice(orjson.dumps(doc), tokens, quoted=True)


def mutate_csv(payload: bytes, pick: Pick, delimiter: str) -> bytes:
    text = payload.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    names = list(rows[0]) if rows else []
    tokens: dict[str, bytes] = {}
    for _ in range(1 + pick(3)):
        if not rows:
            break
        row = rows[pick(len(rows))]
        value = odd_value(pick, tokens)
        row[choose(pick, names)] = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=names, delimiter=delimiter)
    w.writeheader()
    w.writerows(rows)
    body = out.getvalue()
    if pick(8) == 2:  # a ragged line: more or fewer cells than the header
        lines = body.splitlines()
        i = 1 + pick(max(1, len(lines) - 1)) if len(lines) > 1 else 0
        lines[i] = lines[i] + delimiter * (1 + pick(3)) if pick(2) else lines[i].split(delimiter)[0]
        body = "\n".join(lines)
    return splice(body.encode(), tokens, quoted=False)


def mutate_xml(payload: bytes, pick: Pick) -> bytes:
    root = ET.fromstring(payload)
    tokens: dict[str, bytes] = {}
    items = list(root)
    for _ in range(1 + pick(3)):
        if not items:
            break
        el = items[pick(len(items))]
        children = list(el)
        op = pick(6)
        if op == 0 or not children:
            el.append(ET.Element(choose(pick, ["unknown", "requested_datetime", "lat"])))
        elif op == 1:
            el.remove(children[pick(len(children))])
        else:
            value = odd_value(pick, tokens)
            children[pick(len(children))].text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    body = ET.tostring(root, encoding="utf-8")
    if pick(10) == 2:  # entity expansion ("billion laughs") before the root
        lol = b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">' + b"".join(
            b'<!ENTITY %c "%s">' % (98 + i, (b"&%c;" % (97 + i)) * 10) for i in range(8)) + b"]>"
        body = body.replace(b"?>", b"?>" + lol, 1) if body.startswith(b"<?xml") else lol + body
        body = body.replace(b"</description>", b"&i;</description>", 1)
    return splice(body, tokens, quoted=False)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tagged(number: int, wire: int, body: bytes) -> bytes:
    head = varint(number << 3 | wire)
    return head + (varint(len(body)) + body if wire == 2 else body)


def enum_paths(desc, path=(), depth=0) -> list[tuple]:
    """Field paths from a message type to each enum field under it."""
    out = []
    for f in desc.fields:
        if f.type == FieldDescriptor.TYPE_ENUM:
            out.append((*path, f))
        elif f.type == FieldDescriptor.TYPE_MESSAGE and depth < 4:
            out.extend(enum_paths(f.message_type, (*path, f), depth + 1))
    return out


FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0, -0.0, 91.0, -181.0]
INTS = {FieldDescriptor.CPPTYPE_INT32: [0, -1, -(2**31), 2**31 - 1],
        FieldDescriptor.CPPTYPE_INT64: [0, -1, -(2**63), 2**63 - 1, 4102444800, 4102444801],
        FieldDescriptor.CPPTYPE_UINT32: [0, 2**32 - 1],
        FieldDescriptor.CPPTYPE_UINT64: [0, 2**64 - 1, 2**63, 4102444800, 4102444801, 1505314375000]}


def mutate_message(msg, pick: Pick, tokens: dict[str, bytes]) -> None:
    """Set one scalar field somewhere in ``msg`` to a hostile value (in place)."""
    fields = [(m, f) for m, f in _scalar_fields(msg)]
    if not fields:
        return
    m, f = choose(pick, fields)
    cpp = f.cpp_type
    if cpp in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        value = choose(pick, FLOATS)
    elif cpp in INTS:
        value = choose(pick, INTS[cpp])
    elif cpp == FieldDescriptor.CPPTYPE_STRING and f.type == FieldDescriptor.TYPE_STRING:
        if pick(3) == 1:  # same length as the invalid UTF-8 it stands for, so lengths stay right
            bad = choose(pick, INVALID_UTF8)
            value = f"\u0001{len(tokens)}".ljust(len(bad), "\u0001")[:len(bad)]
            tokens[value] = bad
        else:
            value = choose(pick, [HUGE, "", " ", "\u0000", "UNKNOWN", "𝔘", "1970-01-01", "99"])
    elif cpp == FieldDescriptor.CPPTYPE_BOOL:
        value = bool(pick(2))
    else:
        return
    if f.is_repeated:
        getattr(m, f.name).append(value)
    else:
        setattr(m, f.name, value)


def _scalar_fields(msg, depth=0):
    for f, v in msg.ListFields():
        if f.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            if depth < 5:
                for sub in (v if f.is_repeated else [v]):
                    yield from _scalar_fields(sub, depth + 1)
        elif f.cpp_type != FieldDescriptor.CPPTYPE_ENUM:
            yield msg, f


def mutate_protobuf(payload: bytes, pick: Pick) -> bytes:
    msg = rt.FeedMessage()
    msg.ParseFromString(payload)
    op = pick(4)
    if op == 2 or not msg.entity:
        return mutate_bytes(payload, pick)
    tokens: dict[str, bytes] = {}
    entities = [e.SerializeToString() for e in msg.entity]
    for _ in range(1 + pick(3)):
        i = pick(len(entities))
        e = rt.FeedEntity()
        e.ParseFromString(entities[i])
        if op == 1:  # an enum value this version of the spec does not know, merged in on the wire
            path = choose(pick, enum_paths(rt.FeedEntity.DESCRIPTOR))
            body = tagged(path[-1].number, 0, varint(choose(pick, [99, 2**31 - 1, 2**32 + 7])))
            for f in reversed(path[:-1]):
                body = tagged(f.number, 2, body)
            entities[i] = entities[i] + body
        else:
            mutate_message(e, pick, tokens)
            entities[i] = e.SerializeToString()
    header = msg.header
    if pick(6) == 2:  # an unknown incrementality, or a header time far out
        header_bytes = header.SerializeToString() + tagged(2, 0, varint(99))
    else:
        if pick(4) == 2:
            header.timestamp = choose(pick, INTS[FieldDescriptor.CPPTYPE_UINT64])
        header_bytes = header.SerializeToString()
    body = tagged(1, 2, header_bytes) + b"".join(tagged(2, 2, e) for e in entities)
    for text, raw in tokens.items():
        body = body.replace(text.encode(), raw)
    return body


def mutate_zip(payload: bytes, pick: Pick) -> bytes:
    """A GTFS zip with one table fuzzed, dropped or cut short."""
    src = zipfile.ZipFile(io.BytesIO(payload))
    names = src.namelist()
    victim = choose(pick, names)
    op = pick(5)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in names:
            data = src.read(name)
            if name == victim:
                if op == 0:
                    continue
                if op == 1:
                    data = data[:pick(len(data) + 1)]
                elif op == 2:
                    data = choose(pick, [b"", b"\xff\xfe\x00", data.replace(b",", b";"), b"a,b\n" + data])
                else:
                    data = mutate_csv(data, pick, ",")
            dst.writestr(name, data)
    return out.getvalue()


def mutate_bytes(payload: bytes, pick: Pick) -> bytes:
    """Byte-level damage: the payload cut, emptied, flipped, spliced with invalid UTF-8, or replaced."""
    op = pick(9)
    n = len(payload)
    if op == 0:
        return payload[:pick(n + 1)]
    if op == 1:
        return choose(pick, [b"", b" \n", b"null", b"{}", b"[]", b"[[]]", b'{"results": 5}', b"\xef\xbb\xbf",
                             b"<html>503</html>", b"0", b'"text"', b"[" * 5000, b"\x00" * 64])
    if op == 2 and n:
        i = pick(n)
        return payload[:i] + bytes([payload[i] ^ (1 << pick(8))]) + payload[i + 1:]
    if op == 3:
        i = pick(n + 1)
        return payload[:i] + choose(pick, INVALID_UTF8) + payload[i:]
    if op == 4 and n:
        i, j = sorted((pick(n), pick(n)))
        return payload[:i] + payload[j:]
    if op == 5:
        return b"\xef\xbb\xbf" + payload
    if op == 6 and n:
        i = pick(n)
        return payload[:i] + payload[i:i + 1 + pick(64)] * (2 + pick(50)) + payload[i:]
    return payload + choose(pick, [b"\n", b",", b"]", b"\x00", b"garbage"])


MUTATORS = {
    "json": mutate_json,
    "csv": lambda p, pick: mutate_csv(p, pick, ","),
    "tsv": lambda p, pick: mutate_csv(p, pick, "\t"),
    "xml": mutate_xml,
    "protobuf": mutate_protobuf,
    "gtfs-zip": mutate_zip,
}


def mutate(seed: Seed, payload: bytes, pick: Pick) -> bytes:
    """A fuzzed payload of ``seed``: structure-aware most of the time, byte-level damage otherwise."""
    if pick(5) == 2:
        return mutate_bytes(payload, pick)
    return MUTATORS[seed.kind](payload, pick)


def bytes_picker(data: bytes) -> Pick:
    """A ``pick`` that reads its choices from fuzzer bytes (atheris), zero when they run out."""
    pos = 0

    def pick(n: int) -> int:
        nonlocal pos
        if n <= 1:
            return 0
        width = 1 if n <= 256 else 4
        chunk = data[pos:pos + width]
        pos += width
        return int.from_bytes(chunk.ljust(width, b"\0"), "little") % n
    return pick
