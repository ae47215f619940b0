"""dashboard/fastjson.py: Dash's answers encoded in one orjson pass give the very text plotly's encoder gives."""
from __future__ import annotations

import datetime
import decimal

import dash._callback
import dash.dash
import orjson
import plotly.graph_objects as go
from dash import Patch, dcc, html
from plotly.io.json import to_json_plotly

from app import create_app
from dashboard import fastjson
from dashboard.store import Store
from feeds.config import Settings
from tests.auth_helpers import signed_in
from tests.test_browser import City


def same_text(value) -> str:
    text = fastjson.to_json(value)
    assert text == to_json_plotly(value)
    return text


def test_a_page_with_figures_and_components_encodes_to_plotlys_very_text(r, keys, sample_city):
    City(r, keys, sample_city).batch()
    from dashboard.pages import overview, traffic

    store = Store(r, keys, sample_city)
    for page in (overview, traffic):
        text = same_text(page.page(store, {}))
        assert '"namespace":"dash_html_components"' in text


def test_the_awkward_values_encode_as_plotly_encodes_them():
    patch = Patch()
    patch["data"][0]["x"] = [1, 2]
    patch["layout"].update({"title": "t"})
    figure = go.Figure(go.Scatter(x=(0, 1, 2), y=[1.5, float("nan"), 2.5]))
    text = same_text({
        "html": html.Div([html.Span("</script><b>"), "a\u2028b"], id="x"),
        "figure": figure, "graph": dcc.Graph(figure=figure),
        "numbers": (0.1, 1e300, -0.0), "nan": float("nan"), "inf": float("inf"),
        "when": datetime.datetime(2026, 11, 21, 12, 0, 5), "day": datetime.date(2026, 11, 21),
        "money": decimal.Decimal("1.25"), 7: "non-string key", "patch": patch,
    })
    assert "</script>" not in text and "\\u003c\\u002fscript\\u003e" in text  # still safe inside HTML
    # What orjson cannot take at all still goes through plotly (here an array-like that plotly lists).
    text = same_text({"array-like": ArrayLike([1, 2])})
    assert text == '{"array-like":[1,2]}'


class ArrayLike:
    def __init__(self, items):
        self.items = items

    def tolist(self):
        return list(self.items)


def test_the_app_answers_callbacks_through_it(r, keys, redis_url, sample_city):
    City(r, keys, sample_city).batch()
    app = create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), sample_city)
    assert dash._callback.to_json is fastjson.to_json and dash.dash.to_json is fastjson.to_json
    client = signed_in(app, r, keys, "viewer")
    body = {"output": "user-badge.children", "outputs": {"id": "user-badge", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/"}], "changedPropIds": [], "state": []}
    res = client.post("/_dash-update-component", json=body)
    assert res.status_code == 200
    assert orjson.loads(res.data)["response"]["user-badge"]["children"]  # who is signed in, and Sign out
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and layout.data.decode() == to_json_plotly(app.layout)
