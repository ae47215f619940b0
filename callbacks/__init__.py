"""Dash callbacks, one module per page or panel; each registers on the app it is given.

Every module here that defines ``register(app, store, settings)`` is registered (see
feeds.plugins.package_modules), the shell's first.
"""
from __future__ import annotations

from feeds.plugins import package_modules


def register_all(app, store, settings) -> None:
    modules = package_modules("callbacks", "register")
    modules.pop("shell").register(app, store, settings)
    for mod in modules.values():
        mod.register(app, store, settings)
