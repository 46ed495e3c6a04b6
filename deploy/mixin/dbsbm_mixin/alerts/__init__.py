"""Every alert, one module per area; each ``Alert`` is the whole definition (see ``model``).

Adding an alert: append an ``Alert`` to its area's ``ALERTS`` (a new area is a new module
listed below), then ``make generate``.
"""

from __future__ import annotations

from dbsbm_mixin import rules
from dbsbm_mixin.alerts import api, cache, commands, database, health, pipeline, resilience
from dbsbm_mixin.model import Alert

ALERTS: tuple[Alert, ...] = (
    *api.ALERTS,
    *database.ALERTS,
    *cache.ALERTS,
    *resilience.ALERTS,
    *commands.ALERTS,
    *health.ALERTS,
    *pipeline.ALERTS,
)

# Rule and test files, in order: the areas with recording rules, then the rest.
AREAS: tuple[str, ...] = tuple(dict.fromkeys([*rules.RECORDS, *(a.area for a in ALERTS)]))


def _check_names() -> None:
    names = [a.name for a in ALERTS]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"alerts defined twice: {duplicates}"


_check_names()
