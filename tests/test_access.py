"""Who may do what: every page, API route, Dash callback and action, for every role, on the server.

The table below is the product's access policy. Each row names the LEAST role that may use a route;
``expected()`` turns it into the status each of anonymous, kiosk, viewer, coordinator and admin gets:
anonymous 401 (a page: 303 to /login), a role below the row's 403, everyone else allowed.

HOW TO ADD YOUR ROUTE (alerts, annotations, ...):
  - API GET routes need nothing: every GET path of /api/v1/openapi.json is tried for every role (path
    parameters get SAMPLE_PARAMS values; a 404 for a sample id still proves access was granted).
  - A state-changing API route: a row in API_ACTIONS, e.g.
        ("POST", "/api/v1/alerts/{id}/ack", {"json": {...}}, "coordinator"),
    and call ``require_role("coordinator")`` first in the route.
  - A page: a row in PAGES, e.g. ("/alerts", "viewer"). A page only some roles may open sets
    ``ROLE = "admin"`` in its module and checks ``has_role`` in ``page()``.
  - A Dash callback: a row in CALLBACK_ROLES, "<module>.<function> <- <its first input's id>": its least
    role. The list of callbacks comes from the app's own callback map, so a new callback without a row
    fails; each is posted for every role with a generic body (``generic_body``). A state-changing callback
    calls ``require_role(...)`` first, its row names that role, and a row in CALLBACKS with a realistic
    body (``callback_body`` builds one) checks that a refused caller changed nothing.
  - Any other route (a Flask rule outside /api/v1): a row in ROUTES; the list comes from the server's
    url_map, so a new route without a row fails.
Every client is a tests.auth_helpers.signed_in client (its POSTs carry the CSRF token).
"""
from __future__ import annotations

import json
import logging
import re

import pytest

from app import create_app
from feeds.accounts import Accounts
from feeds.config import Settings
from feeds.kpi.catalogue import DOMAIN_ORDER
from tests.auth_helpers import bearer, make_kiosk, signed_in

WHO = ("anonymous", "kiosk", "viewer", "coordinator", "admin")
RANK = {"kiosk": 0, "viewer": 0, "coordinator": 1, "admin": 2}


def expected(least: str, who: str) -> str:
    """"signin" (401, or a redirect to /login for a page), "forbidden" (403) or "allowed"."""
    if who == "anonymous":
        return "signin"
    if who == "kiosk" and least != "viewer":
        return "forbidden"  # a kiosk is read-only whatever the row says
    return "allowed" if RANK[who] >= RANK[least] else "forbidden"


# ----------------------------------------------------------------------------- the table
PAGES = [("/", "viewer"), ("/traffic", "viewer"), ("/traffic?district=D5", "viewer"), ("/transit", "viewer"),
         ("/emergency", "viewer"), ("/environment", "viewer"), ("/services", "viewer"), ("/alerts", "viewer"),
         ("/district/D2", "viewer"), ("/kpi/city.score", "viewer"),
         ("/kpi/traffic.travel_time_index?range=week", "viewer"), ("/timeline", "viewer"),
         ("/emergency?incident=F-1", "viewer"), ("/wall", "viewer"), ("/admin", "admin")]

SAMPLE_PARAMS = {"id": "C1", "kpi_id": "city.score", "route_id": "R1"}  # any other parameter: "x"


def callback_body(outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]],
                  state: list[tuple[str, str, object]] = (), changed: list[str] = ()) -> dict:
    """The JSON Dash's renderer posts to /_dash-update-component."""
    many = len(outputs) > 1
    return {
        "output": (".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..") if many else f"{outputs[0][0]}.{outputs[0][1]}",
        "outputs": [{"id": i, "property": p} for i, p in outputs] if many else
        {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": list(changed)}


ADMIN_BUTTONS = ("admin-add-user", "admin-apply-user", "admin-add-kiosk", "admin-revoke-kiosk", "admin-add-token",
                 "admin-revoke-token")
ADMIN_OUTPUTS = [("admin-message", "children"), ("admin-users", "children"), ("admin-kiosks", "children"),
                 ("admin-tokens", "children"), ("admin-audit", "children"), ("admin-user-pick", "options"),
                 ("admin-kiosk-pick", "options"), ("admin-token-pick", "options"), ("admin-new-password", "value"),
                 ("admin-reset-password", "value")]
ADMIN_STATE_IDS = [("admin-new-name", "value"), ("admin-new-role", "value"), ("admin-new-password", "value"),
                   ("admin-user-pick", "value"), ("admin-user-action", "value"), ("admin-reset-password", "value"),
                   ("admin-kiosk-name", "value"), ("admin-kiosk-pick", "value"), ("admin-token-name", "value"),
                   ("admin-token-role", "value"), ("admin-token-pick", "value")]


def admin_action(button: str, **values) -> dict:
    state = [(i, p, values.get(i.removeprefix("admin-").replace("-", "_"))) for i, p in ADMIN_STATE_IDS]
    return callback_body(ADMIN_OUTPUTS, [(b, "n_clicks", 1 if b == button else 0) for b in ADMIN_BUTTONS],
                         state, [f"{button}.n_clicks"])


def alert_action(kind: str, alert_id: str = "A1", typed: str = "") -> dict:
    """An alert action on /alerts (callbacks/alerts.py): kind "ack", "assign" or "comment"."""
    ident = {"id": alert_id, "type": f"alert-{kind}"}
    inputs = [[{"id": ident, "property": "n_clicks", "value": 1}] if k == kind else [] for k in ("ack", "assign", "comment")]
    state = [[{"id": {"id": alert_id, "type": f"alert-{k}"}, "property": "value", "value": typed}] if k == kind_state
             else [] for k, kind_state in (("assign-name", f"{kind}-name"), ("comment-text", f"{kind}-text"))]
    return {"output": "..alerts-action-msg.children...alerts-poke.data..",
            "outputs": [{"id": "alerts-action-msg", "property": "children"}, {"id": "alerts-poke", "property": "data"}],
            "inputs": inputs, "state": state,
            "changedPropIds": [f'{{"id":"{alert_id}","type":"alert-{kind}"}}.n_clicks']}


def rule_action(kind: str, rule_id: str = "ems-turnout", new_rule: str | None = None) -> dict:
    """An alert-rule change in the admin-rules slot (callbacks/alerts.py): "toggle", "delete" or "add"."""
    ident = {"id": rule_id, "type": f"rule-{kind}"}
    inputs = [[{"id": ident, "property": "n_clicks", "value": 1}] if k == kind else [] for k in ("toggle", "delete")]
    inputs.append({"id": "admin-rule-add", "property": "n_clicks", "value": 1 if kind == "add" else 0})
    changed = "admin-rule-add.n_clicks" if kind == "add" else f'{{"id":"{rule_id}","type":"rule-{kind}"}}.n_clicks'
    return {"output": "..admin-rules-msg.children...admin-rules-poke.data...admin-rule-new.value..",
            "outputs": [{"id": "admin-rules-msg", "property": "children"}, {"id": "admin-rules-poke", "property": "data"},
                        {"id": "admin-rule-new", "property": "value"}],
            "inputs": inputs, "state": [{"id": "admin-rule-new", "property": "value", "value": new_rule}],
            "changedPropIds": [changed]}


def route_to(path: str) -> dict:
    return callback_body([("page", "children"), ("nav", "children")],
                         [("url", "pathname", path), ("url", "search", "")], changed=["url.pathname"])


OVERVIEW_OUTPUTS = ([("overview-score", "children"), ("overview-districts", "children"), ("overview-map", "figure"),
                     ("overview-map-ages", "children")]
                    + [(f"overview-domain-{d}", p) for d in DOMAIN_ORDER for p in ("children", "className")]
                    + [("overview-feeds", "children"), ("overview-version", "data")])


def overview_refresh() -> dict:
    return callback_body(OVERVIEW_OUTPUTS, [("tick", "n_intervals", 1), ("theme", "data", "dark")],
                         [("overview-view", "data", {}), ("overview-version", "data", None),
                          ("overview-map-size", "data", None)], ["tick.n_intervals"])


def add_note(prefix: str, n: int, *state) -> dict:
    """A note box's "Add note" click (prefix: kpi, timeline, emergency)."""
    return callback_body([(f"{prefix}-note-msg", "children"), (f"{prefix}-note-text", "value"),
                          (f"{prefix}-note-saved", "data")], [(f"{prefix}-note-add", "n_clicks", 1)],
                         [(f"{prefix}-note-text", "value", f"access check {n}"), (f"{prefix}-note-at", "value", None),
                          *state], [f"{prefix}-note-add.n_clicks"])


def delete_note(note_id: str) -> dict:
    """A delete button on /timeline (a pattern-matching input: Dash posts a list of one)."""
    return {"output": "..timeline-delete-msg.children...timeline-note-deleted.data..",
            "outputs": [{"id": "timeline-delete-msg", "property": "children"},
                        {"id": "timeline-note-deleted", "property": "data"}],
            "inputs": [[{"id": {"type": "note-delete", "note": note_id}, "property": "n_clicks", "value": 1}]],
            "state": [], "changedPropIds": [f'{{"note":"{note_id}","type":"note-delete"}}.n_clicks']}


CALLBACKS = [
    ("overview refresh", "viewer", lambda n: overview_refresh()),
    ("routing to a page", "viewer", lambda n: route_to("/traffic")),
    ("admin: add a user", "admin",
     lambda n: admin_action("admin-add-user", new_name=f"new-{n}", new_role="viewer", new_password="long enough pw")),
    ("admin: create a kiosk token", "admin", lambda n: admin_action("admin-add-kiosk", kiosk_name=f"screen-{n}")),
    ("admin: create an API token", "admin",
     lambda n: admin_action("admin-add-token", token_name=f"token-{n}", token_role="viewer")),
    ("admin: revoke a kiosk", "admin", lambda n: admin_action("admin-revoke-kiosk", kiosk_pick="victim-screen")),
    ("admin: disable a user", "admin",
     lambda n: admin_action("admin-apply-user", user_pick="victim-user", user_action="disable")),
    ("alerts: acknowledge", "coordinator", lambda n: alert_action("ack")),
    ("alerts: assign", "coordinator", lambda n: alert_action("assign", typed="bo")),
    ("alerts: comment", "coordinator", lambda n: alert_action("comment", typed="on it")),
    ("alert rules: add a rule", "admin", lambda n: rule_action("add", new_rule=(
        f'{{"id": "r-{n}", "kpi": "environment.aqi", "when": {{"op": ">", "value": 150}}, "severity": "major"}}'))),
    ("alert rules: disable a rule", "admin", lambda n: rule_action("toggle")),
    ("note on the timeline from a trend page", "coordinator", lambda n: add_note("kpi", n)),
    ("note on the timeline from /timeline", "coordinator", lambda n: add_note("timeline", n)),
    ("note on an incident", "coordinator",
     lambda n: add_note("emergency", n, ("emergency-focus", "data", {"incident": "F-1", "district": None}))),
    ("delete a timeline note", "coordinator", lambda n: delete_note("N-none")),  # unknown: "Not deleted" once allowed
]

API_ACTIONS: list[tuple[str, str, dict, str]] = [
    # (method, path, request kwargs, least role): state-changing API routes, e.g. alert acknowledgement.
    ("POST", "/api/v1/alerts/{id}/ack", {}, "coordinator"),
    ("POST", "/api/v1/alerts/{id}/assign", {"json": {"assignee": "bo"}}, "coordinator"),
    ("POST", "/api/v1/alerts/{id}/comment", {"json": {"text": "on it"}}, "coordinator"),
    ("POST", "/api/v1/annotations", {"json": {"target": "timeline", "text": "access check"}}, "coordinator"),
    ("DELETE", "/api/v1/annotations/{id}", {}, "coordinator"),  # an unknown note: 404 once allowed
]

# Every server-side Dash callback, "<module>.<function> <- <first input id>": the least role that may call it.
CALLBACK_ROLES = {
    "callbacks.shell.route <- url": "viewer",
    "callbacks.shell.connection <- tick": "viewer",
    "callbacks.account.badge <- url": "viewer",
    "callbacks.admin.act <- admin-add-user": "admin",
    "callbacks.alerts.refresh <- tick": "viewer",
    'callbacks.alerts.act <- {"id":["ALL"],"type":"alert-ack"}': "coordinator",
    "callbacks.alerts.fresh_forms <- alerts-poke": "viewer",  # forms only for a coordinator, else nothing
    "callbacks.alerts.badge <- tick": "viewer",
    "callbacks.alerts.overview_panel <- tick": "viewer",
    "callbacks.alerts.district_panel <- tick": "viewer",
    "callbacks.alerts.skeleton <- admin-rules": "admin",
    "callbacks.alerts.table <- tick": "admin",
    'callbacks.alerts.change <- {"id":["ALL"],"type":"rule-toggle"}': "admin",
    "callbacks.district.refresh <- tick": "viewer",
    "callbacks.overview.toggle_layers <- district-layers": "viewer",
    "callbacks.overview.drill_down <- district-map": "viewer",
    "callbacks.emergency.refresh <- tick": "viewer",
    "callbacks.emergency.incident_notes <- tick": "viewer",
    "callbacks.emergency.add_incident_note <- emergency-note-add": "coordinator",
    "callbacks.emergency.drill_down <- emergency-map": "viewer",
    "callbacks.environment.refresh <- tick": "viewer",
    "callbacks.environment.drill_down <- environment-map": "viewer",
    "callbacks.kpi.refresh <- tick": "viewer",
    "callbacks.kpi.add_note <- kpi-note-add": "coordinator",
    "callbacks.overview.refresh <- tick": "viewer",
    "callbacks.overview.toggle_layers <- overview-layers": "viewer",
    "callbacks.overview.drill_down <- overview-map": "viewer",
    "callbacks.services.refresh <- tick": "viewer",
    "callbacks.services.drill_down <- services-map": "viewer",
    "callbacks.timeline.refresh <- tick": "viewer",
    "callbacks.timeline.add <- timeline-note-add": "coordinator",
    'callbacks.timeline.delete <- {"note":["ALL"],"type":"note-delete"}': "coordinator",
    "callbacks.traffic.refresh <- tick": "viewer",
    "callbacks.traffic.drill_down <- traffic-map": "viewer",
    "callbacks.transit.refresh <- tick": "viewer",
    "callbacks.transit.drill_down <- transit-map": "viewer",
    "callbacks.wall.render <- wall-current": "viewer",
    "callbacks.wall.status <- tick": "viewer",
}

# Every Flask rule outside /api/v1 (whose GET routes come from the OpenAPI document and whose other
# methods are in API_ACTIONS): (a sample path, the least role; "open" = no sign-in needed, page=True when
# an anonymous GET is sent to /login rather than answered 401).
ROUTES = {
    "/": ("/", "viewer", True),
    "/<path:path>": ("/traffic", "viewer", True),
    "/static/<path:filename>": ("/static/x.css", "viewer", True),
    "/assets/<path:filename>": ("/assets/export.js", "viewer", False),
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>":
        ("/_dash-component-suites/dash/deps/polyfill@7.12.1.min.js", "viewer", False),
    "/_dash-layout": ("/_dash-layout", "viewer", False),
    "/_dash-dependencies": ("/_dash-dependencies", "viewer", False),
    "/_dash-update-component": (None, "viewer", False),  # every callback: test_every_dash_callback
    "/_reload-hash": ("/_reload-hash", "viewer", False),
    "/_favicon.ico": ("/_favicon.ico", "open", False),
    "/assets/theme.css": ("/assets/theme.css", "open", False),  # the sign-in page's own style
    "/healthz": ("/healthz", "open", False),
    "/login": ("/login", "open", False),
    "/logout": (None, "viewer", False),  # POST: test_sign_out
}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def app(redis_url, keys, sample_city):
    return create_app(Settings(redis_url, 8050, None, keys.prefix, 5, None), sample_city)


@pytest.fixture
def clients(app, r, keys):
    """One client per role: anonymous, a kiosk screen, and a signed-in user of each role."""
    out = {"anonymous": app.server.test_client()}
    for who in WHO[1:]:
        out[who] = signed_in(app, r, keys, who)
    for client in out.values():
        client.get("/_dash-layout")
    return out


def test_a_refused_callback_says_which_role_it_needs(clients):
    res = clients["coordinator"].post("/_dash-update-component", json=admin_action("admin-add-kiosk", kiosk_name="x"))
    assert res.status_code == 403 and res.json == {"error": "needs the admin role"}


def test_an_admin_cannot_lock_themselves_out(clients):
    admin = clients["admin"]
    res = admin.post("/_dash-update-component", json=admin_action(
        "admin-apply-user", user_pick=admin.user_name, user_action="role:viewer"))
    assert "cannot take the admin role from yourself" in res.get_data(as_text=True)
    res = admin.post("/_dash-update-component", json=admin_action(
        "admin-apply-user", user_pick=admin.user_name, user_action="disable"))
    assert "cannot disable yourself" in res.get_data(as_text=True)
    assert admin.get("/admin").status_code == 200


def check(who: str, least: str, status: int, what: str, page: bool = False) -> None:
    want = expected(least, who)
    if want == "signin":
        assert status == (303 if page else 401), f"{what} as {who}: {status}"
    elif want == "forbidden":
        assert status == 403, f"{what} as {who}: {status}"
    else:
        assert status not in (401, 403) and status < 500, f"{what} as {who}: {status}"


# ----------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("path, least", PAGES)
def test_pages(clients, path, least):
    for who, client in clients.items():
        res = client.get(path)
        check(who, least, res.status_code, f"GET {path}", page=True)
        if res.status_code == 303:
            assert res.headers["Location"].startswith("/login")


def api_get_paths(client) -> list[str]:
    spec = client.get("/api/v1/openapi.json").json
    paths = []
    for path, item in spec["paths"].items():
        if "get" in item:
            paths.append("/api/v1" + re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PARAMS.get(m.group(1), "x"),
                                            path.removeprefix("/api/v1")))
    return paths


def test_every_documented_api_get_route(clients, r, keys):
    paths = api_get_paths(clients["viewer"])
    assert "/api/v1/kpis" in paths and len(paths) >= 10
    for path in paths:
        for who, client in clients.items():
            check(who, "viewer", client.get(path).status_code, f"GET {path}")
        # The same with a Bearer token of each kind.
        for who in ("kiosk", "viewer", "coordinator", "admin"):
            status = clients["anonymous"].get(path, headers=bearer(r, keys, who)).status_code
            check(who, "viewer", status, f"GET {path} (Bearer)")


@pytest.mark.parametrize("name, least, body", CALLBACKS, ids=[c[0] for c in CALLBACKS])
def test_dash_callbacks(clients, r, keys, name, least, body):
    Accounts(r, keys).add_user("victim-user", "viewer", "long enough pw", by="test")
    Accounts(r, keys).add_kiosk("victim-screen", by="test")
    for n, (who, client) in enumerate(clients.items()):
        res = client.post("/_dash-update-component", json=body(n))
        check(who, least, res.status_code, f"callback {name!r}")
        if expected(least, who) == "allowed" and least == "admin":
            assert res.status_code == 200 and "error" not in res.get_data(as_text=True), res.get_data(as_text=True)[:300]
    # Nothing a refused caller asked for happened.
    assert Accounts(r, keys).user("victim-user")["disabled"] is (name == "admin: disable a user")
    assert bool(Accounts(r, keys).kiosk("victim-screen")["revoked_at"]) is (name == "admin: revoke a kiosk")


def test_state_changing_api_routes(app, clients):
    # Every API route that takes more than GET must have its row: found from the server's own routes.
    listed = {(method, re.sub(r"\{\w+\}", "<>", path)) for method, path, _, _ in API_ACTIONS}
    assert any(rule.rule == "/api/v1/kpis" for rule in app.server.url_map.iter_rules())  # the scan sees the API
    for rule in app.server.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api_v1.unknown":
            for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
                assert (method, re.sub(r"<[^>]+>", "<>", rule.rule)) in listed, f"{method} {rule.rule}: add it to API_ACTIONS"
    for method, path, kwargs, least in API_ACTIONS:
        url = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PARAMS.get(m.group(1), "x"), path)
        for who, client in clients.items():
            check(who, least, client.open(url, method=method, **kwargs).status_code, f"{method} {path}")


def test_the_admin_page_is_not_drawn_for_anyone_else_even_through_the_router(clients):
    for who, client in clients.items():
        res = client.post("/_dash-update-component", json=route_to("/admin"))
        if who == "anonymous":
            assert res.status_code == 401
            continue
        text = res.get_data(as_text=True)
        assert res.status_code == 200
        assert ("admin-users" in text) is (who == "admin"), who
        assert ("This page needs the admin role" in text) is (who != "admin"), who


def test_only_admins_see_the_admin_link_and_everyone_sees_who_they_are(clients):
    for who, client in list(clients.items())[1:]:
        nav = client.post("/_dash-update-component", json=route_to("/")).get_data(as_text=True)
        assert ("nav-admin" in nav) is (who == "admin"), who
        badge = client.post("/_dash-update-component", json=callback_body(
            [("user-badge", "children")], [("url", "pathname", "/")], changed=["url.pathname"])).json
        text = str(badge["response"]["user-badge"]["children"])
        if who == "kiosk":
            assert "wall: " in text and "Sign out" not in text
        else:
            assert f"({who})" in text and "Sign out" in text and "/logout" in text


def test_sign_out(clients):
    for who, client in clients.items():
        res = client.post("/logout")
        assert res.status_code == (401 if who == "anonymous" else 303), who
        if who != "anonymous":
            assert res.headers["Location"] == "/login"
            assert client.get("/api/v1/kpis").status_code == 401


def test_an_unauthenticated_post_to_a_dash_callback_is_refused(clients):
    body = CALLBACKS[0][2](0)
    res = clients["anonymous"].post("/_dash-update-component", json=body)
    assert res.status_code == 401
    assert clients["viewer"].post("/_dash-update-component", json=body).status_code == 200


def test_a_cookie_authenticated_post_without_the_csrf_token_is_refused(clients, r, keys):
    body = admin_action("admin-add-kiosk", kiosk_name="forged")
    res = clients["admin"].post("/_dash-update-component", json=body, csrf=False)
    assert res.status_code == 403
    assert clients["admin"].post("/logout", csrf=False).status_code == 403
    assert Accounts(r, keys).kiosk("forged") is None
    assert clients["admin"].get("/api/v1/kpis").status_code == 200  # still signed in


def test_a_revoked_kiosk_token_stops_working_for_the_api_and_the_page(app, r, keys):
    import time

    token = make_kiosk(r, keys, "wall-1")
    screen = app.server.test_client()
    assert screen.get(f"/?kiosk={token}").status_code == 303
    assert screen.get("/api/v1/kpis").status_code == 200
    admin = signed_in(app, r, keys, "admin")
    admin.get("/_dash-layout")
    res = admin.post("/_dash-update-component", json=admin_action("admin-revoke-kiosk", kiosk_pick="wall-1"))
    assert res.status_code == 200 and "revoked" in res.get_data(as_text=True)
    time.sleep(app.server.extensions["citybrain.auth"].section.kiosk_check_s + 0.1)
    assert screen.get("/api/v1/kpis").status_code == 401
    assert "kiosk token was revoked" in screen.get("/").get_data(as_text=True)
    assert app.server.test_client().get("/api/v1/kpis", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_expired_session_and_a_disabled_user_are_refused(app, r, keys):
    import time

    expired = signed_in(app, r, keys, "coordinator")
    with expired.session_transaction() as s:
        s["iat"] = time.time() - app.server.extensions["citybrain.auth"].session_s - 1
    assert expired.get("/api/v1/kpis").status_code == 401
    assert expired.post("/_dash-update-component", json=CALLBACKS[0][2](0)).status_code == 401
    disabled = signed_in(app, r, keys, "admin")
    Accounts(r, keys).disable(disabled.user_name, by="another-admin")
    assert disabled.get("/api/v1/kpis").status_code == 401
    assert disabled.get("/admin").status_code == 303


def test_secrets_never_appear_in_pages_or_logs(app, r, keys, caplog):
    kiosk = make_kiosk(r, keys, "lobby")
    api = Accounts(r, keys).add_api_token("reporting", "viewer", by="test")
    with caplog.at_level(logging.DEBUG):
        admin = signed_in(app, r, keys, "admin")
        screen = app.server.test_client()
        screen.get(f"/?kiosk={kiosk}")
        seen = [admin.get(p).get_data(as_text=True) for p in ("/", "/admin", "/login", "/_dash-layout")]
        seen.append(admin.post("/_dash-update-component", json=route_to("/admin")).get_data(as_text=True))
        seen.append(admin.get("/api/v1/kpis", headers={"Authorization": f"Bearer {api}"}).get_data(as_text=True))
        seen.append(screen.get("/api/v1/kpis").get_data(as_text=True))
    secret = r.get(keys.auth_secret())
    sha = {u["name"]: u for u in Accounts(r, keys).kiosks()}["lobby"]["sha256"]
    for text in seen + [caplog.text]:
        for value in (kiosk, api, secret, sha, "scrypt:"):
            assert value not in text


# ----------------------------------------------------------------------------- generated from the app
SAMPLE_VALUES = {"n_clicks": 1, "n_intervals": 1, "pathname": "/", "search": "", "interval": 5000}


def callback_name(spec: dict) -> str:
    fn = spec["callback"]
    fn = getattr(fn, "__wrapped__", fn)
    return f"{fn.__module__}.{fn.__name__} <- {spec['inputs'][0]['id']}"


def server_callbacks(app) -> dict[str, tuple[str, dict]]:
    """{name: (callback map key, spec)} of every callback the server runs (clientside ones never reach it)."""
    out = {}
    for key, spec in app.callback_map.items():
        if spec.get("callback") is not None:
            assert callback_name(spec) not in out, f"two callbacks named {callback_name(spec)!r}"
            out[callback_name(spec)] = (key, spec)
    return out


def generic_body(key: str, spec: dict) -> dict:
    """A body as Dash's renderer posts it when the first input changed: clicks and ticks 1, the rest empty;
    a pattern-matching (ALL) dependency is a list of one component with the wildcard filled in."""
    def dep(d):
        value = SAMPLE_VALUES.get(d["property"])
        if not d["id"].startswith("{"):
            return {"id": d["id"], "property": d["property"], "value": value}
        ident = {k: ("x" if isinstance(v, list) else v) for k, v in json.loads(d["id"]).items()}
        wildcard = any(v == ["MATCH"] for v in json.loads(d["id"]).values())
        one = {"id": ident, "property": d["property"], "value": value}
        return one if wildcard else [one]

    outputs = [part.split("@")[0].rsplit(".", 1) for part in
               (key[2:-2].split("...") if key.startswith("..") else [key])]
    inputs = [dep(d) for d in spec["inputs"]]
    first = inputs[0] if isinstance(inputs[0], dict) else inputs[0][0]
    first_id = first["id"] if isinstance(first["id"], str) else json.dumps(first["id"], sort_keys=True,
                                                                           separators=(",", ":"))
    return {"output": key, "outputs": [{"id": i, "property": p} for i, p in outputs] if key.startswith("..")
            else {"id": outputs[0][0], "property": outputs[0][1]},
            "inputs": inputs, "state": [dep(d) for d in spec.get("state", [])],
            "changedPropIds": [f"{first_id}.{first['property']}"]}


def test_every_dash_callback_has_a_row(app):
    names = set(server_callbacks(app))
    assert len(names) >= 30  # the scan sees the app's callbacks
    assert not names - set(CALLBACK_ROLES), f"add rows to CALLBACK_ROLES: {sorted(names - set(CALLBACK_ROLES))}"
    assert not set(CALLBACK_ROLES) - names, f"rows of callbacks that are gone: {sorted(set(CALLBACK_ROLES) - names)}"


def test_every_dash_callback(app, clients):
    """Each callback of the app, posted by every role: the wrong role is refused, the right one served."""
    for name, (key, spec) in server_callbacks(app).items():
        least = CALLBACK_ROLES.get(name, "viewer")
        body = generic_body(key, spec)
        for who, client in clients.items():
            res = client.post("/_dash-update-component", json=body)
            check(who, least, res.status_code, f"callback {name!r} ({res.get_data(as_text=True)[:200]})")


def test_every_route_has_a_row_and_refuses_the_wrong_role(app, clients):
    spec = clients["viewer"].get("/api/v1/openapi.json").json
    documented = {re.sub(r"\{\w+\}", "<>", p) for p in spec["paths"]}
    rules = list(app.server.url_map.iter_rules())
    for rule in rules:
        if rule.rule.startswith("/api/v1/"):
            if "GET" in rule.methods and rule.endpoint not in ("api_v1.unknown", "api_v1.openapi"):
                assert re.sub(r"<[^>]+>", "<>", rule.rule) in documented, f"GET {rule.rule}: not in the OpenAPI document"
        else:
            assert rule.rule in ROUTES, f"{rule.rule}: add it to ROUTES"
    for rule, (path, least, page) in ROUTES.items():
        if path is None:
            continue
        for who, client in clients.items():
            status = client.get(path).status_code
            if least == "open":
                assert status not in (401, 403), f"GET {path} as {who}: {status}"
            else:
                check(who, least, status, f"GET {path}", page=page)
