"""Dash callbacks, one module per page or panel; each registers on the app it is given.

A domain's page callbacks live in ``callbacks.<domain>.register(app, store, settings)`` and are
found by name (see feeds.plugins).
"""
from __future__ import annotations

from feeds.plugins import domain_modules


def register_all(app, store, settings) -> None:
    from callbacks import overview, shell

    shell.register(app, store, settings)
    overview.register(app, store)
    for mod in domain_modules("callbacks", "register").values():
        mod.register(app, store, settings)
