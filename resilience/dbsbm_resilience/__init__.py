"""DBSBM's runtime library: a Redis cache that survives Redis, retry with backoff, a
circuit breaker and the error taxonomy.

It depends on the OpenTelemetry API only: without an SDK configured, its spans and
metrics are no-ops, so a bot can use it whether or not it wants telemetry.
"""

from dbsbm_resilience.version import __version__

__all__ = ["__version__"]
