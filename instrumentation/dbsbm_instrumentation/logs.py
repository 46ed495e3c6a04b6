"""Structured logging for DBSBM: JSON lines in production, readable text in development.

Three pieces, usable separately:

* :func:`install_trace_context` - a log-record factory that stamps every record with the
  active span (``otelTraceID``, ``otelSpanID``, ``otelTraceSampled``, ``otelServiceName``,
  the names opentelemetry-instrumentation-logging uses, so ``%(otelTraceID)s`` format
  strings written for upstream keep working). Stamped at creation, so a record formatted
  later on another thread (QueueHandler) still carries its own span.
* :class:`JsonFormatter` / :class:`TextFormatter` - secrets are redacted before a line is
  written (:mod:`dbsbm_instrumentation.redaction`).
* :func:`install_record_redaction` - scrubs each record before *any* handler sees it, the
  bot's own too (a ``basicConfig`` file, a third-party handler): secrets are redacted
  before a record leaves the process, whatever writes it.
* :func:`install_otlp_bridge` - sends every record to the SDK ``LoggerProvider`` *without
  adding a handler to any logger*. Why: upstream's logging instrumentation puts its
  handler on the root logger at start-up, so root already "has handlers" when the bot
  runs ``logging.basicConfig(handlers=[FileHandler(...)])``; upstream wraps basicConfig to
  cope, but anything else that looks at ``root.handlers`` (``if not root.handlers``,
  ``root.handlers = [...]``, the lastResort stderr fallback, implicit basicConfig in
  ``logging.warning``) still sees or loses it. The bridge instead hooks
  ``Logger.callHandlers``: after the bot's own handlers ran, the record goes to one
  OTLP ``LoggingHandler`` that lives outside the logger tree, so the bot's logging set-up
  behaves exactly as it would without OpenTelemetry, whenever and however it is done.
  Record redaction runs in the same hook, first.

:func:`configure_logging` combines them the way DBSBM configures itself: ``DBSBM_ENV``
picks the mode, ``DBSBM_LOG_FORMAT`` or the ``mode`` argument override it.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import orjson
from opentelemetry import trace
from opentelemetry._logs import LoggerProvider
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonEncoder
from pythonjsonlogger.json import JsonFormatter as _PjlJsonFormatter

from dbsbm_instrumentation.semconv import ERROR_CODE
from dbsbm_resilience.errors import classify

Mode = Literal["json", "text"]
ENVIRONMENTS = ("production", "development")
DEFAULT_ENVIRONMENT = "production"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUP_COUNT = 5
NOISY_LOGGERS = ("discord", "asyncio", "urllib3", "aiohttp.access")

TRACE_ID = "otelTraceID"
SPAN_ID = "otelSpanID"
TRACE_SAMPLED = "otelTraceSampled"
SERVICE_NAME = "otelServiceName"
TRACE_FIELDS = (TRACE_ID, SPAN_ID, TRACE_SAMPLED, SERVICE_NAME)
_NO_TRACE = "0"

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_warned: set[str] = set()


def config_warning(variable: str, value: str, problem: str, fallback: str) -> None:
    """Report one bad setting once per process: one line naming it, never a traceback."""
    key = f"{variable}={value}"
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    _logger.warning("%s=%r %s; %s", variable, value, problem, fallback)


def resolve_environment(environment: str | None = None) -> str:
    """``production`` or ``development``: the argument, else ``DBSBM_ENV``, else production."""
    value = environment if environment is not None else os.environ.get("DBSBM_ENV")
    if value is None or value.strip() == "":
        return DEFAULT_ENVIRONMENT
    normalized = value.strip().lower()
    if normalized in ENVIRONMENTS:
        return normalized
    config_warning(
        "DBSBM_ENV",
        value,
        "is not one of production, development",
        f"using {DEFAULT_ENVIRONMENT}",
    )
    return DEFAULT_ENVIRONMENT


def _bind_redaction() -> None:
    """Binds :data:`_redact` and :data:`_redact_field` to :mod:`dbsbm_instrumentation.redaction`.

    Done on first use. Why not at import: redaction imports the SDK, which reads (and fails
    on) some ``OTEL_*`` values; the configure calls check those first, and importing this
    module must not depend on them.
    """
    global _redact, _redact_field
    from dbsbm_instrumentation import redaction

    _redact = redaction.redact
    _redact_field = redaction.redact_field


def _load_redact(text: str) -> str:
    _bind_redaction()
    return _redact(text)


def _load_redact_field(key: object, value: Any) -> Any:
    _bind_redaction()
    return _redact_field(key, value)


_redact: Callable[[str], str] = _load_redact
_redact_field: Callable[[object, Any], Any] = _load_redact_field
# (id of the record, its message) when redact_record found that message clean: the
# formatter then skips searching the same text again. Compared by value, so a message
# changed since (by a filter, or an argument that renders differently) is searched anew;
# another thread overwriting it only costs that search.
_clean_message: tuple[int, str] = (0, "")


# --- trace context on records -----------------------------------------------------------

_service_name = ""
_factory_installed = False


def install_trace_context(service_name: str | None = None) -> None:
    """Stamp records with the active span's ids; idempotent (re-calls update the name)."""
    global _service_name, _factory_installed
    if service_name is not None:
        _service_name = service_name
    with _lock:
        if _factory_installed:
            return
        _factory_installed = True
        previous = logging.getLogRecordFactory()

    get_current_span = trace.get_current_span

    def record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        context = get_current_span().get_span_context()
        if context.is_valid:
            record.otelTraceID = format(context.trace_id, "032x")
            record.otelSpanID = format(context.span_id, "016x")
            record.otelTraceSampled = context.trace_flags.sampled
        else:
            record.otelTraceID = record.otelSpanID = _NO_TRACE
            record.otelTraceSampled = False
        record.otelServiceName = _service_name
        return record

    logging.setLogRecordFactory(record_factory)


def _trace_ids(record: logging.LogRecord) -> tuple[str, str]:
    trace_id = getattr(record, TRACE_ID, None)
    if trace_id is not None:
        return trace_id, getattr(record, SPAN_ID, _NO_TRACE)
    # Record made before install_trace_context (or without it): read the live span.
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return _NO_TRACE, _NO_TRACE
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# --- formatters ---------------------------------------------------------------------------

_TEXT_TRACE = "dbsbm_trace"  # set by TextFormatter for its format string
_SKIP = frozenset(RESERVED_ATTRS) | {"taskName", "message", "asctime", _TEXT_TRACE, *TRACE_FIELDS}
_json_default = JsonEncoder().default  # python-json-logger's handling of odd types
_stdlib_encode = json.JSONEncoder(
    default=_json_default, ensure_ascii=False, separators=(",", ":")
).encode
_SCALARS = (int, float, bool)


# ".000Z" ... ".999Z": a lookup costs a third of formatting the milliseconds on each line.
_MILLIS = tuple(f".{millis:03d}Z" for millis in range(1000))


def _iso_timestamp(created: float, _cache: list[Any] = [None, ""]) -> str:  # noqa: B006 - the cache, a local for speed
    """RFC 3339 UTC with milliseconds; the seconds part is formatted once per second."""
    second = int(created)
    if _cache[0] != second:
        _cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _cache[0] = second
    prefix: str = _cache[1]
    return prefix + _MILLIS[int((created - second) * 1000)]


class JsonFormatter(_PjlJsonFormatter):
    """One JSON object per line, with trace correlation and redaction.

    Built on python-json-logger (its reserved-attribute list, its encoder defaults for
    datetimes, exceptions, enums, dataclasses, bytes; ``static_fields``), but with our own
    ``format``: python-json-logger parses a format string, merges extras through several
    hooks and serializes with a Python-level encoder class on every line (~20 us); our
    field set is fixed, so a direct dict build + one C-level dump is about twice as fast
    even with trace ids and redaction added (benchmarks/bench_logging.py).
    """

    def __init__(self, *, service_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_name = service_name

    @staticmethod
    def _dumps(data: Any) -> str:
        try:
            return orjson.dumps(data, default=_json_default).decode()
        except orjson.JSONEncodeError:  # rare extras: non-str dict keys, ints over 64 bits
            pass
        try:
            return orjson.dumps(
                data, default=_json_default, option=orjson.OPT_NON_STR_KEYS
            ).decode()
        except orjson.JSONEncodeError:
            return _stdlib_encode(data)

    def format(self, record: logging.LogRecord) -> str:
        attributes = record.__dict__  # one dict, read directly: this is the hot path
        msg = attributes["msg"]
        message = "" if isinstance(msg, dict) else record.getMessage()
        attributes["message"] = message
        if (id(record), message) != _clean_message:  # not found clean by redact_record
            message = _redact(message)
        data: dict[str, Any] = {
            "timestamp": _iso_timestamp(attributes["created"]),
            "level": attributes["levelname"],
            "logger": attributes["name"],
            "message": message,
            "module": attributes["module"],
            "function": attributes["funcName"],
            "line": attributes["lineno"],
        }
        trace_id = attributes.get(TRACE_ID)
        if trace_id is None:
            trace_id, span_id = _trace_ids(record)
        else:
            span_id = attributes.get(SPAN_ID, _NO_TRACE)
        if trace_id != _NO_TRACE:
            data["trace_id"] = trace_id
            data["span_id"] = span_id
        service = self.service_name or attributes.get(SERVICE_NAME)
        if service:
            data["service.name"] = service
        if attributes["exc_info"] and not attributes["exc_text"]:
            record.exc_text = str(self.formatException(record.exc_info))
        if record.exc_text:
            data["exception"] = _redact(record.exc_text)
        stack_info = record.stack_info
        if stack_info:
            # The stdlib's: python-json-logger's may return a list (stack_info_as_array).
            data["stack_info"] = _redact(logging.Formatter.formatStack(self, stack_info))
        if self.static_fields:
            data.update(self.static_fields)
        if isinstance(msg, dict):
            for key, value in msg.items():
                if key not in data:
                    data[key] = self._redact_object(key, value)
        # Set difference runs in C; extras are usually none or a few.
        for key in attributes.keys() - _SKIP:
            if key in data:
                continue
            value = attributes[key]
            if value.__class__ is str:
                value = _redact_field(key, value)
            elif value.__class__ not in _SCALARS and value is not None:
                value = self._redact_object(key, value)
            data[key] = value
        return self._dumps(data)

    def _redact_object(self, key: object, value: Any) -> Any:
        """``value`` masked whole under a credential key, else with its secrets masked.

        Maps and sequences are walked; anything else that is not a string (a dataclass,
        an exception) is scanned as it will be written, in JSON. Why per value and not
        over the finished line: a line pass masks a bare JSON number after a
        credential-like key (``"token_count":3``) and the line no longer parses.
        """
        value = _redact_field(key, value)
        if value.__class__ is str or value.__class__ in _SCALARS or value is None:
            return value
        text = self._dumps(value)
        redacted = _redact(text)
        if redacted is text:
            return value
        try:
            return orjson.loads(redacted)
        except orjson.JSONDecodeError:  # a bare value was masked: the text is kept instead
            return redacted


class TextFormatter(logging.Formatter):
    """Readable development lines: time, level, logger, [trace/span], message."""

    default_format = "%(asctime)s %(levelname)-8s %(name)s%(dbsbm_trace)s: %(message)s"

    def __init__(self, fmt: str | None = None, datefmt: str | None = None) -> None:
        super().__init__(fmt or self.default_format, datefmt)

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = _trace_ids(record)
        record.dbsbm_trace = f" [{trace_id}/{span_id}]" if trace_id != _NO_TRACE else ""
        return _redact(super().format(record))


# --- OTLP bridge --------------------------------------------------------------------------


def _bridge_handler(logger_provider: LoggerProvider, level: int) -> logging.Handler:
    """The contrib OTLP handler, minus our record stamps and the at-exit flush.

    Trace ids already travel in the OTLP record's own fields, so the stamped copies are
    dropped from the attributes. ``flush`` is a no-op: ``logging.shutdown`` flushes every
    handler ever created at exit, and upstream's flush starts a non-daemon thread that
    retries an unreachable collector for the full exporter timeout;
    :meth:`dbsbm_instrumentation.bootstrap.Telemetry.shutdown` flushes with a deadline.
    Defined when first needed: contrib's handler module imports the SDK (see
    :func:`_load_redact`).
    """
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    class OtlpBridgeHandler(LoggingHandler):
        def _get_attributes(self, record: logging.LogRecord) -> tuple[dict[str, Any], str | None]:
            attributes, event_name = super()._get_attributes(record)
            for key in TRACE_FIELDS:
                attributes.pop(key, None)
            attributes.pop(_TEXT_TRACE, None)
            return attributes, event_name

        def flush(self) -> None:
            return None

    return OtlpBridgeHandler(level=level, logger_provider=logger_provider)


# --- the callHandlers hook: record redaction, then the OTLP bridge --------------------------

_bridge: logging.Handler | None = None
_redacting = False
_original_call_handlers = logging.Logger.callHandlers
# The SDK's own loggers (exporter retries, dropped batches) are never exported: a
# collector outage must not feed more records into the pipeline that cannot reach it.
_NOT_EXPORTED = ("opentelemetry.", "dbsbm_instrumentation.bootstrap")
_exception_formatter = logging.Formatter()


def redact_record(record: logging.LogRecord) -> None:
    """Scrub ``record`` in place; a record with nothing to mask is left exactly as it was.

    The message is rendered once and, only when a secret was masked, frozen as
    ``msg = redacted, args = None`` (the same text every handler would have rendered, minus
    the secret). Why here and not in a record factory: ``extra=`` fields are set after the
    factory ran. A traceback with a secret is pre-rendered into ``exc_text`` with the stdlib
    format, which ``logging.Formatter`` uses instead of ``exc_info``; a formatter that
    re-renders ``exc_info`` itself is beyond this cheap pass. Non-string ``msg`` (a dict)
    with a secret becomes its redacted string: structure is lost only when a secret was in it.
    """
    global _clean_message
    attributes = record.__dict__
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it
        message = None
    if message is not None:
        redacted = _redact(message)
        if redacted is message:  # redact() returns its argument when nothing matched
            _clean_message = (id(record), message)
        else:
            record.msg = redacted
            record.args = None
    if attributes["exc_info"] and not attributes["exc_text"]:
        text = _exception_formatter.formatException(attributes["exc_info"])
        redacted = _redact(text)
        if redacted is not text:
            record.exc_text = redacted
    elif attributes["exc_text"]:
        record.exc_text = _redact(attributes["exc_text"])
    if attributes["stack_info"]:
        record.stack_info = _redact(attributes["stack_info"])
    # Set difference runs in C; extras are usually none or a few.
    for key in attributes.keys() - _SKIP:
        value = attributes[key]
        if value.__class__ not in _SCALARS and value is not None:
            redacted = _redact_field(key, value)
            if redacted is not value:
                attributes[key] = redacted


def stamp_error(record: logging.LogRecord) -> None:
    """Give a record logged with an exception its ``error.type`` and ``dbsbm.error.code``.

    Why: :func:`~dbsbm_resilience.errors.report_error` sets them explicitly, but most
    bot code just calls ``logger.exception(...)``; stamped here, the JSON line and the
    OTLP record both carry the taxonomy's code, so logs can be searched by it. Extras
    the caller passed win.
    """
    exc_info = record.exc_info
    exc = exc_info[1] if isinstance(exc_info, tuple) else None
    attributes = record.__dict__
    if exc is None or (ERROR_CODE in attributes and ERROR_TYPE in attributes):
        return
    info = classify(exc)
    attributes.setdefault(ERROR_TYPE, info.type)
    attributes.setdefault(ERROR_CODE, info.code)


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    if record.exc_info:
        stamp_error(record)
    if _redacting:
        redact_record(record)
    _original_call_handlers(self, record)
    bridge = _bridge
    if (
        bridge is not None
        and record.levelno >= bridge.level
        and not record.name.startswith(_NOT_EXPORTED)
    ):
        bridge.handle(record)


def _update_hook() -> None:
    """Hook ``Logger.callHandlers`` while redaction or the bridge is on (caller holds _lock)."""
    hooked = _redacting or _bridge is not None
    # Assigned on the class on purpose: every logger, existing or future, goes through it.
    logging.Logger.callHandlers = (  # type: ignore[method-assign]  # see above
        _call_handlers if hooked else _original_call_handlers
    )


def install_record_redaction() -> None:
    """Redact every record before any handler sees it (:func:`redact_record`); idempotent."""
    global _redacting
    with _lock:
        _redacting = True
        _update_hook()


def uninstall_record_redaction() -> None:
    """Hand records to handlers unredacted again (our formatters still redact their lines)."""
    global _redacting
    with _lock:
        _redacting = False
        _update_hook()


def install_otlp_bridge(logger_provider: LoggerProvider, level: int = logging.NOTSET) -> None:
    """Export every record that reaches the handler stage to ``logger_provider``.

    Also turns on :func:`install_record_redaction`. Records go through the bot's own
    handlers first; see the module docstring for why no handler is added to the root logger.
    """
    global _bridge, _redacting
    with _lock:
        _bridge = _bridge_handler(logger_provider, level)
        _redacting = True
        _update_hook()


def uninstall_otlp_bridge() -> None:
    """Stop exporting records; the bot's handlers are untouched, redaction stays on.

    Redaction stays because :meth:`~dbsbm_instrumentation.bootstrap.Telemetry.shutdown`
    runs at exit, before ``logging.shutdown`` and before later atexit hooks log.
    """
    global _bridge
    with _lock:
        _bridge = None
        _update_hook()


# --- configure_logging ---------------------------------------------------------------------


def _resolve_mode(mode: str | None, environment: str) -> Mode:
    if mode is not None:
        if mode in ("json", "text"):
            return "json" if mode == "json" else "text"
        raise ValueError(f"mode must be 'json' or 'text', not {mode!r}")
    override = os.environ.get("DBSBM_LOG_FORMAT")
    if override:
        normalized = override.strip().lower()
        if normalized in ("json", "text"):
            return "json" if normalized == "json" else "text"
        config_warning(
            "DBSBM_LOG_FORMAT",
            override,
            "is not one of json, text",
            "using the format DBSBM_ENV selects",
        )
    return "json" if environment == "production" else "text"


def configure_logging(
    *,
    mode: Mode | None = None,
    level: int | str | None = None,
    file: str | os.PathLike[str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backup_count: int = DEFAULT_BACKUP_COUNT,
    service_name: str | None = None,
) -> None:
    """Set up the root logger as DBSBM expects; safe to call again (replaces our handlers).

    Production: JSON on stderr, INFO, noisy libraries at WARNING. Development: text,
    DEBUG. ``file`` adds a rotating file (``max_bytes`` x ``backup_count``) in the same
    format. Handlers the bot added itself are left alone. The ``OTEL_*`` variables the
    SDK reads are checked first, as :func:`~dbsbm_instrumentation.bootstrap.configure_telemetry`
    does: the formatters' redaction imports the SDK.
    """
    from dbsbm_instrumentation.bootstrap import check_settings

    check_settings()
    environment = resolve_environment()
    resolved_mode = _resolve_mode(mode, environment)
    if service_name is None:
        service_name = os.environ.get("OTEL_SERVICE_NAME") or None
    install_trace_context(service_name)
    install_record_redaction()
    formatter: logging.Formatter = (
        JsonFormatter(service_name=service_name) if resolved_mode == "json" else TextFormatter()
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if file is not None:
        path = Path(file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
            )
        )
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_dbsbm", False)]:
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        handler._dbsbm = True  # type: ignore[attr-defined]  # marks ours: the next call replaces them
        handler.setFormatter(formatter)
        root.addHandler(handler)
    if level is None:
        level = logging.INFO if environment == "production" else logging.DEBUG
    root.setLevel(level)
    if environment == "production":
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
