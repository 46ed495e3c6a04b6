"""The SDK's configurator with what the bot needs on top: :class:`DbsbmConfigurator`.

The SDK's ``_OTelSDKConfigurator`` (which, its docstring says, distros subclass) reads
every ``OTEL_*`` variable itself and picks exporters by entry point, so any exporter it
supports (``otlp``, ``otlp_proto_http``, ``otlp_proto_grpc``, ``console``, ``none``, a
third-party entry point) can be chosen with ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER``.
What is ours goes in through the arguments it takes:

* ``export_span_processor`` / ``export_log_record_processor``: every span and log
  exporter it builds is wrapped in an :class:`ExportGuard` around the redacting
  exporter, inside the usual batch processor. The guard is the outage handling: a
  bounded buffer that holds what the destination did not take and sends it, in order,
  when it answers again; batches bounded in bytes below the receivers' limits; a
  growing pause between attempts, so the queue keeps draining and nothing waits on a
  dead port; one WARNING per outage naming the variable to check (the exporters'
  per-retry records go to DEBUG).
* ``exporter_args_map``: our default export timeout, the urllib3 transport for OTLP/HTTP
  and a compression the gRPC exporters accept.
* ``resource_attributes``: service name and version, deployment environment, distro.

Metrics keep the SDK's reader and exporter unwrapped, and need no buffer: the
configurator has no hook for them, they export from the reader's own thread (never the
bot's), and they are cumulative, so the first export after an outage carries everything
counted during it (with ``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta`` the
points of the outage are lost).

This module imports the SDK: :mod:`dbsbm_instrumentation.bootstrap` imports it only after
:mod:`dbsbm_instrumentation.sdk_environ` has checked the variables the SDK reads at import.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, Protocol, TypeVar

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._configuration import _get_exporter_names, _OTelSDKConfigurator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from dbsbm_instrumentation import logs as _logs_module
from dbsbm_instrumentation.bootstrap import (
    PROCESS_METRICS,
    Telemetry,
    configure_telemetry,
    disabled_instrumentations,
    log_handler_level,
)
from dbsbm_instrumentation.redaction import RedactingLogRecordExporter, RedactingSpanExporter
from dbsbm_instrumentation.sdk_environ import SIGNALS, Signal
from dbsbm_instrumentation.semconv import TELEMETRY_BUFFER_DROPPED

# The SDK's default is 10 s, retried with 1-2-4 s backoff inside one export, while the
# batch queue fills. A collector beside the bot answers in milliseconds, so unless
# OTEL_EXPORTER_OTLP[_SIGNAL]_TIMEOUT says otherwise an export gets 3 s (one retry
# against a refused port).
DEFAULT_EXPORT_TIMEOUT_S = 3.0
# Pause after a failed export before trying that destination again (doubles per failure).
FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 10.0
# The export buffer, per signal: 20,000 spans (or log records) are 1,000 s of a bot
# emitting 20 a second; the byte bound is the encoded size, estimated.
DEFAULT_BUFFER_ITEMS = 20_000
DEFAULT_BUFFER_BYTES = 16 * 2**20
# Below the 4 MiB a gRPC receiver (the collector's OTLP receiver included) accepts.
DEFAULT_BATCH_BYTES = 3 * 2**20

_logger = logging.getLogger("dbsbm_instrumentation.bootstrap")

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")
_ItemIn = TypeVar("_ItemIn", contravariant=True)
_ResultOut = TypeVar("_ResultOut", covariant=True)
ProviderT = TypeVar("ProviderT")


class _Exporter(Protocol[_ItemIn, _ResultOut]):
    """What span and log-record exporters have in common."""

    def export(self, batch: Sequence[_ItemIn], /) -> _ResultOut: ...

    def shutdown(self) -> None: ...


# --- exporter noise and outages --------------------------------------------------------


class _ExporterNoise(logging.Filter):
    """Lowers the exporters' per-retry WARNING/ERROR records to DEBUG.

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
            except Exception:  # a bad record must not break the exporter
                self.first = str(record.msg)
        record.levelno = logging.DEBUG
        record.levelname = "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_noise = _ExporterNoise()
# "...NewConnectionError(... [Errno 111] Connection refused"))" -> "[Errno 111] Connection refused"
_OS_ERROR = re.compile(r"\[Errno -?\d+\][^\"')]*")


def _quiet_exporter_loggers(exporter_class: type) -> None:
    for cls in exporter_class.__mro__:
        if cls.__module__.startswith("opentelemetry.exporter."):
            exporter_logger = logging.getLogger(cls.__module__)
            if _noise not in exporter_logger.filters:
                exporter_logger.addFilter(_noise)


class _Outage:
    """Whether one destination answers, shared by the signals sent to it."""

    def __init__(self) -> None:
        self.pause = FIRST_PAUSE_S
        self.resume_at = 0.0
        self.failing = False


_outages: dict[str, _Outage] = {}


class _QueueFullDuringOutage(logging.Filter):
    """The batch processors warn "Queue full, dropping ..." (every 20 s) when the bot
    outpaces an export that is waiting on a dead port; the outage line already said so."""

    def filter(self, record: logging.LogRecord) -> bool:
        outage = any(o.failing for o in _outages.values())
        return not (outage and str(record.msg).startswith("Queue full"))


_queue_full_filter = _QueueFullDuringOutage()


class _OnceInAWhile(logging.Filter):
    """Lets one record through per message per 20 s. For the SDK's "Attributes dict is
    full" warning, logged once per attribute over the count limit: a span given 100,000
    attributes would otherwise write 99,872 lines."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[object, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last.get(record.msg, -_REPEAT_S) < _REPEAT_S:
            return False
        self._last[record.msg] = now
        return True


_REPEAT_S = 20.0
_attributes_filter = _OnceInAWhile()


@dataclass(frozen=True)
class Destination:
    """Where a signal goes, as the outage line names it: the value and its variable."""

    address: str
    variable: str

    @classmethod
    def of(cls, signal: str, exporter: object) -> Destination:
        """The OTLP endpoint variable in effect, else the exporter choice itself."""
        module = type(exporter).__module__
        if not module.startswith("opentelemetry.exporter.otlp."):
            return cls(type(exporter).__name__, f"OTEL_{signal.upper()}_EXPORTER")
        for variable in (
            f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ):
            value = os.environ.get(variable, "").strip()
            if value:
                return cls(value, variable)
        default = "localhost:4317" if ".grpc." in module else "http://localhost:4318"
        return cls(default, "OTEL_EXPORTER_OTLP_ENDPOINT")


def _value_size(value: object) -> int:
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, tuple | list):
        return sum(map(_value_size, value))
    if isinstance(value, dict):
        return sum(len(str(k)) + _value_size(v) for k, v in value.items())
    return 8


def _attributes_size(attributes: Mapping[str, object] | None) -> int:
    size = 0
    for key, value in (attributes or {}).items():
        size += 4 + len(key) + (len(value) if isinstance(value, str) else _value_size(value))
    return size


# Roughly what a span or log record weighs encoded (ids, times, names, attributes, events,
# links, body): enough to keep batches below the receivers' limits, cheap enough to run
# on every item in the export thread.


def span_size(span: Any) -> int:
    size = 96 + len(span.name) + _attributes_size(span.attributes)
    for event in span.events:
        size += 24 + len(event.name) + _attributes_size(event.attributes)
    for link in span.links:
        size += 48 + _attributes_size(link.attributes)
    return size


def log_record_size(item: Any) -> int:
    record = item.log_record
    return 64 + _value_size(record.body) + _attributes_size(record.attributes)


@dataclass(frozen=True)
class BufferLimits:
    """How much one signal's export buffer holds while its destination is away, and how
    big a batch it sends (below the 4 MiB a gRPC receiver accepts by default)."""

    items: int = DEFAULT_BUFFER_ITEMS
    bytes: int = DEFAULT_BUFFER_BYTES
    batch_items: int = 512
    batch_bytes: int = DEFAULT_BATCH_BYTES

    @classmethod
    def from_environ(cls, batch_items: int) -> BufferLimits:
        """``DBSBM_OTLP_BUFFER_MAX_ITEMS``, ``DBSBM_OTLP_BUFFER_MAX_BYTES`` and
        ``DBSBM_OTLP_BATCH_MAX_BYTES``; a malformed one gets one line and its default.
        ``DBSBM_OTLP_BUFFER_MAX_ITEMS=0`` turns the buffer off: a batch that cannot be
        sent is dropped (and counted)."""
        return cls(
            items=_int_setting("DBSBM_OTLP_BUFFER_MAX_ITEMS", DEFAULT_BUFFER_ITEMS, 0),
            bytes=_int_setting("DBSBM_OTLP_BUFFER_MAX_BYTES", DEFAULT_BUFFER_BYTES, 1024),
            batch_items=batch_items,
            batch_bytes=_int_setting("DBSBM_OTLP_BATCH_MAX_BYTES", DEFAULT_BATCH_BYTES, 1024),
        )


def _int_setting(variable: str, default: int, minimum: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        _logs_module.config_warning(
            variable, raw, f"is not an integer >= {minimum}", f"using {default}"
        )
        return default
    return value


_dropped: Any = None


def _count_dropped(count: int, signal: str, reason: str) -> None:
    """``dbsbm.telemetry.buffer.dropped``: every item the export buffer gave up on."""
    global _dropped
    if _dropped is None:
        _dropped = metrics.get_meter("dbsbm_instrumentation.configurator").create_counter(
            TELEMETRY_BUFFER_DROPPED.name,
            unit=TELEMETRY_BUFFER_DROPPED.unit,
            description=TELEMETRY_BUFFER_DROPPED.description,
        )
    _dropped.add(count, {"signal": signal, "reason": reason})


class ExportGuard(Generic[ItemT, ResultT]):
    """Outage handling around any span or log-record exporter: a bounded buffer.

    Every batch goes into the buffer, and the buffer is sent in order, oldest first, in
    batches of at most ``limits.batch_items`` items and ``limits.batch_bytes`` bytes.
    When an export fails, what was not sent stays, and the destination is left alone for
    a growing pause (1 s .. 10 s) during which batches only go into the buffer: the
    batch processor's queue keeps draining and nothing waits on a dead port. Past the
    buffer's bounds the oldest items go first; each is counted in
    ``dbsbm.telemetry.buffer.dropped`` (``reason``: ``buffer_full``, or ``oversized`` for
    one item bigger than a batch). One WARNING per outage names the variable to check,
    one per outage says the buffer is full, one INFO says it is over.
    :meth:`abort` interrupts an export in flight (retry wait, gRPC channel, HTTP session).
    """

    def __init__(
        self,
        exporter: _Exporter[ItemT, ResultT],
        *,
        signal: str,
        destination: Destination,
        success: ResultT,
        failure: ResultT,
        limits: BufferLimits,
        size: Callable[[ItemT], int],
    ) -> None:
        self._exporter = exporter
        self._size = size
        self.signal = signal
        self.destination = destination
        self.limits = limits
        self._success = success
        self._failure = failure
        self.outage = _outages.setdefault(destination.address, _Outage())
        # (sequence number, item, size), oldest on the left.
        self._pending: deque[tuple[int, ItemT, int]] = deque()
        self._pending_bytes = 0
        self._sequence = 0
        self._dropped_in_outage = 0
        self._closed = False
        self._lock = threading.Lock()  # the buffer
        self._send_lock = threading.Lock()  # one sender at a time, in order

    def export(self, batch: Sequence[ItemT]) -> ResultT:
        with self._lock:
            if self._closed:
                return self._failure
            for item in batch:
                self._sequence += 1
                size = self._size(item)
                self._pending.append((self._sequence, item, size))
                self._pending_bytes += size
            self._trim()
        result = self._send()
        if not self.limits.items:  # no buffer: what was not sent now is dropped
            with self._lock:
                self._trim(keep=0)
        return result

    def _trim(self, keep: int | None = None) -> None:
        """Drop the oldest items past the bounds, or all but ``keep`` (caller holds
        ``_lock``). With no buffer (``limits.items`` 0) the batch in hand is sent first."""
        items = self.limits.items if keep is None else keep
        if not items and keep is None:
            return
        dropped = 0
        while self._pending and (
            len(self._pending) > items or self._pending_bytes > self.limits.bytes
        ):
            self._pending_bytes -= self._pending.popleft()[2]
            dropped += 1
        if not dropped:
            return
        if not self._dropped_in_outage:
            _logger.warning(
                "OpenTelemetry %s buffer full (%d items, %d bytes): dropping the oldest "
                "until %s answers; see DBSBM_OTLP_BUFFER_MAX_ITEMS and _BYTES.",
                self.signal,
                self.limits.items,
                self.limits.bytes,
                self.destination.address,
            )
        self._dropped_in_outage += dropped
        _count_dropped(dropped, self.signal, "buffer_full")

    def _next_batch(self) -> list[tuple[int, ItemT, int]]:
        """The oldest items that fit one batch; an item too big for any is dropped."""
        with self._lock:
            while self._pending and self._pending[0][2] > self.limits.batch_bytes:
                self._pending_bytes -= self._pending.popleft()[2]
                _count_dropped(1, self.signal, "oversized")
            batch: list[tuple[int, ItemT, int]] = []
            size = 0
            for entry in self._pending:
                if (
                    len(batch) >= self.limits.batch_items
                    or size + entry[2] > self.limits.batch_bytes
                ):
                    break
                batch.append(entry)
                size += entry[2]
            return batch

    def _sent(self, last_sequence: int) -> None:
        with self._lock:
            while self._pending and self._pending[0][0] <= last_sequence:
                self._pending_bytes -= self._pending.popleft()[2]

    def _send(self, *, final: bool = False) -> ResultT:
        """Send the buffer until it is empty, an export fails or the pause is on;
        ``final`` (at shutdown) tries once even during the pause."""
        with self._send_lock:
            while not self._closed:
                if not final and time.monotonic() < self.outage.resume_at:
                    return self._failure
                batch = self._next_batch()
                if not batch:
                    return self._success
                try:
                    result = self._exporter.export([item for _, item, _ in batch])
                except Exception:  # an exporter aborted mid-export (closed channel)
                    if self._closed:
                        return self._failure
                    raise
                success = result == self._success
                self._record(success)
                if not success:
                    return result
                self._sent(batch[-1][0])
            return self._failure

    def _record(self, success: bool) -> None:
        outage = self.outage
        if success:
            _noise.take()
            if outage.failing:
                _logger.info("OpenTelemetry export to %s works again", self.destination.address)
            if self._dropped_in_outage:
                _logger.info(
                    "OpenTelemetry %s buffer: %d items were dropped while %s was away",
                    self.signal,
                    self._dropped_in_outage,
                    self.destination.address,
                )
                self._dropped_in_outage = 0
            outage.failing = False
            outage.pause = FIRST_PAUSE_S
            outage.resume_at = 0.0
            return
        if not outage.failing and not self._closed:
            reason = _noise.take()
            reason = f" ({reason})" if reason else ""
            _logger.warning(
                "OpenTelemetry %s export to %s failed%s; check %s and the collector. "
                "Buffering telemetry while it is unreachable (up to %d items), "
                "retrying every %g-%g s.",
                self.signal,
                self.destination.address,
                reason,
                self.destination.variable,
                self.limits.items,
                FIRST_PAUSE_S,
                MAX_PAUSE_S,
            )
        outage.failing = True
        outage.resume_at = time.monotonic() + outage.pause
        outage.pause = min(outage.pause * 2, MAX_PAUSE_S)

    def abort(self) -> None:
        """Stop exporting; interrupt an export in flight."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._exporter.shutdown()
        except Exception:
            _logger.debug("aborting the %s exporter failed", self.signal, exc_info=True)

    def shutdown(self) -> None:
        """Send what is buffered (one try, even during a pause: the collector may be
        back), then stop. :meth:`~dbsbm_instrumentation.bootstrap.Telemetry.shutdown`
        bounds it: it calls :meth:`abort` when its time is mostly spent."""
        if not self._closed:
            self._send(final=True)
        self.abort()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._send() == self._success


# --- exporter arguments ---------------------------------------------------------------

# A credential provider returns a ``requests.Session``: only the requests transport can
# use it.
_CREDENTIAL_PROVIDER_VARIABLES = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_METRICS_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_LOGS_CREDENTIAL_PROVIDER",
)


def _setting(signal: str, suffix: str) -> str | None:
    """The per-signal ``OTEL_EXPORTER_OTLP_*`` value, else the general one."""
    return os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}") or os.environ.get(
        f"OTEL_EXPORTER_OTLP_{suffix}"
    )


def urllib3_transport(signal: str) -> Any | None:
    """The OTLP/HTTP exporters' upstream urllib3 transport, or None for their default.

    Why: the default ``requests`` transport loads requests and charset_normalizer (which
    imports ~100 codecs at import time): resident memory ``dbsbm-agent`` would pay
    (benchmarks/bench_agent.py measures it) for nothing urllib3 (which requests sends
    through anyway) does not do here. The transport is upstream's
    (``opentelemetry-exporter-http-transport``); only its choice is ours, through the
    exporters' ``_transport`` argument. Certificates are resolved as the exporters and
    requests do (``OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE``, else ``REQUESTS_CA_BUNDLE``
    or ``CURL_CA_BUNDLE``, else certifi's bundle). When a credential provider or a proxy
    variable is set, which only requests honours, the default transport is kept, so
    behaviour never changes with the memory saving.
    """
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
    verify = (
        _setting(signal, "CERTIFICATE")
        or os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or certifi.where()
    )
    if os.path.isdir(verify):  # requests takes a CA directory; this transport cannot
        return None
    key, certificate = _setting(signal, "CLIENT_KEY"), _setting(signal, "CLIENT_CERTIFICATE")
    return Urllib3HTTPTransport(
        verify=verify, cert=(certificate, key) if certificate and key else certificate
    )


def _grpc_compression(signal: str) -> Any | None:
    """The compression to pass: upstream's gRPC exporters take only ``gzip`` from the
    environment and raise on the spec's ``none`` (and ``deflate``)."""
    value = _setting(signal, "COMPRESSION")
    if value is None:
        return None
    import grpc

    return {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}.get(
        value.strip().lower(), grpc.Compression.NoCompression
    )


def exporter_arguments(signal: str, exporter_class: type) -> dict[str, Any]:
    """Keyword arguments for one of the SDK's OTLP exporter classes (others get none)."""
    module = exporter_class.__module__
    if not module.startswith("opentelemetry.exporter.otlp.proto."):
        return {}
    arguments: dict[str, Any] = {}
    if _setting(signal, "TIMEOUT") is None:
        arguments["timeout"] = DEFAULT_EXPORT_TIMEOUT_S
    if ".grpc." in module:
        compression = _grpc_compression(signal)
        if compression is not None:
            arguments["compression"] = compression
    else:
        transport = urllib3_transport(signal)
        if transport is not None:
            arguments["_transport"] = transport
    return arguments


def chosen_exporter_classes(signal: Signal) -> list[type]:
    """The exporter classes the SDK will build for ``signal``, by its own reading of
    ``OTEL_{SIGNAL}_EXPORTER`` and the OTLP protocol variables."""
    classes = []
    for name in _get_exporter_names(signal):
        for entry in entry_points(group=f"opentelemetry_{signal}_exporter", name=name):
            classes.append(entry.load())
    return classes


def _exporter_args_map() -> dict[type, dict[str, Any]]:
    """Our arguments for the exporters the SDK will build; their loggers quieted."""
    arguments = {}
    for signal in SIGNALS:
        for cls in chosen_exporter_classes(signal):
            _quiet_exporter_loggers(cls)
            arguments[cls] = exporter_arguments(signal, cls)
    return arguments


# The batch processors' defaults (the SDK's, for OTEL_BSP_* and OTEL_BLRP_* alike).
_SDK_MAX_QUEUE_SIZE = 2048
_SDK_MAX_EXPORT_BATCH_SIZE = 512


def max_export_batch(processor: str) -> int | None:
    """The batch size to pass when it exceeds the queue size, which the SDK refuses
    (``ValueError``), also when only one is set: a queue of 100 against the default batch
    of 512. The batch is then the queue. None: the SDK's own reading is fine."""
    queue_variable = f"OTEL_{processor}_MAX_QUEUE_SIZE"
    batch_variable = f"OTEL_{processor}_MAX_EXPORT_BATCH_SIZE"
    queue_raw = os.environ.get(queue_variable, "").strip()
    batch_raw = os.environ.get(batch_variable, "").strip()
    queue = int(queue_raw) if queue_raw else _SDK_MAX_QUEUE_SIZE  # checked by sdk_environ
    batch = int(batch_raw) if batch_raw else _SDK_MAX_EXPORT_BATCH_SIZE
    if batch <= queue:
        return None
    variable, value, problem = (
        (batch_variable, batch_raw, f"is larger than the queue ({queue})")
        if batch_raw
        else (queue_variable, queue_raw, f"is smaller than the export batch ({batch})")
    )
    _logs_module.config_warning(variable, value, problem, f"exporting batches of {queue}")
    return queue


def batch_size(processor: str) -> int:
    """The batch processor's export batch size, as :func:`max_export_batch` leaves it."""
    clamped = max_export_batch(processor)
    raw = os.environ.get(f"OTEL_{processor}_MAX_EXPORT_BATCH_SIZE", "").strip()
    return clamped or (int(raw) if raw else _SDK_MAX_EXPORT_BATCH_SIZE)


# --- the configurator -------------------------------------------------------------------


def _sdk_provider(provider: object, kind: type[ProviderT]) -> ProviderT:
    """The provider the SDK's configurator just set globally."""
    if not isinstance(provider, kind):
        raise RuntimeError(f"a {kind.__name__} was set before configure_telemetry(); call it first")
    return provider


class DbsbmConfigurator(_OTelSDKConfigurator):
    """``opentelemetry-instrument``'s configurator (entry point ``dbsbm``).

    :meth:`_configure` runs :func:`~dbsbm_instrumentation.bootstrap.configure_telemetry`,
    so zero-code gets what a manual call gets; ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``
    naming ``logging`` or ``system_metrics`` turns ours off.
    """

    def _configure(self, **kwargs: Any) -> None:
        disabled = disabled_instrumentations()
        enabled = "*" not in disabled
        configure_telemetry(
            system_metrics=enabled and "system_metrics" not in disabled,
            logs=enabled and "logging" not in disabled,
            sdk_options=kwargs,
        )

    def set_up(
        self,
        resource: Resource,
        *,
        system_metrics: bool,
        logs: bool,
        sdk_options: Mapping[str, Any],
    ) -> Telemetry:
        """The SDK's set-up with our hooks, then what it does not do (see the module doc)."""
        guards: list[ExportGuard[Any, Any]] = []

        def guarded(
            signal: str,
            exporter: Any,
            redacting: Any,
            results: Any,
            batch_items: int,
            size: Callable[[Any], int],
        ) -> Any:
            guard: ExportGuard[Any, Any] = ExportGuard(
                redacting(exporter),
                signal=signal,
                destination=Destination.of(signal, exporter),
                success=results.SUCCESS,
                failure=results.FAILURE,
                limits=BufferLimits.from_environ(batch_items),
                size=size,
            )
            guards.append(guard)
            return guard

        def span_processor(exporter: SpanExporter, *args: Any, **kwargs: Any) -> BatchSpanProcessor:
            batch = max_export_batch("BSP")
            return BatchSpanProcessor(
                guarded(
                    "traces",
                    exporter,
                    RedactingSpanExporter,
                    SpanExportResult,
                    batch_size("BSP"),
                    span_size,
                ),
                max_export_batch_size=batch,
            )

        def log_processor(
            exporter: LogRecordExporter, *args: Any, **kwargs: Any
        ) -> BatchLogRecordProcessor:
            batch = max_export_batch("BLRP")
            return BatchLogRecordProcessor(
                guarded(
                    "logs",
                    exporter,
                    RedactingLogRecordExporter,
                    LogRecordExportResult,
                    batch_size("BLRP"),
                    log_record_size,
                ),
                max_export_batch_size=batch,
            )

        logging.getLogger("opentelemetry.sdk._shared_internal").addFilter(_queue_full_filter)
        logging.getLogger("opentelemetry.attributes").addFilter(_attributes_filter)
        options: dict[str, Any] = {
            "resource_attributes": dict(resource.attributes),
            "exporter_args_map": _exporter_args_map(),
            "export_span_processor": span_processor,
            "export_log_record_processor": log_processor,
            "setup_logging_handler": False,  # ours is the bridge in dbsbm_instrumentation.logs
            **sdk_options,
        }
        super()._configure(**options)  # type: ignore[no-untyped-call]  # the SDK's is untyped

        tracer_provider = _sdk_provider(trace.get_tracer_provider(), TracerProvider)
        meter_provider = _sdk_provider(metrics.get_meter_provider(), MeterProvider)
        logger_provider = _sdk_provider(_logs.get_logger_provider(), LoggerProvider)
        # Exit is bounded by Telemetry.shutdown; the SDK's own at-exit shutdown is not.
        for provider in (tracer_provider, meter_provider, logger_provider):
            atexit.unregister(provider.shutdown)

        service_name = str(resource.attributes.get("service.name", ""))
        if logs:
            _logs_module.install_trace_context(service_name)
            _logs_module.install_otlp_bridge(logger_provider, log_handler_level())
        else:
            _logs_module.install_record_redaction()  # the bot's own handlers get no secrets

        instrumentor = None
        if system_metrics:
            from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

            instrumentor = SystemMetricsInstrumentor(config=PROCESS_METRICS)
            instrumentor.instrument(meter_provider=meter_provider)

        return Telemetry(
            resource=tracer_provider.resource,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
            _aborts=[guard.abort for guard in guards],
            _collector_away=lambda: any(outage.failing for outage in _outages.values()),
            _system_metrics=instrumentor,
        )
