"""Who a request is from, for the notes, trend page and export tests: clients signed in per role
(tests/auth_helpers.py), made once per test and kept."""
from __future__ import annotations

from tests.auth_helpers import signed_in


class Roles:
    """``roles("coordinator")`` -> a test client signed in as a new coordinator (the same one on every
    call); ``roles(None)`` -> a client that never signed in. Roles: viewer, coordinator, admin, kiosk."""

    def __init__(self, app, r, keys):
        self.app, self.r, self.keys = app, r, keys
        self.clients = {}

    def __call__(self, role: str | None):
        if role not in self.clients:
            self.clients[role] = (self.app.server.test_client() if role is None
                                  else signed_in(self.app, self.r, self.keys, role))
        return self.clients[role]
