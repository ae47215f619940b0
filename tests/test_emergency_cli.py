"""python -m feeds run emergency --file PATH --format ... (architecture.md, feed runner CLI)."""
from __future__ import annotations

import orjson

from tests.emergency_helpers import SEATTLE_FILE, SF_FILE
from tests.test_cli import feeds_cli


def test_run_emergency_once_on_the_real_sf_file(redis_url, keys, r):
    out = feeds_cli("run", "emergency", "--once", "--file", str(SF_FILE), "--format", "sf-fire",
                    redis_url=redis_url, keys=keys)
    assert out.returncode == 0, out.stderr
    assert "emergency: 4 records, 4 stored, 0 rejected" in out.stdout
    inc = orjson.loads(r.hget(keys.emergency_incidents(), "17073664"))
    assert inc["first_arriving"] == "E05"
    assert orjson.loads(r.hget(keys.kpi_values(), "emergency.travel_p90_s"))["value"] == 219


def test_format_is_detected_when_not_given(redis_url, keys, r):
    out = feeds_cli("run", "emergency", "--once", "--file", str(SEATTLE_FILE), redis_url=redis_url, keys=keys)
    assert out.returncode == 0, out.stderr
    assert "13 records, 13 stored" in out.stdout


def test_unknown_format_exits_2_with_one_line(redis_url):
    out = feeds_cli("run", "emergency", "--once", "--file", str(SF_FILE), "--format", "nfirs", redis_url=redis_url)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: emergency: unknown format 'nfirs'; one of sf-fire, seattle-fire, unit-events"


def test_bad_emergency_section_exits_2_with_one_line(redis_url, tmp_path):
    from tests.conftest import SAMPLE_CITY

    city = orjson.loads(SAMPLE_CITY.read_bytes())
    city["emergency"]["turnout_ems_s"] = -1
    path = tmp_path / "city.json"
    path.write_bytes(orjson.dumps(city))
    out = feeds_cli("run", "emergency", "--once", "--file", str(SF_FILE), redis_url=redis_url, city=path)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: CITY_CONFIG: emergency.turnout_ems_s: Input should be greater than 0"
