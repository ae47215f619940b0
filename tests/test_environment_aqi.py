"""EPA AQI (2024 PM2.5 breakpoints) and AirNow NowCast, against values worked out by hand.

Every expected AQI below comes from I = (I_hi - I_lo) / (BP_hi - BP_lo) x (C - BP_lo) + I_lo with C
truncated first (PM2.5 0.1, PM10 1, O3 0.001 ppm, CO 0.1 ppm, SO2/NO2 1 ppb), rounded half up.
"""
from __future__ import annotations

import pytest

from feeds.kpi.aqi import (BEYOND, hourly_means, index_of, nowcast, overall, ozone_aqi, pollutant_aqi,
                           round_half_up, so2_aqi, station_aqi, truncate)

# (table, concentration, expected AQI): each band's both edges, the value just past each edge that
# truncation pulls back, and a mid-band value.
EDGES = [
    # PM2.5, 2024 rule: 0-9.0 / 9.1-35.4 / 35.5-55.4 / 55.5-125.4 / 125.5-225.4 / 225.5-325.4
    ("pm25", 0.0, 0), ("pm25", 9.0, 50), ("pm25", 9.09, 50), ("pm25", 9.1, 51), ("pm25", 35.4, 100),
    ("pm25", 35.45, 100),  # the example: truncates to 35.4
    ("pm25", 35.5, 101), ("pm25", 55.4, 150), ("pm25", 55.5, 151), ("pm25", 125.4, 200), ("pm25", 125.5, 201),
    ("pm25", 225.4, 300), ("pm25", 225.5, 301), ("pm25", 325.4, 500),
    ("pm25", 12.0, 56),  # 49 / 26.3 x (12.0 - 9.1) + 51 = 56.40
    ("pm25", 9.0999, 50),
    # PM10: 0-54 / 55-154 / 155-254 / 255-354 / 355-424 / 425-604
    ("pm10", 54, 50), ("pm10", 54.9, 50), ("pm10", 55, 51), ("pm10", 154, 100), ("pm10", 155, 101),
    ("pm10", 254, 150), ("pm10", 255, 151), ("pm10", 354, 200), ("pm10", 355, 201), ("pm10", 424, 300),
    ("pm10", 425, 301), ("pm10", 604, 500),
    ("pm10", 100, 73),  # 49 / 99 x (100 - 55) + 51 = 73.27
    # O3 8 h (ppm): 0-0.054 / 0.055-0.070 / 0.071-0.085 / 0.086-0.105 / 0.106-0.200
    ("o3_8h", 0.054, 50), ("o3_8h", 0.0549, 50), ("o3_8h", 0.055, 51), ("o3_8h", 0.070, 100),
    ("o3_8h", 0.071, 101), ("o3_8h", 0.085, 150), ("o3_8h", 0.086, 151), ("o3_8h", 0.105, 200),
    ("o3_8h", 0.106, 201), ("o3_8h", 0.200, 300),
    ("o3_8h", 0.060, 67),  # 49 / 0.015 x 0.005 + 51 = 67.33
    # O3 1 h (ppm): 0.125-0.164 / 0.165-0.204 / 0.205-0.404 / 0.405-0.604
    ("o3_1h", 0.125, 101), ("o3_1h", 0.164, 150), ("o3_1h", 0.165, 151), ("o3_1h", 0.204, 200),
    ("o3_1h", 0.205, 201), ("o3_1h", 0.404, 300), ("o3_1h", 0.405, 301), ("o3_1h", 0.604, 500),
    # CO 8 h (ppm): 0-4.4 / 4.5-9.4 / 9.5-12.4 / 12.5-15.4 / 15.5-30.4 / 30.5-50.4
    ("co", 4.4, 50), ("co", 4.49, 50), ("co", 4.5, 51), ("co", 9.4, 100), ("co", 9.5, 101), ("co", 12.4, 150),
    ("co", 12.5, 151), ("co", 15.4, 200), ("co", 15.5, 201), ("co", 30.4, 300), ("co", 30.5, 301),
    ("co", 50.4, 500),
    # SO2 1 h (ppb): 0-35 / 36-75 / 76-185 / 186-304
    ("so2_1h", 35, 50), ("so2_1h", 35.9, 50), ("so2_1h", 36, 51), ("so2_1h", 75, 100), ("so2_1h", 76, 101),
    ("so2_1h", 185, 150), ("so2_1h", 186, 151), ("so2_1h", 304, 200),
    # NO2 1 h (ppb): 0-53 / 54-100 / 101-360 / 361-649 / 650-1249 / 1250-2049
    ("no2", 53, 50), ("no2", 53.9, 50), ("no2", 54, 51), ("no2", 100, 100), ("no2", 101, 101), ("no2", 360, 150),
    ("no2", 361, 151), ("no2", 649, 200), ("no2", 650, 201), ("no2", 1249, 300), ("no2", 1250, 301),
    ("no2", 2049, 500),
]


@pytest.mark.parametrize("table,conc,expected", EDGES)
def test_band_edges_and_truncation(table, conc, expected):
    assert index_of(table, conc).value == expected


@pytest.mark.parametrize("table,conc", [("pm25", 325.5), ("pm25", 500.0), ("pm10", 605), ("co", 50.5),
                                        ("no2", 2050), ("o3_1h", 0.605)])
def test_above_the_top_band_is_beyond_the_aqi(table, conc):
    a = index_of(table, conc)
    assert (a.value, a.beyond, a.category, a.label) == (500, True, BEYOND, "500+")


@pytest.mark.parametrize("aqi_conc,category,colour", [
    (("pm25", 9.0), "Good", "#00E400"), (("pm25", 9.1), "Moderate", "#FFFF00"),
    (("pm25", 35.5), "Unhealthy for Sensitive Groups", "#FF7E00"), (("pm25", 55.5), "Unhealthy", "#FF0000"),
    (("pm25", 125.5), "Very Unhealthy", "#8F3F97"), (("pm25", 225.5), "Hazardous", "#7E0023"),
])
def test_categories_and_colours(aqi_conc, category, colour):
    a = index_of(*aqi_conc)
    assert (a.category, a.colour) == (category, colour)


def test_truncation_cuts_and_never_rounds_up_or_loses_an_exact_value():
    assert truncate(35.45, 1) == 35.4
    assert truncate(35.4, 1) == 35.4  # 35.4 x 10 is 353.99999... in floating point
    assert truncate(0.0549, 3) == 0.054
    assert truncate(154.99, 0) == 154


def test_rounding_is_half_up_not_bankers():
    assert round_half_up(50.5) == 51 and round_half_up(64.49) == 64


def test_missing_or_negative_concentration_has_no_index():
    assert index_of("pm25", None).value is None
    assert index_of("pm25", -1.0).value is None


def test_ozone_uses_the_higher_of_8h_and_1h():
    # 8 h 0.060 -> 67 (above); 1 h 0.130 -> 49 / 0.039 x 0.005 + 101 = 107.28 -> 107
    assert ozone_aqi(0.060, 0.130).value == 107
    # 1 h below 0.125 has no index: the 8 h value decides
    assert ozone_aqi(0.060, 0.100).value == 67


def test_ozone_8h_above_0200_has_no_8h_index_so_the_1h_decides():
    assert index_of("o3_8h", 0.201).value is None
    # 1 h 0.410: 199 / 0.199 x (0.410 - 0.405) + 301 = 306
    assert ozone_aqi(0.201, 0.410).value == 306
    assert ozone_aqi(0.201, None).value == 300  # beyond the 8 h table, no 1 h index: top of the 8 h scale


def test_so2_above_304_ppb_uses_the_24h_mean():
    assert so2_aqi(400, None).value == 200  # the 1 h scale ends at 200
    assert so2_aqi(400, 200).value == 200  # 24 h below 305: still 200
    assert so2_aqi(400, 305).value == 201
    assert so2_aqi(400, 604).value == 300
    assert so2_aqi(400, 605).value == 301
    assert so2_aqi(400, 1004).value == 500
    assert so2_aqi(400, 1005).beyond
    assert so2_aqi(100, None).value == 112  # 49 / 109 x (100 - 76) + 101 = 111.79


def test_station_aqi_is_the_maximum_with_the_pollutant_responsible():
    # NO2 1 h 120 ppb: 49 / 259 x (120 - 101) + 101 = 104.59 -> 105; PM2.5 steady 20 -> NowCast 20 ->
    # 49 / 26.3 x (20.0 - 9.1) + 51 = 71.31 -> 71
    h = 10 * 3600.0
    hourly = {"pm25": {h - i * 3600: 20.0 for i in range(12)}, "no2": {h: 120.0}}
    a, who, detail = station_aqi(hourly, h)
    assert (a.value, who) == (105, "no2")
    assert detail["pm25"]["aqi"] == 71
    a, who = overall({"pm25": index_of("pm25", 20.0), "no2": index_of("no2", 10)})
    assert (a.value, who) == (71, "pm25")


def test_pollutant_aqi_reads_the_averaging_each_table_needs():
    assert pollutant_aqi("co", {"8h": 9.5}).value == 101
    assert pollutant_aqi("pm10", {"nowcast": 155, "1h": 900}).value == 101
    with pytest.raises(ValueError):
        pollutant_aqi("radon", {})


# --- NowCast ---------------------------------------------------------------------------------------
def test_nowcast_needs_two_of_the_three_most_recent_hours():
    assert nowcast([None, None, 10.0, 10.0, 10.0]) is None
    assert nowcast([10.0, None, None, 10.0]) is None
    assert nowcast([None, 10.0, 10.0]) == pytest.approx(10.0)
    assert nowcast([10.0, None, 10.0]) == pytest.approx(10.0)


def test_nowcast_weight_floor_of_one_half():
    # c = [20, 10]: w* = 10/20 = 0.5 -> w = 0.5; (20 + 0.5 x 10) / (1 + 0.5) = 16.667
    # -> truncated 16.6 -> 49 / 26.3 x (16.6 - 9.1) + 51 = 64.97 -> 65
    assert nowcast([20.0, 10.0]) == pytest.approx(16.6667, abs=1e-4)
    assert index_of("pm25", nowcast([20.0, 10.0])).value == 65
    # c = [40, 30, 20]: w* = 0.5; (40 + 15 + 5) / 1.75 = 34.2857 -> 34.2 -> 49 / 26.3 x 25.1 + 51 = 97.76 -> 98
    assert index_of("pm25", nowcast([40.0, 30.0, 20.0])).value == 98
    # c = [40, 10]: w* = 0.25 is floored to 0.5: (40 + 5) / 1.5 = 30.0
    assert nowcast([40.0, 10.0]) == pytest.approx(30.0)


def test_nowcast_missing_hour_drops_out_of_both_sums_keeping_its_position():
    # c = [12, 10, -, 8]: w = 8/12 = 0.6667; num = 12 + 0.6667 x 10 + 0.6667^3 x 8 = 21.037;
    # den = 1 + 0.6667 + 0.2963 = 1.963 -> 10.717 -> 10.7 -> 49 / 26.3 x 1.6 + 51 = 53.98 -> 54
    assert nowcast([12.0, 10.0, None, 8.0]) == pytest.approx(10.717, abs=1e-3)
    assert index_of("pm25", nowcast([12.0, 10.0, None, 8.0])).value == 54


def test_nowcast_uses_only_twelve_hours():
    assert nowcast([10.0, 10.0] + [10.0] * 10 + [500.0]) == pytest.approx(10.0)


def test_thirty_minute_raw_data_is_averaged_into_clock_hours_first():
    # 10:00 -> 10, 10:30 -> 20 (hour mean 15); 11:00 -> 30, 11:30 -> 40 (hour mean 35).
    # NowCast of [35, 15]: w* = 0.43 -> 0.5; (35 + 7.5) / 1.5 = 28.33 -> 28.3 -> 49 / 26.3 x 19.2 + 51 = 86.77 -> 87
    t10 = 10 * 3600.0
    raw = [(t10, 10.0), (t10 + 1800, 20.0), (t10 + 3600, 30.0), (t10 + 5400, 40.0)]
    means = hourly_means(raw)
    assert means == {t10: 15.0, t10 + 3600: 35.0}
    c = [means.get(t10 + 3600), means.get(t10)]
    assert nowcast(c) == pytest.approx(28.333, abs=1e-3)
    assert index_of("pm25", nowcast(c)).value == 87


# --- review: defects found against feed-formats.md §3.1 ----------------------------------------------
def test_truncation_guard_does_not_round_a_real_value_up_into_the_next_band():
    # 35.49999999 µg/m³ truncates to 35.4 (AQI 100), never to 35.5 (AQI 101): the float guard may only
    # absorb representation error (~1e-12 here), not a real difference of 1e-8.
    assert truncate(35.49999999, 1) == 35.4
    assert index_of("pm25", 35.49999999).value == 100
    assert truncate(0.07099999, 3) == 0.070  # O3 8 h 0.070 -> AQI 100, not 0.071 -> 101


def test_ozone_8h_above_its_table_with_no_1h_index_is_not_reported_as_no_data():
    # 8 h 0.250 ppm is beyond the 8 h table (top 0.106-0.200 -> 201-300) and the 1 h mean is missing or
    # below 0.125: the ozone index must not vanish; it is at least the top of the 8 h scale, 300.
    assert ozone_aqi(0.250, None).value == 300
    assert ozone_aqi(0.250, 0.100).value == 300
    assert ozone_aqi(0.250, None).category == "Very Unhealthy"
    # With a 1 h index the 1 h value decides as before: 0.410 -> 306 (above).
    assert ozone_aqi(0.250, 0.410).value == 306


def test_so2_of_an_unusable_1h_value_has_no_index():
    # A NaN 1 h value is no reading at all, not "above 304 ppb" (which would give 200).
    assert so2_aqi(float("nan"), None).value is None
