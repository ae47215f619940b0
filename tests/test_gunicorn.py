"""The Procfile's web process: gunicorn app:server with the project's config, warmed workers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from tests.auth_helpers import bearer, make_kiosk
from tests.test_browser import free_port

ROOT = Path(__file__).resolve().parent.parent


def get(url: str, body: bytes | None = None, headers: dict | None = None):
    headers = {**({"Content-Type": "application/json"} if body else {}), **(headers or {})}
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_gunicorn_serves_the_app_and_answers_concurrent_callbacks(r, redis_url, keys, tmp_path):
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "KEY_PREFIX": keys.prefix, "PORT": str(port), "HOST": "127.0.0.1",
           "WEB_CONCURRENCY": "2"}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    access_log = tmp_path / "access.log"
    proc = subprocess.Popen([str(gunicorn), "app:server", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                            stdout=access_log.open("wb"), stderr=subprocess.PIPE, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(base + "/healthz")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):  # bound, workers still booting
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "gunicorn did not answer in 30 s"
                time.sleep(0.2)
        assert status == 200 and orjson.loads(body)["redis"] == "up"
        # The first callbacks of fresh threaded workers, all at once (the warm-up's reason to exist).
        outputs = [("conn", "children"), ("conn", "className"), ("banner", "children"), ("banner", "className"),
                   ("last-ok", "data")]
        call = orjson.dumps({"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
                             "outputs": [{"id": i, "property": p} for i, p in outputs],
                             "inputs": [{"id": "tick", "property": "n_intervals", "value": 0}],
                             "changedPropIds": ["tick.n_intervals"],
                             "state": [{"id": "last-ok", "property": "data", "value": None}]})
        token = bearer(r, keys, "viewer")  # every worker shares the accounts (and the secret key) in Redis
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda _: get(base + "/_dash-update-component", call, token), range(32)))
        assert {status for status, _ in results} == {200}, results[:2]
        assert get(base + "/api/v1/kpis", headers=token)[0] == 200
        assert get(base + "/api/v1/kpis")[0] == 401
        kiosk = make_kiosk(r, keys)
        opener = urllib.request.build_opener(NoRedirect)
        with opener.open(f"{base}/wall?views=overview&kiosk={kiosk}", timeout=5) as res:
            assert res.status == 303 and res.headers["Location"] == "/wall?views=overview"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    log = access_log.read_text()
    assert "GET /wall?views=overview&kiosk=[redacted]" in log and kiosk not in log  # no token in the access log


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def http_error_303(self, req, fp, code, msg, headers):
        return fp


def gunicorn_config(**env) -> dict:
    """gunicorn.conf.py's settings as gunicorn reads them, with ``env`` set."""
    import runpy
    from unittest import mock

    with mock.patch.dict(os.environ, env):
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_idle_connections_outlive_the_refresh_tick():
    # A screen's connection is reused from one tick to the next, not closed just as the next tick is sent.
    for refresh in ("2", "5", "30"):
        config = gunicorn_config(REFRESH_S=refresh)
        assert config["keepalive"] > float(refresh), (refresh, config["keepalive"])
        assert config["keepalive"] <= 75
    assert gunicorn_config(REFRESH_S="not a number")["keepalive"] > 5  # the app itself refuses the value
    assert gunicorn_config(REFRESH_S="2")["worker_class"] == "gthread"
