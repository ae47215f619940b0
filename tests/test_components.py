"""The KPI card says its status in colour and in words, and says how old it is."""
from __future__ import annotations

from urllib.parse import unquote

from dashboard.components import format_age, kpi_card, sparkline_svg


def texts(component) -> list[str]:
    out = []
    children = getattr(component, "children", None)
    if isinstance(children, str):
        out.append(children)
    elif isinstance(children, list):
        for c in children:
            out.extend(texts(c) if not isinstance(c, str) else [c])
    elif children is not None:
        out.extend(texts(children))
    return out


KPI = {"id": "traffic.travel_time_index", "name": "Travel time index", "value": 1.234, "unit": "", "target": 1.2,
       "direction": "lower", "status": "stale", "age_s": 4000, "decimals": 2, "definition": "TTI",
       "clock": "", "standard": "FHWA"}


def test_a_stale_card_is_styled_and_labelled_stale_with_its_age():
    card = kpi_card(KPI)
    assert "status-stale" in card.className
    words = texts(card)
    assert "STALE" in words and "1.23" in words and "target ≤ 1.20" in words
    assert "as of 67 min ago" in words


def test_a_district_card_shows_the_district_value_and_status():
    card = kpi_card({**KPI, "status": "ok"}, value=1.9, status="breach")
    assert "status-breach" in card.className and "1.90" in texts(card) and "BREACH" in texts(card)
    no_data = kpi_card({**KPI, "status": "ok"}, value=None, status="no_data")
    assert "—" in texts(no_data) and "NO DATA" in texts(no_data)


def test_ages_read_naturally():
    assert [format_age(x) for x in (None, 12, 600, 7200, 3 * 86400)] == [
        "no data yet", "12 s ago", "10 min ago", "2.0 h ago", "3 days ago"]


def test_sparkline_scales_the_trend_into_the_box():
    svg = unquote(sparkline_svg([1.0, 2.0, 3.0], "#22c55e", width=100, height=36))
    assert 'points="0.0,33.0 50.0,18.0 100.0,3.0"' in svg  # lowest at the bottom (36 - 3), highest at the top (3)
    assert sparkline_svg([1.0], "#fff") == ""  # one point is not a trend


def test_a_kpi_without_a_target_says_info_not_ok():
    # traffic.open_incidents is informational (kpis.md: no target): fresh data must not read as a green OK,
    # while stale and no-data states still show as such.
    base = {"id": "traffic.open_incidents", "name": "Road incidents", "value": 2, "unit": "", "target": None,
            "direction": "none", "status": "ok", "decimals": 0, "age_s": 5, "as_of": "2026-11-21T08:00:00Z",
            "definition": "open road incidents"}
    card = kpi_card(base)
    assert "status-info" in card.className and "status-ok" not in card.className
    assert "INFO" in str(card) and "'OK'" not in str(card)
    assert "status-stale" in kpi_card({**base, "status": "stale"}).className
