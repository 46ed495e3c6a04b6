"""Names of everything the runtime library emits: the one place they are spelled.

``dbsbm_instrumentation.semconv`` re-exports these beside its own names, so the mixin
reads the whole catalogue from one module. Prometheus spellings are derived by
:func:`prometheus_name`, so a rename here cannot leave a panel or an alert behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

InstrumentKind = Literal["counter", "updown_counter", "histogram", "gauge"]

# --- attribute names (spec names are imported from opentelemetry.semconv) -------------
CACHE_OPERATION = "dbsbm.cache.operation"
CACHE_TIER = "dbsbm.cache.tier"  # "redis" | "local"
CACHE_RESULT = "dbsbm.cache.result"  # "hit" | "miss" | "ok" | "error"
CACHE_PREFIX = "dbsbm.cache.prefix"
BREAKER_NAME = "dbsbm.circuit_breaker.name"
BREAKER_STATE = "dbsbm.circuit_breaker.state"
RETRY_OPERATION = "dbsbm.retry.operation"
ERROR_CODE = "dbsbm.error.code"
ERROR_RETRYABLE = "dbsbm.error.retryable"

# Circuit-breaker states as the gauge reports them (alerts compare against OPEN).
BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True)
class Instrument:
    """An instrument's OpenTelemetry identity; Prometheus spelling is derived."""

    name: str
    unit: str
    kind: InstrumentKind
    description: str

    @property
    def prometheus(self) -> str:
        return prometheus_name(self)


# --- cache, circuit breaker, retry ------------------------------------------------------
CACHE_OPERATIONS = Instrument(
    "dbsbm.cache.operations",
    "{operation}",
    "counter",
    "Cache operations by operation, tier (redis|local) and result (hit|miss|ok|error).",
)
CACHE_OPERATION_DURATION = Instrument(
    "dbsbm.cache.operation.duration",
    "s",
    "histogram",
    "Duration of cache operations that reached the Redis tier.",
)
CACHE_FALLBACK_ACTIVE = Instrument(
    "dbsbm.cache.fallback.active",
    "",
    "gauge",
    "1 while the cache serves from its local tier because Redis is unavailable.",
)
CACHE_LOCAL_ENTRIES = Instrument(
    "dbsbm.cache.local.entries",
    "{entry}",
    "gauge",
    "Entries held by the local tier.",
)
BREAKER_STATE_GAUGE = Instrument(
    "dbsbm.circuit_breaker.state",
    "",
    "gauge",
    "Circuit-breaker state: 0 closed, 1 half-open, 2 open.",
)
BREAKER_TRANSITIONS = Instrument(
    "dbsbm.circuit_breaker.transitions",
    "{transition}",
    "counter",
    "Circuit-breaker state changes, labelled by the state entered.",
)
RETRY_ATTEMPTS = Instrument(
    "dbsbm.retry.attempts",
    "{attempt}",
    "counter",
    "Retries scheduled after a retryable failure, by operation and error.type.",
)

_UNIT_SUFFIXES = {
    "s": "seconds",
    "ms": "milliseconds",
    "By": "bytes",
    "%": "percent",
    "": "",
}


def prometheus_name(instrument: Instrument) -> str:
    """The series name Prometheus stores after the collector's remote-write exporter.

    Mirrors the collector's translator (``add_metric_suffixes: true``): dots become
    underscores, a unit suffix is appended unless already present, counters get
    ``_total``, and ``{annotation}`` units add nothing. Our dimensionless instruments
    have an empty unit because upstream turns a gauge of unit ``1`` into ``*_ratio``.
    """
    name = re.sub(r"[^a-zA-Z0-9_:]", "_", instrument.name)
    unit = instrument.unit
    if unit == "1":  # upstream: a dimensionless gauge is a ratio, other kinds get nothing
        suffix = "ratio" if instrument.kind == "gauge" else ""
    else:
        suffix = "" if unit.startswith("{") else _UNIT_SUFFIXES.get(unit, unit)
    if suffix and not name.endswith("_" + suffix):
        name = f"{name}_{suffix}"
    if instrument.kind == "counter" and not name.endswith("_total"):
        name += "_total"
    return name


def label(attribute: str) -> str:
    """A span or metric attribute as Prometheus spells the label."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", attribute)
