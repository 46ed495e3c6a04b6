"""Query sanitising and attribute helpers for the aiomysql instrumentation.

Kept free of an ``aiomysql`` import so the helpers are testable on their own.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry.semconv.attributes.db_attributes import (
    DB_NAMESPACE,
    DB_SYSTEM_NAME,
    DbSystemNameValues,
)
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT

from dbsbm_instrumentation import thresholds

# Semconv's advisory DB buckets are too coarse around the seed's 100 ms target; ours are
# finer below a second and always contain the target itself as a boundary, so
# ``histogram_quantile`` and "share of queries under target" are exact at the threshold.
DURATION_BUCKETS: tuple[float, ...] = tuple(sorted({
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    thresholds.DB_QUERY_P95_MAX_SECONDS,
}))
ROWS_BUCKETS: tuple[float, ...] = (0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000)

MAX_QUERY_LENGTH = 2048
MYSQL_DEFAULT_PORT = 3306
_CACHE_SIZE = 512

# Backquoted identifiers are matched so they are kept; quoted strings, hex and numeric
# literals (not glued to an identifier) become ``?``. ``%s`` placeholders stay as they are.
_LITERALS = re.compile(
    r"(`(?:[^`]|``)*`)"
    r"|'(?:[^'\\]|\\.|'')*'"
    r'|"(?:[^"\\]|\\.|"")*"'
    r"|\b0x[0-9a-fA-F]+\b"
    r"|(?<![\w.$])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
)
_OPERATION = re.compile(r"\s*(?:(?:/\*.*?\*/|--[^\n]*\n|#[^\n]*\n)\s*)*([A-Za-z]{1,20})\b", re.DOTALL)

_sanitized_cache: dict[str, tuple[str, str | None]] = {}


def _keep_identifier(match: re.Match[str]) -> str:
    return match.group(1) or "?"


def sanitize(query: str | bytes | bytearray) -> tuple[str, str | None]:
    """``(query text with literals replaced by ?, upper-case operation name or None)``.

    Applications pass the same few query strings over and over, so results are cached;
    the cache is bounded because a bot that inlines values builds a new string per call.
    """
    if not isinstance(query, str):
        query = bytes(query).decode("utf-8", "replace")
    cached = _sanitized_cache.get(query)
    if cached is not None:
        return cached
    text = _LITERALS.sub(_keep_identifier, query[: MAX_QUERY_LENGTH * 2])[:MAX_QUERY_LENGTH]
    match = _OPERATION.match(query)
    result = (text, match.group(1).upper() if match else None)
    if len(_sanitized_cache) >= _CACHE_SIZE:
        _sanitized_cache.clear()
    _sanitized_cache[query] = result
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

