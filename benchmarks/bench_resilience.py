"""Success-path cost of our circuit breaker and retry against circuitbreaker, pybreaker
and tenacity, measured side by side in one run (ns per call, best of several repeats).

    python benchmarks/bench_resilience.py

Targets: breaker success path <= 500 ns and faster than circuitbreaker and
pybreaker; retry success path cheaper than tenacity.
"""

from __future__ import annotations

import asyncio
import time
import timeit
from collections.abc import Awaitable, Callable

import circuitbreaker
import pybreaker
import tenacity

from dbsbm_resilience.breaker import CircuitBreaker
from dbsbm_resilience.retry import retry

NUMBER = 100_000
REPEAT = 7


def bench(fn: Callable[[], object]) -> float:
    """Best-of-REPEAT nanoseconds per call."""
    return min(timeit.repeat(fn, number=NUMBER, repeat=REPEAT)) / NUMBER * 1e9


def bench_async(make: Callable[[], Awaitable[object]]) -> float:
    async def loop() -> float:
        best = float("inf")
        for _ in range(REPEAT):
            start = time.perf_counter()
            for _ in range(NUMBER // 2):
                await make()
            best = min(best, time.perf_counter() - start)
        return best / (NUMBER // 2) * 1e9

    return asyncio.run(loop())


def target(x: int) -> int:
    return x


async def atarget(x: int) -> int:
    return x


def main() -> None:
    ours = CircuitBreaker("bench")(target)
    ours_call = CircuitBreaker("bench-call")
    cb = circuitbreaker.circuit(failure_threshold=5, recovery_timeout=60)(target)
    pb_breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
    pb = pb_breaker(target)
    ours_async = CircuitBreaker("bench-async")(atarget)
    cb_async = circuitbreaker.circuit(failure_threshold=5, recovery_timeout=60)(atarget)
    ours_retry = retry(attempts=3)(target)
    ten_retry = tenacity.retry(
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_exponential_jitter(multiplier=0.5, max=10),
    )(target)
    ours_aretry = retry(attempts=3)(atarget)
    ten_aretry = tenacity.retry(
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_exponential_jitter(multiplier=0.5, max=10),
    )(atarget)

    plain = bench(lambda: target(1))
    rows = [
        (
            "breaker (sync decorator)",
            bench(lambda: ours(1)),
            [("circuitbreaker", bench(lambda: cb(1))), ("pybreaker", bench(lambda: pb(1)))],
        ),
        (
            "breaker (sync .call)",
            bench(lambda: ours_call.call(target, 1)),
            [("pybreaker .call", bench(lambda: pb_breaker.call(target, 1)))],
        ),
        (
            "retry (sync decorator)",
            bench(lambda: ours_retry(1)),
            [("tenacity", bench(lambda: ten_retry(1)))],
        ),
    ]
    aplain = bench_async(lambda: atarget(1))
    arows = [
        (
            "breaker (async decorator)",
            bench_async(lambda: ours_async(1)),
            [("circuitbreaker", bench_async(lambda: cb_async(1)))],
        ),
        (
            "retry (async decorator)",
            bench_async(lambda: ours_aretry(1)),
            [("tenacity", bench_async(lambda: ten_aretry(1)))],
        ),
    ]
    print(f"plain sync call {plain:8.0f} ns   plain await {aplain:8.0f} ns")
    print(f"{'ours':28} {'ns':>8} {'-plain':>8} | baseline ns, ratio ours/baseline")
    for (name, ns, baselines), base in [*((r, plain) for r in rows), *((r, aplain) for r in arows)]:
        compared = "  ".join(f"{b} {bns:,.0f} ns ({ns / bns:.2f}x)" for b, bns in baselines)
        print(f"{name:28} {ns:8.0f} {ns - base:8.0f} | {compared}")


if __name__ == "__main__":
    main()
