"""AiomysqlInstrumentor against a real MariaDB/MySQL server."""

from __future__ import annotations

import gc
import logging
from types import SimpleNamespace
from typing import Any
from unittest import IsolatedAsyncioTestCase

import aiomysql
import aiomysql.cursors
import pymysql
import pytest
import wrapt
from opentelemetry.instrumentation.pymysql import PyMySQLInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_POOL_NAME,
    DB_CLIENT_CONNECTION_STATE,
    DB_RESPONSE_RETURNED_ROWS,
)
from opentelemetry.semconv.attributes.db_attributes import (
    DB_NAMESPACE,
    DB_OPERATION_NAME,
    DB_QUERY_TEXT,
    DB_RESPONSE_STATUS_CODE,
    DB_SYSTEM_NAME,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.test.test_base import TestBase
from opentelemetry.trace import Span, SpanKind, StatusCode

from dbsbm_instrumentation import semconv, slo
from dbsbm_instrumentation.aiomysql import AiomysqlInstrumentor, util
from dbsbm_instrumentation.aiomysql.util import (
    DURATION_BUCKETS,
    connection_attributes,
    sanitize,
    statement,
)
from tests.instrumentation.helpers import metric, points
from tests.services import MySQLService


class TestSanitize(TestBase):
    def test_literals_become_placeholders(self) -> None:
        """Strings, numbers and hex become ?, identifiers and %s placeholders stay."""
        text, operation = sanitize(
            "SELECT `t2024`.a FROM t1 WHERE id = 5 AND name = 'bob''s' AND x = %s AND h = 0xFF"
        )
        self.assertEqual(
            text, "SELECT `t2024`.a FROM t1 WHERE id = ? AND name = ? AND x = %s AND h = ?"
        )
        self.assertEqual(operation, "SELECT")

    def test_operation_after_comment(self) -> None:
        """A leading comment does not hide the operation name."""
        self.assertEqual(sanitize("/* cog=bets */ insert into bets values (1)")[1], "INSERT")

    def test_default_port_omitted(self) -> None:
        """server.port is set only for a non-default port, as semconv requires."""
        conn = SimpleNamespace(host="db", port=3306, db="dbsbm")
        self.assertNotIn(SERVER_PORT, connection_attributes(conn))
        conn.port = 3307
        self.assertEqual(connection_attributes(conn)[SERVER_PORT], 3307)

    def test_statement_follows_the_database(self) -> None:
        """A cached statement is per database: after select_db the namespace changes."""
        conn = SimpleNamespace(host="db", port=3306, db="dbsbm")
        first = statement("SELECT 1", conn)
        self.assertIs(statement("SELECT 1", conn), first)
        conn.db = "other"
        stmt = statement("SELECT 1", conn)
        self.assertEqual(stmt.span_name, "SELECT other")
        self.assertEqual(stmt.metric_attributes[DB_NAMESPACE], "other")
        self.assertEqual(stmt.span_attributes[DB_QUERY_TEXT], "SELECT ?")
        self.assertNotIn(DB_QUERY_TEXT, stmt.metric_attributes)

    def test_statement_cache_bounded(self) -> None:
        """Inlined values make a new query per call; the cache stays bounded."""
        conn = SimpleNamespace(host="db", port=3306, db="dbsbm")
        for i in range(util._CACHE_SIZE + 50):
            self.assertEqual(
                statement(f"SELECT {i}", conn).span_attributes[DB_QUERY_TEXT], "SELECT ?"
            )
        self.assertLessEqual(len(util._statements), util._CACHE_SIZE)
        statement("SELECT 'x'" + " " * util._MAX_CACHED_QUERY, conn)
        self.assertNotIn(
            ("SELECT 'x'" + " " * util._MAX_CACHED_QUERY, "db", 3306, "dbsbm"), util._statements
        )

    def test_target_is_a_bucket_boundary(self) -> None:
        """The 100 ms query target is a histogram boundary, so SLO maths is exact there."""
        self.assertIn(slo.DB_QUERY_P95_MAX_SECONDS, DURATION_BUCKETS)


@pytest.mark.integration
class TestAiomysql(TestBase, IsolatedAsyncioTestCase):
    @pytest.fixture(autouse=True)
    def _mysql(self, mysql_server: MySQLService) -> None:
        self.server = mysql_server

    async def asyncSetUp(self) -> None:
        self.instrumentor = AiomysqlInstrumentor()
        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )
        self.pool = await aiomysql.create_pool(
            host=self.server.host,
            port=self.server.port,
            user=self.server.user,
            password=self.server.password,
            db=self.server.database,
            minsize=1,
            maxsize=4,
            autocommit=True,
            pool_recycle=3600,
        )

    async def asyncTearDown(self) -> None:
        self.pool.close()
        await self.pool.wait_closed()
        self.instrumentor.uninstrument()

    async def query(self, sql: str, args: object = None) -> list[dict[str, object]]:
        """DBSBM's pattern: pool, DictCursor, autocommit."""
        async with self.pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(sql, args)
            return await cur.fetchall()

    async def test_select_span_attributes(self) -> None:
        """A SELECT is one CLIENT span with semconv attributes and sanitised text."""
        rows = await self.query("SELECT 42 AS answer, 'secret' AS s, %s AS p", (7,))
        self.assertEqual(rows, [{"answer": 42, "s": "secret", "p": 7}])
        (span,) = self.get_finished_spans()
        self.assertEqual(span.name, f"SELECT {self.server.database}")
        self.assertIs(span.kind, SpanKind.CLIENT)
        self.assertSpanHasAttributes(
            span,
            {
                DB_SYSTEM_NAME: "mysql",
                DB_NAMESPACE: self.server.database,
                DB_OPERATION_NAME: "SELECT",
                SERVER_ADDRESS: self.server.host,
                SERVER_PORT: self.server.port,
                DB_RESPONSE_RETURNED_ROWS: 1,
                DB_QUERY_TEXT: "SELECT ? AS answer, ? AS s, %s AS p",
            },
        )
        self.assertIs(span.status.status_code, StatusCode.UNSET)

    async def test_metrics(self) -> None:
        """Duration (s, our buckets) and returned rows are recorded with bounded attributes."""
        await self.query("SELECT 1")
        duration = metric(self, semconv.DB_OPERATION_DURATION.name)
        self.assertEqual(duration.unit, "s")
        (point,) = duration.data.data_points
        self.assertEqual(tuple(point.explicit_bounds), DURATION_BUCKETS)
        self.assertEqual(
            dict(point.attributes),
            {
                DB_SYSTEM_NAME: "mysql",
                DB_NAMESPACE: self.server.database,
                DB_OPERATION_NAME: "SELECT",
                SERVER_ADDRESS: self.server.host,
                SERVER_PORT: self.server.port,
            },
        )
        self.assertEqual(point.count, 1)
        rows = metric(self, semconv.DB_RETURNED_ROWS.name)
        self.assertEqual(rows.unit, "{row}")
        self.assertEqual(rows.data.data_points[0].sum, 1)

    async def test_unbuffered_cursor_rows_not_counted(self) -> None:
        """An SSCursor's rows are unknown at execute time, so no row count is recorded."""
        async with self.pool.acquire() as conn, conn.cursor(aiomysql.SSDictCursor) as cur:
            await cur.execute("SELECT 1 AS one UNION SELECT 2")
            self.assertEqual(len(await cur.fetchall()), 2)
        (span,) = self.get_finished_spans()
        self.assertNotIn(DB_RESPONSE_RETURNED_ROWS, span.attributes)
        self.assertNotIn(semconv.DB_RETURNED_ROWS.name, {m.name for m in self.get_sorted_metrics()})

    async def test_failing_query(self) -> None:
        """A failing query re-raises, and its span and metric carry error.type."""
        with self.assertRaises(pymysql.err.ProgrammingError):
            await self.query("SELEC broken")
        (span,) = self.get_finished_spans()
        self.assertIs(span.status.status_code, StatusCode.ERROR)
        self.assertEqual(span.attributes[ERROR_TYPE], "pymysql.err.ProgrammingError")
        self.assertEqual(span.attributes[DB_RESPONSE_STATUS_CODE], "1064")
        (point,) = points(self, semconv.DB_OPERATION_DURATION.name)
        self.assertEqual(point.attributes[ERROR_TYPE], "pymysql.err.ProgrammingError")

    async def test_executemany_is_one_span(self) -> None:
        """executemany is one operation, not one span per statement aiomysql sends."""
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("CREATE TEMPORARY TABLE bets (id INT, stake INT)")
            await cur.executemany("INSERT INTO bets VALUES (%s, %s)", [(1, 5), (2, 10)])
            await cur.executemany("UPDATE bets SET stake = %s WHERE id = %s", [(6, 1), (11, 2)])
        names = [s.attributes[DB_OPERATION_NAME] for s in self.get_finished_spans()]
        self.assertEqual(names, ["CREATE", "INSERT", "UPDATE"])

    async def test_pool_gauges(self) -> None:
        """Pools report used, idle and max connections under their semconv name."""
        async with self.pool.acquire():
            await self.query("SELECT 1")  # takes a second connection
            name = f"{self.server.host}:{self.server.port}/{self.server.database}"
            counts = {
                p.attributes[DB_CLIENT_CONNECTION_STATE]: p.value
                for p in points(self, semconv.DB_CONNECTION_COUNT.name)
                if p.attributes[DB_CLIENT_CONNECTION_POOL_NAME] == name
            }
        self.assertEqual(counts, {"used": 1, "idle": 1})
        (maximum,) = points(self, semconv.DB_CONNECTION_MAX.name)
        self.assertEqual(maximum.value, 4)

    async def test_pools_held_weakly(self) -> None:
        """A dropped pool is forgotten: registering it does not keep it alive."""
        pool = await aiomysql.create_pool(
            host=self.server.host,
            port=self.server.port,
            user=self.server.user,
            password=self.server.password,
            db=self.server.database,
            minsize=0,
        )
        self.assertIn(pool, set(self.instrumentor._pools))
        pool.close()
        await pool.wait_closed()
        del pool
        gc.collect()
        self.assertEqual(set(self.instrumentor._pools), {self.pool})

    async def test_instrument_pool_adopts_an_older_pool(self) -> None:
        """instrument_pool() reports a pool created before instrument()."""
        self.instrumentor.uninstrument()
        pool = await aiomysql.create_pool(
            host=self.server.host,
            port=self.server.port,
            user=self.server.user,
            password=self.server.password,
            db="mysql",
            minsize=1,
            maxsize=2,
        )
        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )
        self.instrumentor.instrument_pool(pool)
        try:
            names = {
                p.attributes[DB_CLIENT_CONNECTION_POOL_NAME]
                for p in points(self, semconv.DB_CONNECTION_MAX.name)
            }
            self.assertIn(f"{self.server.host}:{self.server.port}/mysql", names)
        finally:
            pool.close()
            await pool.wait_closed()

    async def test_hooks_and_failing_hook(self) -> None:
        """Hooks see the span; a hook that raises is logged and the query still runs."""
        self.instrumentor.uninstrument()
        seen: list[str] = []

        def request_hook(span: Span, cursor: Any, query: str, args: Any) -> None:
            seen.append(query)
            span.set_attribute("app.source", "test")

        def response_hook(span: Span, cursor: Any, result: Any) -> None:
            raise RuntimeError("hook bug")

        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            request_hook=request_hook,
            response_hook=response_hook,
        )
        with self.assertLogs("dbsbm_instrumentation._hooks", logging.WARNING):
            self.assertEqual(await self.query("SELECT 1 AS one"), [{"one": 1}])
        self.assertEqual(seen, ["SELECT 1 AS one"])
        (span,) = self.get_finished_spans()
        self.assertEqual(span.attributes["app.source"], "test")

    async def test_suppressed(self) -> None:
        """suppress_instrumentation() silences the instrumentation."""
        with suppress_instrumentation():
            await self.query("SELECT 1")
        self.assertEqual(len(self.get_finished_spans()), 0)

    async def test_uninstrument(self) -> None:
        """uninstrument() removes every wrapper and the spans stop."""
        self.instrumentor.uninstrument()
        for name in ("execute", "executemany"):
            self.assertNotIsInstance(vars(aiomysql.cursors.Cursor)[name], wrapt.ObjectProxy)
        for name in ("__init__", "_acquire"):
            self.assertNotIsInstance(vars(aiomysql.pool.Pool)[name], wrapt.ObjectProxy)
        await self.query("SELECT 1")
        self.assertEqual(len(self.get_finished_spans()), 0)
        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    async def test_no_double_spans_with_pymysql(self) -> None:
        """aiomysql never reaches pymysql.connect: with both instrumented, one span per query."""
        PyMySQLInstrumentor().instrument(tracer_provider=self.tracer_provider)
        try:
            await self.query("SELECT 1")
            self.assertEqual(len(self.get_finished_spans()), 1)
            # the pymysql instrumentation is live: a pymysql query does get its span
            conn = pymysql.connect(
                host=self.server.host,
                port=self.server.port,
                user=self.server.user,
                password=self.server.password,
                database=self.server.database,
            )
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
            conn.close()
            scopes = [s.instrumentation_scope.name for s in self.get_finished_spans()]
            self.assertEqual(
                scopes, ["dbsbm_instrumentation.aiomysql", "opentelemetry.instrumentation.pymysql"]
            )
        finally:
            PyMySQLInstrumentor().uninstrument()
