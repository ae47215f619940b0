"""Domain plug-ins: each domain adds its own modules and nothing else needs editing.

For every domain in ``feeds.schema.DOMAINS`` the following modules are optional, found by name:

- ``feeds.adapters.<any>``  : Adapter subclasses (found by scanning the package; see feeds.adapters)
- ``feeds.kpi.<domain>``    : ``compute(engine) -> {kpi_id: (Computed, freshness_s)}``
- ``feeds.simulate.<domain>``: ``simulators(city) -> [(adapter, generator, interval_s)]``
- ``dashboard.pages.<domain>``: ``page(store, query) -> component`` (the page at ``/<domain>``)
- ``callbacks.<domain>``    : ``register(app, store, settings)``
- ``dashboard.routes.<domain>``: ``register(api_blueprint, store)`` and ``openapi() -> {"paths", "schemas"}``

Pages, callbacks and API routes that are not a domain's (alerts, districts, the wall, admin) plug in
the same way under any name: ``package_modules`` finds every module of the package that defines the
attribute. ``/<name>[/<id>]`` is the page of ``dashboard.pages.<name>.page(store, query)`` (with
``query["id"]`` set from the path), and ``/`` is ``dashboard.pages.overview``.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
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


def package_modules(package: str, attr: str) -> dict[str, ModuleType]:
    """{module name: module} for every module directly in ``package`` that defines ``attr``."""
    pkg = importlib.import_module(package)
    out = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{package}.{info.name}")
        if hasattr(mod, attr):
            out[info.name] = mod
    return out
