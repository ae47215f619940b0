"""python -m feeds run services | requests: the real files end to end, bad flags exit 2 with one line,
and the Open311 endpoint paged by start_date / end_date over real HTTP."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from feeds.adapters.open311 import Open311Adapter
from feeds.config import FeedSource
from feeds.timeparse import iso_to_epoch
from tests.test_cli import feeds_cli
from tests.test_services_adapters import BLOOMINGTON, SF_XML, WARSAW


def test_run_services_warsaw_file_once(redis_url, keys, r):
    out = feeds_cli("run", "services", "--file", str(WARSAW), "--format", "warsaw", "--tz", "Europe/Warsaw", "--once",
                    redis_url=redis_url, keys=keys)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("services: 972 records, 972 stored, 0 rejected")
    assert r.hlen(keys.queue_latest()) == 27
    assert orjson.loads(r.hget(keys.kpi_values(), "services.people_waiting"))["value"] == 63  # see test_services_kpis


def test_run_requests_xml_file_once(redis_url, keys, r):
    out = feeds_cli("run", "requests", "--file", str(SF_XML), "--tz", "America/Los_Angeles", "--once",
                    redis_url=redis_url, keys=keys)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("requests: 56 records, 56 stored, 0 rejected")
    assert orjson.loads(r.hget(keys.kpi_values(), "services.requests_open"))["value"] == 52


@pytest.mark.parametrize("args, message", [
    (["run", "services", "--file", str(WARSAW), "--format", "qmatic", "--once"],
     "error: services: unknown format 'qmatic'; one of warsaw, queue-monitor, queue-events"),
    (["run", "requests", "--url", "http://x/open311/v2", "--lookback-days", "400", "--once"],
     "error: requests: --lookback-days must be a number of days in (0, 90], got '400'"),
    (["run", "requests", "--file", str(BLOOMINGTON), "--centre", "C1", "--once"],
     "error: --centre is not an option of feed 'requests'"),
    (["run", "services", "--once"],
     "error: services: no source: give --url or --file, or set feeds.services.url in CITY_CONFIG"),
])
def test_bad_flags_exit_2_with_one_line(args, message, redis_url, keys):
    out = feeds_cli(*args, redis_url=redis_url, keys=keys)
    assert out.returncode == 2
    assert out.stderr.strip() == message


class Open311Endpoint(BaseHTTPRequestHandler):
    """A GeoReport v2 endpoint that returns at most PAGE requests per call, newest first."""
    PAGE = 3
    calls: list[dict] = []
    rows: list[dict] = []

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        type(self).calls.append({"path": parts.path, **query})
        if "service_request_id" in query:  # the spec: other parameters are then ignored
            wanted = query["service_request_id"].split(",")
            hits = [row for row in self.rows if str(row["service_request_id"]) in wanted]
        else:
            start, end = iso_to_epoch(query["start_date"], "UTC"), iso_to_epoch(query["end_date"], "UTC")
            hits = [row for row in self.rows if start <= iso_to_epoch(row["requested_datetime"], "UTC") <= end]
        hits.sort(key=lambda row: row["requested_datetime"], reverse=True)
        body = orjson.dumps(hits[:self.PAGE])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_endpoint_is_paged_backwards_by_end_date(sample_city):
    import time

    now = time.time()
    Open311Endpoint.calls = []
    Open311Endpoint.rows = [{"service_request_id": i, "status": "open", "service_name": "Pothole", "service_code": "P",
                             "requested_datetime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600 * (i + 1))),
                             "lat": 40.0, "long": -75.0} for i in range(7)]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Open311Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/open311/v2"
        adapter = Open311Adapter(sample_city, FeedSource(url=url, options={"page_size": 3, "lookback_days": 2}))
        rows = adapter.parse(adapter.fetch())
    finally:
        server.shutdown()
    # 7 requests, pages of 3: [0,1,2] then [2,3,4] (end_date = oldest seen, inclusive) then [4,5,6],
    # then [6] (a short page ends it). Every request once.
    assert sorted(row["service_request_id"] for row in rows) == list(range(7))
    assert [c["path"] for c in Open311Endpoint.calls] == ["/open311/v2/requests.json"] * len(Open311Endpoint.calls)
    assert len(Open311Endpoint.calls) == 4
    first = Open311Endpoint.calls[0]
    assert iso_to_epoch(first["end_date"], "UTC") - iso_to_epoch(first["start_date"], "UTC") == pytest.approx(2 * 86400, abs=2)
    assert iso_to_epoch(Open311Endpoint.calls[1]["end_date"], "UTC") == pytest.approx(now - 3 * 3600, abs=1)


def test_open_requests_older_than_the_window_are_asked_for_by_id(r, keys, sample_city):
    # Open311 filters by requested_datetime: a request opened 10 days ago is outside a 2-day window,
    # so its closing would never be seen. The adapter asks for the stored open ones older than the
    # window by id (service_request_id=a,b: the spec's way), and sees it closed.
    import time

    from feeds.framework import Runner

    now = time.time()

    def iso(t):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    old = {"service_request_id": "old1", "status": "open", "service_name": "Pothole", "service_code": "P",
           "requested_datetime": iso(now - 10 * 86400), "lat": 40.0, "long": -75.0}
    recent = {**old, "service_request_id": "new1", "requested_datetime": iso(now - 3600)}
    Open311Endpoint.calls = []
    Open311Endpoint.rows = [{**old, "status": "closed", "updated_datetime": iso(now - 86400)}, recent]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Open311Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/open311/v2"
        adapter = Open311Adapter(sample_city, FeedSource(url=url, options={"lookback_days": 2}))
        runner = Runner(r, keys, sample_city)
        runner.run_once(adapter, orjson.dumps([old]), now=now - 60)  # stored open, from an earlier poll
        assert r.sismember(keys.service_requests_open(), "old1")
        runner.run_once(adapter, now=now)  # a live poll
    finally:
        server.shutdown()
    assert [c.get("service_request_id") for c in Open311Endpoint.calls] == [None, "old1"]
    assert r.smembers(keys.service_requests_open()) == {"new1"}
    assert r.zscore(keys.service_requests_closed(), "old1") == pytest.approx(now - 86400, abs=1)
