"""A circuit breaker for sync and async code, with a single half-open probe.

Why our own instead of ``circuitbreaker``/``pybreaker``/``aiobreaker``: none of them lets
exactly one call probe a half-open circuit (after the timeout every concurrent caller
reaches the failing dependency), and pybreaker serialises all calls through an ``RLock``.
Ours keeps the closed-state path to a flag test and a ``try``; locks, telemetry and
listeners run only on failures and state changes (``benchmarks/bench_resilience.py``
measures it beside both).

Usage::

    breaker = CircuitBreaker("sportsapi", failure_threshold=5, reset_timeout=60)

    @breaker
    async def fetch_odds(game_id: int) -> dict: ...

Semantics
---------
``closed`` counts consecutive failures (excluded exception types count as successes: the
dependency answered). At ``failure_threshold`` it opens; calls fail fast with
:class:`CircuitOpenError`. Once ``reset_timeout`` has passed, the *first* caller moves it
to ``half_open`` and is the only one let through; everyone else still fails fast until
that probe ends. A successful probe closes it; a failed probe reopens it, and with
``backoff_max`` set the open period doubles per failed probe (with jitter, never above
``backoff_max``). A probe cancelled before it finished re-opens the breaker with the
timeout already elapsed, so the next caller probes.

Telemetry: the state is an observable gauge (``dbsbm.circuit_breaker.state``) read at
collection time; transitions are a counter. Nothing is recorded on a success.

API
---
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
import threading
import time
import types
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

from dbsbm_resilience import semconv
from dbsbm_resilience._telemetry import shared_per_provider
from dbsbm_resilience.errors import ConfigurationException, ServiceException

__all__ = [
    "BREAKER_FAILURE_THRESHOLD",
    "BREAKER_RESET_TIMEOUT_SECONDS",
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "CircuitBreaker",
    "CircuitOpenError",
    "Listener",
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


class _BreakerTelemetry:
    def __init__(self, meter: Meter) -> None:
        self.breakers: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()
        i = semconv.BREAKER_STATE_GAUGE
        meter.create_observable_gauge(i.name, [self._observe_states], i.unit, i.description)
        i = semconv.BREAKER_TRANSITIONS
        self.transitions = meter.create_counter(i.name, i.unit, i.description)

    def _observe_states(self, options: CallbackOptions) -> Iterable[Observation]:
        for breaker in list(self.breakers):
            yield Observation(
                semconv.BREAKER_STATE_VALUES[breaker.state], {semconv.BREAKER_NAME: breaker.name}
            )


# DBSBM's own breaker settings: 5 failures open it, 60 s before one probe call is let through.
BREAKER_FAILURE_THRESHOLD = 5
BREAKER_RESET_TIMEOUT_SECONDS = 60.0


class _Bound(functools.partial[Any]):
    """A partial that binds like a function, so a decorated method still gets ``self``."""

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)


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
        self._telemetry = shared_per_provider("breaker", meter_provider, _BreakerTelemetry)
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
            except Exception:  # a listener must not break the call
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
        """Decorate a sync or async function: each call is :meth:`call` (or
        :meth:`call_async`) with ``func`` bound in, through a C-level partial, so the
        wrapper adds no Python frame of its own (nor, for async, a second coroutine)."""
        method = self.call_async if inspect.iscoroutinefunction(func) else self.call
        return cast(Callable[P, T], functools.update_wrapper(_Bound(method, func), func))

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
