"""Dash callbacks, one module per page or panel; each registers on the app it is given."""
from __future__ import annotations


def register_all(app, store, settings) -> None:
    from callbacks import overview, shell, traffic

    shell.register(app, store, settings)
    overview.register(app, store)
    traffic.register(app, store, settings)
