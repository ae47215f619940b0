"""Dash's JSON encoding of callback answers and layouts, done by orjson in one pass.

Dash 4.4 encodes every answer with ``plotly.io.json.to_json_plotly``: orjson is tried first, fails on the
first Dash component it meets (a component is not a dict), and then the whole answer is rebuilt in Python
(``clean_to_json_compatible`` walks every number of every figure) before orjson runs again. On a page's
first paint that walk was ~40 % of the callback's time (bench/screens.py, README "Performance"). Here orjson
meets a component through its ``default`` hook (the component's ``to_plotly_json()``, as plotly's walk
does), so nothing is walked twice in Python. The text is the same: plotly's escaping of ``<``, ``>``,
``/``, U+2028 and U+2029 is kept, and anything orjson cannot take still goes through plotly.
"""
from __future__ import annotations

import decimal

import orjson
from plotly.io import _json as plotly_json

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_SWAP = plotly_json._swap_orjson  # ("<", "\\u003c"), (">", ...), ("/", ...), U+2028, U+2029


def _default(obj):
    to_json = getattr(obj, "to_plotly_json", None)
    if to_json is not None:
        return to_json()
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    raise TypeError(type(obj).__name__)


def to_json(value) -> str:
    """What ``dash._utils.to_json`` returns for ``value``, without plotly's second pass."""
    try:
        text = orjson.dumps(value, default=_default, option=OPTIONS).decode("utf8")
    except TypeError:
        return plotly_json.to_json_plotly(value)
    return plotly_json._safe(text, _SWAP)


def install() -> None:
    """Use ``to_json`` wherever Dash encodes a callback answer, the layout or the callback graph. Dash
    imports its ``to_json`` by name into these modules (checked by tests/test_fastjson.py)."""
    import dash._callback
    import dash._validate
    import dash.dash

    for module in (dash._callback, dash.dash, dash._validate):
        if getattr(module, "to_json", None) is not None:
            module.to_json = to_json
