"""The overview and district pages as render functions: the URL's layers and focus, the integrated map's
traces, district values from by_district, an unknown district, where a map click leads."""
from __future__ import annotations

import time

import pytest

from dashboard import citymap
from dashboard.pages import district as district_page
from dashboard.pages import overview as overview_page
from dashboard.reads import citymap as map_reads
from dashboard.store import Store
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.service_centres import services_config
from feeds.simulate import simulators


def seed(r, keys, city, now: float | None = None) -> dict:
    """Every simulated feed of the city, once, through the real adapters into the test's keys; returns
    the runner and simulators so a test can move one domain on."""
    now = time.time() if now is None else now
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    sims = simulators(city)
    for adapter, gen, _ in sims:
        runner.run_once(adapter, gen.payload(now), now=now)
    return {"runner": runner, "sims": sims}


def step(seeded: dict, feed: str, at: float) -> None:
    """One more batch of one feed (its domain's version moves, the others' stay)."""
    for adapter, gen, _ in seeded["sims"]:
        if adapter.name == feed:
            seeded["runner"].run_once(adapter, gen.payload(at), now=at)
            return
    raise AssertionError(f"no simulated feed {feed}")


def texts(component) -> list[str]:
    """Every string in a component tree (rendered text)."""
    out = []
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        for c in component:
            out += texts(c)
        return out
    children = getattr(component, "children", None)
    return texts(children) if children is not None else out


def find(component, cid):
    if getattr(component, "id", None) == cid:
        return component
    children = getattr(component, "children", None)
    for c in children if isinstance(children, (list, tuple)) else [children] if children is not None else []:
        hit = find(c, cid)
        if hit is not None:
            return hit
    return None


@pytest.fixture
def city_store(r, keys, sample_city):
    seed(r, keys, sample_city)
    return Store(r, keys, sample_city)


def test_layers_come_from_the_url_all_by_default_and_none_on_request():
    assert citymap.parse_layers(None) == list(citymap.LAYERS)
    assert citymap.parse_layers("incidents,traffic") == ["traffic", "incidents"]  # map order, not URL order
    assert citymap.parse_layers("none") == []
    assert citymap.parse_layers("bogus") == list(citymap.LAYERS)  # nothing valid: the default
    assert citymap.layers_param(list(citymap.LAYERS)) is None  # the default is not spelt in the URL
    assert citymap.layers_param(["air"]) == "air"
    assert citymap.layers_param([]) == "none"


@pytest.mark.parametrize("value", ["", "1,2", "a,b,c", "91,0,10", "40,-181,10", "40,-75,30", "nan,1,2",
                                   "40,-75,inf", "1" * 100])
def test_an_invalid_focus_is_ignored(value):
    assert citymap.parse_focus(value) is None


def test_a_valid_focus_centres_the_map_there(sample_city):
    focus = citymap.parse_focus("39.95,-75.01,14")
    assert focus == {"lat": 39.95, "lon": -75.01, "zoom": 14.0}
    layout = citymap.skeleton(sample_city, list(citymap.LAYERS), "dark", None, focus=focus)["layout"]["map"]
    assert layout["center"] == {"lon": -75.01, "lat": 39.95} and layout["zoom"] == 14.0


def test_the_overview_map_has_only_the_chosen_layers_after_the_district_shading(sample_city):
    full = citymap.skeleton(sample_city, list(citymap.LAYERS), "dark", None)["data"]
    only = citymap.skeleton(sample_city, ["air", "services"], "dark", None)["data"]
    assert full[0]["type"] == "choroplethmap" and only[0]["type"] == "choroplethmap"
    slots = citymap.slots(["air", "services"])
    assert slots == {"air": (1, 8), "services": (9, 1)} and len(only) == 10
    assert only[9]["name"].startswith("service centres")
    assert len(full) == 1 + sum(n for _, n in citymap.slots(list(citymap.LAYERS)).values())


def test_the_page_reads_layers_and_focus_from_the_query(city_store):
    div = overview_page.page(city_store, {"layers": "buses,traffic", "focus": "39.95,-75,13"})
    view = find(div, "overview-view").data
    assert view == {"layers": ["traffic", "buses"], "focus": {"lat": 39.95, "lon": -75.0, "zoom": 13.0}}
    assert find(div, "overview-layers").value == ["traffic", "buses"]
    assert find(div, "overview-alerts") is not None  # the alerts' slot, filled by their own callback
    bad = overview_page.page(city_store, {"focus": "here"})
    assert find(bad, "overview-view").data["focus"] is None


def test_every_layer_is_drawn_from_its_domains_data(city_store, sample_city):
    kpis = {k["id"]: k for k in city_store.kpis()}
    layers = list(citymap.LAYERS)
    entities = {layer: map_reads.layer_entities(city_store, layer, kpis) for layer in layers}
    data = citymap.map_data(sample_city, layers, kpis, entities, time.time())
    slots = citymap.slots(layers)

    def points(layer):
        first, n = slots[layer]
        return sum(len(data.get(i, {}).get("lon") or []) for i in range(first, first + n))
    assert points("buses") == len(entities["buses"]["vehicles"]) > 0
    assert points("incidents") == len(entities["incidents"]["incidents"]) + len(entities["incidents"]["units"])
    assert points("services") == len(services_config(sample_city).centres) == 5
    air = [s for s in entities["air"]["stations"] if s["kind"] == "air"]
    assert air and points("air") == 2 * len(air)  # each station and its halo
    assert points("traffic") > 0
    # The district shading: each district's city score status, and its name in the hover.
    assert len(data[0]["z"]) == len(sample_city.districts)
    assert all(sample_city.districts[i].name in t for i, t in enumerate(data[0]["text"]))


def test_a_district_shows_its_own_figures_from_by_district(city_store, sample_city):
    kpis = {k["id"]: k for k in city_store.kpis()}
    tti = kpis["traffic.travel_time_index"]
    city_text = f"{tti['value']:,.2f}"
    # a district whose figure reads differently from the city's, so the test can tell them apart
    d = next(d for d, v in tti["by_district"].items() if f"{v['value']:,.2f}" != city_text)
    cards = district_page.domain_section("traffic", kpis, d)[1].children
    shown = texts(cards[0])
    assert f"{tti['by_district'][d]['value']:,.2f}" in shown
    assert city_text not in shown
    assert f"badge badge-{tti['by_district'][d]['status']}" in str(cards[0])


def test_a_kpi_without_a_district_figure_says_so(city_store):
    kpis = {k["id"]: k for k in city_store.kpis()}
    k = kpis["emergency.call_answer_15s_pct"]  # two of nine districts had calls in this batch
    quiet = next(d for d, v in k["by_district"].items() if v["value"] is None)
    value, status, note = district_page.district_value(k, quiet)
    assert (value, status, note) == (None, "no_data", "no figure for this district")
    assert "no figure for this district" in texts(district_page.district_card(k, quiet))
    # A KPI measured only citywide (no district has a figure) says so, with the city's figure.
    citywide = {**k, "by_district": {d: {"value": None, "status": "no_data"} for d in k["by_district"]}}
    value, status, note = district_page.district_value(citywide, quiet)
    assert value is None and status == "no_data"
    assert note == f"citywide only: {k['value']:,.{k['decimals']}f} %"


def test_the_district_page_names_the_district_and_links_each_domain_drilled_to_it(city_store):
    div = district_page.page(city_store, {"id": "D5"})
    assert find(div, "district-id").data == "D5"
    assert find(div, "district-alerts") is not None
    assert find(div, "district-name").children == "Central"
    assert find(div, "district-link-traffic").href == "/traffic?district=D5"
    assert find(div, "district-link-emergency").href == "/emergency?district=D5"
    assert find(div, "district-link-environment").href == "/environment?district=D5"
    assert find(div, "district-link-services-C1").href == "/services?centre=C1"  # City Hall is in Central


def test_an_unknown_district_lists_the_districts_instead_of_failing(city_store, sample_city):
    div = district_page.page(city_store, {"id": "D99"})
    assert div.id == "district-unknown"
    assert "No such district: 'D99'." in texts(div)
    for d in sample_city.districts:
        assert find(div, f"district-choice-{d.id}").href == f"/district/{d.id}"
    assert district_page.page(city_store, {}).id == "district-unknown"


def test_the_district_table_puts_the_worst_district_first_and_links_each(city_store, sample_city):
    kpis = {k["id"]: k for k in city_store.kpis()}
    table = overview_page.district_table(sample_city, kpis)[1]
    rows = table.children[1].children
    scores = [kpis["city.score"]["by_district"][d.id]["value"] for d in sample_city.districts]
    first = rows[0].children[0].children
    assert first.href == f"/district/{sample_city.districts[scores.index(min(scores))].id}"
    assert len(rows) == len(sample_city.districts)


def test_a_map_click_leads_to_the_district_or_to_the_markers_own_page(sample_city):
    ids = sample_city.district_ids()
    layers = list(citymap.LAYERS)
    slots = citymap.slots(layers)
    assert citymap.click_target({"curveNumber": 0, "location": "D3"}, layers, ids) == "/district/D3"
    inc = slots["incidents"][0]
    assert citymap.click_target({"curveNumber": inc, "customdata": "INC-1"}, layers, ids) == "/emergency?incident=INC-1"
    assert citymap.click_target({"curveNumber": inc + 1, "customdata": "E1"}, layers, ids) is None  # a unit
    bus = slots["buses"][0] + 1
    assert citymap.click_target({"curveNumber": bus, "customdata": ["R1-02", "R1"]}, layers, ids) == \
        "/transit?route=R1&vehicle=R1-02"
    assert citymap.click_target({"curveNumber": slots["air"][0] + 2, "customdata": "AQ-3"}, layers, ids) == \
        "/environment?station=AQ-3"
    assert citymap.click_target({"curveNumber": slots["services"][0], "customdata": "C2"}, layers, ids) == \
        "/services?centre=C2"
    assert citymap.click_target({"curveNumber": 0, "location": "nowhere"}, layers, ids) is None
