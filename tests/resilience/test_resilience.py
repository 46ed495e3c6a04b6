"""Circuit breaker and retry, sync and async, with their telemetry."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from dbsbm_instrumentation import semconv
from dbsbm_resilience.errors import (
    CacheException,
    ConfigurationException,
    DatabaseException,
    NetworkException,
    RateLimitException,
    ValidationException,
)
from dbsbm_resilience.resilience import (
    API_RETRY,
    CACHE_RETRY,
    DATABASE_RETRY,
    NETWORK_RETRY,
    CircuitBreaker,
    CircuitOpenError,
    RetryPolicy,
    retry,
    set_testing,
)


class Clock:
    """A manual monotonic clock so open periods pass instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def testing() -> Iterator[None]:
    with set_testing(True, attempts=10):
        yield


def metric_points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict, float]]:
    data = reader.get_metrics_data()
    points = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    points += [(dict(p.attributes), p.value) for p in metric.data.data_points]
    return points


def failing(exc: BaseException):
    def f() -> None:
        raise exc

    return f


# --- breaker ----------------------------------------------------------------------------


def test_breaker_opens_at_threshold_and_fails_fast(clock: Clock) -> None:
    """Consecutive failures open the breaker; then calls fail fast without running."""
    breaker = CircuitBreaker("t", failure_threshold=3, reset_timeout=10, clock=clock)
    calls = []

    @breaker
    def op(fail: bool) -> str:
        calls.append(fail)
        if fail:
            raise ConnectionError("down")
        return "ok"

    for _ in range(3):
        with pytest.raises(ConnectionError):
            op(True)
    assert breaker.state == "open" and not breaker.closed
    with pytest.raises(CircuitOpenError) as info:
        op(False)
    assert info.value.retry_in == pytest.approx(10)
    assert len(calls) == 3


def test_success_resets_the_failure_count(clock: Clock) -> None:
    """Failures must be consecutive to open the breaker."""
    breaker = CircuitBreaker("t", failure_threshold=2, clock=clock)
    for _ in range(5):
        with pytest.raises(ConnectionError):
            breaker.call(failing(ConnectionError()))
        assert breaker.call(lambda: 1) == 1
    assert breaker.state == "closed"


def test_excluded_exceptions_do_not_count(clock: Clock) -> None:
    """Excluded exception types pass through without opening the breaker."""
    breaker = CircuitBreaker("t", failure_threshold=1, excluded=(ValidationException,), clock=clock)
    with pytest.raises(ValidationException):
        breaker.call(failing(ValidationException("bad")))
    assert breaker.state == "closed"


def test_half_open_probe_closes_or_reopens(clock: Clock) -> None:
    """After the timeout one probe runs: success closes, failure reopens with backoff."""
    breaker = CircuitBreaker("t", failure_threshold=1, reset_timeout=1, backoff_max=8, clock=clock)
    with pytest.raises(ConnectionError):
        breaker.call(failing(ConnectionError()))
    assert breaker.retry_in <= 1
    clock.now += 1
    with pytest.raises(ConnectionError):  # the probe fails: open again, longer
        breaker.call(failing(ConnectionError()))
    assert breaker.state == "open" and 1 <= breaker.retry_in <= 2
    clock.now += 2
    assert breaker.call(lambda: "back") == "back"
    assert breaker.state == "closed"


def test_backoff_never_exceeds_its_cap(clock: Clock) -> None:
    """Failed probes double the open period, jittered, never above backoff_max."""
    breaker = CircuitBreaker("t", failure_threshold=1, reset_timeout=1, backoff_max=4, clock=clock)
    breaker.trip()
    waits = []
    for _ in range(8):
        clock.now += 10
        assert breaker.try_probe()
        breaker.record_failure(ConnectionError())
        waits.append(breaker.retry_in)
    assert max(waits) <= 4 and waits[-1] >= 2


def test_sync_half_open_lets_exactly_one_thread_through(clock: Clock) -> None:
    """Threads racing into a half-open breaker: exactly one runs, the rest fail fast."""
    breaker = CircuitBreaker("t", failure_threshold=1, reset_timeout=1, clock=clock)
    breaker.trip()
    clock.now += 2
    entered, release = threading.Event(), threading.Event()
    calls, fast_fails = [], []
    barrier = threading.Barrier(8)

    def probe() -> str:
        calls.append(1)
        entered.set()
        release.wait(5)
        return "ok"

    def worker() -> None:
        barrier.wait()
        try:
            breaker.call(probe)
        except CircuitOpenError:
            fast_fails.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    assert entered.wait(5)
    time.sleep(0.05)
    release.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and len(fast_fails) == 7
    assert breaker.state == "closed"


async def test_async_half_open_lets_exactly_one_task_through(clock: Clock) -> None:
    """Concurrent tasks on a half-open breaker: one probe, the others fail fast."""
    breaker = CircuitBreaker("t", failure_threshold=1, reset_timeout=1, clock=clock)
    breaker.trip()
    clock.now += 2
    calls = []

    @breaker
    async def op() -> str:
        calls.append(1)
        await asyncio.sleep(0.05)
        return "ok"

    results = await asyncio.gather(*(op() for _ in range(20)), return_exceptions=True)
    assert len(calls) == 1
    assert results.count("ok") == 1
    assert sum(isinstance(r, CircuitOpenError) for r in results) == 19
    assert breaker.state == "closed"


async def test_async_breaker_counts_failures(clock: Clock) -> None:
    """call_async opens the breaker on failures and succeeds when closed."""
    breaker = CircuitBreaker("t", failure_threshold=2, clock=clock)

    async def boom() -> None:
        raise TimeoutError

    async def fine() -> int:
        return 7

    assert await breaker.call_async(fine) == 7
    for _ in range(2):
        with pytest.raises(TimeoutError):
            await breaker.call_async(boom)
    with pytest.raises(CircuitOpenError):
        await breaker.call_async(fine)


async def test_cancelled_probe_lets_the_next_caller_probe(clock: Clock) -> None:
    """A probe cancelled mid-call leaves the breaker open and immediately probe-able."""
    breaker = CircuitBreaker("t", failure_threshold=1, reset_timeout=1, clock=clock)
    breaker.trip()
    clock.now += 2

    @breaker
    async def slow() -> None:
        await asyncio.sleep(10)

    task = asyncio.ensure_future(slow())
    await asyncio.sleep(0.01)
    assert breaker.state == "half_open"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state == "open" and breaker.try_probe()


def test_listeners_see_transitions_and_cannot_break_calls(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Listeners get (breaker, old, new); a failing listener is logged, not raised."""
    breaker = CircuitBreaker("t", failure_threshold=1, reset_timeout=1, clock=clock)
    seen = []
    breaker.add_listener(lambda b, old, new: seen.append((old, new)))
    breaker.add_listener(lambda b, old, new: 1 / 0)
    with pytest.raises(ConnectionError):
        breaker.call(failing(ConnectionError()))
    clock.now += 1
    breaker.call(lambda: None)
    assert seen == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert "listener" in caplog.text


def test_breaker_telemetry(clock: Clock) -> None:
    """State is an observable gauge and transitions are counted by state entered."""
    reader = InMemoryMetricReader()
    breaker = CircuitBreaker(
        "tele",
        failure_threshold=1,
        clock=clock,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    breaker.trip()
    states = metric_points(reader, semconv.BREAKER_STATE_GAUGE.name)
    assert ({semconv.BREAKER_NAME: "tele"}, 2) in states
    transitions = metric_points(reader, semconv.BREAKER_TRANSITIONS.name)
    assert ({semconv.BREAKER_NAME: "tele", semconv.BREAKER_STATE: "open"}, 1) in transitions


def test_breaker_rejects_bad_settings() -> None:
    """Nonsense thresholds raise a one-line ConfigurationException."""
    with pytest.raises(ConfigurationException, match="failure_threshold"):
        CircuitBreaker("t", failure_threshold=0)
    with pytest.raises(ConfigurationException, match="reset_timeout"):
        CircuitBreaker("t", reset_timeout=-1)


# --- retry --------------------------------------------------------------------------------


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
    caplog.set_level("WARNING", logger="dbsbm_resilience.resilience")
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
