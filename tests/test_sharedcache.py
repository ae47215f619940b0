"""What a refresh sends after the first paint: only what changed (diff_patch, keep_slots), computed once per
data version for every screen (the shared cache on Redis), and never the old picture after new data."""
from __future__ import annotations

import time
from datetime import datetime

import orjson
import pytest

from bench.city import sample_raw, with_links
from bench.common import dash_refresh
from dashboard.pages import traffic as traffic_page
from dashboard.sharedcache import diff_patch, keep_slots
from feeds.adapters.nyc_traffic import MPH_TO_KMH, NycTrafficAdapter
from feeds.config import FeedSource, Settings, parse_city
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.simulate.traffic import TrafficSimulator
from feeds.timeparse import zone
from tests.auth_helpers import signed_in


def ops(patch) -> list[dict]:
    return patch.to_plotly_json()["operations"]


def test_a_patch_carries_only_the_fields_and_items_that_changed():
    names = [f"bus {i}" for i in range(100)]
    previous = {1: {"lon": [1.0, 2.0], "marker.text": names}, 2: {"text": ["a", "b"]}}
    data = {1: {"lon": [1.0, 2.0], "marker.text": [*names[:7], "bus 7 · late", *names[8:]]}, 2: {"text": ["a", "b"]}}
    assert ops(diff_patch(previous, data)) == [
        {"operation": "Assign", "location": ["data", 1, "marker", "text", 7], "params": {"value": "bus 7 · late"}}]
    assert ops(diff_patch(previous, previous)) == []


def decoded(spec) -> list:
    """A plotly typed array spec back to numbers, as plotly.js decodes it."""
    import array
    import base64

    code = {"u1": "B", "i2": "h", "i4": "i", "f4": "f"}[spec["dtype"]]
    return array.array(code, base64.b64decode(spec["bdata"])).tolist()


def test_long_numeric_arrays_go_whole_as_typed_arrays():
    lons = [-73.98765 + i * 1e-4 for i in range(200)]
    sent = ops(diff_patch({4: {"lon": lons}}, {4: {"lon": [*lons[:-1], -73.9]}}))
    assert [o["location"] for o in sent] == [["data", 4, "lon"]] and sent[0]["params"]["value"]["dtype"] == "f4"
    assert max(abs(a - b) for a, b in zip(decoded(sent[0]["params"]["value"]), [*lons[:-1], -73.9])) < 1e-5
    assert len(orjson.dumps(sent)) < 0.6 * len(orjson.dumps(lons))
    colours = ops(diff_patch(None, {7: {"marker.color": [0, 35, 99] * 30}}))[0]["params"]["value"]
    assert colours["dtype"] == "u1" and decoded(colours) == [0, 35, 99] * 30


def test_a_list_that_mostly_changed_or_a_screen_with_unknown_arrays_gets_it_whole():
    previous = {1: {"lon": list(range(50))}}
    moved = {1: {"lon": [x + 0.5 for x in range(50)]}}
    assert ops(diff_patch(previous, moved)) == [
        {"operation": "Assign", "location": ["data", 1, "lon"], "params": {"value": moved[1]["lon"]}}]
    assert ops(diff_patch(None, previous)) == [
        {"operation": "Assign", "location": ["data", 1, "lon"], "params": {"value": previous[1]["lon"]}}]


def test_items_gained_or_lost_at_the_end_are_extended_or_deleted():
    long = [f"bus-{i}" for i in range(60)]
    grown = diff_patch({3: {"customdata": long}}, {3: {"customdata": [*long, "bus-new"]}})
    assert ops(grown) == [{"operation": "Extend", "location": ["data", 3, "customdata"], "params": {"value": ["bus-new"]}}]
    shrunk = ops(diff_patch({3: {"customdata": long}}, {3: {"customdata": long[:58]}}))
    assert [(o["operation"], o["location"][-1]) for o in shrunk] == [("Delete", 59), ("Delete", 58)]


def test_a_marker_changing_trace_keeps_every_other_marker_in_its_place():
    on_time = [f"b{i}" for i in range(40)]
    previous = {4: {"customdata": on_time, "lon": list(range(40))}, 5: {"customdata": ["x1"], "lon": [100]}}
    # b3 turns late: the feed lists buses in another order, and b3 now belongs to trace 5.
    rest = [b for b in reversed(on_time) if b != "b3"]
    data = {4: {"customdata": rest, "lon": [int(b[1:]) for b in rest]},
            5: {"customdata": ["b3", "x1"], "lon": [3, 100]}}
    kept = keep_slots(previous, data)
    assert kept[4]["customdata"][:3] == ["b0", "b1", "b2"] and kept[4]["customdata"][3] == "b39"  # the last fills the gap
    assert kept[4]["lon"] == [int(b[1:]) for b in kept[4]["customdata"]]  # every array moves together
    assert kept[5]["customdata"] == ["x1", "b3"]
    sent = ops(diff_patch(previous, kept))
    assert len(sent) <= 8 and len(orjson.dumps(sent)) < 1000  # not the 40 markers of trace 4 again


# ----------------------------------------------------------------------------- the dense traffic map
@pytest.fixture
def dense(r, keys, redis_url):
    """A city of 1,200 links (a dense network: roads once, a dot per link), its first reading stored."""
    city = parse_city(with_links(sample_raw(), 1200))
    sim = TrafficSimulator(city, 7, no_data_rate=0, malformed_rate=0)
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    adapter = NycTrafficAdapter(city, FeedSource(interval_s=10))
    runner.run_once(adapter, sim.payload(1_800_000_000), now=1_800_000_000)
    from app import create_app

    app = create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), city)
    client = signed_in(app, r, keys, "viewer")
    return {"city": city, "client": client, "runner": runner, "adapter": adapter}


def traffic_refresh(client, shown):
    outs = [("traffic-cards", "children"), ("traffic-map", "figure"), ("traffic-side", "children"),
            ("traffic-version", "data")]
    return dash_refresh(client, outs, [("traffic-focus", "data", None), ("traffic-version", "data", shown)])


def one_link_slower(city, link_index: int, kmh: float, t: float) -> bytes:
    link = city.traffic.links[link_index]
    row = {"id": link.id, "link_id": link.id, "speed": f"{kmh / MPH_TO_KMH:.2f}", "travel_time": "60", "status": "0",
           "data_as_of": datetime.fromtimestamp(t, zone(city.timezone)).strftime("%Y-%m-%dT%H:%M:%S.000"), "link_points": " ".join(f"{lat},{lon}" for lon, lat in link.points),
           "owner": "SIM", "borough": "", "link_name": link.name}
    return orjson.dumps([row])


def test_the_dense_map_sends_geometry_once_then_only_the_changed_links_colours(dense, r, keys):
    client, city = dense["client"], dense["city"]
    _, first_bytes, first = traffic_refresh(client, None)
    figure, shown = first["traffic-map"]["figure"], first["traffic-version"]["data"]
    dots = figure["data"][traffic_page.HOVER]
    assert len(dots["marker"]["color"]) == 1200 and figure["data"][traffic_page.FIRST_BAND + 5]["lon"]
    before = dots["marker"]["color"][17]
    dense["runner"].run_once(dense["adapter"], one_link_slower(city, 17, 0.3 * city.traffic.links[17].free_flow_kmh,
                                                               1_800_000_010), now=1_800_000_010)
    _, _, moved = traffic_refresh(client, shown)
    sent = moved["traffic-map"]["figure"]["operations"]
    colour_ops = [o for o in sent if o["location"][:2] == ["data", traffic_page.HOVER]]
    assert [o["location"] for o in colour_ops] == [["data", traffic_page.HOVER, "marker", "color"]]
    colours = decoded(colour_ops[0]["params"]["value"])  # one byte per link
    assert colours[17] == 30 and before != 30
    assert [c for i, c in enumerate(colours) if i != 17] == [c for i, c in enumerate(dots["marker"]["color"]) if i != 17]
    assert not any(o["location"][-1] in ("lon", "lat") for o in sent)  # no geometry after the first paint
    assert len(orjson.dumps(moved["traffic-map"])) < 3000 < first_bytes / 40  # the map: ~2 KB (a byte per link), not 130 KB
    # The shared cache is this deployment's (here: this test's prefix), keyed by the data version.
    assert list(r.scan_iter(match=keys.shared_cache() + "*", count=1000))


def test_new_data_is_a_new_cache_entry_so_no_screen_gets_the_old_picture(dense):
    client, city = dense["client"], dense["city"]
    screens = [traffic_refresh(client, None)[2]["traffic-version"]["data"] for _ in range(2)]
    same = [{k: v for k, v in s.items() if k != "t"} for s in screens]  # "t": each screen's own clock
    assert same[0] == same[1]  # both painted the same frame, computed once
    for k, (t, pct) in enumerate(((1_800_000_010, 30), (1_800_000_020, 55))):
        free = city.traffic.links[5].free_flow_kmh
        dense["runner"].run_once(dense["adapter"], one_link_slower(city, 5, pct / 100 * free + 0.01, t), now=t)
        for i, shown in enumerate(screens):
            res = traffic_refresh(client, shown)[2]
            sent = res["traffic-map"]["figure"]["operations"]
            colours = [o for o in sent if o["location"] == ["data", traffic_page.HOVER, "marker", "color"]]
            assert colours and decoded(colours[0]["params"]["value"])[5] == pct, (k, i)
            screens[i] = res["traffic-version"]["data"]


def test_the_browser_takes_the_dense_maps_typed_colour_patch(dash_duo, r, keys, redis_url):
    """A large city's traffic map in Chromium: the dots' colours arrive as a typed-array Patch and plotly
    draws them (the decoded colour of the slowed link), with a clean console."""
    from tests.test_browser import no_console_errors, start

    city = parse_city(with_links(sample_raw(), 1200))
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    adapter = NycTrafficAdapter(city, FeedSource(interval_s=10))
    now = time.time()
    runner.run_once(adapter, TrafficSimulator(city, 7, no_data_rate=0, malformed_rate=0).payload(now), now=now)
    start(dash_duo, redis_url, keys, city, path="/traffic")
    colour = (f"var gd = document.querySelector('#traffic-map .js-plotly-plot');"
              f"return gd && gd._fullData ? Array.from(gd._fullData[{traffic_page.HOVER}].marker.color).slice(0, 20) : null")
    deadline = time.monotonic() + 15
    while not dash_duo.driver.execute_script(colour) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(dash_duo.driver.execute_script(colour)) == 20
    runner.run_once(adapter, one_link_slower(city, 17, 0.3 * city.traffic.links[17].free_flow_kmh + 0.01, now + 10),
                    now=now + 10)
    deadline = time.monotonic() + 15
    while (dash_duo.driver.execute_script(colour) or [0] * 20)[17] != 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dash_duo.driver.execute_script(colour)[17] == 30
    no_console_errors(dash_duo)


def apply_ops(doc, sent: list[dict]):
    """Patch operations applied as the browser applies them (Assign, Delete, Insert, Extend)."""
    for o in sent:
        *where, last = o["location"]
        target = doc
        for k in where:
            target = target[k]
        if o["operation"] == "Assign":
            target[last] = o["params"]["value"]
        elif o["operation"] == "Delete":
            del target[last]
        elif o["operation"] == "Insert":
            target[last].insert(o["params"]["index"], o["params"]["value"])
        elif o["operation"] == "Extend":
            target[last].extend(o["params"]["value"])
    return doc


def test_a_reordered_table_moves_its_rows_and_lands_exactly_on_the_new_one():
    import random

    from dash import dcc, html

    from dashboard.sharedcache import as_json, tree_patch

    def table(order, values):
        return [html.H3("Routes"), html.Table(html.Tbody([
            html.Tr([html.Td(dcc.Link(r, href=f"/transit?route={r}", id=f"route-link-{r}")), html.Td(values[r])])
            for r in order]))]
    rnd = random.Random(4)
    routes = [f"R{i}" for i in range(40)]
    values = {r: str(rnd.randint(50, 99)) for r in routes + ["R98", "R99"]}
    old = as_json(table(routes, values))
    for _ in range(30):
        order = rnd.sample(routes + ["R98", "R99"], 40)
        if rnd.random() < 0.5:  # mostly the old ranking, a few rows moved
            order[:30] = sorted(order[:30], key=(routes + ["R98", "R99"]).index)
        changed = dict(values, **{rnd.choice(order): "0"})
        new = as_json(table(order, changed))
        patch = tree_patch(old, new)
        got = new if not hasattr(patch, "to_plotly_json") else apply_ops(orjson.loads(orjson.dumps(old)),
                                                                         patch.to_plotly_json()["operations"])
        assert got == new
    # One row moving up the ranking: that row is sent, not the forty.
    order = routes[:3] + [routes[12]] + routes[3:12] + routes[13:]
    sent = tree_patch(old, as_json(table(order, values))).to_plotly_json()["operations"]
    assert [o["operation"] for o in sent] == ["Delete", "Insert"]


def test_kept_frames_and_parts_are_bounded_by_count_whatever_the_feeds_rate(r, keys, redis_url, monkeypatch):
    """A flood makes a new version (so a new frame) many times a second: the cache keeps the newest
    KEEP_MAX frames and drops the older ones at once, instead of holding every one for ten minutes."""
    import flask

    from dashboard import sharedcache

    monkeypatch.setitem(sharedcache.KEEP_MAX, "frame", 5)
    monkeypatch.setitem(sharedcache.KEEP_MAX, "part", 3)
    shared = sharedcache.Shared(flask.Flask(__name__), redis_url, keys, 2)
    tokens = [shared.frame({0: {"lon": [float(i)] * 100}}) for i in range(12)]

    def in_redis(token):  # what every worker can read (a worker's own copies aside)
        return r.exists(f"{keys.shared_cache()}frame:{token}") == 1
    kept = [t for t in tokens if in_redis(t)]
    assert kept == tokens[-5:]  # the newest five, the screens' current pictures among them
    frames = [k for k in r.scan_iter(match=f"{keys.shared_cache()}frame:*")]
    assert len(frames) == 5
    assert r.zcard(f"{keys.shared_cache()}kept:frame") == 5 and r.ttl(f"{keys.shared_cache()}kept:frame") > 0
    # Kept again (another worker made the same frame): it is the newest again, an older one goes.
    shared.frame({0: {"lon": [7.0] * 100}})
    shared.frame({0: {"lon": [99.0] * 100}})
    assert in_redis(tokens[7]) and not in_redis(tokens[8])
    other_worker = sharedcache.Shared(flask.Flask("other"), redis_url, keys, 2)
    assert other_worker.shown_frame(tokens[7]) == {0: {"lon": [7.0] * 100}} and other_worker.shown_frame(tokens[8]) is None

    class Store:
        pass

    store = Store()
    store.shared = shared
    for i in range(10):
        sharedcache.kept_parts(store, {"card": {"n": i}})
    assert len(list(r.scan_iter(match=f"{keys.shared_cache()}part:*"))) == 3


# ----------------------------------------------------------------------------- computed once, kept near
def two_workers(redis_url, keys):
    """Two Shared caches on one prefix: what the two gunicorn workers each hold."""
    import flask

    from dashboard import sharedcache

    return [sharedcache.Shared(flask.Flask(f"worker{i}"), redis_url, keys, 2) for i in range(2)]


def test_screens_asking_together_in_both_workers_compute_an_entry_once(redis_url, keys):
    """New data reaches every screen's next tick at once: the first asker computes, the other threads of
    its worker wait for it, and the other worker waits for its claim in Redis, instead of each building
    the same map (the herd that made the large city's overview p95 650 ms)."""
    import threading

    workers = two_workers(redis_url, keys)
    calls, start, answers = [], threading.Barrier(8), []

    def build():
        calls.append(threading.get_ident())
        time.sleep(0.3)
        return {"links": list(range(1000))}

    def screen(shared):
        start.wait()
        answers.append(shared.compute("citymap", ["v41", "all layers"], build))
    threads = [threading.Thread(target=screen, args=(workers[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(answers) == 8 and all(a == {"links": list(range(1000))} for a in answers)
    assert not list(_claims(workers[0]))  # the claim went with the computation


def _claims(shared):
    return shared.r.scan_iter(match=f"{shared.prefix}claim:*")


def test_a_failed_computation_fails_its_waiters_and_a_dead_claim_is_waited_out(redis_url, keys, monkeypatch):
    import threading

    from dashboard import sharedcache
    from dashboard.store import StoreUnavailable

    one, two = two_workers(redis_url, keys)
    calls, start, raised = [], threading.Barrier(4), []

    def failing():
        calls.append(1)
        time.sleep(0.3)
        raise StoreUnavailable("redis went away")

    def screen():
        start.wait()
        try:
            one.compute("emergency", ["v7"], failing)
        except StoreUnavailable as e:
            raised.append(str(e))
    threads = [threading.Thread(target=screen) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # The three waiting behind the failure fail with it at once, not one timeout after another.
    assert len(calls) == 1 and raised == ["redis went away"] * 4
    assert one.compute("emergency", ["v7"], lambda: "computed after") == "computed after"  # not kept failing

    # A worker that claimed an entry and died: the other waits CLAIM_WAIT_S, then computes it itself.
    monkeypatch.setattr(sharedcache, "CLAIM_WAIT_S", 0.4)
    ck = f"patch:{sharedcache.digest(['a', 'b', False])}"
    two.r.set(f"{two.prefix}claim:{ck}", b"1", px=10_000)
    started = time.monotonic()
    assert two.compute("patch", ["a", "b", False], lambda: "mine") == "mine"
    assert 0.35 <= time.monotonic() - started < 3


def test_a_worker_reads_an_entry_from_redis_once_and_keeps_its_own_copy(redis_url, keys, monkeypatch):
    from dashboard import sharedcache

    one, two = two_workers(redis_url, keys)
    frame = {0: {"lon": [1.5] * 200}}
    token = one.frame(frame)
    reads = []
    real_get = two.cache.get
    monkeypatch.setattr(two.cache, "get", lambda k: reads.append(k) or real_get(k))
    assert two.shown_frame(token) == frame and two.shown_frame(token) == frame and reads == [f"frame:{token}"]
    assert two.compute("emergency", ["v1"], lambda: {"units": 3}) == {"units": 3}
    assert two.compute("emergency", ["v1"], lambda: {"units": "recomputed"}) == {"units": 3}
    assert one.compute("emergency", ["v1"], lambda: {"units": "recomputed"}) == {"units": 3}  # through Redis
    # The copies are bounded by count: the least recently used go.
    monkeypatch.setitem(sharedcache.LOCAL_MOST, "part", 3)
    three = two_workers(redis_url, keys)[0]
    three.keep_parts({f"p{i}": {"n": i} for i in range(5)})
    assert list(three.local["part"].items) == ["p2", "p3", "p4"] and three.part("p0") == {"n": 0}
    # A large value (a whole map) is kept pickled: each read is a fresh copy, and the garbage collector
    # has one bytes object to skip instead of lists of 20,000 items to walk.
    whole_map = {"lon": [float(i) for i in range(20_000)]}
    assert three.compute("citymap", ["v2"], lambda: whole_map) is whole_map
    again = three.compute("citymap", ["v2"], lambda: None)
    assert again == whole_map and again is not whole_map
    kept = next(item for key, item in three.local["compute"].items.items() if key.startswith("citymap:"))
    assert isinstance(kept[1], bytes) and kept[2] is True


def test_a_reader_that_changes_a_shared_value_is_caught(redis_url, keys):
    """Every screen of a worker gets the same object: a page changing it would change the others'. The
    tests run with the check on (tests/conftest.py), so such a page fails the test that drew it."""
    from dashboard.sharedcache import SharedEntryChanged

    one, _ = two_workers(redis_url, keys)
    assert one.local["compute"].check
    rows = one.compute("emergency", ["v9"], lambda: {"incidents": [{"id": "F1"}, {"id": "F2"}]})
    rows["incidents"].sort(key=lambda i: i["id"], reverse=True)  # a page sorting in place: the bug
    with pytest.raises(SharedEntryChanged):
        one.compute("emergency", ["v9"], lambda: None)
