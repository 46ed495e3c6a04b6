"""
Traces and measures MySQL queries made through `aiomysql <https://aiomysql.readthedocs.io>`_.

One CLIENT span and one ``db.client.operation.duration`` sample per ``Cursor.execute`` /
``Cursor.executemany`` (an ``executemany`` is one operation: the statements aiomysql
issues for it internally get no spans of their own). Rows of a result set are counted
in ``db.client.response.returned_rows``. Every ``aiomysql.Pool`` created after
``instrument()`` reports ``db.client.connection.count`` (``used``/``idle``) and
``db.client.connection.max`` while it is alive.

A hung server never ends a query, so the duration histogram never sees it. Two
UpDownCounters, observed at each export, see it: ``dbsbm.db.client.operation.active``
(queries started and not finished, by the duration's attributes) and
``db.client.connection.pending_requests`` (callers waiting for a connection, by
``db.client.connection.pool.name``); each acquisition records
``db.client.connection.wait_time``, once it ends.

Query timeout
-------------

``query_timeout=`` (seconds) or ``OTEL_PYTHON_AIOMYSQL_QUERY_TIMEOUT`` turns a query
that runs longer into an error: the query is cancelled, its connection closed (its
protocol state is unknown; the pool replaces it) and
:class:`QueryTimeoutError` raised, a ``pymysql.err.OperationalError`` (2013, connection
lost, as pymysql's own ``read_timeout`` reports it) that is also a ``TimeoutError``, so
either ``except`` catches it. The span, the duration and ``error.type`` record it.

There is no timeout by default. An instrumentation loaded with no code change must not
change what the bot's queries do, and a cancelled write may still have committed on the
server; the in-flight counters show a hang without it. Set it well above the slowest
legitimate query (for DBSBM, whose p95 target is 100 ms, 10 to 30 seconds); a malformed
or non-positive variable logs one warning and leaves queries unbounded.

Fetches get no span: aiomysql's buffered cursors (``Cursor``, ``DictCursor``, the ones
DBSBM uses) read the whole result inside ``execute``, so ``fetchone``/``fetchall`` only
slice a list already in memory; a span per fetch would double span volume and measure
nothing. Unbuffered ``SSCursor`` fetches do read from the network; their time lands in
the enclosing span, and their rows are not counted (unknown when ``execute`` returns).

aiomysql does not go through ``pymysql.connect``, so this instrumentation and
``opentelemetry-instrumentation-pymysql`` never trace the same query twice.

Usage
-----

.. code-block:: python

    import aiomysql
    from dbsbm_instrumentation.aiomysql import AiomysqlInstrumentor

    AiomysqlInstrumentor().instrument()

    async def main():
        pool = await aiomysql.create_pool(host="127.0.0.1", user="bot", password="...",
                                          db="dbsbm", autocommit=True)
        async with pool.acquire() as conn:
            async with conn.cursor(aiomysql.DictCursor) as cur:
                await cur.execute("SELECT * FROM bets WHERE user_id = %s", (42,))
                rows = await cur.fetchall()

Under ``opentelemetry-instrument`` it is loaded from the ``aiomysql`` entry point;
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=aiomysql`` turns it off.

Hooks
-----

.. code-block:: python

    def request_hook(span, cursor, query, args):
        if span.is_recording():
            span.set_attribute("app.query.source", "betting")

    def response_hook(span, cursor, result):
        ...

    AiomysqlInstrumentor().instrument(request_hook=request_hook, response_hook=response_hook)

An exception raised by a hook is logged at WARNING and the query goes on.

Query text
----------

``db.query.text`` is the statement as written, with quoted strings and numeric literals
replaced by ``?`` (``%s`` placeholders stay), capped at 2,048 characters. Errors set the
span status to ERROR with ``error.type`` (the exception class) and
``db.response.status_code`` (the MySQL error number); the exception message is not
recorded because MySQL quotes the offending statement, literals included.

Span and metric attributes: ``db.system.name`` (``mysql``), ``db.namespace``,
``db.operation.name`` (the statement's first keyword), ``server.address`` and
``server.port`` (only when not 3306, as semconv asks); spans add ``db.query.text`` and
``db.response.returned_rows``. Span name: ``<operation> <database>`` (``SELECT dbsbm``).
Pools are named ``host:port/database``.

Suppress spans for a block with ``opentelemetry.instrumentation.utils.suppress_instrumentation``.

API
---
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from collections.abc import Awaitable, Collection, Iterable
from contextvars import ContextVar
from timeit import default_timer
from typing import Any

import aiomysql.cursors
import aiomysql.pool
import pymysql.err
from opentelemetry import context, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]  # upstream module opts out of typing
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.metrics import CallbackOptions, Observation, get_meter
from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_POOL_NAME,
    DB_CLIENT_CONNECTION_STATE,
    DB_RESPONSE_RETURNED_ROWS,
    DbClientConnectionStateValues,
)
from opentelemetry.semconv.attributes.db_attributes import (
    DB_RESPONSE_STATUS_CODE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.schemas import Schemas
from opentelemetry.trace import SpanKind, Status, StatusCode
from pymysql.constants import CR

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation._hooks import run_hook, unwrap_targets, wrap_targets
from dbsbm_instrumentation.aiomysql.custom_types import RequestHook, ResponseHook
from dbsbm_instrumentation.aiomysql.package import _instruments
from dbsbm_instrumentation.aiomysql.util import (
    DURATION_BUCKETS,
    ROWS_BUCKETS,
    pool_name,
    query_timeout,
    statement,
)
from dbsbm_instrumentation.version import __version__
from dbsbm_resilience.errors import error_type as qualified_error_type

__all__ = ["AiomysqlInstrumentor", "QueryTimeoutError"]

# (module, "Class.method") pairs wrapped by instrument() and unwrapped by uninstrument().
_TARGETS = (
    ("aiomysql.cursors", "Cursor.execute"),
    ("aiomysql.cursors", "Cursor.executemany"),
    ("aiomysql.pool", "Pool.__init__"),
    ("aiomysql.pool", "Pool._acquire"),  # behind acquire()'s context manager
)

_USED = DbClientConnectionStateValues.USED.value
_IDLE = DbClientConnectionStateValues.IDLE.value


class QueryTimeoutError(pymysql.err.OperationalError, TimeoutError):  # type: ignore[misc]  # pymysql ships no type stubs
    """A query ran past the instrumentor's ``query_timeout``; its connection was closed."""

    # pymysql's spelling, "(2013, '...')", rather than OSError's "[Errno 2013] ...".
    __str__ = Exception.__str__


# Set while an executemany runs: aiomysql implements it with execute() calls.
_in_executemany: ContextVar[bool] = ContextVar("dbsbm_aiomysql_in_executemany", default=False)


class AiomysqlInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # BaseInstrumentor is untyped upstream
    """Spans and metrics for aiomysql queries and pools. See :class:`BaseInstrumentor`."""

    def __init__(self) -> None:
        super().__init__()
        self._pools: weakref.WeakSet[aiomysql.pool.Pool] = weakref.WeakSet()

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        """Wrap cursors and pools.

        Keyword arguments: ``tracer_provider``, ``meter_provider``, ``request_hook``
        (:data:`~dbsbm_instrumentation.aiomysql.custom_types.RequestHook`),
        ``response_hook`` (:data:`~dbsbm_instrumentation.aiomysql.custom_types.ResponseHook`),
        ``query_timeout`` (seconds; default ``OTEL_PYTHON_AIOMYSQL_QUERY_TIMEOUT``, else none).
        """
        schema_url = Schemas.V1_44_0.value
        self._tracer = trace.get_tracer(
            __name__, __version__, kwargs.get("tracer_provider"), schema_url=schema_url
        )
        meter = get_meter(__name__, __version__, kwargs.get("meter_provider"), schema_url)
        self._request_hook: RequestHook | None = kwargs.get("request_hook")
        self._response_hook: ResponseHook | None = kwargs.get("response_hook")
        self._query_timeout = query_timeout(kwargs.get("query_timeout"))
        self._duration = meter.create_histogram(
            semconv.DB_OPERATION_DURATION.name,
            unit=semconv.DB_OPERATION_DURATION.unit,
            description=semconv.DB_OPERATION_DURATION.description,
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._rows = meter.create_histogram(
            semconv.DB_RETURNED_ROWS.name,
            unit=semconv.DB_RETURNED_ROWS.unit,
            description=semconv.DB_RETURNED_ROWS.description,
            explicit_bucket_boundaries_advisory=ROWS_BUCKETS,
        )
        # Counted in plain dicts and observed at export: an SDK add() per query start
        # and end would cost more than the rest of the bookkeeping together.
        self._active: Counter[tuple[tuple[str, Any], ...]] = Counter()
        self._pending: Counter[str] = Counter()
        meter.create_observable_up_down_counter(
            semconv.DB_OPERATION_ACTIVE.name,
            callbacks=[self._observe_active],
            unit=semconv.DB_OPERATION_ACTIVE.unit,
            description=semconv.DB_OPERATION_ACTIVE.description,
        )
        meter.create_observable_up_down_counter(
            semconv.DB_CONNECTION_PENDING_REQUESTS.name,
            callbacks=[self._observe_pending],
            unit=semconv.DB_CONNECTION_PENDING_REQUESTS.unit,
            description=semconv.DB_CONNECTION_PENDING_REQUESTS.description,
        )
        self._wait_time = meter.create_histogram(
            semconv.DB_CONNECTION_WAIT_TIME.name,
            unit=semconv.DB_CONNECTION_WAIT_TIME.unit,
            description=semconv.DB_CONNECTION_WAIT_TIME.description,
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        meter.create_observable_gauge(
            semconv.DB_CONNECTION_COUNT.name,
            callbacks=[self._observe_connections],
            unit=semconv.DB_CONNECTION_COUNT.unit,
            description=semconv.DB_CONNECTION_COUNT.description,
        )
        meter.create_observable_gauge(
            semconv.DB_CONNECTION_MAX.name,
            callbacks=[self._observe_max],
            unit=semconv.DB_CONNECTION_MAX.unit,
            description=semconv.DB_CONNECTION_MAX.description,
        )
        wrappers = {
            "Cursor.execute": self._traced_execute,
            "Cursor.executemany": self._traced_executemany,
            "Pool.__init__": self._register_pool,
            "Pool._acquire": self._timed_acquire,
        }
        wrap_targets(_TARGETS, wrappers)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap_targets(_TARGETS)
        # Gauges cannot be removed from a meter; with no pools they report nothing.
        self._pools.clear()

    def instrument_pool(self, pool: aiomysql.pool.Pool) -> None:
        """Report a pool created before :meth:`instrument` (or by another library)."""
        self._pools.add(pool)

    # --- wrappers ---------------------------------------------------------------------

    def _register_pool(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> None:
        wrapped(*args, **kwargs)
        self._pools.add(instance)

    async def _timed_acquire(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        name = pool_name(instance._conn_kwargs)
        pending = self._pending  # the one counted up, even if re-instrumented meanwhile
        pending[name] += 1
        start = default_timer()
        try:
            return await wrapped(*args, **kwargs)
        finally:
            wait = max(default_timer() - start, 0.0)
            pending[name] -= 1
            self._wait_time.record(wait, {DB_CLIENT_CONNECTION_POOL_NAME: name})

    def _traced_execute(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        # A plain function handing back the coroutine: one coroutine frame fewer per query.
        if _in_executemany.get() or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        return self._trace(wrapped, instance, args, kwargs)

    async def _traced_executemany(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if _in_executemany.get() or not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        token = _in_executemany.set(True)
        try:
            return await self._trace(wrapped, instance, args, kwargs)
        finally:
            _in_executemany.reset(token)

    async def _trace(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        query = args[0] if args else kwargs.get("query", "")
        stmt = statement(query, instance.connection)
        attributes = stmt.metric_attributes  # shared: copy before adding to it
        active, key = self._active, stmt.metric_key
        active[key] += 1
        span = self._tracer.start_span(
            stmt.span_name, kind=SpanKind.CLIENT, attributes=stmt.span_attributes
        )
        # attach/detach rather than use_span(): this is the hot path, and the context
        # manager's generator costs more than the rest of our bookkeeping.
        token = context.attach(trace.set_span_in_context(span))
        start = default_timer()  # after start_span: the SDK's cost is not the query's
        try:
            if self._request_hook is not None:
                query_args = args[1] if len(args) > 1 else kwargs.get("args")
                run_hook(self._request_hook, span, instance, query, query_args)
            if self._query_timeout is None:
                result = await wrapped(*args, **kwargs)
            else:
                result = await self._bounded(wrapped(*args, **kwargs), instance)
            # Unbuffered (SS) cursors have read no rows yet; their rowcount is a sentinel.
            if instance.description is not None and not isinstance(
                instance, aiomysql.cursors.SSCursor
            ):
                rows = instance.rowcount
                if rows >= 0:
                    if span.is_recording():
                        span.set_attribute(DB_RESPONSE_RETURNED_ROWS, rows)
                    self._rows.record(rows, attributes)
            if self._response_hook is not None:
                run_hook(self._response_hook, span, instance, result)
            return result
        except Exception as exc:
            error_type = qualified_error_type(exc)
            attributes = {**attributes, ERROR_TYPE: error_type}
            if span.is_recording():
                span.set_attribute(ERROR_TYPE, error_type)
                code = exc.args[0] if exc.args else None
                if isinstance(code, int):
                    span.set_attribute(DB_RESPONSE_STATUS_CODE, str(code))
                span.set_status(Status(StatusCode.ERROR, error_type))
            raise
        finally:
            self._duration.record(max(default_timer() - start, 0.0), attributes)
            active[key] -= 1
            context.detach(token)
            span.end()

    async def _bounded(self, query: Awaitable[Any], cursor: Any) -> Any:
        """``await query``, or :class:`QueryTimeoutError` once ``query_timeout`` has passed."""
        timeout = asyncio.timeout(self._query_timeout)
        try:
            async with timeout:
                return await query
        except TimeoutError:
            if not timeout.expired():
                raise  # the query's own TimeoutError, not ours
            # aiomysql closes a connection cancelled mid-read; one cancelled elsewhere
            # would be reused with an unknown protocol state.
            connection = cursor.connection
            if connection is not None:
                connection.close()
            raise QueryTimeoutError(
                CR.CR_SERVER_LOST,
                f"Lost connection to MySQL server during query "
                f"(query_timeout of {self._query_timeout:g} s passed)",
            ) from None

    # --- pool gauges --------------------------------------------------------------------

    def _pool_totals(self) -> dict[str, tuple[int, int, int]]:
        """``{pool name: (used, idle, max)}``, summed when two pools share a name."""
        totals: dict[str, tuple[int, int, int]] = {}
        for pool in list(self._pools):
            if pool.closed:
                continue
            name = pool_name(pool._conn_kwargs)
            idle = pool.freesize
            used, prev_idle, prev_max = totals.get(name, (0, 0, 0))
            totals[name] = (used + pool.size - idle, prev_idle + idle, prev_max + pool.maxsize)
        return totals

    def _observe_connections(self, options: CallbackOptions) -> Iterable[Observation]:
        for name, (used, idle, _) in self._pool_totals().items():
            yield Observation(
                used, {DB_CLIENT_CONNECTION_POOL_NAME: name, DB_CLIENT_CONNECTION_STATE: _USED}
            )
            yield Observation(
                idle, {DB_CLIENT_CONNECTION_POOL_NAME: name, DB_CLIENT_CONNECTION_STATE: _IDLE}
            )

    def _observe_active(self, options: CallbackOptions) -> Iterable[Observation]:
        for key, count in list(self._active.items()):  # copied: the loop thread changes it
            yield Observation(count, dict(key))

    def _observe_pending(self, options: CallbackOptions) -> Iterable[Observation]:
        for name, count in list(self._pending.items()):
            yield Observation(count, {DB_CLIENT_CONNECTION_POOL_NAME: name})

    def _observe_max(self, options: CallbackOptions) -> Iterable[Observation]:
        for name, (_, _, maximum) in self._pool_totals().items():
            yield Observation(maximum, {DB_CLIENT_CONNECTION_POOL_NAME: name})
