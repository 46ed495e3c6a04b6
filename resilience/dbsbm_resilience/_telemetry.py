"""Instrument sets shared by every cache, breaker and retry of one meter provider."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar, cast

from opentelemetry import metrics
from opentelemetry.metrics import MeterProvider

from dbsbm_resilience.version import __version__

T = TypeVar("T")

_lock = threading.Lock()
# (kind, id(provider)) -> (provider, instruments); holding the provider keeps its ``id``
# from being reused by a new provider while its instruments are cached here.
_shared: dict[tuple[str, int], tuple[MeterProvider | None, object]] = {}


def shared_per_provider(
    kind: str, meter_provider: MeterProvider | None, factory: Callable[[metrics.Meter], T]
) -> T:
    """One instrument set per (kind, meter provider), so many breakers or caches do not
    register the same instrument names twice on one meter (the SDK warns and drops)."""
    key = (kind, id(meter_provider))
    with _lock:
        if key not in _shared:
            meter = metrics.get_meter("dbsbm_resilience", __version__, meter_provider)
            _shared[key] = (meter_provider, factory(meter))
        # Each kind is created by one factory only, so the cached object is its T.
        return cast(T, _shared[key][1])
