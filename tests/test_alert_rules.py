"""Alert rules from CITY_CONFIG (and an admin) judged against the KPI values and feed health in Redis."""
from __future__ import annotations

import orjson
import pytest

from feeds.alert_rules import RuleBook, district_focus, evaluate, parse_section
from feeds.alerts import AlertBook
from feeds.config import ConfigError, parse_city

from tests.conftest import box

T0 = 1_700_000_000.0


def make_city(rules, **section):
    return parse_city({
        "name": "Testville", "timezone": "UTC", "center": [0.05, 0.05],
        "districts": [{"id": "D1", "name": "Old Town", "polygon": box(0.0, 0.0, 0.1, 0.1)},
                      {"id": "D2", "name": "Harbor", "polygon": box(0.1, 0.0, 0.3, 0.1)}],
        "alerts": {"rules": rules, **section},
    })


def put_kpi(r, keys, kpi_id, value, status, by_district=None, as_of=T0, fresh_s=600):
    """A KPI value as the engine stores it (feeds.kpi.engine)."""
    stored = {"id": kpi_id, "value": value, "as_of": as_of, "computed_at": as_of, "fresh_until": as_of + fresh_s,
              "status": status, "by_district": {d: {"value": v, "status": s} for d, (v, s) in
                                                (by_district or {}).items()}}
    r.hset(keys.kpi_values(), kpi_id, orjson.dumps(stored))


def put_feed(r, keys, name, last_success=None, title="", last_error=""):
    r.sadd(keys.feeds(), name)
    fields = {"domain": "traffic", "title": title or name, "interval_s": 10, "last_attempt": last_success or T0,
              "last_error": last_error}
    if last_success is not None:
        fields["last_success"] = last_success
    r.hset(keys.feed_health(name), mapping=fields)


TURNOUT = {"id": "ems-turnout", "kpi": "emergency.turnout_p90_s", "when": "breach", "severity": "major"}


def test_a_city_wide_breach_raises_one_alert_in_the_citys_words_and_clears_when_back_on_target(r, keys):
    city = make_city([TURNOUT])
    put_kpi(r, keys, "emergency.turnout_p90_s", 95, "breach")  # target 60 s, warn edge 80 s
    s = evaluate(r, keys, city, now=T0 + 5)
    assert (s["raised"], s["cleared"]) == (1, 0)
    (a,) = AlertBook(r, keys).open_alerts()
    assert a["title"] == "Turnout (90th)"
    assert a["message"] == "Turnout (90th) 95 s > target 60 s (BREACH)"
    assert (a["severity"], a["view"], a["focus"], a["kpi"], a["district"], a["value"]) == (
        "major", "/emergency", None, "emergency.turnout_p90_s", None, 95)
    # Still breaching: the same alert, updated; warn (75 s) is not a breach: it clears.
    assert evaluate(r, keys, city, now=T0 + 10)["updated"] == 1
    put_kpi(r, keys, "emergency.turnout_p90_s", 75, "warn", as_of=T0 + 20)
    assert evaluate(r, keys, city, now=T0 + 25)["cleared"] == 1
    assert AlertBook(r, keys).open_alerts() == []
    (gone,) = AlertBook(r, keys).cleared_alerts()
    assert gone["id"] == a["id"] and gone["cleared_by"] == "system" and gone["acknowledged"] is False


def test_warn_means_warn_or_worse(r, keys):
    city = make_city([{**TURNOUT, "when": "warn"}])
    put_kpi(r, keys, "emergency.turnout_p90_s", 75, "warn")
    assert evaluate(r, keys, city, now=T0)["raised"] == 1
    put_kpi(r, keys, "emergency.turnout_p90_s", 95, "breach")
    assert evaluate(r, keys, city, now=T0 + 1)["updated"] == 1
    put_kpi(r, keys, "emergency.turnout_p90_s", 55, "ok")
    assert evaluate(r, keys, city, now=T0 + 2)["cleared"] == 1


def test_a_threshold_over_every_district_raises_one_alert_per_district_with_its_page_and_map_focus(r, keys):
    city = make_city([{"id": "aqi", "kpi": "environment.aqi", "district": "*", "when": {"op": ">", "value": 150},
                       "severity": "critical", "title": "Unhealthy air"}])
    put_kpi(r, keys, "environment.aqi", 162, "breach", {"D1": (162, "breach"), "D2": (150, "breach")})
    s = evaluate(r, keys, city, now=T0)
    (a,) = AlertBook(r, keys).open_alerts()  # 150 is not > 150
    assert s["raised"] == 1
    assert (a["scope"], a["district"], a["view"]) == ("D1", "D1", "/district/D1")
    assert a["title"] == "Unhealthy air in Old Town"
    assert a["message"] == "Air quality index 162 > limit 150 in Old Town"
    assert a["focus"] == {"lat": 0.05, "lon": 0.05, "zoom": 13}  # the centroid of D1's square
    put_kpi(r, keys, "environment.aqi", 170, "breach", {"D1": (120, "breach"), "D2": (170, "breach")})
    s = evaluate(r, keys, city, now=T0 + 60)
    assert (s["raised"], s["cleared"]) == (1, 1)
    (b,) = AlertBook(r, keys).open_alerts()
    assert b["district"] == "D2" and b["focus"] == {"lat": 0.05, "lon": 0.2, "zoom": 13}


@pytest.mark.parametrize("op,value,fires", [(">", 20, True), (">", 21, False), (">=", 21, False), (">=", 20.5, True),
                                            ("<", 21, True), ("<", 20.5, False), ("<=", 20.5, True)])
def test_threshold_operators(r, keys, op, value, fires):
    city = make_city([{"id": "wait", "kpi": "services.wait_min", "when": {"op": op, "value": value},
                       "severity": "warning"}])
    put_kpi(r, keys, "services.wait_min", 20.5, "breach")
    assert evaluate(r, keys, city, now=T0)["raised"] == (1 if fires else 0)


def test_one_district_rule_watches_only_that_district(r, keys):
    city = make_city([{"id": "tti", "kpi": "traffic.travel_time_index", "district": "D2", "when": "breach",
                       "severity": "minor"}])
    put_kpi(r, keys, "traffic.travel_time_index", 1.3, "warn", {"D1": (1.9, "breach"), "D2": (1.1, "ok")})
    assert evaluate(r, keys, city, now=T0)["raised"] == 0
    put_kpi(r, keys, "traffic.travel_time_index", 1.3, "warn", {"D1": (1.9, "breach"), "D2": (1.62, "breach")})
    evaluate(r, keys, city, now=T0 + 1)
    (a,) = AlertBook(r, keys).open_alerts()
    assert a["message"] == "Travel time index 1.62 > target 1.20 in Harbor (BREACH)"


def test_for_s_waits_until_the_condition_has_held_that_long(r, keys):
    city = make_city([{**TURNOUT, "for_s": 120}])
    put_kpi(r, keys, "emergency.turnout_p90_s", 95, "breach", fresh_s=3600)
    s = evaluate(r, keys, city, now=T0)
    assert (s["raised"], s["pending"]) == (0, 1)
    assert evaluate(r, keys, city, now=T0 + 119)["raised"] == 0
    assert evaluate(r, keys, city, now=T0 + 120)["raised"] == 1
    (a,) = AlertBook(r, keys).open_alerts()
    assert a["raised_at"] == T0 + 120


def test_a_breach_that_ends_before_for_s_never_raises_and_starts_again_from_zero(r, keys):
    city = make_city([{**TURNOUT, "for_s": 120}])
    put_kpi(r, keys, "emergency.turnout_p90_s", 95, "breach", fresh_s=3600)
    evaluate(r, keys, city, now=T0)
    put_kpi(r, keys, "emergency.turnout_p90_s", 50, "ok", fresh_s=3600)
    evaluate(r, keys, city, now=T0 + 60)
    put_kpi(r, keys, "emergency.turnout_p90_s", 95, "breach", fresh_s=3600)
    assert evaluate(r, keys, city, now=T0 + 130)["raised"] == 0  # held only since T0 + 130
    assert evaluate(r, keys, city, now=T0 + 250)["raised"] == 1


def test_a_stale_or_missing_kpi_neither_raises_nor_clears(r, keys):
    city = make_city([TURNOUT])
    put_kpi(r, keys, "emergency.turnout_p90_s", 95, "breach", fresh_s=60)
    assert evaluate(r, keys, city, now=T0 + 61)["raised"] == 0  # stale: unknown
    assert evaluate(r, keys, city, now=T0 + 30)["raised"] == 1
    put_kpi(r, keys, "emergency.turnout_p90_s", 40, "ok", fresh_s=60)  # ok, but stale by the time we look
    assert evaluate(r, keys, city, now=T0 + 100)["cleared"] == 0
    r.hdel(keys.kpi_values(), "emergency.turnout_p90_s")  # no data at all
    assert evaluate(r, keys, city, now=T0 + 101)["cleared"] == 0
    assert len(AlertBook(r, keys).open_alerts()) == 1


FEED_RULE = {"id": "silent", "feed": "*", "no_data_s": 300, "severity": "major"}


def test_a_feed_silent_for_no_data_s_raises_and_clears_when_data_returns(r, keys):
    city = make_city([FEED_RULE])
    put_feed(r, keys, "traffic", last_success=T0, title="NYC DOT speeds")
    put_feed(r, keys, "transit", last_success=T0 + 200)
    assert evaluate(r, keys, city, now=T0 + 299)["raised"] == 0
    s = evaluate(r, keys, city, now=T0 + 300)
    assert s["raised"] == 1
    (a,) = AlertBook(r, keys).open_alerts()
    assert (a["feed"], a["view"], a["focus"], a["kpi"], a["district"]) == ("traffic", "/", None, None, None)
    assert a["title"] == "Feed traffic silent"
    assert a["message"] == "No data from NYC DOT speeds for over 300 s (last success 22:13:20)"
    # The alert's text does not change while the silence goes on (no needless repaint on every screen).
    before = AlertBook(r, keys).version()
    evaluate(r, keys, city, now=T0 + 360)
    assert AlertBook(r, keys).version() == before
    put_feed(r, keys, "traffic", last_success=T0 + 400)
    assert evaluate(r, keys, city, now=T0 + 401)["cleared"] == 1
    assert AlertBook(r, keys).open_alerts() == []


def test_a_feed_that_never_succeeded_is_silent_from_when_it_was_first_seen(r, keys):
    city = make_city([{**FEED_RULE, "feed": "traffic", "no_data_s": 60}])
    put_feed(r, keys, "traffic", last_success=None, last_error="ConnectionRefusedError: refused")
    assert evaluate(r, keys, city, now=T0)["raised"] == 0
    assert evaluate(r, keys, city, now=T0 + 60)["raised"] == 1
    (a,) = AlertBook(r, keys).open_alerts()
    assert "no success yet; last error: ConnectionRefusedError: refused" in a["message"]


def test_a_feed_that_has_never_run_here_is_not_judged(r, keys):
    city = make_city([{**FEED_RULE, "feed": "transit"}])
    assert evaluate(r, keys, city, now=T0 + 10_000)["raised"] == 0


def test_an_unacknowledged_alert_escalates_every_period_of_its_rule(r, keys):
    city = make_city([{**TURNOUT, "severity": "minor"}, {**FEED_RULE, "escalate_after_s": 0}],
                     escalate_after_s=300)
    put_kpi(r, keys, "emergency.turnout_p90_s", 95, "breach", fresh_s=10_000)
    put_feed(r, keys, "traffic", last_success=T0 - 1000)
    evaluate(r, keys, city, now=T0)
    book = AlertBook(r, keys)
    turnout = next(a for a in book.open_alerts() if a["rule"] == "ems-turnout")
    assert evaluate(r, keys, city, now=T0 + 299)["escalated"] == 0
    assert evaluate(r, keys, city, now=T0 + 300)["escalated"] == 1  # the section's 300 s; the feed rule never
    assert book.get(turnout["id"])["severity"] == "major"
    assert evaluate(r, keys, city, now=T0 + 600)["escalated"] == 1
    assert book.get(turnout["id"])["severity"] == "critical"
    book.acknowledge(turnout["id"], "ana", now=T0 + 601)
    assert evaluate(r, keys, city, now=T0 + 5000)["escalated"] == 0


def test_an_admins_runtime_rule_is_merged_and_disabling_a_rule_clears_its_alerts(r, keys):
    city = make_city([TURNOUT])
    rules = RuleBook(r, keys, city)
    put_kpi(r, keys, "services.wait_min", 31, "breach")
    rules.add({"id": "long-wait", "kpi": "services.wait_min", "when": {"op": ">", "value": 30},
               "severity": "warning"}, by="root", now=T0)
    assert [(e["rule"].id, e["source"], e["enabled"]) for e in rules.all()] == [
        ("ems-turnout", "config", True), ("long-wait", "runtime", True)]
    assert evaluate(r, keys, city, now=T0 + 1)["raised"] == 1
    rules.set_enabled("long-wait", False, by="root", now=T0 + 2)
    assert evaluate(r, keys, city, now=T0 + 3)["cleared"] == 1
    (gone,) = AlertBook(r, keys).cleared_alerts()
    assert gone["rule"] == "long-wait"
    rules.set_enabled("long-wait", True, by="root", now=T0 + 4)
    rules.delete("long-wait", by="root", now=T0 + 5)
    assert [(e["rule"], e["action"], e["by"], e["at"]) for e in reversed(rules.audit())] == [
        ("long-wait", "added", "root", T0), ("long-wait", "disabled", "root", T0 + 2),
        ("long-wait", "enabled", "root", T0 + 4), ("long-wait", "deleted", "root", T0 + 5)]
    with pytest.raises(ConfigError, match="rule 'ems-turnout': a rule with this id exists"):
        rules.add(TURNOUT, by="root")
    with pytest.raises(ConfigError, match="not a runtime rule"):
        rules.delete("ems-turnout", by="root")


@pytest.mark.parametrize("rule,message", [
    ({"id": "x", "kpi": "env.aqi", "severity": "major"}, "rule 'x': unknown KPI 'env.aqi'"),
    ({"id": "x", "kpi": "environment.aqi", "district": "D9", "severity": "major"}, "rule 'x': unknown district 'D9'"),
    ({"id": "x", "kpi": "environment.aqi", "severity": "urgent"}, "rule 'x': severity: Input should be"),
    ({"id": "x", "kpi": "environment.aqi", "severity": "major", "when": {"op": "=", "value": 1}}, "rule 'x': when"),
    ({"id": "x", "kpi": "traffic.open_incidents", "severity": "major"}, "informational (no target)"),
    ({"id": "x", "feed": "buses", "no_data_s": 60, "severity": "major"}, "rule 'x': unknown feed 'buses'"),
    ({"id": "x", "feed": "traffic", "no_data_s": 0, "severity": "major"}, "rule 'x': no_data_s: Input should be"),
    ({"kpi": "environment.aqi", "severity": "major"}, "rule #1: id: Field required"),
    ({"id": "x", "kpi": "environment.aqi", "severity": "major", "for": 60}, "rule 'x': for: Extra inputs"),
])
def test_a_bad_rule_is_one_line_naming_it(rule, message):
    with pytest.raises(ConfigError) as e:
        parse_section(make_city([rule]))
    assert message in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith("CITY_CONFIG alerts: ")


def test_a_duplicate_rule_id_is_refused():
    with pytest.raises(ConfigError, match="rule 'ems-turnout': the id is used twice"):
        parse_section(make_city([TURNOUT, TURNOUT]))


def test_the_kpi_engine_refuses_a_city_with_a_bad_rule_at_start(r, keys):
    from feeds.kpi.engine import KpiEngine

    with pytest.raises(ConfigError, match="unknown KPI"):
        KpiEngine(r, keys, make_city([{"id": "x", "kpi": "nope", "severity": "major"}]))


def test_district_focus_is_the_polygon_centroid():
    city = make_city([])
    assert district_focus(city, "D2") == {"lat": 0.05, "lon": 0.2, "zoom": 13}
    assert district_focus(city, "D7") is None
