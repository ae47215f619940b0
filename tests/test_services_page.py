"""The services page's pure render functions: what a wall shows for given KPIs and centres."""
from __future__ import annotations

from dashboard.pages import services as page

KPIS = {
    "services.wait_min": {"target": 20.0, "warn": 30.0, "status": "ok",
                          "by_district": {"D5": {"value": 25.0, "status": "warn"}}},
    "services.requests_open": {"detail": {"by_type": {"Pothole": 40, "Graffiti": 12, "Noise complaint": 3}}},
}


def centre(cid, wait, waiting, reporting=True, lon=-75.0, lat=40.0):
    return {"id": cid, "name": f"Centre {cid}", "lon": lon, "lat": lat, "district": "D5", "hours": "08:00-18:00",
            "reporting": reporting, "waiting": waiting, "wait_min": wait, "open_counters": 3, "scheduled_counters": 4,
            "served_within_target_pct": 90.0, "age_s": 12.0}


def test_centre_dots_say_their_wait_band_in_colour_and_word(sample_city):
    centres = [centre("A", 12, 3), centre("B", 25, 9), centre("C", 45, 30), centre("D", None, None, reporting=False),
               centre("E", 5, 1, lon=None, lat=None)]  # a learnt centre without a location: not on the map
    data = page.map_data(sample_city, KPIS, centres, [])[page.CENTRES]
    assert data["customdata"] == ["A", "B", "C", "D"]
    assert data["marker.color"] == [page.STATUS_HEX[s] for s in ("ok", "warn", "breach", "no_data")]
    assert "(BREACH)" in data["text"][2] and "no queue data now" in data["text"][3]
    assert data["marker.size"][2] > data["marker.size"][0]  # more people, bigger dot


def test_heat_grid_keeps_the_centres_that_waited_longest():
    centres = [centre(f"C{i}", 1, 1) for i in range(20)]
    grid = {"today": {f"C{i}": {9: float(i)} for i in range(20)}, "last_week": {}, "days": ("2026-11-16", "2026-11-09")}
    rows, with_data = page.heat_rows(grid, centres)
    assert with_data == 20 and rows == [f"C{i}" for i in range(5, 20)]  # the 15 longest, in table order
    figure = page.heat_figure(grid, centres, KPIS, "dark")
    assert figure["data"][0]["y"][0] == "Centre C5"
    assert figure["data"][0]["z"][0][page.HOURS.index(9)] == 5.0


def test_backlog_marks_the_selected_type_and_sorts_by_size():
    fig = page.backlog_figure(KPIS, "dark", "Graffiti")
    bar = fig["data"][0]
    assert bar["y"] == ["Noise complaint", "Graffiti", "Pothole"]  # plotly draws the last on top
    assert bar["marker"]["color"] == ["#5eb3ff", "#f59e0b", "#5eb3ff"]


def test_signature_changes_only_with_this_domains_data():
    a = {"services.people_waiting": {"as_of": "2026-11-16T16:00:00Z"}, "services.requests_open": {"as_of": None}}
    b = {"services.people_waiting": {"as_of": "2026-11-16T16:00:30Z"}, "services.requests_open": {"as_of": None}}
    assert page.services_signature(a) == page.services_signature(dict(a))
    assert page.services_signature(a) != page.services_signature(b)


def test_a_centre_outside_its_hours_says_closed_not_no_data(sample_city):
    closed = {**centre("A", None, 0), "open_now": False, "hours": "08:00-18:00"}
    silent = centre("B", None, None, reporting=False)
    data = page.map_data(sample_city, KPIS, [closed, silent], [])[page.CENTRES]
    assert data["marker.color"] == [page.STATUS_HEX["closed"], page.STATUS_HEX["no_data"]]
    assert data["text"] == ["Centre A: closed (hours 08:00-18:00)", "Centre B: no queue data now (queue system down)"]
    assert page.centre_badge(page.centre_status(closed, KPIS)).children == "CLOSED"


def test_a_centre_closed_by_its_hours_says_closed_even_when_its_queue_system_is_silent():
    # Queue systems are often off at night: outside its hours a silent configured centre is CLOSED
    # (what a citizen would find), not NO DATA (which says "system down"). Within its hours silence
    # is NO DATA; a learnt centre (no schedule) that is silent is NO DATA.
    kpis = {**KPIS, "services.wait_min": {**KPIS["services.wait_min"], "status": "ok"}}
    shut = {**centre("A", None, None, reporting=False), "open_now": False}
    assert page.centre_status(shut, kpis) == "closed"
    assert page.centre_status({**shut, "open_now": True}, kpis) == "no_data"
    assert page.centre_status({**shut, "hours": None}, kpis) == "no_data"


def test_when_every_centre_is_closed_the_table_says_when_the_next_opens(sample_city):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from feeds.service_centres import services_config

    ny = ZoneInfo("America/New_York")
    cfg = services_config(sample_city)
    # Saturday 02:48: C1 and C2 open at 09:00 today (Saturday hours), the offices on Monday 08:00.
    night = datetime(2026, 11, 21, 2, 48, tzinfo=ny)
    assert cfg.centres["C1"].next_opening(night) == datetime(2026, 11, 21, 9, 0, tzinfo=ny)
    assert cfg.centres["C3"].next_opening(night) == datetime(2026, 11, 23, 8, 0, tzinfo=ny)
    # Sunday noon: everyone opens Monday 08:00.
    assert cfg.centres["C2"].next_opening(datetime(2026, 11, 22, 12, 0, tzinfo=ny)) == datetime(2026, 11, 23, 8, 0, tzinfo=ny)
    rows = [{**centre("C1", None, 0), "open_now": False, "next_opens": datetime(2026, 11, 21, 9, 0, tzinfo=ny)},
            {**centre("C3", None, 0), "open_now": False, "next_opens": datetime(2026, 11, 23, 8, 0, tzinfo=ny)}]
    note = page.closed_note(rows)
    assert note[0].children == "All centres are closed now · next to open: Centre C1, Sat 09:00"
    assert page.closed_note([{**rows[0], "open_now": True}, rows[1]]) == []  # one open: no note
