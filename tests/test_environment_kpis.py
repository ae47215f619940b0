"""Environment KPIs (kpis.md) from station states, with by_district, derived by hand."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from feeds.adapters.environment import EnvironmentAdapter
from feeds.config import FeedSource
from feeds.environment import EnvironmentConf, noise_limit
from feeds.framework import Runner
from feeds.kpi.environment import environment_kpis, laeq, noise_state, station_history, water_state
from feeds.kpi.engine import KpiEngine
from tests.test_environment_adapter import env_city  # noqa: F401  (fixture)

TZ = "America/New_York"
T = datetime(2026, 11, 20, 23, 0, tzinfo=ZoneInfo(TZ)).timestamp()  # 23:00 local: night
CONF = EnvironmentConf()


def air(sid, district, aqi, pollutant="pm25", as_of=T):
    return {"id": sid, "kind": "air", "name": sid, "district": district, "as_of": as_of, "aqi": aqi,
            "beyond": False, "pollutant": pollutant, "category": "x", "colour": "#000"}


def test_aqi_is_the_citywide_maximum_with_its_pollutant_and_by_district():
    states = [air("A", "west", 160), air("B", "west", 80, "no2"), air("C", "east", 40, "o3"),
              air("D", "east", 300, as_of=T - 3 * 3600 - 1)]  # D: older than the 3 h window -> not counted
    k = environment_kpis(states, CONF, ["west", "east", "north"])
    aqi = k["environment.aqi"]
    assert aqi.value == 160 and aqi.as_of == T and aqi.inputs == 3
    assert aqi.detail["pollutant"] == "pm25" and aqi.detail["station"] == "A"
    assert aqi.by_district == {"west": 160, "east": 40, "north": None}
    assert aqi.detail["by_district_pollutant"] == {"west": "pm25", "east": "o3"}
    # stations with AQI > 150: only A (D is not current)
    unhealthy = k["environment.stations_unhealthy"]
    assert unhealthy.value == 1 and unhealthy.by_district == {"west": 1, "east": 0, "north": None}


def test_aqi_of_exactly_150_is_not_unhealthy():
    k = environment_kpis([air("A", "west", 150), air("B", "west", 151)], CONF, ["west"])
    assert k["environment.stations_unhealthy"].value == 1


def test_no_station_means_no_data_not_zero():
    k = environment_kpis([], CONF, ["west"])
    assert all(c.value is None for c in k.values())


def test_noise_limit_by_local_hour_from_config():
    assert noise_limit(CONF, 7) == (65, "day") and noise_limit(CONF, 21) == (65, "day")
    assert noise_limit(CONF, 22) == (55, "night") and noise_limit(CONF, 6) == (55, "night")
    conf = EnvironmentConf(noise_day_limit_db=60, noise_night_limit_db=50, day_starts_hour=6, night_starts_hour=23)
    assert noise_limit(conf, 22) == (60, "day") and noise_limit(conf, 23) == (50, "night")


def test_noise_exceedance_pct_at_night():
    # 23:00 local is night: limit 55 dB(A). N1 energy average of 60 and 50:
    # 10 log10((10^6 + 10^5) / 2) = 57.40 > 55 -> over; N2 54 -> under; N3 62 -> over. 2 of 3 = 66.67 %.
    day = datetime(2026, 11, 20, 14, 0, tzinfo=ZoneInfo(TZ)).timestamp()
    n1 = noise_state("N1", {"district": "west"}, [{"t": T - 600, "laeq": 60}, {"t": T, "laeq": 50}], CONF, TZ)
    n2 = noise_state("N2", {"district": "west"}, [{"t": T, "laeq": 54}], CONF, TZ)
    n3 = noise_state("N3", {"district": "east"}, [{"t": T, "laeq": 62}], CONF, TZ)
    assert (n1["laeq"], n1["limit"], n1["period"], n1["exceeds"]) == (57.4, 55, "night", True)
    k = environment_kpis([n1, n2, n3], CONF, ["west", "east"])["environment.noise_exceedance_pct"]
    assert k.value == pytest.approx(200 / 3)
    assert k.by_district == {"west": 50.0, "east": 100.0}
    assert k.detail["exceeding"] == ["N1", "N3"] and k.detail["period"] == "night"
    # The same 62 dB(A) at 14:00 is under the day limit of 65.
    assert noise_state("N3", {}, [{"t": day, "laeq": 62}], CONF, TZ)["exceeds"] is False


def test_laeq_is_an_energy_average():
    assert laeq([70, 60]) == pytest.approx(67.40, abs=0.01)  # 10 log10((10^7 + 10^6) / 2)
    assert laeq([]) is None


def test_water_alerts_count_points_out_of_range():
    # < 0.2 mg/L free chlorine, > 4.0 mg/L (EPA MRDL), > 1 NTU turbidity; exactly 0.2 / 4.0 / 1.0 are fine.
    points = [
        water_state("W1", {"district": "west"}, [{"t": T, "free_chlorine": 0.15, "turbidity": 0.3}], CONF, TZ),
        water_state("W2", {"district": "west"}, [{"t": T, "free_chlorine": 4.2}], CONF, TZ),
        water_state("W3", {"district": "east"}, [{"t": T - 60, "free_chlorine": 0.1}, {"t": T, "free_chlorine": 0.5,
                                                                                    "turbidity": 1.2}], CONF, TZ),
        water_state("W4", {"district": "east"}, [{"t": T, "free_chlorine": 0.2, "turbidity": 1.0}], CONF, TZ),
        water_state("W5", {"district": "east"}, [{"t": T, "free_chlorine": 4.0}], CONF, TZ),
    ]
    assert points[2]["alerts"] == ["turbidity 1.2 NTU > 1"]  # the newer chlorine sample 0.5 replaced 0.1
    k = environment_kpis(points, CONF, ["west", "east"])["environment.water_alerts"]
    assert k.value == 3 and k.by_district == {"west": 2, "east": 1}
    assert [a["id"] for a in k.detail["alerts"]] == ["W1", "W2", "W3"]


def test_station_history_gives_hourly_means_nowcast_and_category():
    # Hours 08, 09, 10 with PM2.5 means 10, 20, 40 (sums of two 30-minute values each).
    h10 = 10 * 3600
    sums = {"pm25": {str(h10 - 7200): [20.0, 2], str(h10 - 3600): [40.0, 2], str(h10): [80.0, 2]}}
    hist = station_history(sums, h10, hours=4)
    assert [p["hour"] for p in hist] == [h10 - 3 * 3600, h10 - 7200, h10 - 3600, h10]
    assert hist[0]["aqi"] is None  # no data that hour
    # 08: only c1 present -> no NowCast (2 of 3). 09: [20, 10] -> 16.667 -> 65.
    # 10: [40, 20, 10]: w* = 0.25 -> 0.5; (40 + 10 + 2.5) / 1.75 = 30.0 -> 49 / 26.3 x 20.9 + 51 = 89.94 -> 90
    assert hist[1]["aqi"] is None and hist[1]["means"] == {"pm25": 10.0}
    assert hist[2]["aqi"] == 65
    assert hist[3]["nowcast"]["pm25"] == pytest.approx(30.0) and hist[3]["aqi"] == 90
    assert hist[3]["category"] == "Moderate"


def test_kpis_through_redis_with_the_city_limits(r, keys, env_city):  # noqa: F811
    raw = env_city.model_dump()
    raw["environment"]["noise_night_limit_db"] = 45  # a stricter city
    from feeds.config import parse_city

    city = parse_city(raw)
    runner = Runner(r, keys, city, KpiEngine(r, keys, city))
    now = datetime.now(ZoneInfo(TZ)).replace(hour=23, minute=0, second=0, microsecond=0)
    t = now.timestamp()
    if t > datetime.now().timestamp():
        t -= 86400
    rows = [{"id": "NS-1", "time": t, "laeq_db": 50}, {"id": "NS-2", "time": t, "laeq_db": 40}]
    runner.run_once(EnvironmentAdapter(city, FeedSource(interval_s=60, options={"format": "noise"})),
                    orjson.dumps(rows))
    v = orjson.loads(r.hget(keys.kpi_values(), "environment.noise_exceedance_pct"))
    # 23:00 is night: limit 45 (the city's); NS-1 50 over, NS-2 40 under -> 50 %, target <= 10 % -> breach
    assert v["value"] == 50.0 and v["status"] == "breach"
    assert v["by_district"]["west"]["value"] == 100.0 and v["by_district"]["east"]["value"] == 0.0


def test_station_table_lists_the_worst_first_and_says_what_it_leaves_out(sample_city):
    from dashboard.pages.environment import TABLE_ROWS, station_table

    stations = [{**air(f"A{i}", "D1", 40 + i), "current": True, "category": "Good", "colour": "#00E400",
                 "lat": 40.0, "lon": -75.0} for i in range(TABLE_ROWS + 5)]
    stations[0].update(aqi=180, category="Unhealthy", colour="#FF0000")
    html_text = str(station_table(sample_city, stations, None))
    assert html_text.index("A0") < html_text.index(f"A{TABLE_ROWS + 4}")  # AQI 180 first, then 74, 73, ...
    assert "5 more station(s) not shown, all within their limits" in html_text
