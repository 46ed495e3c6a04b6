"""The demo bot's fault injection does what it says, fault by fault.

In process and fast: the demo's own modules (``DatabaseManager``, the fake sports API and
its client, ``DemoBot`` with its cogs and the traffic generator's payloads, the control
endpoint of ``app.py`` and the ``fault.py`` client) against the real Redis and MariaDB
of tests/services.py. No telemetry here: tests/e2e/test_demo_pipeline.py runs the bot
under ``opentelemetry-instrument`` and sees injected 429s and failed queries after the
collector.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pymysql
import pytest
from aiohttp import web

from dbsbm_resilience.cache import CacheSettings, EnhancedCacheManager
from dbsbm_resilience.errors import APIException, RateLimitException
from examples.demo_bot import fault
from examples.demo_bot.app import control_app, serve
from examples.demo_bot.bot import DemoBot, ReplySink
from examples.demo_bot.database import DatabaseManager
from examples.demo_bot.faults import Faults
from examples.demo_bot.settings import Settings
from examples.demo_bot.sports_api import SportsAPIClient, server_app
from examples.demo_bot.traffic import TrafficGenerator
from tests import services

pytestmark = [
    pytest.mark.integration,
    # DatabaseManager.connect() runs its CREATE TABLE IF NOT EXISTS on every connect.
    pytest.mark.filterwarnings("ignore:Table '.*' already exists"),
]

DEMO_DATABASE = "dbsbm_demo_faults"
API_KEY = "faults-test-key"  # the fake API's own key, not the planted test secret
DELAY = 0.3  # seconds: slow_db and api_latency under test
FAILED_REPLY = "Something went wrong."  # what DemoBot's error handlers answer


class NoCache:
    """A cache that never hits, so every read reaches MySQL or the API."""

    async def get(self, prefix: str, key: str) -> Any:
        return None

    async def set(self, prefix: str, key: str, value: Any, ttl: int | None = None) -> bool:
        return True

    async def clear_prefix(self, prefix: str, pattern: str | None = None) -> int:
        return 0


@pytest.fixture(scope="module")
def settings(mysql_server: services.MySQLService) -> Iterator[Settings]:
    connection = pymysql.connect(
        host=mysql_server.host,
        port=mysql_server.port,
        user=mysql_server.user,
        password=mysql_server.password,
        autocommit=True,
    )
    with connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DEMO_DATABASE}")
    yield Settings(
        mysql_host=mysql_server.host,
        mysql_port=mysql_server.port,
        mysql_user=mysql_server.user,
        mysql_password=mysql_server.password,
        mysql_db=DEMO_DATABASE,
        pool_min=1,
        pool_max=4,
        connect_timeout=10,
        api_key=API_KEY,
        api_port=0,
        control_port=0,
        rate=1,
        duration=0,
        faults="",
    )


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
async def db(settings: Settings, faults: Faults) -> AsyncIterator[DatabaseManager]:
    manager = DatabaseManager(settings, NoCache(), faults)
    await manager.connect()
    yield manager
    await manager.close()


async def _served(app: web.Application) -> tuple[web.AppRunner, str]:
    runner, port = await serve(app, 0)
    return runner, f"http://{services.LOCALHOST}:{port}"


@pytest.fixture
async def api(faults: Faults) -> AsyncIterator[SportsAPIClient]:
    runner, url = await _served(server_app(API_KEY, faults))
    client = SportsAPIClient(url, API_KEY, NoCache())
    yield client
    await client.close()
    await runner.cleanup()


@pytest.fixture
async def control(faults: Faults) -> AsyncIterator[str]:
    """The bot's control endpoint on a free loopback port; its base URL."""
    traffic: Any = SimpleNamespace(sent=0)
    runner, url = await _served(control_app(faults, ReplySink(), traffic))
    yield url
    await runner.cleanup()


async def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = await call()
    return result, time.perf_counter() - start


# --- the database ------------------------------------------------------------------------


async def test_slow_db_makes_every_read_take_at_least_the_delay(
    db: DatabaseManager, faults: Faults
) -> None:
    _, fast = await _timed(lambda: db.fetch_one("SELECT 1 AS ok", cache=False))
    assert fast < DELAY, f"a plain read took {fast:.3f} s before any fault"
    faults.update({"slow_db": DELAY})
    for read in (
        lambda: db.fetch_one("SELECT 1 AS ok", cache=False),
        lambda: db.fetch_all("SELECT 1 AS ok", cache=False),
    ):
        result, elapsed = await _timed(read)
        assert elapsed >= DELAY, f"slow_db={DELAY} but the read took {elapsed:.3f} s"
        assert result in ({"ok": 1}, [{"ok": 1}]), "the read still answers"
    faults.update({"slow_db_rate": 0.0})
    _, unslowed = await _timed(lambda: db.fetch_one("SELECT 1 AS ok", cache=False))
    assert unslowed < DELAY, "slow_db_rate=0 still slowed the read"


async def test_db_error_rate_makes_reads_fail(db: DatabaseManager, faults: Faults) -> None:
    faults.update({"db_error_rate": 1.0})
    with pytest.raises(pymysql.err.ProgrammingError, match="fault_injection_missing_table"):
        await db.fetch_one("SELECT 1 AS ok", cache=False)


# --- the sports API ----------------------------------------------------------------------


async def test_api_latency_delays_every_sports_api_answer(
    api: SportsAPIClient, faults: Faults
) -> None:
    _, fast = await _timed(lambda: api.fixtures(39))
    assert fast < DELAY, f"a plain API call took {fast:.3f} s before any fault"
    faults.update({"api_latency": DELAY})
    for call in (lambda: api.fixtures(140), lambda: api.odds(39000)):
        result, elapsed = await _timed(call)
        assert elapsed >= DELAY, f"api_latency={DELAY} but the call took {elapsed:.3f} s"
        assert result, "a slow answer is still an answer"


async def test_api_error_rate_makes_sports_api_calls_fail_with_500(
    api: SportsAPIClient, faults: Faults
) -> None:
    faults.update({"api_error_rate": 1.0})
    for call in (lambda: api.fixtures(39), lambda: api.odds(39000)):
        with pytest.raises(APIException) as failed:
            await call()
        assert failed.value.details["status"] == 500, failed.value.details
    faults.update({"api_error_rate": 0.0})
    assert await api.fixtures(39), "the API answers again once the fault is cleared"


async def test_api_429_rate_answers_429_with_retry_after(
    api: SportsAPIClient, faults: Faults
) -> None:
    faults.update({"api_429_rate": 1.0})
    with pytest.raises(RateLimitException) as limited:
        await api.fixtures(39)
    assert limited.value.retry_after == 1.0


# --- commands ----------------------------------------------------------------------------


@pytest.fixture
async def bot(
    db: DatabaseManager, api: SportsAPIClient, faults: Faults, redis_server: services.RedisService
) -> AsyncIterator[DemoBot]:
    """The demo bot with its cogs, fed by the traffic generator's gateway payloads."""
    cache = EnhancedCacheManager(CacheSettings(host=redis_server.host, port=redis_server.port))
    await cache.connect()
    demo = DemoBot(db=db, cache=cache, api=api, faults=faults, sink=ReplySink())
    async with demo:
        await demo.setup_hook()
        TrafficGenerator.attach(demo)
        yield demo
    await cache.disconnect()


async def _replies(bot: DemoBot, send: Callable[[], None], command: str) -> str:
    """Send one gateway event and wait for the command's reply."""
    before = bot.sink.counts[command]
    send()
    deadline = time.monotonic() + 5
    while bot.sink.counts[command] == before:
        assert time.monotonic() < deadline, f"{command} never replied"
        await asyncio.sleep(0.01)
    return next(text for name, text in reversed(bot.sink.recent) if name == command)


async def test_command_error_rate_makes_slash_and_prefix_commands_fail(
    bot: DemoBot, faults: Faults, caplog: pytest.LogCaptureFixture
) -> None:
    traffic = TrafficGenerator(bot, rate=1, rng=random.Random(7))
    assert await _replies(bot, traffic.slash_schedule, "schedule") != FAILED_REPLY
    assert await _replies(bot, traffic.prefix_stats, "stats") != FAILED_REPLY
    faults.update({"command_error_rate": 1.0})
    with caplog.at_level("ERROR", logger="dbsbm.demo.bot"):
        assert await _replies(bot, traffic.slash_schedule, "schedule") == FAILED_REPLY
        assert await _replies(bot, traffic.prefix_stats, "stats") == FAILED_REPLY
    failures = [r for r in caplog.records if "injected failure" in r.getMessage()]
    assert {r.getMessage().split(" failed")[0] for r in failures} == {
        "slash command /schedule",
        "prefix command stats",
    }, [r.getMessage() for r in failures]
    assert all(r.exc_info for r in failures), "the failure is logged with its exception"


# --- the control endpoint ------------------------------------------------------------------


async def _request(method: str, url: str, body: str | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body) as response,
    ):
        return response.status, await response.json()


async def test_post_faults_changes_the_faults_and_get_returns_them(
    control: str, faults: Faults
) -> None:
    status, body = await _request("GET", f"{control}/faults")
    assert status == 200 and body == Faults().as_dict()
    change = {"slow_db": 0.25, "api_error_rate": 0.2, "command_error_rate": 0.5}
    status, body = await _request("POST", f"{control}/faults", json.dumps(change))
    assert status == 200 and body == {**Faults().as_dict(), **change}
    assert (await _request("GET", f"{control}/faults"))[1] == body
    assert (faults.slow_db, faults.api_error_rate, faults.command_error_rate) == (0.25, 0.2, 0.5)
    # A bad change is refused whole, with the field named, and changes nothing.
    for bad, named in (
        ({"api_error_rate": 1.5, "slow_db": 1}, "api_error_rate"),
        ({"no_such_fault": 1}, "no_such_fault"),
    ):
        status, error = await _request("POST", f"{control}/faults", json.dumps(bad))
        assert status == 400 and named in error["error"], error
    status, error = await _request("POST", f"{control}/faults", "not json")
    assert status == 400 and "JSON" in error["error"], error
    assert (await _request("GET", f"{control}/faults"))[1] == body
    status, body = await _request("POST", f"{control}/faults/reset")
    assert status == 200 and body == Faults().as_dict() == faults.as_dict()


async def test_fault_cli_drives_the_control_endpoint(
    control: str, faults: Faults, capsys: pytest.CaptureFixture[str]
) -> None:
    port = control.rsplit(":", 1)[1]

    async def cli(*argv: str) -> int:
        return await asyncio.to_thread(fault.main, ["--port", port, *argv])

    assert await cli('{"api_latency": 0.5}') == 0
    assert faults.api_latency == 0.5
    assert (
        await cli() == 0
        and json.loads(capsys.readouterr().out.splitlines()[-1]) == faults.as_dict()
    )
    assert await cli('{"api_latency": -1}') == 2
    assert "api_latency" in capsys.readouterr().err
    assert await cli("reset") == 0 and faults.as_dict() == Faults().as_dict()
    closed = str(services.free_port())
    assert await asyncio.to_thread(fault.main, ["--port", closed]) == 1


async def test_redis_pause_makes_the_cache_fall_back_to_its_local_tier(
    control: str,
    redis_factory: Callable[..., services.RedisService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    redis = redis_factory()  # private: CLIENT PAUSE stalls every client of the server
    monkeypatch.setenv("REDIS_HOST", redis.host)
    monkeypatch.setenv("REDIS_PORT", str(redis.port))
    cache = EnhancedCacheManager(CacheSettings.from_env())  # as the demo builds its cache
    try:
        assert await cache.connect()
        await cache.set("api", "fixtures:39", [1, 2, 3])
        assert cache.get_stats()["mode"] == "redis"
        status, body = await _request("POST", f"{control}/redis/pause?seconds=2")
        assert status == 200 and body == {"redis_paused_s": 2.0}
        # Redis hangs: the read gives up after the cache's socket timeout, not the pause.
        value, elapsed = await _timed(lambda: cache.get("api", "fixtures:39"))
        assert value is None and elapsed < 1.0, (value, elapsed)
        await cache.set("api", "fixtures:39", [4, 5])
        assert cache.fallback_active and cache.get_stats()["mode"] == "fallback"
        value, elapsed = await _timed(lambda: cache.get("api", "fixtures:39"))
        assert value == [4, 5] and elapsed < 0.1, "the local tier serves during the pause"
    finally:
        await cache.disconnect()
    status, body = await _request("POST", f"{control}/redis/pause?seconds=soon")
    assert status == 400 and "number" in body["error"]
