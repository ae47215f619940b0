"""The overview and district refreshes over HTTP: the whole view once, then Patches of only the layers
whose domain moved, and nothing at all when nothing is new."""
from __future__ import annotations

import time

import pytest

from bench.common import dash_refresh
from dashboard import citymap
from feeds.kpi.catalogue import DOMAIN_ORDER
from tests.test_overview_page import seed, step
from tests.test_transit_api import client_for

ALL = list(citymap.LAYERS)
pytestmark = pytest.mark.usefixtures("steady_ages")


def overview_outputs() -> list[tuple[str, str]]:
    outs = [("overview-score", "children"), ("overview-districts", "children"), ("overview-map", "figure"),
            ("overview-map-ages", "children")]
    for d in DOMAIN_ORDER:
        outs += [(f"overview-domain-{d}", "children"), (f"overview-domain-{d}", "className")]
    return outs + [("overview-feeds", "children"), ("overview-version", "data")]


def refresh(client, shown, layers=ALL, focus=None, size=None):
    return dash_refresh(client, overview_outputs(), [("overview-view", "data", {"layers": layers, "focus": focus}),
                                                      ("overview-version", "data", shown),
                                                      ("overview-map-size", "data", size)])


def district_refresh(client, district, shown, layers=ALL):
    outs = [("district-score", "children"), ("district-map", "figure"), ("district-map-ages", "children")]
    outs += [(f"district-domain-{d}", "children") for d in DOMAIN_ORDER] + [("district-version", "data")]
    return dash_refresh(client, outs, [("district-id", "data", district),
                                       ("district-view", "data", {"layers": layers, "focus": None}),
                                       ("district-version", "data", shown), ("district-map-size", "data", None)])


def is_patch(figure) -> bool:
    return isinstance(figure, dict) and figure.get("__dash_patch_update") == "__dash_patch_update"


def patched_traces(figure) -> set[int]:
    return {op["location"][1] for op in figure["operations"]}


def test_first_paint_then_nothing_new_sends_nothing(r, keys, redis_url, sample_city):
    seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    _, first_bytes, first = refresh(client, None)
    figure = first["overview-map"]["figure"]
    assert "layout" in figure and len(figure["data"]) == 1 + sum(n for _, n in citymap.slots(ALL).values())
    assert "Westbrook" in str(first["overview-districts"]) and "Feeds" in str(first["overview-feeds"])
    shown = first["overview-version"]["data"]
    _, nothing_bytes, nothing = refresh(client, shown)
    assert nothing == {} and nothing_bytes == 0  # 204: not a byte of body
    assert first_bytes > 50_000


def step_until_incidents_move(seeded, r, keys, city) -> None:
    """Batches of the simulated emergency feed, 30 s apart, until one changes the incidents layer (a
    quiet half-minute changes nothing on the map, and whether one is quiet depends on the clock)."""
    from dashboard.reads.citymap import layer_entities
    from dashboard.store import Store

    store = Store(r, keys, city)
    before = layer_entities(store, "incidents", {})
    for k in range(1, 41):
        step(seeded, "emergency", time.time() + 30 * k)
        if layer_entities(store, "incidents", {}) != before:
            return
    raise AssertionError("20 simulated minutes and no incident or unit moved")


def test_a_domain_that_moved_patches_only_its_own_layer(r, keys, redis_url, sample_city):
    seeded = seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    shown = refresh(client, None)[2]["overview-version"]["data"]
    step_until_incidents_move(seeded, r, keys, sample_city)
    _, size, moved = refresh(client, shown)
    figure = moved["overview-map"]["figure"]
    assert is_patch(figure)
    first, n = citymap.slots(ALL)["incidents"]
    # The district shading and incidents/units, only what changed in them (dashboard.sharedcache.diff_patch)
    assert patched_traces(figure) <= {0, *range(first, first + n)}
    assert patched_traces(figure) & set(range(first, first + n))
    # The emergency cards are redone and sent when what they show changed (a simulated batch may leave
    # every figure as it was); traffic's are not redone at all.
    k = 2 * DOMAIN_ORDER.index("emergency")
    redone = moved["overview-version"]["data"]["parts"][f"s{k}"] != shown["parts"][f"s{k}"]
    assert ("overview-domain-emergency" in moved) == redone and "overview-domain-traffic" not in moved
    assert size < 60_000
    # The same tick against a view without the incidents layer: at most the district shading moves (the
    # map is not sent at all when the shading came out the same).
    shown_air = refresh(client, None, layers=["air"])[2]["overview-version"]["data"]
    step(seeded, "emergency", time.time() + 60)
    answer = refresh(client, shown_air, layers=["air"])[2]
    tokens = answer["overview-version"]["data"]["map"]
    assert set(tokens) == {"districts", "air"} and tokens["air"] == shown_air["map"]["air"]
    figure = answer.get("overview-map", {}).get("figure")
    if tokens["districts"] == shown_air["map"]["districts"]:
        assert figure is None  # nothing this map shows moved: not sent
    else:
        assert is_patch(figure) and patched_traces(figure) == {0}


def plain(value):
    """A figure's value with plotly typed arrays decoded to lists and numbers as floats, for comparing a
    patched figure with a first paint (which sends plain lists)."""
    from tests.test_sharedcache import decoded

    if isinstance(value, dict) and set(value) == {"dtype", "bdata"}:
        return [float(v) for v in decoded(value)]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return float(value) if type(value) in (int, float) else value


def same_figure_data(a, b) -> bool:
    """Equal, numbers within float32's precision (a patch's long numeric lists go as float32)."""
    import math

    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_figure_data(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_figure_data(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def test_screens_at_the_same_versions_show_the_same_map_however_they_got_there(r, keys, redis_url, sample_city):
    from bench.screens import apply_patch

    seeded = seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    first = refresh(client, None)[2]
    figure, a = first["overview-map"]["figure"], first["overview-version"]["data"]
    b = a
    # Screen a sees traffic move, then the incidents; screen b sees both at once.
    step(seeded, "traffic", time.time() + 30)
    for moved in (lambda: None, lambda: step_until_incidents_move(seeded, r, keys, sample_city)):
        moved()
        answer = refresh(client, a)[2]
        a = answer["overview-version"]["data"]
        if "overview-map" in answer:
            figure = apply_patch(figure, answer["overview-map"]["figure"]["operations"])
    b = refresh(client, b)[2]["overview-version"]["data"]
    assert a["map"] == b["map"] and set(a["map"]) == {"districts", *ALL}
    assert a["map"]["incidents"] != first["overview-version"]["data"]["map"]["incidents"]
    # What screen a shows after its two Patches is what a screen painting now is sent.
    fresh = refresh(client, None)[2]
    assert fresh["overview-version"]["data"]["map"] == a["map"]
    assert same_figure_data(plain(figure["data"]), plain(fresh["overview-map"]["figure"]["data"]))


def test_a_new_view_or_theme_is_painted_whole(r, keys, redis_url, sample_city):
    seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    shown = refresh(client, None)[2]["overview-version"]["data"]
    # The answer for all layers landed on a page now showing two (a toggle in flight): paint it whole.
    answer = refresh(client, shown, layers=["traffic", "services"])[2]
    two = answer["overview-map"]["figure"]
    assert not is_patch(two) and len(two["data"]) == 1 + 8 + 1
    # It shows the groups of its own view only (no token of the other view carried on), so its next
    # tick with nothing new sends nothing.
    painted = answer["overview-version"]["data"]
    assert set(painted["map"]) == {"districts", "traffic", "services"}
    assert refresh(client, painted, layers=["traffic", "services"])[1] == 0
    focused = refresh(client, shown, focus={"lat": 39.95, "lon": -75.0, "zoom": 14})[2]["overview-map"]["figure"]
    assert focused["layout"]["map"]["center"] == {"lon": -75.0, "lat": 39.95}


def test_ages_keep_moving_without_new_data(r, keys, redis_url, sample_city, monkeypatch):
    from dashboard import refresh as refresh_state

    seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    shown = refresh(client, None)[2]["overview-version"]["data"]
    # The next slot of the clock: the tiles are drawn again, their ages a second on (an output that did
    # not change is not re-sent).
    monkeypatch.setattr(refresh_state, "AGES_EVERY_S", 1)
    time.sleep(1.1)
    aged = refresh(client, shown)[2]
    assert "overview-map" not in aged  # nothing new on the map
    assert "overview-domain-traffic" in aged and "overview-map-ages" in aged


def test_the_district_view_draws_only_its_entities_zoomed_to_it(r, keys, redis_url, sample_city):
    seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    _, _, whole = refresh(client, None)
    _, _, d5 = district_refresh(client, "D5", None)
    city_fig, d5_fig = whole["overview-map"]["figure"], d5["district-map"]["figure"]
    first, n = citymap.slots(ALL)["traffic"]
    hover = first + 6  # the links' hover trace: one point per link
    assert 0 < len(d5_fig["data"][hover]["lon"]) < len(city_fig["data"][hover]["lon"])
    assert d5_fig["layout"]["map"]["zoom"] > city_fig["layout"]["map"]["zoom"]
    shown = d5["district-version"]["data"]
    assert district_refresh(client, "D5", shown)[1] == 0  # nothing new: nothing sent
    assert district_refresh(client, "D99", None)[1] == 0  # an unknown id: nothing, and no error


def test_a_larger_map_zooms_in_so_the_city_fills_a_4k_wall(r, keys, redis_url, sample_city):
    seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    wall_1080 = refresh(client, None, size=list(citymap.REFERENCE_SIZE))[2]
    wall_4k = refresh(client, None, size=[2 * citymap.REFERENCE_SIZE[0], 2 * citymap.REFERENCE_SIZE[1]])[2]
    zoom = [w["overview-map"]["figure"]["layout"]["map"]["zoom"] for w in (wall_1080, wall_4k)]
    assert zoom[1] == zoom[0] + 1  # twice the pixels each way: one zoom level closer
    shown = wall_1080["overview-version"]["data"]
    # the same view measured again (a few pixels apart): nothing to repaint
    assert refresh(client, shown, size=[citymap.REFERENCE_SIZE[0] + 3, citymap.REFERENCE_SIZE[1]])[1] == 0
    assert citymap.size_zoom(None) == 0 and citymap.size_zoom(["wide", 3]) == 0


def test_the_alerts_panel_is_sent_when_the_alerts_move_or_the_ages_are_due(r, keys, redis_url, sample_city):
    """Its own store keeps which alert version (and ages slot) it shows: most ticks of a wall send nothing."""
    from feeds.alerts import AlertBook

    seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)

    def panel(shown, district=None):
        if district:
            return dash_refresh(client, [("district-alerts", "children"), ("district-alerts-shown", "data")],
                                [("district-alerts-shown", "data", shown)],
                                inputs=[("district-id", "data", district)])[2]
        return dash_refresh(client, [("overview-alerts", "children"), ("overview-alerts-shown", "data")],
                            [("overview-alerts-shown", "data", shown)], inputs=[])[2]
    first = panel(None)
    assert "No open alerts." in str(first["overview-alerts"]["children"])
    shown = first["overview-alerts-shown"]["data"]
    assert panel(shown) == {}  # nothing new: 204
    AlertBook(r, keys).raise_alert("aqi", "D5", "critical", "Unhealthy air in Westbrook", "AQI 162 > 150",
                                   now=time.time() - 60, value=162, district="D5")
    raised = panel(shown)
    assert "Unhealthy air in Westbrook" in str(raised["overview-alerts"]["children"])
    shown = raised["overview-alerts-shown"]["data"]
    aged = panel({**shown, "ages": shown["ages"] - 1})  # the ages slot moved on
    assert "60 s ago" in str(aged["overview-alerts"]["children"]) or "61 s ago" in str(aged["overview-alerts"]["children"])
    d5 = panel(None, "D5")
    assert "Unhealthy air in Westbrook" in str(d5["district-alerts"]["children"])
    assert panel(d5["district-alerts-shown"]["data"], "D5") == {}
    assert "No open alerts in" in str(panel(d5["district-alerts-shown"]["data"], "D1")["district-alerts"]["children"])
