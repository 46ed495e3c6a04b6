"""DBSBM's exception taxonomy, a retry classifier, and error reporting on spans and logs.

The classes keep DBSBM's names and constructor (``message, error_code, details``) so the
bot's ``except`` clauses and ``raise`` sites keep working. Two things differ on purpose:

* :func:`classify` treats an exception it does not know as **not** retryable (DBSBM's
  classifier retried everything, so a ``KeyError`` was retried three times with backoff).
  Well-known transient errors of the libraries the bot uses are recognised by class name
  through the MRO, so this module imports none of them.
* :func:`report_error` puts ``error.type`` and ``dbsbm.error.code`` on the active span and
  in a log record's ``extra``, the same two names in both places.

Usage::

    try:
        ...
    except Exception as exc:
        info = report_error(exc, logger=log)   # span + log, returns the classification
        if info.retryable: ...

API
---
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import Span, Status, StatusCode

from dbsbm_resilience.semconv import ERROR_CODE, ERROR_RETRYABLE

__all__ = [
    "APIException",
    "AuthenticationException",
    "CacheException",
    "ConfigurationException",
    "ConflictException",
    "DBSBMBaseException",
    "DataIntegrityException",
    "DatabaseException",
    "ErrorInfo",
    "ExternalServiceException",
    "NetworkException",
    "RateLimitException",
    "ResourceNotFoundException",
    "SecurityException",
    "ServiceException",
    "TimeoutException",
    "ValidationException",
    "classify",
    "error_type",
    "is_retryable",
    "report_error",
]


class DBSBMBaseException(Exception):
    """Root of DBSBM's errors: a message, a stable machine-readable code, and details.

    ``retryable`` and ``retry_delay`` are class defaults the classifier reads; an instance
    may override ``retryable`` (a database error known to be a deadlock, for example).
    """

    default_code = "DBSBM_ERROR"
    retryable = False
    retry_delay = 1.0  # seconds, the first backoff step for this kind of error

    def __init__(
        self,
        message: str = "",
        error_code: str | None = None,
        details: Mapping[str, Any] | None = None,
        *,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code or self.default_code
        self.details: dict[str, Any] = dict(details or {})
        if retryable is not None:
            self.retryable = retryable

    def to_dict(self) -> dict[str, Any]:
        """The shape DBSBM's error handlers log and return to users."""
        return {
            "error": type(self).__name__,
            "error_code": self.error_code,
            "message": self.message,
            "details": self.details,
        }


class DatabaseException(DBSBMBaseException):
    default_code = "DATABASE_ERROR"
    retry_delay = 0.5


class CacheException(DBSBMBaseException):
    default_code = "CACHE_ERROR"
    retry_delay = 0.1


class APIException(DBSBMBaseException):
    default_code = "API_ERROR"


class AuthenticationException(DBSBMBaseException):
    default_code = "AUTHENTICATION_ERROR"


class ValidationException(DBSBMBaseException):
    default_code = "VALIDATION_ERROR"


class ConfigurationException(DBSBMBaseException):
    """Bad configuration: the message is one line naming the setting at fault."""

    default_code = "CONFIGURATION_ERROR"


class ServiceException(DBSBMBaseException):
    """A dependency is unavailable (an open circuit breaker, for example)."""

    default_code = "SERVICE_UNAVAILABLE"
    retryable = True


class RateLimitException(DBSBMBaseException):
    """HTTP 429 and the like; ``retry_after`` (seconds) is what the server asked for."""

    default_code = "RATE_LIMITED"
    retryable = True
    retry_delay = 60.0

    def __init__(
        self,
        message: str = "",
        error_code: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
        *,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, error_code, details, retryable=retryable)
        self.retry_after = retry_after
        if retry_after is not None:
            self.details.setdefault("retry_after", retry_after)


class NetworkException(DBSBMBaseException):
    default_code = "NETWORK_ERROR"
    retryable = True


class TimeoutException(DBSBMBaseException):
    default_code = "TIMEOUT"
    retryable = True


class ResourceNotFoundException(DBSBMBaseException):
    default_code = "NOT_FOUND"


class ConflictException(DBSBMBaseException):
    default_code = "CONFLICT"


class SecurityException(DBSBMBaseException):
    default_code = "SECURITY_ERROR"


class DataIntegrityException(DBSBMBaseException):
    default_code = "DATA_INTEGRITY_ERROR"


class ExternalServiceException(DBSBMBaseException):
    default_code = "EXTERNAL_SERVICE_ERROR"
    retryable = True


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """How an exception is classified: ``error.type``, code, retryable, first delay (s)."""

    type: str
    code: str
    retryable: bool
    retry_delay: float


# Third-party and builtin classes by "module.QualName", walked through the MRO so the
# most specific entry wins: redis's AuthenticationError subclasses its ConnectionError
# but retrying a wrong password only locks the account out faster.
# value: (code, retryable, first delay in seconds)
_KNOWN: dict[str, tuple[str, bool, float]] = {
    "redis.exceptions.AuthenticationError": ("CACHE_AUTH_ERROR", False, 0.0),
    "redis.exceptions.AuthenticationWrongNumberOfArgsError": ("CACHE_AUTH_ERROR", False, 0.0),
    "redis.exceptions.BusyLoadingError": ("CACHE_LOADING", True, 0.5),
    "redis.exceptions.ConnectionError": ("CACHE_UNAVAILABLE", True, 0.1),
    "redis.exceptions.TimeoutError": ("CACHE_TIMEOUT", True, 0.1),
    "aiohttp.client_exceptions.ClientConnectorCertificateError": ("TLS_ERROR", False, 0.0),
    "aiohttp.client_exceptions.ClientConnectorSSLError": ("TLS_ERROR", False, 0.0),
    "aiohttp.client_exceptions.ServerTimeoutError": ("TIMEOUT", True, 1.0),
    "aiohttp.client_exceptions.ClientConnectionError": ("NETWORK_ERROR", True, 1.0),
    "builtins.ConnectionRefusedError": ("CONNECTION_REFUSED", True, 1.0),
    "builtins.ConnectionError": ("NETWORK_ERROR", True, 1.0),
    # asyncio.TimeoutError is builtins.TimeoutError since Python 3.11
    "builtins.TimeoutError": ("TIMEOUT", True, 1.0),
}

# MySQL client error codes that mean "the connection, not the query, failed".
_MYSQL_TRANSIENT = {
    2003: "DATABASE_UNREACHABLE",  # can't connect to server
    2006: "DATABASE_GONE_AWAY",  # server has gone away
    2013: "DATABASE_CONNECTION_LOST",  # lost connection during query
}
_MYSQL_OPERATIONAL = "pymysql.err.OperationalError"


def error_type(exc: BaseException) -> str:
    """``error.type`` as semconv asks: the fully qualified class name (builtins bare)."""
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def classify(exc: BaseException) -> ErrorInfo:
    """Classify ``exc``: ours by class attributes, known transients by table, else fatal."""
    if isinstance(exc, DBSBMBaseException):
        delay = exc.retry_delay
        if isinstance(exc, RateLimitException) and exc.retry_after is not None:
            delay = float(exc.retry_after)
        return ErrorInfo(error_type(exc), exc.error_code, exc.retryable, delay)
    for cls in type(exc).__mro__:
        name = f"{cls.__module__}.{cls.__qualname__}"
        if name == _MYSQL_OPERATIONAL:
            code = exc.args[0] if exc.args else None
            if code in _MYSQL_TRANSIENT:
                return ErrorInfo(error_type(exc), _MYSQL_TRANSIENT[code], True, 0.5)
            return ErrorInfo(error_type(exc), f"MYSQL_{code}", False, 0.0)
        known = _KNOWN.get(name)
        if known is not None:
            return ErrorInfo(error_type(exc), known[0], known[1], known[2])
    return ErrorInfo(error_type(exc), "UNKNOWN_ERROR", False, 0.0)


def is_retryable(exc: BaseException) -> bool:
    """True only for errors known to be transient; unknown exceptions are not retried."""
    return classify(exc).retryable


def report_error(
    exc: BaseException,
    *,
    span: Span | None = None,
    logger: logging.Logger | None = None,
    message: str | None = None,
    level: int = logging.ERROR,
) -> ErrorInfo:
    """Record ``exc``'s type and code on ``span`` (default: the active one) and in a log.

    The span gets ERROR status, ``error.type``, ``dbsbm.error.code`` and
    ``dbsbm.error.retryable``; the log record (if ``logger``) gets the same keys in
    ``extra`` so a JSON formatter emits them beside the trace id.
    """
    info = classify(exc)
    span = span if span is not None else trace.get_current_span()
    if span.is_recording():
        span.set_attributes(
            {ERROR_TYPE: info.type, ERROR_CODE: info.code, ERROR_RETRYABLE: info.retryable}
        )
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{info.type}: {exc}"[:256]))
    if logger is not None:
        logger.log(
            level,
            message or str(exc) or info.type,
            exc_info=exc,
            extra={ERROR_TYPE: info.type, ERROR_CODE: info.code, ERROR_RETRYABLE: info.retryable},
        )
    return info
