"""DiscordInstrumentor with commands dispatched offline through discord.py's own machinery."""

from __future__ import annotations

import asyncio
import gc
import os
import time
from unittest import IsolatedAsyncioTestCase, mock

import aiohttp
import aiomysql
import discord
import discord.client
import discord.ext.commands.bot
import pytest
import redis.asyncio
import wrapt
from aiohttp import web
from discord import app_commands
from discord.ext import commands
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.test.test_base import TestBase
from opentelemetry.trace import SpanKind, StatusCode

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation.aiomysql import AiomysqlInstrumentor
from dbsbm_instrumentation.discord import DiscordInstrumentor
from dbsbm_instrumentation.discord.testing import (
    dispatch_message,
    dispatch_slash,
    offline,
    settle,
)
from dbsbm_instrumentation.discord.util import (
    DEFAULT_EXCLUDED_EVENTS,
    EXCLUDED_EVENTS_ENV,
    excluded_events,
)
from dbsbm_resilience.errors import DatabaseException
from tests.instrumentation.helpers import metric, metric_names, points, start_http_server
from tests.services import MySQLService, RedisService

NAME = semconv.DISCORD_COMMAND_NAME
TYPE = semconv.DISCORD_COMMAND_TYPE
EVENT = semconv.DISCORD_EVENT_NAME


class Betting(commands.Cog):
    """A cog shaped like DBSBM's: prefix and slash commands, a group, a listener."""

    bet = app_commands.Group(name="bet", description="Bets")

    def __init__(self) -> None:
        self.calls: list[str] = []

    @commands.command()
    async def stats(self, ctx: commands.Context[commands.Bot]) -> None:
        self.calls.append("stats")

    @commands.command()
    async def broken(self, ctx: commands.Context[commands.Bot]) -> None:
        raise LookupError("no such game")

    @commands.command()
    async def settle(self, ctx: commands.Context[commands.Bot]) -> None:
        raise DatabaseException("bets table locked", details={"table": "bets"})

    @app_commands.command(description="Odds for a league")
    async def odds(self, interaction: discord.Interaction, league: str) -> None:
        self.calls.append(f"odds {league}")

    @bet.command(description="Place a bet")
    async def place(self, interaction: discord.Interaction, amount: int) -> None:
        raise ValueError("stake too high")

    @commands.Cog.listener()
    async def on_bet_settled(self, bet_id: int) -> None:
        raise RuntimeError("settlement failed")


class TestExcludedEvents(TestBase):
    def test_env_and_defaults(self) -> None:
        """The env variable replaces the default list; names work with or without on_."""
        with mock.patch.dict(os.environ, {EXCLUDED_EVENTS_ENV: "message, on_typing,"}):
            self.assertEqual(excluded_events(), {"on_message", "on_typing"})
        with mock.patch.dict(os.environ, clear=True):
            self.assertEqual(excluded_events(), DEFAULT_EXCLUDED_EVENTS)
        self.assertEqual(excluded_events([]), frozenset())


class DiscordTestCase(TestBase, IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.instrumentor = DiscordInstrumentor()
        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )
        self.errors: list[str] = []
        self.bot = commands.Bot(command_prefix="!", intents=discord.Intents.default())
        self.cog = Betting()
        await self.bot.add_cog(self.cog)

        @self.bot.event
        async def on_command_error(ctx: commands.Context[commands.Bot], error: Exception) -> None:
            self.errors.append(type(error).__name__)  # swallowed, as bots do

        @self.bot.tree.error
        async def on_app_command_error(
            interaction: discord.Interaction, error: app_commands.AppCommandError
        ) -> None:
            self.errors.append(type(error).__name__)

        await offline(self.bot)

    async def asyncTearDown(self) -> None:
        self.instrumentor.uninstrument()

    def spans(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.get_finished_spans() if s.name == name]


class TestCommands(DiscordTestCase):
    async def test_prefix_command(self) -> None:
        """A prefix command is a SERVER span, child of the on_message listener's CONSUMER span."""
        await dispatch_message(self.bot, "!stats")
        self.assertEqual(self.cog.calls, ["stats"])
        (command,) = self.spans("prefix stats")
        (listener,) = self.spans("event on_message")
        self.assertIs(command.kind, SpanKind.SERVER)
        self.assertIs(listener.kind, SpanKind.CONSUMER)
        self.assertEqual(command.parent.span_id, listener.context.span_id)
        self.assertSpanHasAttributes(command, {NAME: "stats", TYPE: "prefix"})
        self.assertIs(command.status.status_code, StatusCode.UNSET)
        duration = metric(self, semconv.DISCORD_COMMAND_DURATION.name)
        self.assertEqual(duration.unit, "s")
        by_name = {p.attributes[NAME]: dict(p.attributes) for p in duration.data.data_points}
        self.assertEqual(by_name["stats"], {NAME: "stats", TYPE: "prefix"})

    async def test_swallowed_prefix_error_is_recorded(self) -> None:
        """An error discord.py hands to on_command_error still marks the span and counts."""
        await dispatch_message(self.bot, "!broken")
        self.assertEqual(self.errors, ["CommandInvokeError"])
        (command,) = self.spans("prefix broken")
        self.assertIs(command.status.status_code, StatusCode.ERROR)
        self.assertEqual(command.attributes[ERROR_TYPE], "LookupError")
        (error,) = points(self, semconv.DISCORD_COMMAND_ERRORS.name)
        self.assertEqual(
            dict(error.attributes), {NAME: "broken", TYPE: "prefix", ERROR_TYPE: "LookupError"}
        )
        self.assertEqual(error.value, 1)

    async def test_taxonomy_error_puts_its_code_on_the_span(self) -> None:
        """A DBSBM exception's error_code is on its command span beside error.type."""
        await dispatch_message(self.bot, "!settle")
        (command,) = self.spans("prefix settle")
        self.assertIs(command.status.status_code, StatusCode.ERROR)
        self.assertSpanHasAttributes(
            command,
            {
                ERROR_TYPE: "dbsbm_resilience.errors.DatabaseException",
                semconv.ERROR_CODE: "DATABASE_ERROR",
            },
        )

    async def test_unknown_prefix_command_gets_no_span(self) -> None:
        """'Command not found' has no name but user input, so it gets no command span."""
        await dispatch_message(self.bot, "!definitely-not-a-command")
        self.assertFalse([s for s in self.get_finished_spans() if s.name.startswith("prefix")])

    async def test_slash_command(self) -> None:
        """A slash command is a root SERVER span; its interaction latency is measured."""
        await dispatch_slash(self.bot, "odds", {"league": "nfl"}, created_at=time.time() - 2)
        self.assertEqual(self.cog.calls, ["odds nfl"])
        (span,) = self.spans("slash odds")
        self.assertIs(span.kind, SpanKind.SERVER)
        self.assertIsNone(span.parent)
        self.assertSpanHasAttributes(span, {NAME: "odds", TYPE: "slash"})
        latency = metric(self, semconv.DISCORD_INTERACTION_LATENCY.name)
        self.assertEqual(latency.unit, "s")
        (point,) = latency.data.data_points
        self.assertEqual(dict(point.attributes), {NAME: "odds"})
        self.assertGreaterEqual(point.sum, 2.0)

    async def test_swallowed_slash_error_is_recorded(self) -> None:
        """A subcommand's error, handled by tree.on_error, is on its span and counted."""
        await dispatch_slash(self.bot, "bet", {"amount": 500}, subcommand="place")
        self.assertEqual(self.errors, ["CommandInvokeError"])
        (span,) = self.spans("slash bet place")
        self.assertIs(span.status.status_code, StatusCode.ERROR)
        self.assertEqual(span.attributes[ERROR_TYPE], "ValueError")
        (error,) = points(self, semconv.DISCORD_COMMAND_ERRORS.name)
        self.assertEqual(
            dict(error.attributes), {NAME: "bet place", TYPE: "slash", ERROR_TYPE: "ValueError"}
        )

    async def test_listener_error(self) -> None:
        """A listener's exception (swallowed into on_error) marks its CONSUMER span and
        counts as an event error, not a command error."""
        before = asyncio.all_tasks()
        self.bot.dispatch("bet_settled", 42)
        await settle(before)
        (span,) = self.spans("event on_bet_settled")
        self.assertIs(span.kind, SpanKind.CONSUMER)
        self.assertEqual(span.attributes[ERROR_TYPE], "RuntimeError")
        self.assertIn(
            {EVENT: "on_bet_settled", ERROR_TYPE: "RuntimeError"},
            [dict(p.attributes) for p in points(self, semconv.DISCORD_EVENT_ERRORS.name)],
        )
        self.assertNotIn(semconv.DISCORD_COMMAND_ERRORS.name, metric_names(self))

    async def test_error_ratio_counts_commands_not_listeners(self) -> None:
        """One failing prefix command in five is a 20 % command error ratio: on_message,
        which runs for every message, is measured as an event, not as a second command."""
        for content in ["!stats"] * 4 + ["!broken"]:
            await dispatch_message(self.bot, content)
        commands_ = points(self, semconv.DISCORD_COMMAND_DURATION.name)
        calls = sum(p.count for p in commands_)
        errors = sum(p.value for p in points(self, semconv.DISCORD_COMMAND_ERRORS.name))
        self.assertEqual((calls, errors), (5, 1))
        self.assertEqual({p.attributes[TYPE] for p in commands_}, {"prefix"})
        listeners = {
            p.attributes[EVENT]: p.count for p in points(self, semconv.DISCORD_EVENT_DURATION.name)
        }
        self.assertEqual(listeners["on_message"], 5)

    async def test_excluded_events(self) -> None:
        """Excluded events get neither span nor metric."""
        self.instrumentor.uninstrument()
        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            excluded_events=["message"],
        )
        await dispatch_message(self.bot, "!stats")
        self.assertEqual([s.name for s in self.get_finished_spans()], ["prefix stats"])

    async def test_gateway_gauges(self) -> None:
        """Clients report guilds and shard state; an unconnected one reports no latency."""
        names = metric_names(self)
        self.assertIn(semconv.DISCORD_GUILDS.name, names)
        self.assertNotIn(semconv.DISCORD_GATEWAY_LATENCY.name, names)
        (guilds,) = points(self, semconv.DISCORD_GUILDS.name)
        self.assertEqual(guilds.value, 0)
        (shard,) = points(self, semconv.DISCORD_SHARD_CONNECTED.name)
        self.assertEqual(
            (shard.value, dict(shard.attributes)), (0, {semconv.DISCORD_SHARD_ID: "0"})
        )

    async def test_connected_client_reports_gateway_latency(self) -> None:
        """An open gateway: its heartbeat latency and shard state are reported per shard.

        Discord's gateway cannot run here; the websocket is stood in for by an object with
        the two attributes discord.py's ``Client.latency`` and our probe read.
        """
        gateway = mock.Mock(open=True, latency=0.123)
        with mock.patch.object(self.bot, "ws", gateway):
            (latency,) = points(self, semconv.DISCORD_GATEWAY_LATENCY.name)
            (shard,) = points(self, semconv.DISCORD_SHARD_CONNECTED.name)
        self.assertEqual(
            (latency.value, dict(latency.attributes)), (0.123, {semconv.DISCORD_SHARD_ID: "0"})
        )
        self.assertEqual(shard.value, 1)

    async def test_clients_held_weakly(self) -> None:
        """A dropped client is forgotten: the registry does not keep it alive."""
        client = discord.Client(intents=discord.Intents.none())
        self.assertIn(client, set(self.instrumentor._clients))
        del client
        gc.collect()
        self.assertEqual(set(self.instrumentor._clients), {self.bot})

    async def test_uninstrument(self) -> None:
        """uninstrument() removes every wrapper and commands stop producing spans."""
        self.instrumentor.uninstrument()
        self.assertNotIsInstance(vars(discord.client.Client)["_run_event"], wrapt.ObjectProxy)
        self.assertNotIsInstance(
            vars(discord.ext.commands.bot.BotBase)["invoke"], wrapt.ObjectProxy
        )
        await dispatch_message(self.bot, "!stats")
        await dispatch_slash(self.bot, "odds", {"league": "nba"})
        self.assertEqual(self.cog.calls, ["stats", "odds nba"])
        self.assertEqual(len(self.get_finished_spans()), 0)
        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )


API = web.RouteTableDef()


@API.get("/odds")
async def api_odds(request: web.Request) -> web.Response:
    return web.json_response({"home": 1.9, "away": 2.1})


@pytest.mark.integration
class TestOneTracePerCommand(DiscordTestCase):
    @pytest.fixture(autouse=True)
    def _services(self, mysql_server: MySQLService, redis_server: RedisService) -> None:
        self.mysql, self.redis_url = mysql_server, redis_server.url

    async def asyncSetUp(self) -> None:
        await super().asyncSetUp()
        providers = {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}
        AiomysqlInstrumentor().instrument(**providers)
        AioHttpClientInstrumentor().instrument(**providers)
        RedisInstrumentor().instrument(**providers)
        self.runner, self.base = await start_http_server(API)
        self.pool = await aiomysql.create_pool(
            host=self.mysql.host,
            port=self.mysql.port,
            user=self.mysql.user,
            password=self.mysql.password,
            db=self.mysql.database,
            autocommit=True,
        )
        self.redis = redis.asyncio.Redis.from_url(self.redis_url)
        pool, cache, base = self.pool, self.redis, self.base

        @self.bot.tree.command(description="Odds through DB, API and cache")
        async def lines(interaction: discord.Interaction, league: str) -> None:
            async with pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cur:
                await cur.execute("SELECT %s AS league", (league,))
                await cur.fetchall()
            async with aiohttp.ClientSession() as session, session.get(f"{base}/odds") as resp:
                await resp.json()
            await cache.set(f"odds:{league}", "1.9", ex=300)

    async def asyncTearDown(self) -> None:
        await self.redis.aclose()
        self.pool.close()
        await self.pool.wait_closed()
        await self.runner.cleanup()
        RedisInstrumentor().uninstrument()
        AioHttpClientInstrumentor().uninstrument()
        AiomysqlInstrumentor().uninstrument()
        await super().asyncTearDown()

    async def test_children_share_the_command_trace(self) -> None:
        """The DB query, the API call and the Redis op inside a command are its children."""
        await dispatch_slash(self.bot, "lines", {"league": "nfl"})
        spans = self.get_finished_spans()
        (command,) = self.spans("slash lines")
        self.assertEqual({s.context.trace_id for s in spans}, {command.context.trace_id})
        children = {s.name: s for s in spans if s.parent is not None}
        self.assertEqual(set(children), {f"SELECT {self.mysql.database}", "GET", "SET"})
        for child in children.values():
            self.assertEqual(child.parent.span_id, command.context.span_id)
            self.assertIs(child.kind, SpanKind.CLIENT)
