"""``rediss://`` with a password and a private CA, end to end; and no secret in any log or page.

A private redis-server speaking TLS only (port 18601, certificates made here with openssl, ``requirepass``)
serves the app, the runner and the CLI through one REDIS_URL:

    rediss://:PASSWORD@127.0.0.1:18601/0?ssl_cert_reqs=required&ssl_ca_certs=/path/ca.pem

Then ``python app.py`` and ``python -m feeds simulate`` run against it with a SECRET_KEY, a user's
password, a kiosk token and an API token in play, and their logs and every page read are searched for
each secret.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests

from app import create_app
from feeds.config import ConfigError, Settings
from feeds.framework import Runner
from feeds.kpi.engine import KpiEngine
from feeds.redis_conn import connect, safe_url
from feeds.schema import Keys
from tests.auth_helpers import make_api_token, make_kiosk, make_user, signed_in
from tests.redis_servers import BINARY, has_tls, make_certs, tls_server, traffic_batch, wait_until
from tests.test_cli import feeds_cli

ROOT = Path(__file__).resolve().parent.parent
TLS_PORT, APP_PORT = 18601, 18602
PASSWORD = "tls-pw-" + secrets.token_hex(8)

# Locally a redis-server without TLS skips these with the reason; in CI (CI=true, .ci/run installs Debian's
# redis-server) they run and fail, so nothing passes by accident.
pytestmark = pytest.mark.skipif(not has_tls() and not os.environ.get("CI"),
                                reason=f"{BINARY} is built without TLS (apt-get install redis-server)")


def tls_url(port: int, ca: Path, password: str = PASSWORD) -> str:
    return f"rediss://:{password}@127.0.0.1:{port}/0?ssl_cert_reqs=required&ssl_ca_certs={ca}"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """(REDIS_URL of the TLS server, its certificates' folder)."""
    d = tmp_path_factory.mktemp("tls")
    certs = make_certs(d / "certs")
    with tls_server(d, TLS_PORT, PASSWORD, certs) as port:
        yield tls_url(port, certs.ca), d


@pytest.fixture
def tls_keys():
    return Keys(f"cbtest-{uuid.uuid4().hex[:12]}")  # the server is private and thrown away after the module


def test_rediss_with_a_password_and_a_private_ca(tls, tls_keys, sample_city):
    url, d = tls
    assert Settings.from_env({"REDIS_URL": url}).redis_url == url
    r = connect(url)
    assert r.ping() and r.connection_pool.connection_class.__name__ == "SSLConnection"
    # The certificate is checked: another CA's URL, a wrong password and plain TCP are all refused.
    other = make_certs(d / "other-ca")
    with pytest.raises(redis.ConnectionError):
        connect(tls_url(TLS_PORT, other.ca)).ping()
    with pytest.raises(redis.AuthenticationError):
        connect(tls_url(TLS_PORT, d / "certs" / "ca.pem", password="wrong-password")).ping()
    with pytest.raises(redis.ConnectionError):
        connect(f"redis://:{PASSWORD}@127.0.0.1:{TLS_PORT}/0").ping()
    # A runner batch, then the page, the API and /healthz, all through the TLS URL.
    runner = Runner(r, tls_keys, sample_city, KpiEngine(r, tls_keys, sample_city))
    res = traffic_batch(runner, sample_city, time.time())
    assert res.stored == len(sample_city.traffic.links)
    app = create_app(Settings(url, 8050, None, tls_keys.prefix, 5, None), sample_city)
    viewer = signed_in(app, r, tls_keys, "viewer")
    links = viewer.get("/api/v1/links").json["links"]
    assert sum(1 for link in links if link["speed_kmh"] is not None) == res.stored
    assert viewer.get("/traffic").status_code == 200
    health = app.server.test_client().get("/healthz")
    assert health.status_code == 200 and health.json["redis"] == "up"


def test_a_bad_rediss_url_names_the_server_never_the_password(tls):
    from feeds.cli import _connect

    url, _ = tls
    dead = url.replace(f":{TLS_PORT}/", ":18699/")
    with pytest.raises(ConfigError) as e:
        _connect(Settings(dead, 8050, None, "x", 5, None))
    assert "127.0.0.1:18699" in str(e.value) and PASSWORD not in str(e.value) and ":***@" in str(e.value)
    assert PASSWORD not in safe_url(url) and safe_url(url).startswith("rediss://:***@127.0.0.1:")


def test_no_secret_in_the_logs_or_pages_of_the_app_and_the_runner(tls, tls_keys, tmp_path):
    url, _ = tls
    r = connect(url)
    secret_key = secrets.token_hex(32)
    user_password = "user-pw-" + secrets.token_hex(8)
    user = make_user(r, tls_keys, "admin", password=user_password)
    kiosk = make_kiosk(r, tls_keys, "lobby")
    api = make_api_token(r, tls_keys, "viewer")
    runner = feeds_cli("simulate", "--ticks", "1", redis_url=url, keys=tls_keys, env_extra={"SECRET_KEY": secret_key})
    assert runner.returncode == 0, runner.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("CITY_CONFIG",)}
    env.update(REDIS_URL=url, KEY_PREFIX=tls_keys.prefix, SECRET_KEY=secret_key, PORT=str(APP_PORT))
    log = tmp_path / "app.log"
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log.open("wb"),
                           stderr=subprocess.STDOUT)
    seen = []
    try:
        base = f"http://127.0.0.1:{APP_PORT}"
        wait_until("python app.py answers", lambda: app.poll() is None and requests.get(f"{base}/healthz", timeout=2).ok,
                   timeout=30, step=0.2)
        assert app.poll() is None, log.read_text()[-2000:]
        browser = requests.Session()
        form = browser.get(f"{base}/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        bad = browser.post(f"{base}/login", data={"name": user, "password": user_password + "x", "csrf_token": csrf})
        assert bad.status_code == 401
        ok = browser.post(f"{base}/login", data={"name": user, "password": user_password, "csrf_token": csrf})
        assert ok.status_code == 200 and ok.url == f"{base}/"
        for path in ("/", "/admin", "/healthz", "/api/v1/feeds", "/api/v1/kpis", "/_dash-layout", "/api/v1/nothing"):
            res = browser.get(base + path)
            assert res.status_code in (200, 404), (path, res.status_code)
            seen.append(res.text)
        screen = requests.Session()
        seen.append(screen.get(f"{base}/wall?kiosk={kiosk}&views=overview").text)
        seen.append(screen.get(f"{base}/api/v1/feeds").text)
        seen.append(requests.get(f"{base}/api/v1/kpis", headers={"Authorization": f"Bearer {api}"}).text)
        assert screen.get(f"{base}/api/v1/feeds").status_code == 200  # the kiosk link signed the screen in
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(15)
    text = log.read_text()
    assert f"(Redis {safe_url(url)})" in text  # the start line names the Redis, masked
    assert "kiosk=[redacted]" in text  # the access log saw the kiosk link, redacted
    logs = runner.stdout + runner.stderr + text
    for what, value in (("Redis password", PASSWORD), ("SECRET_KEY", secret_key), ("user password", user_password),
                        ("kiosk token", kiosk), ("API token", api)):
        for where, body in [("logs", logs)] + [(f"page {i}", s) for i, s in enumerate(seen)]:
            assert value not in body, f"the {what} is in the {where}"
