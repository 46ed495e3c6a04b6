"""Start-up and shut-down: fake API and control servers, MySQL, cache, bot, traffic."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, cast

import aiohttp
import pymysql
import redis.asyncio as aioredis
from aiohttp import web

from dbsbm_instrumentation.logs import configure_logging
from dbsbm_resilience.cache import get_enhanced_cache_manager
from dbsbm_resilience.errors import APIException, RateLimitException
from examples.demo_bot import settings as settings_module
from examples.demo_bot.bot import DemoBot, ReplySink
from examples.demo_bot.cogs.betting import GAME_QUERY, SCHEDULE_QUERY, SCHEDULED, Betting
from examples.demo_bot.cogs.stats import Stats
from examples.demo_bot.database import DatabaseManager
from examples.demo_bot.faults import FaultError, Faults
from examples.demo_bot.settings import TEST_SECRET, Settings, SettingsError
from examples.demo_bot.sports_api import LEAGUES, SportsAPIClient, fixtures_for, server_app
from examples.demo_bot.traffic import USER_IDS, TrafficGenerator, username

log = logging.getLogger("dbsbm.demo")
LOOPBACK = "127.0.0.1"


def control_app(faults: Faults, sink: ReplySink, traffic: TrafficGenerator) -> web.Application:
    """Loopback-only control endpoint: read and change faults, pause Redis, see counts."""

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response(faults.as_dict())

    async def post_faults(request: web.Request) -> web.Response:
        try:
            faults.update_from_json(await request.text())
        except FaultError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        log.warning("faults changed: %s", faults.as_dict())
        return web.json_response(faults.as_dict())

    async def reset_faults(request: web.Request) -> web.Response:
        faults.reset()
        log.warning("faults reset")
        return web.json_response(faults.as_dict())

    async def pause_redis(request: web.Request) -> web.Response:
        # CLIENT PAUSE hangs every Redis client for the duration: the "Redis is there but
        # answers nothing" failure that froze DBSBM's start-up. It ends by itself.
        try:
            seconds = float(request.query.get("seconds", "30"))
        except ValueError:
            return web.json_response({"error": "seconds must be a number"}, status=400)
        client = aioredis.Redis(
            host=os.environ.get("REDIS_HOST", "127.0.0.1"),
            port=int(os.environ.get("REDIS_PORT", "6379")),
            username=os.environ.get("REDIS_USERNAME") or None,
            password=os.environ.get("REDIS_PASSWORD") or None,
            socket_timeout=2,
        )
        try:
            await client.execute_command(  # type: ignore[no-untyped-call]  # redis-py: untyped
                "CLIENT", "PAUSE", int(seconds * 1000), "ALL"
            )
        except Exception as exc:  # reported to the caller
            return web.json_response({"error": f"could not pause Redis: {exc}"}, status=502)
        finally:
            await client.aclose()
        log.warning("redis paused for %.0f s", seconds)
        return web.json_response({"redis_paused_s": seconds})

    async def status(request: web.Request) -> web.Response:
        return web.json_response(
            {"sent": traffic.sent, "replies": dict(sink.counts), "faults": faults.as_dict()}
        )

    app = web.Application()
    app.router.add_get("/faults", get_faults)
    app.router.add_post("/faults", post_faults)
    app.router.add_post("/faults/reset", reset_faults)
    app.router.add_post("/redis/pause", pause_redis)
    app.router.add_get("/status", status)
    return app


async def serve(app: web.Application, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, int(bound)


async def connect_db(db: DatabaseManager, timeout: float) -> None:
    """MySQL may still be starting (compose, the launcher): retry until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await db.connect()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("database not ready (%s); retrying", exc)
            await asyncio.sleep(1)


async def fixtures_with_retry(
    bot: DemoBot, league: int, attempts: int = 20
) -> list[dict[str, Any]]:
    """Start-up must survive the faults it may start with (DEMO_FAULTS: 429s, errors)."""
    for _ in range(attempts - 1):
        try:
            return await bot.api.fixtures(league)
        except (APIException, RateLimitException) as exc:
            delay = getattr(exc, "retry_after", None) or 0.5
            log.warning(
                "fixtures for league %d failed (%s); retrying in %.1f s", league, exc, delay
            )
            await asyncio.sleep(delay)
    return await bot.api.fixtures(league)


async def seed_games(bot: DemoBot) -> None:
    rows = []
    for league, (league_name, _) in LEAGUES.items():
        for fixture in await fixtures_with_retry(bot, league):
            rows.append(
                (
                    fixture["fixture"]["id"],
                    league,
                    league_name,
                    fixture["teams"]["home"]["name"],
                    fixture["teams"]["away"]["name"],
                    fixture["fixture"]["date"][:19].replace("T", " "),
                    fixture["fixture"]["status"]["short"],
                )
            )
    await bot.db.executemany(
        "INSERT INTO games (game_id, league_id, league_name, home_team, away_team, start_time,"
        " status) VALUES (%s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE"
        " status = VALUES(status)",
        rows,
    )


async def warm_cache(bot: DemoBot) -> None:
    """Fill the cache with what the traffic reads, by writes alone, before traffic starts.

    A fresh bot's first minutes would otherwise count every key's first read as a miss
    and show a hit ratio under its target that no fault caused. Nothing is looked up, so
    warming adds no lookups to the ratio either. A fault present at start-up may leave an
    entry out; the command that needs it fills it, as it would unwarmed.
    """
    found = bot.get_cog("Betting"), bot.get_cog("Stats")
    assert None not in found, "cogs not loaded"
    # load_extension runs a cog's module afresh: its classes are not the ones imported here.
    betting, stats = cast(Betting, found[0]), cast(Stats, found[1])
    steps: list[Callable[[], Awaitable[Any]]] = [stats.load_leaderboard]
    for user_id in USER_IDS:
        steps += [
            partial(betting.register, user_id, username(user_id)),
            partial(stats.load_stats, user_id),
            partial(bot.cache.set, "user", f"activity:{user_id}", 0),
        ]
    for league in LEAGUES:
        steps.append(partial(bot.db.prime, SCHEDULE_QUERY, league, SCHEDULED, many=True))
        for fixture in fixtures_for(league):
            game = fixture["fixture"]["id"]
            steps += [partial(bot.db.prime, GAME_QUERY, game), partial(bot.api.load_odds, game)]
    for step in steps:
        try:
            await step()
        except (APIException, RateLimitException, pymysql.MySQLError) as exc:
            log.warning("cache warm-up left an entry out: %s", exc)


async def run(settings: Settings, faults: Faults) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    sink = ReplySink()
    api_runner, api_port = await serve(server_app(settings.api_key, faults), settings.api_port)
    cache = get_enhanced_cache_manager()
    await cache.connect()
    db = DatabaseManager(settings, cache, faults)
    await connect_db(db, settings.connect_timeout)
    api = SportsAPIClient(f"http://{LOOPBACK}:{api_port}", settings.api_key, cache)
    # The planted test secret (settings.TEST_SECRET) in a log message: redaction must
    # remove it before the line leaves the process or the collector.
    log.warning(
        "sports API client ready (planted test secret, must be redacted): "
        "base_url=http://%s:%d api_key=%s",
        LOOPBACK,
        api_port,
        TEST_SECRET,
    )  # dbsbm-audit: ignore[DBSBM-DEBUG-003] planted on purpose
    bot = DemoBot(db=db, cache=cache, api=api, faults=faults, sink=sink)
    traffic = TrafficGenerator(bot, settings.rate)
    control_runner: web.AppRunner | None = None
    try:
        async with bot:  # sets up the bot's loop and HTTP client without logging in
            await bot.setup_hook()
            TrafficGenerator.attach(bot)
            await seed_games(bot)
            await warm_cache(bot)
            # Last, so that a control endpoint that answers means a bot that is ready.
            control_runner, control_port = await serve(
                control_app(faults, sink, traffic), settings.control_port
            )
            print(
                json.dumps(
                    {
                        "event": "demo_bot_ready",
                        "api": f"http://{LOOPBACK}:{api_port}",
                        "control": f"http://{LOOPBACK}:{control_port}",
                        "rate": settings.rate,
                    }
                ),
                flush=True,
            )
            log.info(
                "demo bot ready: %.1f commands/s, control on %s:%d",
                settings.rate,
                LOOPBACK,
                control_port,
            )
            if settings.duration:
                loop.call_later(settings.duration, stop.set)
            await traffic.run(stop)
            await asyncio.sleep(1.0)  # let in-flight commands finish
            log.info(
                "demo bot stopping after %d events; replies: %s", traffic.sent, dict(sink.counts)
            )
    finally:
        if control_runner is not None:
            await control_runner.cleanup()
        await api.close()
        await db.close()
        await cache.disconnect()
        await api_runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    # DBSBM's logging set-up (DBSBM_ENV: JSON in production, text in development; secrets
    # redacted on the console too). Export over OTLP is the distro's job, not the bot's.
    configure_logging()
    faults = Faults()
    try:
        settings = settings_module.load(argv)
        faults.update_from_json(settings.faults)
    except (SettingsError, FaultError) as exc:
        name = "DEMO_FAULTS: " if isinstance(exc, FaultError) else ""
        print(f"demo bot: {name}{exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(settings, faults))
    except (
        OSError,
        aiohttp.ClientError,
        pymysql.MySQLError,
        APIException,
        RateLimitException,
    ) as exc:
        print(f"demo bot: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
