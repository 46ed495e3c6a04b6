"""Retry with backoff, sync and async, with its telemetry."""

from __future__ import annotations

import itertools
import time

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from dbsbm_instrumentation import semconv
from dbsbm_resilience.breaker import CircuitBreaker, CircuitOpenError
from dbsbm_resilience.errors import (
    CacheException,
    ConfigurationException,
    DatabaseException,
    NetworkException,
    RateLimitException,
)
from dbsbm_resilience.retry import (
    API_RETRY,
    CACHE_RETRY,
    DATABASE_RETRY,
    NETWORK_RETRY,
    RetryPolicy,
    retry,
    set_testing,
)
from tests.resilience.helpers import Clock, failing, metric_points


def test_presets_match_dbsbm() -> None:
    """The four presets carry DBSBM's attempts / base / max / exponential base."""
    table = [
        (p.attempts, p.base_delay, p.max_delay, p.exponential_base, p.jitter)
        for p in (DATABASE_RETRY, API_RETRY, CACHE_RETRY, NETWORK_RETRY)
    ]
    assert table == [
        (3, 0.5, 10.0, 2.0, True),
        (5, 1.0, 30.0, 2.0, True),
        (2, 0.1, 5.0, 1.5, True),
        (3, 1.0, 60.0, 2.0, True),
    ]


def test_delay_grows_with_jitter_and_cap() -> None:
    """Waits grow exponentially, are jittered into [d/2, d], and never exceed max_delay."""
    policy = RetryPolicy(attempts=10, base_delay=1, max_delay=5, exponential_base=2)
    for n, full in [(1, 1), (2, 2), (3, 4), (4, 5), (9, 5)]:
        waits = [policy.delay(n, ConnectionError()) for _ in range(50)]
        assert all(full / 2 <= w <= full for w in waits)
    assert RetryPolicy(base_delay=1, jitter=False).delay(2, ConnectionError()) == 2


@pytest.mark.parametrize(
    ("exc", "first"),
    [
        (DatabaseException("deadlock", retryable=True), 0.5),
        (CacheException("evicted", retryable=True), 0.1),
        (NetworkException("reset"), 1.0),
        (ConnectionRefusedError(), 1.0),  # by the classifier's table
    ],
)
def test_without_base_delay_waits_follow_the_error_type(
    exc: Exception, first: float, testing: None, caplog: pytest.LogCaptureFixture
) -> None:
    """base_delay=None: the first wait is the error type's retry_delay, then it doubles.
    The testing switch skips the sleeps; each scheduled wait is read from its log record."""
    caplog.set_level("WARNING", logger="dbsbm_resilience.retry")
    policy = RetryPolicy(attempts=3, base_delay=None, jitter=False)
    with pytest.raises(type(exc)):
        retry(policy=policy, name="op").call(failing(exc))
    waits = [
        r.__dict__["dbsbm.retry.wait"] for r in caplog.records if "dbsbm.retry.wait" in r.__dict__
    ]
    assert waits == [first, first * 2]


def test_retries_retryable_errors_until_success(testing: None) -> None:
    """A transient error is retried; the result of the first success is returned."""
    calls = []

    @retry(attempts=3)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("blip")
        return "ok"

    assert flaky() == "ok" and len(calls) == 3


def test_unknown_errors_are_not_retried(testing: None) -> None:
    """An exception the classifier does not know is raised on the first attempt."""
    calls = []

    @retry(attempts=5)
    def broken() -> None:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        broken()
    assert len(calls) == 1


def test_gives_up_after_max_attempts(testing: None) -> None:
    """The last error is raised after ``attempts`` calls."""
    calls = []

    def down() -> None:
        calls.append(1)
        raise NetworkException("x")

    with pytest.raises(NetworkException):
        retry(attempts=4).call(down)
    assert len(calls) == 4


def test_real_backoff_sleeps_are_bounded() -> None:
    """Without the testing switch the waits happen and respect max_delay."""
    calls = []

    @retry(attempts=3, base_delay=0.02, max_delay=0.03)
    def flaky() -> None:
        calls.append(time.monotonic())
        raise TimeoutError

    with pytest.raises(TimeoutError):
        flaky()
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert len(gaps) == 2 and all(0.009 <= g <= 0.2 for g in gaps)


async def test_rate_limit_waits_retry_after() -> None:
    """A RateLimitException's retry_after is the wait; beyond max_delay it is raised now."""
    calls = []

    @retry(attempts=3, max_delay=1)
    async def limited(after: float) -> str:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RateLimitException("429", retry_after=after)
        return "ok"

    assert await limited(0.05) == "ok"
    assert calls[1] - calls[0] >= 0.05
    calls.clear()
    with pytest.raises(RateLimitException):
        await limited(5)
    assert len(calls) == 1


async def test_async_retry_and_custom_predicate(testing: None) -> None:
    """Async functions retry too; ``on=`` replaces the classifier."""
    calls = []

    @retry(attempts=3, on=lambda exc: isinstance(exc, KeyError))
    async def op() -> int:
        calls.append(1)
        if len(calls) < 2:
            raise KeyError("transient in this context")
        return 5

    assert await op() == 5 and len(calls) == 2


async def test_open_breaker_is_not_retried(clock: Clock) -> None:
    """An open breaker's fast-fail goes straight to the caller, no retry loop."""
    breaker = CircuitBreaker("r", failure_threshold=1, reset_timeout=30, clock=clock)
    calls = []

    @retry(attempts=5, base_delay=0, breaker=breaker)
    async def op() -> None:
        calls.append(1)
        raise ConnectionError

    with pytest.raises(CircuitOpenError):
        await op()  # attempt 1 fails and opens; attempt 2 fails fast; no more
    assert len(calls) == 1


def test_set_testing_caps_attempts_and_restores() -> None:
    """set_testing drops the waits and caps attempts until its context exits."""
    calls = []

    def always() -> None:
        calls.append(1)
        raise ConnectionError

    with set_testing(True, attempts=2):
        start = time.monotonic()
        with pytest.raises(ConnectionError):
            retry(policy=API_RETRY).call(always)
        assert len(calls) == 2 and time.monotonic() - start < 0.5
    calls.clear()
    with pytest.raises(ConnectionError):
        retry(attempts=2, base_delay=0).call(always)
    assert len(calls) == 2


def test_retry_attempts_counter(testing: None) -> None:
    """Each scheduled retry adds one to dbsbm.retry.attempts by operation and error.type."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with pytest.raises(TimeoutError):
        retry(attempts=3, name="fetch", meter_provider=provider).call(failing(TimeoutError()))
    points = metric_points(reader, semconv.RETRY_ATTEMPTS.name)
    assert points == [({semconv.RETRY_OPERATION: "fetch", "error.type": "TimeoutError"}, 2)]


def test_policy_rejects_unbounded_settings() -> None:
    """Retry settings are bounded: attempts 1-100, delays non-negative."""
    with pytest.raises(ConfigurationException, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ConfigurationException, match="max_delay"):
        RetryPolicy(max_delay=-1)
