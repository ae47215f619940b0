"""What every domain's KPI computer returns."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Computed:
    """A KPI value before judging: the number, its as-of time and its district breakdown.

    ``detail`` is free-form JSON for pages and the API (for example by-route or by-centre values).
    """
    value: float | None
    as_of: float | None
    by_district: dict[str, float | None] = field(default_factory=dict)
    inputs: int = 0
    detail: dict = field(default_factory=dict)
