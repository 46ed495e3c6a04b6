"""The circuit breaker, sync and async, with its telemetry."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from dbsbm_instrumentation import semconv
from dbsbm_resilience.breaker import CircuitBreaker, CircuitOpenError
from dbsbm_resilience.errors import ConfigurationException, ValidationException
from tests.resilience.helpers import Clock, failing, metric_points


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


def test_decorated_functions_and_methods_keep_their_identity(clock: Clock) -> None:
    """The decorator keeps name, signature and coroutine-ness; a method still gets self."""
    breaker = CircuitBreaker("t", failure_threshold=1, reset_timeout=10, clock=clock)

    class Client:
        @breaker
        def get(self, key: str) -> str:
            return f"{type(self).__name__}:{key}"

        @breaker
        async def aget(self, key: str) -> str:
            return f"{type(self).__name__}:{key}"

    client = Client()
    assert client.get("k") == "Client:k"
    assert asyncio.run(client.aget("k")) == "Client:k"
    assert Client.get.__name__ == "get" and Client.aget.__name__ == "aget"
    assert str(inspect.signature(client.get)) == "(key: 'str') -> 'str'"
    assert inspect.iscoroutinefunction(client.aget) and inspect.iscoroutinefunction(Client.aget)
    assert not inspect.iscoroutinefunction(client.get)


def test_breaker_rejects_bad_settings() -> None:
    """Nonsense thresholds raise a one-line ConfigurationException."""
    with pytest.raises(ConfigurationException, match="failure_threshold"):
        CircuitBreaker("t", failure_threshold=0)
    with pytest.raises(ConfigurationException, match="reset_timeout"):
        CircuitBreaker("t", reset_timeout=-1)
