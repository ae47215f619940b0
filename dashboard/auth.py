"""Sign-in and roles. The interface every page, callback and route uses to check who is asking.

Roles, each including the rights of the ones before it:
  viewer      read every KPI and page (a department head)
  coordinator also acknowledges and assigns alerts and annotates incidents and the timeline
  admin       also manages users, kiosk tokens and alert rules
A kiosk (a wall screen signed in with its own token) is a read-only viewer.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import g, has_request_context
from werkzeug.exceptions import Forbidden

ROLES = ("viewer", "coordinator", "admin")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    kiosk: bool = False  # a wall screen's token: read-only whatever else it says


def current_user() -> User | None:
    """Who this request is from (set by the sign-in check before every request), or None."""
    return g.get("user") if has_request_context() else None


def has_role(user: User | None, role: str) -> bool:
    if user is None:
        return False
    if user.kiosk:
        return role == "viewer"
    return ROLES.index(user.role) >= ROLES.index(role)


def require_role(role: str) -> User:
    """The current user if they hold ``role``; else 403. Call it first in every state-changing
    callback and route: the server enforces roles, hiding a button is only a courtesy."""
    user = current_user()
    if not has_role(user, role):
        raise Forbidden(f"needs the {role} role")
    return user
