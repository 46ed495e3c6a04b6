"""Circuit breaker and retry with backoff, for sync and async code.

Why our own instead of ``circuitbreaker``/``pybreaker``/``aiobreaker``: none of them lets
exactly one call probe a half-open circuit (after the timeout every concurrent caller
reaches the failing dependency), pybreaker serialises all calls through an ``RLock``, and
their success path costs 0.8-2 µs. Ours keeps the closed-state path to a flag test and a
``try``; locks, telemetry and listeners run only on failures and state changes. Retry is
ours for the same reason (tenacity's success path costs ~20 µs) and because it must
consult :mod:`dbsbm_resilience.errors` and not spin on an open breaker.

Usage::

    breaker = CircuitBreaker("sportsapi", failure_threshold=5, reset_timeout=60)

    @retry(policy=API_RETRY, breaker=breaker)
    async def fetch_odds(game_id: int) -> dict: ...

Semantics
---------
* **Breaker.** ``closed`` counts consecutive failures (excluded exception types count as
  successes: the dependency answered). At ``failure_threshold`` it opens; calls fail fast
  with :class:`CircuitOpenError`. Once ``reset_timeout`` has passed, the *first* caller
  moves it to ``half_open`` and is the only one let through; everyone else still fails
  fast until that probe ends. A successful probe closes it; a failed probe reopens it,
  and with ``backoff_max`` set the open period doubles per failed probe (with jitter,
  never above ``backoff_max``). A probe cancelled before it finished re-opens the breaker
  with the timeout already elapsed, so the next caller probes.
* **Retry.** Only errors :func:`~dbsbm_resilience.errors.is_retryable` accepts (or
  your ``on=``) are retried; :class:`CircuitOpenError` never is (waiting out an open
  breaker in a loop would only add latency). A :class:`RateLimitException` with
  ``retry_after`` waits exactly that long, or is re-raised at once when that exceeds
  ``max_delay``. :func:`set_testing` removes sleeps and caps attempts for tests.
* **Telemetry.** Breaker state is an observable gauge (``dbsbm.circuit_breaker.state``)
  read at collection time; transitions and scheduled retries are counters. Nothing is
  recorded on a success.

API
---
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import random
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, ParamSpec, TypeVar

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from dbsbm_resilience import semconv
from dbsbm_resilience.errors import (
    ConfigurationException,
    RateLimitException,
    ServiceException,
    classify,
)
from dbsbm_resilience.version import __version__

__all__ = [
    "API_RETRY",
    "CACHE_RETRY",
    "CLOSED",
    "DATABASE_RETRY",
    "HALF_OPEN",
    "NETWORK_RETRY",
    "OPEN",
    "CircuitBreaker",
    "CircuitOpenError",
    "RetryPolicy",
    "Retrying",
    "retry",
    "set_testing",
]

_log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

CLOSED = "closed"
HALF_OPEN = "half_open"
OPEN = "open"

Listener = Callable[["CircuitBreaker", str, str], None]


class CircuitOpenError(ServiceException):
    """Raised instead of calling a dependency whose breaker is open (never retried)."""

    default_code = "CIRCUIT_OPEN"
    retryable = False

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(
            f"circuit breaker {name!r} is open (next probe in {retry_in:.1f} s)",
            details={"breaker": name, "retry_in": retry_in},
        )
        self.breaker_name = name
        self.retry_in = retry_in


# --- telemetry shared by every breaker and retry of one meter provider ----------------

_shared_lock = threading.Lock()
_shared: dict[tuple[str, int], Any] = {}


def shared_per_provider(
    kind: str, meter_provider: MeterProvider | None, factory: Callable[[metrics.Meter], T]
) -> T:
    """One instrument set per (kind, meter provider), so many breakers or caches do not
    register the same instrument names twice on one meter (the SDK warns and drops)."""
    key = (kind, id(meter_provider))
    with _shared_lock:
        if key not in _shared:
            meter = metrics.get_meter("dbsbm_resilience", __version__, meter_provider)
            # keep the provider alive with its instruments so ``id`` is not reused
            _shared[key] = (meter_provider, factory(meter))
        return _shared[key][1]  # type: ignore[no-any-return]


class _ResilienceTelemetry:
    def __init__(self, meter: metrics.Meter) -> None:
        self.breakers: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()
        i = semconv.BREAKER_STATE_GAUGE
        meter.create_observable_gauge(i.name, [self._observe_states], i.unit, i.description)
        i = semconv.BREAKER_TRANSITIONS
        self.transitions = meter.create_counter(i.name, i.unit, i.description)
        i = semconv.RETRY_ATTEMPTS
        self.retries = meter.create_counter(i.name, i.unit, i.description)

    def _observe_states(self, options: CallbackOptions) -> Iterable[Observation]:
        for breaker in list(self.breakers):
            yield Observation(
                semconv.BREAKER_STATE_VALUES[breaker.state], {semconv.BREAKER_NAME: breaker.name}
            )


def _telemetry(meter_provider: MeterProvider | None) -> _ResilienceTelemetry:
    return shared_per_provider("resilience", meter_provider, _ResilienceTelemetry)


# --- circuit breaker ---------------------------------------------------------------------

# DBSBM's own breaker settings: 5 failures open it, 60 s before one probe call is let through.
BREAKER_FAILURE_THRESHOLD = 5
BREAKER_RESET_TIMEOUT_SECONDS = 60.0


class CircuitBreaker:
    """Closed / open / half-open breaker with a single half-open probe (see module doc).

    ``closed`` is a plain attribute so hot paths (the cache's) test it without a call.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = BREAKER_FAILURE_THRESHOLD,
        reset_timeout: float = BREAKER_RESET_TIMEOUT_SECONDS,
        backoff_max: float | None = None,
        excluded: tuple[type[BaseException], ...] = (),
        meter_provider: MeterProvider | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(failure_threshold, int) or failure_threshold < 1:
            raise ConfigurationException(
                f"circuit breaker {name!r}: failure_threshold must be an integer >= 1, "
                f"got {failure_threshold!r}"
            )
        if not reset_timeout > 0:
            raise ConfigurationException(
                f"circuit breaker {name!r}: reset_timeout must be > 0 s, got {reset_timeout!r}"
            )
        if backoff_max is not None and backoff_max < reset_timeout:
            raise ConfigurationException(
                f"circuit breaker {name!r}: backoff_max ({backoff_max}) is below "
                f"reset_timeout ({reset_timeout})"
            )
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = float(reset_timeout)
        self.backoff_max = backoff_max
        self.excluded = tuple(excluded)
        self.closed = True
        self.failures = 0
        self._state = CLOSED
        self._clock = clock
        self._open_for = self.reset_timeout  # grows with failed probes when backoff_max
        self._probe_at = 0.0
        self._lock = threading.RLock()  # state changes only; never on the closed path
        self._listeners: list[Listener] = []
        self._telemetry = _telemetry(meter_provider)
        self._telemetry.breakers.add(self)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._state} failures={self.failures}>"

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"``."""
        return self._state

    @property
    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        if self._state != OPEN:
            return 0.0
        return max(0.0, self._probe_at - self._clock())

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(breaker, old_state, new_state)`` on every transition."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    # -- the low-level protocol (used by call wrappers and by the cache) --------------

    def probe_due(self) -> bool:
        """Cheap check, no lock: is the breaker open and past its timeout?"""
        return self._state == OPEN and self._clock() >= self._probe_at

    def try_probe(self) -> bool:
        """Claim the single half-open probe: True for exactly one caller per open period.

        The winner must end with :meth:`record_success`, :meth:`record_failure` or
        :meth:`release_probe`.
        """
        if not self.probe_due():
            return False
        with self._lock:
            if self._state != OPEN or self._clock() < self._probe_at:
                return False
            self._transition(HALF_OPEN)
            return True

    def record_success(self) -> None:
        """A call succeeded: reset the failure count; a half-open probe closes the circuit."""
        if self.closed:
            if self.failures:
                self.failures = 0
            return
        with self._lock:
            if self._state == HALF_OPEN:
                self.failures = 0
                self._open_for = self.reset_timeout
                self._transition(CLOSED)

    def record_failure(self, exc: BaseException | None = None) -> None:
        """A call failed; excluded exception types count as successes."""
        if exc is not None and isinstance(exc, self.excluded):
            self.record_success()
            return
        with self._lock:
            if self._state == HALF_OPEN:
                if self.backoff_max is not None:
                    self._open_for = min(self.backoff_max, self._open_for * 2)
                self._open()
            elif self._state == CLOSED:
                self.failures += 1
                if self.failures >= self.failure_threshold:
                    self._open()
            # OPEN: a call that started while closed failed late; nothing to change.

    def release_probe(self) -> None:
        """The probe ended without a verdict (cancelled): let the next caller probe."""
        with self._lock:
            if self._state == HALF_OPEN:
                self._probe_at = self._clock()
                self._transition(OPEN)

    def trip(self) -> None:
        """Open now, whatever the state (the cache does this when a write is lost)."""
        with self._lock:
            if self._state != OPEN:
                self._open()

    def reset(self) -> None:
        """Close now and forget failures (an operator action, or tests)."""
        with self._lock:
            self.failures = 0
            self._open_for = self.reset_timeout
            if self._state != CLOSED:
                self._transition(CLOSED)

    def _open(self) -> None:
        wait = self._open_for
        if self.backoff_max is not None:
            wait *= random.uniform(0.5, 1.0)
        self._probe_at = self._clock() + wait
        self._transition(OPEN)

    def _transition(self, new: str) -> None:
        old, self._state = self._state, new
        self.closed = new == CLOSED
        self._telemetry.transitions.add(
            1, {semconv.BREAKER_NAME: self.name, semconv.BREAKER_STATE: new}
        )
        for listener in list(self._listeners):
            try:
                listener(self, old, new)
            except Exception:  # noqa: BLE001 - a listener must not break the call
                _log.warning(
                    "circuit breaker %r listener %r failed", self.name, listener, exc_info=True
                )

    # -- calling through the breaker ----------------------------------------------------

    def call(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``func`` through the breaker (sync)."""
        if self.closed:
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                self.record_failure(exc)
                raise
            if self.failures:
                self.failures = 0
            return result
        return self._probe_call(func, args, kwargs)

    async def call_async(
        self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``func`` through the breaker."""
        if self.closed:
            try:
                result = await func(*args, **kwargs)
            except Exception as exc:
                self.record_failure(exc)
                raise
            if self.failures:
                self.failures = 0
            return result
        return await self._probe_call_async(func, args, kwargs)

    def __call__(self, func: Callable[P, T]) -> Callable[P, T]:
        """Decorate a sync or async function; the closed path is inlined for speed."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if self.closed:
                    try:
                        result = await func(*args, **kwargs)
                    except Exception as exc:
                        self.record_failure(exc)
                        raise
                    if self.failures:
                        self.failures = 0
                    return result
                return await self._probe_call_async(func, args, kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self.closed:
                try:
                    result = func(*args, **kwargs)
                except Exception as exc:
                    self.record_failure(exc)
                    raise
                if self.failures:
                    self.failures = 0
                return result
            return self._probe_call(func, args, kwargs)

        return wrapper

    def _probe_call(self, func: Callable[..., T], args: Any, kwargs: Any) -> T:
        if self.closed:  # closed again since the caller looked
            return self.call(func, *args, **kwargs)
        if not self.try_probe():
            raise CircuitOpenError(self.name, self.retry_in)
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            self.record_failure(exc)
            raise
        except BaseException:
            self.release_probe()
            raise
        self.record_success()
        return result

    async def _probe_call_async(
        self, func: Callable[..., Awaitable[T]], args: Any, kwargs: Any
    ) -> T:
        if self.closed:
            return await self.call_async(func, *args, **kwargs)
        if not self.try_probe():
            raise CircuitOpenError(self.name, self.retry_in)
        try:
            result = await func(*args, **kwargs)
        except Exception as exc:
            self.record_failure(exc)
            raise
        except BaseException:  # cancelled: no verdict on the dependency
            self.release_probe()
            raise
        self.record_success()
        return result


# --- retry -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How many attempts and how long to wait between them (seconds).

    The wait before retry *n* (1-based) is ``base_delay * exponential_base ** (n - 1)``,
    capped at ``max_delay``; with ``jitter`` it is drawn from ``[wait / 2, wait]`` so
    callers that failed together do not retry together. ``base_delay=None`` takes the
    first step from the error's type (:attr:`ErrorInfo.retry_delay`).
    """

    attempts: int = 3
    base_delay: float | None = None
    max_delay: float = 10.0
    exponential_base: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or not 1 <= self.attempts <= 100:
            raise ConfigurationException(f"retry attempts must be 1-100, got {self.attempts!r}")
        if self.base_delay is not None and self.base_delay < 0:
            raise ConfigurationException(
                f"retry base_delay must be >= 0 s, got {self.base_delay!r}"
            )
        if not 0 <= self.max_delay <= 3600:
            raise ConfigurationException(
                f"retry max_delay must be 0-3600 s, got {self.max_delay!r}"
            )
        if self.exponential_base < 1:
            raise ConfigurationException(
                f"retry exponential_base must be >= 1, got {self.exponential_base!r}"
            )

    def delay(self, retry_number: int, exc: BaseException) -> float | None:
        """Seconds to wait before retry ``retry_number``, or None to give up now."""
        if isinstance(exc, RateLimitException) and exc.retry_after is not None:
            wait = float(exc.retry_after)
            return wait if wait <= self.max_delay else None
        base = classify(exc).retry_delay if self.base_delay is None else self.base_delay
        wait = min(self.max_delay, base * self.exponential_base ** (retry_number - 1))
        if self.jitter:
            wait *= random.uniform(0.5, 1.0)
        return wait


# DBSBM's presets (seed task 1.5): attempts / base delay / max delay / exponential base.
DATABASE_RETRY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=10.0, exponential_base=2.0)
API_RETRY = RetryPolicy(attempts=5, base_delay=1.0, max_delay=30.0, exponential_base=2.0)
CACHE_RETRY = RetryPolicy(attempts=2, base_delay=0.1, max_delay=5.0, exponential_base=1.5)
NETWORK_RETRY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=60.0, exponential_base=2.0)


class _TestingState:
    """Global like stamina's: guarded by a lock, restored by the context manager."""

    lock = threading.Lock()
    active = False
    attempts = 1


class _TestingContext:
    def __init__(self, previous: tuple[bool, int]) -> None:
        self._previous = previous

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        with _TestingState.lock:
            _TestingState.active, _TestingState.attempts = self._previous


def set_testing(testing: bool, *, attempts: int = 1) -> _TestingContext:
    """Tests: no backoff sleeps and at most ``attempts`` attempts, until undone.

    Returns a context manager restoring the previous state, so both
    ``set_testing(True)`` in a fixture and ``with set_testing(True): ...`` work.
    """
    if attempts < 1:
        raise ConfigurationException(f"set_testing attempts must be >= 1, got {attempts!r}")
    with _TestingState.lock:
        previous = (_TestingState.active, _TestingState.attempts)
        _TestingState.active, _TestingState.attempts = testing, attempts
    return _TestingContext(previous)


class Retrying:
    """A retry configuration; call :meth:`call` / :meth:`call_async` or use as decorator.

    The success path is one ``try`` around the call: backoff, classification, logging and
    the ``dbsbm.retry.attempts`` counter run only after a failure.
    """

    def __init__(
        self,
        *,
        policy: RetryPolicy = RetryPolicy(),
        on: Callable[[BaseException], bool] | None = None,
        breaker: CircuitBreaker | None = None,
        name: str | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.policy = policy
        self.on = on
        self.breaker = breaker
        self.name = name
        self._telemetry = _telemetry(meter_provider)

    def _should_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, CircuitOpenError):
            return False
        if self.on is not None:
            return self.on(exc)
        return classify(exc).retryable

    def _next_wait(self, retry_number: int, exc: BaseException, name: str) -> float | None:
        """Wait before the next attempt, or None to re-raise ``exc`` now."""
        attempts = self.policy.attempts
        testing = _TestingState.active
        if testing:
            attempts = min(attempts, _TestingState.attempts)
        if retry_number >= attempts or not self._should_retry(exc):
            return None
        wait = self.policy.delay(retry_number, exc)
        if wait is None:
            return None
        info = classify(exc)
        kind = info.type
        self._telemetry.retries.add(1, {semconv.RETRY_OPERATION: name, ERROR_TYPE: kind})
        _log.warning(
            "retrying %s in %.2f s after %s (attempt %d of %d)",
            name,
            wait,
            kind,
            retry_number + 1,
            attempts,
            extra={
                semconv.RETRY_OPERATION: name,
                ERROR_TYPE: kind,
                semconv.ERROR_CODE: info.code,
                "dbsbm.retry.attempt": retry_number + 1,
                "dbsbm.retry.wait": wait,
            },
        )
        return 0.0 if testing else wait

    def call(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``func`` (sync), retrying as configured."""
        if self.breaker is not None:
            return self._retry_sync(
                functools.partial(self.breaker.call, func), args, kwargs, _name(func, self.name)
            )
        return self._retry_sync(func, args, kwargs, _name(func, self.name))

    async def call_async(
        self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``func``, retrying as configured."""
        target: Callable[..., Awaitable[T]] = func
        if self.breaker is not None:
            target = functools.partial(self.breaker.call_async, func)
        return await self._retry_async(target, args, kwargs, _name(func, self.name))

    def __call__(self, func: Callable[P, T]) -> Callable[P, T]:
        name = _name(func, self.name)
        target: Callable[..., Any] = self.breaker(func) if self.breaker is not None else func
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await target(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - classified in _next_wait
                    first = exc
                return await self._retry_async(target, args, kwargs, name, first)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return target(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified in _next_wait
                first = exc
            return self._retry_sync(target, args, kwargs, name, first)

        return wrapper

    def _retry_sync(
        self,
        func: Callable[..., T],
        args: Any,
        kwargs: Any,
        name: str,
        failed: Exception | None = None,
    ) -> T:
        retry_number = 0
        if failed is None:
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified in _next_wait
                failed = exc
        while True:
            retry_number += 1
            wait = self._next_wait(retry_number, failed, name)
            if wait is None:
                raise failed
            if wait:
                time.sleep(wait)
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified in _next_wait
                failed = exc

    async def _retry_async(
        self,
        func: Callable[..., Awaitable[T]],
        args: Any,
        kwargs: Any,
        name: str,
        failed: Exception | None = None,
    ) -> T:
        retry_number = 0
        if failed is None:
            try:
                return await func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified in _next_wait
                failed = exc
        while True:
            retry_number += 1
            wait = self._next_wait(retry_number, failed, name)
            if wait is None:
                raise failed
            if wait:
                await asyncio.sleep(wait)
            try:
                return await func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified in _next_wait
                failed = exc


def _name(func: Callable[..., Any], name: str | None) -> str:
    return name or getattr(func, "__qualname__", None) or repr(func)


def retry(
    *,
    policy: RetryPolicy | None = None,
    attempts: int | None = None,
    base_delay: float | None = None,
    max_delay: float | None = None,
    exponential_base: float | None = None,
    jitter: bool | None = None,
    on: Callable[[BaseException], bool] | None = None,
    breaker: CircuitBreaker | None = None,
    name: str | None = None,
    meter_provider: MeterProvider | None = None,
) -> Retrying:
    """Decorator factory: ``@retry(policy=DATABASE_RETRY)`` or ``@retry(attempts=4)``.

    Settings given here override the policy's (default: 3 attempts, first step from the
    error type, at most 10 s). ``on`` replaces the taxonomy classifier.
    """
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "attempts": attempts,
            "base_delay": base_delay,
            "max_delay": max_delay,
            "exponential_base": exponential_base,
            "jitter": jitter,
        }.items()
        if v is not None
    }
    return Retrying(
        policy=replace(policy or RetryPolicy(), **overrides),
        on=on,
        breaker=breaker,
        name=name,
        meter_provider=meter_provider,
    )
