"""Who is signed in, in the top bar, with the sign-out button (a POST form with the CSRF token)."""
from __future__ import annotations

from dash import Input, Output, dcc, html

from dashboard.auth import csrf_token, current_user, describe


def register(app, store, settings) -> None:
    @app.callback(Output("user-badge", "children"), Input("url", "pathname"))
    def badge(_):
        user = current_user()
        if user is None:
            return []
        children = [html.Span(describe(user), className="user-name", id="user-name")]
        if not user.kiosk:  # a wall screen has no one at it to sign out
            children.append(html.Form(method="POST", action="/logout", children=[
                dcc.Input(type="hidden", name="csrf_token", value=csrf_token(), id="sign-out-csrf"),
                html.Button("Sign out", type="submit", id="sign-out", className="signout-button")]))
        return children
