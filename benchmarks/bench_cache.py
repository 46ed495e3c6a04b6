"""Cost of a cache get through EnhancedCacheManager, telemetry included, against the
named baselines, measured side by side in one run on one redis-server:

* local-tier hit (Redis down, breaker open)  vs  ``cachetools.TTLCache.get``  (<= 1.2x)
* Redis-tier get with spans and metrics on real SDK providers  vs  bare
  ``redis.asyncio`` GET  (<= 1.25x), and vs the same bare client instrumented by
  opentelemetry-instrumentation-redis.

    python benchmarks/bench_cache.py

Local-tier figures are medians of alternating rounds (an op is too short to time alone);
Redis-tier figures time every GET on its own, the variants interleaved op by op, and
report the median, so load from other processes hits all variants alike. The SDK
providers export to a sink (benchmarks/_otel.py): only the network is left out. The
"no-op providers" row isolates our own code from the SDK's costs.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import cachetools
import redis.asyncio as aredis
from _otel import per_op_us, providers
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider

from dbsbm_resilience.cache import CacheSettings, EnhancedCacheManager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import services  # noqa: E402  # the repo root is on sys.path from the line above

ROUNDS = 7
LOCAL_N = 50_000
REDIS_N = 10_000
VALUE = {"id": 42, "name": "Lakers", "wins": 31, "odds": [1.85, 2.1]}


async def ttlcache_per_op_us(cache: cachetools.TTLCache, key: str, n: int) -> float:
    """TTLCache.get inside a coroutine, as the bot would call it (no await)."""
    start = time.perf_counter()
    for _ in range(n):
        cache.get(key)
    return (time.perf_counter() - start) / n * 1e6


async def interleaved(variants: dict[str, Callable[[], Awaitable[object]]]) -> dict[str, float]:
    """Median µs of each variant, timing single ops taken in turn."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    clock = time.perf_counter
    for _ in range(REDIS_N):
        for name, op in variants.items():
            start = clock()
            await op()
            samples[name].append(clock() - start)
    return {name: statistics.median(values) * 1e6 for name, values in samples.items()}


async def medians(variants: dict[str, Callable[[], Awaitable[float]]]) -> dict[str, float]:
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, run in variants.items():
            results[name].append(await run())
    return {name: statistics.median(values) for name, values in results.items()}


def line(name: str, ours: float, base_name: str, base: float, target: float | None) -> None:
    ratio = ours / base
    verdict = (
        "" if target is None else f"  target <= {target}x: {'ok' if ratio <= target else 'MISSED'}"
    )
    print(
        f"{name:34} {ours:8.2f} µs  vs {base_name:34} {base:8.2f} µs  ratio {ratio:.2f}x{verdict}"
    )


async def main() -> None:
    tracer_provider, meter_provider = providers()
    workdir = services.service_dir("bench-redis")
    server = services.start_redis(workdir)
    try:
        # --- local tier: Redis configured but down, breaker open for the whole run
        down = EnhancedCacheManager(
            CacheSettings(
                host=server.host, port=services.free_port(), reconnect_min=3600, reconnect_max=3600
            ),
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        down.breaker.trip()
        await down.set("team", "lakers", VALUE)
        disabled = EnhancedCacheManager(
            CacheSettings(disabled=True),
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        await disabled.set("team", "lakers", VALUE)
        ttl = cachetools.TTLCache(maxsize=10_000, ttl=60)
        ttl["team:lakers"] = VALUE
        assert await down.get("team", "lakers") == VALUE == ttl.get("team:lakers")
        local = await medians(
            {
                "ttl": lambda: ttlcache_per_op_us(ttl, "team:lakers", LOCAL_N),
                "fallback": lambda: per_op_us(lambda: down.get("team", "lakers"), LOCAL_N),
                "disabled": lambda: per_op_us(lambda: disabled.get("team", "lakers"), LOCAL_N),
            }
        )

        # --- Redis tier
        ours = EnhancedCacheManager(
            CacheSettings(host=server.host, port=server.port),
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        assert await ours.connect()
        await ours.set("team", "lakers", VALUE)
        metrics_only = EnhancedCacheManager(
            CacheSettings(host=server.host, port=server.port, spans=False),
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        no_sdk = EnhancedCacheManager(
            CacheSettings(host=server.host, port=server.port),
            tracer_provider=NoOpTracerProvider(),
            meter_provider=NoOpMeterProvider(),
        )
        bare = aredis.Redis(host=server.host, port=server.port)
        contrib = aredis.Redis(host=server.host, port=server.port)
        RedisInstrumentor.instrument_client(contrib, tracer_provider=tracer_provider)
        for client in (bare, contrib):
            for _ in range(300):
                await client.get("team:lakers")
        for _ in range(300):
            await ours.get("team", "lakers")
            await metrics_only.get("team", "lakers")
            await no_sdk.get("team", "lakers")
        remote = await interleaved(
            {
                "bare": lambda: bare.get("team:lakers"),
                "ours": lambda: ours.get("team", "lakers"),
                "contrib": lambda: contrib.get("team:lakers"),
                "metrics_only": lambda: metrics_only.get("team", "lakers"),
                "no_sdk": lambda: no_sdk.get("team", "lakers"),
            }
        )
        print("real SDK providers with sink exporters; medians (see the module docstring)\n")
        line(
            "local hit (Redis down, breaker open)",
            local["fallback"],
            "cachetools.TTLCache.get",
            local["ttl"],
            1.2,
        )
        line(
            "local hit (REDIS_DISABLED)",
            local["disabled"],
            "cachetools.TTLCache.get",
            local["ttl"],
            1.2,
        )
        line(
            "redis get, spans + metrics",
            remote["ours"],
            "bare redis.asyncio get",
            remote["bare"],
            1.25,
        )
        line(
            "redis get, spans + metrics",
            remote["ours"],
            "bare + contrib RedisInstrumentor",
            remote["contrib"],
            None,
        )
        line(
            "redis get, metrics only (spans=False)",
            remote["metrics_only"],
            "bare redis.asyncio get",
            remote["bare"],
            1.25,
        )
        line(
            "redis get, no-op providers",
            remote["no_sdk"],
            "bare redis.asyncio get",
            remote["bare"],
            None,
        )
        line(
            "contrib-instrumented get",
            remote["contrib"],
            "bare redis.asyncio get",
            remote["bare"],
            None,
        )
        for client in (bare, contrib):
            await client.aclose()
        for manager in (ours, metrics_only, no_sdk, down):
            await manager.disconnect()
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)
        tracer_provider.shutdown()
        meter_provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
