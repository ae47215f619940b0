"""The admin page's actions. Each one checks the admin role on the server first (require_role)."""
from __future__ import annotations

from dash import Input, Output, State, ctx, html
from flask import request

from dashboard.auth import require_role
from dashboard.pages.admin import render_tables
from feeds.accounts import AccountError, Accounts

BUTTONS = ("admin-add-user", "admin-apply-user", "admin-add-kiosk", "admin-revoke-kiosk", "admin-add-token",
           "admin-revoke-token")


def register(app, store, settings) -> None:
    accounts = Accounts(store.r, store.keys)

    @app.callback(
        Output("admin-message", "children"),
        Output("admin-users", "children"), Output("admin-kiosks", "children"), Output("admin-tokens", "children"),
        Output("admin-audit", "children"), Output("admin-user-pick", "options"),
        Output("admin-kiosk-pick", "options"), Output("admin-token-pick", "options"),
        Output("admin-new-password", "value"), Output("admin-reset-password", "value"),
        *[Input(b, "n_clicks") for b in BUTTONS],
        State("admin-new-name", "value"), State("admin-new-role", "value"), State("admin-new-password", "value"),
        State("admin-user-pick", "value"), State("admin-user-action", "value"),
        State("admin-reset-password", "value"), State("admin-kiosk-name", "value"),
        State("admin-kiosk-pick", "value"), State("admin-token-name", "value"), State("admin-token-role", "value"),
        State("admin-token-pick", "value"),
        prevent_initial_call=True,
    )
    def act(*args):
        admin = require_role("admin")  # first: the server decides, whatever the page shows
        (new_name, new_role, new_password, pick, action, reset_password, kiosk_name, kiosk_pick, token_name,
         token_role, token_pick) = args[len(BUTTONS):]
        try:
            message = store.call(perform, accounts, ctx.triggered_id, admin.name, new_name, new_role, new_password,
                                 pick, action, reset_password, kiosk_name, kiosk_pick, token_name, token_role,
                                 token_pick, request.host_url.rstrip("/"))
            note = html.Div(message, className="admin-message")
        except AccountError as e:
            note = html.Div(str(e)[:1].upper() + str(e)[1:] + ".", className="admin-message error", role="alert")
        t = store.call(lambda: render_tables(accounts.users(), accounts.kiosks(), accounts.api_tokens(),
                                             accounts.audit(20)))
        return (note, t["users"], t["kiosks"], t["tokens"], t["audit"], t["user_options"], t["kiosk_options"],
                t["token_options"], "", "")


def perform(accounts: Accounts, button, by, new_name, new_role, new_password, pick, action, reset_password,
            kiosk_name, kiosk_pick, token_name, token_role, token_pick, base_url):
    """One admin action; returns what to tell the admin (a new token is shown here once)."""
    if button == "admin-add-user":
        user = accounts.add_user((new_name or "").strip(), new_role or "viewer", new_password or "", by=by)
        return f"User {user['name']} added ({user['role']})."
    if button == "admin-apply-user":
        if not pick or not action:
            raise AccountError("pick a user and a change")
        if action.startswith("role:"):
            if pick == by and action != "role:admin":
                raise AccountError("you cannot take the admin role from yourself (another admin can)")
            accounts.set_role(pick, action[5:], by=by)
            return f"{pick} is now {action[5:]}."
        if action == "disable":
            if pick == by:
                raise AccountError("you cannot disable yourself")
            accounts.disable(pick, by=by)
            return f"{pick} is disabled and signed out everywhere."
        if action == "enable":
            accounts.enable(pick, by=by)
            return f"{pick} is enabled."
        if action == "password":
            accounts.set_password(pick, reset_password or "", by=by)
            return f"{pick} has a new password and is signed out everywhere."
        raise AccountError(f"unknown change {action!r}")
    if button == "admin-add-kiosk":
        name = (kiosk_name or "").strip()
        token = accounts.add_kiosk(name, by=by)
        link = f"{base_url}/wall?kiosk={token}"
        return [html.P(f"Kiosk token of screen {name}, shown only now: open this link once on the screen."),
                html.P(html.Code(link, className="admin-secret", id="admin-new-kiosk-link"))]
    if button == "admin-revoke-kiosk":
        if not kiosk_pick:
            raise AccountError("pick a screen")
        accounts.revoke_kiosk(kiosk_pick, by=by)
        return f"Screen {kiosk_pick} is signed out: its kiosk token is revoked."
    if button == "admin-add-token":
        name = (token_name or "").strip()
        token = accounts.add_api_token(name, token_role or "viewer", by=by)
        return [html.P(f"API token {name} ({token_role}), shown only now; send it as 'Authorization: Bearer <token>':"),
                html.P(html.Code(token, className="admin-secret", id="admin-new-api-token"))]
    if button == "admin-revoke-token":
        if not token_pick:
            raise AccountError("pick a token")
        accounts.revoke_api_token(token_pick, by=by)
        return f"API token {token_pick} is revoked."
    raise AccountError("nothing to do")
