"""The registry of feed adapters: ``python -m feeds list`` prints it.

Every module of this package is scanned: each ``Adapter`` subclass with a ``name`` is registered,
so a new adapter is a new module here and nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil

from feeds.framework import Adapter
from feeds.schema import DOMAINS


def _discover() -> dict[str, type[Adapter]]:
    found: dict[str, type[Adapter]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(mod).values():
            if (isinstance(obj, type) and issubclass(obj, Adapter) and obj.name
                    and obj.__module__ == mod.__name__):
                if obj.name in found and found[obj.name] is not obj:
                    raise RuntimeError(f"two adapters named {obj.name!r}: {found[obj.name]} and {obj}")
                found[obj.name] = obj
    order = {d: i for i, d in enumerate(DOMAINS)}
    return dict(sorted(found.items(), key=lambda kv: order.get(kv[1].domain, 99)))


ADAPTERS = _discover()
