"""Redis Sentinel through REDIS_URL, and the app and the runner surviving their master's death.

``redis+sentinel://[:password@]host:port[,host:port...]/service[/db]`` names the sentinels and the
service; every client (web app, runner, simulator, CLI) asks the sentinels for the current master and
asks again when it stops answering. The failover test runs a master, a replica and three sentinels on
loopback ports 18610-18617 (tests.redis_servers.SentinelSet), kills the master with SIGKILL and
checks that the API, /healthz and the runner carry on against the promoted replica within a bound,
with nothing written before the failure lost. The longer scenario with figures is bench/failover.py.
"""
from __future__ import annotations

import time
import uuid

import pytest

from app import create_app
from feeds.config import ConfigError, Settings
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import BadRedisUrl, connect, safe_url, sentinel_parts
from feeds.schema import Keys
from tests.auth_helpers import signed_in
from tests.test_access import generic_body, server_callbacks
from tests.test_cli import feeds_cli
from tests.redis_servers import SentinelSet, traffic_batch, wait_until

PASSWORD = "sentinel-pw-" + uuid.uuid4().hex[:8]
FAILOVER_BOUND_S = 15  # sentinels judge the master down after 0.5 s; the election and promotion follow


def test_a_sentinel_url_is_parsed_and_checked_at_start():
    parts = sentinel_parts("redis+sentinel://:p%40ss@10.0.0.1:26379,10.0.0.2:26380/ops/3?sentinel_password=s")
    assert parts == {"sentinels": [("10.0.0.1", 26379), ("10.0.0.2", 26380)], "service": "ops", "db": 3,
                     "username": None, "password": "p@ss", "sentinel_password": "s"}
    assert sentinel_parts("redis+sentinel://h:1/ops")["db"] == 0
    url = "redis+sentinel://:p@h:1,h:2/ops"
    assert Settings.from_env({"REDIS_URL": url}).redis_url == url
    for bad, message in (("redis+sentinel://:secret@h:1", "a Sentinel URL is redis+sentinel://"),
                         ("redis+sentinel://:secret@h:port/ops", "Sentinel address 'h:port' must be host:port"),
                         ("redis+sentinel://:secret@h:1/ops?ssl=1", "unknown Sentinel URL option 'ssl'"),
                         ("sentinel://:secret@h:1/ops", "REDIS_URL must start with redis://")):
        with pytest.raises(ConfigError) as e:
            Settings.from_env({"REDIS_URL": bad})
        assert message in str(e.value) and "secret" not in str(e.value), str(e.value)
    with pytest.raises(BadRedisUrl):
        connect("redis+sentinel://nohost/ops")
    assert safe_url("redis+sentinel://:secret@h:1,h:2/ops?sentinel_password=other") == \
        "redis+sentinel://:***@h:1,h:2/ops?sentinel_password=***"


@pytest.mark.parametrize("url, shown", [
    ("redis://:hunter2@h:6379/0", "redis://:***@h:6379/0"),
    ("rediss://ops:hunter2@h/0?ssl_ca_certs=/etc/ca.pem", "rediss://ops:***@h/0?ssl_ca_certs=/etc/ca.pem"),
    ("unix://:hunter2@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
    ("redis://h/0?password=hunter2", "redis://h/0?password=***"),
    ("redis://u:p@ss:hunter2@h/0", "redis://u:***@h/0"),  # an unescaped @ in the password
    ("unix:///run/a@b/redis.sock", "unix:///run/a@b/redis.sock"),  # an @ in a path is not a password
    ("redis://h:6379/0", "redis://h:6379/0"),
])
def test_safe_url_masks_the_password_of_every_form(url, shown):
    assert safe_url(url) == shown


def test_the_app_and_the_runner_survive_the_master_stopping(tmp_path, sample_city):
    with SentinelSet(tmp_path, 18610, PASSWORD) as sentinels:
        url = sentinels.url
        r = connect(url)
        keys = Keys(f"cbtest-{uuid.uuid4().hex[:12]}")  # a private server, thrown away after the test
        runner = Runner(r, keys, sample_city, KpiEngine(r, keys, sample_city))
        n_links = len(sample_city.traffic.links)
        before = traffic_batch(runner, sample_city, time.time() - 60)
        assert before.stored == n_links
        app = create_app(Settings(url, 8050, None, keys.prefix, 5, None), sample_city)
        viewer = signed_in(app, r, keys, "viewer")
        assert viewer.get("/api/v1/links").status_code == 200
        assert r.wait(1, 2000) == 1  # the replica has every write so far

        old = sentinels.kill_master()
        killed = time.monotonic()
        statuses = []

        def reads_again():
            for path in ("/healthz", "/api/v1/links"):
                statuses.append(viewer.get(path).status_code)
            return statuses[-2:] == [200, 200]

        wait_until("the app reads again", reads_again, timeout=FAILOVER_BOUND_S, step=0.1)
        read_after = time.monotonic() - killed
        after = wait_until("the runner writes again",
                           lambda: traffic_batch(runner, sample_city, time.time()), timeout=FAILOVER_BOUND_S)
        write_after = time.monotonic() - killed
        assert sentinels.master_port() not in (old, -1)
        assert set(statuses) <= {200, 503}, statuses  # unavailable for a moment at worst, never an error
        assert read_after < FAILOVER_BOUND_S and write_after < FAILOVER_BOUND_S
        # Nothing acknowledged before the failure is lost, and the new batch is what the API shows.
        assert after.stored == n_links
        links = viewer.get("/api/v1/links").json["links"]
        assert len([link for link in links if link["speed_kmh"] is not None]) == n_links
        assert int(r.hget(keys.feed_health("traffic"), "records")) == 2 * n_links
        assert viewer.get("/traffic").status_code == 200
        refresh = viewer.post("/_dash-update-component",
                              json=generic_body(*server_callbacks(app)["callbacks.traffic.refresh <- tick"]))
        assert refresh.status_code == 200 and "traffic-cards" in refresh.get_data(as_text=True)
        # A new process (the feed CLI) finds the new master through the same URL.
        # (Its batch may fall in the same second as the last one, so its readings can count as repeats:
        # the proof is its poll recorded on the new master, stored or not.)
        cli_started = time.time()
        out = feeds_cli("simulate", "--ticks", "1", redis_url=url, keys=keys)
        assert out.returncode == 0, out.stderr[-2000:]
        health = r.hgetall(keys.feed_health("traffic"))
        assert float(health["last_attempt"]) >= cli_started - 1
        assert int(health["records"]) + int(health["duplicates"]) > 2 * n_links
