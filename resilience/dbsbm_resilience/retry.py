"""Retry with exponential backoff and jitter, for sync and async code.

Why our own instead of tenacity: it must consult :mod:`dbsbm_resilience.errors` to tell
retryable failures from the rest, must not spin on an open
:class:`~dbsbm_resilience.breaker.CircuitBreaker`, and its success path is a single
``try`` (``benchmarks/bench_resilience.py`` measures it beside tenacity's).

Usage::

    breaker = CircuitBreaker("sportsapi", failure_threshold=5, reset_timeout=60)

    @retry(policy=API_RETRY, breaker=breaker)
    async def fetch_odds(game_id: int) -> dict: ...

Semantics
---------
Only errors :func:`~dbsbm_resilience.errors.is_retryable` accepts (or your ``on=``) are
retried; :class:`~dbsbm_resilience.breaker.CircuitOpenError` never is (waiting out an
open breaker in a loop would only add latency). A :class:`RateLimitException` with
``retry_after`` waits exactly that long, or is re-raised at once when that exceeds
``max_delay``. :func:`set_testing` removes sleeps and caps attempts for tests.

Telemetry: each scheduled retry adds one to the ``dbsbm.retry.attempts`` counter and logs
one warning. Nothing is recorded on a success.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry.metrics import Meter, MeterProvider
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from dbsbm_resilience import semconv
from dbsbm_resilience._telemetry import shared_per_provider
from dbsbm_resilience.breaker import CircuitBreaker, CircuitOpenError
from dbsbm_resilience.errors import ConfigurationException, RateLimitException, classify

__all__ = [
    "API_RETRY",
    "CACHE_RETRY",
    "DATABASE_RETRY",
    "NETWORK_RETRY",
    "RetryPolicy",
    "Retrying",
    "retry",
    "set_testing",
]

_log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class _RetryTelemetry:
    def __init__(self, meter: Meter) -> None:
        i = semconv.RETRY_ATTEMPTS
        self.retries = meter.create_counter(i.name, i.unit, i.description)


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


# The presets of DBSBM's bot/utils/retry_mechanism.py, so the drop-in retries as the bot
# did: attempts / base delay / max delay / exponential base.
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
        self._telemetry = shared_per_provider("retry", meter_provider, _RetryTelemetry)

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
                except Exception as exc:  # classified in _next_wait
                    first = exc
                return await self._retry_async(target, args, kwargs, name, first)

            # for a coroutine function T is the coroutine async_wrapper returns
            return cast(Callable[P, T], async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return target(*args, **kwargs)
            except Exception as exc:  # classified in _next_wait
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
            except Exception as exc:  # classified in _next_wait
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
            except Exception as exc:  # classified in _next_wait
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
            except Exception as exc:  # classified in _next_wait
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
            except Exception as exc:  # classified in _next_wait
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
