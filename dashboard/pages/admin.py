"""Admin "/admin": users, wall screens (kiosk tokens) and API tokens, and the audit of their changes.
Admins only: the server checks the role when the page is opened (``ROLE``), in ``page()`` and in
every callback (callbacks/admin.py). Alert-rule administration fills ``admin-rules``."""
from __future__ import annotations

from dash import dcc, html

from dashboard.auth import current_user, has_role
from feeds.accounts import ROLES
from feeds.timeparse import epoch_to_iso

ROLE = "admin"  # dashboard.auth refuses the page to anyone else
ACTIONS = [{"label": f"make {r}", "value": f"role:{r}"} for r in ROLES] + [
    {"label": "disable", "value": "disable"}, {"label": "enable", "value": "enable"},
    {"label": "set a new password", "value": "password"}]


def not_allowed(role: str) -> html.Div:
    return html.Div([html.H1("Not allowed"), html.P(f"This page needs the {role} role.")], className="not-allowed")


def page(store, query: dict) -> html.Div:
    if not has_role(current_user(), ROLE):
        return not_allowed(ROLE)
    from feeds.accounts import Accounts

    accounts = Accounts(store.r, store.keys)
    tables = render_tables(accounts.users(), accounts.kiosks(), accounts.api_tokens(), accounts.audit(20))
    roles = [{"label": r, "value": r} for r in ROLES]
    return html.Div(className="admin-page", children=[
        html.H1("Administration"),
        html.Div(id="admin-message", className="admin-message-area"),
        html.Section(id="admin-users-section", children=[
            html.H2("Users"),
            html.Div(tables["users"], id="admin-users"),
            html.Div(className="admin-form", children=[
                dcc.Input(id="admin-new-name", placeholder="name", autoComplete="off"),
                dcc.Dropdown(id="admin-new-role", options=roles, value="viewer", clearable=False,
                             className="admin-dropdown"),
                dcc.Input(id="admin-new-password", type="password", placeholder="password (10+ characters)",
                          autoComplete="new-password"),
                html.Button("Add user", id="admin-add-user", className="admin-button", n_clicks=0),
            ]),
            html.Div(className="admin-form", children=[
                dcc.Dropdown(id="admin-user-pick", options=tables["user_options"], placeholder="user",
                             className="admin-dropdown"),
                dcc.Dropdown(id="admin-user-action", options=ACTIONS, placeholder="change", className="admin-dropdown"),
                dcc.Input(id="admin-reset-password", type="password", placeholder="new password (for a reset)",
                          autoComplete="new-password"),
                html.Button("Apply", id="admin-apply-user", className="admin-button", n_clicks=0),
            ]),
        ]),
        html.Section(id="admin-kiosks-section", children=[
            html.H2("Wall screens (kiosk tokens)"),
            html.P("A screen signs in by opening its wall link once; it stays signed in until its token is revoked.",
                   className="muted"),
            html.Div(tables["kiosks"], id="admin-kiosks"),
            html.Div(className="admin-form", children=[
                dcc.Input(id="admin-kiosk-name", placeholder="screen name, e.g. lobby-wall", autoComplete="off"),
                html.Button("Create kiosk token", id="admin-add-kiosk", className="admin-button", n_clicks=0),
                dcc.Dropdown(id="admin-kiosk-pick", options=tables["kiosk_options"], placeholder="screen",
                             className="admin-dropdown"),
                html.Button("Revoke", id="admin-revoke-kiosk", className="admin-button", n_clicks=0),
            ]),
        ]),
        html.Section(id="admin-tokens-section", children=[
            html.H2("API tokens"),
            html.Div(tables["tokens"], id="admin-tokens"),
            html.Div(className="admin-form", children=[
                dcc.Input(id="admin-token-name", placeholder="token name, e.g. reporting", autoComplete="off"),
                dcc.Dropdown(id="admin-token-role", options=roles, value="viewer", clearable=False,
                             className="admin-dropdown"),
                html.Button("Create API token", id="admin-add-token", className="admin-button", n_clicks=0),
                dcc.Dropdown(id="admin-token-pick", options=tables["token_options"], placeholder="token",
                             className="admin-dropdown"),
                html.Button("Revoke", id="admin-revoke-token", className="admin-button", n_clicks=0),
            ]),
        ]),
        html.Section(id="admin-rules-section", children=[html.Div(id="admin-rules")]),
        html.Section([html.H2("Recent changes"), html.Div(tables["audit"], id="admin-audit")]),
    ])


def _when(epoch) -> str:
    return epoch_to_iso(epoch) if epoch else "—"


def _table(head: list[str], rows: list[list], empty: str, table_id: str):
    if not rows:
        return html.P(empty, className="muted")
    return html.Table(id=table_id, children=[html.Thead(html.Tr([html.Th(h) for h in head])),
                                             html.Tbody([html.Tr([html.Td(c) for c in row]) for row in rows])])


def render_tables(users: list[dict], kiosks: list[dict], tokens: list[dict], audit: list[dict]) -> dict:
    """The tables and pickers of the page from the account lists (never a hash or a token)."""
    user_rows = [[u["name"], u["role"], "disabled" if u.get("disabled") else "enabled",
                  f"{_when(u['created_at'])} by {u['created_by']}"] for u in users]
    kiosk_rows = [[k["name"], f"{_when(k['created_at'])} by {k['created_by']}",
                   f"revoked {_when(k['revoked_at'])} by {k['revoked_by']}" if k.get("revoked_at") else "live"]
                  for k in kiosks]
    token_rows = [[t["name"], t["role"], f"{_when(t['created_at'])} by {t['created_by']}",
                   f"revoked {_when(t['revoked_at'])} by {t['revoked_by']}" if t.get("revoked_at") else "live"]
                  for t in tokens]
    audit_rows = [[_when(a["at"]), a["by"], a["action"], a["subject"]] for a in audit]
    return {
        "users": _table(["name", "role", "state", "created"], user_rows, "No users yet.", "admin-users-table"),
        "kiosks": _table(["screen", "created", "state"], kiosk_rows, "No wall screens yet.", "admin-kiosks-table"),
        "tokens": _table(["name", "role", "created", "state"], token_rows, "No API tokens yet.", "admin-tokens-table"),
        "audit": _table(["when", "who", "what", "whom"], audit_rows, "Nothing yet.", "admin-audit-table"),
        "user_options": [{"label": u["name"], "value": u["name"]} for u in users],
        "kiosk_options": [{"label": k["name"], "value": k["name"]} for k in kiosks if not k.get("revoked_at")],
        "token_options": [{"label": t["name"], "value": t["name"]} for t in tokens if not t.get("revoked_at")],
    }
