"""The overview and district refreshes over HTTP: the whole view once, then Patches of only the layers
whose domain moved, and nothing at all when nothing is new."""
from __future__ import annotations

import time

from bench.common import dash_refresh
from dashboard import citymap
from feeds.kpi.catalogue import DOMAIN_ORDER
from tests.test_overview_page import seed, step
from tests.test_transit_api import client_for

ALL = list(citymap.LAYERS)


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


def test_a_domain_that_moved_patches_only_its_own_layer(r, keys, redis_url, sample_city):
    seeded = seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    shown = refresh(client, None)[2]["overview-version"]["data"]
    step(seeded, "emergency", time.time() + 30)
    _, size, moved = refresh(client, shown)
    figure = moved["overview-map"]["figure"]
    assert is_patch(figure)
    first, n = citymap.slots(ALL)["incidents"]
    # The district shading and incidents/units, only what changed in them (dashboard.sharedcache.diff_patch)
    assert patched_traces(figure) <= {0, *range(first, first + n)}
    assert patched_traces(figure) & set(range(first, first + n))
    assert "overview-domain-emergency" in moved and "overview-domain-traffic" not in moved
    assert size < 60_000
    # The same tick against a view without the incidents layer: only the district shading moves.
    shown_air = refresh(client, None, layers=["air"])[2]["overview-version"]["data"]
    step(seeded, "emergency", time.time() + 60)
    figure = refresh(client, shown_air, layers=["air"])[2]["overview-map"]["figure"]
    assert is_patch(figure) and patched_traces(figure) <= {0}


def test_a_new_view_or_theme_is_painted_whole(r, keys, redis_url, sample_city):
    seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    shown = refresh(client, None)[2]["overview-version"]["data"]
    # The answer for all layers landed on a page now showing two (a toggle in flight): paint it whole.
    two = refresh(client, shown, layers=["traffic", "services"])[2]["overview-map"]["figure"]
    assert not is_patch(two) and len(two["data"]) == 1 + 8 + 1
    focused = refresh(client, shown, focus={"lat": 39.95, "lon": -75.0, "zoom": 14})[2]["overview-map"]["figure"]
    assert focused["layout"]["map"]["center"] == {"lon": -75.0, "lat": 39.95}


def test_ages_keep_moving_without_new_data(r, keys, redis_url, sample_city):
    from callbacks.overview import AGES_EVERY_S

    seed(r, keys, sample_city)
    client = client_for(redis_url, keys, sample_city)
    shown = refresh(client, None)[2]["overview-version"]["data"]
    time.sleep(1.1)  # the ages shown move by a second (an output that did not change is not re-sent)
    aged = refresh(client, {**shown, "t": shown["t"] - AGES_EVERY_S - 1})[2]
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
