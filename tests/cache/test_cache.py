"""The two-tier cache against a real redis-server: API, outages, staleness, telemetry."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aredis
from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dbsbm_instrumentation import semconv
from dbsbm_resilience import cache as cache_module
from dbsbm_resilience.cache import (
    PREFIXES,
    CacheSettings,
    EnhancedCacheManager,
    enhanced_cache_api_response,
    enhanced_cache_clear_prefix,
    enhanced_cache_delete,
    enhanced_cache_exists,
    enhanced_cache_get,
    enhanced_cache_mget,
    enhanced_cache_mset,
    enhanced_cache_query,
    enhanced_cache_set,
    make_key,
)
from dbsbm_resilience.errors import ConfigurationException
from tests.resilience.helpers import metric_points
from tests.services import RedisService

CACHE_DB = 5  # our own database on the shared session server, flushed per test
# timeouts for outage tests: small so the suite stays fast
FAST = {"connect_timeout": 0.2, "socket_timeout": 0.2, "reconnect_min": 0.2, "reconnect_max": 0.5}
CALL_BOUND = FAST["connect_timeout"] + FAST["socket_timeout"] + 0.3  # + scheduling slack
RECOVERY_BOUND = FAST["reconnect_max"] + FAST["connect_timeout"] + FAST["socket_timeout"] + 0.5


def settings(server: RedisService, db: int = 0, **overrides: Any) -> CacheSettings:
    return CacheSettings(host=server.host, port=server.port, db=db, **overrides)


@pytest.fixture
async def cache(redis_server: RedisService) -> AsyncIterator[EnhancedCacheManager]:
    admin = aredis.Redis(host=redis_server.host, port=redis_server.port, db=CACHE_DB)
    await admin.flushdb()
    await admin.aclose()
    manager = EnhancedCacheManager(settings(redis_server, db=CACHE_DB))
    assert await manager.connect()
    yield manager
    await manager.disconnect()


@pytest.fixture
def private_redis(redis_factory: Callable[..., RedisService]) -> RedisService:
    return redis_factory()


async def wait_until(check: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


# --- DBSBM's API ------------------------------------------------------------------------


@pytest.mark.integration
async def test_round_trip_and_prefix_map(
    cache: EnhancedCacheManager, redis_server: RedisService
) -> None:
    """Values round-trip as JSON under the prefix map's Redis key, with the prefix TTL."""
    row = {
        "id": 1,
        "when": dt.datetime(2026, 1, 2, 3, 4),
        "odds": decimal.Decimal("1.85"),
        "day": dt.date(2026, 1, 2),
        "tags": ("a", "b"),
    }
    assert await cache.set("user", "42", row)
    assert await cache.get("user", "42") == {**row, "tags": ["a", "b"]}
    admin = aredis.Redis(host=redis_server.host, port=redis_server.port, db=CACHE_DB)
    raw = await admin.get("user:42")
    assert json.loads(raw)["id"] == 1  # JSON, not pickle
    assert 1790 <= await admin.ttl("user:42") <= 1800
    assert await admin.exists("db:q") == 0
    await cache.set("database", "q", 1)
    assert 590 <= await admin.ttl("db:q") <= 600
    await admin.aclose()


@pytest.mark.integration
async def test_mget_mset_exists_expire_delete(cache: EnhancedCacheManager) -> None:
    """The rest of DBSBM's calls behave as the bot expects."""
    assert await cache.mset("game", {"a": 1, "b": [2]}, ttl=60)
    assert await cache.mget("game", ["a", "b", "zz"]) == {"a": 1, "b": [2]}
    assert await cache.exists("game", "a")
    assert await cache.expire("game", "a", 100)
    assert await cache.delete("game", "a")
    assert not await cache.exists("game", "a")
    assert await cache.get("game", "a") is None
    assert await cache.health_check()


@pytest.mark.integration
async def test_clear_prefix_call_shapes(cache: EnhancedCacheManager) -> None:
    """clear_prefix("database", "db_query") takes <prefix>*<pattern>*; one-arg takes all."""
    await cache.set("database", "db_query:1", "q1")
    await cache.set("database", "x:db_query:2", "q2")
    await cache.set("database", "other", "keep")
    await cache.set("user", "1", "u1")
    await cache.set("user", "2", "u2")
    assert await cache.clear_prefix("database", "db_query") == 2
    assert await cache.get("database", "other") == "keep"
    assert await cache.clear_prefix("user") == 2
    assert await cache.get("user", "1") is None


@pytest.mark.integration
async def test_module_functions(
    cache: EnhancedCacheManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module-level enhanced_cache_* functions use the process-wide manager."""
    monkeypatch.setattr(cache_module, "_manager", cache)
    assert cache_module.get_enhanced_cache_manager() is cache
    assert await enhanced_cache_set("team", "t", {"n": 1})
    assert await enhanced_cache_get("team", "t") == {"n": 1}
    assert await enhanced_cache_mset("team", {"u": 2})
    assert await enhanced_cache_mget("team", ["t", "u"]) == {"t": {"n": 1}, "u": 2}
    assert await enhanced_cache_exists("team", "u")
    assert await enhanced_cache_delete("team", "u")
    assert await enhanced_cache_clear_prefix("team") == 1


@pytest.mark.integration
async def test_decorators_cache_and_clear(
    cache: EnhancedCacheManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decorated methods run once per argument set; DBSBM's write path clears them."""
    monkeypatch.setattr(cache_module, "_manager", cache)
    calls = []

    class Repo:
        @enhanced_cache_query(ttl=60)
        async def fetch(self, league: int, *, season: str = "2026") -> list[dict]:
            calls.append(league)
            return [{"league": league, "season": season}]

        @enhanced_cache_api_response()
        async def odds(self, game: str) -> dict:
            calls.append(game)
            return {"game": game}

    # two instances: self must not be part of the key
    assert await Repo().fetch(1) == await Repo().fetch(1) == [{"league": 1, "season": "2026"}]
    assert await Repo().fetch(1, season="2025") != await Repo().fetch(2)
    assert calls == [1, 1, 2]
    await Repo().odds("g")
    await Repo().odds("g")
    assert calls == [1, 1, 2, "g"]
    await cache.clear_prefix("database", "db_query")  # what DBSBM does on every write
    await Repo().fetch(1)
    assert calls[-1] == 1
    assert await cache.clear_prefix("api") == 1  # api_response shares api:


@pytest.mark.integration
async def test_redis_url_and_spans_switch(redis_server: RedisService) -> None:
    """REDIS_URL configures the client; spans=False keeps the metrics and drops the spans."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    manager = EnhancedCacheManager(
        CacheSettings.from_env(
            {"REDIS_URL": f"redis://{redis_server.host}:{redis_server.port}/{CACHE_DB}"},
            spans=False,
        ),
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    assert await manager.connect()
    await manager.set("stats", "s", 1)
    assert await manager.get("stats", "s") == 1
    assert exporter.get_finished_spans() == ()
    assert metric_points(reader, semconv.CACHE_OPERATION_DURATION.name)
    await manager.disconnect()


def test_decorators_reject_bad_use() -> None:
    """A sync function, an unknown prefix or a negative TTL fails at decoration time."""
    with pytest.raises(TypeError, match="async"):
        enhanced_cache_query()(lambda: 1)
    with pytest.raises(ConfigurationException, match="nope"):
        enhanced_cache_query(prefix="nope")
    with pytest.raises(ConfigurationException, match="-1"):
        enhanced_cache_query(ttl=-1)


def test_keys_are_stable_across_processes() -> None:
    """make_key gives the same key in another process with another hash seed."""
    args = ("SELECT 1", 42, {"b": 1, "a": [1, 2]}, dt.date(2026, 1, 1), decimal.Decimal("1.5"))
    here = make_key("db_query:m.f", *args, season="2026")
    code = (
        "import datetime as dt, decimal\n"
        "from dbsbm_resilience.cache import make_key\n"
        "print(make_key('db_query:m.f', 'SELECT 1', 42, {'a': [1, 2], 'b': 1},"
        " dt.date(2026, 1, 1), decimal.Decimal('1.5'), season='2026'))\n"
    )
    for seed in ("1", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert out.stdout.strip() == here
    with pytest.raises(TypeError):
        make_key("x", object())


@pytest.mark.integration
async def test_uncacheable_values_and_foreign_bytes(
    cache: EnhancedCacheManager, redis_server: RedisService
) -> None:
    """A value JSON cannot hold is refused (False); non-JSON bytes in Redis read as a miss."""
    assert await cache.set("user", "o", object()) is False
    admin = aredis.Redis(host=redis_server.host, port=redis_server.port, db=CACHE_DB)
    await admin.set("user:pickled", b"\x80\x04\x95garbage")
    await admin.aclose()
    assert await cache.get("user", "pickled") is None
    assert cache.breaker.state == "closed"


# user dicts shaped like the value codec's type tags
TAG_LOOKALIKES = [
    {"$dec": "abc"},
    {"$td": "x"},
    {"$dt": "2020-01-01"},
    {"$dict": [1, 2]},
    {"$": None},
    {"a": {"$uuid": 5}},
    [{"$x": {"$dt": dt.datetime(2026, 1, 1)}}],
]


@pytest.mark.integration
async def test_dicts_shaped_like_type_tags_round_trip(cache: EnhancedCacheManager) -> None:
    """A user dict whose single key starts with "$" reads back as itself from either tier."""
    for i, value in enumerate(TAG_LOOKALIKES):
        assert await cache.set("user", str(i), value)
        assert await cache.get("user", str(i)) == value
    assert type(await cache.get("user", "2")) is dict
    data = {str(i): v for i, v in enumerate(TAG_LOOKALIKES)}
    assert await cache.mset("game", data)
    assert await cache.mget("game", list(data)) == data
    cache.breaker.trip()  # the local tier stores what set() reloads from the payload
    for i, value in enumerate(TAG_LOOKALIKES):
        assert await cache.set("team", str(i), value)
        assert await cache.get("team", str(i)) == value
    assert cache.get_stats()["operations"].get("get.redis.error", 0) == 0


@pytest.mark.integration
async def test_undecodable_stored_values_are_misses(
    cache: EnhancedCacheManager, redis_server: RedisService
) -> None:
    """A stored value whose tags do not decode (another writer's, an older version's) is
    a miss counted as an error, for get and mget alike; Redis stays in use."""
    admin = aredis.Redis(host=redis_server.host, port=redis_server.port, db=CACHE_DB)
    corrupt = {"dec": '{"$dec":"abc"}', "td": '{"$td":"x"}', "pair": '{"$dict":5}'}
    for key, raw in corrupt.items():
        await admin.set(f"user:{key}", raw)
    await admin.aclose()
    for key in corrupt:
        assert await cache.get("user", key) is None
    assert await cache.mget("user", list(corrupt)) == {}
    operations = cache.get_stats()["operations"]
    assert operations["get.redis.error"] == 3 and operations["mget.redis.error"] == 3
    assert cache.breaker.state == "closed"


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "culprit"),
    [
        ({"REDIS_PORT": "70000"}, "REDIS_PORT"),
        ({"REDIS_PORT": "six"}, "REDIS_PORT"),
        ({"REDIS_DB": "-1"}, "REDIS_DB"),
        ({"REDIS_URL": "redis://localhost:99999/0"}, "REDIS_URL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://:secret@/0"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://localhost:6379/zero"}, "REDIS_URL"),
        ({"REDIS_DISABLED": "maybe"}, "REDIS_DISABLED"),
    ],
)
def test_bad_environment(env: dict[str, str], culprit: str) -> None:
    """Each bad variable raises a one-line ConfigurationException naming it."""
    with pytest.raises(ConfigurationException) as info:
        CacheSettings.from_env(env)
    message = str(info.value)
    assert message.startswith(culprit) and "\n" not in message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("url", "option"),
    [
        ("redis://localhost/0?socket_timeout=30", "socket_timeout"),
        ("redis://localhost/0?socket_connect_timeout=20", "socket_connect_timeout"),
        ("redis://localhost/0?socket_timeout=abc", "socket_timeout"),
        ("redis://localhost/0?retry_on_timeout=true", "retry_on_timeout"),
        ("redis://localhost/0?db=x", "db"),
        ("redis://localhost/0?db=", "db"),
        ("redis://localhost/0?colour=blue", "colour"),
        ("redis://localhost/0?ssl_cert_reqs=none", "ssl_cert_reqs"),
        ("rediss://localhost/0?ssl_cert_reqs=maybe", "ssl_cert_reqs"),
        ("unix://", "path"),
        ("unix://?db=1", "path"),
    ],
)
def test_redis_url_options_are_checked(url: str, option: str) -> None:
    """Query options that would override our timeouts and retries, unknown ones and bad
    values are refused with one ConfigurationException naming REDIS_URL and the option."""
    with pytest.raises(ConfigurationException) as info:
        EnhancedCacheManager(CacheSettings.from_env({"REDIS_URL": url}))
    message = str(info.value)
    assert message.startswith("REDIS_URL") and option in message and "\n" not in message


def test_redis_url_keeps_our_timeouts() -> None:
    """Accepted query options reach redis-py; the timeouts stay the cache's own."""
    manager = EnhancedCacheManager(
        CacheSettings.from_env(
            {"REDIS_URL": "rediss://h:1/0?db=3&client_name=bot&ssl_cert_reqs=none"}
        )
    )
    assert manager._client is not None
    kwargs = manager._client.connection_pool.connection_kwargs
    assert (kwargs["db"], kwargs["client_name"], kwargs["ssl_cert_reqs"]) == (3, "bot", "none")
    assert kwargs["socket_timeout"] == manager.settings.socket_timeout
    assert kwargs["socket_connect_timeout"] == manager.settings.connect_timeout
    assert CacheSettings.from_env({"REDIS_URL": "unix:///tmp/redis.sock?db=2"}).url


async def test_bad_prefix_and_ttl() -> None:
    """Unknown prefixes and non-positive TTLs are rejected in settings and in calls."""
    with pytest.raises(ConfigurationException, match="unknown cache prefix 'nope'"):
        CacheSettings(ttls={"nope": 10})
    with pytest.raises(ConfigurationException, match=r"ttls\['user'\].*-5"):
        CacheSettings(ttls={"user": -5})
    with pytest.raises(ConfigurationException, match="port"):
        CacheSettings(port=0)
    manager = EnhancedCacheManager(CacheSettings(disabled=True))
    with pytest.raises(ConfigurationException, match="unknown cache prefix 'nope'"):
        await manager.get("nope", "k")
    with pytest.raises(ConfigurationException, match="TTL -1"):
        await manager.set("user", "k", 1, ttl=-1)


def test_from_env_reads_dbsbm_variables() -> None:
    """REDIS_URL wins; otherwise REDIS_HOST/PORT/USERNAME/PASSWORD/DB; TTL overrides apply."""
    s = CacheSettings.from_env(
        {
            "REDIS_HOST": "cache",
            "REDIS_PORT": "6380",
            "REDIS_DB": "2",
            "REDIS_PASSWORD": "pw",
            "REDIS_DISABLED": "false",
        },
        ttls={"user": 5},
    )
    assert (s.host, s.port, s.db, s.password, s.disabled, s.ttl_for("user")) == (
        "cache",
        6380,
        2,
        "pw",
        False,
        5,
    )
    assert "pw" not in repr(s)
    assert CacheSettings.from_env({"REDIS_URL": "redis://h:1/3"}).url == "redis://h:1/3"
    assert CacheSettings.from_env({"REDIS_DISABLED": "1"}).disabled
    assert s.ttl_for("img") == 86400 and set(PREFIXES) >= {"api", "db_query", "analytics"}


# --- the local tier --------------------------------------------------------------------------


async def test_disabled_redis_uses_a_bounded_local_tier() -> None:
    """REDIS_DISABLED runs on the local tier, bounded in entries and in time."""
    manager = EnhancedCacheManager(
        CacheSettings(disabled=True, local_max_entries=3, local_max_ttl=0.2)
    )
    assert await manager.connect() is False
    for i in range(5):
        await manager.set("user", str(i), i)
    assert [await manager.get("user", str(i)) for i in range(5)] == [None, None, 2, 3, 4]
    assert manager.get_stats()["local_evictions"] == 2
    assert await manager.clear_prefix("user") == 3
    await manager.set("user", "t", 1)
    await asyncio.sleep(0.25)
    assert await manager.get("user", "t") is None
    assert await manager.health_check()  # disabled by choice is healthy


# --- outages --------------------------------------------------------------------------------


@pytest.mark.integration
async def test_start_up_never_blocks_on_a_hung_redis(private_redis: RedisService) -> None:
    """connect() against a hung Redis returns False within the timeouts, then serves locally."""
    private_redis.pause()
    manager = EnhancedCacheManager(settings(private_redis, **FAST))
    start = time.monotonic()
    assert await manager.connect() is False
    assert time.monotonic() - start < CALL_BOUND
    assert manager.fallback_active
    assert await manager.set("user", "1", "v") and await manager.get("user", "1") == "v"
    private_redis.resume()
    await manager.disconnect()


@pytest.mark.integration
async def test_kill_under_load_then_restart(private_redis: RedisService) -> None:
    """Killing Redis under load: no caller sees an error, the fallback serves, the
    breaker opens; after a restart Redis is used again within the stated bound."""
    manager = EnhancedCacheManager(settings(private_redis, **FAST))
    assert await manager.connect()
    transitions: list[str] = []
    manager.breaker.add_listener(lambda b, old, new: transitions.append(new))
    stop = asyncio.Event()
    errors: list[BaseException] = []
    ops = 0

    async def worker(n: int) -> None:
        nonlocal ops
        i = 0
        while not stop.is_set():
            key = f"{n}:{i % 20}"
            try:
                if await manager.get("game", key) is None:
                    await manager.set("game", key, {"n": n, "i": i})
            except BaseException as exc:  # any error reaching us is a failure
                errors.append(exc)
            ops += 1
            i += 1
            await asyncio.sleep(0)

    workers = [asyncio.ensure_future(worker(n)) for n in range(20)]
    await asyncio.sleep(0.3)
    private_redis.kill()
    await wait_until(lambda: manager.fallback_active, 2)
    await asyncio.sleep(0.3)
    local_hits = manager.get_stats()["operations"].get("get.local.hit", 0)
    assert local_hits > 0
    private_redis.start()
    back_after = await wait_until(lambda: not manager.fallback_active, RECOVERY_BOUND)

    def redis_ops() -> int:
        return sum(
            n
            for name, n in manager.get_stats()["operations"].items()
            if ".redis." in name and not name.endswith(".error")
        )

    redis_ops_before = redis_ops()
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*workers)
    assert errors == []
    assert "open" in transitions and transitions[-1] == "closed"
    assert redis_ops() > redis_ops_before
    assert back_after <= RECOVERY_BOUND
    await manager.disconnect()


@pytest.mark.integration
async def test_hung_redis_bounds_every_caller(private_redis: RedisService) -> None:
    """With Redis hung (SIGSTOP) every caller returns within the timeouts; the breaker opens."""
    manager = EnhancedCacheManager(settings(private_redis, **FAST))
    assert await manager.connect()
    await manager.set("user", "1", "v1")
    private_redis.pause()

    async def timed(i: int) -> float:
        start = time.monotonic()
        await (manager.get("user", "1") if i % 2 else manager.set("user", str(i), i))
        return time.monotonic() - start

    durations = await asyncio.gather(*(timed(i) for i in range(30)))
    assert max(durations) < CALL_BOUND
    assert manager.breaker.state == "open"
    start = time.monotonic()
    await asyncio.gather(*(manager.get("user", "1") for _ in range(100)))
    assert time.monotonic() - start < 0.2  # open: no Redis round trips at all
    private_redis.resume()
    await manager.disconnect()


@pytest.mark.integration
async def test_no_stale_reads_across_an_outage(private_redis: RedisService) -> None:
    """delete, set and clear_prefix during an outage: neither tier ever returns an old value,
    before or after recovery (Redis keeps its data: the outage is a hang)."""
    manager = EnhancedCacheManager(settings(private_redis, **FAST))
    assert await manager.connect()
    await manager.set("user", "a", "old-a")
    await manager.set("user", "b", "old-b")
    await manager.set("database", "x:db_query:1", "old-q")
    await manager.set("database", "keep", "keep")
    private_redis.pause()
    await manager.delete("user", "a")  # this write times out against the hung server
    assert manager.fallback_active
    await manager.set("user", "b", "new-b")
    await manager.clear_prefix("database", "db_query")
    await manager.set("guild", "g", "new-g")
    await manager.delete("guild", "g")

    stale = {
        ("user", "a"): "old-a",
        ("user", "b"): "old-b",
        ("database", "x:db_query:1"): "old-q",
        ("guild", "g"): "new-g",
    }
    seen: list[tuple[tuple[str, str], Any]] = []

    async def read_all() -> None:
        for (prefix, key), old in stale.items():
            value = await manager.get(prefix, key)
            if value == old:
                seen.append(((prefix, key), value))

    await read_all()
    assert await manager.get("user", "b") == "new-b"  # the local tier serves the outage
    private_redis.resume()
    deadline = time.monotonic() + RECOVERY_BOUND
    while manager.fallback_active and time.monotonic() < deadline:
        await read_all()
        await manager.connect()  # DBSBM reconnecting must not skip the journal either
        await asyncio.sleep(0.02)
    assert not manager.fallback_active
    for _ in range(3):
        await read_all()
    assert seen == []
    assert await manager.get("user", "b") is None  # dropped, the caller reloads
    assert await manager.get("database", "keep") == "keep"  # untouched by the pattern
    assert manager.get_stats()["pending_invalidations"] == 0
    await manager.disconnect()


@pytest.mark.integration
async def test_journal_overflow_flushes_whole_prefixes(private_redis: RedisService) -> None:
    """Past max_pending_invalidations the journal flushes the keys' prefixes on recovery."""
    manager = EnhancedCacheManager(settings(private_redis, max_pending_invalidations=2, **FAST))
    assert await manager.connect()
    for i in range(4):
        await manager.set("odds", str(i), f"old-{i}")
    await manager.set("team", "t", "untouched")
    private_redis.pause()
    for i in range(3):
        await manager.set("odds", str(i), f"new-{i}")
    assert manager.get_stats()["pending_invalidations"] == 1  # one pattern: odds:*
    private_redis.resume()
    await asyncio.sleep(FAST["reconnect_max"])
    assert await manager.get("odds", "3") is None  # flushed with its prefix, not stale
    assert not manager.fallback_active
    assert await manager.get("team", "t") == "untouched"
    await manager.disconnect()


@pytest.mark.integration
async def test_half_open_sends_exactly_one_call_to_redis(private_redis: RedisService) -> None:
    """With the breaker half-open under concurrent load, exactly one call reaches Redis
    (counted by the server's INFO commandstats)."""
    manager = EnhancedCacheManager(settings(private_redis, **{**FAST, "reconnect_max": 0.2}))
    assert await manager.connect()
    private_redis.kill()
    await manager.set("user", "1", "v")  # fails, opens the breaker
    assert manager.fallback_active
    private_redis.start()
    admin = aredis.Redis(host=private_redis.host, port=private_redis.port)
    await admin.config_resetstat()
    await asyncio.sleep(FAST["reconnect_min"] + 0.05)  # the probe is due
    await asyncio.gather(*(manager.get("user", "1") for _ in range(50)))
    stats = await admin.info("commandstats")
    await admin.aclose()
    assert stats["cmdstat_get"]["calls"] == 1
    assert stats["cmdstat_ping"]["calls"] == 1
    assert not manager.fallback_active
    await manager.disconnect()


@pytest.mark.integration
@pytest.mark.parametrize("opened_by", ["trip", "read failures"])
async def test_refused_recovery_keeps_the_breaker_open(
    private_redis: RedisService, opened_by: str
) -> None:
    """Redis refusing a recovery command (an ACL user without UNLINK: a ResponseError, which
    the breaker otherwise counts as an answer) keeps the breaker open and the journal
    pending, however the breaker opened; no stale value is read. Once UNLINK is allowed,
    recovery applies the journal."""
    admin = aredis.Redis(host=private_redis.host, port=private_redis.port)
    await admin.execute_command("ACL", "SETUSER", "limited", "on", ">pw", "~*", "+@all", "-unlink")
    manager = EnhancedCacheManager(
        settings(private_redis, username="limited", password="pw", **FAST)
    )
    assert await manager.connect()
    await manager.set("user", "a", "old")
    if opened_by == "trip":
        manager.breaker.trip()
    else:
        for _ in range(manager.breaker.failure_threshold):
            manager.breaker.record_failure()
    await manager.delete("user", "a")  # the breaker is open: journalled for recovery
    deadline = time.monotonic() + RECOVERY_BOUND
    while time.monotonic() < deadline:  # several probes, each refused
        assert await manager.get("user", "a") is None
        await asyncio.sleep(0.02)
    assert manager.fallback_active
    assert manager.get_stats()["pending_invalidations"] == 1
    await admin.execute_command("ACL", "SETUSER", "limited", "+unlink")
    deadline = time.monotonic() + RECOVERY_BOUND
    while manager.fallback_active and time.monotonic() < deadline:
        assert await manager.get("user", "a") is None
        await asyncio.sleep(0.02)
    assert not manager.fallback_active
    assert await manager.get("user", "a") is None
    assert manager.get_stats()["pending_invalidations"] == 0
    await admin.aclose()
    await manager.disconnect()


@pytest.mark.integration
async def test_missing_database_keeps_the_fallback(redis_server: RedisService) -> None:
    """A database number the server does not have fails every probe: the cache stays on
    its local tier instead of closing the breaker on the refusal."""
    manager = EnhancedCacheManager(settings(redis_server, db=99, **FAST))
    assert await manager.connect() is False
    await manager.set("user", "a", "v")
    await asyncio.sleep(RECOVERY_BOUND)
    assert await manager.get("user", "a") == "v"  # this call probes, and fails
    assert manager.breaker.state == "open"
    await manager.disconnect()


# --- telemetry ---------------------------------------------------------------------------------


async def test_hit_ratio_series_start_at_zero() -> None:
    """The get hit and miss series of both tiers exist at 0 before any lookup, so the
    first lookups of an outage show Prometheus an increase."""
    reader = InMemoryMetricReader()
    manager = EnhancedCacheManager(
        CacheSettings(disabled=True), meter_provider=MeterProvider(metric_readers=[reader])
    )
    get = {semconv.CACHE_OPERATION: "get"}
    expected = [
        ({**get, semconv.CACHE_TIER: tier, semconv.CACHE_RESULT: result}, 0)
        for tier in ("redis", "local")
        for result in ("hit", "miss")
    ]
    ops = metric_points(reader, semconv.CACHE_OPERATIONS.name)
    assert sorted(ops, key=str) == sorted(expected, key=str)
    await manager.get("odds", "missing")
    assert ({**get, semconv.CACHE_TIER: "local", semconv.CACHE_RESULT: "miss"}, 1) in (
        metric_points(reader, semconv.CACHE_OPERATIONS.name)
    )


@pytest.mark.integration
async def test_telemetry_by_tier(redis_server: RedisService) -> None:
    """Redis operations get spans and durations; every operation is counted by tier and result."""
    reader = InMemoryMetricReader()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    manager = EnhancedCacheManager(
        settings(redis_server, db=CACHE_DB),
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    await manager.set("odds", "1", 1)
    await manager.get("odds", "1")
    await manager.get("odds", "missing")
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["SET", "GET", "GET"]
    assert spans[1].attributes["db.system.name"] == "redis"
    assert spans[1].attributes[semconv.CACHE_PREFIX] == "odds"
    ops = metric_points(reader, semconv.CACHE_OPERATIONS.name)
    attrs = {semconv.CACHE_OPERATION: "get", semconv.CACHE_TIER: "redis"}
    assert ({**attrs, semconv.CACHE_RESULT: "hit"}, 1) in ops
    assert ({**attrs, semconv.CACHE_RESULT: "miss"}, 1) in ops
    durations = metric_points(reader, semconv.CACHE_OPERATION_DURATION.name)
    assert ({semconv.CACHE_OPERATION: "get"}, 2) in durations
    manager.breaker.trip()
    await manager.set("odds", "2", 2)
    await manager.get("odds", "2")
    assert (
        {semconv.CACHE_OPERATION: "get", semconv.CACHE_TIER: "local", semconv.CACHE_RESULT: "hit"},
        1,
    ) in metric_points(reader, semconv.CACHE_OPERATIONS.name)
    assert metric_points(reader, semconv.CACHE_FALLBACK_ACTIVE.name) == [({}, 1)]
    assert metric_points(reader, semconv.CACHE_LOCAL_ENTRIES.name) == [({}, 1)]
    assert len(exporter.get_finished_spans()) == 3  # nothing for the local tier
    await manager.disconnect()


@pytest.mark.integration
async def test_one_span_per_command_beside_contrib_redis(redis_server: RedisService) -> None:
    """With opentelemetry-instrumentation-redis active (opentelemetry-instrument loads it)
    every cache command, pipelines and recovery included, yields our span only; a client
    of the application's own still gets contrib's."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    RedisInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        manager = EnhancedCacheManager(
            settings(redis_server, db=CACHE_DB, **FAST), tracer_provider=tracer_provider
        )
        assert await manager.connect()
        await manager.set("odds", "1", 1)
        exporter.clear()
        assert await manager.get("odds", "1") == 1
        spans = exporter.get_finished_spans()
        assert [(s.name, s.instrumentation_scope.name) for s in spans] == [
            ("GET", "dbsbm_resilience.cache")
        ]
        await manager.mset("odds", {"2": 2, "3": 3})
        await manager.clear_prefix("odds")
        manager.breaker.trip()
        await manager.delete("odds", "2")  # journalled
        await asyncio.sleep(FAST["reconnect_max"])
        await manager.get("odds", "2")  # recovers: PING, UNLINK, then GET
        assert not manager.fallback_active
        scopes = {s.instrumentation_scope.name for s in exporter.get_finished_spans()}
        assert scopes == {"dbsbm_resilience.cache"}
        bare = aredis.Redis(host=redis_server.host, port=redis_server.port, db=CACHE_DB)
        exporter.clear()
        await bare.get("odds:1")
        await bare.aclose()
        assert [s.instrumentation_scope.name for s in exporter.get_finished_spans()] == [
            "opentelemetry.instrumentation.redis"
        ]
        await manager.disconnect()
    finally:
        RedisInstrumentor().uninstrument()


class CountingMeterProvider(metrics_api.NoOpMeterProvider):
    """Counts every synchronous instrument call and span start (the SDK's hot-path costs)."""

    calls = 0

    def get_meter(self, *args: Any, **kwargs: Any) -> metrics_api.Meter:
        provider = self

        class Meter(metrics_api.NoOpMeter):
            def create_counter(self, *a: Any, **k: Any) -> Any:
                return Instrument()

            def create_histogram(self, *a: Any, **k: Any) -> Any:
                return Instrument()

        class Instrument:
            def add(self, *a: Any, **k: Any) -> None:
                provider.calls += 1

            record = add

        return Meter("counting")


class CountingTracerProvider(trace_api.NoOpTracerProvider):
    calls = 0

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace_api.Tracer:
        provider = self

        class Tracer(trace_api.NoOpTracer):
            def start_span(self, *a: Any, **k: Any) -> Any:
                provider.calls += 1
                return trace_api.INVALID_SPAN

        return Tracer()


async def test_local_hit_path_makes_no_sdk_calls() -> None:
    """Local-tier gets and sets touch neither a span nor a synchronous metric instrument."""
    meters, tracers = CountingMeterProvider(), CountingTracerProvider()
    manager = EnhancedCacheManager(
        CacheSettings(disabled=True), meter_provider=meters, tracer_provider=tracers
    )
    await manager.set("user", "1", {"x": 1})
    for _ in range(100):
        assert await manager.get("user", "1") == {"x": 1}
    await manager.get("user", "missing")
    assert meters.calls == 0 and tracers.calls == 0
    assert manager.get_stats()["operations"]["get.local.hit"] == 100
