"""Where the alert evaluator runs: after every KPI recompute, in the runner's and the simulator's loops
(so a silent feed alerts with no batch arriving), alone as ``python -m feeds alerts``; bad rules stop
the programs at start with one line."""
from __future__ import annotations

import json
import threading
import time


from feeds.adapters.road_incidents import RoadIncidentsAdapter
from feeds.alerts import AlertBook
from feeds.config import FeedSource
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from tests.conftest import SAMPLE_CITY as SAMPLE_CITY_PATH
from tests.test_cli import app_cli, feeds_cli
from tests.test_kpi_engine import NOW, city, seed

COVERAGE = {"id": "coverage", "kpi": "traffic.coverage_pct", "when": "breach", "severity": "major"}


def with_rules(base, rules, **section):
    return base.model_copy(update={"alerts": {"rules": rules, **section}})


def test_a_kpi_recompute_raises_the_alert_its_new_value_breaches(r, keys):
    c = with_rules(city(), [COVERAGE])
    seed(r, keys)  # three of four links report: coverage 75 % < 90 % warn edge: breach
    KpiEngine(r, keys, c).recompute(("traffic",), now=NOW)
    (a,) = AlertBook(r, keys).open_alerts()
    assert a["message"] == "Sensor coverage 75.0 % < target 95.0 % (BREACH)"
    assert (a["raised_at"], a["view"]) == (NOW, "/traffic")


def test_the_runner_loop_raises_a_feed_silence_alert_with_no_batch_arriving(r, keys, tmp_path):
    c = with_rules(city(), [{"id": "silent", "feed": "traffic", "no_data_s": 1, "severity": "major"}],
                   evaluate_every_s=0.2)
    r.sadd(keys.feeds(), "traffic")
    r.hset(keys.feed_health("traffic"), mapping={"interval_s": 10, "last_success": time.time() - 0.5})
    empty = tmp_path / "incidents.json"
    empty.write_text("[]")
    runner = Runner(r, keys, c, KpiEngine(r, keys, c))
    stop = threading.Event()
    quiet = RoadIncidentsAdapter(c, FeedSource(file=str(empty), interval_s=3600))  # one batch, then an hour of nothing
    thread = threading.Thread(target=runner.run_forever, args=([quiet], stop), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not AlertBook(r, keys).open_alerts() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(5)
    (a,) = AlertBook(r, keys).open_alerts()
    assert (a["feed"], a["rule"], a["severity"]) == ("traffic", "silent", "major")


def test_the_simulation_loop_runs_the_evaluator(r, keys):
    from feeds.simulate import run_simulation

    c = with_rules(city(), [{"id": "silent", "feed": "*", "no_data_s": 1, "severity": "minor"}],
                   evaluate_every_s=0.1)
    r.sadd(keys.feeds(), "elsewhere")
    r.hset(keys.feed_health("elsewhere"), mapping={"interval_s": 10, "last_success": time.time() - 60})
    runner = Runner(r, keys, c, KpiEngine(r, keys, c))
    run_simulation(runner, c, threading.Event(), ticks=1)
    assert [a["feed"] for a in AlertBook(r, keys).open_alerts()] == ["elsewhere"]


def test_feeds_alerts_once_evaluates_and_says_what_changed(r, keys, redis_url, tmp_path):
    raw = json.loads(SAMPLE_CITY_PATH.read_text())
    raw["alerts"] = {"rules": [{"id": "silent", "feed": "*", "no_data_s": 300, "severity": "major"}]}
    path = tmp_path / "city.json"
    path.write_text(json.dumps(raw))
    r.sadd(keys.feeds(), "traffic")
    r.hset(keys.feed_health("traffic"), mapping={"interval_s": 10, "last_success": time.time() - 900})
    out = feeds_cli("alerts", "--once", redis_url=redis_url, keys=keys, city=path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "alerts: 1 rules, 1 raised, 0 still open, 0 cleared, 0 escalated, 0 pending"
    assert AlertBook(r, keys).open_alerts()[0]["feed"] == "traffic"


def test_bad_alert_flags_and_rules_exit_2_with_one_line(redis_url, keys, tmp_path):
    out = feeds_cli("alerts", "--interval", "0", redis_url=redis_url, keys=keys)
    assert out.returncode == 2 and out.stderr.strip() == "error: --interval must be positive, got 0"
    out = feeds_cli("alerts", "--every", "3", redis_url=redis_url, keys=keys)
    assert out.returncode == 2 and out.stderr.strip().startswith("error: unrecognized arguments: --every")
    raw = json.loads(SAMPLE_CITY_PATH.read_text())
    raw["alerts"] = {"rules": [{"id": "aqi-typo", "kpi": "environment.aqi", "district": "D99", "severity": "major"}]}
    path = tmp_path / "city.json"
    path.write_text(json.dumps(raw))
    expected = "error: CITY_CONFIG alerts: rule 'aqi-typo': unknown district 'D99'; one of D1"
    for args in (("alerts", "--once"), ("simulate", "--ticks", "1"), ("run", "traffic", "--once")):
        out = feeds_cli(*args, redis_url=redis_url, keys=keys, city=path)
        assert out.returncode == 2 and out.stderr.strip().startswith(expected), (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1
    out = app_cli(env_extra={"CITY_CONFIG": str(path), "REDIS_URL": redis_url, "KEY_PREFIX": keys.prefix})
    assert out.returncode == 2 and out.stderr.strip().startswith(expected), out.stderr


def test_the_sample_citys_rules_are_valid():
    from feeds.alert_rules import parse_section
    from feeds.config import load_city

    section, rules = parse_section(load_city(SAMPLE_CITY_PATH))
    assert section.escalate_after_s == 600
    assert {r.id for r in rules} >= {"ems-turnout", "aqi-unhealthy", "feed-silent", "tti-district", "service-wait"}
