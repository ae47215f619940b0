"""The admin's alert rules (slot "admin-rules" on /admin) and the operator callbacks: only the right role
changes anything, through the Dash callback endpoint as through the page."""
from __future__ import annotations

import orjson
import pytest

from app import create_app
from feeds.alert_rules import RuleBook
from feeds.alerts import AlertBook
from feeds.config import Settings
from tests.auth_helpers import sign_in, signed_in
from tests.test_alert_rules import TURNOUT, make_city
from tests.test_browser import free_port, no_console_errors

CITY = make_city([TURNOUT])
NEW_RULE = {"id": "long-wait", "kpi": "services.wait_min", "when": {"op": ">", "value": 30}, "severity": "warning"}


class As:
    """The app and a test client signed in with ``role`` ("kiosk": a wall screen; None: nobody)."""

    def __init__(self, app, client):
        self.app, self.client = app, client


@pytest.fixture
def make_app(redis_url, r, keys):
    def make(role: str | None, name: str | None = None) -> As:
        app = create_app(Settings(redis_url, 8050, None, keys.prefix, 1.0, None), CITY)
        return As(app, signed_in(app, r, keys, role, name) if role else app.server.test_client())
    return make


def _prop_id(ident, prop: str) -> str:
    return (orjson.dumps(ident, option=orjson.OPT_SORT_KEYS).decode() if isinstance(ident, dict) else ident) + "." + prop


def call(who: As, output_id: str, inputs: list, state: list = (), changed: tuple = None):
    """POST one callback to /_dash-update-component as the browser does; the callback is the one whose first
    output is ``output_id``. ``inputs``/``state``: (id, prop, value) each, or a list of them for an ALL pattern;
    ``changed``: (id, prop) of the input that fired. Returns (status, response)."""
    key = next(k for k in who.app.callback_map if k.strip(".").startswith(output_id + "."))
    outputs = []
    for part in key.strip(".").split("..."):
        ident, prop = part.rsplit(".", 1)
        outputs.append({"id": ident, "property": prop})

    def wire(items):
        return [[{"id": i, "property": p, "value": v} for i, p, v in x] if isinstance(x, list)
                else {"id": x[0], "property": x[1], "value": x[2]} for x in items]

    body = {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": wire(inputs),
            "state": wire(state), "changedPropIds": [_prop_id(*changed)]}
    res = who.client.post("/_dash-update-component", data=orjson.dumps(body), content_type="application/json")
    return res.status_code, (orjson.loads(res.data)["response"] if res.status_code == 200 else res.data)


def add_rule(who: As, rule: dict):
    return call(who, "admin-rules-msg", [[], [], ("admin-rule-add", "n_clicks", 1)],
                [("admin-rule-new", "value", orjson.dumps(rule).decode())], changed=("admin-rule-add", "n_clicks"))


def toggle(who: As, rule_id: str) -> int:
    ident = {"id": rule_id, "type": "rule-toggle"}
    return call(who, "admin-rules-msg", [[(ident, "n_clicks", 1)], [], ("admin-rule-add", "n_clicks", 0)],
                [("admin-rule-new", "value", None)], changed=(ident, "n_clicks"))[0]


def acknowledge(who: As, alert_id: str):
    ident = {"id": alert_id, "type": "alert-ack"}
    return call(who, "alerts-action-msg", [[(ident, "n_clicks", 1)], [], []], [[], []], changed=(ident, "n_clicks"))


def test_an_admin_adds_a_runtime_rule_and_it_is_recorded_with_who(make_app, r, keys):
    app = make_app("admin", "root")
    status, response = add_rule(app, NEW_RULE)
    assert status == 200 and response["admin-rules-msg"]["children"] == "Rule long-wait added by root."
    (stored,) = RuleBook(r, keys, CITY).audit()
    assert (stored["rule"], stored["action"], stored["by"]) == ("long-wait", "added", "root")
    # A bad rule is refused with the one-line reason, and nothing is stored.
    status, response = add_rule(app, {**NEW_RULE, "id": "typo", "kpi": "services.wait"})
    assert response["admin-rules-msg"]["children"] == "new rule: rule 'typo': unknown KPI 'services.wait' (see feeds/kpi/catalogue.py)"
    assert set(RuleBook(r, keys, CITY).runtime()) == {"long-wait"}


@pytest.mark.parametrize("role, refused", [(None, 401), ("viewer", 403), ("coordinator", 403), ("kiosk", 403)])
def test_nobody_but_an_admin_changes_the_rules(make_app, r, keys, role, refused):
    app = make_app(role)
    status, _ = add_rule(app, NEW_RULE)
    assert status == refused
    assert toggle(app, "ems-turnout") == refused
    assert RuleBook(r, keys, CITY).runtime() == {} and RuleBook(r, keys, CITY).disabled() == {}


def test_an_admin_disables_a_config_rule(make_app, r, keys):
    app = make_app("admin", "root")
    assert toggle(app, "ems-turnout") == 200
    assert RuleBook(r, keys, CITY).disabled()["ems-turnout"]["by"] == "root"
    assert toggle(app, "ems-turnout") == 200
    assert RuleBook(r, keys, CITY).disabled() == {}


@pytest.mark.parametrize("role, refused", [(None, 401), ("viewer", 403), ("kiosk", 403)])
def test_the_server_refuses_an_acknowledgement_from_anyone_but_a_coordinator(make_app, r, keys, role, refused):
    book = AlertBook(r, keys)
    a = book.raise_alert("aqi", "D1", "critical", "Unhealthy air", "AQI 162", now=1)
    status, _ = acknowledge(make_app(role), a["id"])
    assert status == refused
    assert book.get(a["id"])["acknowledged"] is False


def click_until(dash_duo, button: str, where: str, text: str, tries: int = 3) -> None:
    """Click ``button`` until ``where`` says ``text``: a button drawn by the table's re-render a moment ago
    can take a click before its callback is wired, and the click is lost (the browser's race, not the
    server's). A button gone means an earlier click did land."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException

    for attempt in range(tries):
        try:
            dash_duo.find_element(button).click()
        except (NoSuchElementException, StaleElementReferenceException):
            if attempt == 0:
                raise
        try:
            dash_duo.wait_for_text_to_equal(where, text, timeout=4 if attempt < tries - 1 else 10)
            return
        except TimeoutException:
            if attempt == tries - 1:
                raise


@pytest.mark.browser
def test_the_admin_rules_table_disables_adds_and_deletes_rules(dash_duo, r, keys, redis_url):
    app = create_app(Settings(redis_url, 8050, None, keys.prefix, 1.0, None), CITY)
    dash_duo.start_server(app, navigate=False, port=free_port())
    sign_in(dash_duo, r, keys, "admin", name="root", path="/admin")  # its "admin-rules" slot
    dash_duo.wait_for_contains_text("#rule-row-ems-turnout", "CITY_CONFIG", timeout=10)
    assert "emergency.turnout_p90_s breach, city-wide; escalates every 600 s" in dash_duo.find_element(
        "#rule-row-ems-turnout").text
    dash_duo.find_element("#rule-row-ems-turnout button").click()
    dash_duo.wait_for_contains_text("#rule-row-ems-turnout", "disabled by root", timeout=10)
    dash_duo.find_element("#admin-rule-new").send_keys(orjson.dumps(NEW_RULE).decode())
    dash_duo.find_element("#admin-rule-add").click()
    dash_duo.wait_for_contains_text("#rule-row-long-wait", "added by root", timeout=10)
    click_until(dash_duo, "#rule-row-long-wait button.danger", "#admin-rules-msg", "Rule long-wait deleted by root.")
    dash_duo.wait_for_no_elements("#rule-row-long-wait", timeout=10)
    assert [a["action"] for a in reversed(RuleBook(r, keys, CITY).audit())] == ["disabled", "added", "deleted"]
    no_console_errors(dash_duo)


def test_a_coordinator_acknowledges_through_the_callback(make_app, r, keys):
    book = AlertBook(r, keys)
    a = book.raise_alert("aqi", "D1", "critical", "Unhealthy air", "AQI 162", now=1)
    status, response = acknowledge(make_app("coordinator", "ana"), a["id"])
    assert status == 200 and response["alerts-action-msg"]["children"] == f"Acknowledged {a['id']} as ana."
    assert book.get(a["id"])["acknowledged_by"] == "ana"
