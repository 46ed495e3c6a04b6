"""DBSBM's runtime library, one module per concern:

* :mod:`dbsbm_resilience.cache`: a Redis cache that survives Redis;
* :mod:`dbsbm_resilience.retry`: retry with backoff, and DBSBM's presets;
* :mod:`dbsbm_resilience.breaker`: a circuit breaker with a single half-open probe;
* :mod:`dbsbm_resilience.errors`: the error taxonomy and the classifier retry consults;
* :mod:`dbsbm_resilience.semconv`: the names of the spans and metrics they emit.

It depends on the OpenTelemetry API only: without an SDK configured, its spans and
metrics are no-ops, so a bot can use it whether or not it wants telemetry.
"""

from dbsbm_resilience.version import __version__

__all__ = ["__version__"]
