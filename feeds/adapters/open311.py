"""Open311 GeoReport v2 service requests (feed-formats.md §1.5).

``python -m feeds run requests --url ENDPOINT | --file PATH``

Reads ``requests.json``, ``requests.xml`` (XML is the spec's required format) and
``services.json``/``services.xml`` (request types: names and groups). With ``--url`` naming the
endpoint (``https://city.gov/open311/v2``) or its ``requests.json``/``requests.xml``, each poll asks
for the last ``lookback_days`` (default 7, the KPIs' window) by ``start_date``/``end_date`` and pages
backwards: a page as long as ``page_size`` (the spec's default limit, 1,000) means there is more, so
the next page ends at the oldest ``requested_datetime`` seen.

Real feeds are tolerated: ids as strings or integers, ``status`` in any case, ``lat``/``long`` null,
empty or 0 (the request is kept without a location), floating datetimes (SF's
``2012-05-22 23:57:23.97``: read in the feed's time zone), and the spec's own invalid JSON example
(``"service_code":006``: numbers with leading zeros are read as strings).
"""
from __future__ import annotations

import hashlib
import re
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import orjson

from feeds.adapters.base_city import CityAdapter
from feeds.framework import FETCH_TIMEOUT_S, Record, Rejected, Skipped
from feeds.geo import valid_lonlat
from feeds.timeparse import epoch_to_iso, iso_to_epoch

REQUEST_RETENTION_S = 8 * 24 * 3600  # a closed request is forgotten this long after closing (7-day KPIs)
CHANGES_MAX = 10_000  # batches kept in the change log; a KPI reader further behind re-reads every request
PAGE_SIZE = 1000  # GeoReport v2: default limit of a GET requests call
MAX_PAGES = 50
IDS_PER_CALL = 50  # open requests older than the window, asked for by id, per call
STALE_OPEN_MAX = 1000  # at most this many per poll (the oldest first)
LEADING_ZERO_NUMBER = re.compile(rb'(:\s*)(-?0\d+(?:\.\d+)?)(\s*[,}\]])')
FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
          "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
          "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url")


def loads_tolerant(payload: bytes):
    """JSON, or the spec's example with numbers like 006 (invalid JSON): those become strings."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as first:
        fixed = LEADING_ZERO_NUMBER.sub(lambda m: m.group(1) + b'"' + m.group(2) + b'"' + m.group(3), payload)
        if fixed == payload:
            raise Rejected(f"not valid JSON: {first}") from None
        try:
            return orjson.loads(fixed)
        except orjson.JSONDecodeError:
            raise Rejected(f"not valid JSON: {first}") from None


def xml_rows(payload: bytes) -> list[dict]:
    """<service_requests><request>...</request></service_requests> (or <services><service>) -> dicts."""
    try:
        root = ET.fromstring(payload)
    except ET.ParseError as e:
        raise Rejected(f"not valid XML: {e}") from None
    tag = root.tag.split("}")[-1]
    if tag not in ("service_requests", "services"):
        raise Rejected(f"XML root <{tag}> is neither <service_requests> nor <services>")
    rows = []
    for el in root:
        row = {}
        for child in el:
            name = child.tag.split("}")[-1]
            text = (child.text or "").strip()
            nil = any(k.endswith("}nil") and v == "true" for k, v in child.attrib.items())
            row[name] = None if nil or text == "" else text
        rows.append(row)
    return rows


def _text(v) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


class Open311Adapter(CityAdapter):
    name = "requests"
    domain = "services"
    title = "City service requests (Open311 GeoReport v2)"
    formats = ("open311-json", "open311-xml")
    kpi_domains = ("services",)
    lag_means_stale = False  # no new request for an hour is news about the city, not a broken feed
    cli_options = (("--lookback-days", "lookback_days", "days of requests each poll asks an Open311 endpoint for"),
                   ("--jurisdiction", "jurisdiction_id", "Open311 jurisdiction_id, for endpoints serving several"))

    @classmethod
    def check_source(cls, source):
        super().check_source(source)
        from feeds.config import ConfigError

        days = source.options.get("lookback_days")
        if days is not None:
            try:
                ok = 0 < float(days) <= 90
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ConfigError(f"requests: --lookback-days must be a number of days in (0, 90], got {days!r}")

    def __init__(self, city, source):
        super().__init__(city, source)
        self.lookback_s = float(source.options.get("lookback_days") or 7) * 86400
        self.jurisdiction = source.options.get("jurisdiction_id")
        self.page_size = int(source.options.get("page_size") or PAGE_SIZE)
        self.pages_fetched = 0
        self.stale_open: list[str] = []  # open ids older than the window, noted by housekeeping
        self._stale_from = 0

    # --- fetch: paging by start_date / end_date ------------------------------------------
    def requests_url(self) -> str:
        url = self.source.url
        parts = urllib.parse.urlsplit(url)
        path = parts.path
        if not re.search(r"/(requests|services)\.(json|xml)$", path):
            path = path.rstrip("/") + "/requests.json"
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))

    def _get(self, url: str) -> bytes:
        req = urllib.request.Request(url, headers=self.request_headers())
        with urllib.request.urlopen(req, timeout=FETCH_TIMEOUT_S) as resp:
            return resp.read()

    def fetch(self) -> bytes:
        if self.source.file or not self.source.url:
            return super().fetch()
        url = self.requests_url()
        if "/services." in url:
            return self._get(url)
        now = time.time()
        start, end = now - self.lookback_s, now
        rows: dict[str, dict] = {}
        self.pages_fetched = 0
        for _ in range(MAX_PAGES):
            query = {"start_date": epoch_to_iso(start), "end_date": epoch_to_iso(end)}
            if self.jurisdiction:
                query["jurisdiction_id"] = self.jurisdiction
            sep = "&" if "?" in url else "?"
            page = self._get(url + sep + urllib.parse.urlencode(query))
            self.pages_fetched += 1
            page_rows = self.parse(page)
            for row in page_rows:
                if isinstance(row, dict):
                    rows[str(row.get("service_request_id"))] = row
            if len(page_rows) < self.page_size:
                break
            oldest = None
            for row in page_rows:
                try:
                    t = iso_to_epoch(str(row.get("requested_datetime")), self.tz)
                except (ValueError, TypeError):
                    continue
                oldest = t if oldest is None else min(oldest, t)
            if oldest is None or oldest >= end:
                break  # a full page all at one instant: nothing narrower to ask for
            end = oldest
        # Open requests older than the window: the window will never show them closing, so ask for
        # them by id (GeoReport v2: service_request_id=a,b,c; the other parameters are then ignored).
        for i in range(0, len(self.stale_open), IDS_PER_CALL):
            query = {"service_request_id": ",".join(self.stale_open[i:i + IDS_PER_CALL])}
            if self.jurisdiction:
                query["jurisdiction_id"] = self.jurisdiction
            sep = "&" if "?" in url else "?"
            for row in self.parse(self._get(url + sep + urllib.parse.urlencode(query))):
                if isinstance(row, dict):
                    rows.setdefault(str(row.get("service_request_id")), row)
            self.pages_fetched += 1
        return orjson.dumps(list(rows.values()))

    # --- parse / validate --------------------------------------------------------------
    def parse(self, payload: bytes):
        head = payload.lstrip()[:1]
        if head == b"<":
            return xml_rows(payload)
        if head not in (b"[", b"{"):
            raise Rejected("neither Open311 JSON nor XML")
        doc = loads_tolerant(payload)
        if isinstance(doc, dict):
            for key in ("service_requests", "requests", "services"):
                if isinstance(doc.get(key), list):
                    doc = doc[key]
                    break
        if not isinstance(doc, list):
            raise Rejected("expected a JSON array of service requests or services")
        return doc

    def _time(self, row: dict, field: str, required: bool = False) -> float | None:
        value = _text(row.get(field))
        if value is None:
            if required:
                raise Rejected(f"missing {field}")
            return None
        try:
            return iso_to_epoch(value, self.tz)
        except ValueError:
            raise Rejected(f"{field}: unreadable time {value!r}") from None

    def validate(self, raw) -> Record:
        if not isinstance(raw, dict):
            raise Rejected(f"request is a {type(raw).__name__}, not an object")
        if "service_request_id" not in raw and raw.get("service_code") is not None and "service_name" in raw:
            code = _text(raw.get("service_code"))
            if code is None:
                raise Rejected(f"service type with an empty service_code {raw.get('service_code')!r}")
            data = {"kind": "type", "code": code, "name": _text(raw.get("service_name")) or code,
                    "group": _text(raw.get("group")) or ""}
            fp = hashlib.blake2b(orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
            return Record(f"type:{code}", 0.0, data, fingerprint=fp)
        rid = _text(raw.get("service_request_id"))
        if rid is None:
            if _text(raw.get("token")):
                raise Skipped("token only (request not created yet)")
            raise Rejected("missing service_request_id")
        status = (_text(raw.get("status")) or "").lower()
        if status not in ("open", "closed"):
            raise Rejected(f"status {raw.get('status')!r} is not open or closed")
        requested = self._time(raw, "requested_datetime", required=True)
        updated = self._time(raw, "updated_datetime")
        expected = self._time(raw, "expected_datetime")
        warnings = []
        closed = None
        if status == "closed":
            # updated_datetime is the closing time; without a usable one the request leaves the
            # backlog but is not timed (counting it as closed in 0 h would flatter both KPIs).
            closed = updated
            if updated is None:
                warnings.append("closed without updated_datetime: closing time unknown, not timed")
            elif updated < requested:
                warnings.append("updated_datetime before requested_datetime: closing time unknown, not timed")
                closed = None
        lat, lon = raw.get("lat"), raw.get("long")
        point = None
        if _text(lat) is not None and _text(lon) is not None:
            try:
                flat, flon = float(lat), float(lon)
            except (TypeError, ValueError):
                warnings.append(f"lat/long not numbers ({lat!r}, {lon!r}): kept without a location")
            else:
                if flat == 0 and flon == 0:
                    pass  # 0,0 is how real feeds say "no location"
                elif not valid_lonlat(flon, flat):
                    warnings.append(f"lat/long out of range ({lat}, {lon}): kept without a location")
                else:
                    point = (flon, flat)
        code = _text(raw.get("service_code"))
        data = {"kind": "request", "id": rid, "status": status, "code": code,
                "type": _text(raw.get("service_name")) or code or "unknown", "requested": requested,
                "updated": updated if updated is not None else requested, "closed": closed, "expected": expected,
                "lat": point[1] if point else None, "lon": point[0] if point else None,
                "district": self.resolve_district(point) if point else None,
                "address": (_text(raw.get("address")) or "")[:200],
                "agency": (_text(raw.get("agency_responsible")) or "")[:120],
                "notes": (_text(raw.get("status_notes")) or "")[:200]}
        version = max(t for t in (requested, updated, closed) if t is not None)
        fp = hashlib.blake2b(orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
        return Record(rid, version, data, warnings, fingerprint=fp)

    def publish(self, pipe, keys, records):
        types = {rec.data["code"]: orjson.dumps({"name": rec.data["name"], "group": rec.data["group"]})
                 for rec in records if rec.data["kind"] == "type"}
        if types:
            pipe.hset(keys.request_types(), mapping=types)
        reqs = [rec for rec in records if rec.data["kind"] == "request"]
        if not reqs:
            return
        pipe.hset(keys.service_requests(), mapping={rec.key: orjson.dumps(rec.data) for rec in reqs})
        pipe.xadd(keys.service_request_changes(), {"ids": orjson.dumps([rec.key for rec in reqs])},
                  maxlen=CHANGES_MAX, approximate=True)
        opened = [rec.key for rec in reqs if rec.data["status"] == "open"]
        # Scored by the closing time (the data's clock for the 7-day window and retention); an
        # untimed closure by its last update.
        closed = {rec.key: rec.data["closed"] if rec.data["closed"] is not None else rec.data["updated"]
                  for rec in reqs if rec.data["status"] == "closed"}
        if opened:
            pipe.sadd(keys.service_requests_open(), *opened)
            pipe.zadd(keys.service_requests_open_since(),
                      {rec.key: rec.data["requested"] for rec in reqs if rec.data["status"] == "open"})
            pipe.zrem(keys.service_requests_closed(), *opened)  # reopened
        if closed:
            pipe.srem(keys.service_requests_open(), *closed)
            pipe.zrem(keys.service_requests_open_since(), *closed)
            pipe.zadd(keys.service_requests_closed(), closed)
        by_type: dict[tuple[str, bool], list[str]] = {}
        for rec in reqs:
            by_type.setdefault((rec.data["type"], rec.data["status"] == "open"), []).append(rec.key)
        for (type_name, is_open), ids in by_type.items():
            if is_open:
                pipe.sadd(keys.service_requests_open_of_type(type_name), *ids)
            else:
                pipe.srem(keys.service_requests_open_of_type(type_name), *ids)
        self.add_readings(pipe, keys, [{"request": rec.key, "status": rec.data["status"], "t": rec.version}
                                       for rec in reqs])

    def housekeeping(self, r, keys, now):
        """Forget requests closed more than 8 days before the newest closure (the KPIs look back 7);
        note the open ones older than the poll's window, for the next poll to ask for by id.

        Measured on the data's own clock, so a replayed file keeps its week."""
        if self.source.url:
            # At most STALE_OPEN_MAX per poll, in turns: the next poll continues where this one ended.
            self.stale_open = r.zrangebyscore(keys.service_requests_open_since(), "-inf",
                                              time.time() - self.lookback_s + 60, start=self._stale_from,
                                              num=STALE_OPEN_MAX)
            self._stale_from = self._stale_from + STALE_OPEN_MAX if len(self.stale_open) == STALE_OPEN_MAX else 0
        newest = r.zrange(keys.service_requests_closed(), -1, -1, withscores=True)
        if not newest:
            return
        old = r.zrangebyscore(keys.service_requests_closed(), "-inf", min(now, newest[0][1]) - REQUEST_RETENTION_S)
        if old:
            pipe = r.pipeline(transaction=False)
            pipe.hdel(keys.service_requests(), *old)
            pipe.hdel(keys.seen(self.domain, self.name), *old)
            pipe.zrem(keys.service_requests_closed(), *old)
            pipe.xadd(keys.service_request_changes(), {"ids": orjson.dumps(old)}, maxlen=CHANGES_MAX, approximate=True)
            pipe.execute()
