"""Wall mode without a browser: the playlist from CITY_CONFIG and the URL, the alert that pins the wall,
when the data counts as stale, and what a bad link or a bad config says."""
from __future__ import annotations

import time

import pytest

from callbacks.wall import pinned_alert, staleness
from dashboard.pages.wall import WallConfig, pinned_view, playlist, wall_config
from feeds.alerts import AlertBook
from feeds.config import ConfigError


def city_with(sample_city, wall: dict):
    return sample_city.model_copy(update={"wall": wall})


def names(views):
    return [(v["view"], v["path"], v["interval_s"]) for v in views]


# --- the playlist -------------------------------------------------------------------------------
def test_without_config_or_url_the_wall_shows_the_overview_every_30_s(sample_city):
    views = playlist({}, wall_config(sample_city), sample_city)
    assert names(views) == [("overview", "/", 30.0)]


def test_the_city_config_sets_views_with_their_own_intervals(sample_city):
    city = city_with(sample_city, {"views": [{"view": "overview", "interval_s": 45}, {"view": "emergency"},
                                             {"view": "district:D2", "interval_s": 10}], "interval_s": 20})
    views = playlist({}, wall_config(city), city)
    assert names(views) == [("overview", "/", 45.0), ("emergency", "/emergency", 20.0),
                            ("district:D2", "/district/D2", 10.0)]
    assert views[2]["title"] == "District — " + next(d.name for d in city.districts if d.id == "D2")


def test_the_url_overrides_the_config_views_and_interval(sample_city):
    city = city_with(sample_city, {"views": [{"view": "services", "interval_s": 45}]})
    config = wall_config(city)
    views = playlist({"views": "overview,emergency,transit", "interval": "20"}, config, city)
    assert names(views) == [("overview", "/", 20.0), ("emergency", "/emergency", 20.0), ("transit", "/transit", 20.0)]
    # interval alone: the city's views, every one at the URL's interval
    assert names(playlist({"interval": "12"}, config, city)) == [("services", "/services", 12.0)]


def test_each_view_in_the_url_may_carry_its_own_interval(sample_city):
    views = playlist({"views": "overview:30,emergency:15,district:D2:25,traffic", "interval": "40"},
                     wall_config(sample_city), sample_city)
    assert names(views) == [("overview", "/", 30.0), ("emergency", "/emergency", 15.0),
                            ("district:D2", "/district/D2", 25.0), ("traffic", "/traffic", 40.0)]


@pytest.mark.parametrize("query, message", [
    ({"views": "overview,trafic"}, "views: unknown view 'trafic' (one of overview, traffic"),
    ({"views": "district:D99"}, "views: unknown district 'D99'"),
    ({"views": "overview:soon"}, "views: overview: expected seconds, got 'soon'"),
    ({"views": "overview:1"}, "views: overview: must be between 2 and 3600 seconds, got '1'"),
    ({"views": "overview:10:20"}, "views: 'overview:10:20' is not view[:seconds]"),
    ({"views": " , "}, "views: name at least one view"),
    ({"views": "wall"}, "views: unknown view 'wall'"),
    ({"interval": "-5"}, "interval: must be between 2 and 3600 seconds, got '-5'"),
    ({"interval": "twenty"}, "interval: expected seconds, got 'twenty'"),
])
def test_a_bad_url_parameter_says_which_and_why(sample_city, query, message):
    with pytest.raises(ValueError) as e:
        playlist(query, wall_config(sample_city), sample_city)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("wall, message", [
    ({"views": [{"view": "trafic"}]}, "CITY_CONFIG wall.views.0.view: unknown view 'trafic'"),
    ({"views": [{"view": "overview", "interval_s": 0}]}, "CITY_CONFIG wall.views.0.interval_s: Input should be greater than or equal to 2"),
    ({"views": []}, "CITY_CONFIG wall.views: List should have at least 1 item"),
    ({"stale_after_s": "soon"}, "CITY_CONFIG wall.stale_after_s: Input should be a valid number"),
    ({"playlist": []}, "CITY_CONFIG wall.playlist: Extra inputs are not permitted"),
    ({"views": [{"view": "district:D42"}]}, "CITY_CONFIG wall.views.0.view: unknown district 'D42'"),
])
def test_a_bad_wall_section_stops_the_app_with_one_line(sample_city, wall, message):
    with pytest.raises(ConfigError) as e:
        wall_config(city_with(sample_city, wall))
    assert str(e.value).startswith(message), str(e.value)
    assert "\n" not in str(e.value)


def test_a_bad_wall_section_stops_create_app(sample_city, redis_url, keys):
    from app import create_app
    from feeds.config import Settings

    with pytest.raises(ConfigError, match="wall.views.0.view"):
        create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None),
                   city_with(sample_city, {"views": [{"view": "nowhere"}]}))


def test_the_wall_page_shows_a_bad_link_as_a_message(sample_city):
    from dashboard.pages import wall as wall_page

    class FakeStore:
        city = sample_city

    layout = wall_page.page(FakeStore(), {"views": "overview,nowhere"})
    text = str(layout.to_plotly_json())
    assert "This wall link has a problem" in text and "unknown view 'nowhere'" in text


# --- alerts that pin the wall ----------------------------------------------------------------
def test_the_oldest_unacknowledged_critical_alert_pins_the_wall(r, keys, sample_city):
    book = AlertBook(r, keys)
    now = time.time()
    book.raise_alert("aqi", "D3", "major", "AQI high", "AQI 160 in D3", now - 900, view="/environment")
    newer = book.raise_alert("fire", "D2", "critical", "Structure fire", "3 alarms", now - 60, view="/emergency",
                             district="D2")
    older = book.raise_alert("tti", "D5", "critical", "Gridlock", "TTI 2.4 in Central", now - 600,
                             view="/district/D5", focus={"lat": 40.71, "lon": -74.0, "zoom": 14}, district="D5")
    pinned = pinned_alert(book.open_alerts(), sample_city)
    assert pinned["id"] == older["id"]
    assert pinned["pin"]["path"] == "/district/D5"
    assert pinned["pin"]["title"] == "District — Central"
    assert pinned["pin"]["query"]["focus"] == "40.71,-74.0,14"

    book.acknowledge(older["id"], by="ops")  # acknowledged: the next unacknowledged critical one pins
    pinned = pinned_alert(book.open_alerts())
    assert pinned["id"] == newer["id"]
    assert pinned["pin"] == {"view": f"alert:{newer['id']}", "path": "/emergency", "query": {"district": "D2"},
                             "title": "Emergency"}
    book.clear("fire", "D2")
    assert pinned_alert(book.open_alerts()) is None


def test_an_alert_escalated_to_critical_pins_the_wall(r, keys):
    book = AlertBook(r, keys)
    now = time.time()
    alert = book.raise_alert("queue", "C1", "major", "Long queue", "45 min wait", now - 3600, view="/services")
    assert pinned_alert(book.open_alerts()) is None
    book.escalate_due(lambda a: 60, now=now)  # nobody acknowledged it: major -> critical
    assert book.get(alert["id"])["severity"] == "critical"
    assert pinned_alert(book.open_alerts())["id"] == alert["id"]


def test_a_pinned_view_keeps_the_alerts_own_query_and_adds_its_focus():
    view = pinned_view({"id": "A7", "view": "/traffic?district=D4", "focus": {"lat": 1.5, "lon": 2.5, "zoom": None},
                        "district": "D5"})
    assert view["path"] == "/traffic" and view["query"] == {"district": "D4", "focus": "1.5,2.5"}
    assert pinned_view({"id": "A8", "view": None, "focus": None})["path"] == "/"


# --- stale data ------------------------------------------------------------------------------
def feed(name, status, lag_s=None):
    return {"name": name, "status": status, "lag_s": lag_s}


def test_data_is_stale_when_every_feed_is_stale_or_failing():
    now = 10_000.0
    stale = staleness({"a": {"as_of": now - 50}}, [feed("traffic", "stale", 400), feed("transit", "error", 900),
                                                   feed("services", "never")], now, 300)
    assert stale["reason"] == "every feed is stale or failing (traffic stale, transit error)"
    assert stale["since"] == now - 400


def test_data_is_stale_when_the_newest_figure_is_older_than_the_limit():
    now = 10_000.0
    assert staleness({"a": {"as_of": now - 200}, "b": {"as_of": now - 900}}, [feed("t", "ok", 5)], now, 300) is None
    stale = staleness({"a": {"as_of": now - 400}, "b": {"as_of": now - 900}}, [feed("t", "ok", 5)], now, 300)
    assert stale == {"reason": "no new figure for more than 5 min", "since": now - 400}
    stale = staleness({"a": {"as_of": now - 400}}, [feed("traffic", "ok", 5), feed("transit", "stale", 500)], now, 300)
    assert stale["reason"] == "no new figure for more than 5 min (transit stale)"


def test_a_new_city_with_no_data_yet_is_not_called_stale():
    assert staleness({}, [], 10_000.0, 300) is None
    assert staleness({}, [feed("traffic", "never")], 10_000.0, 300) is None


def test_the_wall_config_defaults():
    c = WallConfig()
    assert (c.interval_s, c.stale_after_s, [v.view for v in c.views]) == (30.0, 300.0, ["overview"])


def wall_status(client, previous=None) -> dict:
    import orjson

    body = {"output": "wall-status.data", "outputs": {"id": "wall-status", "property": "data"},
            "inputs": [{"id": "tick", "property": "n_intervals", "value": 1}], "changedPropIds": ["tick.n_intervals"],
            "state": [{"id": "wall-status", "property": "data", "value": previous}]}
    res = client.post("/_dash-update-component", json=body)
    assert res.status_code == 200, res.data[:300]
    return orjson.loads(res.data)["response"]["wall-status"]["data"]


def test_the_screens_of_one_worker_share_one_staleness_read_a_second(r, keys, redis_url, sample_city, monkeypatch):
    import callbacks.wall
    from app import create_app
    from feeds.config import Settings
    from tests.auth_helpers import signed_in
    from tests.test_browser import City

    monkeypatch.setattr(callbacks.wall, "STALENESS_TTL_S", 0.5)
    City(r, keys, sample_city).batch()
    app = create_app(Settings(redis_url, 8050, None, keys.prefix, 2, None), sample_city)
    store = app.server.extensions["citybrain.auth"].store
    reads = []
    kpi_values = store.kpi_values
    store.kpi_values = lambda *a, **k: reads.append(1) or kpi_values(*a, **k)
    screens = [signed_in(app, r, keys, "kiosk") for _ in range(5)]
    answers = [wall_status(s) for s in screens]
    assert len(reads) == 1 and all(a["redis"] and a["stale"] is None for a in answers)
    # Past the half second the next tick reads again, and sees what changed: the data is now an hour old.
    time.sleep(0.6)
    later = time.time() + 3600
    monkeypatch.setattr(callbacks.wall.time, "time", lambda: later)
    answer = wall_status(screens[0], answers[0])
    assert len(reads) == 2 and answer["redis"] and answer["stale"]["reason"]
