"""One call that sets up traces, metrics and logs for the bot: :func:`configure_telemetry`.

Configured by the standard ``OTEL_*`` variables (service name, OTLP endpoint, protocol,
headers, timeouts, resource attributes, export intervals), built on the SDK's providers
and the OTLP exporters, with what the bot needs on top:

* **Never hurts the bot when the collector is away.** The app threads only enqueue (the
  SDK's bounded batch queues); each exporter sits behind an :class:`_ExportGuard` that,
  after a failed export, drops batches for that collector immediately for a growing
  pause (5 s .. 60 s) instead of letting the exporter retry for
  ``OTEL_EXPORTER_OTLP_TIMEOUT`` on every batch, so the queue keeps draining, memory
  stays flat and the export thread does not burn CPU encoding batches nobody receives.
* **One clear line, not a retry storm.** The exporters log a warning on every retry;
  those records are lowered to DEBUG and the guard logs one WARNING per outage naming
  the endpoint variable (and one INFO when export recovers).
* **Bounded exit.** The SDK's own at-exit shutdown waits up to 30 s per processor and
  the exporters retry for 10 s; our providers are created with ``shutdown_on_exit=False``
  and one atexit hook calls :meth:`Telemetry.shutdown`, which flushes in a daemon thread,
  aborts in-flight retries (exporter ``shutdown()``) when its time is 60 % spent, and
  returns by ``timeout_s`` whatever happened.
* **Bad settings never stop the bot.** A malformed variable gives one WARNING naming it
  and falls back to the default for that setting (or disables that signal's export),
  the ones only the SDK reads (limits, batch sizes, sampler, compression, propagators)
  included: those are checked first and a bad one is removed
  (:mod:`dbsbm_instrumentation.sdk_environ`).
* **Secrets never leave.** Span and log exporters are wrapped by
  :mod:`dbsbm_instrumentation.redaction` (in the export thread, not the bot's), and log
  records are scrubbed before the bot's own handlers write them
  (:func:`dbsbm_instrumentation.logs.redact_record`; a clean record costs one scan).

The default protocol is ``http/protobuf`` (the OTLP spec's default; the Python SDK's
``otlp`` alias still means gRPC), endpoint ``http://localhost:4318``.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit


class _DropMessages(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


# The SDK parses OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS itself (at import
# and per exporter) and complains without naming the variable, up to once per exporter.
# read_settings() reports the same problem once, naming it, so these lines are dropped.
# Installed before the SDK is imported because its modules build a Resource at import.
for _name, _prefix in (
    ("opentelemetry.sdk.resources", "Invalid key value resource attribute pair"),
    ("opentelemetry.util.re", "Header format invalid"),
    # A ratio sampler without a (valid) OTEL_TRACES_SAMPLER_ARG: the SDK uses 1.0, the
    # spec's default, and says so without naming the variable; a bad value was reported
    # by sdk_environ.check_sdk_variables() already.
    ("opentelemetry.sdk.trace.sampling", "Could not convert TRACES_SAMPLER_ARG"),
):
    logging.getLogger(_name).addFilter(_DropMessages(_prefix))


# isort: split
# First, before any OpenTelemetry import: it drops malformed OTEL_* values the SDK
# would fail on (some at import time).
from dbsbm_instrumentation import sdk_environ

# isort: split
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.semconv._incubating.attributes import deployment_attributes
from opentelemetry.semconv.attributes import service_attributes, telemetry_attributes

from dbsbm_instrumentation import logs as _logs
from dbsbm_instrumentation.redaction import RedactingLogRecordExporter, RedactingSpanExporter
from dbsbm_instrumentation.version import __version__

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: tuple[Signal, ...] = ("traces", "metrics", "logs")
PROTOCOLS = ("http/protobuf", "grpc")
DEFAULT_PROTOCOL = "http/protobuf"
DEFAULT_ENDPOINTS = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}
DEFAULT_SERVICE_NAME = "dbsbm"
DEFAULT_SERVICE_VERSION = "unknown"
# The SDK's default is 10 s, retried with 1-2-4 s backoff inside one export: ~7 s per batch
# against a refused port, while the batch queue fills. A collector beside the bot answers
# in milliseconds, so unless OTEL_EXPORTER_OTLP_TIMEOUT says otherwise an export gets 3 s
# (one retry against a refused port, ~1 s).
DEFAULT_EXPORT_TIMEOUT_S = 3.0
DEFAULT_METRIC_INTERVAL_MS = 60_000.0
DEFAULT_METRIC_TIMEOUT_MS = 30_000.0
DEFAULT_BATCH_DELAY_MS = 5_000.0
DEFAULT_LOG_BATCH_DELAY_MS = 1_000.0
DEFAULT_SHUTDOWN_TIMEOUT_S = 2.0
# Pause after a failed export before trying the collector again (doubles per failure).
FIRST_PAUSE_S = 5.0
MAX_PAUSE_S = 60.0
# Part of the shutdown budget a normal flush gets before in-flight retries are aborted.
_FLUSH_SHARE = 0.6

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

DEPLOYMENT_ENVIRONMENT = deployment_attributes.DEPLOYMENT_ENVIRONMENT_NAME
# Older dashboards and the span-metrics connector still read the pre-1.27 key.
DEPLOYMENT_ENVIRONMENT_LEGACY = "deployment.environment"

_logger = logging.getLogger(__name__)

_SIGNAL_PATHS = {"traces": "v1/traces", "metrics": "v1/metrics", "logs": "v1/logs"}


# --- settings from the environment ----------------------------------------------------


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value is not None and value.strip() else None


def _signal_env(signal: Signal, suffix: str) -> tuple[str, str] | None:
    """(variable, value) of the per-signal variable, else the general one, else None."""
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}"):
        value = _env(name)
        if value is not None:
            return name, value
    return None


def _number(name: str, default: float, minimum: float = 0.0) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= minimum:  # also catches NaN
        _logs.config_warning(name, raw, f"is not a number >= {minimum:g}", f"using {default:g}")
        return default
    return value


def _valid_url(value: str) -> bool:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value


def _parse_pairs(name: str, raw: str, lower_keys: bool = False) -> dict[str, str]:
    """W3C-baggage-style ``k=v,k2=v2`` (URL-encoded), as OTEL_RESOURCE_ATTRIBUTES and
    OTEL_EXPORTER_OTLP_HEADERS are written; malformed items are reported once and skipped.

    ``lower_keys`` for headers: gRPC refuses metadata keys with capitals ("Illegal header
    key", HTTP/2 names are lower case) and HTTP names are case-insensitive, so
    ``Authorization=Bearer x`` is sent as ``authorization``, as the SDK's own parser does.
    """
    pairs: dict[str, str] = {}
    bad: list[str] = []
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            bad.append(item.strip())
            continue
        key = unquote(key.strip())
        pairs[key.lower() if lower_keys else key] = unquote(value.strip())
    if bad:
        _logs.config_warning(
            name, raw, f"has items that are not key=value ({', '.join(bad)})", "ignoring them"
        )
    return pairs


@dataclass(frozen=True)
class SignalSettings:
    """Where and how one signal is exported."""

    signal: Signal
    exporter: Literal["otlp", "console", "none"]
    protocol: str
    endpoint: str
    endpoint_variable: str
    headers: dict[str, str]
    timeout_s: float


@dataclass(frozen=True)
class Settings:
    """Everything :func:`configure_telemetry` reads from the environment, validated."""

    resource_attributes: dict[str, str]
    signals: dict[str, SignalSettings]
    metric_interval_ms: float
    metric_timeout_ms: float
    span_batch_delay_ms: float
    log_batch_delay_ms: float
    log_handler_level: int
    # Export batch sizes to pass to the batch processors; None lets the SDK read its variable.
    span_max_batch: int | None = None
    log_max_batch: int | None = None


def _exporter_choice(signal: Signal) -> Literal["otlp", "console", "none"]:
    name = f"OTEL_{signal.upper()}_EXPORTER"
    raw = _env(name)
    if raw is None:
        return "otlp"
    value = raw.lower()
    if value in ("otlp", "console", "none"):
        return value  # type: ignore[return-value]
    if value in ("otlp_proto_http", "otlp_proto_grpc"):
        return "otlp"
    _logs.config_warning(name, raw, "is not one of otlp, console, none", "using otlp")
    return "otlp"


def _signal_settings(signal: Signal) -> SignalSettings:
    protocol = DEFAULT_PROTOCOL
    found = _signal_env(signal, "PROTOCOL")
    if found is not None:
        variable, raw = found
        if raw in PROTOCOLS:
            protocol = raw
        else:
            _logs.config_warning(
                variable, raw, f"is not one of {', '.join(PROTOCOLS)}", f"using {DEFAULT_PROTOCOL}"
            )
    base = DEFAULT_ENDPOINTS[protocol]
    endpoint_variable = "OTEL_EXPORTER_OTLP_ENDPOINT"
    per_signal_variable = f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
    endpoint: str | None = None
    for variable in (per_signal_variable, "OTEL_EXPORTER_OTLP_ENDPOINT"):
        value = _env(variable)
        if value is None:
            continue
        if not _valid_url(value):
            fallback = "ignoring it" if variable == per_signal_variable else f"using {base}"
            _logs.config_warning(variable, value, "is not an http(s) URL", fallback)
            continue
        endpoint_variable = variable
        # A per-signal endpoint is used as given; the general one is a base URL.
        if variable == per_signal_variable or protocol == "grpc":
            endpoint = value
        else:
            endpoint = value.rstrip("/") + "/" + _SIGNAL_PATHS[signal]
        break
    if endpoint is None:
        endpoint = base if protocol == "grpc" else f"{base}/{_SIGNAL_PATHS[signal]}"
    headers: dict[str, str] = {}
    found = _signal_env(signal, "HEADERS")
    if found is not None:
        headers = _parse_pairs(*found, lower_keys=True)
    timeout_s = DEFAULT_EXPORT_TIMEOUT_S
    found = _signal_env(signal, "TIMEOUT")
    if found is not None:
        timeout_s = _number(found[0], DEFAULT_EXPORT_TIMEOUT_S, minimum=0.001)
    return SignalSettings(
        signal,
        _exporter_choice(signal),
        protocol,
        endpoint,
        endpoint_variable,
        headers,
        timeout_s,
    )


def _handler_level() -> int:
    raw = _env("OTEL_PYTHON_LOG_HANDLER_LEVEL")
    if raw is None:
        return logging.NOTSET
    level = logging.getLevelName(raw.upper())
    if isinstance(level, int):
        return level
    _logs.config_warning(
        "OTEL_PYTHON_LOG_HANDLER_LEVEL", raw, "is not a logging level name", "exporting all levels"
    )
    return logging.NOTSET


# The batch processors' defaults (the SDK's, for OTEL_BSP_* and OTEL_BLRP_* alike).
_SDK_MAX_QUEUE_SIZE = 2048
_SDK_MAX_EXPORT_BATCH_SIZE = 512


def _max_batch(processor: Literal["BSP", "BLRP"]) -> int | None:
    """The batch size to pass when it exceeds the queue size, which the SDK refuses
    (``ValueError``), also when only one is set: a queue of 100 against the default batch
    of 512. The batch is then the queue. None: the SDK's own reading is fine."""
    queue_variable = f"OTEL_{processor}_MAX_QUEUE_SIZE"
    batch_variable = f"OTEL_{processor}_MAX_EXPORT_BATCH_SIZE"
    queue_raw, batch_raw = _env(queue_variable), _env(batch_variable)
    queue = int(queue_raw) if queue_raw else _SDK_MAX_QUEUE_SIZE  # checked at this point
    batch = int(batch_raw) if batch_raw else _SDK_MAX_EXPORT_BATCH_SIZE
    if batch <= queue:
        return None
    if batch_raw:
        _logs.config_warning(
            batch_variable,
            batch_raw,
            f"is larger than the queue ({queue})",
            f"exporting batches of {queue}",
        )
    else:
        _logs.config_warning(
            queue_variable,
            str(queue_raw),
            f"is smaller than the export batch ({batch})",
            f"exporting batches of {queue}",
        )
    return queue


def read_settings() -> Settings:
    """Validate the ``OTEL_*`` variables: one WARNING per bad one, defaults in its place.

    The variables only the SDK reads are checked (and bad ones deleted) first; see
    :data:`sdk_environ.SDK_VARIABLES`.
    """
    for problem in (*sdk_environ.found_at_import, *sdk_environ.check_sdk_variables()):
        _logs.config_warning(*problem)
    sdk_environ.found_at_import.clear()
    resource_attributes: dict[str, str] = {}
    raw = _env("OTEL_RESOURCE_ATTRIBUTES")
    if raw is not None:
        resource_attributes = _parse_pairs("OTEL_RESOURCE_ATTRIBUTES", raw)
    return Settings(
        resource_attributes=resource_attributes,
        signals={signal: _signal_settings(signal) for signal in SIGNALS},
        metric_interval_ms=_number(
            "OTEL_METRIC_EXPORT_INTERVAL", DEFAULT_METRIC_INTERVAL_MS, minimum=1
        ),
        metric_timeout_ms=_number("OTEL_METRIC_EXPORT_TIMEOUT", DEFAULT_METRIC_TIMEOUT_MS, 1),
        span_batch_delay_ms=_number("OTEL_BSP_SCHEDULE_DELAY", DEFAULT_BATCH_DELAY_MS, 1),
        log_batch_delay_ms=_number("OTEL_BLRP_SCHEDULE_DELAY", DEFAULT_LOG_BATCH_DELAY_MS, 1),
        log_handler_level=_handler_level(),
        span_max_batch=_max_batch("BSP"),
        log_max_batch=_max_batch("BLRP"),
    )


def build_resource(
    settings: Settings,
    service_name: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
) -> Resource:
    """service.name, service.version, deployment.environment(.name), telemetry.distro.*.

    Explicit arguments win over ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``, which
    win over ``DBSBM_ENV`` and the defaults.
    """
    attributes: dict[str, Any] = dict(settings.resource_attributes)
    name = str(
        service_name
        or _env("OTEL_SERVICE_NAME")
        or attributes.get(service_attributes.SERVICE_NAME)
        or DEFAULT_SERVICE_NAME
    )
    version = service_version or attributes.get(service_attributes.SERVICE_VERSION)
    env = str(
        environment
        or attributes.get(DEPLOYMENT_ENVIRONMENT)
        or attributes.get(DEPLOYMENT_ENVIRONMENT_LEGACY)
        or _logs.resolve_environment()
    )
    attributes.update(
        {
            service_attributes.SERVICE_NAME: name,
            service_attributes.SERVICE_VERSION: version or DEFAULT_SERVICE_VERSION,
            DEPLOYMENT_ENVIRONMENT: env,
            DEPLOYMENT_ENVIRONMENT_LEGACY: env,
            telemetry_attributes.TELEMETRY_DISTRO_NAME: "dbsbm",
            telemetry_attributes.TELEMETRY_DISTRO_VERSION: __version__,
        }
    )
    return Resource.create(attributes)


# --- exporter noise and outages --------------------------------------------------------


class _ExporterNoise(logging.Filter):
    """Lowers the OTLP exporters' per-retry WARNING/ERROR records to DEBUG.

    The first text since the last :meth:`take` is kept so the guard's single outage
    line can say why (the first retry names the cause; the last only says "timeout").
    """

    def __init__(self) -> None:
        super().__init__()
        self.first = ""

    def take(self) -> str:
        """The first complaint since the last call, shortened to its cause."""
        first, self.first = self.first, ""
        cause = _OS_ERROR.search(first)
        return cause.group(0) if cause else first[:200]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if not self.first:
            try:
                self.first = record.getMessage()
            except Exception:  # noqa: BLE001 - a bad record must not break the exporter
                self.first = str(record.msg)
        record.levelno = logging.DEBUG
        record.levelname = "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_noise = _ExporterNoise()
# "...NewConnectionError(... [Errno 111] Connection refused"))" -> "[Errno 111] Connection refused"
_OS_ERROR = re.compile(r"\[Errno -?\d+\][^\"')]*")


def _quiet_exporter_loggers(exporter: object) -> None:
    for cls in type(exporter).__mro__:
        if cls.__module__.startswith("opentelemetry.exporter."):
            exporter_logger = logging.getLogger(cls.__module__)
            if _noise not in exporter_logger.filters:
                exporter_logger.addFilter(_noise)


class _Outage:
    """Whether one collector (scheme://host:port) answers, shared by the signals sent to it.

    After a failure every signal drops its batches without calling its exporter until a
    pause has passed (5 s, doubling to 60 s): the queues keep draining, nothing waits on a
    dead port, and a shutdown during an outage does not try again.
    """

    def __init__(self) -> None:
        self.pause = FIRST_PAUSE_S
        self.resume_at = 0.0
        self.failing = False


_outages: dict[str, _Outage] = {}


class _QueueFullDuringOutage(logging.Filter):
    """The batch processors warn "Queue full, dropping ..." (every 20 s) while the
    exporter is paused; the outage line already said telemetry is being dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        outage = any(o.failing for o in _outages.values())
        return not (outage and str(record.msg).startswith("Queue full"))


logging.getLogger("opentelemetry.sdk._shared_internal").addFilter(_QueueFullDuringOutage())


class _ExportGuard:
    """Outage handling shared by the three exporter wrappers: one WARNING per outage
    (naming the endpoint variable), one INFO on recovery, no export while paused."""

    def __init__(self, settings: SignalSettings, inner: Any) -> None:
        self.settings = settings
        self.inner = inner  # the raw exporter: aborting it interrupts its retry wait
        parts = urlsplit(settings.endpoint)
        self.outage = _outages.setdefault(f"{parts.scheme}://{parts.netloc}", _Outage())
        self._closed = False
        self._lock = threading.Lock()
        _quiet_exporter_loggers(inner)

    def should_try(self) -> bool:
        return not self._closed and time.monotonic() >= self.outage.resume_at

    def record(self, success: bool) -> None:
        outage = self.outage
        if success:
            _noise.take()
            if outage.failing:
                _logger.info("OpenTelemetry export to %s works again", self.settings.endpoint)
            outage.failing = False
            outage.pause = FIRST_PAUSE_S
            outage.resume_at = 0.0
            return
        if not outage.failing and not self._closed:
            reason = _noise.take()
            reason = f" ({reason})" if reason else ""
            _logger.warning(
                "OpenTelemetry %s export to %s failed%s; check %s and the collector. "
                "Dropping telemetry while it is unreachable, retrying every %g-%g s.",
                self.settings.signal,
                self.settings.endpoint,
                reason,
                self.settings.endpoint_variable,
                FIRST_PAUSE_S,
                MAX_PAUSE_S,
            )
        outage.failing = True
        outage.resume_at = time.monotonic() + outage.pause
        outage.pause = min(outage.pause * 2, MAX_PAUSE_S)

    def abort(self) -> None:
        """Interrupt an in-flight export (its retry wait, gRPC channel, HTTP session)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.inner.shutdown()
        except Exception:
            _logger.debug("aborting the %s exporter failed", self.settings.signal, exc_info=True)

    def shutdown(self) -> None:
        self.abort()


class _GuardedSpanExporter(SpanExporter):
    def __init__(self, guard: _ExportGuard, exporter: SpanExporter) -> None:
        self.guard = guard
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.guard.should_try():
            return SpanExportResult.FAILURE
        result = self._exporter.export(spans)
        self.guard.record(result is SpanExportResult.SUCCESS)
        return result

    def shutdown(self) -> None:
        self.guard.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _GuardedLogExporter(LogRecordExporter):
    def __init__(self, guard: _ExportGuard, exporter: LogRecordExporter) -> None:
        self.guard = guard
        self._exporter = exporter

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if not self.guard.should_try():
            return LogRecordExportResult.FAILURE
        result = self._exporter.export(batch)
        self.guard.record(result is LogRecordExportResult.SUCCESS)
        return result

    def shutdown(self) -> None:
        self.guard.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _GuardedMetricExporter(MetricExporter):
    def __init__(self, guard: _ExportGuard, exporter: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self.guard = guard
        self._exporter = exporter

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if not self.guard.should_try():
            return MetricExportResult.FAILURE
        result = self._exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        self.guard.record(result is MetricExportResult.SUCCESS)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.guard.shutdown()


# Imported by name when first used: the gRPC exporters pull in grpcio, which a bot on
# http/protobuf never needs to load.
_OTLP_CLASSES = {
    "traces": ("trace_exporter", "OTLPSpanExporter"),
    "metrics": ("metric_exporter", "OTLPMetricExporter"),
    "logs": ("_log_exporter", "OTLPLogExporter"),
}


# A credential provider returns a ``requests.Session``: only the requests transport can
# use it.
_CREDENTIAL_PROVIDER_VARIABLES = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_METRICS_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_LOGS_CREDENTIAL_PROVIDER",
)


def _urllib3_transport(signal: Signal) -> Any | None:
    """The OTLP/HTTP exporters' upstream urllib3 transport, or None for their default.

    Why: the default ``requests`` transport loads requests and charset_normalizer (which
    imports ~100 codecs at import time): 4.3 MB of RSS in ``dbsbm-agent``
    (benchmarks/bench_agent.py), for nothing urllib3 (which requests sends through
    anyway) does not do here. The transport is upstream's
    (``opentelemetry-exporter-http-transport``); only its choice is ours, through the
    exporters' ``_transport`` argument. Certificates are resolved as the exporters and
    requests do (``OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE``, else ``REQUESTS_CA_BUNDLE``
    or ``CURL_CA_BUNDLE``, else certifi's bundle). When a credential provider or a proxy
    variable is set, which only requests honours, the default transport is kept, so
    behaviour never changes with the memory saving.
    """
    import urllib.request

    if (
        any(os.environ.get(name) for name in _CREDENTIAL_PROVIDER_VARIABLES)
        or urllib.request.getproxies_environment()
    ):
        return None
    try:
        import certifi
        from opentelemetry.exporter.http.transport._urllib3 import Urllib3HTTPTransport
    except ImportError:
        return None

    def setting(suffix: str) -> str | None:
        return os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}") or os.environ.get(
            f"OTEL_EXPORTER_OTLP_{suffix}"
        )

    verify = (
        setting("CERTIFICATE")
        or os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or certifi.where()
    )
    if os.path.isdir(verify):  # requests takes a CA directory; this transport cannot
        return None
    key, certificate = setting("CLIENT_KEY"), setting("CLIENT_CERTIFICATE")
    return Urllib3HTTPTransport(
        verify=verify, cert=(certificate, key) if certificate and key else certificate
    )


def _otlp_exporter(settings: SignalSettings) -> Any:
    kwargs: dict[str, Any] = {
        "endpoint": settings.endpoint,
        "headers": settings.headers,
        "timeout": settings.timeout_s,
    }
    transport = "grpc" if settings.protocol == "grpc" else "http"
    if transport == "grpc":
        kwargs["insecure"] = settings.endpoint.startswith("http://")
        # Upstream's gRPC exporters take only "gzip" from the environment and raise on the
        # spec's "none" (and "deflate"): the checked value is passed instead.
        found = _signal_env(settings.signal, "COMPRESSION")
        if found is not None:
            import grpc

            kwargs["compression"] = {
                "gzip": grpc.Compression.Gzip,
                "deflate": grpc.Compression.Deflate,
            }.get(found[1].lower(), grpc.Compression.NoCompression)
    module_name, class_name = _OTLP_CLASSES[settings.signal]
    module = importlib.import_module(f"opentelemetry.exporter.otlp.proto.{transport}.{module_name}")
    exporter_class = getattr(module, class_name)
    if transport == "http":
        http_transport = _urllib3_transport(settings.signal)
        if http_transport is not None:
            try:
                return exporter_class(**kwargs, _transport=http_transport)
            except TypeError:  # an exporter without ``_transport``: its default transport
                _logger.debug("OTLP exporter has no _transport argument", exc_info=True)
    return exporter_class(**kwargs)


def _console_exporter(signal: Signal) -> Any:
    return {
        "traces": ConsoleSpanExporter,
        "metrics": ConsoleMetricExporter,
        "logs": ConsoleLogRecordExporter,
    }[signal]()


def _exporter(settings: SignalSettings, guards: list[_ExportGuard]) -> Any | None:
    """The guarded (and, for spans and logs, redacting) exporter for one signal."""
    if settings.exporter == "none":
        return None
    raw = (
        _console_exporter(settings.signal)
        if settings.exporter == "console"
        else _otlp_exporter(settings)
    )
    guard = _ExportGuard(settings, raw)
    guards.append(guard)
    if settings.signal == "traces":
        return _GuardedSpanExporter(guard, RedactingSpanExporter(raw))
    if settings.signal == "logs":
        return _GuardedLogExporter(guard, RedactingLogRecordExporter(raw))
    return _GuardedMetricExporter(guard, raw)


# --- the handle ---------------------------------------------------------------------------


@dataclass
class Telemetry:
    """What :func:`configure_telemetry` set up; :meth:`shutdown` is bounded."""

    resource: Resource
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider | None
    settings: Settings
    _guards: list[_ExportGuard] = field(default_factory=list, repr=False)
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
        if _system_metrics is not None:
            try:
                _system_metrics.uninstrument()
            except Exception:
                _logger.debug("system metrics uninstrument failed", exc_info=True)

        def stop() -> None:
            for name, call in (
                ("traces", self.tracer_provider.shutdown),
                (
                    "metrics",
                    lambda: self.meter_provider.shutdown(
                        timeout_millis=max(0.0, deadline - time.monotonic()) * 1000
                    ),
                ),
                ("logs", self.logger_provider.shutdown if self.logger_provider else None),
            ):
                if call is None:
                    continue
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
            for guard in self._guards:
                guard.abort()
            worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            _logger.warning(
                "OpenTelemetry shutdown did not finish within %.1f s; unsent telemetry dropped",
                timeout_s,
            )


_telemetry: Telemetry | None = None
_system_metrics: Any = None
_configure_lock = threading.Lock()


def configure_telemetry(
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
    system_metrics: bool = True,
    logs: bool = True,
) -> Telemetry:
    """Set the global tracer, meter and logger providers from the ``OTEL_*`` variables.

    Never blocks on the collector. A second call returns the first handle (and warns).
    ``system_metrics`` adds the process's own CPU/memory (contrib system-metrics,
    ``process.*`` only); ``logs`` exports stdlib logging records over OTLP (see
    :func:`dbsbm_instrumentation.logs.install_otlp_bridge`) and stamps them with trace ids.
    Either way records are redacted before any handler, the bot's own included, sees them
    (:func:`dbsbm_instrumentation.logs.install_record_redaction`).
    Shutdown at exit is registered and bounded (:meth:`Telemetry.shutdown`).
    """
    global _telemetry, _system_metrics
    with _configure_lock:
        if _telemetry is not None:
            _logger.warning("configure_telemetry() was already called; reusing that set-up")
            return _telemetry
        settings = read_settings()
        resource = build_resource(settings, service_name, service_version, environment)
        guards: list[_ExportGuard] = []

        tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        span_exporter = _exporter(settings.signals["traces"], guards)
        if span_exporter is not None:
            tracer_provider.add_span_processor(
                BatchSpanProcessor(
                    span_exporter,
                    schedule_delay_millis=settings.span_batch_delay_ms,
                    max_export_batch_size=settings.span_max_batch,
                )
            )
        trace.set_tracer_provider(tracer_provider)

        readers = []
        metric_exporter = _exporter(settings.signals["metrics"], guards)
        if metric_exporter is not None:
            readers.append(
                PeriodicExportingMetricReader(
                    metric_exporter,
                    export_interval_millis=settings.metric_interval_ms,
                    export_timeout_millis=settings.metric_timeout_ms,
                )
            )
        meter_provider = MeterProvider(
            metric_readers=readers, resource=resource, shutdown_on_exit=False
        )
        metrics.set_meter_provider(meter_provider)

        logger_provider: LoggerProvider | None = None
        if logs:
            logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
            log_exporter = _exporter(settings.signals["logs"], guards)
            if log_exporter is not None:
                logger_provider.add_log_record_processor(
                    BatchLogRecordProcessor(
                        log_exporter,
                        schedule_delay_millis=settings.log_batch_delay_ms,
                        max_export_batch_size=settings.log_max_batch,
                    )
                )
            set_logger_provider(logger_provider)
            _logs.install_trace_context(str(resource.attributes[service_attributes.SERVICE_NAME]))
            _logs.install_otlp_bridge(logger_provider, settings.log_handler_level)
        else:
            _logs.install_record_redaction()  # the bot's own handlers get no secrets either way

        if system_metrics:
            from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

            _system_metrics = SystemMetricsInstrumentor(config=PROCESS_METRICS)
            _system_metrics.instrument(meter_provider=meter_provider)

        _telemetry = Telemetry(
            resource, tracer_provider, meter_provider, logger_provider, settings, guards
        )
        atexit.register(_telemetry.shutdown)
        return _telemetry


def current() -> Telemetry | None:
    """The handle :func:`configure_telemetry` returned, if it ran in this process."""
    return _telemetry
