"""One call that sets up traces, metrics and logs for the bot: :func:`configure_telemetry`.

Built on the SDK's own configurator
(:class:`~dbsbm_instrumentation.configurator.DbsbmConfigurator` subclasses it), so the
standard ``OTEL_*`` variables mean what the SDK says they mean and any exporter it
supports can be chosen. What the bot needs on top:

* **Never hurts the bot when the collector is away, and loses nothing it can keep.**
  The app threads only enqueue (the SDK's bounded batch queues); each span and log
  exporter sits behind an :class:`~dbsbm_instrumentation.configurator.ExportGuard`, a
  bounded buffer (``DBSBM_OTLP_BUFFER_MAX_ITEMS``, default 20,000 per signal, and
  ``DBSBM_OTLP_BUFFER_MAX_BYTES``, 16 MiB) that holds what the collector did not take
  and sends it in order once it answers, trying again after a growing pause rather than
  on every batch. One WARNING per outage names the variable to check. Metrics are
  cumulative: the first export after an outage carries what was counted during it.
* **One bad item never takes others down.** Attribute values are cut at 16,384
  characters and spans keep at most 128 attributes unless ``OTEL_ATTRIBUTE_*`` say
  otherwise, and batches stay below 3 MiB (``DBSBM_OTLP_BATCH_MAX_BYTES``), under the
  4 MiB a gRPC receiver takes.
* **Bounded exit.** The SDK's own at-exit shutdown waits up to 30 s per processor and
  the exporters retry; one atexit hook calls :meth:`Telemetry.shutdown` instead, which
  flushes in a daemon thread, aborts in-flight exports when its time is 60 % spent, and
  returns by ``timeout_s`` whatever happened.
* **Bad settings never stop the bot.** A malformed variable gives one WARNING naming it
  and the default for that setting (:mod:`dbsbm_instrumentation.sdk_environ`, checked
  before the SDK is imported, which is why this module imports it only when called).
* **Secrets never leave.** Span and log exporters are wrapped by
  :mod:`dbsbm_instrumentation.redaction` (in the export thread, not the bot's), and log
  records are scrubbed before the bot's own handlers write them
  (:func:`dbsbm_instrumentation.logs.redact_record`; a clean record costs one scan).

Defaults where the user set nothing: every signal exported over OTLP/HTTP (the OTLP
spec's default protocol; the Python SDK's ``otlp`` alias alone means gRPC) to
``http://localhost:4318``, with a 3 s export timeout.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbsbm_instrumentation import logs as _logs
from dbsbm_instrumentation import sdk_environ
from dbsbm_instrumentation.version import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

DEFAULT_SERVICE_NAME = "dbsbm"
DEFAULT_SERVICE_VERSION = "unknown"
DEFAULT_SHUTDOWN_TIMEOUT_S = 2.0
# Part of the shutdown budget a normal flush gets before in-flight exports are aborted.
_FLUSH_SHARE = 0.6
# The last metric export ends this long before the shutdown deadline.
_METRICS_MARGIN_S = 0.1

# Only the bot process's own CPU, memory, threads and descriptors: no per-CPU, per-disk or
# per-interface system.* series (cardinality and cost); the host is the agent's job.
PROCESS_METRICS: dict[str, list[str] | None] = {
    "process.cpu.time": ["user", "system"],
    "process.cpu.utilization": ["user", "system"],
    "process.memory.usage": None,
    "process.memory.virtual": None,
    "process.thread.count": None,
    "process.open_file_descriptor.count": None,
}

SERVICE_NAME = "service.name"
SERVICE_VERSION = "service.version"
DEPLOYMENT_ENVIRONMENT = "deployment.environment.name"
# Older dashboards and the span-metrics connector still read the pre-1.27 key.
DEPLOYMENT_ENVIRONMENT_LEGACY = "deployment.environment"

_logger = logging.getLogger(__name__)


# --- settings from the environment ----------------------------------------------------


def check_settings() -> None:
    """Check the ``OTEL_*`` variables: one WARNING per bad one, its default in its place.

    Runs before the SDK is imported (some are read, and fail, at import); see
    :mod:`dbsbm_instrumentation.sdk_environ`.
    """
    for problem in sdk_environ.check_sdk_variables():
        _logs.config_warning(*problem)


def disabled_instrumentations() -> set[str]:
    """Names in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` (``*`` means all)."""
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def log_handler_level() -> int:
    """``OTEL_PYTHON_LOG_HANDLER_LEVEL``: the lowest level exported over OTLP."""
    raw = os.environ.get("OTEL_PYTHON_LOG_HANDLER_LEVEL", "").strip()
    if not raw:
        return logging.NOTSET
    level = logging.getLevelName(raw.upper())
    if isinstance(level, int):
        return level
    _logs.config_warning(
        "OTEL_PYTHON_LOG_HANDLER_LEVEL", raw, "is not a logging level name", "exporting all levels"
    )
    return logging.NOTSET


def build_resource(
    service_name: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
) -> Resource:
    """service.name, service.version, deployment.environment(.name), telemetry.distro.*.

    Explicit arguments win over ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` (as
    the SDK reads them), which win over ``DBSBM_ENV`` and the defaults.
    """
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    detected = OTELResourceDetector().detect().attributes
    env = str(
        environment
        or detected.get(DEPLOYMENT_ENVIRONMENT)
        or detected.get(DEPLOYMENT_ENVIRONMENT_LEGACY)
        or _logs.resolve_environment()
    )
    return Resource.create(
        {
            SERVICE_NAME: str(service_name or detected.get(SERVICE_NAME) or DEFAULT_SERVICE_NAME),
            SERVICE_VERSION: str(
                service_version or detected.get(SERVICE_VERSION) or DEFAULT_SERVICE_VERSION
            ),
            DEPLOYMENT_ENVIRONMENT: env,
            DEPLOYMENT_ENVIRONMENT_LEGACY: env,
            "telemetry.distro.name": "dbsbm",
            "telemetry.distro.version": __version__,
        }
    )


# --- the handle ---------------------------------------------------------------------------


@dataclass
class Telemetry:
    """What :func:`configure_telemetry` set up; :meth:`shutdown` is bounded."""

    resource: Resource
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider | None
    # Interrupt each exporter's export in flight (retry wait, channel, session).
    _aborts: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _system_metrics: Any = field(default=None, repr=False)
    # True while an export guard finds its destination unreachable.
    _collector_away: Callable[[], bool] = field(default=lambda: False, repr=False)
    _closed: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def shutdown(self, timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S) -> None:
        """Flush what can be flushed within ``timeout_s`` and stop; never blocks longer.

        Pending telemetry that cannot reach the collector in time is dropped (one WARNING).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + max(timeout_s, 0.0)
        _logs.uninstall_otlp_bridge()
        if self._system_metrics is not None:
            try:
                self._system_metrics.uninstrument()
            except Exception:
                _logger.debug("system metrics uninstrument failed", exc_info=True)

        def metrics_timeout_ms() -> float:
            # Cumulative metrics lose nothing but this last export, which would only wait
            # out its retries while the collector is away; a zero timeout cuts it short.
            # Otherwise it gets what is left, less a margin to return in before the deadline.
            if self._collector_away():
                return 0.0
            return max(0.0, deadline - time.monotonic() - _METRICS_MARGIN_S) * 1000

        def stop() -> None:
            calls: list[tuple[str, Callable[[], object]]] = [
                ("traces", self.tracer_provider.shutdown)
            ]
            if self.logger_provider is not None:
                calls.append(("logs", self.logger_provider.shutdown))
            calls.append(
                (
                    "metrics",
                    lambda: self.meter_provider.shutdown(timeout_millis=metrics_timeout_ms()),
                )
            )
            for name, call in calls:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        call()
                except Exception:
                    _logger.debug("shutting down %s failed", name, exc_info=True)

        worker = threading.Thread(target=stop, name="dbsbm-telemetry-shutdown", daemon=True)
        worker.start()
        worker.join(max(0.0, timeout_s * _FLUSH_SHARE))
        if worker.is_alive():
            for abort in self._aborts:
                abort()
            worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            _logger.warning(
                "OpenTelemetry shutdown did not finish within %.1f s; unsent telemetry dropped",
                timeout_s,
            )


_telemetry: Telemetry | None = None
_configure_lock = threading.Lock()


def configure_telemetry(
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
    system_metrics: bool = True,
    logs: bool = True,
    sdk_options: Mapping[str, Any] | None = None,
) -> Telemetry:
    """Set the global tracer, meter and logger providers from the ``OTEL_*`` variables.

    Never blocks on the collector. A second call returns the first handle (and warns).
    ``system_metrics`` adds the process's own CPU/memory (contrib system-metrics,
    ``process.*`` only); ``logs`` exports stdlib logging records over OTLP (see
    :func:`dbsbm_instrumentation.logs.install_otlp_bridge`) and stamps them with trace ids.
    Either way records are redacted before any handler, the bot's own included, sees them
    (:func:`dbsbm_instrumentation.logs.install_record_redaction`). ``sdk_options`` go to
    the SDK's configurator as they are (a ``sampler``, ``span_processors``; the
    ``auto_instrumentation_version`` ``opentelemetry-instrument`` passes).
    Shutdown at exit is registered and bounded (:meth:`Telemetry.shutdown`).
    """
    global _telemetry
    with _configure_lock:
        if _telemetry is not None:
            _logger.warning("configure_telemetry() was already called; reusing that set-up")
            return _telemetry
        check_settings()
        sdk_environ.set_defaults()
        from dbsbm_instrumentation.configurator import DbsbmConfigurator

        configurator = DbsbmConfigurator()  # type: ignore[no-untyped-call]  # the SDK's __new__
        _telemetry = configurator.set_up(
            build_resource(service_name, service_version, environment),
            system_metrics=system_metrics,
            logs=logs,
            sdk_options=sdk_options or {},
        )
        atexit.register(_telemetry.shutdown)
        return _telemetry


def current() -> Telemetry | None:
    """The handle :func:`configure_telemetry` returned, if it ran in this process."""
    return _telemetry
