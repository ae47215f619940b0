"""Queue and Open311 adapters on the real fixtures: what is stored, what is dead-lettered and why."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from feeds.adapters.open311 import Open311Adapter
from feeds.adapters.service_queues import ServiceQueuesAdapter
from feeds.config import FeedSource
from feeds.framework import Runner

FIX = Path(__file__).parent / "fixtures" / "services"
WARSAW = FIX / "warsaw_um_queue_snapshots_UD_Wola_2020-01-02_0800-1100.csv"
SF_XML = FIX / "open311_georeport_v2_san_francisco_requests.xml"
BLOOMINGTON = FIX / "open311_georeport_v2_bloomington_requests.json"
CHICAGO = FIX / "open311_georeport_v2_chicago_requests.json"
SPEC_EXAMPLE = FIX / "open311_spec_example_requests.json"


def warsaw_epoch(hhmm: str) -> float:
    h, m = map(int, hhmm.split(":"))
    return datetime(2020, 1, 2, h, m, tzinfo=ZoneInfo("Europe/Warsaw")).timestamp()


def queues(r, keys) -> dict[str, dict]:
    return {k: orjson.loads(v) for k, v in r.hgetall(keys.queue_latest()).items()}


def dead(r, keys) -> list[dict]:
    return [fields for _, fields in r.xrange(keys.deadletter())]


def run(r, keys, city, adapter, payload: bytes, now: float):
    return Runner(r, keys, city).run_once(adapter, payload, now=now)


@pytest.fixture
def warsaw(sample_city):
    return ServiceQueuesAdapter(sample_city, FeedSource(file=str(WARSAW), timezone="Europe/Warsaw",
                                                        options={"format": "warsaw"}))


def test_warsaw_snapshots_store_people_waiting_and_open_counters_per_queue(r, keys, sample_city, warsaw):
    res = run(r, keys, sample_city, warsaw, WARSAW.read_bytes(), now=warsaw_epoch("11:00"))
    assert res.fetched == 972 and res.rejected == 0
    q = queues(r, keys)
    assert len(q) == 27  # 27 queues of office UD_Wola
    # Last snapshot, 10:58 row "UD_Wola,2020-01-02,10:58,,21,,190,23,Rejestracja pojazdów,I,37,I026":
    vehicles = q["UD_Wola|190"]
    assert (vehicles["waiting"], vehicles["counters"], vehicles["wait"], vehicles["serving"]) == (37, 23, 21.0, "I026")
    assert vehicles["t"] == warsaw_epoch("10:58") and vehicles["status"] == "open"
    # Row "...,10:58,,0,,2600048,0,Dobry start 300+,J,0,": no counter open -> queue not operating.
    assert q["UD_Wola|2600048"]["status"] == "closed"
    # People waiting at 10:58, by hand from the 27 rows: E 10 + H 4 + I 37 + K 1 + L 2 + R 4 + S 5 = 63.
    assert sum(x["waiting"] for x in q.values()) == 63
    # The office is not one of the sample city's centres: it is learnt, without a location.
    learnt = orjson.loads(r.hget(keys.centres_learnt(), "UD_Wola"))
    assert learnt["name"] == "UD_Wola" and "lon" not in learnt


def test_warsaw_first_snapshot_by_hand(r, keys, sample_city, warsaw):
    rows = WARSAW.read_text(encoding="utf-8").splitlines()
    first = "\n".join([rows[0]] + [x for x in rows[1:] if ",08:03," in x]).encode()
    run(r, keys, sample_city, warsaw, first, now=warsaw_epoch("08:05"))
    q = queues(r, keys)
    # 08:03: B 1, C 1, E 1, I 14, S 2 waiting = 19; queue 190 has 23 open counters, 182 has 5.
    assert sum(x["waiting"] for x in q.values()) == 19
    assert q["UD_Wola|190"]["counters"] == 23 and q["UD_Wola|182"]["counters"] == 5
    assert q["UD_Wola|186"]["serving"] == "E001"


def test_warsaw_every_snapshot_feeds_the_wait_curve(r, keys, sample_city, warsaw):
    run(r, keys, sample_city, warsaw, WARSAW.read_bytes(), now=warsaw_epoch("11:00"))
    slots = {k: float(v) for k, v in r.hgetall(keys.wait_slots("2020-01-02")).items()}
    # Slots are the city's quarter hours (the sample city is New York, 6 h behind Warsaw in January):
    # snapshots 08:03-10:58 Warsaw = 02:03-04:58 New York fill slots 8 (02:00) to 19 (04:45).
    assert sorted({int(k.split("|")[1]) for k in slots if k != "_v"}) == list(range(8, 20))


def test_wait_slot_weighs_queue_waits_by_people(r, keys, sample_city, warsaw):
    rows = WARSAW.read_text(encoding="utf-8").splitlines()
    last = "\n".join([rows[0]] + [x for x in rows[1:] if ",10:58," in x]).encode()
    run(r, keys, sample_city, warsaw, last, now=warsaw_epoch("11:00"))
    slots = {k: float(v) for k, v in r.hgetall(keys.wait_slots("2020-01-02")).items()}
    # 10:58 Warsaw = 04:58 New York, slot 19. Operating queues with people (czasObslugi x waiting):
    # E 4x10 + H 6x4 + I 21x37 + K 5x1 + L 8x2 + R 14x4 + S 2x5 = 928 over 63 people;
    # 26 queues operate (2600048 has no open counter).
    assert slots == {"UD_Wola|19|s": 928.0, "UD_Wola|19|w": 63.0, "UD_Wola|19|n": 26.0, "_v": 1.0}  # one write


def test_malformed_warsaw_rows_are_dead_lettered_and_the_rest_kept(r, keys, sample_city, warsaw):
    head = "name,date,time,status,czasObslugi,lp,idGrupy,liczbaCzynnychStan,nazwaGrupy,literaGrupy,liczbaKlwKolejce,aktualnyNumer"
    payload = "\n".join([head,
                         "UD_Wola,2020-01-02,08:03,,0,,182,5,Meldunki,A,3,",
                         "UD_Wola,2020-01-02,08:03,,0,,183,3,Dowody,B,lots,",  # not a number
                         "UD_Wola,2020-01-02,8h03,,0,,184,1,Kancelaria,C,1,",  # unreadable time
                         "UD_Wola,2020-01-02,08:03,,0,,,1,No id,D,1,",  # no queue id
                         "UD_Wola,2020-01-02,08:03,,0,,185,-2,Minus,E,1,",  # negative counters
                         ]).encode()
    res = run(r, keys, sample_city, warsaw, payload, now=warsaw_epoch("08:05"))
    assert (res.stored, res.rejected) == (1, 4)
    reasons = sorted(d["reason"] for d in dead(r, keys))
    assert reasons == sorted(["liczbaKlwKolejce: not a number 'lots'", "unreadable date/time '2020-01-02' '8h03'",
                              "missing idGrupy", "liczbaCzynnychStan: not a count '-2'"])
    assert queues(r, keys)["UD_Wola|182"]["waiting"] == 3


def test_queue_monitor_key_values_and_normalized(r, keys, sample_city):
    for name in ("fiware_QueueMonitor_example_keyvalues.json", "fiware_QueueMonitor_example_normalized.json"):
        a = ServiceQueuesAdapter(sample_city, FeedSource(options={"format": "queue-monitor"}))
        res = run(r, keys, sample_city, a, (FIX / name).read_bytes(), now=1616411405.0)
        assert res.rejected == 0, dead(r, keys)
    q = queues(r, keys)["Tourist Office|Cathedral-reservations-visit-1"]
    # ticketsToServe 12, serviceStatus "Open", dateModified 2021-03-22T11:10:05Z
    assert (q["waiting"], q["status"], q["t"]) == (12, "open", 1616411405.0)
    assert q["wait"] is None and q["counters"] is None  # the model has no such fields
    assert q["serving"] == "C-45"


def test_queue_monitor_bad_status_is_dead_lettered(r, keys, sample_city):
    entity = orjson.loads((FIX / "fiware_QueueMonitor_example_keyvalues.json").read_bytes())
    bad = {**entity, "serviceStatus": "Maybe", "serviceId": "x"}
    a = ServiceQueuesAdapter(sample_city, FeedSource())
    res = run(r, keys, sample_city, a, orjson.dumps([entity, bad]), now=1616411405.0)
    assert (res.stored, res.rejected) == (1, 1)
    assert dead(r, keys)[0]["reason"] == "serviceStatus 'Maybe' is not Open, Closed or Suspended"


def test_queue_events_measure_wait_from_arrival(r, keys, sample_city):
    payload = b"""centre,queue,ticket,step,time,counter
C1,A,A001,issued,2026-11-16T09:00:00,
C1,A,A001,called,2026-11-16T09:12:00,3
C1,A,A001,started,2026-11-16T09:12:30,3
C1,A,A001,ended,2026-11-16T09:20:00,3
C1,A,A002,issued,2026-11-16T09:01:00,
C1,A,A002,no-show,2026-11-16T09:30:00,4
C1,A,A003,issued,2026-11-16T09:02:00,
C1,A,A003,teleported,2026-11-16T09:03:00,
C1,A,,issued,2026-11-16T09:04:00,
"""
    a = ServiceQueuesAdapter(sample_city, FeedSource(options={"format": "queue-events"}))
    now = datetime(2026, 11, 16, 10, tzinfo=ZoneInfo("America/New_York")).timestamp()
    res = run(r, keys, sample_city, a, payload, now=now)
    assert (res.stored, res.rejected) == (7, 2)
    assert sorted(d["reason"] for d in dead(r, keys)) == [
        "missing ticket", "step 'teleported' is not one of issued, called, started, ended, no_show"]
    visits = r.hgetall(keys.visits("2026-11-16"))
    assert orjson.loads(visits["C1|A002|no_show"])["k"] == "4"
    slots = {k: float(v) for k, v in r.hgetall(keys.wait_slots("2026-11-16")).items()}
    # A001 waited 09:00 -> 09:12 = 12 min, sampled in the slot of the call (09:00-09:15 = slot 36).
    assert slots == {"C1|36|es": 12.0, "C1|36|ew": 1.0, "_v": 1.0}


def test_format_mismatch_is_a_payload_dead_letter(r, keys, sample_city):
    a = ServiceQueuesAdapter(sample_city, FeedSource(options={"format": "queue-events"}))
    res = run(r, keys, sample_city, a, WARSAW.read_bytes(), now=warsaw_epoch("11:00"))
    assert res.payload_error == "payload: payload looks like warsaw, but the feed's format is queue-events"


# --- Open311 --------------------------------------------------------------------------------
def requests(r, keys) -> dict[str, dict]:
    return {k: orjson.loads(v) for k, v in r.hgetall(keys.service_requests()).items()}


def test_san_francisco_xml_open_counts_and_closure_durations(r, keys, sample_city):
    a = Open311Adapter(sample_city, FeedSource(timezone="America/Los_Angeles"))
    res = run(r, keys, sample_city, a, SF_XML.read_bytes(), now=1337760000.0)
    assert (res.fetched, res.stored, res.rejected) == (56, 56, 0)
    # 56 requests, 4 with <status>Closed</status> (1129755, 1129724, 1129720, 1129684).
    assert r.scard(keys.service_requests_open()) == 52
    reqs = requests(r, keys)
    closed = reqs["1129724"]
    # requested 2012-05-22 18:47:19.12, updated (= closed) 18:48:57.49, Pacific time: 98.37 s.
    assert closed["closed"] - closed["requested"] == pytest.approx(98.37, abs=0.01)
    la = ZoneInfo("America/Los_Angeles")
    assert closed["requested"] == pytest.approx(datetime(2012, 5, 22, 18, 47, 19, 120000, tzinfo=la).timestamp())
    assert reqs["1129716"]["code"] == "006"  # XML keeps the leading zeros
    assert reqs["1129806"]["lat"] is None  # <lat>0.0</lat><long>0.0</long>: no location, kept


def test_bloomington_json_null_and_zero_locations_are_kept(r, keys, sample_city):
    a = Open311Adapter(sample_city, FeedSource())
    res = run(r, keys, sample_city, a, BLOOMINGTON.read_bytes(), now=1337810000.0)
    assert (res.stored, res.rejected, res.warnings) == (21, 0, 0)
    assert r.scard(keys.service_requests_open()) == 18  # 21 requests, 3 "Yard Waste" closed
    reqs = requests(r, keys)
    assert reqs["4fbd40b2b1fe2c4b02000001"]["lat"] is None  # lat/long null
    assert reqs["4fbd2b76b1fe2c195f000000"]["lat"] is None  # lat/long 0
    assert reqs["4fbd3beeb1fe2c9f5c000001"]["lon"] == pytest.approx(-86.485448337464)


def test_chicago_string_ids_and_services_list(r, keys, sample_city):
    a = Open311Adapter(sample_city, FeedSource())
    run(r, keys, sample_city, a, CHICAGO.read_bytes(), now=1405190000.0)
    assert set(requests(r, keys)) == {"14-01100669", "14-01100627"}
    res = run(r, keys, sample_city, a, (FIX / "open311_georeport_v2_bloomington_services.json").read_bytes(),
              now=1405190000.0)
    assert res.rejected == 0
    types = {k: orjson.loads(v) for k, v in r.hgetall(keys.request_types()).items()}
    assert types["4e090d24992b941e78000027"] == {"name": "Graffiti", "group": "Most Popular"}


def test_the_specs_own_invalid_json_example_is_read(r, keys, sample_city):
    a = Open311Adapter(sample_city, FeedSource())
    res = run(r, keys, sample_city, a, SPEC_EXAMPLE.read_bytes(), now=1271700000.0)
    assert (res.stored, res.rejected) == (2, 0)
    reqs = requests(r, keys)
    assert reqs["638344"]["code"] == "006" and reqs["638344"]["status"] == "closed"  # integer id -> "638344"
    assert r.smembers(keys.service_requests_open()) == {"638349"}


def test_malformed_requests_are_dead_lettered_and_the_rest_kept(r, keys, sample_city):
    rows = orjson.loads(CHICAGO.read_bytes())
    bad = [{**rows[0], "service_request_id": None},
           {**rows[0], "service_request_id": "x1", "status": "pending"},
           {**rows[0], "service_request_id": "x2", "requested_datetime": "yesterday"},
           {**rows[0], "service_request_id": "x3", "lat": 123.0, "long": 500.0}]
    a = Open311Adapter(sample_city, FeedSource())
    res = run(r, keys, sample_city, a, orjson.dumps(rows + bad), now=1405190000.0)
    assert (res.stored, res.rejected, res.warnings) == (3, 3, 1)
    reasons = sorted(d["reason"] for d in dead(r, keys))
    assert reasons == sorted(["missing service_request_id", "status 'pending' is not open or closed",
                              "requested_datetime: unreadable time 'yesterday'",
                              "lat/long out of range (123.0, 500.0): kept without a location (record kept)"])
    assert requests(r, keys)["x3"]["lat"] is None


def test_a_closed_request_leaves_the_open_set(r, keys, sample_city):
    row = orjson.loads(CHICAGO.read_bytes())[0]
    a = Open311Adapter(sample_city, FeedSource())
    run(r, keys, sample_city, a, orjson.dumps([row]), now=1405190000.0)
    assert r.scard(keys.service_requests_open()) == 1
    assert r.smembers(keys.service_requests_open_of_type("Alley Light Out")) == {"14-01100669"}
    closed = {**row, "status": "closed", "updated_datetime": "2014-07-13T09:00:00-05:00"}
    run(r, keys, sample_city, a, orjson.dumps([closed]), now=1405270000.0)
    assert r.scard(keys.service_requests_open()) == 0
    assert r.smembers(keys.service_requests_open_of_type("Alley Light Out")) == set()
    assert r.zscore(keys.service_requests_closed(), "14-01100669") == datetime.fromisoformat(
        "2014-07-13T09:00:00-05:00").timestamp()


def test_warsaw_api_json_for_one_office_needs_its_centre(r, keys, sample_city):
    rows = [x.split(",") for x in WARSAW.read_text(encoding="utf-8").splitlines() if ",10:58," in x and '"' not in x]
    grupy = [{"status": 1, "czasObslugi": int(x[4]), "lp": i + 1, "idGrupy": int(x[6]), "liczbaCzynnychStan": int(x[7]),
              "nazwaGrupy": x[8], "literaGrupy": x[9], "liczbaKlwKolejce": int(x[10]), "aktualnyNumer": x[11]}
             for i, x in enumerate(rows)]
    payload = orjson.dumps({"result": {"date": "2020-01-02", "time": "10:58", "grupy": grupy}})
    nameless = ServiceQueuesAdapter(sample_city, FeedSource(timezone="Europe/Warsaw"))
    res = run(r, keys, sample_city, nameless, payload, now=warsaw_epoch("11:00"))
    assert res.payload_error == "payload: Warsaw API JSON names no office: give --centre"
    # --centre names a configured centre by its name: the office's queues belong to C2.
    named = ServiceQueuesAdapter(sample_city, FeedSource(timezone="Europe/Warsaw",
                                                         options={"centre": "Northgate Service Centre"}))
    res = run(r, keys, sample_city, named, payload, now=warsaw_epoch("11:00"))
    assert res.rejected == 0 and res.stored == len(grupy)
    q = queues(r, keys)["C2|190"]  # "10:58,,21,,190,23,Rejestracja pojazdów,I,37,I026"
    assert (q["waiting"], q["counters"], q["wait"], q["status"]) == (37, 23, 21.0, "open")
    assert r.hlen(keys.centres_learnt()) == 0  # a configured centre is not learnt


def test_queue_monitor_extensions_for_wait_and_counters(r, keys, sample_city):
    entity = orjson.loads((FIX / "fiware_QueueMonitor_example_keyvalues.json").read_bytes())
    a = ServiceQueuesAdapter(sample_city, FeedSource())
    run(r, keys, sample_city, a, orjson.dumps({**entity, "waitingTimeMinutes": 14, "openCounters": 2}), now=1616411405.0)
    q = queues(r, keys)["Tourist Office|Cathedral-reservations-visit-1"]
    assert (q["wait"], q["counters"]) == (14.0, 2)


def test_warsaw_people_waiting_in_a_queue_with_no_counter_open_are_still_waiting(r, keys, sample_city, warsaw):
    # The recorded data has an empty status. A queue with people in it but no counter open at that
    # moment (a lunch break, every clerk on another queue) still has people waiting: "operating".
    # A queue with neither people nor counters is the one that is not operating.
    head = "name,date,time,status,czasObslugi,lp,idGrupy,liczbaCzynnychStan,nazwaGrupy,literaGrupy,liczbaKlwKolejce,aktualnyNumer"
    payload = "\n".join([head, "UD_Wola,2020-01-02,12:30,,0,,182,0,Meldunki i dowody,A,3,",
                         "UD_Wola,2020-01-02,12:30,,0,,183,0,Dobry start,B,0,"]).encode()
    run(r, keys, sample_city, warsaw, payload, now=warsaw_epoch("12:31"))
    q = queues(r, keys)
    assert q["UD_Wola|182"]["status"] == "open" and q["UD_Wola|183"]["status"] == "closed"


def test_a_closed_request_without_a_closing_time_is_not_timed(r, keys, sample_city):
    # Open311: updated_datetime is the closing time of a closed request. Without it the closing time
    # is unknown: the request leaves the backlog, but it must not count as closed in 0 hours.
    row = orjson.loads(CHICAGO.read_bytes())[0]
    closed = {**row, "status": "closed", "updated_datetime": None}
    a = Open311Adapter(sample_city, FeedSource())
    res = run(r, keys, sample_city, a, orjson.dumps([closed]), now=1405190000.0)
    assert res.warnings == 1 and r.scard(keys.service_requests_open()) == 0
    assert requests(r, keys)["14-01100669"]["closed"] is None


def test_queue_events_csv_with_epoch_second_times(r, keys, sample_city):
    # docs/services.md: queue-event times are ISO-8601 or epoch seconds; in a CSV every value is text.
    a = ServiceQueuesAdapter(sample_city, FeedSource(options={"format": "queue-events"}))
    issued = datetime(2026, 11, 16, 9, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()
    payload = b"centre,queue,ticket,step,time\nC1,A,A1,issued,%d\nC1,A,A1,called,%d.5\n" % (issued, issued + 720)
    res = run(r, keys, sample_city, a, payload, now=issued + 3600)
    assert (res.stored, res.rejected) == (2, 0), dead(r, keys)
    visits = {k: orjson.loads(v)["t"] for k, v in r.hgetall(keys.visits("2026-11-16")).items()}
    assert visits == {"C1|A1|issued": issued, "C1|A1|called": issued + 720.5}


def test_warsaw_times_are_warsaw_time_unless_told_otherwise(r, keys, sample_city):
    # The Warsaw offices' API writes floating Warsaw local times. Without --tz (the sample city is New
    # York) the 10:58 snapshot is 10:58 in Warsaw = 09:58 UTC, not 10:58 in New York (6 h later).
    a = ServiceQueuesAdapter(sample_city, FeedSource(options={"format": "warsaw"}))
    run(r, keys, sample_city, a, WARSAW.read_bytes(), now=warsaw_epoch("11:00"))
    assert queues(r, keys)["UD_Wola|190"]["t"] == warsaw_epoch("10:58")
    # An explicit zone still wins (a city publishing the same shape in its own time).
    b = ServiceQueuesAdapter(sample_city, FeedSource(timezone="UTC", options={"format": "warsaw"}))
    assert b._convert_local_time("2020-01-02", "10:58") == warsaw_epoch("11:58")
