"""DBSBM's monitoring functions, feeding OpenTelemetry instead of an in-process store.

A bot swaps one import and its code stays as it is::

    # from bot.utils.monitoring_system import record_api_call, time_operation
    from dbsbm_instrumentation.compat import record_api_call, time_operation

Where each call goes:

=================================================  ==============================================
``record_api_call(endpoint, t, status, success)``  ``dbsbm.api.call.duration`` by ``server.address``
                                                   (the endpoint reduced to its host),
                                                   ``http.response.status_code``, ``error.type``
``record_database_query(query_type, t, success)``  ``dbsbm.db.query.duration`` by
                                                   ``db.operation.name``
``record_cache_operation(op, t, success)``         ``dbsbm.cache.operations`` and
                                                   ``dbsbm.cache.operation.duration``, as the
                                                   cache does (result ``ok`` or ``error``)
``record_business_metric(name, value, category)``  ``dbsbm.business.metric`` by name and category
``record_error(type, msg, context)``               ``dbsbm.errors`` by ``error.type``, and a
                                                   ``dbsbm.error`` event on the current span
``@time_operation("db_fetch_one")``                an INTERNAL span of that name and
                                                   ``dbsbm.operation.duration``
=================================================  ==============================================

API calls and queries get names of their own, not ``http.client.request.duration`` /
``db.client.operation.duration``: DBSBM reports them around aiohttp and aiomysql calls
that auto-instrumentation already measures, and the spec series must not count a call
twice. Labels stay bounded: an endpoint URL becomes its host, names are trimmed to
identifier characters, and messages and contexts never become labels. Calls never raise
into the bot.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Callable, Mapping
from timeit import default_timer
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.semconv.attributes.db_attributes import DB_OPERATION_NAME
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.exception_attributes import EXCEPTION_MESSAGE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS
from opentelemetry.trace import Status, StatusCode, TracerProvider

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation.version import __version__
from dbsbm_resilience.errors import classify

__all__ = [
    "MonitoringCompat",
    "record_api_call",
    "record_business_metric",
    "record_cache_operation",
    "record_database_query",
    "record_error",
    "time_operation",
]

_logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

UNKNOWN = "unknown"
MAX_LABEL_LENGTH = 64
MAX_MESSAGE_LENGTH = 256
_NOT_LABEL_CHARS = re.compile(r"[^\w.:-]+")
_HOST = re.compile(r"^[\w-]+(?:\.[\w-]+)+(?::\d+)?$")


def endpoint_host(endpoint: str) -> str:
    """The host of an endpoint given as a URL, ``host/path`` or a bare name; never a path.

    ``https://v1.basketball.api-sports.io/games?id=5`` -> ``v1.basketball.api-sports.io``;
    ``/games/123`` -> ``unknown``; ``weatherapi`` -> ``weatherapi``.
    """
    text = str(endpoint).strip()
    if "://" in text:
        return (urlsplit(text).hostname or UNKNOWN)[:MAX_LABEL_LENGTH]
    head = re.split(r"[/?#]", text, maxsplit=1)[0]
    if not head:
        return UNKNOWN
    if _HOST.match(head):
        return head.rsplit(":", 1)[0].lower()[:MAX_LABEL_LENGTH]
    return label_value(head)


def label_value(value: object) -> str:
    """A caller-supplied name made safe for a label: identifier characters, 64 at most."""
    cleaned = _NOT_LABEL_CHARS.sub("_", str(value)).strip("_")
    return cleaned[:MAX_LABEL_LENGTH] or UNKNOWN


class MonitoringCompat:
    """The instruments behind the module functions; tests build one with their providers."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(__name__, __version__, tracer_provider)
        meter = get_meter(__name__, __version__, meter_provider)

        def histogram(instrument: semconv.Instrument) -> Any:
            return meter.create_histogram(
                instrument.name, unit=instrument.unit, description=instrument.description
            )

        def counter(instrument: semconv.Instrument) -> Any:
            return meter.create_counter(
                instrument.name, unit=instrument.unit, description=instrument.description
            )

        self._api = histogram(semconv.COMPAT_API_CALL_DURATION)
        self._db = histogram(semconv.COMPAT_DB_QUERY_DURATION)
        self._cache_ops = counter(semconv.CACHE_OPERATIONS)
        self._cache_duration = histogram(semconv.CACHE_OPERATION_DURATION)
        self._business = histogram(semconv.BUSINESS_METRIC)
        self._errors = counter(semconv.ERRORS)
        self._operations = histogram(semconv.OPERATION_DURATION)

    def record_api_call(
        self, endpoint: str, response_time: float, status_code: int | None, success: bool
    ) -> None:
        attributes: dict[str, Any] = {SERVER_ADDRESS: endpoint_host(endpoint)}
        if isinstance(status_code, int) and 100 <= status_code <= 599:
            attributes[HTTP_RESPONSE_STATUS_CODE] = status_code
        if not success:
            attributes[ERROR_TYPE] = (
                str(status_code) if HTTP_RESPONSE_STATUS_CODE in attributes else "_OTHER"
            )
        self._api.record(max(float(response_time), 0.0), attributes)

    def record_database_query(self, query_type: str, response_time: float, success: bool) -> None:
        attributes = {DB_OPERATION_NAME: label_value(query_type)}
        if not success:
            attributes[ERROR_TYPE] = "_OTHER"
        self._db.record(max(float(response_time), 0.0), attributes)

    def record_cache_operation(self, op: str, t: float, success: bool) -> None:
        attributes = {
            semconv.CACHE_OPERATION: label_value(op),
            semconv.CACHE_RESULT: "ok" if success else "error",
        }
        self._cache_ops.add(1, attributes)
        self._cache_duration.record(max(float(t), 0.0), attributes)

    def record_business_metric(self, name: str, value: float, category: str = "general") -> None:
        self._business.record(
            float(value),
            {
                semconv.BUSINESS_METRIC_NAME: label_value(name),
                semconv.BUSINESS_METRIC_CATEGORY: label_value(category),
            },
        )

    def record_error(
        self, error_type: str, message: str = "", context: Mapping[str, Any] | None = None
    ) -> None:
        """Count the error; its message goes on the current span only, ``context`` nowhere
        (free-form, may hold user data: log it if you need it)."""
        error_type = label_value(error_type)
        self._errors.add(1, {ERROR_TYPE: error_type})
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(
                semconv.ERROR_EVENT,
                {
                    ERROR_TYPE: error_type,
                    EXCEPTION_MESSAGE: str(message)[:MAX_MESSAGE_LENGTH],
                },
            )

    def time_operation(self, operation_name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
        name = label_value(operation_name)

        def decorate(func: Callable[P, R]) -> Callable[P, R]:
            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def timed_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                    start = default_timer()
                    with self._operation_span(name) as span:
                        try:
                            result = await func(*args, **kwargs)
                        except Exception as exc:
                            self._operation_failed(name, span, exc, start)
                            raise
                    self._operations.record(default_timer() - start, {semconv.OPERATION_NAME: name})
                    return result

                # for a coroutine function R is the coroutine timed_async returns
                return cast(Callable[P, R], timed_async)

            @functools.wraps(func)
            def timed(*args: P.args, **kwargs: P.kwargs) -> R:
                start = default_timer()
                with self._operation_span(name) as span:
                    try:
                        result = func(*args, **kwargs)
                    except Exception as exc:
                        self._operation_failed(name, span, exc, start)
                        raise
                self._operations.record(default_timer() - start, {semconv.OPERATION_NAME: name})
                return result

            return timed

        return decorate

    def _operation_span(self, name: str) -> Any:
        return self._tracer.start_as_current_span(
            name,
            attributes={semconv.OPERATION_NAME: name},
            record_exception=False,
            set_status_on_exception=False,
        )

    def _operation_failed(self, name: str, span: trace.Span, exc: Exception, start: float) -> None:
        info = classify(exc)
        if span.is_recording():
            span.set_attributes({ERROR_TYPE: info.type, semconv.ERROR_CODE: info.code})
            span.set_status(Status(StatusCode.ERROR, info.type))
        self._operations.record(
            default_timer() - start, {semconv.OPERATION_NAME: name, ERROR_TYPE: info.type}
        )


@functools.cache
def _default() -> MonitoringCompat:
    """Built on first use from the global providers (proxies until bootstrap sets them)."""
    return MonitoringCompat()


def _never_raise(func: Callable[P, None]) -> Callable[P, None]:
    """Monitoring must not break the bot: a bad argument is logged, not raised."""

    @functools.wraps(func)
    def safe(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            _logger.warning("%s%r failed", func.__name__, args, exc_info=True)

    return safe


@_never_raise
def record_api_call(
    endpoint: str, response_time: float, status_code: int | None = None, success: bool = True
) -> None:
    """DBSBM's ``record_api_call``: ``response_time`` in seconds."""
    _default().record_api_call(endpoint, response_time, status_code, success)


@_never_raise
def record_database_query(query_type: str, response_time: float, success: bool = True) -> None:
    """DBSBM's ``record_database_query``: ``response_time`` in seconds."""
    _default().record_database_query(query_type, response_time, success)


@_never_raise
def record_cache_operation(op: str, t: float, success: bool = True) -> None:
    """DBSBM's ``record_cache_operation``: ``t`` in seconds."""
    _default().record_cache_operation(op, t, success)


@_never_raise
def record_business_metric(name: str, value: float, category: str = "general") -> None:
    """DBSBM's ``record_business_metric``."""
    _default().record_business_metric(name, value, category)


@_never_raise
def record_error(
    error_type: str, message: str = "", context: Mapping[str, Any] | None = None
) -> None:
    """DBSBM's ``record_error``."""
    _default().record_error(error_type, message, context)


def time_operation(operation_name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """DBSBM's ``@time_operation("db_<op>")`` for sync and async functions.

    The providers are looked up when the function runs, not when it is decorated, so
    decorating at import time (before telemetry is configured) is fine.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        timed: Callable[P, Any] | None = None

        def resolve() -> Callable[P, Any]:
            nonlocal timed
            if timed is None:
                timed = _default().time_operation(operation_name)(func)
            return timed

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await resolve()(*args, **kwargs)

            # for a coroutine function R is the coroutine run_async returns
            return cast(Callable[P, R], run_async)

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            result: R = resolve()(*args, **kwargs)
            return result

        return run

    return decorate
