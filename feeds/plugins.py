"""Domain plug-ins: each domain adds its own modules and nothing else needs editing.

For every domain in ``feeds.schema.DOMAINS`` the following modules are optional, found by name:

- ``feeds.adapters.<any>``  : Adapter subclasses (found by scanning the package; see feeds.adapters)
- ``feeds.kpi.<domain>``    : ``compute(engine) -> {kpi_id: (Computed, freshness_s)}``
- ``feeds.simulate.<domain>``: ``simulators(city) -> [(adapter, generator, interval_s)]``
- ``dashboard.pages.<domain>``: ``page(store, query) -> component`` (the page at ``/<domain>``)
- ``callbacks.<domain>``    : ``register(app, store, settings)``
- ``dashboard.routes.<domain>``: ``register(api_blueprint, store)`` and ``openapi() -> {"paths", "schemas"}``
"""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from feeds.schema import DOMAINS


def domain_module(package: str, domain: str) -> ModuleType | None:
    name = f"{package}.{domain}"
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def domain_modules(package: str, attr: str) -> dict[str, ModuleType]:
    """{domain: module} for every domain whose ``package.<domain>`` module defines ``attr``."""
    out = {}
    for domain in DOMAINS:
        mod = domain_module(package, domain)
        if mod is not None and hasattr(mod, attr):
            out[domain] = mod
    return out
