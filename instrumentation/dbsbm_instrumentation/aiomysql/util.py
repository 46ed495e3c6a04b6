"""Query sanitising and attribute helpers for the aiomysql instrumentation.

Kept free of an ``aiomysql`` import so the helpers are testable on their own.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from opentelemetry.semconv.attributes.db_attributes import (
    DB_NAMESPACE,
    DB_OPERATION_NAME,
    DB_QUERY_TEXT,
    DB_SYSTEM_NAME,
    DbSystemNameValues,
)
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT

from dbsbm_instrumentation import slo
from dbsbm_instrumentation.logs import config_warning

# Semconv's advisory DB buckets are too coarse around the 100 ms DB target; ours are
# finer below a second and always contain the target itself as a boundary, so
# ``histogram_quantile`` and "share of queries under target" are exact at the threshold.
DURATION_BUCKETS: tuple[float, ...] = tuple(
    sorted(
        {
            0.001,
            0.0025,
            0.005,
            0.01,
            0.025,
            0.05,
            0.075,
            0.1,
            0.25,
            0.5,
            1.0,
            2.5,
            5.0,
            10.0,
            slo.DB_QUERY_P95_MAX_SECONDS,
        }
    )
)
ROWS_BUCKETS: tuple[float, ...] = (0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000)

QUERY_TIMEOUT_ENV = "OTEL_PYTHON_AIOMYSQL_QUERY_TIMEOUT"

MAX_QUERY_LENGTH = 2048
MYSQL_DEFAULT_PORT = 3306
_CACHE_SIZE = 512

# Backquoted identifiers are matched so they are kept; quoted strings, hex and numeric
# literals (not glued to an identifier) become ``?``. ``%s`` placeholders stay as they are.
# A string the length cut leaves unterminated becomes ``?`` too, to the end.
_LITERALS = re.compile(
    r"(`(?:[^`]|``)*`)"
    r"|'(?:[^'\\]|\\.|'')*(?:'|\Z)"
    r'|"(?:[^"\\]|\\.|"")*(?:"|\Z)'
    r"|\b0x[0-9a-fA-F]+\b"
    r"|(?<![\w.$])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
)
_OPERATION = re.compile(
    r"\s*(?:(?:/\*.*?\*/|--[^\n]*\n|#[^\n]*\n)\s*)*([A-Za-z]{1,20})\b", re.DOTALL
)


class Statement(NamedTuple):
    """Everything ``_trace`` needs about one query on one server, computed once."""

    span_name: str
    span_attributes: Mapping[str, Any]
    metric_attributes: Mapping[str, Any]
    metric_key: tuple[tuple[str, Any], ...]  # the metric attributes, hashable


# (query, host, port, db) -> Statement. Bots reuse a finite set of query strings, so
# sanitising and building the attribute dicts once per statement takes that work off the
# hot path; the SDK copies attributes it keeps, so sharing the dicts is safe. Bounded in
# entries and in query length because a bot that inlines values makes a new string per call.
_statements: dict[tuple[Any, ...], Statement] = {}
_MAX_CACHED_QUERY = MAX_QUERY_LENGTH * 2


def _keep_identifier(match: re.Match[str]) -> str:
    return match.group(1) or "?"


def sanitize(query: str | bytes | bytearray) -> tuple[str, str | None]:
    """``(query text with literals replaced by ?, upper-case operation name or None)``."""
    if not isinstance(query, str):
        query = bytes(query).decode("utf-8", "replace")
    text = _LITERALS.sub(_keep_identifier, query[: MAX_QUERY_LENGTH * 2])[:MAX_QUERY_LENGTH]
    match = _OPERATION.match(query)
    return text, match.group(1).upper() if match else None


def statement(query: str | bytes | bytearray, connection: Any) -> Statement:
    """The span name and span/metric attributes of ``query`` run on ``connection``.

    Keyed on the connection's host, port and database rather than the connection itself,
    so ``select_db`` and reconnects are seen and pooled connections share entries.
    """
    if type(query) is bytearray:
        query = bytes(query)  # hashable
    key = (
        (query,) if connection is None else (query, connection.host, connection.port, connection.db)
    )
    cached = _statements.get(key)
    if cached is not None:
        return cached
    text, operation = sanitize(query)
    metric_attributes = connection_attributes(connection)
    if operation:
        metric_attributes[DB_OPERATION_NAME] = operation
    namespace = metric_attributes.get(DB_NAMESPACE)
    span_name = " ".join(str(part) for part in (operation, namespace) if part) or "mysql"
    result = Statement(
        span_name,
        {**metric_attributes, DB_QUERY_TEXT: text},
        metric_attributes,
        tuple(metric_attributes.items()),
    )
    if len(query) <= _MAX_CACHED_QUERY:
        if len(_statements) >= _CACHE_SIZE:
            del _statements[next(iter(_statements))]  # oldest first
        _statements[key] = result
    return result


def connection_attributes(connection: Any) -> dict[str, Any]:
    """Span and metric attributes naming the server and database of an aiomysql connection."""
    attributes: dict[str, Any] = {DB_SYSTEM_NAME: DbSystemNameValues.MYSQL.value}
    if connection is None:
        return attributes
    host, port, db = connection.host, connection.port, connection.db
    if host:
        attributes[SERVER_ADDRESS] = host
    if port and port != MYSQL_DEFAULT_PORT:  # semconv: only when not the default
        attributes[SERVER_PORT] = port
    if db:
        attributes[DB_NAMESPACE] = db
    return attributes


def pool_name(conn_kwargs: dict[str, Any]) -> str:
    """Semconv's fallback pool name, ``server.address:server.port/db.namespace``."""
    host = conn_kwargs.get("host", "localhost")
    port = conn_kwargs.get("port", MYSQL_DEFAULT_PORT)
    return f"{host}:{port}/{conn_kwargs.get('db') or ''}"


def query_timeout(configured: float | None = None) -> float | None:
    """Seconds a query may run before it is abandoned: the argument, else the env variable.

    ``None`` (the default) means no limit. A malformed or non-positive variable gets one
    warning line and no limit: a typo must not start cancelling the bot's queries.
    """
    if configured is not None:
        if not (math.isfinite(configured) and configured > 0):
            raise ValueError(
                f"query_timeout must be a positive number of seconds, got {configured!r}"
            )
        return float(configured)
    raw = os.environ.get(QUERY_TIMEOUT_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        config_warning(
            QUERY_TIMEOUT_ENV, raw, "is not a positive number of seconds", "queries have no timeout"
        )
        return None
    return value
