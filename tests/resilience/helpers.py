"""Helpers shared by the runtime library's tests (breaker, retry, cache)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader


class Clock:
    """A manual monotonic clock so open periods pass instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def metric_points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, Any], Any]]:
    """``(attributes, value)`` of every point of metric ``name``; a histogram's value is
    its count."""
    data = reader.get_metrics_data()
    found: list[tuple[dict[str, Any], Any]] = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    found += [
                        (dict(p.attributes or {}), getattr(p, "value", getattr(p, "count", None)))
                        for p in metric.data.data_points
                    ]
    return found


def failing(exc: BaseException) -> Callable[[], None]:
    """A function that raises ``exc``."""

    def f() -> None:
        raise exc

    return f
