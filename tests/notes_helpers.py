"""Who a test request is from, for the notes and export tests.

``act_as(app)`` lets a request say its user in the ``X-Test-As`` header or the ``test_as`` cookie
(``name:role``, role ``kiosk`` for a wall screen), set before every request like the sign-in check
sets it. Only the tests' own app instances get this hook; the product never reads either."""
from __future__ import annotations

from flask import g, request

from dashboard.auth import User


def act_as(app):
    @app.server.before_request
    def _test_user():
        who = request.headers.get("X-Test-As") or request.cookies.get("test_as")
        if who:
            name, _, role = who.partition(":")
            g.user = User(name, "viewer" if role == "kiosk" else role, kiosk=role == "kiosk")
    return app


COORDINATOR = {"X-Test-As": "ana:coordinator"}
VIEWER = {"X-Test-As": "vic:viewer"}
KIOSK = {"X-Test-As": "wall-1:kiosk"}
