"""The transit feed on the real GTFS / GTFS-RT fixtures (tests/fixtures/transit/SOURCES.md), real Redis."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
from google.transit import gtfs_realtime_pb2 as rt

from feeds.adapters.transit import TransitAdapter, bundle
from feeds.config import ConfigError, FeedSource
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.kpi.transit import observed_headways

FIX = Path(__file__).parent / "fixtures" / "transit"
ROOT = Path(__file__).parent.parent
USF_GTFS = str(FIX / "usf_bullrunner_gtfs.zip")
KCM_GTFS = str(FIX / "kcm_gtfs_2016.zip")


def adapter(city, gtfs=None, **opts):
    options = {"gtfs_static": gtfs} if gtfs else {}
    return TransitAdapter(city, FeedSource(interval_s=30, options={**options, **opts}))


def kpis(r, keys):
    return {k: orjson.loads(v) for k, v in r.hgetall(keys.kpi_values()).items()}


def test_bull_runner_vehicles_match_their_routes_and_are_stored(r, keys, sample_city):
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    res = runner.run_once(adapter(sample_city, USF_GTFS), (FIX / "usf_bullrunner_vehicle_positions.pb").read_bytes())
    assert (res.fetched, res.stored, res.rejected) == (10, 10, 0)
    v = orjson.loads(r.hget(keys.transit_vehicles(), "1536"))
    assert (v["r"], v["lat"], v["lon"], v["occ"]) == ("F", 28.066221, -82.417694, "EMPTY")
    assert v["t"] == 1505314375  # no vehicle timestamp in this feed: the header's
    values = kpis(r, keys)
    # 10 vehicles report; the schedule needs 19 (see test_transit_gtfs): A 1 of 2, B 1 of 2, C 3 of 2
    # (counted as 2: a spare bus does not make up for another route), D 2 of 4, E 1 of 3, F 2 of 6.
    # Delivered = (1 + 1 + 2 + 2 + 1 + 2) / 19 = 9 / 19 = 47.37 %.
    assert values["transit.vehicles_in_service"]["value"] == 10
    assert values["transit.service_delivered_pct"]["value"] == pytest.approx(100 * 9 / 19, abs=1e-4)
    by_route = values["transit.service_delivered_pct"]["detail"]["by_route"]
    assert by_route["C"] == pytest.approx(100.0) and by_route["F"] == pytest.approx(100 * 2 / 6, abs=1e-4)
    # frequency-based trips (exact_times=0): no delay events at all
    assert values["transit.on_time_pct"]["value"] is None


def test_gtfs_static_is_stored_once_per_version(r, keys, sample_city):
    runner = Runner(r, keys, sample_city)
    a = adapter(sample_city, USF_GTFS)
    payload = (FIX / "usf_bullrunner_vehicle_positions.pb").read_bytes()
    runner.run_once(a, payload)
    meta = r.hgetall(keys.transit_static())
    assert int(meta["routes"]) == 6 and int(meta["trips"]) == 15
    route = orjson.loads(r.hget(keys.transit_routes(), "A"))
    assert route["frequency_based"] and route["headway_s"] == 600 and len(route["shape"]) > 10
    # A second adapter (a restarted process) with the same zip does not rewrite it.
    runner.run_once(adapter(sample_city, USF_GTFS), payload)
    assert r.hget(keys.transit_static(), "loaded_at") == meta["loaded_at"]


def test_septa_trip_updates_give_hand_derived_on_time_and_mean_delay(r, keys, sample_city):
    # 35 TripUpdates, one StopTimeUpdate each with arrival.delay: 22 x 0, 6 x 60, 120, 180, 2 x 240,
    # 300, 420, 540. No schedule (no SEPTA GTFS): each trip's delay at its next stop is one event.
    # On time is -60 <= delay <= +300: all but 420 and 540 -> 33 / 35 = 94.286 %.
    # Mean = (6*60 + 120 + 180 + 480 + 300 + 420 + 540) / 35 = 2400 / 35 = 68.571 s.
    runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
    res = runner.run_once(adapter(sample_city), (FIX / "septa_regional_rail_trip_updates.pb").read_bytes())
    assert (res.stored, res.rejected) == (35, 0)
    values = kpis(r, keys)
    assert values["transit.on_time_pct"]["value"] == pytest.approx(100 * 33 / 35, abs=1e-4)
    assert values["transit.mean_delay_s"]["value"] == pytest.approx(2400 / 35, abs=1e-4)
    assert values["transit.on_time_pct"]["inputs"] == 35
    tu = orjson.loads(r.hget(keys.transit_trip_updates(), "AIR_8447_V55_M"))
    assert tu["delay"] == 60


def test_kcm_unknown_routes_are_dead_letters_and_the_rest_is_kept(r, keys, sample_city):
    runner = Runner(r, keys, sample_city)
    res = runner.run_once(adapter(sample_city, KCM_GTFS), (FIX / "kcm_vehicle_positions_1.pb").read_bytes())
    assert res.fetched == 627 and res.rejected == 44 and res.stored == 583
    dead = r.xrange(keys.deadletter())
    assert len(dead) == 44
    assert all("unknown route" in f["reason"] and "not in GTFS static" in f["reason"] for _, f in dead)
    assert "vehicle" in dead[0][1]["raw"]  # the entity itself, as protobuf text


def test_kcm_headways_from_two_snapshots(r, keys, sample_city):
    # Route 100019 direction 1: vehicles 6978 and 6886 both report stop 15432 in snapshot 1, at
    # 1630596604 and 1630596648: one observed headway of 44 s. Route 100026 direction 1, stop 37130:
    # 7125 in snapshot 1 (1630596675), then 7027 (1630598833) and 7162 (1630598851) in snapshot 2:
    # headways 2158 s and 18 s.
    runner = Runner(r, keys, sample_city)
    a = adapter(sample_city, KCM_GTFS)
    runner.run_once(a, (FIX / "kcm_vehicle_positions_1.pb").read_bytes())
    runner.run_once(a, (FIX / "kcm_vehicle_positions_2.pb").read_bytes())
    passages = [orjson.loads(p) for p in r.zrange(keys.transit_passages(), 0, -1)]
    hw = {(h.route, h.direction, h.stop): [] for h in observed_headways(passages)}
    for h in observed_headways(passages):
        hw[(h.route, h.direction, h.stop)].append(h.h)
    assert hw[("100019", 1, "15432")] == [44.0]
    assert hw[("100026", 1, "37130")] == [2158.0, 18.0]


def test_a_malformed_protobuf_is_a_dead_letter_and_the_other_source_is_kept(r, keys, sample_city):
    runner = Runner(r, keys, sample_city)
    payload = bundle({"vehicle_positions": (FIX / "usf_bullrunner_vehicle_positions.pb").read_bytes(),
                      "trip_updates": b"\x0a\xff\xff garbage"})
    res = runner.run_once(adapter(sample_city, USF_GTFS), payload)
    assert res.stored == 10 and res.rejected == 1
    (_, dead), = r.xrange(keys.deadletter())
    assert dead["reason"].startswith("trip_updates: not a GTFS-RT FeedMessage")


def test_a_bare_unreadable_payload_is_rejected_whole(r, keys, sample_city):
    res = Runner(r, keys, sample_city).run_once(adapter(sample_city, USF_GTFS), b"<html>503</html>")
    assert res.payload_error and "not a GTFS-RT FeedMessage" in res.payload_error


def test_an_alert_for_an_unknown_route_is_rejected_and_a_known_one_kept(r, keys, sample_city):
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = 1505314375
    for eid, route in (("al-1", "A"), ("al-2", "ZZ")):
        e = msg.entity.add()
        e.id = eid
        e.alert.informed_entity.add().route_id = route
        e.alert.header_text.translation.add().text = f"Detour on {route}"
        e.alert.effect = rt.Alert.DETOUR
    res = Runner(r, keys, sample_city).run_once(adapter(sample_city, USF_GTFS), msg.SerializeToString())
    assert (res.stored, res.rejected) == (1, 1)
    alert = orjson.loads(r.hget(keys.transit_alerts(), "al-1"))
    assert alert["routes"] == ["A"] and alert["effect"] == "DETOUR" and alert["header"] == "Detour on A"


def test_scheduled_trip_update_with_times_and_skips(r, keys, sample_city, tmp_path):
    """A trip of the sample schedule: time wins, propagation over SKIPPED, departures recorded."""
    from feeds.simulate.transit import build_gtfs

    zip_path = tmp_path / "sample.zip"
    zip_path.write_bytes(build_gtfs(sample_city))
    a = adapter(sample_city, str(zip_path))
    a.ensure_static()
    trip = next(t for t in a.sched.gtfs.trips.values() if t.route_id == "R1" and t.direction_id == 0
                and t.start >= 8 * 3600)
    from datetime import date
    from feeds.adapters.transit_gtfs import service_day_start
    day = service_day_start(date(2026, 11, 18), sample_city.timezone)  # a Wednesday
    st = trip.stop_times
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = int(day + st[4].dep + 200)  # just after stop 5's (late) departure
    tu = msg.entity.add(id="e1").trip_update
    tu.trip.trip_id = trip.id
    tu.trip.start_date = "20261118"
    u = tu.stop_time_update.add(stop_sequence=st[1].seq)
    u.departure.delay = 30
    u.departure.time = int(day + st[1].dep + 150)  # time wins: +150 s, not +30
    tu.stop_time_update.add(stop_sequence=st[2].seq).schedule_relationship = \
        rt.TripUpdate.StopTimeUpdate.SKIPPED
    res = Runner(r, keys, sample_city).run_once(a, msg.SerializeToString())
    assert res.stored == 1
    deps = {k: orjson.loads(v) for k, v in r.hgetall(keys.transit_departures()).items()}
    # stop 2: +150; stop 3 skipped (no event); stops 4, 5: +150 propagated over the skip; stop 5 left
    # at sched + 150 <= header time (sched + 200); stop 6 leaves at sched_6 + 150 > header + 120 s
    # look-ahead only if the stops are > 170 s apart, which the sample schedule's are.
    got = {int(k.split("|")[1]): v["dl"] for k, v in deps.items()}
    assert got == {st[1].seq: 150, st[3].seq: 150, st[4].seq: 150}


# A prefix of this run's own: the suite runs in several worktrees at once against one Redis, and a
# fixed prefix let one run's clean-up delete another's keys mid-test.
CLI_PREFIX = f"cbtest-transitcli-{uuid.uuid4().hex[:8]}"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "feeds", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:6379/0",
                               "KEY_PREFIX": CLI_PREFIX}, timeout=60)


def test_cli_without_a_schedule_exits_2_with_one_line():
    p = run_cli("run", "transit", "--vehicle-positions", str(FIX / "usf_bullrunner_vehicle_positions.pb"), "--once")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "--gtfs-static" in p.stderr


def test_cli_transit_flags_belong_to_the_transit_feed_only():
    p = run_cli("run", "traffic", "--gtfs-static", USF_GTFS, "--once")
    assert p.returncode == 2 and "--gtfs-static is not an option of feed 'traffic'" in p.stderr


def test_cli_runs_the_fixture_files_once(r):
    from feeds.schema import Keys

    keys = Keys(CLI_PREFIX)
    try:
        p = run_cli("run", "transit", "--gtfs-static", USF_GTFS, "--vehicle-positions",
                    str(FIX / "usf_bullrunner_vehicle_positions.pb"), "--trip-updates",
                    str(FIX / "septa_regional_rail_trip_updates.pb"), "--once")
        assert p.returncode == 0, p.stderr
        # 10 Bull Runner vehicles kept; the 35 SEPTA trips are not in the Bull Runner schedule.
        assert "transit: 45 records, 10 stored, 35 rejected" in p.stdout
        reasons = [f["reason"] for _, f in r.xrange(keys.deadletter())]
        assert len(reasons) == 35 and all("not in GTFS static" in x for x in reasons)
        assert r.hget(keys.transit_static(), "routes") == "6"
    finally:
        for k in r.scan_iter(match=keys.pattern()):
            r.delete(k)


def test_bad_transit_config_is_a_config_error(sample_city):
    city = sample_city.model_copy(update={"transit": {"bunched_ratio": 2}})
    with pytest.raises(ConfigError, match="transit.bunched_ratio"):
        TransitAdapter(city, FeedSource())


def test_city_config_names_the_sources_like_the_flags(r, tmp_path):
    import json

    from feeds.schema import Keys

    city = json.loads((ROOT / "feeds" / "cities" / "sample.json").read_text())
    city["feeds"]["transit"] = {"interval_s": 30, "options": {
        "gtfs_static": USF_GTFS, "vehicle_positions": str(FIX / "usf_bullrunner_vehicle_positions.pb")}}
    path = tmp_path / "city.json"
    path.write_text(json.dumps(city))
    keys = Keys(f"cbtest-transitcfg-{uuid.uuid4().hex[:8]}")
    try:
        p = subprocess.run([sys.executable, "-m", "feeds", "run", "transit", "--once"], cwd=ROOT, capture_output=True,
                           text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:6379/0",
                                                       "KEY_PREFIX": keys.prefix, "CITY_CONFIG": str(path)})
        assert p.returncode == 0, p.stderr
        assert "transit: 10 records, 10 stored" in p.stdout
        assert r.hlen(keys.transit_vehicles()) == 10
    finally:
        for k in r.scan_iter(match=keys.pattern()):
            r.delete(k)


def test_without_trip_updates_delay_is_observed_minus_scheduled_from_positions(r, keys, sample_city, tmp_path):
    # feed-formats.md §3.2 "From VehiclePositions only": the first report at a stop is the observed time
    # there. A bus of a scheduled R2 trip reports STOPPED_AT its 3rd stop 90 s after that stop's
    # scheduled arrival -> a departure event of +90 s at that stop, and the bus is shown 90 s late.
    from datetime import date

    from feeds.adapters.transit_gtfs import service_day_start
    from feeds.simulate.transit import build_gtfs

    zip_path = tmp_path / "sample.zip"
    zip_path.write_bytes(build_gtfs(sample_city))
    a = adapter(sample_city, str(zip_path))
    a.ensure_static()
    trip = next(t for t in a.sched.gtfs.trips.values() if t.route_id == "R2" and t.start >= 9 * 3600)
    day = service_day_start(date(2026, 11, 18), sample_city.timezone)
    third = trip.stop_times[2]
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = int(day + third.arr + 90)
    v = msg.entity.add(id="b1").vehicle
    v.trip.trip_id, v.trip.start_date = trip.id, "20261118"
    v.vehicle.id = "bus-7"
    v.position.latitude, v.position.longitude = 40.0, -75.0
    v.stop_id, v.current_stop_sequence = third.stop_id, third.seq
    v.current_status = rt.VehiclePosition.STOPPED_AT
    Runner(r, keys, sample_city).run_once(a, msg.SerializeToString())
    event = orjson.loads(r.hget(keys.transit_departures(), f"{trip.id}|{third.seq}"))
    assert event["dl"] == 90 and event["s"] == third.stop_id and event["r"] == "R2"
    assert orjson.loads(r.hget(keys.transit_vehicles(), "bus-7"))["dl"] == 90


def _vp_only(r, keys, sample_city, tmp_path, reports):
    """Feed VehiclePositions of one R2 trip (no TripUpdates): ``reports`` = [(stop index, status, t - day)]."""
    from datetime import date

    from feeds.adapters.transit_gtfs import service_day_start
    from feeds.simulate.transit import build_gtfs

    zip_path = tmp_path / "sample.zip"
    zip_path.write_bytes(build_gtfs(sample_city))
    a = adapter(sample_city, str(zip_path))
    a.ensure_static()
    trip = next(t for t in a.sched.gtfs.trips.values() if t.route_id == "R2" and t.start >= 9 * 3600)
    day = service_day_start(date(2026, 11, 18), sample_city.timezone)
    runner = Runner(r, keys, sample_city)
    for i, status, at in reports(trip):
        st = trip.stop_times[i]
        msg = rt.FeedMessage()
        msg.header.gtfs_realtime_version = "2.0"
        msg.header.timestamp = int(day + at)
        v = msg.entity.add(id="b1").vehicle
        v.trip.trip_id, v.trip.start_date = trip.id, "20261118"
        v.vehicle.id = "bus-7"
        v.position.latitude, v.position.longitude = 40.0, -75.0
        v.stop_id, v.current_stop_sequence = st.stop_id, st.seq
        if status is not None:
            v.current_status = status
        runner.run_once(a, msg.SerializeToString())
    return trip, {int(k.split("|")[1]): orjson.loads(v)["dl"] for k, v in r.hgetall(keys.transit_departures()).items()}


def test_in_transit_to_a_stop_is_the_departure_from_the_stop_before(r, keys, sample_city, tmp_path):
    # GTFS-RT: stop_id / current_stop_sequence name the stop the bus is AT or HEADING TO; current_status
    # says which (absent = IN_TRANSIT_TO, as in the KCM feed). A bus STOPPED_AT stop 2 at its scheduled
    # arrival + 30 s, then IN_TRANSIT_TO stop 3 at stop 2's scheduled departure + 60 s: it left stop 2
    # 60 s late (the departure, TCQSM's event at a timepoint, replaces the arrival's +30). Stop 3 is not
    # reached yet: no event there (the old reading, t - scheduled arrival at stop 3, made this bus early
    # by the running time between the stops).
    trip, got = _vp_only(r, keys, sample_city, tmp_path, lambda trip: [
        (1, rt.VehiclePosition.STOPPED_AT, trip.stop_times[1].arr + 30),
        (2, None, trip.stop_times[1].dep + 60)])
    assert got == {trip.stop_times[1].seq: 60}
    assert orjson.loads(r.hget(keys.transit_vehicles(), "bus-7"))["dl"] == 60


def test_a_first_report_heading_to_a_stop_is_not_a_delay(r, keys, sample_city, tmp_path):
    # The first report of a bus, IN_TRANSIT_TO stop 3: when it left stop 2 is not known -> no event.
    trip, got = _vp_only(r, keys, sample_city, tmp_path, lambda trip: [
        (2, rt.VehiclePosition.IN_TRANSIT_TO, trip.stop_times[2].arr - 100)])
    assert got == {}


def test_cli_with_a_schedule_file_that_is_not_a_zip_exits_2_with_one_line():
    # A user passing the VehiclePositions file as --gtfs-static: the feed would run with no schedule
    # (every route accepted, no service delivered), so the flag is refused at start instead.
    vp = str(FIX / "usf_bullrunner_vehicle_positions.pb")
    p = run_cli("run", "transit", "--gtfs-static", vp, "--vehicle-positions", vp, "--once")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "--gtfs-static" in p.stderr and "not a GTFS zip" in p.stderr
