"""The feed runner CLI contract: python -m feeds list | run | simulate (architecture.md)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import NYC_SNAPSHOT

ROOT = Path(__file__).resolve().parent.parent


def feeds_cli(*args, env_extra=None, redis_url=None, keys=None, city=None):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KEY_PREFIX", "CITY_CONFIG")}
    if redis_url:
        env["REDIS_URL"] = redis_url
    if keys:
        env["KEY_PREFIX"] = keys.prefix
    if city:
        env["CITY_CONFIG"] = str(city)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "feeds", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_list_names_every_adapter():
    out = feeds_cli("list")
    assert out.returncode == 0
    names = [line.split()[0] for line in out.stdout.splitlines()]
    from feeds.adapters import ADAPTERS

    assert names[:2] == ["traffic", "road-incidents"] and names == list(ADAPTERS)


@pytest.mark.parametrize("args, message", [
    (["run", "traffic", "--bogus"], "unrecognized arguments: --bogus"),
    (["run", "nowhere", "--once"], "unknown feed 'nowhere'"),
    (["run", "traffic", "--once"], "traffic: no source: give --url or --file"),
    (["run", "traffic", "road-incidents", "--file", "x.json"], "--url/--file name the source of one feed"),
    (["run", "traffic", "--interval", "-5", "--file", "x"], "--interval must be positive"),
    (["run", "traffic", "--interval", "often"], "argument --interval: invalid float value"),
    (["run", "traffic", "--file", "x", "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["launch"], "invalid choice: 'launch'"),
])
def test_bad_flags_exit_2_with_one_clear_line(args, message, redis_url):
    out = feeds_cli(*args, redis_url=redis_url)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and message in lines[0]


def test_bad_city_config_exits_2_with_one_line(tmp_path, redis_url):
    bad = tmp_path / "city.json"
    bad.write_text(json.dumps({"name": "x", "center": [0, 0], "districts": [
        {"id": "D1", "name": "One", "polygon": [[0, 0], [1, 0], [1, 1]]}],
        "traffic": {"links": [{"id": "1", "points": [[0, 0], [0, 1]], "free_flow_kmh": -3}]}}))
    out = feeds_cli("run", "traffic", "--once", "--file", str(NYC_SNAPSHOT), redis_url=redis_url, city=bad)
    assert out.returncode == 2
    assert out.stderr.strip() == (f"error: CITY_CONFIG {bad}: traffic.links.0.free_flow_kmh: "
                                  "Input should be greater than 0")
    (tmp_path / "broken.json").write_text("{not json")
    out = feeds_cli("list", city=tmp_path / "broken.json")
    assert out.returncode == 0  # list needs no configuration
    out = feeds_cli("simulate", "--ticks", "1", redis_url=redis_url, city=tmp_path / "broken.json")
    assert out.returncode == 2 and "not valid JSON" in out.stderr


def test_unreachable_redis_and_missing_redis_url_are_one_line(tmp_path):
    out = feeds_cli("run", "traffic", "--once", "--file", str(NYC_SNAPSHOT),
                    redis_url="redis://ops:s3cret@127.0.0.1:1/0")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "cannot reach Redis at redis://ops:***@127.0.0.1:1/0" in out.stderr
    assert "s3cret" not in out.stderr
    out = feeds_cli("run", "traffic", "--once", "--file", str(NYC_SNAPSHOT))
    assert out.returncode == 2 and "REDIS_URL is not set" in out.stderr
    out = feeds_cli("run", "traffic", "--once", "--file", str(NYC_SNAPSHOT), redis_url="http://x")
    assert out.returncode == 2 and "REDIS_URL must start with redis://" in out.stderr


def test_run_once_leaves_every_dependent_kpi_up_to_date(tmp_path, r, keys, redis_url, nyc_city):
    city = tmp_path / "nyc.json"
    city.write_text(nyc_city.model_dump_json())
    out = feeds_cli("run", "traffic", "--once", "--file", str(NYC_SNAPSHOT), redis_url=redis_url, keys=keys, city=city)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("traffic: 153 records, 92 stored, 0 rejected")
    values = {k: orjson.loads(v) for k, v in r.hgetall(keys.kpi_values()).items()}
    assert values["traffic.travel_time_index"]["value"] == pytest.approx(4.1687, abs=1e-4)  # see test_traffic_kpis
    assert "city.score" in values


def test_a_missing_file_fails_with_one_line(redis_url, keys):
    out = feeds_cli("run", "traffic", "--once", "--file", "/nonexistent/speeds.json", redis_url=redis_url, keys=keys)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: traffic: cannot read --file /nonexistent/speeds.json: No such file or directory"


def test_simulate_runs_the_city_through_the_real_adapters(r, keys, redis_url):
    out = feeds_cli("simulate", "--ticks", "1", redis_url=redis_url, keys=keys)
    assert out.returncode == 0, out.stderr
    assert r.hlen(keys.link_latest()) > 200  # 238 links, ~2 % "no data", ~0.1 % garbled
    assert int(r.hget(keys.feed_health("traffic"), "records")) == r.hlen(keys.link_latest())
    assert r.hexists(keys.kpi_values(), "traffic.travel_time_index")


def app_cli(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KEY_PREFIX", "CITY_CONFIG", "PORT")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args, env, message", [
    (["--bogus"], {}, "error: unrecognized arguments: --bogus (see python app.py --help)"),
    ([], {"PORT": "eighty"}, "error: PORT must be a number, got 'eighty'"),
    ([], {"CITY_CONFIG": "/nonexistent/city.json"}, "error: CITY_CONFIG: no such file /nonexistent/city.json"),
])
def test_app_bad_flag_or_config_exits_2_with_one_line(args, env, message):
    out = app_cli(*args, env_extra=env)
    assert out.returncode == 2
    assert out.stderr.strip() == message


def test_python_app_py_runs_embedded_redis_and_the_simulation_and_stops_them(tmp_path):
    import signal
    import time
    import urllib.error
    import urllib.request

    from tests.test_browser import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KEY_PREFIX", "CITY_CONFIG")}
    env.update(PORT=str(port), TMPDIR=str(tmp_path))
    log = tmp_path / "app.log"
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=log.open("wb"))
    try:
        deadline = time.monotonic() + 30
        feeds, token = [], None
        while time.monotonic() < deadline and not feeds:
            time.sleep(0.3)
            assert proc.poll() is None, log.read_text()[-2000:]
            # The demo's accounts and wall link are printed once; the wall's kiosk token reads the API.
            found = re.search(rf"http://127\.0\.0\.1:{port}/wall\?kiosk=(\S+)", log.read_text())
            if not found:
                continue
            token = found.group(1)
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/feeds",
                                             headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(request, timeout=2) as res:
                    feeds = [f for f in orjson.loads(res.read())["feeds"] if f["name"] == "traffic" and f["records"]]
            except OSError:
                pass
        assert feeds, "the simulated city did not reach the API in 30 s"
        text = log.read_text()
        assert all(re.search(rf"  {role} +password \S{{10,}}", text) for role in ("admin", "coordinator", "viewer"))
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/feeds", timeout=2)
            raise AssertionError("the API answered without a token")
        except urllib.error.HTTPError as e:
            assert e.code == 401
        servers = list(tmp_path.glob("citybrain-redis-*/redis.sock"))
        assert len(servers) == 1  # the embedded Redis, on its private socket
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 128 + signal.SIGTERM
    assert list(tmp_path.glob("citybrain-redis-*")) == []  # stopped, and its folder removed
