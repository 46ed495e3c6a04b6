"""The exception taxonomy, the retry classifier and error reporting on spans and logs."""

from __future__ import annotations

import logging

import aiohttp
import pymysql
import pytest
import redis.exceptions
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import StatusCode

from dbsbm_instrumentation.semconv import ERROR_CODE, ERROR_RETRYABLE
from dbsbm_resilience import errors
from dbsbm_resilience.errors import (
    DBSBMBaseException,
    RateLimitException,
    classify,
    is_retryable,
    report_error,
)

SUBCLASSES = [
    "DatabaseException",
    "CacheException",
    "APIException",
    "AuthenticationException",
    "ValidationException",
    "ConfigurationException",
    "ServiceException",
    "RateLimitException",
    "NetworkException",
    "TimeoutException",
    "ResourceNotFoundException",
    "ConflictException",
    "SecurityException",
    "DataIntegrityException",
    "ExternalServiceException",
]


@pytest.mark.parametrize("name", SUBCLASSES)
def test_dbsbm_classes_keep_their_constructor(name: str) -> None:
    """Every DBSBM exception takes (message, error_code, details) and has a default code."""
    cls = getattr(errors, name)
    assert issubclass(cls, DBSBMBaseException)
    exc = cls("boom", "MY_CODE", {"k": 1})
    assert (exc.message, exc.error_code, exc.details) == ("boom", "MY_CODE", {"k": 1})
    assert cls("x").error_code == cls.default_code
    assert exc.to_dict()["error"] == name


def test_rate_limit_carries_retry_after() -> None:
    """RateLimitException(retry_after) is classified with that delay."""
    exc = RateLimitException("429", retry_after=12)
    assert exc.retry_after == 12 and exc.details["retry_after"] == 12
    info = classify(exc)
    assert info.retryable and info.retry_delay == 12.0 and info.code == "RATE_LIMITED"


@pytest.mark.parametrize(
    ("exc", "retryable", "code"),
    [
        (KeyError("x"), False, "UNKNOWN_ERROR"),
        (ValueError("x"), False, "UNKNOWN_ERROR"),
        (RuntimeError("x"), False, "UNKNOWN_ERROR"),
        (ConnectionError("x"), True, "NETWORK_ERROR"),
        (ConnectionResetError("x"), True, "NETWORK_ERROR"),
        (ConnectionRefusedError("x"), True, "CONNECTION_REFUSED"),
        (TimeoutError(), True, "TIMEOUT"),  # asyncio.TimeoutError is this class
        (redis.exceptions.ConnectionError("x"), True, "CACHE_UNAVAILABLE"),
        (redis.exceptions.TimeoutError("x"), True, "CACHE_TIMEOUT"),
        (redis.exceptions.BusyLoadingError("x"), True, "CACHE_LOADING"),
        (redis.exceptions.AuthenticationError("x"), False, "CACHE_AUTH_ERROR"),
        (redis.exceptions.ResponseError("x"), False, "UNKNOWN_ERROR"),
        (aiohttp.ClientConnectionError("x"), True, "NETWORK_ERROR"),
        (aiohttp.ServerDisconnectedError(), True, "NETWORK_ERROR"),
        (aiohttp.ServerTimeoutError("x"), True, "TIMEOUT"),
        (pymysql.err.OperationalError(2003, "can't connect"), True, "DATABASE_UNREACHABLE"),
        (pymysql.err.OperationalError(2006, "gone away"), True, "DATABASE_GONE_AWAY"),
        (pymysql.err.OperationalError(2013, "lost"), True, "DATABASE_CONNECTION_LOST"),
        (pymysql.err.OperationalError(1045, "access denied"), False, "MYSQL_1045"),
        (pymysql.err.ProgrammingError(1064, "syntax"), False, "UNKNOWN_ERROR"),
        (errors.NetworkException("x"), True, "NETWORK_ERROR"),
        (errors.ValidationException("x"), False, "VALIDATION_ERROR"),
        (errors.DatabaseException("x"), False, "DATABASE_ERROR"),
        (errors.DatabaseException("deadlock", retryable=True), True, "DATABASE_ERROR"),
    ],
)
def test_classifier(exc: BaseException, retryable: bool, code: str) -> None:
    """Known transients are retryable, unknown exceptions never are."""
    info = classify(exc)
    assert (info.retryable, info.code) == (retryable, code)
    assert is_retryable(exc) is retryable


def test_error_type_is_qualified() -> None:
    """error.type is the fully qualified class name, bare for builtins."""
    assert classify(KeyError()).type == "KeyError"
    assert classify(redis.exceptions.TimeoutError()).type == "redis.exceptions.TimeoutError"


def test_report_error_on_span_and_log(caplog: pytest.LogCaptureFixture) -> None:
    """report_error puts error.type and dbsbm.error.code on the span and in the log extra."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    log = logging.getLogger("tests.errors")
    with provider.get_tracer("t").start_as_current_span("op"), caplog.at_level(logging.ERROR):
        info = report_error(errors.TimeoutException("slow"), logger=log)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[ERROR_TYPE] == info.type
    assert span.attributes[ERROR_CODE] == "TIMEOUT"
    assert span.attributes[ERROR_RETRYABLE] is True
    assert span.status.status_code is StatusCode.ERROR
    (record,) = caplog.records
    assert getattr(record, ERROR_CODE) == "TIMEOUT"
    assert getattr(record, ERROR_TYPE).endswith("TimeoutException")


def test_report_error_without_span_or_logger() -> None:
    """Without an active span or a logger, report_error only classifies."""
    assert report_error(KeyError("k")).retryable is False
