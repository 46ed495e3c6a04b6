"""A hung MariaDB (SIGSTOP), as the aiomysql and discord instrumentations report it.

Hung queries never finish, so they never reach a duration histogram: what must show the
hang is the work in flight (queries, commands), the callers waiting for the pool and,
with a query timeout, errors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from unittest import IsolatedAsyncioTestCase, mock

import aiomysql
import discord
import pymysql
import pytest
from discord.ext import commands
from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_POOL_NAME,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.test.test_base import TestBase
from opentelemetry.trace import StatusCode

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation.aiomysql import AiomysqlInstrumentor, QueryTimeoutError
from dbsbm_instrumentation.aiomysql.util import QUERY_TIMEOUT_ENV, query_timeout
from dbsbm_instrumentation.discord import DiscordInstrumentor
from dbsbm_instrumentation.discord.testing import dispatch_slash, offline
from tests.instrumentation.helpers import metric_names, points
from tests.services import MySQLService

PAUSE = 1.5  # seconds the server stays stopped before the counters are read
TIMEOUT = 0.5
TIMEOUT_TYPE = "dbsbm_instrumentation.aiomysql.QueryTimeoutError"


class TestQueryTimeoutSetting(TestBase):
    def test_off_by_default(self) -> None:
        """With neither argument nor variable, queries have no timeout."""
        with mock.patch.dict("os.environ", {QUERY_TIMEOUT_ENV: ""}):
            self.assertIsNone(query_timeout())

    def test_variable_and_argument(self) -> None:
        """The variable gives seconds; an argument wins over it."""
        with mock.patch.dict("os.environ", {QUERY_TIMEOUT_ENV: " 12.5 "}):
            self.assertEqual(query_timeout(), 12.5)
            self.assertEqual(query_timeout(3), 3.0)

    def test_bad_variable_is_one_warning_and_no_timeout(self) -> None:
        """A malformed or non-positive variable is named in one line; queries stay unbounded."""
        for raw in ("10s", "0", "-1", "nan", "inf"):
            with (
                mock.patch.dict("os.environ", {QUERY_TIMEOUT_ENV: raw}),
                self.assertLogs("dbsbm_instrumentation.logs", logging.WARNING) as logs,
            ):
                self.assertIsNone(query_timeout())
            (line,) = logs.output
            self.assertIn(f"{QUERY_TIMEOUT_ENV}={raw!r}", line)
            self.assertNotIn("Traceback", line)

    def test_bad_argument_raises(self) -> None:
        """A bad value passed in code is the caller's bug: it raises."""
        for value in (0, -2.0, float("inf")):
            with self.assertRaises(ValueError):
                query_timeout(value)

    def test_timeout_error_is_caught_by_either_except(self) -> None:
        """QueryTimeoutError is pymysql's 2013 OperationalError and a TimeoutError."""
        error = QueryTimeoutError(2013, "Lost connection to MySQL server during query")
        self.assertIsInstance(error, pymysql.err.OperationalError)
        self.assertIsInstance(error, TimeoutError)
        self.assertEqual(str(error), "(2013, 'Lost connection to MySQL server during query')")


def total(test: TestBase, name: str) -> float:
    """The sum of an UpDownCounter over all its series."""
    return sum(p.value for p in points(test, name))


@pytest.mark.integration
class TestHungServer(TestBase, IsolatedAsyncioTestCase):
    @pytest.fixture(autouse=True)
    def _mysql(self, mysql_factory: Any) -> None:
        self.server: MySQLService = mysql_factory()  # private: these tests stop it

    async def asyncSetUp(self) -> None:
        self.providers = {
            "tracer_provider": self.tracer_provider,
            "meter_provider": self.meter_provider,
        }
        self.aiomysql = AiomysqlInstrumentor()
        self.aiomysql.instrument(**self.providers)
        self.discord = DiscordInstrumentor()
        self.discord.instrument(**self.providers)
        self.pool = await aiomysql.create_pool(
            host=self.server.host,
            port=self.server.port,
            user=self.server.user,
            password=self.server.password,
            db=self.server.database,
            # minsize 0: a pool below its minsize connects on acquire, which would hang
            # here; both connections are opened below, before the server stops.
            minsize=0,
            maxsize=2,
            autocommit=True,
        )
        async with self.pool.acquire(), self.pool.acquire():
            pass
        self.bot = commands.Bot(command_prefix="!", intents=discord.Intents.default())
        self.command_errors: list[BaseException] = []
        pool = self.pool

        @self.bot.tree.command(description="Odds from the database")
        async def odds(interaction: discord.Interaction) -> None:
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute("SELECT 1")

        @self.bot.tree.error
        async def on_app_command_error(interaction: discord.Interaction, error: Any) -> None:
            self.command_errors.append(error)

        await offline(self.bot)

    async def asyncTearDown(self) -> None:
        self.server.resume()
        self.pool.close()
        await self.pool.wait_closed()
        self.discord.uninstrument()
        self.aiomysql.uninstrument()

    async def query(self, sql: str) -> Any:
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(sql)
            return await cur.fetchall()

    async def test_in_flight_rises_and_stays_and_waiters_wait(self) -> None:
        """On a stopped server commands and queries stay in flight, a third caller waits for
        the pool, and that wait is recorded once the server answers again."""
        self.server.pause()
        work = [asyncio.create_task(dispatch_slash(self.bot, "odds")) for _ in range(2)]
        waiter = asyncio.create_task(self.query("SELECT 2"))
        await asyncio.sleep(PAUSE)
        for _ in range(2):  # rises, then stays
            self.assertEqual(total(self, semconv.DB_OPERATION_ACTIVE.name), 2)
            self.assertEqual(total(self, semconv.DISCORD_COMMAND_ACTIVE.name), 2)
            (pending,) = points(self, semconv.DB_CONNECTION_PENDING_REQUESTS.name)
            self.assertEqual(pending.value, 1)
            self.assertEqual(
                pending.attributes[DB_CLIENT_CONNECTION_POOL_NAME],
                f"{self.server.host}:{self.server.port}/{self.server.database}",
            )
            await asyncio.sleep(0.5)
        # What the latency alerts read has seen nothing: no query has finished.
        self.assertNotIn(semconv.DB_OPERATION_DURATION.name, metric_names(self))
        self.assertNotIn(semconv.DISCORD_COMMAND_DURATION.name, metric_names(self))

        self.server.resume()
        await asyncio.wait_for(asyncio.gather(*work, waiter), 30)
        self.assertEqual(total(self, semconv.DB_OPERATION_ACTIVE.name), 0)
        self.assertEqual(total(self, semconv.DISCORD_COMMAND_ACTIVE.name), 0)
        self.assertEqual(total(self, semconv.DB_CONNECTION_PENDING_REQUESTS.name), 0)
        (wait,) = points(self, semconv.DB_CONNECTION_WAIT_TIME.name)
        self.assertEqual(wait.count, 2 + 3)  # set-up's two, then the commands' and the waiter's
        self.assertGreaterEqual(wait.max, PAUSE + 0.5)
        (duration,) = points(self, semconv.DB_OPERATION_DURATION.name)
        self.assertGreaterEqual(duration.max, PAUSE + 0.5)

    async def test_query_timeout_turns_the_hang_into_an_error(self) -> None:
        """With query_timeout a query on a stopped server fails in time, as a span error,
        an error.type on the duration and a failed command; the pool recovers after."""
        self.aiomysql.uninstrument()
        self.aiomysql.instrument(**self.providers, query_timeout=TIMEOUT)
        self.server.pause()
        start = time.monotonic()
        with self.assertRaises(QueryTimeoutError) as caught:
            await self.query("SELECT 1")
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, TIMEOUT)
        self.assertLess(elapsed, TIMEOUT + 1.0)
        self.assertEqual(caught.exception.args[0], 2013)
        (span,) = self.get_finished_spans()
        self.assertIs(span.status.status_code, StatusCode.ERROR)
        self.assertEqual(span.attributes[ERROR_TYPE], TIMEOUT_TYPE)
        (duration,) = points(self, semconv.DB_OPERATION_DURATION.name)
        self.assertEqual(duration.attributes[ERROR_TYPE], TIMEOUT_TYPE)
        self.assertGreaterEqual(duration.max, TIMEOUT)
        self.assertEqual(total(self, semconv.DB_OPERATION_ACTIVE.name), 0)

        # A command whose query hangs fails, so the command error ratio sees the hang.
        await asyncio.wait_for(dispatch_slash(self.bot, "odds"), TIMEOUT + 5)
        self.assertEqual(len(self.command_errors), 1)
        (errors,) = points(self, semconv.DISCORD_COMMAND_ERRORS.name)
        self.assertEqual(errors.attributes[ERROR_TYPE], TIMEOUT_TYPE)
        self.assertEqual(errors.value, 1)

        self.server.resume()
        self.assertEqual(await self.query("SELECT 3"), ((3,),))  # closed connections replaced
