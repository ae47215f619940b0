"""Pure render functions of the /transit page (no browser, no Redis)."""
from __future__ import annotations

from dashboard.pages import transit as page


def test_the_map_outlines_the_districts_and_shades_them_by_on_time(sample_city):
    # The department head's "which district suffers": the district layer is the map's first trace,
    # coloured by the district's on-time %, its hover naming on time, bunched and service delivered.
    # A district without on-time data is grey (below the scale's red end), keeping its outline, not
    # painted as the worst colour; an on-time % under 50 is as red as 50.
    first, second = sample_city.districts[0], sample_city.districts[1]
    def by_district(values):  # the store's shape
        return {"by_district": {d: {"value": v, "status": "ok" if v is not None else "no_data"}
                                for d, v in values.items()}}
    kpis = {"transit.on_time_pct": by_district({first.id: 72.4, second.id: None}),
            "transit.bunched_pct": by_district({first.id: 12.0}),
            "transit.service_delivered_pct": by_district({first.id: 95.0})}
    skeleton = page.map_skeleton(sample_city, {}, {}, None, "dark", None, page.TransitConfig(), 0)
    assert skeleton["data"][page.DISTRICTS]["type"] == "choroplethmap"
    assert len(skeleton["data"][page.DISTRICTS]["locations"]) == len(sample_city.districts)
    live = page.district_data(sample_city, kpis)[page.DISTRICTS]
    assert live["z"][0] == 72.4 and live["z"][1] == page.OTP_NONE < page.OTP_MIN
    assert page.OTP_SCALE[0][1] == page.OTP_SCALE[1][1] == "#9ca3af"  # the no-data band is grey
    assert page.district_data(sample_city, {"transit.on_time_pct": by_district({first.id: 20.0})})[
        page.DISTRICTS]["z"][0] == page.OTP_MIN
    assert min(live["marker"]["opacity"]) > 0  # every district keeps its outline
    assert live["text"][0] == f"{first.name}: on time 72 % · bunched 12 % · service delivered 95 %"
    assert "on time — %" in live["text"][1]
    # the buses' bands come after the district layer and the route lines
    assert skeleton["data"][page.FIRST_BAND]["name"].startswith("early")


def test_the_routes_table_and_the_route_charts_say_how_old_their_figures_are(sample_city):
    # Every figure on a wall screen carries its as-of age (the cards have theirs; the table and the
    # two drill-down charts are worked out with the KPIs, so they share the KPIs' age).
    kpis = {kid: {"id": kid, "age_s": 125.0, "detail": {}, "direction": "higher", "target": 85, "warn": 75,
                  "status": "ok"} for kid in page.TRANSIT_KPIS}
    table = page.routes_table(kpis, {}, "on_time")
    assert "as of 2 min ago" in str(table[0].children)
    detail = page.route_detail({"stops": []}, {}, {}, page.TransitConfig(), "dark", None, kpis)
    assert str(detail).count("as of 2 min ago") == 2
